"""Paying an invoice and coming back from adding a card, in Debian's Chromium against the real
backend: what the page asks the server, what it says, where focus and the address bar end up.

With the local engine the server names the invoice's hosted page; with the Stripe engine it may pay
with the card on file, or refuse in words the page puts in the customer's language. Where localstripe
lacks the call (Checkout Sessions), the live server's Stripe engine talks to `ScriptedStripe`: Stripe's
API on a loopback port answering with Stripe's published example objects (tests/stripe_examples.json);
those tests say so in their names ("..._at_the_sdk_boundary")."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from helpers import ROOT
from live import sent, sign_in
from stripe_boundary import example

from backend.store import billing

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

SAMPLE = (ROOT / "config.yaml").read_text(encoding="utf-8")
STRIPE = SAMPLE + "\nbilling:\n  engine: stripe\n"
HOSTED = "https://invoice.example.com/i/in_alex_0002"  # the past-due demo customer's open invoice (backend/demo.py)
# The past-due demo customer as Stripe has them, with a card on file: paying asks Stripe for them first.
ALEX = example("customer", id="cus_alex", email="alex@example.com",
               invoice_settings={"default_payment_method": "pm_alex_amex"})


class ScriptedStripe:
    """Stripe's API on a loopback port: each request gets the next (status, body) of `answers` and is
    recorded as "METHOD /path". Stopped, its port refuses connections, as an unreachable Stripe does."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, Any]]] = []
        self.asked: list[str] = []
        script = self

        class Answer(BaseHTTPRequestHandler):
            def answer(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                script.asked.append(f"{self.command} {urlsplit(self.path).path}")
                status, body = script.answers.pop(0) if script.answers else (
                    500, {"error": {"type": "api_error", "message": f"unscripted: {self.command} {self.path}"}})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=10)


@pytest.fixture
def stripe_api() -> Iterator[ScriptedStripe]:
    scripted = ScriptedStripe()
    yield scripted
    scripted.stop()


@pytest.fixture(name="settings")
def stripe_settings(settings: Any, stripe_api: ScriptedStripe) -> Any:
    """Keys for a live server with billing.engine stripe (STRIPE); the local engine ignores them."""
    return replace(settings, stripe_secret_key="sk_test_pages", stripe_api_base=stripe_api.url)


def test_back_from_checkout_the_session_is_sent_once_and_leaves_the_address_bar(tab, live_server) -> None:
    """Whatever the server answers, the return is handed to it once, keyed by the session, and the
    session's id is not left in the address bar (nor in the history, to be sent again on a reload)."""
    page = sign_in(tab, live_server)
    page.goto(f"{live_server.url}/portal/?session_id=cs_test_a1&ref=checkout")
    expect(page.locator("#content")).to_be_visible()
    assert page.url == f"{live_server.url}/portal/?ref=checkout"
    (added,) = sent(page, "payment_methods/added")
    assert json.loads(added.post_data) == {"session": "cs_test_a1"}
    assert added.headers["idempotency-key"] == "cs_test_a1"
    page.reload()
    expect(page.locator("#content")).to_be_visible()
    assert len(sent(page, "payment_methods/added")) == 1


def test_back_from_checkout_with_the_local_engine_says_the_method_comes_once_confirmed(tab, live_server) -> None:
    page = sign_in(tab, live_server)
    page.goto(f"{live_server.url}/portal/?session_id=cs_test_a1")
    expect(page.locator("#status")).to_have_text("Your new payment method will appear here as soon as it is confirmed.")
    expect(page.locator("#alert")).to_be_empty()
    assert page.url == f"{live_server.url}/portal/"


def test_back_from_checkout_the_new_card_shows_at_once_at_the_sdk_boundary(tab, live_server_with, stripe_api) -> None:
    server = live_server_with(STRIPE)
    page = sign_in(tab, server)
    card = example("payment_method", id="pm_new", customer="cus_jenny")
    card["card"] |= {"brand": "visa", "last4": "1881", "exp_month": 12, "exp_year": 2031}
    intent = example("setup_intent", customer="cus_jenny", status="succeeded", payment_method=card)
    session = example("checkout.session", id="cs_test_a1", mode="setup", status="complete", customer="cus_jenny",
                      setup_intent=intent)
    stripe_api.answers = [(200, session)]
    page.goto(f"{server.url}/portal/?session_id=cs_test_a1")
    expect(page.locator("#status")).to_have_text("Visa ending in 1881 was added.")
    expect(page.locator("#payment-methods")).to_contain_text("1881")
    assert page.url == f"{server.url}/portal/"
    assert stripe_api.asked == ["GET /v1/checkout/sessions/cs_test_a1"]


def test_a_checkout_session_stripe_does_not_have_is_said_in_words_at_the_sdk_boundary(tab, live_server_with,
                                                                                      stripe_api) -> None:
    server = live_server_with(STRIPE)
    page = sign_in(tab, server)
    stripe_api.answers = [(404, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                           "message": "No such checkout.session: 'cs_test_gone'"}})]
    page.goto(f"{server.url}/portal/?session_id=cs_test_gone")
    expect(page.locator("#alert")).to_have_text("Your payment method could not be added. Please try again.")
    assert page.url == f"{server.url}/portal/"


def test_pay_asks_the_server_then_goes_to_the_page_it_names(tab, live_server) -> None:
    """The local engine names the invoice's hosted page; the link to it stays a link, for a new tab."""
    tab.route("https://invoice.example.com/**", lambda route: route.fulfill(
        status=200, content_type="text/html", body="<!doctype html><title>Invoice</title><h1>Invoice</h1>"))
    page = sign_in(tab, live_server, "alex@example.com")
    pay = page.locator("#subscriptions > li").get_by_role("link", name=re.compile("^Pay \\$290.00"))
    expect(pay).to_have_attribute("href", HOSTED)
    pay.click()
    page.wait_for_url(HOSTED)
    (asked,) = sent(page, "invoices/in_alex_0002/pay")
    assert re.fullmatch(r"[0-9a-f-]{36}", asked.headers["idempotency-key"])
    assert json.loads(asked.post_data) == {}


