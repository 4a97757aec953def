"""Invoice history (features.invoice_history): the customer's invoices page by page, one invoice
with what its printable receipt needs, and paying an open one through the engine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from backend import availability, changes, event_types, portal, subscriptions
from backend.billing_types import Invoice
from backend.context import Context
from backend.errors import APIError
from backend.guards import Body
from backend.openapi import OBJECT, returns
from backend.pipeline import Endpoint
from backend.store import billing

MAX_LIMIT = 100
# What a receipt shows of each line; a line's metadata is the merchant's and stays on the server.
# Stripe snapshots the customer's details on the invoice when it is finalised; a receipt shows those.
SNAPSHOT = {"name": "customer_name", "email": "customer_email", "address": "customer_address",
            "tax_ids": "customer_tax_ids"}


def _limit(query: Mapping[str, str]) -> int:
    text = query.get("limit", str(billing.INVOICE_PAGE))
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_LIMIT):
        raise APIError(400, "invalid_request", f"limit must be a whole number from 1 to {MAX_LIMIT}.", param="limit")
    return int(text)


def find(ctx: Context, invoice_id: str, param: str | None = None) -> Invoice:
    found = billing.owned(ctx.conn, "invoices", ctx.customer, invoice_id)
    if found is None:
        raise APIError(404, "not_found", "No such invoice.", param=param)
    return Invoice.of(found)


def page(ctx: Context, limit: int, starting_after: str | None) -> tuple[list[dict[str, Any]], bool]:
    """A page of the customer's invoices, newest first, after the invoice `starting_after`."""
    after = find(ctx, starting_after, "starting_after").data if starting_after is not None else None
    return billing.invoice_page(ctx.conn, ctx.customer, limit, after)


def _list(ctx: Context) -> dict[str, Any]:
    invoices, has_more = page(ctx, _limit(ctx.query), ctx.query.get("starting_after"))
    return {"object": "list", "data": [portal.invoice(i, ctx.config.billing.engine) for i in invoices], "has_more": has_more}


def _receipt_customer(invoice: dict[str, Any], customer: dict[str, Any]) -> dict[str, Any]:
    """Who the receipt is for: the invoice's own snapshot when it has one, else the customer as now."""
    if any(key in invoice for key in SNAPSHOT.values()):
        found = {name: invoice.get(key) for name, key in SNAPSHOT.items()}
    else:
        found = {name: customer.get(name) for name in SNAPSHOT} | {
            "tax_ids": (customer.get("tax_ids") or {}).get("data")}
    return portal.pick("receipt_customer", found | {"tax_ids": found["tax_ids"] or []})


def _one(ctx: Context) -> dict[str, Any]:
    invoice = find(ctx, ctx.params["id"])
    customer = billing.get(ctx.conn, "customers", ctx.customer) or {}
    return {
        "invoice": portal.invoice(invoice.data, ctx.config.billing.engine),
        "receipt_url": "/receipt/?invoice=" + quote(invoice.id, safe=""),
        "customer": _receipt_customer(invoice.data, customer),
        "business": portal.business(ctx.config),
        # The receipt's way back, as the portal's: the session's return address, else the configuration's.
        "return_url": ctx.return_url,
    }


def pay(ctx: Context, invoice_id: str) -> dict[str, Any]:
    """Pay an open invoice: paid now ({"invoice"}, with its "subscription" when the engine read it again),
    or the page where the customer pays ({"url"})."""
    invoice = find(ctx, invoice_id)
    if invoice.status != "open" or invoice.amount_remaining <= 0:
        raise APIError(409, "invoice_not_payable", "This invoice has nothing left to pay.")
    payment = ctx.engine.pay_invoice(ctx.call, invoice)
    if payment.invoice is None:
        return {"url": payment.url}
    billing.upsert(ctx.conn, "invoices", [payment.invoice])
    # Only an invoice found open gets here, so one paid now is paid by this request, once.
    if payment.invoice.get("status") == "paid":
        event_types.invoice_paid(ctx.conn, ctx.config.webhooks, ctx.actor, payment.invoice)
    answer = {"invoice": portal.invoice(payment.invoice, ctx.config.billing.engine)}
    if payment.subscription is not None:
        changes.subscription(ctx, payment.subscription)
        answer["subscription"] = subscriptions.view_of(ctx.conn, ctx.config, payment.subscription)
    return answer


LIST = {"type": "object", "properties": {
    "object": {"type": "string", "const": "list"}, "data": {"type": "array", "items": OBJECT},
    "has_more": {"type": "boolean"},
}}
ENDPOINTS = [
    Endpoint("get", "/api/invoices", "The customer's invoices, newest first, a page at a time", _list,
             feature=availability.invoice_history_feature, answer=LIST, errors=(400, 404), query=(
                 ("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": billing.INVOICE_PAGE}),
                 ("starting_after", {"type": "string", "description": "The last invoice id of the previous page"}),
             )),
    Endpoint("get", "/api/invoices/{id}", "One of the customer's invoices, with what its receipt shows", _one,
             feature=availability.invoice_history_feature,
             answer=returns(invoice=OBJECT, receipt_url={"type": "string"}, customer=OBJECT, business=OBJECT,
                            return_url={"type": ["string", "null"]}),
             errors=(404,)),
    Endpoint("post", "/api/invoices/{id}/pay", "Pay an open invoice: paid now, or the page where the customer pays",
             lambda ctx: pay(ctx, ctx.params["id"]), feature=availability.invoice_history_feature, body=Body,
             idempotent=True, answer=returns(invoice=OBJECT, url={"type": "string"}, subscription=OBJECT), errors=(404, 409, 422)),
]
