"""The built pages in a real Chromium, with the API answered by the test.

Every request goes through Playwright's router: files come from the built folder
with the headers the backend would send (so the strict CSP is enforced), and
/api/ calls are answered from each test's table of replies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from routed import (
    ACTIVE,
    FEATURES,
    ORIGIN,
    PLANS,
    PORTAL,
    SELF_SERVICE,
    Session,
    T,
    paste,
    refusal,
    sub,
)

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


def test_sign_in_journey(session: Callable[..., Session]) -> None:
    s = session({
        "POST /api/login/code": [(202, {"challenge": "ch_1"}, {}), (202, {"challenge": "ch_2"}, {})],
        "POST /api/login/verify": [(401, {"error": {"code": "invalid_code", "message": "no"}}, {}), (200, {"customer": {}}, {})],
        "GET /api/portal": [(200, PORTAL, {})],
    })
    page = s.open("/login/?prefilled_email=jenny+tag%40example.com")
    expect(page.locator("#email")).to_have_value("jenny+tag@example.com")
    assert page.url == ORIGIN + "/login/"  # the address is not left in the address bar
    page.locator("#email").fill("jenny@example.com")
    page.get_by_role("button", name="Continue").click()

    expect(page.locator("#code-help")).to_have_text(
        "If jenny@example.com matches an account, we sent it a 6-digit code. It is valid for 10 minutes.")
    expect(page.locator("#code")).to_be_focused()
    expect(page.locator("#step-email")).to_be_hidden()
    (call,) = s.sent("POST /api/login/code")
    assert json.loads(call["body"]) == {"email": "jenny@example.com", "locale": "en"}
    assert call["headers"]["content-type"] == "application/json"

    paste(page, "#code", " 123 456 ")
    expect(page.locator("#code")).to_have_value("123456")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#code-error")).to_have_text("That code is not right or has expired.")
    expect(page.locator("#code")).to_have_value("")
    assert json.loads(s.sent("POST /api/login/verify")[0]["body"]) == {"challenge": "ch_1", "code": "123456", "framed": False}

    page.get_by_role("button", name="Send a new code").click()
    expect(page.locator("#status")).to_have_text("We sent a new code. Only the newest code works.")
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    assert "ch_" not in page.evaluate("document.cookie") and "ch_" not in page.url

    page.locator("#code").fill("654321")
    page.locator("#code").press("Enter")
    page.wait_for_url(ORIGIN + "/portal/")
    assert json.loads(s.sent("POST /api/login/verify")[1]["body"]) == {"challenge": "ch_2", "code": "654321", "framed": False}


def test_sign_in_explains_refusals(session: Callable[..., Session]) -> None:
    s = session({"POST /api/login/code": [
        (429, {"error": {"code": "rate_limited", "message": "slow down"}}, {"Retry-After": "30"}),
        (404, {"error": {"code": "login_disabled", "message": "off"}}, {}),
        (400, {"error": {"code": "invalid_request", "message": "bad"}}, {}),
        (202, {"challenge": "ch_1"}, {}),
    ]})
    page = s.open("/login/?signed_out=1")
    expect(page.locator("#status")).to_have_text("You are signed out.")
    page.locator("#email").fill("jenny@example.com")
    for expected in ("Too many attempts. Please try again in 30 seconds.",
                     "Sign-in is switched off at the moment.",
                     "That email address does not look right. Please check it."):
        page.get_by_role("button", name="Continue").click()
        expect(page.locator("#email-error")).to_have_text(expected)
        expect(page.locator("#email")).to_be_focused()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Use a different email").click()
    expect(page.locator("#email")).to_be_focused()
    expect(page.locator("#step-code")).to_be_hidden()


def test_portal_shows_billing_data_as_text(session: Callable[..., Session]) -> None:
    s = session({"GET /api/portal": [(200, PORTAL, {})], "POST /api/logout": [(204, None, {})]})
    page = s.open("/portal/")
    subscriptions = page.locator("#subscriptions > li")
    expect(subscriptions).to_have_count(3)
    expect(subscriptions.nth(0)).to_contain_text("$29.00 per month")
    expect(subscriptions.nth(0)).to_contain_text("Renews on Jan 21, 2026")
    expect(subscriptions.nth(0).locator(".badge")).to_have_text("Active")
    expect(subscriptions.nth(1)).to_contain_text("¥12,000 every 3 months")  # JPY has no minor unit
    expect(subscriptions.nth(1)).to_contain_text("Ends on Jan 21, 2026")
    expect(subscriptions.nth(2)).to_contain_text("€36.00 per month")
    expect(subscriptions.nth(2)).to_contain_text("3 × €12.00")
    expect(subscriptions.nth(2)).to_contain_text("Trial ends Jan 6, 2026")

    methods = page.locator("#payment-methods > li")
    expect(methods.nth(0)).to_contain_text("Visa •••• 4242")
    expect(methods.nth(0)).to_contain_text("Expires 08/2030")
    expect(methods.nth(0).locator("[data-field=badge]")).to_have_text("Default")
    expect(methods.nth(1)).to_contain_text("Expired")

    details = page.locator("#details")
    expect(details).to_contain_text("<img src=x onerror=alert(1)>Jenny")  # shown as text, not markup
    assert page.locator("#details img").count() == 0
    expect(details).to_contain_text("Your email address cannot be changed here.")
    expect(details).to_contain_text("EU VAT number: DE123")

    links = page.locator("#invoices a")
    expect(links).to_have_count(2)  # the javascript: PDF link is dropped
    expect(page.get_by_role("link", name="Receipt for invoice ACME-1")).to_have_attribute("href", "/receipt/?invoice=in_1")
    expect(links.nth(1)).to_have_attribute("href", "https://pay.example/in_1")
    expect(page.locator("#invoices")).to_contain_text("ACME-1")
    # No feature is on: only undoing a cancellation, which is never switched off, is offered.
    expect(page.locator("#content button:visible")).to_have_text(["Don't cancel"])

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(ORIGIN + "/login/")
    expect(page.locator("#status")).to_have_text("You are signed out.")
    (call,) = s.sent("POST /api/logout")
    assert call["body"] == "{}" and call["headers"]["content-type"] == "application/json"


def test_portal_without_session_goes_to_sign_in(session: Callable[..., Session]) -> None:
    s = session({"GET /api/portal": [(401, {"error": {"code": "unauthenticated", "message": "sign in"}}, {})]})
    page = s.open("/portal/")
    page.wait_for_url(ORIGIN + "/login/")


def test_portal_failure_offers_a_retry(session: Callable[..., Session]) -> None:
    empty = {**PORTAL, "subscriptions": [], "invoices": [], "payment_methods": []}
    s = session({"GET /api/portal": [(503, {"error": {"code": "unavailable", "message": "down"}}, {}), (200, empty, {})]})
    page = s.open("/portal/")
    expect(page.get_by_role("alert").filter(has_text="We could not load")).to_have_text(
        "We could not load your billing details. Something went wrong. Please try again.")
    expect(page.locator("#content")).to_be_hidden()
    page.get_by_role("button", name="Try again").click()
    expect(page.locator("#subscriptions-empty")).to_have_text("You have no subscriptions.")
    expect(page.locator("#payment-methods-empty")).to_be_visible()
    expect(page.locator("#invoices-empty")).to_be_visible()
    expect(page.locator("#title")).to_be_focused()


def test_the_footer_waits_below_the_fold_while_the_portal_loads(session: Callable[..., Session]) -> None:
    """Else it jumps down when the billing details come (a layout shift); without scripts nothing comes,
    and it stays in view with the notice under it."""
    s = session({"GET /api/portal": [(200, PORTAL, {})]})
    s.page.route("**/api/portal", lambda route: None)  # the answer never comes: the page stays as it loads
    page = s.open("/portal/")
    expect(page.locator("#status")).to_have_text("Loading your billing details…")
    expect(page.locator("footer")).not_to_be_in_viewport()
    page = session({}, java_script_enabled=False).open("/portal/")
    expect(page.locator("footer")).to_be_in_viewport()
    expect(page.locator(".noscript")).to_be_in_viewport()


# Self-service actions, with the API's answers chosen by the test: what each request
# carries, and what the page says for answers the live backend seldom gives.

def test_a_retry_after_a_lost_answer_reuses_the_key_and_a_double_click_sends_once(session) -> None:
    s = session({
        "GET /api/portal": [(200, SELF_SERVICE, {})],
        "DELETE /api/payment_methods/pm_1": [(0, None, {}), (204, None, {})],
        "POST /api/payment_methods/pm_1/default": [(200, {"customer": {}}, {})],
    })
    page = s.open("/portal/")
    page.get_by_role("button", name="Remove, Mastercard ending in 4444").click()
    dialog = page.get_by_role("dialog", name="Remove payment method?")
    dialog.get_by_role("button", name="Remove").click()
    expect(dialog.get_by_role("alert")).to_have_text("We could not reach the server. Check your connection and try again.")
    dialog.get_by_role("button", name="Remove").click()
    expect(page.locator("#status")).to_have_text("Mastercard ending in 4444 was removed.")
    first, retry = s.sent("DELETE /api/payment_methods/pm_1")
    assert first["body"] == retry["body"] == "{}"
    assert first["headers"]["content-type"] == "application/json"
    assert first["headers"]["idempotency-key"] == retry["headers"]["idempotency-key"]

    page.get_by_role("button", name="Make default, Mastercard ending in 4444").dblclick()
    expect(page.locator("#status")).to_have_text("Mastercard ending in 4444 is now your default payment method.")
    (made,) = s.sent("POST /api/payment_methods/pm_1/default")
    assert made["body"] == "{}" and made["headers"]["idempotency-key"]


def test_refusals_nobody_can_fix_in_a_field_are_plain_sentences(session) -> None:
    ending = {**SELF_SERVICE, "subscriptions": [
        ACTIVE | {"cancel_at_period_end": True, "cancel_at": T + 20 * 86400, "actions": ["resume"]}]}
    s = session({
        "GET /api/portal": [(200, ending, {})],
        "POST /api/subscriptions/sub_active_usd/resume": [
            (403, refusal("feature_disabled"), {}),
            (409, refusal("not_resumable"), {}),
            (401, refusal("not_signed_in"), {}),
        ],
    })
    page = s.open("/portal/")
    page.get_by_role("button", name="Don't cancel").click()
    dialog = page.get_by_role("dialog", name="Keep your subscription?")
    expect(dialog).to_contain_text("Your Plan usd subscription will renew on Jan 21, 2026")
    for said in ("This option is not available.",
                 "This changed in the meantime. Close this window to see the latest details, then try again."):
        dialog.get_by_role("button", name="Don't cancel").click()
        expect(dialog.get_by_role("alert")).to_have_text(said)
    dialog.get_by_role("button", name="Don't cancel").click()
    page.wait_for_url(ORIGIN + "/login/")


def test_cancel_now_with_a_credit_and_no_questions(session) -> None:
    ended = ACTIVE | {"status": "canceled", "canceled_at": T, "ended_at": T, "actions": []}
    s = session({
        "GET /api/portal": [(200, SELF_SERVICE, {}), (200, {**SELF_SERVICE, "subscriptions": [ended]}, {})],
        "POST /api/subscriptions/sub_active_usd/cancel": [
            (200, {"subscription": ended, "credit": {"amount": 1160, "currency": "usd"}}, {})],
    })
    page = s.open("/portal/")
    page.get_by_role("button", name="Cancel subscription").click()
    dialog = page.get_by_role("dialog", name="Cancel subscription")  # no reasons asked, no offer made
    expect(dialog).to_contain_text("Your Plan usd subscription ends now, and you lose access to it right away.")
    dialog.get_by_role("button", name="Cancel subscription").dblclick()
    expect(page.locator("#status")).to_have_text(
        "Your subscription has ended. A credit of $11.60 goes toward your next invoices.")
    (cancel,) = s.sent("POST /api/subscriptions/sub_active_usd/cancel")
    assert cancel["body"] == "{}"
    expect(page.locator("#subscriptions")).to_contain_text("Canceled on Jan 1, 2026")


def test_the_preview_says_what_a_change_costs(session) -> None:
    lines = [{"description": "Remaining time on Yearly × 1 after 1 Jan 2026", "amount": 1200, "proration": True,
              "period": {"start": T, "end": T}, "price": "price_2", "quantity": 1}]
    s = session({
        "GET /api/portal": [(200, SELF_SERVICE, {})],
        "GET /api/plans": [(200, PLANS, {})],
        "POST /api/subscriptions/sub_active_usd/preview": [
            (200, {"amount_due": 1200, "currency": "usd", "lines": lines, "effective_at": None}, {}),
            (400, refusal("currency_mismatch", "This plan is not sold in USD.", "price"), {}),
            (200, {"amount_due": 0, "currency": "usd", "lines": [], "effective_at": T + 20 * 86400}, {}),
        ],
        "POST /api/subscriptions/sub_active_usd/update": [(409, refusal("not_updatable"), {})],
    })
    page = s.open("/portal/")
    page.get_by_role("button", name="Change plan").click()
    dialog = page.get_by_role("dialog", name="Change plan")
    preview = dialog.locator("#plan-preview")
    dialog.get_by_role("radio", name=re.compile("Yearly")).check()
    expect(preview).to_contain_text("You pay $12.00 now")
    expect(preview).to_contain_text("Remaining time on Yearly after Jan 1, 2026$12.00")  # said by the page, not the API
    assert json.loads(s.sent("POST /api/subscriptions/sub_active_usd/preview")[0]["body"]) == {"price": "price_2", "quantity": 1}

    dialog.get_by_label("Quantity").fill("2")
    expect(dialog.locator("#plan-choices-error")).to_have_text("This plan is not sold in the currency of your subscription.")
    expect(dialog.get_by_role("radiogroup")).to_have_attribute("aria-invalid", "true")
    dialog.get_by_label("Quantity").fill("3")
    expect(preview).to_have_text("Changes on Jan 21, 2026, at renewal")
    expect(dialog.locator("#plan-choices-error")).to_have_count(0)
    dialog.get_by_label("Quantity").fill("2.5")
    expect(dialog.locator("#plan-quantity-error")).to_have_text("Enter a whole number.")
    # The current plan first, then its quantity: a quantity typed waits a moment before it asks, and
    # asking for Yearly × 1 meanwhile would be right, but would make the count depend on the machine's speed.
    dialog.get_by_role("radio", name=re.compile("Monthly")).check()
    dialog.get_by_label("Quantity").fill("1")
    expect(preview).to_have_text("This is your current plan. Choose another plan or quantity.")
    dialog.get_by_role("radio", name=re.compile("Yearly")).check()
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog.get_by_role("alert")).to_have_text("This subscription cannot be changed at the moment.")
    assert len(s.sent("POST /api/subscriptions/sub_active_usd/preview")) == 4  # never for 2.5 or the current plan


def test_billing_detail_errors_land_on_the_row_the_server_names(session) -> None:
    s = session({
        "GET /api/portal": [(200, SELF_SERVICE, {})],
        "PATCH /api/customer": [
            (400, refusal("invalid_tax_id", "Enter a UK VAT number: GB and 9 digits, such as GB123456789.",
                          "tax_ids[1].value", "GB123456789"), {}),
            (400, refusal("invalid_phone", "Enter a phone number.", "shipping.phone"), {}),
            (403, refusal("feature_disabled"), {}),
        ],
    })
    page = s.open("/portal/")
    page.get_by_role("button", name="Edit details").click()
    dialog = page.get_by_role("dialog", name="Billing details")
    add = dialog.get_by_role("button", name="Add a tax ID")
    add.click()  # left empty: not sent
    add.click()
    dialog.get_by_role("group", name="Tax ID 3").get_by_label("Type").select_option("gb_vat")
    dialog.get_by_role("group", name="Tax ID 3").get_by_label("Number").fill("GB12")
    dialog.get_by_role("button", name="Save").click()
    value = dialog.get_by_role("group", name="Tax ID 3").get_by_label("Number")
    expect(value).to_have_attribute("aria-invalid", "true")
    # Said in the page's own words, with the example the API gives: a German page would say it in German.
    expect(value).to_have_accessible_description("Enter the tax ID in this form: GB123456789.")
    body = json.loads(s.sent("PATCH /api/customer")[0]["body"])
    assert body == {"tax_ids": [{"type": "eu_vat", "value": "DE123"}, {"type": "gb_vat", "value": "GB12"}]}
    assert "email" not in body

    dialog.get_by_role("group", name="Tax ID 2").get_by_role("button", name="Remove tax ID 2").click()
    expect(dialog.get_by_role("group", name="Tax ID 2").get_by_label("Type")).to_be_focused()
    dialog.get_by_role("group", name="Shipping").get_by_label("Recipient's name").fill("Jenny")
    dialog.get_by_role("group", name="Shipping").get_by_label("Phone").fill("12")
    dialog.get_by_role("button", name="Save").click()
    shipping_phone = dialog.get_by_role("group", name="Shipping").get_by_label("Phone")
    expect(shipping_phone).to_have_accessible_description("Enter a valid phone number.")
    expect(shipping_phone).to_be_focused()
    expect(dialog.locator("[aria-invalid]")).to_have_count(1)  # the tax id's error went with the next save
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_role("alert")).to_have_text("This option is not available.")


def test_back_from_adding_a_card_says_so_once(session) -> None:
    s = session({"GET /api/portal": [(200, {**SELF_SERVICE, "features": {
        **FEATURES, "payment_method_update": {"enabled": True, "can_add": True}}}, {})]})
    page = s.open("/portal/?payment_method=added")
    expect(page.locator("#status")).to_have_text("Your new payment method will appear here as soon as it is confirmed.")
    assert page.url == ORIGIN + "/portal/"
    expect(page.get_by_role("button", name="Add a payment method")).to_be_visible()


def test_receipt_of_an_open_invoice_with_lines(session) -> None:
    invoice = {
        "id": "in_2", "number": "ACME-2", "created": T, "currency": "eur", "total": 11900, "subtotal": 10000, "tax": 1900,
        "amount_due": 11900, "amount_paid": 0, "amount_remaining": 11900, "status": "open", "period_start": T - 30 * 86400,
        "period_end": T, "due_date": T + 14 * 86400, "hosted_invoice_url": "https://pay.example/in_2",
        "invoice_pdf": "javascript:alert(1)", "actions": ["pay"],
        "total_taxes": [{"amount": 1900, "inclusive": False, "display_name": "VAT", "percentage": 19}],
        "lines": {"data": [{"description": "<b>Team</b> seats", "amount": 10000, "quantity": 5, "period": None}]},
    }
    customer = {"name": "Jenny", "email": "jenny@example.com", "tax_ids": [{"type": "ch_vat", "value": "CHE-123.456.789"}],
                "address": {"line1": "1 Main St", "city": "Zürich", "postal_code": "8001", "country": "CH"}}
    s = session({"GET /api/invoices/in_2": [(200, {"invoice": invoice, "customer": customer,
                                                    "business": {"name": "Acme", "support_email": "billing@acme.example"}}, {})]})
    page = s.open("/receipt/?invoice=in_2")
    receipt = page.get_by_role("article")
    expect(receipt.get_by_role("heading", level=1)).to_have_text("Invoice")
    expect(receipt.locator("#invoice-status")).to_have_text("Open")
    expect(receipt.locator("#due")).to_have_text("Jan 15, 2026")
    expect(receipt.locator("#period")).to_have_text("Dec 2, 2025 – Jan 1, 2026")
    expect(receipt.locator("#lines")).to_contain_text("<b>Team</b> seats")
    expect(totals(receipt)).to_have_text(["Subtotal€100.00", "VAT (19%)€19.00", "Total€119.00", "Amount paid€0.00",
                                          "Amount due€119.00"])
    expect(receipt.locator("#billed")).to_contain_text("Switzerland")
    expect(receipt.locator("#billed")).to_contain_text("Swiss VAT number: CHE-123.456.789")
    pay = page.get_by_role("link", name="Pay invoice ACME-2")
    expect(pay).to_have_text("Pay")
    expect(pay).to_have_attribute("href", "https://pay.example/in_2")
    expect(pay).to_have_attribute("rel", "noopener noreferrer")
    expect(page.locator("#hosted")).to_be_hidden()  # the hosted page is offered once, as where to pay
    expect(page.locator("#pdf")).to_be_hidden()
    expect(receipt.locator("#lines-missing")).to_be_hidden()
    expect(receipt.get_by_role("link", name="billing@acme.example")).to_have_attribute("href", "mailto:billing@acme.example")


def test_a_subscription_is_named_without_ids_and_shows_its_discount(session) -> None:
    """A price whose product was not imported is named by its nickname, else by a generic name; the
    discount badge reads Stripe's current `discounts` list, the first percent-off one."""
    def unnamed(nickname: str | None, **extra: Any) -> dict[str, Any]:
        found = sub("active", 2900, "usd", **extra)
        found["id"] = f"sub_{nickname}"
        found["items"]["data"][0]["price"] |= {"nickname": nickname, "product": {"id": "prod_gone", "name": nickname}}
        return found
    discounts = ["di_by_id", {"id": "di_1", "coupon": {"amount_off": 500}},
                 {"id": "di_2", "coupon": {"percent_off": 20}, "end": T + 90 * 86400}]
    data = {**PORTAL, "subscriptions": [unnamed(None, discounts=discounts), unnamed("Gold")]}
    page = session({"GET /api/portal": [(200, data, {})]}).open("/portal/")
    rows = page.locator("#subscriptions > li")
    expect(rows.nth(0).locator("[data-field=title]")).to_have_text("Subscription")
    expect(rows.nth(0).locator("[data-field=discount]")).to_have_text("20% off until Apr 1, 2026")
    expect(rows.nth(1).locator("[data-field=title]")).to_have_text("Gold")
    expect(rows.nth(1).locator("[data-field=discount]")).to_be_hidden()
    expect(page.locator("#subscriptions")).not_to_contain_text("sub_")
    expect(page.locator("#subscriptions")).not_to_contain_text("prod_gone")


