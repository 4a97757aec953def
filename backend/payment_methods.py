"""Customers choose their default payment method, remove one, or add one (features.payment_method_update).

Porch never sees card numbers: a card is added on a page of the engine's (the merchant's add_url,
or Stripe's), from which the customer comes back to the portal."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from backend import availability, changes, event_types, events, portal
from backend.billing_types import Customer, PaymentMethod
from backend.config import Config
from backend.context import Context
from backend.errors import APIError
from backend.guards import Body
from backend.openapi import OBJECT, returns
from backend.pipeline import Endpoint
from backend.store import billing

RETURN_PATH = "/portal/?payment_method=added"


class Added(Body):
    session: str = Field(min_length=1, max_length=255,
                         description="What the add-card page handed back on the customer's return.")


def _customer(ctx: Context) -> Customer:
    return Customer.of(billing.get(ctx.conn, "customers", ctx.customer) or {"id": ctx.customer})


def _owned(ctx: Context, method_id: str) -> PaymentMethod:
    found = billing.owned(ctx.conn, "payment_methods", ctx.customer, method_id)
    if found is None:
        raise APIError(404, "not_found", "No such payment method.")
    return PaymentMethod.of(found)


def listed(ctx: Context, customer: Customer) -> list[dict[str, Any]]:
    """The customer's payment methods as the portal shows them, each with its actions."""
    return portal.payment_methods(ctx.config, customer.data, billing.payment_methods_of(ctx.conn, ctx.customer),
                                  billing.subscriptions_of(ctx.conn, ctx.customer))


def make_default(ctx: Context, method_id: str) -> Customer:
    method = _owned(ctx, method_id)
    customer = _customer(ctx)
    if refused := availability.make_default_refusal(ctx.config, method.id, customer.data):
        raise refused
    after = ctx.engine.set_default_payment_method(ctx.call, customer, method)
    changes.customer(ctx, after)
    return Customer.of(after)


def remove(ctx: Context, method_id: str) -> None:
    """Detach a payment method; the default moves to another of the customer's, and a subscription that
    named this one falls back to the customer's default, as Stripe's do."""
    method = _owned(ctx, method_id)
    methods = billing.payment_methods_of(ctx.conn, ctx.customer)
    subscriptions = billing.subscriptions_of(ctx.conn, ctx.customer)
    if refused := availability.remove_refusal(ctx.config, method.id, methods, subscriptions):
        raise refused
    remaining = [m for m in methods if m["id"] != method.id]
    ctx.engine.detach_payment_method(ctx.call, method)
    # Detached as Stripe does it: the method stays, belonging to nobody.
    billing.upsert(ctx.conn, "payment_methods", [method.data | {"customer": None}])
    event_types.payment_method_detached(ctx.conn, ctx.config.webhooks, ctx.actor, method.data)
    customer = _customer(ctx)
    if customer.default_payment_method == method.id:
        if remaining:
            changes.customer(ctx, ctx.engine.set_default_payment_method(ctx.call, customer,
                                                                       PaymentMethod.of(remaining[0])))
        else:
            settings = dict(customer.data.get("invoice_settings") or {}) | {"default_payment_method": None}
            changes.customer(ctx, customer.data | {"invoice_settings": settings})
    for sub in subscriptions:
        if billing.ref(sub.get("default_payment_method")) == method.id:
            changes.subscription(ctx, sub | {"default_payment_method": None})


def add_url(ctx: Context, config: Config) -> str:
    """Where the customer adds a payment method; they come back to the portal.

    The return address comes from the config, never from the request: a Host header of the
    attacker's choosing would otherwise be sent to the add-card page to lead the customer to their site."""
    if refused := availability.add_refusal(config):
        raise refused
    assert config.login_link.url is not None  # add_refusal found it
    return_url = config.login_link.url.rstrip("/") + RETURN_PATH
    return ctx.engine.add_payment_method_url(ctx.call, _customer(ctx), return_url)


def added(ctx: Context, session: str) -> tuple[Customer, list[str]]:
    """The customer is back from the add-card page: store what it added at once, so the page shows it,
    with Porch's event for each method attached and for the customer whose default it became. Returns
    the customer and the ids of the methods added (none when the engine learns of them later)."""
    found = ctx.engine.payment_method_added(ctx.call, _customer(ctx), session)
    ids = []
    for obj in found:
        if obj.get("object") == "customer":
            changes.customer(ctx, obj)
            continue
        billing.upsert(ctx.conn, "payment_methods", [obj])
        ids.append(obj["id"])
        # Once per method, however often the customer comes back with its session. Whether it was
        # stored before cannot tell: Stripe's own payment_method.attached often stores it first.
        if not events.done(ctx.conn, ctx.customer, "payment_method.attached", obj["id"]):
            event_types.payment_method_attached(ctx.conn, ctx.config.webhooks, ctx.actor, obj)
    return _customer(ctx), ids


def _added(ctx: Context) -> dict[str, Any]:
    # The page names the new method and puts focus on it: among several, it cannot tell which is new.
    customer, ids = added(ctx, ctx.body.session)
    return {"payment_methods": listed(ctx, customer), "added": ids}


def _made_default(ctx: Context) -> dict[str, Any]:
    customer = make_default(ctx, ctx.params["id"])
    return {"customer": portal.pick("customer", customer.data), "payment_methods": listed(ctx, customer)}


METHODS = {"type": "array", "items": OBJECT}
ENDPOINTS = [
    Endpoint("post", "/api/payment_methods/add", "Where to send the customer to add a payment method",
             lambda ctx: {"url": add_url(ctx, ctx.config)}, feature=availability.payment_method_feature, body=Body,
             answer=returns(url={"type": "string"})),
    Endpoint("post", "/api/payment_methods/added",
             "On the customer's return from adding a payment method: the methods as they now are, and the "
             "ids of those added", _added, feature=availability.payment_method_feature, body=Added, idempotent=True,
             answer=returns(payment_methods=METHODS, added={"type": "array", "items": {"type": "string"}})),
    Endpoint("post", "/api/payment_methods/{id}/default", "Make a payment method the default", _made_default,
             feature=availability.payment_method_feature, body=Body, idempotent=True,
             answer=returns(customer=OBJECT, payment_methods=METHODS), errors=(404, 409)),
    Endpoint("delete", "/api/payment_methods/{id}", "Remove a payment method from the customer",
             lambda ctx: remove(ctx, ctx.params["id"]), feature=availability.payment_method_feature, body=Body,
             idempotent=True, status=204, answer=None, errors=(404, 409)),
]
