"""Payment methods of every kind in a real Chromium (site/assets/js/method-names.js): each named as
a customer knows it, with the masked details the server passes on; the default found whether the
data names it by id or gives the whole object; a subscription's own method on its row; on a
right-to-left page a Latin name keeps its order; axe-core finds nothing. The objects are shaped as backend/portal.py sends
them (PAYMENT_METHOD), with sub-objects as Stripe's PaymentMethod reference defines them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from routed import FEATURES, PORTAL, ROOT, Session, sub
from test_accessibility import violations

from backend import portal as server

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

METHODS = [
    {"id": "pm_visa", "type": "card", "card": {"brand": "visa", "last4": "4242", "exp_month": 8, "exp_year": 2030}},
    {"id": "pm_apple", "type": "card", "card": {"brand": "mastercard", "last4": "4444", "exp_month": 3, "exp_year": 2031,
                                                "wallet": {"type": "apple_pay"}}},
    # A card with two networks shows the one the customer chose.
    {"id": "pm_cb", "type": "card", "card": {"brand": "visa", "display_brand": "cartes_bancaires", "last4": "1001",
                                             "exp_month": 1, "exp_year": 2032}},
    {"id": "pm_sepa", "type": "sepa_debit", "sepa_debit": {"bank_code": "37040044", "last4": "3000"}},
    {"id": "pm_bank", "type": "us_bank_account", "us_bank_account": {"bank_name": "Chase", "last4": "6789"}},
    {"id": "pm_bacs", "type": "bacs_debit", "bacs_debit": {"sort_code": "108800", "last4": "2345"}},
    {"id": "pm_becs", "type": "au_becs_debit", "au_becs_debit": {"bsb_number": "000000", "last4": "3456"}},
    {"id": "pm_link", "type": "link", "link": {"email": "jenny@example.com"}},
    {"id": "pm_paypal", "type": "paypal", "paypal": {"payer_email": "jenny.rosen@example.com"}},
    {"id": "pm_klarna", "type": "klarna"},
    {"id": "pm_custom", "type": "custom", "custom": {"display_name": "Acme Pay"}},
    {"id": "pm_new", "type": "added_by_stripe_later"},
]
ROWS = {
    "pm_visa": ("Visa •••• 4242", "Visa ending in 4242", "Expires 08/2030"),
    "pm_apple": ("Mastercard •••• 4444", "Mastercard ending in 4444", "Expires 03/2031 · Apple Pay"),
    "pm_cb": ("Cartes Bancaires •••• 1001", "Cartes Bancaires ending in 1001", "Expires 01/2032"),
    "pm_sepa": ("SEPA Direct Debit •••• 3000", "SEPA Direct Debit, account ending in 3000", "Bank code 37040044"),
    "pm_bank": ("Chase •••• 6789", "Chase, account ending in 6789", "US bank account"),
    "pm_bacs": ("Bacs Direct Debit •••• 2345", "Bacs Direct Debit, account ending in 2345", "Sort code 108800"),
    "pm_becs": ("BECS Direct Debit •••• 3456", "BECS Direct Debit, account ending in 3456", "BSB 000000"),
    "pm_link": ("Link", "Link: jenny@example.com", "jenny@example.com"),
    "pm_paypal": ("PayPal", "PayPal: jenny.rosen@example.com", "jenny.rosen@example.com"),
    "pm_klarna": ("Klarna", "Klarna", ""),
    "pm_custom": ("Acme Pay", "Acme Pay", ""),
    "pm_new": ("Payment method", "Payment method", ""),  # a type this page does not know: never its code
}


# Every type Stripe has, with its sub-object as its schema defines it, as the server passes it on.
STRIPE = json.loads((ROOT / "tests/stripe_payment_methods.json").read_text(encoding="utf-8"))
CARD = json.loads((ROOT / "tests/stripe_examples.json").read_text(encoding="utf-8"))["payment_method"]["card"]
EVERY_TYPE = [server.pick("payment_method", {"id": f"pm_{kind}", "type": kind, kind: STRIPE["details"].get(kind, CARD)})
              for kind in STRIPE["types"]]


def portal(**customer: Any) -> dict[str, Any]:
    subscriptions = [sub("active", 2900, "usd", default_payment_method="pm_sepa"),
                     sub("trialing", 1200, "eur", default_payment_method=None)]
    return {**PORTAL, "customer": {**PORTAL["customer"], **customer}, "subscriptions": subscriptions,
            # The server says what each method allows; these may be made the default or removed.
            "payment_methods": [method | {"actions": ["make_default", "remove"]} for method in METHODS],
            "features": FEATURES}


def test_every_kind_of_method_is_named_with_its_masked_details(session: Callable[..., Session]) -> None:
    # The default given as the whole object, as an older store may hold it, is found all the same.
    data = portal(invoice_settings={"default_payment_method": {"id": "pm_bank", "object": "payment_method"}})
    page = session({"GET /api/portal": [(200, data, {})]}).open("/portal/")
    rows = page.locator("#payment-methods > li")
    expect(rows).to_have_count(len(METHODS))
    expect(rows.nth(0).locator("[data-field=title]")).to_have_text("Chase •••• 6789Chase, account ending in 6789")
    expect(rows.nth(0).locator("[data-field=badge]")).to_have_text("Default")
    expect(page.locator("#payment-methods [data-field=badge]:visible")).to_have_count(1)
    for method in METHODS:
        seen, said, facts = ROWS[method["id"]]
        row = rows.filter(has=page.get_by_role("button", name=f"Remove, {said}", exact=True))
        expect(row).to_have_count(1)
        expect(row.locator(".method-name > [aria-hidden=true]" if "••••" in seen else ".method-name")).to_have_text(seen)
        expect(row.locator("[data-field=facts]")).to_have_text(facts)
    expect(page.locator("#payment-methods")).not_to_contain_text("_")  # no type code such as sepa_debit

    # The dialogs name the method the same way.
    page.get_by_role("button", name="Remove, SEPA Direct Debit, account ending in 3000").click()
    expect(page.locator("#remove-text")).to_have_text("SEPA Direct Debit, account ending in 3000 will be removed from your account.")


def test_every_type_stripe_has_gets_its_name(session: Callable[..., Session]) -> None:
    page = session({"GET /api/portal": [(200, {**portal(), "payment_methods": EVERY_TYPE}, {})]}).open("/portal/")
    names = page.locator("#payment-methods .method-name")
    expect(names).to_have_count(len(EVERY_TYPE))
    said = names.evaluate_all("nodes => nodes.map((node) => node.textContent)")
    assert not [name for name in said if name == "Payment method" or "_" in name], said
    expect(page.locator("#payment-methods")).to_contain_text("Korean card •••• 1234")
    expect(page.locator("#payment-methods")).to_contain_text("Interac •••• 1234")
    expect(page.locator("#payment-methods")).to_contain_text("TD Canada Trust •••• 6789")


def test_a_subscription_names_its_own_method_and_only_then(session: Callable[..., Session]) -> None:
    page = session({"GET /api/portal": [(200, portal(), {})]}).open("/portal/")
    subscriptions = page.locator("#subscriptions > li")
    expect(subscriptions).to_have_count(2)
    charged = subscriptions.nth(0).locator("[data-field=charged]")
    expect(charged.locator("[aria-hidden=true]")).to_have_text("SEPA Direct Debit •••• 3000")
    expect(charged).to_contain_text("Charged to SEPA Direct Debit •••• 3000")
    expect(charged.locator(".visually-hidden")).to_have_text("SEPA Direct Debit, account ending in 3000")
    expect(subscriptions.nth(1).locator("[data-field=charged]")).to_be_hidden()  # the customer's default applies


def test_a_method_kept_by_id_is_named_and_one_not_kept_is_not(session: Callable[..., Session]) -> None:
    data = portal()
    data["subscriptions"] = [sub("active", 2900, "usd", default_payment_method={"id": "pm_visa"}),
                             sub("active", 1200, "eur", default_payment_method="pm_detached")]
    page = session({"GET /api/portal": [(200, data, {})]}).open("/portal/")
    charged = page.locator("#subscriptions [data-field=charged]")
    expect(charged.nth(0)).to_contain_text("Charged to Visa •••• 4242")
    expect(charged.nth(1)).to_be_hidden()


def test_names_keep_their_order_on_a_right_to_left_page(session: Callable[..., Session]) -> None:
    page = session({"GET /api/portal": [(200, portal(), {})]}, locale="ar").open("/ar/portal/")
    row = page.locator("#payment-methods > li").filter(has_text="Visa •••• 4242")
    name = row.locator("bdi.method-name")
    expect(name).to_have_count(1)
    # Isolated, "Visa •••• 4242" reads left to right inside a right-to-left row.
    assert name.evaluate("node => node.matches(':dir(ltr)') && node.closest('li').matches(':dir(rtl)')")
    email = page.locator("#payment-methods bdi", has_text="jenny@example.com")
    assert email.evaluate("node => node.matches(':dir(ltr)')")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_type_passes_axe_left_to_right_and_right_to_left(session: Callable[..., Session], scheme: str) -> None:
    data = {**portal(), "payment_methods": EVERY_TYPE}
    s = session({"GET /api/portal": [(200, data, {})]}, color_scheme=scheme)
    found = []
    for path in ("/portal/", "/ar/portal/"):
        page = s.open(path)
        expect(page.locator("#payment-methods > li")).to_have_count(len(EVERY_TYPE))
        found += violations(page, path)
    assert found == []