def totals(receipt):
    """The receipt's totals, a row each, as label and amount."""
    return receipt.locator(".totals > div:visible")


def receipt_of(session, invoice, customer=None):
    """The receipt page of an invoice as GET /api/invoices/{id} would answer it."""
    base = {"id": "in_3", "number": "ACME-3", "created": T, "currency": "usd", "subtotal": 10000, "total": 10000,
            "amount_due": 10000, "amount_paid": 0, "amount_remaining": 10000, "status": "open", "due_date": T + 86400,
            "total_taxes": [], "actions": [],
            "lines": {"object": "list", "data": [{"description": "Pro", "amount": 10000, "quantity": 1}], "has_more": False}}
    answer = {"invoice": base | invoice, "business": {"name": "Acme"},
              "customer": {"name": "Jenny", "email": "jenny@example.com", "tax_ids": []} if customer is None else customer}
    page = session({"GET /api/invoices/in_3": [(200, answer, {})]}).open("/receipt/?invoice=in_3")
    return page, page.get_by_role("article")


@pytest.mark.parametrize(("status", "label", "tone"), [("void", "Void", "muted"), ("uncollectible", "Uncollectible", "bad")])
def test_a_void_or_uncollectible_invoice_is_labelled_so(session, status, label, tone) -> None:
    page, receipt = receipt_of(session, {"status": status, "amount_remaining": 10000 if status == "uncollectible" else 0,
                                         "hosted_invoice_url": "https://pay.example/in_3"})
    expect(receipt.get_by_role("heading", level=1)).to_have_text("Invoice")
    expect(receipt.locator("#invoice-status")).to_have_text(label)
    expect(receipt.locator("#invoice-status")).to_have_class(f"badge badge-{tone}")
    expect(page.get_by_role("link", name=re.compile("^Pay"))).to_have_count(0)
    expect(page.get_by_role("link", name="View online")).to_be_visible()
    # A void invoice is owed by no one; an uncollectible one still is.
    if status == "void":
        expect(totals(receipt)).to_have_text(["Subtotal$100.00", "Total$100.00", "Amount paid$0.00"])
        expect(receipt.locator("#due-row")).to_be_hidden()
    else:
        expect(receipt.locator("#remaining")).to_have_text("$100.00")
        expect(receipt.locator("#due")).to_have_text("Jan 2, 2026")


