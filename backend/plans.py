"""Customers switch plan or quantity (features.subscription_update): the plans on offer,
a preview of what a change costs now, and the change itself, one function deciding both."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from backend import auth, availability, credit, event_types, idempotency, portal, proration
from backend.config import Config, SubscriptionUpdate, UpdatableProduct
from backend.errors import APIError
from backend.events import Actor
from backend.guards import Body, json_body
from backend.jsonio import JSONResponse
from backend.openapi import OBJECT, Operation, returns
from backend.store import billing, tables
from backend.subscriptions import (
    CREDIT, credit_balance, currency_of, day_text, expanded, find, items_of, percent_off_at, period_of, price_amount,
    quantity_of, ref, set_fields, view_of,
)


class ChangeRequest(Body):
    # Said in the document too, so that a client knows an empty change is refused.
    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    price: str | None = Field(None, max_length=255, description="A price listed by GET /api/plans.")
    quantity: int | None = Field(None, strict=True, description="Only where the plan's quantity is adjustable.")


@dataclass(frozen=True)
class Catalog:
    """What customers may switch to: configured products and prices that the store holds."""

    products: dict[str, dict[str, Any]]
    prices: dict[str, dict[str, Any]]
    offered: dict[str, list[str]]  # product id -> its prices on offer, as configured
    entries: dict[str, UpdatableProduct]

    def name(self, price: dict[str, Any]) -> str:
        product = price.get("product")
        product = product if isinstance(product, dict) else self.products.get(product) or {}
        return price.get("nickname") or product.get("name") or price["id"]


def _catalog(conn: sa.Connection, feature: SubscriptionUpdate) -> Catalog:
    products: dict[str, dict[str, Any]] = {}
    prices: dict[str, dict[str, Any]] = {}
    offered: dict[str, list[str]] = {}
    for entry in feature.products:
        product = billing.get(conn, "products", entry.product)
        if product is None or entry.product in products:
            continue
        products[entry.product] = product
        offered[entry.product] = []
        for price_id in dict.fromkeys(entry.prices):
            price = billing.get(conn, "prices", price_id)
            # Only a price of this product that recurs and is still sold is offered.
            recurring = (price or {}).get("recurring")
            if (price is not None and ref(price.get("product")) == entry.product and price.get("active") is not False
                    and isinstance(recurring, dict) and recurring.get("interval") in proration.DAYS):
                prices[price_id] = price
                offered[entry.product].append(price_id)
    entries = {entry.product: entry for entry in reversed(feature.products)}  # the first entry of a product counts
    return Catalog(products, prices, offered, entries)


def _updates(request: Request) -> SubscriptionUpdate:
    config: Config = request.app.state.config
    if refused := availability.update_feature(config):
        raise refused
    return config.features.subscription_update


async def plans(request: Request) -> Response:
    await auth.signed_in(request)
    feature = _updates(request)
    catalog = await request.app.state.db.read(_catalog, feature)
    found = []
    for product_id, product in catalog.products.items():
        entry = catalog.entries[product_id]
        prices = [portal.pick("price", catalog.prices[p]) for p in catalog.offered[product_id]]
        if prices:
            quantity = entry.adjustable_quantity
            found.append({
                "product": portal.pick("product", product),
                "prices": prices,
                "adjustable_quantity": {"enabled": availability.adjustable(feature, entry), "minimum": quantity.minimum,
                                        "maximum": quantity.maximum},
            })
    return JSONResponse({"plans": found})


@dataclass
class Plan:
    """A change of price or quantity as it would be applied now: the one answer of preview and update."""

    sub: dict[str, Any]
    price: dict[str, Any]
    quantity: int
    currency: str
    lines: list[dict[str, Any]]
    proration_behavior: str
    effective_at: int | None

    @property
    def total(self) -> int:
        return sum(line["amount"] for line in self.lines)

    @property
    def amount_due(self) -> int:
        # Prorations wait for the next invoice unless invoiced now; a net credit goes to the balance, never below 0.
        return max(0, self.total) if self.proration_behavior == "always_invoice" else 0

    def preview(self) -> dict[str, Any]:
        return {"amount_due": self.amount_due, "currency": self.currency, "lines": self.lines,
                "proration_behavior": self.proration_behavior, "effective_at": self.effective_at}


def _line(description: str, amount: int, proration_line: bool, start: int, end: int, price: str,
          quantity: int) -> dict[str, Any]:
    return {"description": description, "amount": amount, "proration": proration_line,
            "period": {"start": start, "end": end}, "price": price, "quantity": quantity}


def _plan(conn: sa.Connection, config: Config, customer: str, subscription_id: str,
          body: ChangeRequest, now: int) -> Plan | APIError:
    """What a change would do now, or why it is refused. Reads only."""
    sub = find(conn, customer, subscription_id)
    if isinstance(sub, APIError):
        return sub
    full = expanded(conn, sub)
    if refused := availability.update_refusal(config, full):
        return refused
    feature = config.features.subscription_update
    status = sub.get("status")
    (item,) = items_of(full)
    start, end = period_of(sub)
    assert start is not None and end is not None  # update_refusal found the period
    old_price, old_quantity = item["price"], quantity_of(item)
    catalog = _catalog(conn, feature)
    price = old_price
    if body.price is not None:
        if "price" not in feature.default_allowed_updates or body.price not in catalog.prices:
            return APIError(403, "feature_disabled", "This plan is not offered.", param="price")
        price = catalog.prices[body.price]
    product = ref(price.get("product"))
    entry = catalog.entries.get(product) if product in catalog.products else None
    adjustable = availability.adjustable(feature, entry)
    if body.quantity is not None and not adjustable:
        return APIError(403, "feature_disabled", "The quantity of this plan cannot be changed.", param="quantity")
    same_product = product == ref(old_price.get("product"))
    quantity = body.quantity if body.quantity is not None else old_quantity if same_product or adjustable else 1
    if adjustable and entry is not None:
        low, high = entry.adjustable_quantity.minimum, entry.adjustable_quantity.maximum
        if not low <= quantity <= high:
            return APIError(400, "invalid_quantity", f"Choose a quantity from {low} to {high}.", param="quantity")
    currency = currency_of(sub, old_price)
    if str(price.get("currency") or "").lower() != currency:
        return APIError(400, "currency_mismatch", f"This plan is not sold in {currency.upper()}.", param="price")

    def plan(lines: list[dict[str, Any]], behavior: str, effective_at: int | None = None) -> Plan:
        return Plan(sub, price, quantity, currency, lines, behavior, effective_at)

    if price["id"] == old_price["id"] and quantity == old_quantity:
        if sub.get("schedule"):
            return plan([], "none")  # back to the current plan: the scheduled change is dropped
        return APIError(400, "invalid_request", "This is already the subscription's plan.")
    old_amount, new_amount = price_amount(old_price, old_quantity), price_amount(price, quantity)
    conditions = feature.schedule_at_period_end.conditions
    if (new_amount < old_amount and "decreasing_item_amount" in conditions) or (
            proration.shorter(price["recurring"], old_price["recurring"]) and "shortening_interval" in conditions):
        upcoming = _line(f"{catalog.name(price)} × {quantity} from {day_text(end)}", 0, False, end,
                         proration.interval_end(end, price["recurring"]), price["id"], quantity)
        return plan([upcoming], "none", end)
    # A trial has been paid nothing: the new price simply applies from the first invoice.
    behavior = feature.proration_behavior if status == "active" else "none"
    if behavior == "none":
        return plan([], behavior)
    after = day_text(now)
    # The old plan's unused time is what was paid for it, not its price: see backend/credit.py.
    unused = credit.creditable(conn, sub, now, pending=behavior == "create_prorations")
    charge = proration.unused(new_amount, now, start, end, price["recurring"], percent_off_at(sub, start))
    return plan([
        _line(f"Unused time on {catalog.name(old_price)} × {old_quantity} after {after}", -unused, True, now, end,
              old_price["id"], old_quantity),
        _line(f"Remaining time on {catalog.name(price)} × {quantity} after {after}", charge, True, now, end,
              price["id"], quantity),
    ], behavior)


def _require_change(body: ChangeRequest) -> None:
    if body.price is None and body.quantity is None:
        raise APIError(400, "invalid_request", "Send a price, a quantity or both.")


async def preview(request: Request) -> Response:
    customer = await auth.signed_in(request)
    body = await json_body(request, ChangeRequest)
    _updates(request)
    _require_change(body)
    planned = await request.app.state.db.read(_plan, request.app.state.config, customer, request.path_params["id"], body,
                                              auth.now(request))
    if isinstance(planned, APIError):
        raise planned
    return JSONResponse(planned.preview())


def _next_number(conn: sa.Connection, customer: str) -> str:
    """The customer's next invoice number: the prefix of their newest number, after the highest count it has."""
    rows = conn.execute(
        sa.select(tables.invoices.c.data).where(tables.invoices.c.customer == customer)
        .order_by(tables.invoices.c.created.desc(), tables.invoices.c.id.desc()).limit(100)
    )
    numbers = [json.loads(row.data).get("number") for row in rows]
    found = [m for m in (re.match(r"^(.*?)(\d+)$", n) for n in numbers if isinstance(n, str)) if m]
    if not found:
        return customer.removeprefix("cus_").upper() + "-0001"
    prefix, width = found[0].group(1), len(found[0].group(2))
    count = max(int(m.group(2)) for m in found if m.group(1) == prefix)
    return f"{prefix}{count + 1:0{width}d}"