def test_an_invoice_paid_meanwhile_is_said_and_shown_paid(tab, live_server, db) -> None:
    page = sign_in(tab, live_server, "alex@example.com")
    invoice = db.run(lambda conn: billing.get(conn, "invoices", "in_alex_0002"))
    db.run(lambda conn: billing.upsert(conn, "invoices", [invoice | {
        "status": "paid", "amount_paid": invoice["amount_due"], "amount_remaining": 0}]))
    page.get_by_role("link", name="Pay invoice ALEX-0002").click()
    expect(page.locator("#alert")).to_have_text("This invoice can no longer be paid here.")
    row = page.locator("#invoices tbody tr").filter(has_text="ALEX-0002")
    expect(row).to_contain_text("Paid")
    expect(row.get_by_role("link", name="Receipt for invoice ALEX-0002")).to_be_focused()  # Pay is gone
    expect(page.get_by_role("link", name=re.compile("^Pay"))).to_have_count(0)
    assert page.url == f"{live_server.url}/portal/"


def test_pay_with_the_card_on_file_shows_the_row_paid_at_the_sdk_boundary(tab, live_server_with, stripe_api) -> None:
    server = live_server_with(STRIPE)
    page = sign_in(tab, server, "alex@example.com")
    paid = example("invoice", id="in_alex_0002", number="ALEX-0002", customer="cus_alex", subscription="sub_alex_pro",
                   status="paid", currency="usd", total=29000, amount_due=29000, amount_paid=29000,
                   amount_remaining=0, hosted_invoice_url=HOSTED)
    active = example("subscription", id="sub_alex_pro", customer="cus_alex", status="active",
                     latest_invoice="in_alex_0002", default_payment_method=None, pause_collection=None,
                     cancel_at_period_end=False, cancel_at=None, canceled_at=None, ended_at=None)
    active["items"]["data"][0]["price"] |= {"id": "price_pro_yearly", "product": "prod_pro"}
    stripe_api.answers = [(200, ALEX), (200, paid), (200, active)]
    page.get_by_role("link", name="Pay invoice ALEX-0002").click()
    expect(page.locator("#status")).to_have_text("Invoice ALEX-0002 is paid.")
    # Paying set the subscription right: Stripe's answer, read after the payment, shows at once.
    expect(page.locator("#subscriptions > li")).to_contain_text("Active")
    expect(page.locator("#subscriptions > li")).not_to_contain_text("Your last payment failed")
    row = page.locator("#invoices tbody tr").filter(has_text="ALEX-0002")
    expect(row).to_contain_text("Paid")
    expect(row.get_by_role("link", name="Receipt for invoice ALEX-0002")).to_be_focused()
    expect(page.locator("#subscriptions").get_by_role("link", name=re.compile("^Pay"))).to_have_count(0)
    assert page.url == f"{server.url}/portal/"
    assert stripe_api.asked == ["GET /v1/customers/cus_alex", "POST /v1/invoices/in_alex_0002/pay",
                                "GET /v1/subscriptions/sub_alex_pro"]


def test_a_declined_card_is_said_in_words_at_the_sdk_boundary(tab, live_server_with, stripe_api, db) -> None:
    """Without a hosted page to send the customer to, a declined card is the answer."""
    server = live_server_with(STRIPE)
    invoice = db.run(lambda conn: billing.get(conn, "invoices", "in_alex_0002"))
    db.run(lambda conn: billing.upsert(conn, "invoices", [invoice | {"hosted_invoice_url": None}]))
    page = sign_in(tab, server, "alex@example.com")
    stripe_api.answers = [(200, ALEX),
                          (402, {"error": {"type": "card_error", "code": "card_declined",
                                           "decline_code": "generic_decline", "message": "Your card was declined."}}),
                          (200, example("invoice", id="in_alex_0002", customer="cus_alex", status="open",
                                        hosted_invoice_url=None))]
    pay = page.get_by_role("button", name="Pay invoice ALEX-0002")
    pay.click()
    expect(page.locator("#alert")).to_have_text("Your card was declined. Use another card or contact your bank.")
    expect(pay).to_be_focused()


def test_stripe_unreachable_is_said_and_nothing_changes(tab, live_server_with, stripe_api) -> None:
    server = live_server_with(STRIPE)
    page = sign_in(tab, server)
    stripe_api.stop()
    make_default = page.get_by_role("button", name="Make default, Mastercard ending in 4444")
    make_default.click()
    expect(page.locator("#alert")).to_have_text(
        "Billing is unavailable right now. Nothing was changed; try again in a few minutes.")
    expect(make_default).to_be_focused()
    expect(page.locator("#payment-methods > li").first).to_contain_text("4242")  # still the default, first


def test_a_change_stripe_refuses_is_said_in_words_at_the_sdk_boundary(tab, live_server_with, stripe_api) -> None:
    server = live_server_with(STRIPE)
    page = sign_in(tab, server)
    stripe_api.answers = [(400, {"error": {"type": "invalid_request_error",
                                           "message": "This PaymentMethod is not attached to the customer."}})]
    page.get_by_role("button", name="Make default, Mastercard ending in 4444").click()
    expect(page.locator("#alert")).to_have_text("This change is no longer possible. Reload the page to see the latest.")