def test_each_tax_and_discount_is_a_row_named_as_the_invoice_names_it(session) -> None:
    coupon = {"id": "SUMMER", "name": "Summer sale", "percent_off": 10}
    _, receipt = receipt_of(session, {
        "subtotal": 10000, "total": 10710, "discounts": [{"id": "di_1", "coupon": coupon}, "di_2"],
        "total_discount_amounts": [{"amount": 1000, "discount": "di_1"}, {"amount": 0, "discount": "di_2"}],
        "total_taxes": [
            {"amount": 1710, "inclusive": False, "display_name": "VAT", "percentage": 19},
            {"amount": 855, "inclusive": True, "display_name": "GST", "percentage": 9.5},
            {"amount": 100, "inclusive": True},
            {"amount": 50, "inclusive": False, "display_name": None, "percentage": None},
        ]})
    expect(totals(receipt)).to_have_text([
        "Subtotal$100.00", "Summer sale-$10.00", "VAT (19%)$17.10", "GST (9.5%, included)$8.55", "Tax (included)$1.00",
        "Tax$0.50", "Total$107.10", "Amount paid$0.00", "Amount due$100.00"])


def test_discounts_given_only_on_the_lines_are_added_up(session) -> None:
    _, receipt = receipt_of(session, {"lines": {"object": "list", "has_more": False, "data": [
        {"description": "Pro", "amount": 6000, "quantity": 1, "discount_amounts": [{"amount": 600, "discount": "di_1"}]},
        {"description": "Seats", "amount": 4000, "quantity": 2, "discount_amounts": [{"amount": 400, "discount": "di_1"}]},
    ]}})
    expect(receipt.locator(".totals dt")).to_contain_text(["Subtotal", "Discount", "Total"])
    expect(receipt.locator(".totals .adjustment")).to_have_text(["Discount-$10.00"])


