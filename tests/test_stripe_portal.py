"""The portal connected to Stripe, end to end over HTTP: the real app with billing.engine stripe, its data
brought in from the Stripe emulator (localstripe) by the real sync, a customer signed in with a mailed code.

Every change a customer makes is read back from the emulator with Stripe's own client, not from Porch:
the portal's answer and Stripe agree. When Stripe is down or silent a change answers 503 and nothing
changes in the store; the portal still reads. What localstripe cannot do (see test_stripe_engine.py)
is tested at the SDK boundary there."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
import sqlalchemy as sa
import stripe
from helpers import Outbox, sign_in
from processes import free_port
from starlette.testclient import TestClient
from test_stripe_sync import seed
from test_stripe_webhooks import deliver, event

from backend import stripe_api, stripe_sync
from backend.app import create_app
from backend.config import Config, parse_config
from backend.settings import Settings
from backend.store import billing, tables
from backend.store.database import Database
from backend.stripe_engine import StripeEngine

CONFIG = """
business: {{name: Acme, support_email: billing@acme.example}}
billing: {{engine: stripe}}
features:
  subscription_cancel: {{{cancel}}}
  subscription_update:
    enabled: true
    default_allowed_updates: [price, quantity]
    proration_behavior: create_prorations
    products:
      - product: {product}
        prices: [pro-monthly, team-monthly]
        adjustable_quantity: {{enabled: true, minimum: 1, maximum: 50}}
"""
IMMEDIATELY = "mode: immediately, proration_behavior: create_prorations"
EMAIL = "c0@example.com"  # the customer seed() makes first
MASTERCARD: Any = {"number": "5555555555554444", "exp_month": 6, "exp_year": 2031, "cvc": "123"}
# The engine a customer waits on when Stripe does not answer: it gives up at once, and tries once.
SHORT_TIMEOUT = 0.5


@dataclass(frozen=True)
class Account:
    """The merchant's Stripe account as the sync found it: one customer's objects."""

    customer: str
    subscription: str
    invoice: str
    default_card: str
    other_card: str
    product: str


@pytest.fixture
def account(emulator_client: stripe.StripeClient, db: Database) -> Account:
    """seed()'s customer on pro-monthly, with a second card (a Mastercard) and a team-monthly plan to switch
    to, all brought into the store by `python -m backend sync`'s own function."""
    (customer,) = seed(emulator_client, 1)
    product = str(emulator_client.v1.plans.retrieve("pro-monthly").product)
    emulator_client.v1.plans.create({"id": "team-monthly", "product": product, "amount": 4500, "currency": "eur",
                                     "interval": "month", "nickname": "Team monthly"})
    other = emulator_client.v1.payment_methods.create({"type": "card", "card": MASTERCARD})
    emulator_client.v1.payment_methods.attach(other.id, {"customer": customer})
    (sub,) = emulator_client.v1.subscriptions.list({"customer": customer}).data
    default = in_stripe(emulator_client, "customers", customer)["invoice_settings"]["default_payment_method"]
    stripe_sync.sync(db, emulator_client)
    return Account(customer, sub.id, str(sub.latest_invoice), str(default), other.id, product)


def config_for(account: Account, cancel: str = "") -> Config:
    return parse_config(CONFIG.format(cancel=cancel, product=account.product))[0]


Open = Callable[..., TestClient]


@pytest.fixture
def portal(stripe_settings: Settings, clock: Any, account: Account) -> Iterator[Open]:
    """portal(cancel=..., engine=..., session=...) is the real app with billing.engine stripe, as the synced
    customer: signed in with a mailed code, or on the session of the client given (one code a minute)."""
    opened: list[TestClient] = []

    def open_as(cancel: str = "", engine: StripeEngine | None = None, session: TestClient | None = None) -> TestClient:
        app = create_app(stripe_settings, config_for(account, cancel), clock=clock, background=False, engine=engine)
        client = TestClient(app, base_url="http://localhost", cookies=session.cookies if session else None)
        client.__enter__()
        opened.append(client)
        if session is None:
            sign_in(client, Outbox(client, stripe_settings.outbox_dir), EMAIL)
        return client

    yield open_as
    for client in opened:
        client.__exit__(None, None, None)


def in_stripe(client: stripe.StripeClient, kind: str, object_id: str, **params: Any) -> dict[str, Any]:
    """An object as the emulator has it now, read with Stripe's own client."""
    found = getattr(client.v1, kind).retrieve(object_id, params or None)
    return stripe_api.as_dict(found)


def shown(client: TestClient) -> dict[str, Any]:
    answer = client.get("/api/portal")
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def subscription_in(portal_answer: dict[str, Any], sub_id: str) -> dict[str, Any]:
    (found,) = [sub for sub in portal_answer["subscriptions"] if sub["id"] == sub_id]
    return found  # type: ignore[no-any-return]


