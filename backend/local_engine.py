"""The local engine: Porch's store is the truth (billing.engine: local, see backend/engine.py).

A change is made to a copy of the stored object and answered; the business layer stores it. What
only a billing system would otherwise keep is kept here: the credits and prorations of a period
(backend/credit.py), the invoices a plan change bills at once, the customer's balance. Adding a
card happens on the merchant's own page (features.payment_method_update.add_url), reached by a
signed link; the card arrives with the merchant's next import."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
import secrets
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import sqlalchemy as sa

from backend import credit, proration
from backend.billing_types import (
    Customer,
    Invoice,
    PaymentMethod,
    Price,
    Subscription,
    ref,
)
from backend.config import Config, RetentionOffer
from backend.engine import Call, Changed, Payment, Preview
from backend.errors import APIError
from backend.lines import day_text, line, price_name
from backend.settings import Settings
from backend.store import billing, tables

ADD_URL_LIFETIME = 3600
NO_DETAILS = {"reason": None, "feedback": None, "comment": None}


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


class LocalEngine:
    name = "local"

    def __init__(self, config: Config, settings: Settings):
        self.config = config
        self.settings = settings

    # Customers and payment methods.

    def update_customer(self, call: Call, customer: Customer, changes: dict[str, Any]) -> dict[str, Any]:
        data = copy.deepcopy(customer.data) | copy.deepcopy(changes)
        if "tax_ids" in changes:
            # Stored as Stripe lists them on a customer.
            listed = data["tax_ids"] or []
            for entry in listed:
                entry.setdefault("id", "txi_" + secrets.token_hex(12))
            data["tax_ids"] = {"object": "list", "data": listed}
        return data

    def set_default_payment_method(self, call: Call, customer: Customer, method: PaymentMethod) -> dict[str, Any]:
        data = copy.deepcopy(customer.data)
        data["invoice_settings"] = dict(data.get("invoice_settings") or {}) | {"default_payment_method": method.id}
        return data

    def detach_payment_method(self, call: Call, method: PaymentMethod) -> None:
        """Nothing to do elsewhere: the store's copy, detached by the business layer, is the truth."""

    def add_payment_method_url(self, call: Call, customer: Customer, return_url: str) -> str:
        """The merchant's add-card page with customer, return_url, expires and signature appended.
        The signature is the hex HMAC-SHA256 of the three parameters exactly as encoded here."""
        feature = self.config.features.payment_method_update
        assert feature.add_url is not None  # availability.add_refusal found it
        # parse_config refuses an add_url without signing_secret_env, and the app does not start
        # while the variable it names is unset (events.signing_secrets), so this finds the key.
        assert feature.signing_secret_env is not None
        key = self.settings.secret(feature.signing_secret_env)
        expires = call.actor.now + ADD_URL_LIFETIME
        signed = urlencode([("customer", customer.id), ("return_url", return_url), ("expires", str(expires))])
        query = signed + "&" + urlencode([("signature", hmac.new(key, signed.encode(), hashlib.sha256).hexdigest())])
        parts = urlsplit(feature.add_url)
        return urlunsplit(parts._replace(query=f"{parts.query}&{query}" if parts.query else query))

    def payment_method_added(self, call: Call, customer: Customer, session: str) -> list[dict[str, Any]]:
        """The merchant's page tells Porch of a new card by the next import, not on the customer's return."""
        return []

    # Subscriptions.

    def _credit(self, call: Call, sub: dict[str, Any], amount: int) -> dict[str, Any]:
        """Put `amount` on the customer's balance as credit for the rest of the subscription's period (Stripe's
        convention: a negative balance is owed to them), and note it, so that the period's credits never add up
        to more than was paid for it. Returns the customer."""
        credit.record(call.conn, sub, call.actor.now, -amount, credit.BALANCE)
        customer = billing.get(call.conn, "customers", call.actor.customer) or {
            "id": call.actor.customer, "object": "customer"}
        return customer | {"balance": int(customer.get("balance") or 0) - amount}

    def cancel(self, call: Call, sub: Subscription, *, at_period_end: bool, prorate: bool,
               details: dict[str, Any]) -> Changed:
        data = copy.deepcopy(sub.data)
        details = {"reason": "cancellation_requested"} | details
        if at_period_end:
            data.update(cancel_at_period_end=True, cancel_at=sub.current_period_end, cancellation_details=details)
            return Changed(data)
        refund = credit.creditable(call.conn, data, call.actor.now) if prorate else 0
        now = call.actor.now
        data.update(status="canceled", canceled_at=now, ended_at=now, cancel_at_period_end=False, cancel_at=None,
                    cancellation_details=details)
        return Changed(data, customer=self._credit(call, data, refund) if refund > 0 else None)

    def resume(self, call: Call, sub: Subscription) -> Changed:
        return Changed(copy.deepcopy(sub.data) | {"cancel_at_period_end": False, "cancel_at": None,
                                                  "cancellation_details": dict(NO_DETAILS)})

    def apply_retention(self, call: Call, sub: Subscription, offer: RetentionOffer) -> Changed:
        discount = {
            "object": "discount",
            "coupon": {"object": "coupon", "percent_off": offer.percent_off, "duration": "repeating",
                       "duration_in_months": offer.duration_in_months},
            "start": call.actor.now,
            # Calendar months, as Stripe counts a repeating coupon's duration.
            "end": proration.add_months(call.actor.now, offer.duration_in_months),
        }
        return Changed(copy.deepcopy(sub.data) | {"discounts": [discount]})

    def _old(self, call: Call, sub: Subscription) -> tuple[dict[str, Any], int]:
        """The subscription's one price, as stored, and its quantity."""
        (item,) = sub.items
        price = item.price.data if item.price.data.keys() - {"id"} else billing.get(call.conn, "prices",
                                                                                       item.price.id) or {}
        return price, item.quantity

    def preview_change(self, call: Call, sub: Subscription, price: Price, quantity: int,
                       proration_behavior: str) -> Preview:
        """The unused time of the old plan, credited at what was paid for it (backend/credit.py), and the
        rest of the period on the new one; invoiced now only with always_invoice."""
        old_price, old_quantity = self._old(call, sub)
        start, end, now = sub.current_period_start, sub.current_period_end, call.actor.now
        assert start is not None and end is not None  # availability.update_refusal found the period
        after = day_text(now)
        unused = credit.creditable(call.conn, sub.data, now, pending=proration_behavior == "create_prorations")
        charge = proration.unused(price.unit_amount * quantity, now, start, end, price.data["recurring"],
                                  percent_off_at(sub.data, start))
        lines = [
            line(f"Unused time on {price_name(call.conn, old_price)} × {old_quantity} after {after}", -unused, True,
                 now, end, old_price["id"], old_quantity),
            line(f"Remaining time on {price_name(call.conn, price.data)} × {quantity} after {after}", charge, True,
                 now, end, price.id, quantity),
        ]
        total = sum(x["amount"] for x in lines)
        # A net credit goes to the balance, never below 0.
        due = max(0, total) if proration_behavior == "always_invoice" else 0
        return Preview(due, str(sub.currency or old_price.get("currency") or "").lower(), lines)

    def change(self, call: Call, sub: Subscription, price: Price, quantity: int, proration_behavior: str) -> Changed:
        planned = (self.preview_change(call, sub, price, quantity, proration_behavior)
                   if proration_behavior != "none" else None)
        data = copy.deepcopy(sub.data)
        if "schedule" in data:
            data["schedule"] = None
        item = data["items"]["data"][0]
        quantity_now = 1 if item.get("quantity") is None else int(item["quantity"])
        if ref(item.get("price")) != price.id or quantity_now != quantity:
            # The item keeps its id; its price is stored in the form the subscription already used.
            item["price"] = copy.deepcopy(price.data) if isinstance(item.get("price"), dict) else price.id
            item["quantity"] = quantity
        if planned is None:
            return Changed(data)
        total = sum(x["amount"] for x in planned.lines)
        if proration_behavior == "create_prorations":
            # The store keeps no invoice items, only their sum, which later credits of this period count.
            credit.record(call.conn, data, call.actor.now, total, credit.PENDING)
        elif total > 0:
            return Changed(data, invoice=self._invoice(call, data, planned, total))
        elif total < 0:
            return Changed(data, customer=self._credit(call, data, -total))
        return Changed(data)

    def _invoice(self, call: Call, sub: dict[str, Any], planned: Preview, total: int) -> dict[str, Any]:
        now = call.actor.now
        lines = [x | {"object": "line_item", "currency": planned.currency} for x in planned.lines]
        return {
            "id": "in_" + secrets.token_hex(12), "object": "invoice", "customer": call.actor.customer,
            "subscription": sub["id"], "number": _next_number(call.conn, call.actor.customer), "status": "open",
            "billing_reason": "subscription_update", "created": now, "currency": planned.currency,
            "subtotal": total, "tax": 0, "total": total, "amount_due": planned.amount_due, "amount_paid": 0,
            "amount_remaining": planned.amount_due, "period_start": now, "period_end": now, "due_date": None,
            "hosted_invoice_url": None, "invoice_pdf": None,
            "lines": {"object": "list", "data": lines, "has_more": False},
        }

    def schedule_change(self, call: Call, sub: Subscription, price: Price, quantity: int, at: int) -> Changed:
        return Changed(copy.deepcopy(sub.data) | {"schedule": {"price": price.id, "quantity": quantity,
                                                               "effective_at": at}})

    def drop_scheduled_change(self, call: Call, sub: Subscription) -> Changed:
        return Changed(copy.deepcopy(sub.data) | {"schedule": None})

    # Invoices.

    def pay_invoice(self, call: Call, invoice: Invoice) -> Payment:
        """Paid on the merchant's page for it, the invoice's hosted_invoice_url; Porch takes no payments."""
        if not invoice.hosted_invoice_url:
            raise APIError(409, "invoice_not_payable", "This invoice is paid another way: there is no page to pay it on.")
        return Payment(url=invoice.hosted_invoice_url)