def test_a_receipt_of_some_of_the_lines_says_so_and_links_to_the_whole_invoice(session) -> None:
    lines = {"object": "list", "has_more": True,
             "data": [{"description": f"Usage {n}", "amount": 100, "quantity": 1} for n in range(10)]}
    _, receipt = receipt_of(session, {"lines": lines, "subtotal": 1200, "total": 1200, "status": "paid",
                                         "amount_remaining": 0, "amount_paid": 1200,
                                         "hosted_invoice_url": "https://pay.example/in_3"})
    notice = receipt.locator("#lines-missing")
    expect(notice).to_contain_text("Some lines of this invoice are not shown here.")
    expect(notice.get_by_role("link", name="View online")).to_have_attribute("href", "https://pay.example/in_3")
    expect(notice.get_by_role("link", name="Download the PDF")).to_be_hidden()
    expect(receipt.locator("#subtotal")).to_have_text("$12.00")


def test_a_receipt_of_some_of_the_lines_without_a_hosted_page_links_to_the_pdf(session) -> None:
    _, receipt = receipt_of(session, {"lines": {"object": "list", "has_more": True, "data": []},
                                         "invoice_pdf": "https://pay.example/in_3.pdf"})
    expect(receipt.locator("#lines-table")).to_be_hidden()
    notice = receipt.locator("#lines-missing")
    expect(notice.get_by_role("link", name="Download the PDF")).to_have_attribute("href", "https://pay.example/in_3.pdf")
    expect(notice.get_by_role("link", name="View online")).to_be_hidden()


