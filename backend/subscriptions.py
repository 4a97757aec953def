"""Customers cancel, resume and change their subscriptions (features.subscription_cancel, subscription_update).

Every change is applied through idempotency.apply: it refuses before it writes, writes the
subscription, records a Stripe-typed event (and so the audit entry and webhook deliveries),
and answers with the subscription as the portal shows it."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from backend import (
    auth,
    availability,
    credit,
    event_types,
    idempotency,
    portal,
    proration,
    retention,
)
from backend.config import Config
from backend.credit import period_of
from backend.errors import APIError
from backend.events import Actor
from backend.guards import Body, json_body
from backend.openapi import OBJECT, Operation, returns
from backend.store import billing

NO_DETAILS = {"reason": None, "feedback": None, "comment": None}


class CancelRequest(Body):
    reason: str | None = Field(None, max_length=40,
                               description="One of features.subscription_cancel.cancellation_reason.options.")
    comment: str | None = Field(None, max_length=500)


def ref(value: Any) -> Any:
    return value.get("id") if isinstance(value, dict) else value


def set_fields(obj: dict[str, Any], **values: Any) -> dict[str, Any]:
    """Change fields of a Stripe object; returns the old values of those that changed (previous_attributes)."""
    previous = {key: obj.get(key) for key, value in values.items() if obj.get(key) != value}
    obj.update(values)
    return previous


def find(conn: sa.Connection, customer: str, subscription_id: str) -> dict[str, Any] | APIError:
    found = billing.owned(conn, "subscriptions", customer, subscription_id)
    return APIError(404, "not_found", "No such subscription.") if found is None else found


def items_of(sub: dict[str, Any]) -> list[dict[str, Any]]:
    return list((sub.get("items") or {}).get("data", []))


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


def percent_off_at(sub: dict[str, Any], start: int) -> int:
    """The discount the current period was billed with: the first percent-off one that had begun by the
    period's start and had not ended (a discount known by id only says nothing of its amount)."""
    for discount in sub.get("discounts") or []:
        if not isinstance(discount, dict):
            continue
        percent = (discount.get("coupon") or {}).get("percent_off")
        begun = (discount.get("start") or 0) <= start
        running = discount.get("end") is None or discount["end"] > start
        if percent and begun and running:
            return int(percent)
    return 0


def price_amount(price: dict[str, Any], quantity: int) -> int:
    return int(price.get("unit_amount") or 0) * quantity


def quantity_of(item: dict[str, Any]) -> int:
    quantity = item.get("quantity")
    return 1 if quantity is None else int(quantity)


def day_text(moment: int) -> str:
    at = datetime.fromtimestamp(moment, UTC)
    return f"{at.day} {at:%b %Y}"


def currency_of(sub: dict[str, Any], price: dict[str, Any]) -> str:
    return str(sub.get("currency") or price.get("currency") or "").lower()


def credit_balance(conn: sa.Connection, config: Config, actor: Actor, sub: dict[str, Any], amount: int,
                   currency: str) -> dict[str, Any]:
    """Put `amount` on the customer's balance as credit for the rest of the subscription's period (Stripe's
    convention: a negative balance is owed to them), and note it, so that the period's credits never add up
    to more than was paid for it."""
    credit.record(conn, sub, actor.now, -amount, credit.BALANCE)
    customer = billing.get(conn, "customers", actor.customer) or {"id": actor.customer, "object": "customer"}
    previous = set_fields(customer, balance=int(customer.get("balance") or 0) - amount)
    billing.upsert(conn, "customers", [customer])
    event_types.customer_updated(conn, config.webhooks, actor, customer, previous)
    return {"amount": amount, "currency": currency}


# Cancel, resume, and the offer made before a cancellation.

