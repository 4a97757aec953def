"""WCAG 2.2 AA in a real Chromium: axe-core finds nothing on any page in any state (sign-in,
code entry, each refusal, the portal, each dialog and form, the receipt), in light and dark
mode and right to left; keyboard focus goes where a person expects, and stays in a dialog."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from routed import (
    FEATURES,
    PLANS,
    PORTAL,
    SELF_SERVICE,
    Session,
    T,
    refusal,
    sub,
)

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

AXE = Axe()
# WCAG 2.0, 2.1 and 2.2 at A and AA, and axe's best practices (landmarks, heading order...).
RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}}
CANCELLING = {**FEATURES, "subscription_cancel": {
    "enabled": True, "mode": "at_period_end", "proration_behavior": "none",
    "cancellation_reason": {"enabled": True, "options": ["too_expensive", "unused", "other"]},
    "retention": {"enabled": True, "percent_off": 20, "duration_in_months": 3},
}}
PORTAL_REPLIES = {
    "GET /api/portal": [(200, {**SELF_SERVICE, "features": CANCELLING}, {})],
    "GET /api/plans": [(200, PLANS, {})],
    "POST /api/subscriptions/sub_active_usd/preview": [(200, {"amount_due": 1200, "currency": "usd", "lines": [
        {"description": "Remaining time on Yearly", "amount": 1200, "proration": True, "period": {"start": 0, "end": 0},
         "price": "price_2", "quantity": 1}], "effective_at": None}, {})],
    "PATCH /api/customer": [(400, refusal("invalid_phone", "Enter a phone number.", "phone"), {})],
}


def violations(page: Any, state: str) -> list[str]:
    """What axe-core finds, one line per rule and element, named by the state the page was in."""
    found = AXE.run(page, options=RULES).response["violations"]
    return [f"{state}: {v['id']} ({v['impact']}) at {', '.join(n['target'][0] for n in v['nodes'])}: {v['help']}"
            for v in found]


def test_sign_in_in_every_state(session: Callable[..., Session], scheme: str) -> None:
    s = session({
        "POST /api/login/code": [
            (400, refusal("invalid_request"), {}),
            (429, refusal("rate_limited"), {"Retry-After": "30"}),
            (202, {"challenge": "ch_1"}, {}),
        ],
        "POST /api/login/verify": [(401, refusal("invalid_code"), {})],
    }, color_scheme=scheme)
    page = s.open("/login/?signed_out=1")
    found = violations(page, "signed out")
    page.get_by_label("Email address").fill("jenny@example")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#email-error")).not_to_be_empty()
    found += violations(page, "bad email")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#email-error")).to_contain_text("Too many attempts")
    found += violations(page, "rate limited")
    page.get_by_label("Email address").fill("jenny@example.com")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#code")).to_be_focused()
    found += violations(page, "code entry")
    page.locator("#code").fill("123456")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#code-error")).not_to_be_empty()
    found += violations(page, "wrong code")
    assert found == []


def test_every_status_with_its_notice_and_pay_link(session: Callable[..., Session], scheme: str) -> None:
    invoice = {"id": "in_open", "number": "ACME-2", "created": T, "currency": "usd", "total": 2900, "amount_due": 2900,
               "amount_paid": 0, "amount_remaining": 2900, "status": "open", "hosted_invoice_url": "https://pay.example/in_open",
               "actions": ["pay"]}
    statuses = [sub(status, 2900, "usd", actions=["cancel"], latest_invoice="in_open") | {"id": f"sub_{status}"}
                for status in ("past_due", "unpaid", "incomplete", "incomplete_expired", "paused", "trialing")]
    paused = sub("active", 2900, "usd", pause_collection={"behavior": "void", "resumes_at": T + 86400})
    # Paid with the card on file: no hosted page, so Pay is a button.
    on_file = invoice | {"id": "in_on_file", "number": "ACME-3", "hosted_invoice_url": None}
    portal = {**SELF_SERVICE, "subscriptions": [*statuses, paused], "invoices": [invoice, on_file]}
    s = session({"GET /api/portal": [(200, portal, {})]}, color_scheme=scheme, viewport={"width": 1280, "height": 900})
    page = s.open("/portal/")
    expect(page.locator("#subscriptions [data-field=notice]:visible")).to_have_count(6)
    expect(page.get_by_role("link", name="Pay invoice ACME-2")).to_be_visible()
    expect(page.get_by_role("button", name="Pay invoice ACME-3")).to_be_visible()
    assert violations(page, "statuses") == []


def test_the_portal_and_each_dialog(session: Callable[..., Session], scheme: str) -> None:
    s = session(PORTAL_REPLIES, color_scheme=scheme, viewport={"width": 1280, "height": 900})
    page = s.open("/portal/")
    expect(page.locator("#content")).to_be_visible()
    found = violations(page, "portal")

    page.get_by_role("button", name="Change plan").click()
    dialog = page.get_by_role("dialog", name="Change plan")
    dialog.get_by_role("radio", name=re.compile("Yearly")).check()
    expect(dialog.locator("#plan-preview")).to_contain_text("You pay $12.00 now")
    found += violations(page, "change plan")
    page.keyboard.press("Escape")

    page.get_by_role("button", name="Cancel subscription").click()
    dialog = page.get_by_role("dialog", name="Why are you leaving?")
    expect(dialog.get_by_role("radio").first).to_be_visible()
    found += violations(page, "cancel, reasons")
    dialog.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("dialog", name="Before you go")).to_be_visible()
    found += violations(page, "cancel, retention offer")
    page.keyboard.press("Escape")

    page.get_by_role("button", name="Remove, Mastercard ending in 4444").click()
    expect(page.get_by_role("dialog", name="Remove payment method?")).to_be_visible()
    found += violations(page, "remove payment method")
    page.keyboard.press("Escape")

    page.get_by_role("button", name="Edit details").click()
    dialog = page.get_by_role("dialog", name="Billing details")
    expect(dialog.get_by_label("Country or region").first).to_be_visible()
    found += violations(page, "billing details")
    dialog.get_by_label("Phone").first.fill("12")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.locator("[aria-invalid=true]")).to_have_count(1)
    found += violations(page, "billing details, refused")
    assert found == []


def test_the_portal_when_empty_or_unreachable_and_right_to_left(session: Callable[..., Session], scheme: str) -> None:
    empty = {**PORTAL, "subscriptions": [], "invoices": [], "payment_methods": []}
    s = session({"GET /api/portal": [(200, empty, {}), (500, refusal("server_error"), {}), (200, PORTAL, {})]},
                color_scheme=scheme)
    page = s.open("/portal/")
    expect(page.locator("#content")).to_be_visible()
    found = violations(page, "empty portal")
    page.reload()
    expect(page.get_by_role("button", name="Try again")).to_be_visible()
    found += violations(page, "load failed")
    page.goto(page.url.replace("/portal/", "/ar/portal/"))
    expect(page.locator("#content")).to_be_visible()
    found += violations(page, "portal in Arabic")
    assert found == []


def test_the_receipt(session: Callable[..., Session], scheme: str) -> None:
    # Open, with a Pay button, a tax and a discount row, and the notice that some lines are not shown.
    invoice = PORTAL["invoices"][0] | {
        "lines": {"data": [{"description": "Pro", "amount": 2900, "quantity": 1}], "has_more": True},
        "status": "open", "amount_remaining": 2900, "actions": ["pay"], "subtotal": 2900,
        "total_taxes": [{"amount": 463, "inclusive": True, "display_name": "VAT", "percentage": 19}],
        "total_discount_amounts": [{"amount": 290, "discount": "di_1"}]}
    s = session({"GET /api/invoices/in_1": [(200, {"invoice": invoice, "customer": PORTAL["customer"],
                                                    "business": {"name": "Acme"}}, {})]}, color_scheme=scheme)
    page = s.open("/receipt/?invoice=in_1")
    expect(page.get_by_role("article")).to_be_visible()
    expect(page.get_by_role("link", name="Pay invoice ACME-1")).to_be_visible()
    expect(page.locator("#lines-missing")).to_be_visible()
    assert violations(page, "receipt") == []


def test_a_dialog_keeps_focus_inside_and_gives_it_back(session: Callable[..., Session]) -> None:
    s = session(PORTAL_REPLIES)
    page = s.open("/portal/")
    opener = page.get_by_role("button", name="Remove, Mastercard ending in 4444")
    opener.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Remove payment method?")
    expect(dialog).to_be_visible()
    inside = "document.activeElement.closest('dialog[open]') !== null"
    assert page.evaluate(inside)
    for key in ["Tab"] * 6 + ["Shift+Tab"] * 6:
        page.keyboard.press(key)
        assert page.evaluate(inside), f"focus left the dialog after {key}"
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()


def test_sign_in_works_from_the_keyboard_alone(session: Callable[..., Session]) -> None:
    s = session({"POST /api/login/code": [(202, {"challenge": "ch_1"}, {})],
                 "POST /api/login/verify": [(401, refusal("invalid_code"), {})]})
    page = s.open("/login/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    for _ in range(6):
        if page.evaluate("document.activeElement.id") == "email":
            break
        page.keyboard.press("Tab")
    expect(page.locator("#email")).to_be_focused()
    page.keyboard.type("jenny@example.com")
    page.keyboard.press("Enter")
    expect(page.locator("#code")).to_be_focused()
    assert page.locator("#code").get_attribute("autocomplete") == "one-time-code"
    page.keyboard.type("123456")
    page.keyboard.press("Enter")
    # The refusal is announced: it is in an alert region, tied to the field it is about.
    expect(page.get_by_role("alert").filter(has_text="That code is not right")).to_be_visible()
    expect(page.locator("#code")).to_have_accessible_description(re.compile("That code is not right or has expired."))
