"""Storing what an engine answered: the object as it now is, then Porch's event about it (and so its
audit entry and webhook deliveries), in the business layer's transaction. What changed is read
from the stored copy before and the engine's answer after: the event's previous_attributes."""

from __future__ import annotations

import copy
from typing import Any

from backend import event_types, portal
from backend.context import Context
from backend.store import billing


def previous(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The old values of the top-level fields that differ, as Stripe's previous_attributes."""
    return {key: before.get(key) for key in {**before, **after} if before.get(key) != after.get(key)}


def customer(ctx: Context, after: dict[str, Any]) -> int:
    """Store the customer the engine answered with, with its customer.updated event. Returns what it gained
    as credit on its balance (Stripe's convention: a negative balance is owed to the customer)."""
    before = billing.get(ctx.conn, "customers", after["id"]) or {}
    billing.upsert(ctx.conn, "customers", [after])
    event_types.customer_updated(ctx.conn, ctx.config.webhooks, ctx.actor, after, previous(before, after))
    return int(before.get("balance") or 0) - int(after.get("balance") or 0)


def subscription(ctx: Context, after: dict[str, Any], pending: list[dict[str, Any]] | None = None) -> None:
    """Store the subscription the engine answered with, with its event: deleted when it has ended now,
    else updated (its items' previous value as the portal shows them, prices expanded)."""
    before = billing.get(ctx.conn, "subscriptions", after["id"]) or {}
    billing.upsert(ctx.conn, "subscriptions", [after])
    if after.get("status") == "canceled" and before.get("status") != "canceled":
        event_types.subscription_deleted(ctx.conn, ctx.config.webhooks, ctx.actor, after)
        return
    changed = previous(before, after)
    if before and not changed and not pending:
        return  # read again after a payment, say, and found as it was: nothing happened to tell of
    if "items" in changed:
        shown = copy.deepcopy(before)
        billing.expand_prices(ctx.conn, [shown])
        changed["items"] = portal.subscription(shown)["items"]
    event_types.subscription_updated(ctx.conn, ctx.config.webhooks, ctx.actor, after, changed, pending)


def invoice(ctx: Context, created: dict[str, Any]) -> None:
    billing.upsert(ctx.conn, "invoices", [created])
    event_types.invoice_created(ctx.conn, ctx.config.webhooks, ctx.actor, created)