def item_of(sub: dict[str, Any]) -> tuple[str, int]:
    """The subscription's one item: its price's (or, as localstripe answers, its plan's) id and quantity."""
    (item,) = sub["items"]["data"]
    price = item.get("price") or item["plan"]
    return (price if isinstance(price, str) else price["id"]), item["quantity"]


def ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json() if answer.content else None


# 1. What the sync brought in is what the portal shows.


def test_the_portal_shows_the_customer_as_synced_from_stripe(portal, account, emulator_client):
    seen = shown(portal())
    customer = in_stripe(emulator_client, "customers", account.customer)
    assert (seen["customer"]["id"], seen["customer"]["email"], seen["customer"]["name"]) == (
        account.customer, EMAIL, customer["name"])
    assert [(t["type"], t["value"]) for t in seen["customer"]["tax_ids"]["data"]] == [("eu_vat", "DE123456780")]
    assert seen["customer"]["invoice_settings"]["default_payment_method"] == account.default_card
    (sub,) = seen["subscriptions"]
    assert (sub["id"], sub["status"], sub["cancel_at_period_end"]) == (account.subscription, "active", False)
    assert item_of(sub) == ("pro-monthly", 1)
    (invoice,) = seen["invoices"]
    assert (invoice["id"], invoice["status"], invoice["total"]) == (account.invoice, "paid", 1500)
    cards = {method["id"]: method["card"]["last4"] for method in seen["payment_methods"]}
    assert cards == {account.default_card: "4242", account.other_card: "4444"}


# 2. Billing details.

ADDRESS = {"line1": "Unter den Linden 1", "line2": None, "city": "Berlin", "state": None, "postal_code": "10117",
           "country": "DE"}


def test_billing_details_are_changed_in_stripe_and_in_the_answer(portal, account, emulator_client):
    client = portal()
    answer = ok(client.patch("/api/customer", json={
        "name": "Jenny Rosen", "address": ADDRESS,
        "tax_ids": [{"type": "eu_vat", "value": "DE123456780"}, {"type": "eu_vat", "value": "FR40303265045"}]}))
    customer = in_stripe(emulator_client, "customers", account.customer, expand=["tax_ids"])
    assert customer["name"] == "Jenny Rosen"
    # A field left empty is cleared in Stripe (localstripe keeps the empty string Stripe is sent for it).
    assert {key: customer["address"].get(key) or None for key in ADDRESS} == ADDRESS
    wanted = [("eu_vat", "DE123456780"), ("eu_vat", "FR40303265045")]
    assert [(t["type"], t["value"]) for t in customer["tax_ids"]["data"]] == wanted
    assert answer["customer"]["name"] == "Jenny Rosen"
    assert answer["customer"]["address"]["line1"] == "Unter den Linden 1"
    listed = answer["customer"]["tax_ids"]["data"]
    assert [(t["type"], t["value"]) for t in listed] == wanted
    # The ids are Stripe's: the one kept is the one synced, the new one Stripe's own.
    assert [t["id"] for t in listed] == [t["id"] for t in customer["tax_ids"]["data"]]
    assert shown(client)["customer"] == answer["customer"]


def test_removing_every_tax_id_removes_them_in_stripe(portal, account, emulator_client):
    answer = ok(portal().patch("/api/customer", json={"tax_ids": []}))
    assert answer["customer"]["tax_ids"]["data"] == []
    assert emulator_client.v1.customers.tax_ids.list(account.customer).data == []


# 3. Subscriptions.


def test_cancel_at_period_end_then_resume_in_stripe(portal, account, emulator_client):
    client = portal()
    cancelled = ok(client.post(f"/api/subscriptions/{account.subscription}/cancel", json={"reason": "too_expensive"}))
    assert cancelled["subscription"]["cancel_at_period_end"] is True
    now = in_stripe(emulator_client, "subscriptions", account.subscription)
    assert (now["cancel_at_period_end"], now["status"]) == (True, "active")
    assert subscription_in(shown(client), account.subscription)["cancel_at_period_end"] is True

    resumed = ok(client.post(f"/api/subscriptions/{account.subscription}/resume", json={}))
    assert resumed["subscription"]["cancel_at_period_end"] is False
    assert in_stripe(emulator_client, "subscriptions", account.subscription)["cancel_at_period_end"] is False
    assert subscription_in(shown(client), account.subscription)["cancel_at_period_end"] is False


def test_cancel_now_ends_the_subscription_in_stripe(portal, account, emulator_client):
    client = portal(cancel=IMMEDIATELY)
    answer = ok(client.post(f"/api/subscriptions/{account.subscription}/cancel", json={}))
    assert answer["subscription"]["status"] == "canceled"
    assert in_stripe(emulator_client, "subscriptions", account.subscription)["status"] == "canceled"
    assert subscription_in(shown(client), account.subscription)["status"] == "canceled"