def _invoice(conn: sa.Connection, plan: Plan, now: int) -> dict[str, Any]:
    sub = plan.sub
    lines = [line | {"object": "line_item", "currency": plan.currency} for line in plan.lines]
    return {
        "id": "in_" + secrets.token_hex(12), "object": "invoice", "customer": sub["customer"],
        "subscription": sub["id"], "number": _next_number(conn, sub["customer"]), "status": "open",
        "billing_reason": "subscription_update", "created": now, "currency": plan.currency,
        "subtotal": plan.total, "tax": 0, "total": plan.total, "amount_due": plan.amount_due, "amount_paid": 0,
        "amount_remaining": plan.amount_due, "period_start": now, "period_end": now, "due_date": None,
        "hosted_invoice_url": None, "invoice_pdf": None, "lines": {"object": "list", "data": lines, "has_more": False},
    }


async def update(request: Request) -> Response:
    customer = await auth.signed_in(request)
    config: Config = request.app.state.config
    body = await json_body(request, ChangeRequest)
    _updates(request)
    _require_change(body)
    subscription_id = request.path_params["id"]

    def change(conn: sa.Connection, actor: Actor) -> tuple[int, dict[str, Any]] | APIError:
        plan = _plan(conn, config, customer, subscription_id, body, actor.now)
        if isinstance(plan, APIError):
            return plan
        sub = plan.sub
        if plan.effective_at is not None:
            previous = set_fields(sub, schedule={"price": plan.price["id"], "quantity": plan.quantity,
                                           "effective_at": plan.effective_at})
        else:
            before = portal.subscription(expanded(conn, sub))
            previous = set_fields(sub, schedule=None) if "schedule" in sub else {}
            item = items_of(sub)[0]
            if ref(item.get("price")) != plan.price["id"] or quantity_of(item) != plan.quantity:
                # The item keeps its id; its price is stored in the form the subscription already used.
                item["price"] = plan.price if isinstance(item.get("price"), dict) else plan.price["id"]
                item["quantity"] = plan.quantity
                previous["items"] = before["items"]
        billing.upsert(conn, "subscriptions", [sub])
        # Prorations for the next invoice are told to the merchant's systems; the store keeps no invoice items,
        # only their sum, which later credits of this period count.
        pending = plan.lines if plan.proration_behavior == "create_prorations" else []
        if plan.proration_behavior == "create_prorations":
            credit.record(conn, sub, actor.now, plan.total, credit.PENDING)
        event_types.subscription_updated(conn, config.webhooks, actor, sub, previous, pending)
        answer: dict[str, Any] = {"subscription": view_of(conn, config, sub)}
        if plan.proration_behavior == "always_invoice" and plan.total > 0:
            invoice = _invoice(conn, plan, actor.now)
            billing.upsert(conn, "invoices", [invoice])
            event_types.invoice_created(conn, config.webhooks, actor, invoice)
            answer["invoice"] = portal.pick("invoice", invoice)
        elif plan.proration_behavior == "always_invoice" and plan.total < 0:
            answer["credit"] = credit_balance(conn, config, actor, sub, -plan.total, plan.currency)
        return 200, answer

    return await idempotency.apply(request, customer, change, body)


