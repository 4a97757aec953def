"""Every Stripe status as the customer sees it in Chromium: what is wrong and what to do, when the
subscription renews, ends or resumes (never "Renews on" for one that does not renew), a Pay link to
the open invoice where a payment failed, and only the buttons the server would accept. The API is
answered by the test here; test_self_service.py has the demo's past-due and paused customers."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from routed import FEATURES, PORTAL, Session, T, sub

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

DAY = 86400
PAY_URL = "https://pay.example/in_open"
RENEWS = "Renews on Jan 21, 2026"  # the period's end in routed.sub
ONLY_CARD = {"id": "pm_only", "type": "card", "card": {"brand": "visa", "last4": "4242", "exp_month": 8, "exp_year": 2030},
             "actions": []}


def open_invoice(url: str = PAY_URL) -> dict[str, Any]:
    """An open invoice that the server accepts paying now ("actions"), as GET /api/portal shows it."""
    return {"id": "in_open", "number": "ACME-2", "created": T - 3 * DAY, "currency": "usd", "total": 2900,
            "amount_due": 2900, "amount_paid": 0, "amount_remaining": 2900, "status": "open", "subscription": "sub_x",
            "hosted_invoice_url": url, "invoice_pdf": None, "actions": ["pay"]}


def portal_with(subscription: dict[str, Any], invoices: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {**PORTAL, "features": FEATURES, "subscriptions": [subscription | {"id": "sub_x"}],
            "invoices": invoices or [], "payment_methods": [ONLY_CARD]}


def row_of(s: Session, portal: dict[str, Any]) -> Any:
    s.replies["GET /api/portal"] = [(200, portal, {})]
    page = s.open("/portal/")
    row = page.locator("#subscriptions > li")
    expect(row).to_have_count(1)
    return row


@pytest.fixture
def opened(session: Callable[..., Session]) -> Session:
    return session({}, viewport={"width": 1280, "height": 900})


def buttons(row: Any) -> Any:
    return row.locator("[data-field=actions] button")


def test_past_due_says_what_failed_offers_pay_and_no_change_of_plan(opened: Session) -> None:
    past_due = sub("past_due", 2900, "usd", actions=["cancel", "retention"], latest_invoice="in_open")
    row = row_of(opened, portal_with(past_due, [open_invoice()]))
    expect(row.locator("[data-field=status]")).to_have_text("Past due")
    expect(row.locator("[data-field=notice]")).to_have_text(
        "Your last payment failed. Pay the open invoice or update your payment method to keep this plan.")
    pay = row.get_by_role("link", name="Pay $29.00, Plan usd")
    expect(pay).to_have_attribute("href", PAY_URL)
    expect(pay).to_have_attribute("rel", "noopener noreferrer")
    expect(pay).to_have_text("Pay $29.00")
    expect(buttons(row)).to_have_text(["Cancel subscription"])
    expect(row).not_to_contain_text("Renews on")
    expect(opened.page.locator("#payment-methods button")).to_have_count(0)  # the only card stays


@pytest.mark.parametrize(("invoice", "why"), [
    (open_invoice() | {"actions": []}, "the server does not accept paying it"),
    (open_invoice() | {"status": "paid", "amount_remaining": 0, "actions": []}, "nothing left to pay"),
    (open_invoice() | {"id": "in_other"}, "not the subscription's latest invoice"),
])
def test_no_pay_without_an_open_invoice_the_server_accepts_paying(opened: Session, invoice: Any, why: str) -> None:
    past_due = sub("past_due", 2900, "usd", actions=["cancel"], latest_invoice="in_open")
    row = row_of(opened, portal_with(past_due, [invoice]))
    expect(row.locator("[data-field=notice]")).to_be_visible()
    expect(row.get_by_role("link")).to_have_count(0)
    expect(row.get_by_role("button", name=re.compile("^Pay"))).to_have_count(0)


def test_pay_without_a_hosted_page_is_a_button_never_a_link_to_a_script(opened: Session) -> None:
    """Paid through the server (the card on file) where the invoice has no web page of its own."""
    past_due = sub("past_due", 2900, "usd", actions=["cancel"], latest_invoice="in_open")
    row = row_of(opened, portal_with(past_due, [open_invoice("javascript:alert(1)")]))
    expect(row.get_by_role("link")).to_have_count(0)
    expect(row.get_by_role("button", name="Pay $29.00, Plan usd")).to_be_visible()


@pytest.mark.parametrize(("status", "badge", "notice", "pays"), [
    ("unpaid", "Unpaid", "This subscription is on hold because a payment failed. Pay the open invoice to carry on.", True),
    ("incomplete", "Incomplete",
     "The first payment did not go through. Pay the invoice to start this subscription, or it will expire.", True),
    ("incomplete_expired", "Expired", "This subscription never started because its first payment was not made.", False),
    ("paused", "Paused", ("This subscription is paused and you are not being charged. It resumes when you add a "
                          "payment method or when we resume it."), False),
])
def test_a_subscription_that_does_not_renew_says_why_and_never_renews_on(opened: Session, status: str, badge: str,
                                                                          notice: str, pays: bool) -> None:
    # The server accepts nothing for these but cancelling an unpaid or paused one.
    actions = ["cancel"] if status in ("unpaid", "paused") else []
    row = row_of(opened, portal_with(sub(status, 2900, "usd", actions=actions), [open_invoice()]))
    expect(row.locator("[data-field=status]")).to_have_text(badge)
    expect(row.locator("[data-field=notice]")).to_have_text(notice)
    expect(row.locator("[data-field=when]")).to_be_hidden()
    expect(row).not_to_contain_text("Renews on")
    expect(row.get_by_role("link", name=re.compile("^Pay"))).to_have_count(1 if pays else 0)
    expect(buttons(row)).to_have_text(["Cancel subscription"] if actions else [])


def test_a_trial_says_when_it_ends_and_offers_what_the_server_accepts(opened: Session) -> None:
    trial = sub("trialing", 2900, "usd", trial_end=T + 5 * DAY)
    row = row_of(opened, portal_with(trial))
    expect(row.locator("[data-field=status]")).to_have_text("Trialing")
    expect(row.locator("[data-field=when]")).to_have_text("Trial ends Jan 6, 2026")
    expect(row.locator("[data-field=notice]")).to_be_hidden()
    expect(buttons(row)).to_have_text(["Change plan", "Cancel subscription"])


@pytest.mark.parametrize(("pause", "when", "notice"), [
    ({"behavior": "void", "resumes_at": T + 45 * DAY}, "Resumes on Feb 15, 2026",
     "Payments for this subscription are paused."),
    ({"behavior": "keep_as_draft", "resumes_at": None}, None,
     "Payments for this subscription are paused until we resume them."),
])
def test_paused_collection_shows_paused_and_when_it_resumes(opened: Session, pause: Any, when: Any, notice: str) -> None:
    row = row_of(opened, portal_with(sub("active", 2900, "usd", pause_collection=pause)))
    expect(row.locator("[data-field=status]")).to_have_text("Paused")
    expect(row.locator("[data-field=notice]")).to_have_text(notice)
    if when:
        expect(row.locator("[data-field=when]")).to_have_text(when)
    else:
        expect(row.locator("[data-field=when]")).to_be_hidden()
    expect(row).not_to_contain_text("Renews on")


def test_an_active_subscription_renews_and_has_no_notice(opened: Session) -> None:
    row = row_of(opened, portal_with(sub("active", 2900, "usd")))
    expect(row.locator("[data-field=when]")).to_have_text(RENEWS)
    expect(row.locator("[data-field=notice]")).to_be_hidden()
