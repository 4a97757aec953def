"""The billing JSON a signed-in customer sees: only the fields the portal shows,
so that a merchant's internal metadata never reaches the browser."""

from __future__ import annotations

from typing import Any

from backend import retention
from backend.config import Config
from backend.markup import headline_html

FIELDS = {
    "customer": ("id", "object", "name", "email", "phone", "address", "shipping", "tax_ids", "invoice_settings",
                 "currency", "preferred_locales", "created", "balance"),
    "subscription": ("id", "object", "status", "cancel_at_period_end", "cancel_at", "canceled_at", "ended_at",
                     "current_period_start", "current_period_end", "trial_start", "trial_end", "start_date",
                     "currency", "items", "default_payment_method", "cancellation_details", "created", "discount",
                     "schedule"),
    "item": ("id", "object", "quantity", "price", "current_period_start", "current_period_end"),
    "price": ("id", "object", "currency", "unit_amount", "nickname", "recurring", "product", "type"),
    "product": ("id", "object", "name", "description"),
    "invoice": ("id", "object", "number", "created", "currency", "total", "subtotal", "tax", "amount_due",
                "amount_paid", "amount_remaining", "status", "hosted_invoice_url", "invoice_pdf", "period_start",
                "period_end", "due_date", "lines", "subscription"),
    "payment_method": ("id", "object", "type", "card", "sepa_debit", "us_bank_account", "billing_details", "created"),
}


def pick(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {key: obj[key] for key in FIELDS[kind] if key in obj}


INVOICE_LINE_FIELDS = ("id", "object", "type", "description", "quantity", "amount", "amount_excluding_tax", "currency",
               "period", "proration", "discount_amounts", "tax_amounts", "unit_amount_excluding_tax", "pricing")


def invoice(obj: dict[str, Any]) -> dict[str, Any]:
    """An invoice as the customer sees it: its lines too carry only what a receipt shows."""
    out = pick("invoice", obj)
    lines = out.get("lines")
    if isinstance(lines, dict):
        data = []
        for line in lines.get("data") or []:
            shown = {key: line[key] for key in INVOICE_LINE_FIELDS if key in line}
            if isinstance(line.get("price"), dict):
                shown["price"] = pick("price", line["price"])
            elif "price" in line:
                shown["price"] = line["price"]
            data.append(shown)
        out["lines"] = {"object": "list", "data": data, "has_more": bool(lines.get("has_more"))}
    return out


def subscription(sub: dict[str, Any]) -> dict[str, Any]:
    out = pick("subscription", sub)
    items = []
    for item in (sub.get("items") or {}).get("data", []):
        shown = pick("item", item)
        price = pick("price", item.get("price") or {})
        price["product"] = pick("product", price.get("product") or {})
        shown["price"] = price
        items.append(shown)
    out["items"] = {"object": "list", "data": items}
    # Newer Stripe API versions keep the period on the items only; the page reads one place.
    for key in ("current_period_start", "current_period_end"):
        if out.get(key) is None and items:
            out[key] = items[0].get(key)
    return out


def business(config: Config) -> dict[str, Any]:
    return {
        "name": config.business.name,
        "headline_html": headline_html(config.business.headline_in(config.locales.default, config.locales.default)),
        "privacy_policy_url": config.business.privacy_policy_url,
        "terms_of_service_url": config.business.terms_of_service_url,
        "support_email": config.business.support_email,
        "default_return_url": config.default_return_url,
    }


def shared(config: Config) -> dict[str, Any]:
    """The part of the portal's answer that is the same for every customer: made once per app."""
    return {"features": config.features.model_dump(mode="json"), "business": business(config)}


def view(config: Config, data: dict[str, Any], same_for_all: dict[str, Any] | None = None) -> dict[str, Any]:
    taken = {offer["subscription"] for offer in data.get("retention_offers", [])}
    return {
        "customer": pick("customer", data["customer"]),
        # Whether the page may make the offer is the server's own rule, told per subscription.
        "subscriptions": [subscription(s) | {"retention_offer": retention.open_to(config, s, s["id"] in taken)}
                          for s in data["subscriptions"]],
        "invoices": [invoice(i) for i in data["invoices"]],
        "payment_methods": [pick("payment_method", m) for m in data["payment_methods"]],
    } | (same_for_all or shared(config))