INTEGER = {"type": "integer"}
LINE = {
    "type": "object",
    "required": ["description", "amount", "proration", "period", "price", "quantity"],
    "properties": {
        "description": {"type": "string"}, "amount": INTEGER, "proration": {"type": "boolean"},
        "period": {"type": "object", "properties": {"start": INTEGER, "end": INTEGER}},
        "price": {"type": "string"}, "quantity": INTEGER,
    },
}
PREVIEW = {
    "type": "object",
    "required": ["amount_due", "currency", "lines", "proration_behavior", "effective_at"],
    "properties": {
        "amount_due": {"type": "integer", "minimum": 0}, "currency": {"type": "string"},
        "lines": {"type": "array", "items": LINE},
        "proration_behavior": {"type": "string", "enum": ["none", "create_prorations", "always_invoice"]},
        "effective_at": {"type": ["integer", "null"], "description": "null: the change applies now"},
    },
}
PLANS = returns(plans={"type": "array", "items": {"type": "object", "properties": {
    "product": OBJECT, "prices": {"type": "array", "items": OBJECT},
    "adjustable_quantity": {"type": "object", "properties": {
        "enabled": {"type": "boolean"}, "minimum": INTEGER, "maximum": INTEGER}},
}}})

OPERATIONS = [
    Operation("get", "/api/plans", plans, "The products and prices a subscription may switch to", answer=PLANS,
              errors=(403,)),
    Operation("post", "/api/subscriptions/{id}/preview", preview, "What a change of plan would cost now",
              ChangeRequest, answer=PREVIEW, errors=(403, 404, 409), idempotent=False),
    Operation("post", "/api/subscriptions/{id}/update", update, "Change a subscription's price or quantity",
              ChangeRequest, answer=returns(subscription=OBJECT, invoice=OBJECT, credit=CREDIT),
              errors=(403, 404, 409, 422)),
]