def test_the_preview_answers_stripes_numbers(portal, account, emulator_client):
    answer = ok(portal().post(f"/api/subscriptions/{account.subscription}/preview",
                              json={"price": "team-monthly", "quantity": 2}))
    # The same question asked of Stripe directly.
    item = in_stripe(emulator_client, "subscriptions", account.subscription)["items"]["data"][0]["id"]
    stripes = stripe_api.as_dict(emulator_client.v1.invoices.create_preview({
        "customer": account.customer, "subscription": account.subscription,
        "subscription_details": {"items": [{"id": item, "price": "team-monthly", "quantity": 2}]}}))
    assert answer["amount_due"] == stripes["amount_due"] != 0
    assert answer["currency"] == "eur"
    assert sorted(line["amount"] for line in answer["lines"]) == sorted(
        line["amount"] for line in stripes["lines"]["data"])
    # Asking changed nothing.
    assert item_of(in_stripe(emulator_client, "subscriptions", account.subscription)) == ("pro-monthly", 1)


def test_plan_and_quantity_changes_are_made_in_stripe(portal, account, emulator_client):
    client = portal()
    sub = account.subscription
    for body, expected in (({"price": "team-monthly"}, ("team-monthly", 1)),
                           ({"quantity": 3}, ("team-monthly", 3))):
        answer = ok(client.post(f"/api/subscriptions/{sub}/update", json=body))
        assert item_of(in_stripe(emulator_client, "subscriptions", sub)) == expected, body
        assert item_of(answer["subscription"]) == expected, body
        assert item_of(subscription_in(shown(client), sub)) == expected, body


# 4. Payment methods.


def test_a_new_default_card_and_a_removed_card_are_so_in_stripe(portal, account, emulator_client):
    client = portal()
    answer = ok(client.post(f"/api/payment_methods/{account.other_card}/default", json={}))
    assert answer["customer"]["invoice_settings"]["default_payment_method"] == account.other_card
    customer = in_stripe(emulator_client, "customers", account.customer)
    assert customer["invoice_settings"]["default_payment_method"] == account.other_card

    assert ok(client.delete(f"/api/payment_methods/{account.default_card}", headers={
        "Content-Type": "application/json"}), status=204) is None
    assert in_stripe(emulator_client, "payment_methods", account.default_card)["customer"] is None
    left = emulator_client.v1.payment_methods.list({"customer": account.customer, "type": "card"}).data
    assert [method.id for method in left] == [account.other_card]
    assert [method["id"] for method in shown(client)["payment_methods"]] == [account.other_card]


# 5 and 8. Stripe down or silent: a change is refused with nothing changed; reads still answer.


@pytest.fixture
def silent() -> Iterator[str]:
    """An address that takes connections and never answers, as a Stripe that hangs: the kernel completes
    the connection into the listen backlog and nobody ever reads it."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.fixture(params=["down", "silent"])
def unreachable(request: pytest.FixtureRequest, stripe_settings: Settings, account: Account) -> StripeEngine:
    """The engine of a Stripe that is down (nobody listens), or silent (it never answers)."""
    base = f"http://127.0.0.1:{free_port()}" if request.param == "down" else request.getfixturevalue("silent")
    settings = replace(stripe_settings, stripe_api_base=base)
    return StripeEngine(stripe_api.client(settings, timeout=SHORT_TIMEOUT, retries=0), config_for(account))


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a change writes: the billing objects, the audit, Porch's events and their deliveries,
    the idempotency records."""
    kept = [table for table, _ in billing.KINDS.values()] + [
        tables.audit_log, tables.events, tables.webhook_deliveries, tables.idempotency_keys]

    def read(conn: sa.Connection) -> dict[str, list[tuple[Any, ...]]]:
        return {table.name: sorted((tuple(row) for row in conn.execute(sa.select(table))), key=repr)
                for table in kept}
    return db.run(read, write=False)


CHANGES: dict[str, Callable[[TestClient, Account], Any]] = {
    "billing details": lambda c, a: c.patch("/api/customer", json={"name": "Someone Else"}),
    "tax ids": lambda c, a: c.patch("/api/customer", json={"tax_ids": [{"type": "eu_vat", "value": "FR40303265045"}]}),
    "cancel": lambda c, a: c.post(f"/api/subscriptions/{a.subscription}/cancel", json={}),
    "resume": lambda c, a: c.post(f"/api/subscriptions/{a.subscription}/resume", json={}),
    "preview": lambda c, a: c.post(f"/api/subscriptions/{a.subscription}/preview", json={"price": "team-monthly"}),
    "plan change": lambda c, a: c.post(f"/api/subscriptions/{a.subscription}/update", json={"price": "team-monthly"}),
    "quantity change": lambda c, a: c.post(f"/api/subscriptions/{a.subscription}/update", json={"quantity": 2}),
    "default card": lambda c, a: c.post(f"/api/payment_methods/{a.other_card}/default", json={}),
    "remove card": lambda c, a: c.delete(f"/api/payment_methods/{a.other_card}",
                                         headers={"Content-Type": "application/json"}),
}