async def cancel(request: Request) -> Response:
    customer = await auth.signed_in(request)
    config: Config = request.app.state.config
    body = await json_body(request, CancelRequest)
    feature = config.features.subscription_cancel
    if refused := availability.cancel_feature(config):
        raise refused
    reasons = feature.cancellation_reason
    comment = (body.comment or "").strip() or None
    if not reasons.enabled and (body.reason is not None or comment is not None):
        raise APIError(400, "invalid_request", "This portal does not ask why a subscription is canceled.",
                       param="reason" if body.reason is not None else "comment")
    if body.reason is not None and body.reason not in reasons.options:
        raise APIError(400, "invalid_request", "Choose one of: " + ", ".join(reasons.options) + ".", param="reason")
    subscription_id = request.path_params["id"]

    def change(conn: sa.Connection, actor: Actor) -> tuple[int, dict[str, Any]] | APIError:
        sub = find(conn, customer, subscription_id)
        if isinstance(sub, APIError):
            return sub
        if refused := availability.cancel_refusal(config, sub):
            return refused
        details = {"reason": "cancellation_requested", "feedback": body.reason, "comment": comment}
        if not availability.ends_at_once(config, sub):
            previous = set_fields(sub, cancel_at_period_end=True, cancel_at=period_of(sub)[1], cancellation_details=details)
            billing.upsert(conn, "subscriptions", [sub])
            event_types.subscription_updated(conn, config.webhooks, actor, sub, previous)
            return 200, {"subscription": view_of(conn, config, sub)}
        refund = credit.creditable(conn, sub, actor.now) if feature.proration_behavior == "create_prorations" else 0
        set_fields(sub, status="canceled", canceled_at=actor.now, ended_at=actor.now, cancel_at_period_end=False,
             cancel_at=None, cancellation_details=details)
        billing.upsert(conn, "subscriptions", [sub])
        event_types.subscription_deleted(conn, config.webhooks, actor, sub)
        view = view_of(conn, config, sub)
        answer: dict[str, Any] = {"subscription": view}
        if refund > 0:
            price = (view["items"]["data"] or [{"price": {}}])[0]["price"]
            answer["credit"] = credit_balance(conn, config, actor, sub, refund, currency_of(sub, price))
        return 200, answer

    return await idempotency.apply(request, customer, change, body)


async def resume(request: Request) -> Response:
    """Undo a cancellation at the period's end. Allowed whatever the config says: keeping a customer is never off."""
    customer = await auth.signed_in(request)
    config: Config = request.app.state.config
    body = await json_body(request, Body)
    subscription_id = request.path_params["id"]

    def change(conn: sa.Connection, actor: Actor) -> tuple[int, dict[str, Any]] | APIError:
        sub = find(conn, customer, subscription_id)
        if isinstance(sub, APIError):
            return sub
        if refused := availability.resume_refusal(sub):
            return refused
        previous = set_fields(sub, cancel_at_period_end=False, cancel_at=None, cancellation_details=dict(NO_DETAILS))
        billing.upsert(conn, "subscriptions", [sub])
        event_types.subscription_updated(conn, config.webhooks, actor, sub, previous)
        return 200, {"subscription": view_of(conn, config, sub)}

    return await idempotency.apply(request, customer, change, body)


async def retention_offer(request: Request) -> Response:
    """The customer takes the discount offered before the last step of a cancellation, and stays."""
    customer = await auth.signed_in(request)
    config: Config = request.app.state.config
    body = await json_body(request, Body)
    feature = config.features.subscription_cancel
    offer = feature.retention
    if refused := availability.retention_feature(config):
        raise refused
    subscription_id = request.path_params["id"]

    def change(conn: sa.Connection, actor: Actor) -> tuple[int, dict[str, Any]] | APIError:
        sub = find(conn, customer, subscription_id)
        if isinstance(sub, APIError):
            return sub
        if refused := availability.retention_refusal(config, sub, retention.taken(conn, subscription_id)):
            return refused
        discount = {
            "object": "discount",
            "coupon": {"object": "coupon", "percent_off": offer.percent_off, "duration": "repeating",
                       "duration_in_months": offer.duration_in_months},
            "start": actor.now,
            # Calendar months, as Stripe counts a repeating coupon's duration.
            "end": proration.add_months(actor.now, offer.duration_in_months),
        }
        retention.record(conn, customer, subscription_id, discount, actor.now)
        previous = set_fields(sub, discounts=[discount])
        billing.upsert(conn, "subscriptions", [sub])
        event_types.subscription_updated(conn, config.webhooks, actor, sub, previous)
        return 200, {"subscription": view_of(conn, config, sub)}

    return await idempotency.apply(request, customer, change, body)


CREDIT = {"type": "object", "required": ["amount", "currency"],
          "properties": {"amount": {"type": "integer", "minimum": 1}, "currency": {"type": "string"}}}

OPERATIONS = [
    Operation("post", "/api/subscriptions/{id}/cancel", cancel,
              "Cancel a subscription, now or at the period's end as configured", CancelRequest,
              answer=returns(subscription=OBJECT, credit=CREDIT), errors=(403, 404, 409, 422)),
    Operation("post", "/api/subscriptions/{id}/resume", resume, "Undo a cancellation at the period's end", Body,
              answer=returns(subscription=OBJECT), errors=(404, 409, 422)),
    Operation("post", "/api/subscriptions/{id}/retention", retention_offer,
              "Accept the discount offered for staying", Body,
              answer=returns(subscription=OBJECT), errors=(403, 404, 409, 422)),
]
