"""The stripe engine's actions against Stripe itself, in test mode: opt-in, with PORCH_STRIPE_TEST_KEY.

What the emulator cannot show is shown here: prorations and their invoices, cancellation with a credit
to the customer's balance, the retention coupon, Stripe's invoice preview, subscription schedules and
hosted invoice pages. Each test makes its own customer on its own test clock (so that nothing it does
touches real time or other customers), and deletes the clock, with its customers, after."""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import stripe
from stripe_calls import make_call

from backend import stripe_api
from backend.billing_types import Invoice, Price, Subscription
from backend.config import RetentionOffer, parse_config
from backend.engine import Call
from backend.events import Actor
from backend.settings import Settings
from backend.store.database import create_engine, migrate
from backend.stripe_engine import StripeEngine
from backend.stripe_objects import normalise

KEY = os.environ.get("PORCH_STRIPE_TEST_KEY", "")
pytestmark = pytest.mark.skipif(not KEY, reason="set PORCH_STRIPE_TEST_KEY to a Stripe test-mode secret key")
CONFIG = parse_config("business: {name: Acme, support_email: billing@acme.example}\n")[0]
OFFER = RetentionOffer(enabled=True, percent_off=20, duration_in_months=3)


def read(answer: Any) -> dict[str, Any]:
    return normalise(stripe_api.as_dict(answer))[0][1]


@dataclasses.dataclass
class Account:
    """One test's corner of the Stripe test-mode account: a test clock, a product with two monthly prices."""

    sdk: stripe.StripeClient
    engine: StripeEngine
    clock: str
    now: int
    basic: Price
    team: Price
    conn: sa.Connection

    def call(self, customer: str) -> Call:
        # A key per call, as each portal request has its own; the clock's time, for proration dates.
        call = make_call(self.conn, customer=customer, key=uuid.uuid4().hex)
        return dataclasses.replace(call, actor=Actor(customer=customer, client="test", now=self.now))

    def customer(self, card: str | None = "pm_card_visa") -> str:
        customer = self.sdk.v1.customers.create({"email": "jenny@example.com", "test_clock": self.clock})
        if card:
            method = self.sdk.v1.payment_methods.attach(card, {"customer": customer.id})
            self.sdk.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": method.id}})
        return customer.id

    def subscription(self, quantity: int = 1) -> Subscription:
        sub = self.sdk.v1.subscriptions.create({"customer": self.customer(),
                                                "items": [{"price": self.basic.id, "quantity": quantity}]})
        return Subscription.of(read(sub))

    def now_in_stripe(self, sub: Subscription) -> Subscription:
        return Subscription.of(read(self.sdk.v1.subscriptions.retrieve(sub.id)))

    def open_invoice(self, customer: str) -> Invoice:
        self.sdk.v1.invoice_items.create({"customer": customer, "amount": 500, "currency": "usd"})
        draft = self.sdk.v1.invoices.create({"customer": customer, "pending_invoice_items_behavior": "include",
                                             "auto_advance": False})
        return Invoice.of(read(self.sdk.v1.invoices.finalize_invoice(str(draft.id), {"auto_advance": False})))


@pytest.fixture
def account(tmp_path: Path) -> Iterator[Account]:
    if not KEY.startswith(("sk_test_", "rk_test_")):
        pytest.fail("PORCH_STRIPE_TEST_KEY must be a test-mode key (sk_test_... or rk_test_...): "
                    "these tests create and cancel subscriptions")
    settings = Settings(config_path=tmp_path / "config.yaml", database_url=f"sqlite:///{tmp_path / 'porch.db'}",
                        secret_key=b"s" * 32, smtp_url=None, outbox_dir=tmp_path / "outbox", stripe_secret_key=KEY)
    sdk = stripe_api.client(settings)
    now = int(time.time())
    clock = sdk.v1.test_helpers.test_clocks.create({"frozen_time": now, "name": "Porch engine tests"})
    product = sdk.v1.products.create({"name": "Porch engine tests"})
    prices = [Price.of(read(sdk.v1.prices.create({"product": product.id, "currency": "usd", "unit_amount": amount,
                                                  "nickname": name, "recurring": {"interval": "month"}})))
              for name, amount in (("Basic", 1000), ("Team", 2500))]
    store = create_engine(settings.database_url)
    migrate(store)
    try:
        with store.connect() as conn:
            yield Account(sdk, StripeEngine(sdk, CONFIG), clock.id, now, prices[0], prices[1], conn)
    finally:
        store.dispose()
        sdk.v1.test_helpers.test_clocks.delete(clock.id)  # with its customers and their subscriptions
        sdk.v1.products.update(product.id, {"active": False})  # a product with prices cannot be deleted


