"""Customers cancel, resume and take the offer for staying (features.subscription_cancel).

The business functions check the rules (config, availability, the customer's input), ask the
engine to make the change, and store its answer with the event (backend/changes.py); they run in
the transaction the pipeline opened for the request, and raise APIError to refuse."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import Field

from backend import availability, changes, portal, retention
from backend.billing_types import Subscription
from backend.config import Config
from backend.context import Context
from backend.errors import APIError
from backend.guards import Body
from backend.openapi import OBJECT, returns
from backend.pipeline import Endpoint
from backend.store import billing


class CancelRequest(Body):
    reason: str | None = Field(None, max_length=40,
                               description="One of features.subscription_cancel.cancellation_reason.options.")
    comment: str | None = Field(None, max_length=500)


@dataclass(frozen=True)
class Done:
    """A subscription as a change left it, and the credit it put on the customer's balance (0: none)."""

    subscription: Subscription
    credit: int = 0


def find(ctx: Context, subscription_id: str) -> Subscription:
    found = billing.owned(ctx.conn, "subscriptions", ctx.customer, subscription_id)
    if found is None:
        raise APIError(404, "not_found", "No such subscription.")
    return Subscription.of(found)


def expanded(conn: sa.Connection, sub: dict[str, Any]) -> dict[str, Any]:
    """A copy of the subscription with each item's price and product read from the store, as the portal shows them."""
    found = copy.deepcopy(sub)
    billing.expand_prices(conn, [found])
    return found


def view_of(conn: sa.Connection, config: Config, sub: dict[str, Any]) -> dict[str, Any]:
    """The subscription as the portal shows it, with the actions the server accepts for it now."""
    found = expanded(conn, sub)
    return portal.subscription(found) | {
        "actions": availability.subscription_actions(config, found, retention.taken(conn, sub["id"]))}


def store(ctx: Context, changed: Any, pending: list[dict[str, Any]] | None = None) -> Done:
    """Store an engine's Changed: the subscription, then the customer whose balance it credited."""
    changes.subscription(ctx, changed.subscription, pending)
    credit = changes.customer(ctx, changed.customer) if changed.customer is not None else 0
    return Done(Subscription.of(changed.subscription), credit)


def cancel(ctx: Context, subscription_id: str, reason: str | None, comment: str | None) -> Done:
    """Cancel now or at the period's end, as configured; a cancellation now may credit the unused time."""
    feature = ctx.config.features.subscription_cancel
    reasons = feature.cancellation_reason
    comment = (comment or "").strip() or None
    if not reasons.enabled and (reason is not None or comment is not None):
        raise APIError(400, "invalid_request", "This portal does not ask why a subscription is canceled.",
                       param="reason" if reason is not None else "comment")
    if reason is not None and reason not in reasons.options:
        raise APIError(400, "invalid_request", "Choose one of: " + ", ".join(reasons.options) + ".", param="reason")
    sub = find(ctx, subscription_id)
    if refused := availability.cancel_refusal(ctx.config, sub.data):
        raise refused
    at_once = availability.ends_at_once(ctx.config, sub.data)
    changed = ctx.engine.cancel(ctx.call, sub, at_period_end=not at_once,
                                prorate=at_once and feature.proration_behavior == "create_prorations",
                                details={"feedback": reason, "comment": comment})
    return store(ctx, changed)


def resume(ctx: Context, subscription_id: str) -> Done:
    """Undo a cancellation at the period's end. Allowed whatever the config says: keeping a customer is never off."""
    sub = find(ctx, subscription_id)
    if refused := availability.resume_refusal(sub.data):
        raise refused
    return store(ctx, ctx.engine.resume(ctx.call, sub))


def take_retention(ctx: Context, subscription_id: str) -> Done:
    """The customer takes the discount offered before the last step of a cancellation, and stays."""
    sub = find(ctx, subscription_id)
    if refused := availability.retention_refusal(ctx.config, sub.data, retention.taken(ctx.conn, sub.id)):
        raise refused
    changed = ctx.engine.apply_retention(ctx.call, sub, ctx.config.features.subscription_cancel.retention)
    discounts = changed.subscription.get("discounts") or [None]
    retention.record(ctx.conn, ctx.customer, sub.id, discounts[0], ctx.actor.now)
    return store(ctx, changed)


# The endpoints: the pipeline has checked the session, the feature and the body.

def answer(ctx: Context, done: Done) -> dict[str, Any]:
    """The subscription as the portal shows it, and the credit, when there is one."""
    view = view_of(ctx.conn, ctx.config, done.subscription.data)
    if done.credit <= 0:
        return {"subscription": view}
    price = (view["items"]["data"] or [{"price": {}}])[0]["price"]
    currency = str(done.subscription.data.get("currency") or price.get("currency") or "").lower()
    return {"subscription": view, "credit": {"amount": done.credit, "currency": currency}}


CREDIT = {"type": "object", "required": ["amount", "currency"],
          "properties": {"amount": {"type": "integer", "minimum": 1}, "currency": {"type": "string"}}}

ENDPOINTS = [
    Endpoint("post", "/api/subscriptions/{id}/cancel", "Cancel a subscription, now or at the period's end as configured",
             lambda ctx: answer(ctx, cancel(ctx, ctx.params["id"], ctx.body.reason, ctx.body.comment)),
             feature=availability.cancel_feature, body=CancelRequest, idempotent=True,
             answer=returns(subscription=OBJECT, credit=CREDIT), errors=(404, 409, 422)),
    Endpoint("post", "/api/subscriptions/{id}/resume", "Undo a cancellation at the period's end",
             lambda ctx: answer(ctx, resume(ctx, ctx.params["id"])), body=Body, idempotent=True,
             answer=returns(subscription=OBJECT), errors=(404, 409, 422)),
    Endpoint("post", "/api/subscriptions/{id}/retention", "Accept the discount offered for staying",
             lambda ctx: answer(ctx, take_retention(ctx, ctx.params["id"])),
             feature=availability.retention_feature, body=Body, idempotent=True,
             answer=returns(subscription=OBJECT), errors=(404, 409, 422)),
]
