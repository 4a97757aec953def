"""Typed billing objects: what the business layer reads of Stripe-shaped data.

Each wraps one object in the store's one shape (backend.stripe_objects made it so) and names the
fields the rules use; `data` is the whole object, which is what is stored and what engines return.
They are read-only views: a change is made by an engine, which answers with the new object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def ref(value: Any) -> str | None:
    """Stripe fields such as `customer` hold an id or, when expanded, the object itself."""
    return value.get("id") if isinstance(value, dict) else value


@dataclass(frozen=True)
class Price:
    id: str
    product: str | None
    currency: str
    unit_amount: int
    recurring: dict[str, Any] | None
    data: dict[str, Any] = field(repr=False)

    @classmethod
    def of(cls, data: dict[str, Any]) -> Price:
        return cls(data["id"], ref(data.get("product")), str(data.get("currency") or "").lower(),
                   int(data.get("unit_amount") or 0), data.get("recurring"), data)


@dataclass(frozen=True)
class Item:
    id: str | None
    price: Price
    quantity: int

    @classmethod
    def of(cls, data: dict[str, Any]) -> Item:
        price = data.get("price")
        price_data = price if isinstance(price, dict) else {"id": price}
        quantity = data.get("quantity")
        return cls(data.get("id"), Price.of(price_data), 1 if quantity is None else int(quantity))


@dataclass(frozen=True)
class Subscription:
    id: str
    customer: str
    status: str
    items: tuple[Item, ...]
    cancel_at_period_end: bool
    current_period_start: int | None
    current_period_end: int | None
    currency: str
    schedule: Any
    data: dict[str, Any] = field(repr=False)

    @classmethod
    def of(cls, data: dict[str, Any]) -> Subscription:
        items = tuple(Item.of(item) for item in (data.get("items") or {}).get("data", []))
        currency = str(data.get("currency") or (items[0].price.currency if items else "")).lower()
        return cls(data["id"], ref(data.get("customer")) or "", data["status"], items,
                   bool(data.get("cancel_at_period_end")), data.get("current_period_start"),
                   data.get("current_period_end"), currency, data.get("schedule"), data)


@dataclass(frozen=True)
class PaymentMethod:
    id: str
    customer: str | None
    type: str
    data: dict[str, Any] = field(repr=False)

    @classmethod
    def of(cls, data: dict[str, Any]) -> PaymentMethod:
        return cls(data["id"], ref(data.get("customer")), str(data.get("type") or ""), data)


@dataclass(frozen=True)
class Customer:
    id: str
    email: str | None
    default_payment_method: str | None
    data: dict[str, Any] = field(repr=False)

    @classmethod
    def of(cls, data: dict[str, Any]) -> Customer:
        settings = data.get("invoice_settings") or {}
        default = ref(settings.get("default_payment_method")) or ref(data.get("default_source"))
        return cls(data["id"], data.get("email"), default, data)


@dataclass(frozen=True)
class Invoice:
    id: str
    customer: str | None
    subscription: str | None
    status: str | None
    amount_remaining: int
    hosted_invoice_url: str | None
    data: dict[str, Any] = field(repr=False)

    @classmethod
    def of(cls, data: dict[str, Any]) -> Invoice:
        return cls(data["id"], ref(data.get("customer")), ref(data.get("subscription")), data.get("status"),
                   int(data.get("amount_remaining") or 0), data.get("hosted_invoice_url"), data)