@pytest.mark.parametrize("change", CHANGES)
def test_without_stripe_a_change_answers_503_and_changes_nothing(portal, account, db, unreachable, change):
    up = portal()
    if change == "resume":
        ok(up.post(f"/api/subscriptions/{account.subscription}/cancel", json={}))
    before, store = shown(up), snapshot(db)
    down = portal(engine=unreachable, session=up)
    answer = CHANGES[change](down, account)
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "billing_unavailable"
    assert answer.headers["Retry-After"] == "30"
    assert snapshot(db) == store
    # The portal's reads are the store's: they answer as before.
    assert shown(down) == before


def test_with_stripe_down_a_cancel_now_changes_nothing(portal, account, db, unreachable, emulator_client):
    up = portal(cancel=IMMEDIATELY)
    store = snapshot(db)
    answer = portal(cancel=IMMEDIATELY, engine=unreachable, session=up).post(
        f"/api/subscriptions/{account.subscription}/cancel", json={})
    assert (answer.status_code, answer.json()["error"]["code"]) == (503, "billing_unavailable")
    assert snapshot(db) == store
    assert in_stripe(emulator_client, "subscriptions", account.subscription)["status"] == "active"


# 6. Idempotency-Key.


def test_the_same_idempotency_key_twice_makes_one_change_in_stripe(portal, account, emulator_client):
    client = portal()
    new_tax_id = {"tax_ids": [{"type": "eu_vat", "value": "DE123456780"}, {"type": "eu_vat", "value": "FR40303265045"}]}
    first = client.patch("/api/customer", json=new_tax_id, headers={"Idempotency-Key": "tax-1"})
    again = client.patch("/api/customer", json=new_tax_id, headers={"Idempotency-Key": "tax-1"})
    assert ok(first) == ok(again)
    assert len(emulator_client.v1.customers.tax_ids.list(account.customer).data) == 2

    sub = account.subscription
    first = client.post(f"/api/subscriptions/{sub}/update", json={"price": "team-monthly"}, headers={"Idempotency-Key": "plan-1"})
    # Meanwhile the customer's Stripe subscription moves on; a replay must not undo it.
    emulator_client.v1.subscriptions.update(sub, {"items": [{"id": in_stripe(emulator_client, "subscriptions", sub)[
        "items"]["data"][0]["id"], "price": "pro-monthly"}]})
    again = client.post(f"/api/subscriptions/{sub}/update", json={"price": "team-monthly"}, headers={"Idempotency-Key": "plan-1"})
    assert ok(first) == ok(again)
    assert item_of(in_stripe(emulator_client, "subscriptions", sub)) == ("pro-monthly", 1)


# 7. The webhook Stripe sends after a change.


def test_the_webhooks_stripe_sends_after_changes_leave_the_store_as_the_portal_showed_it(
        portal, account, emulator_client, db):
    client = portal()
    ok(client.patch("/api/customer", json={"name": "Jenny Rosen", "tax_ids": []}))
    ok(client.post(f"/api/subscriptions/{account.subscription}/update", json={"quantity": 2}))
    ok(client.post(f"/api/subscriptions/{account.subscription}/cancel", json={}))
    ok(client.post(f"/api/payment_methods/{account.other_card}/default", json={}))
    after_changes = shown(client)
    # What Stripe sends for those changes, each carrying the object as Stripe has it now.
    now = int(time.time())
    for kind, resource, object_id in (
            ("customer.updated", "customers", account.customer),
            ("customer.tax_id.deleted", None, None),
            ("customer.subscription.updated", "subscriptions", account.subscription),
            ("payment_method.updated", "payment_methods", account.other_card)):
        obj = (in_stripe(emulator_client, resource, object_id) if resource and object_id else
               {"id": "txi_gone", "object": "tax_id", "customer": account.customer, "type": "eu_vat",
                "value": "DE123456780"})
        answer = deliver(client, event(kind, obj, created=now))
        assert answer.status_code == 200 and answer.json() == {"received": True, "applied": True}, (kind, answer.text)
    assert shown(client) == after_changes
    stored = db.run(billing.get, "subscriptions", account.subscription, write=False)
    assert (stored["cancel_at_period_end"], stored["items"]["data"][0]["quantity"]) == (True, 2)