def test_a_receipt_without_customer_details_has_no_billed_to(session) -> None:
    """Stripe's example invoice: its snapshot of the customer has every field empty."""
    nobody = {"name": None, "email": None, "tax_ids": [],
              "address": {"line1": None, "line2": None, "city": None, "state": None, "postal_code": None, "country": None}}
    _, receipt = receipt_of(session, {"created": None}, nobody)
    expect(receipt.get_by_role("heading", name="Billed to")).to_have_count(0)
    expect(receipt.locator("#issued-row")).to_be_hidden()
    expect(receipt.locator("#number")).to_have_text("ACME-3")


def test_the_invoice_table_offers_to_pay_an_open_invoice(session) -> None:
    owed = {"id": "in_9", "number": "ACME-9", "created": T, "currency": "usd", "total": 2900, "amount_remaining": 2900,
            "status": "open", "hosted_invoice_url": "https://pay.example/in_9", "actions": ["pay"]}
    page = session({"GET /api/portal": [(200, {**PORTAL, "invoices": [owed, *PORTAL["invoices"]]}, {})]}).open("/portal/")
    pay = page.get_by_role("link", name="Pay invoice ACME-9")
    expect(pay).to_have_text("Pay")
    expect(pay).to_have_attribute("href", "https://pay.example/in_9")
    expect(page.get_by_role("link", name="View invoice ACME-9")).to_have_count(0)
    expect(page.get_by_role("link", name="View invoice ACME-1")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("^Pay invoice"))).to_have_count(1)
