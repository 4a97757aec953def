"""Invoice history (features.invoice_history): the customer's invoices page by page, and one
invoice with what its printable receipt needs."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response

from backend import auth, portal
from backend.errors import APIError
from backend.jsonio import JSONResponse
from backend.openapi import OBJECT, Operation, returns
from backend.store import billing

MAX_LIMIT = 100
# What a receipt shows of each line; a line's metadata is the merchant's and stays on the server.
# Stripe snapshots the customer's details on the invoice when it is finalised; a receipt shows those.
SNAPSHOT = {"name": "customer_name", "email": "customer_email", "address": "customer_address",
            "tax_ids": "customer_tax_ids"}


def _feature(request: Request) -> None:
    if not request.app.state.config.features.invoice_history.enabled:
        raise APIError(403, "feature_disabled", "Invoice history is switched off.")


def _limit(request: Request) -> int:
    text = request.query_params.get("limit", str(billing.INVOICE_PAGE))
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_LIMIT):
        raise APIError(400, "invalid_request", f"limit must be a whole number from 1 to {MAX_LIMIT}.", param="limit")
    return int(text)


async def invoice_list(request: Request) -> Response:
    customer = await auth.signed_in(request)
    _feature(request)
    limit = _limit(request)
    starting_after = request.query_params.get("starting_after")

    def page(conn: sa.Connection) -> tuple[list[dict[str, Any]], bool] | None:
        after = None
        if starting_after is not None:
            after = billing.owned(conn, "invoices", customer, starting_after)
            if after is None:
                return None
        return billing.invoice_page(conn, customer, limit, after)

    found = await request.app.state.db.read(page)
    if found is None:
        raise APIError(404, "not_found", "No such invoice.", param="starting_after")
    invoices, has_more = found
    return JSONResponse({"object": "list", "data": [portal.invoice(i) for i in invoices], "has_more": has_more})


def _receipt_customer(invoice: dict[str, Any], customer: dict[str, Any]) -> dict[str, Any]:
    """Who the receipt is for: the invoice's own snapshot when it has one, else the customer as now."""
    if any(key in invoice for key in SNAPSHOT.values()):
        found = {name: invoice.get(key) for name, key in SNAPSHOT.items()}
    else:
        found = {name: customer.get(name) for name in SNAPSHOT} | {
            "tax_ids": (customer.get("tax_ids") or {}).get("data")}
    return portal.pick("receipt_customer", found | {"tax_ids": found["tax_ids"] or []})


async def invoice(request: Request) -> Response:
    customer_id = await auth.signed_in(request)
    state = request.app.state
    _feature(request)
    invoice_id = request.path_params["id"]

    def read(conn: sa.Connection) -> tuple[dict[str, Any], dict[str, Any]] | None:
        found = billing.owned(conn, "invoices", customer_id, invoice_id)
        return None if found is None else (found, billing.get(conn, "customers", customer_id) or {})

    found = await state.db.read(read)
    if found is None:
        raise APIError(404, "not_found", "No such invoice.")
    invoice, customer = found
    return JSONResponse({
        "invoice": portal.invoice(invoice),
        "receipt_url": "/receipt/?invoice=" + quote(invoice_id, safe=""),
        "customer": _receipt_customer(invoice, customer),
        "business": portal.business(state.config),
    })


LIST = {"type": "object", "properties": {
    "object": {"type": "string", "const": "list"}, "data": {"type": "array", "items": OBJECT},
    "has_more": {"type": "boolean"},
}}
OPERATIONS = [
    Operation("get", "/api/invoices", invoice_list, "The customer's invoices, newest first, a page at a time",
              answer=LIST, errors=(400, 403, 404), query=(
                  ("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": billing.INVOICE_PAGE}),
                  ("starting_after", {"type": "string", "description": "The last invoice id of the previous page"}),
              )),
    Operation("get", "/api/invoices/{id}", invoice, "One of the customer's invoices, with what its receipt shows",
              answer=returns(invoice=OBJECT, receipt_url={"type": "string"}, customer=OBJECT, business=OBJECT),
              errors=(403, 404)),
]
