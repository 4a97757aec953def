"""Where a customer's change is carried out: the engine named by config.yaml's billing.engine.

The business layer decides whether a change is allowed (config, availability, the customer's input)
and then asks the engine to make it. The engine answers with the objects as they now are, in the
store's one shape; the business layer stores them, with the audit entry and Porch's own event, in
the same transaction. An engine refuses by raising APIError, and then nothing is stored.

- local (backend.local_engine): Porch's store is the truth; the engine changes copies of the objects.
- stripe (backend.stripe_engine): the merchant's Stripe account is the truth; every change is a
  Stripe API call made first, with an idempotency key derived from the portal request's, and the
  objects Stripe answers with are what is stored. Stripe unreachable or failing: 503, nothing stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa

from backend.billing_types import Customer, Invoice, PaymentMethod, Price, Subscription
from backend.config import RetentionOffer
from backend.events import Actor


@dataclass(frozen=True)
class Call:
    """One portal request's change: who asks, on which connection, and the base of its idempotency keys
    (derived from the request's Idempotency-Key, so that a repeated request repeats the same Stripe calls)."""

    conn: sa.Connection
    actor: Actor
    key: str
    locale: str = "en"


@dataclass(frozen=True)
class Changed:
    """A subscription change: the subscription as it now is, and an invoice when one was made now."""

    subscription: dict[str, Any]
    invoice: dict[str, Any] | None = None
    customer: dict[str, Any] | None = None


@dataclass(frozen=True)
class Preview:
    """What a change of plan costs now, as the billing system itself computes it."""

    amount_due: int
    currency: str
    lines: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Payment:
    """The outcome of paying an invoice: paid now (`invoice`), or a page where the customer pays (`url`).
    Paid now, the invoice's subscription as it is after the payment, when the engine read it: a past_due
    one may be active again, and the page shows that at once."""

    invoice: dict[str, Any] | None = None
    url: str | None = None
    subscription: dict[str, Any] | None = None


class Engine(Protocol):
    name: str

    # Customers and payment methods.
    def update_customer(self, call: Call, customer: Customer, changes: dict[str, Any]) -> dict[str, Any]:
        """Set name, phone, address, shipping (already checked and normalised), and `tax_ids` (the whole
        new list: kept entries carry their id, new ones have none). Returns the customer."""
        ...

    def set_default_payment_method(self, call: Call, customer: Customer, method: PaymentMethod) -> dict[str, Any]:
        """Returns the customer, whose invoice_settings.default_payment_method is now `method`."""
        ...

    def detach_payment_method(self, call: Call, method: PaymentMethod) -> None: ...

    def add_payment_method_url(self, call: Call, customer: Customer, return_url: str) -> str:
        """Where the customer goes to add a payment method; they come back to `return_url`."""
        ...

    def payment_method_added(self, call: Call, customer: Customer, session: str) -> list[dict[str, Any]]:
        """On the customer's return: the payment methods the session `session` added, and the customer
        when adding changed it (a first card becomes the default), read from the billing system at once,
        so the page shows them without waiting for a webhook."""
        ...

    # Subscriptions.
    def cancel(self, call: Call, sub: Subscription, *, at_period_end: bool, prorate: bool,
               details: dict[str, Any]) -> Changed:
        """`details` is Stripe's cancellation_details: {"feedback", "comment"}."""
        ...

    def resume(self, call: Call, sub: Subscription) -> Changed: ...

    def apply_retention(self, call: Call, sub: Subscription, offer: RetentionOffer) -> Changed: ...

    def preview_change(self, call: Call, sub: Subscription, price: Price, quantity: int,
                       proration_behavior: str) -> Preview: ...

    def change(self, call: Call, sub: Subscription, price: Price, quantity: int, proration_behavior: str) -> Changed: ...

    def schedule_change(self, call: Call, sub: Subscription, price: Price, quantity: int, at: int) -> Changed:
        """The change takes effect at `at` (the period's end): a subscription schedule in Stripe."""
        ...

    def drop_scheduled_change(self, call: Call, sub: Subscription) -> Changed: ...

    # Invoices.
    def pay_invoice(self, call: Call, invoice: Invoice) -> Payment: ...