def test_cancel_at_period_end_then_resume(account: Account) -> None:
    sub = account.subscription()
    changed = account.engine.cancel(account.call(sub.customer), sub, at_period_end=True, prorate=False,
                                    details={"feedback": "too_expensive", "comment": "Over budget"})
    cancelled = account.now_in_stripe(sub)
    assert cancelled.cancel_at_period_end and changed.subscription["cancel_at_period_end"] is True
    assert cancelled.data["cancellation_details"]["feedback"] == "too_expensive"
    account.engine.resume(account.call(sub.customer), cancelled)
    assert account.now_in_stripe(sub).cancel_at_period_end is False


def test_cancel_now_with_proration_credits_the_customer(account: Account) -> None:
    sub = account.subscription()
    changed = account.engine.cancel(account.call(sub.customer), sub, at_period_end=False, prorate=True,
                                    details={"feedback": "unused"})
    assert account.now_in_stripe(sub).status == "canceled"
    assert changed.customer is not None and changed.customer["balance"] < 0  # the unused time, as credit
    assert changed.invoice is not None and changed.invoice["total"] < 0


def test_retention_coupon_is_made_once_and_applied(account: Account) -> None:
    first, second = account.subscription(), account.subscription()
    for sub in (first, second):
        changed = account.engine.apply_retention(account.call(sub.customer), sub, OFFER)
        assert changed.subscription["discounts"]
    coupon = account.sdk.v1.coupons.retrieve("porch_retention_20_off_3m")
    assert (coupon.percent_off, coupon.duration, coupon.duration_in_months) == (20, "repeating", 3)
    discounts = account.now_in_stripe(second).data["discounts"]
    assert len(discounts) == 1


def test_preview_shows_stripes_prorations(account: Account) -> None:
    sub = account.subscription()
    preview = account.engine.preview_change(account.call(sub.customer), sub, account.team, 2, "always_invoice")
    assert preview.currency == "usd"
    prorations = [line for line in preview.lines if line["proration"]]
    assert prorations and {line["price"] for line in prorations} <= {account.basic.id, account.team.id}
    # Invoiced now: the new plan's unused time less the old plan's, for a period that has just begun.
    assert 0 < preview.amount_due <= 2 * 2500


def test_change_invoiced_now_returns_the_paid_invoice(account: Account) -> None:
    sub = account.subscription()
    changed = account.engine.change(account.call(sub.customer), sub, account.team, 2, "always_invoice")
    now = account.now_in_stripe(sub)
    assert (now.items[0].price.id, now.items[0].quantity) == (account.team.id, 2)
    assert changed.invoice is not None and changed.invoice["status"] == "paid"


def test_quantity_change_with_prorations_for_the_next_invoice(account: Account) -> None:
    sub = account.subscription()
    changed = account.engine.change(account.call(sub.customer), sub, account.basic, 3, "create_prorations")
    assert account.now_in_stripe(sub).items[0].quantity == 3
    assert changed.invoice is None
    pending = account.sdk.v1.invoice_items.list({"customer": sub.customer, "pending": True})
    assert any(item.proration for item in pending.data)


def test_scheduled_change_and_dropping_it(account: Account) -> None:
    sub = account.subscription()
    assert sub.current_period_end is not None
    changed = account.engine.schedule_change(account.call(sub.customer), sub, account.team, 2, sub.current_period_end)
    scheduled = Subscription.of(changed.subscription)
    assert scheduled.schedule and account.now_in_stripe(sub).items[0].price.id == account.basic.id
    schedule = account.sdk.v1.subscription_schedules.retrieve(str(scheduled.schedule))
    assert [phase["items"][0]["price"] for phase in schedule.phases] == [account.basic.id, account.team.id]
    assert schedule.phases[0]["end_date"] == sub.current_period_end and schedule.end_behavior == "release"
    dropped = account.engine.drop_scheduled_change(account.call(sub.customer), scheduled)
    assert dropped.subscription["schedule"] is None
    assert account.sdk.v1.subscription_schedules.retrieve(str(scheduled.schedule)).status == "released"


def test_paying_with_the_default_card(account: Account) -> None:
    customer = account.customer()
    payment = account.engine.pay_invoice(account.call(customer), account.open_invoice(customer))
    assert payment.url is None and payment.invoice is not None and payment.invoice["status"] == "paid"


@pytest.mark.parametrize("card", [None, "pm_card_chargeCustomerFail", "pm_card_authenticationRequired"])
def test_paying_on_stripes_page(account: Account, card: str | None) -> None:
    # No default card, a card that is declined, or one whose bank wants the customer to authenticate.
    customer = account.customer(card)
    invoice = account.open_invoice(customer)
    payment = account.engine.pay_invoice(account.call(customer), invoice)
    assert payment.invoice is None and payment.url == invoice.hosted_invoice_url
    assert str(payment.url).startswith("https://invoice.stripe.com/")
