"""The events Porch sends: one constructor and one JSON Schema per type, so that an event's
`data.object` has one shape whatever action made it. Objects are the portal's views (never more
than a customer's browser sees) with every allowlisted field present, null when unknown, plus
whose object it is. The schemas are served in the OpenAPI document's `webhooks`."""

from __future__ import annotations

import copy
from typing import Any

import sqlalchemy as sa

from backend import events, portal
from backend.config import Webhook
from backend.events import Actor
from backend.store import billing


def _full(kind: str, shown: dict[str, Any]) -> dict[str, Any]:
    """Every field of the allowlist, so that a field a stored object lacks is null rather than missing."""
    return {key: None for key in portal.FIELDS[kind]} | shown


def _expanded(value: Any) -> dict[str, Any]:
    """An object the store could not expand (its price or product is not stored) still has its shape: its id."""
    return value if isinstance(value, dict) else {"id": value}


def customer_object(customer: dict[str, Any]) -> dict[str, Any]:
    return _full("customer", portal.pick("customer", customer, lines=False))


def subscription_object(conn: sa.Connection, sub: dict[str, Any], customer: str,
                        pending_invoice_items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A stored subscription as its events carry it: prices and products are read from the store,
    whether the stored item names its price or holds it."""
    found = copy.deepcopy(sub)
    billing.expand_prices(conn, [found])
    shown = _full("subscription", portal.subscription(found))
    items = []
    for item in shown["items"]["data"]:
        price = _expanded(item.get("price"))
        price = _full("price", price) | {"product": _full("product", _expanded(price.get("product")))}
        items.append(_full("item", item) | {"price": price})
    # The merchant's systems learn whose subscription it is, which the portal itself never needs to show.
    return shown | {"items": {"object": "list", "data": items}, "customer": customer,
                    "pending_invoice_items": pending_invoice_items or []}


def customer_updated(conn: sa.Connection, webhooks: list[Webhook], actor: Actor, customer: dict[str, Any],
                     previous: dict[str, Any]) -> str:
    return events.record(conn, webhooks, actor, "customer.updated", customer_object(customer), previous)


def subscription_updated(conn: sa.Connection, webhooks: list[Webhook], actor: Actor, sub: dict[str, Any],
                         previous: dict[str, Any], pending_invoice_items: list[dict[str, Any]] | None = None) -> str:
    """`sub` as stored; `pending_invoice_items`: the proration lines the change put on the next invoice."""
    obj = subscription_object(conn, sub, actor.customer, pending_invoice_items)
    return events.record(conn, webhooks, actor, "customer.subscription.updated", obj, previous)


def subscription_deleted(conn: sa.Connection, webhooks: list[Webhook], actor: Actor, sub: dict[str, Any]) -> str:
    obj = subscription_object(conn, sub, actor.customer)
    return events.record(conn, webhooks, actor, "customer.subscription.deleted", obj)


def _payment_method(method: dict[str, Any], customer: str | None) -> dict[str, Any]:
    return _full("payment_method", portal.pick("payment_method", method, lines=False)) | {"customer": customer}


def payment_method_attached(conn: sa.Connection, webhooks: list[Webhook], actor: Actor,
                            method: dict[str, Any]) -> str:
    """Attached as Stripe says it: the method and whose it is now, without previous_attributes."""
    return events.record(conn, webhooks, actor, "payment_method.attached", _payment_method(method, actor.customer))


def payment_method_detached(conn: sa.Connection, webhooks: list[Webhook], actor: Actor,
                            method: dict[str, Any]) -> str:
    """Detached as Stripe does it: the method belongs to nobody now; the event says whose it was."""
    return events.record(conn, webhooks, actor, "payment_method.detached", _payment_method(method, None),
                         {"customer": actor.customer})


def _invoice(invoice: dict[str, Any], customer: str) -> dict[str, Any]:
    return _full("invoice", portal.invoice_object(invoice)) | {"customer": customer}


def invoice_created(conn: sa.Connection, webhooks: list[Webhook], actor: Actor, invoice: dict[str, Any]) -> str:
    return events.record(conn, webhooks, actor, "invoice.created", _invoice(invoice, actor.customer))


def invoice_paid(conn: sa.Connection, webhooks: list[Webhook], actor: Actor, invoice: dict[str, Any]) -> str:
    """Paid as Stripe says it: the invoice as it now is, without previous_attributes."""
    return events.record(conn, webhooks, actor, "invoice.paid", _invoice(invoice, actor.customer))


# The schemas. Each object lists every field its constructor sends and refuses any other.

STRING = {"type": "string"}
TEXT = {"type": ["string", "null"]}
INTEGER = {"type": "integer"}
MOMENT = {"type": ["integer", "null"], "description": "Unix seconds"}
OBJECT_OR_NULL = {"type": ["object", "null"]}


def _closed(kind: str, typed: dict[str, Any], **more: dict[str, Any]) -> dict[str, Any]:
    """An object with exactly the fields of a portal allowlist, typed where a receiver relies on the type,
    and `more`."""
    fields = portal.FIELDS[kind]
    properties = {key: typed.get(key, {}) for key in fields} | more
    return {"type": "object", "required": list(properties), "properties": properties, "additionalProperties": False}


def _const(value: str) -> dict[str, Any]:
    return {"type": "string", "const": value}


PRODUCT = _closed("product", {"id": STRING, "object": _const("product"), "name": TEXT, "description": TEXT})
PRICE = _closed("price", {"id": STRING, "object": _const("price"), "currency": TEXT, "unit_amount": {
    "type": ["integer", "null"]}, "nickname": TEXT, "recurring": OBJECT_OR_NULL, "product": PRODUCT, "type": TEXT})
ITEM = _closed("item", {"id": STRING, "quantity": {"type": ["integer", "null"]}, "price": PRICE,
                        "current_period_start": MOMENT, "current_period_end": MOMENT})
SUBSCRIPTION = _closed(
    "subscription",
    {"id": STRING, "object": _const("subscription"), "status": STRING, "cancel_at_period_end": {"type": "boolean"},
     "cancel_at": MOMENT, "canceled_at": MOMENT, "ended_at": MOMENT, "current_period_start": MOMENT,
     "current_period_end": MOMENT, "trial_start": MOMENT, "trial_end": MOMENT, "start_date": MOMENT, "created": MOMENT,
     "currency": TEXT, "default_payment_method": TEXT, "cancellation_details": OBJECT_OR_NULL,
     "discounts": {"type": "array", "items": {"type": ["object", "string"]}}, "schedule": OBJECT_OR_NULL,
     "items": {"type": "object", "required": ["object", "data"], "properties": {
         "object": _const("list"), "data": {"type": "array", "items": ITEM}}}},
    customer=STRING,
    pending_invoice_items={"type": "array", "items": {"type": "object"},
                           "description": "Proration lines this change put on the next invoice, as its preview "
                                          "showed them; empty when it put none."},
)
CUSTOMER = _closed("customer", {
    "id": STRING, "object": _const("customer"), "name": TEXT, "email": TEXT, "phone": TEXT,
    "address": OBJECT_OR_NULL, "shipping": OBJECT_OR_NULL, "created": MOMENT, "balance": {"type": ["integer", "null"]},
    "currency": TEXT, "tax_ids": OBJECT_OR_NULL,
    "invoice_settings": {"type": ["object", "null"], "properties": {"default_payment_method": TEXT}},
})
METHOD_FIELDS = {"id": STRING, "object": _const("payment_method"), "type": STRING, "created": MOMENT}
PAYMENT_METHOD = _closed("payment_method", METHOD_FIELDS,
                         customer={"type": "null", "description": "Whose it was is in previous_attributes."})
ATTACHED_PAYMENT_METHOD = _closed("payment_method", METHOD_FIELDS, customer=STRING)
INVOICE = _closed("invoice", {
    "id": STRING, "object": _const("invoice"), "number": TEXT, "status": TEXT, "currency": STRING,
    "created": MOMENT, "total": INTEGER, "subtotal": INTEGER, "amount_due": INTEGER, "amount_paid": INTEGER,
    "amount_remaining": INTEGER, "subscription": TEXT, "lines": {"type": "object", "required": ["data"]},
}, customer=STRING)

OBJECTS = {
    "customer.updated": CUSTOMER,
    "customer.subscription.updated": SUBSCRIPTION,
    "customer.subscription.deleted": SUBSCRIPTION,
    "payment_method.attached": ATTACHED_PAYMENT_METHOD,
    "payment_method.detached": PAYMENT_METHOD,
    "invoice.created": INVOICE,
    "invoice.paid": INVOICE,
}
SUMMARIES = {
    "customer.updated": "The customer changed billing details or the default payment method, or got credit",
    "customer.subscription.updated": "The customer canceled at the period's end, resumed, took the offer for "
                                     "staying or changed plan, or a removed payment method left the subscription",
    "customer.subscription.deleted": "The customer canceled at once",
    "payment_method.attached": "The customer added a payment method (billing.engine stripe)",
    "payment_method.detached": "The customer removed a payment method",
    "invoice.created": "A change of plan was invoiced at once (proration_behavior: always_invoice)",
    "invoice.paid": "The customer paid an open invoice with their default payment method (billing.engine stripe)",
}


def schema(event_type: str) -> dict[str, Any]:
    """The whole event as a receiver gets it in the body of the POST."""
    data = {"object": OBJECTS[event_type],
            "previous_attributes": {"type": "object", "description": "The changed fields' values before the change."}}
    return {
        "type": "object",
        "required": ["id", "object", "type", "created", "data"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "pattern": "^evt_", "description": "Unique: handle an id seen twice once."},
            "object": _const("event"),
            "type": _const(event_type),
            "created": INTEGER,
            "data": {"type": "object", "required": ["object"], "properties": data, "additionalProperties": False},
        },
    }


def openapi_webhooks() -> dict[str, Any]:
    """The OpenAPI 3.1 `webhooks`: what Porch POSTs to a receiver, one entry per event type."""
    return {
        event_type: {"post": {
            "summary": SUMMARIES[event_type],
            "parameters": [{"name": "Porch-Signature", "in": "header", "required": True, "schema": STRING,
                            "description": 't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">'}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema(event_type)}}},
            "responses": {"2XX": {"description": "Delivered; any other answer is retried."}},
        }}
        for event_type in OBJECTS
    }
