"""Customers switch plan or quantity (features.subscription_update): the plans on offer,
a preview of what a change costs now, and the change itself, one function deciding both."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import ConfigDict, Field

from backend import availability, changes, portal, proration, subscriptions
from backend.billing_types import Price, Subscription, ref
from backend.config import SubscriptionUpdate, UpdatableProduct
from backend.context import Context
from backend.errors import APIError
from backend.guards import Body
from backend.lines import day_text, line, price_name
from backend.openapi import OBJECT, returns
from backend.pipeline import Endpoint
from backend.store import billing
from backend.subscriptions import CREDIT, Done, expanded, find, store


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


def offered(ctx: Context) -> list[dict[str, Any]]:
    """The plans a subscription may switch to, as the portal shows them."""
    feature = ctx.config.features.subscription_update
    catalog = _catalog(ctx.conn, feature)
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
    return found


@dataclass(frozen=True)
class Plan:
    """A change of price or quantity as it would be applied now: what preview and update both decide.

    `effective_at`: the change waits for the period's end (a schedule); `lines` is then the one line
    that shows it. `drop`: the customer chose the current plan again, and the change waiting is dropped."""

    sub: Subscription
    price: Price
    quantity: int
    currency: str
    proration_behavior: str
    effective_at: int | None = None
    lines: tuple[dict[str, Any], ...] = ()
    drop: bool = False


def decide(ctx: Context, subscription_id: str, price_id: str | None, quantity_asked: int | None) -> Plan:
    """What a change would do now, or why it is refused (APIError). Reads only."""
    if price_id is None and quantity_asked is None:
        raise APIError(400, "invalid_request", "Send a price, a quantity or both.")
    sub = find(ctx, subscription_id)
    full = expanded(ctx.conn, sub.data)
    if refused := availability.update_refusal(ctx.config, full):
        raise refused
    feature = ctx.config.features.subscription_update
    (item,) = Subscription.of(full).items
    end = sub.current_period_end
    assert end is not None  # update_refusal found the period
    old_price, old_quantity = item.price, item.quantity
    catalog = _catalog(ctx.conn, feature)
    price = old_price
    if price_id is not None:
        if "price" not in feature.default_allowed_updates or price_id not in catalog.prices:
            raise APIError(403, "feature_disabled", "This plan is not offered.", param="price")
        price = Price.of(catalog.prices[price_id])
    entry = catalog.entries.get(price.product) if price.product in catalog.products else None
    adjustable = availability.adjustable(feature, entry)
    if quantity_asked is not None and not adjustable:
        raise APIError(403, "feature_disabled", "The quantity of this plan cannot be changed.", param="quantity")
    same_product = price.product == old_price.product
    quantity = quantity_asked if quantity_asked is not None else old_quantity if same_product or adjustable else 1
    if adjustable and entry is not None:
        low, high = entry.adjustable_quantity.minimum, entry.adjustable_quantity.maximum
        if not low <= quantity <= high:
            raise APIError(400, "invalid_quantity", f"Choose a quantity from {low} to {high}.", param="quantity")
    currency = str(sub.data.get("currency") or old_price.currency).lower()
    if price.currency != currency:
        raise APIError(400, "currency_mismatch", f"This plan is not sold in {currency.upper()}.", param="price")
    if price.id == old_price.id and quantity == old_quantity:
        if sub.schedule:
            return Plan(sub, price, quantity, currency, "none", drop=True)
        raise APIError(400, "invalid_request", "This is already the subscription's plan.")
    conditions = feature.schedule_at_period_end.conditions
    if (price.unit_amount * quantity < old_price.unit_amount * old_quantity and "decreasing_item_amount" in conditions) or (
            proration.shorter(price.data["recurring"], old_price.data["recurring"]) and "shortening_interval" in conditions):
        upcoming = line(f"{price_name(ctx.conn, price.data)} × {quantity} from {day_text(end)}", 0, False, end,
                        proration.interval_end(end, price.data["recurring"]), price.id, quantity)
        return Plan(sub, price, quantity, currency, "none", end, (upcoming,))
    # A trial has been paid nothing: the new price simply applies from the first invoice.
    behavior = feature.proration_behavior if sub.status == "active" else "none"
    return Plan(sub, price, quantity, currency, behavior)


def preview(ctx: Context, subscription_id: str, price_id: str | None, quantity: int | None) -> dict[str, Any]:
    """What a change would cost now, as the engine computes it."""
    plan = decide(ctx, subscription_id, price_id, quantity)
    lines, due = list(plan.lines), 0
    if plan.proration_behavior != "none" and plan.effective_at is None:
        costs = ctx.engine.preview_change(ctx.call, plan.sub, plan.price, plan.quantity, plan.proration_behavior)
        lines, due = costs.lines, costs.amount_due
    return {"amount_due": due, "currency": plan.currency, "lines": lines,
            "proration_behavior": plan.proration_behavior, "effective_at": plan.effective_at}


@dataclass(frozen=True)
class Updated(Done):
    invoice: dict[str, Any] | None = None


def update(ctx: Context, subscription_id: str, price_id: str | None, quantity: int | None) -> Updated:
    """Make the change decided: now, at the period's end, or drop the one waiting."""
    plan = decide(ctx, subscription_id, price_id, quantity)
    engine, call = ctx.engine, ctx.call
    pending: list[dict[str, Any]] = []
    if plan.drop:
        changed = engine.drop_scheduled_change(call, plan.sub)
    elif plan.effective_at is not None:
        changed = engine.schedule_change(call, plan.sub, plan.price, plan.quantity, plan.effective_at)
    else:
        if plan.proration_behavior == "create_prorations":
            # Prorations for the next invoice are told to the merchant's systems with the change.
            pending = engine.preview_change(call, plan.sub, plan.price, plan.quantity, plan.proration_behavior).lines
        changed = engine.change(call, plan.sub, plan.price, plan.quantity, plan.proration_behavior)
    done = store(ctx, changed, pending)
    if changed.invoice is not None:
        changes.invoice(ctx, changed.invoice)
    return Updated(done.subscription, done.credit, changed.invoice)


def answer(ctx: Context, done: Updated) -> dict[str, Any]:
    found = subscriptions.answer(ctx, done)
    return found | {"invoice": portal.pick("invoice", done.invoice)} if done.invoice is not None else found


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

ENDPOINTS = [
    Endpoint("get", "/api/plans", "The products and prices a subscription may switch to",
             lambda ctx: {"plans": offered(ctx)}, feature=availability.update_feature, answer=PLANS),
    Endpoint("post", "/api/subscriptions/{id}/preview", "What a change of plan would cost now",
             lambda ctx: preview(ctx, ctx.params["id"], ctx.body.price, ctx.body.quantity),
             feature=availability.update_feature, body=ChangeRequest, answer=PREVIEW, errors=(404, 409)),
    Endpoint("post", "/api/subscriptions/{id}/update", "Change a subscription's price or quantity",
             lambda ctx: answer(ctx, update(ctx, ctx.params["id"], ctx.body.price, ctx.body.quantity)),
             feature=availability.update_feature, body=ChangeRequest, idempotent=True,
             answer=returns(subscription=OBJECT, invoice=OBJECT, credit=CREDIT), errors=(404, 409, 422)),
]
