"""The discount offered before the last step of a cancellation (features.subscription_cancel.retention):
taken once per subscription, and never on top of another discount.

"Once" is kept in Porch's own table, not read from the subscription: an import rewrites the
subscription and may drop its discount, but leaves the record of acceptance alone. Any discount
already on the subscription (its `discounts`, ids or expanded objects, into which the reader moved
Stripe's older `discount`) means the offer is not made."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from backend import jsonio
from backend.config import Config
from backend.store import tables


def has_discount(sub: dict[str, Any]) -> bool:
    return bool(sub.get("discounts"))


def open_to(config: Config, sub: dict[str, Any], taken: bool) -> bool:
    """Whether this subscription may be offered the discount: the one rule of the server and the page."""
    feature = config.features.subscription_cancel
    return feature.enabled and feature.retention.enabled and not taken and not has_discount(sub)


def taken(conn: sa.Connection, subscription_id: str) -> bool:
    table = tables.retention_offers
    return conn.execute(sa.select(table.c.subscription).where(table.c.subscription == subscription_id)).first() is not None


def record(conn: sa.Connection, customer: str, subscription_id: str, discount: dict[str, Any], now: int) -> None:
    conn.execute(tables.retention_offers.insert(), {
        "subscription": subscription_id, "customer": customer, "created": now,
        "data": jsonio.dumps({"subscription": subscription_id, "discount": discount}).decode(),
    })
