"""`POST /v1/import`: the import file's objects, pushed live by the merchant's own systems (SPEC sections 10
and 11), so that Porch stays current as changes happen instead of by re-imported files.

The same objects as `python -m backend import FILE.json`, read by the same reader with the same
checks, written by the same function in one transaction: all of it or none of it, deleted objects
({"id", "object", "deleted": true}) removed. A refusal names the object at fault as `param`.

Stripe's SDKs send everything form-encoded, where every value is text. Stripe's objects have
numbers and flags, which the reader and the pages rely on, so the fields that are numbers or flags
in Stripe's objects are read as such from a form's text (FORM_NUMBERS, FORM_FLAGS); any other
field, and all of metadata, keeps the text it came as; and a list object with no "data" is an empty
list, which a form cannot say. JSON needs none of this."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from backend import importer, stripe_objects
from backend.config import Config
from backend.errors import APIError
from backend.jsonio import JSONResponse
from backend.merchant import Params, is_form
from backend.openapi import returns
from backend.pipeline import Edge, Endpoint
from backend.store import billing

# Stripe's integer fields among the objects Porch imports: amounts in minor units, Unix times, counts.
FORM_NUMBERS = frozenset({
    "amount", "amount_discount", "amount_due", "amount_off", "amount_overpaid", "amount_paid", "amount_remaining",
    "amount_shipping", "amount_subtotal", "amount_tax", "amount_total", "attempt_count", "balance",
    "billing_cycle_anchor", "cancel_at", "canceled_at", "completed_at", "computed_timestamp", "created",
    "current_period_end", "current_period_start", "day_of_month", "delay_days", "divide_by", "due_date",
    "duration_in_months", "effective_at", "end", "end_date", "ended_at", "ending_balance", "exp_month", "exp_year",
    "expires_at", "finalized_at", "height", "interval_count", "length", "marked_uncollectible_at",
    "max_redemptions", "next_invoice_sequence", "next_payment_attempt", "next_pending_invoice_item_invoice",
    "paid_at", "pending_webhooks", "period_end", "period_start", "post_payment_credit_notes_amount",
    "pre_payment_credit_notes_amount", "quantity", "redeem_by", "released_at", "resumes_at", "start",
    "start_date", "starting_balance", "subtotal", "subtotal_excluding_tax", "tax", "taxable_amount",
    "times_redeemed", "total", "total_excluding_tax", "trial_end", "trial_period_days", "trial_start",
    "unit_amount", "updated", "voided_at", "webhooks_delivered_at", "weight", "width",
})
FORM_FLAGS = frozenset({
    "active", "allow_promotion_codes", "attempted", "auto_advance", "cancel_at_period_end", "charges_enabled",
    "debit_negative_balances", "deleted", "delinquent", "details_submitted", "discountable", "enabled",
    "has_more", "inclusive", "livemode", "paid", "payouts_enabled", "proration", "supported", "valid",
})
FORM_DECIMALS = frozenset({"percent_off", "percentage"})
# The kinds that belong to one customer.
OWNED = ("payment_methods", "subscriptions", "invoices")
INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")


class ImportParams(Params):
    """The import file's keys, each a list of Stripe objects (or a Stripe list object)."""

    products: list[Any] | dict[str, Any] | None = None
    prices: list[Any] | dict[str, Any] | None = None
    plans: list[Any] | dict[str, Any] | None = None
    customers: list[Any] | dict[str, Any] | None = None
    payment_methods: list[Any] | dict[str, Any] | None = None
    subscriptions: list[Any] | dict[str, Any] | None = None
    invoices: list[Any] | dict[str, Any] | None = None


def _typed(name: str | None, value: Any) -> Any:
    if isinstance(value, str):
        if name in FORM_NUMBERS and INTEGER.fullmatch(value):
            return int(value)
        if name in FORM_FLAGS and value in ("true", "false"):
            return value == "true"
        if name in FORM_DECIMALS and DECIMAL.fullmatch(value):
            return float(value)
        return value
    if isinstance(value, dict):
        typed = {key: item if key == "metadata" else _typed(key, item) for key, item in value.items()}
        # A form cannot say an empty list, so Stripe's SDK leaves an empty list's "data" out.
        return typed | {"data": []} if typed.get("object") == "list" and "data" not in typed else typed
    if isinstance(value, list):
        return [_typed(name, item) for item in value]
    return value


def from_form(data: dict[str, Any]) -> dict[str, Any]:
    """Form text read as Stripe's objects have it: the numbers and flags among their fields as such."""
    typed: dict[str, Any] = _typed(None, data)
    return typed


def read(body: ImportParams, form: bool) -> stripe_objects.Batch:
    """The pushed objects, read and checked as the import file's are; 400 naming the object at fault."""
    data = body.model_dump(exclude_none=True)
    try:
        return stripe_objects.read_file(from_form(data) if form else data)
    except stripe_objects.ObjectError as exc:
        raise APIError(400, "invalid_import", str(exc), param=exc.at or None) from None


def customers_of(conn: sa.Connection, batch: stripe_objects.Batch) -> set[str]:
    """Every customer the batch changes: its customers, the owners of its objects, and the stored owners
    of the objects it deletes (a deletion names no customer)."""
    found = set(batch.objects["customers"]) | set(batch.deleted["customers"])
    for kind in OWNED:
        found |= {owner for obj in batch.objects[kind].values() if isinstance(owner := billing.ref(obj.get("customer")), str)}
        for object_id in batch.deleted[kind]:
            owner = billing.ref((billing.get(conn, kind, object_id) or {}).get("customer"))
            if isinstance(owner, str):
                found.add(owner)
    return found


def write(conn: sa.Connection, batch: stripe_objects.Batch) -> importer.Imported:
    """The batch written under the lock of every customer it changes, taken in order: a push lands before or
    after a customer's change in the portal, never in the middle of one (which holds the same lock)."""
    for customer in sorted(customers_of(conn, batch)):
        billing.lock_customer(conn, customer)
    return importer.write(conn, batch)


async def push(edge: Edge) -> Response:
    request, body = edge.request, edge.body
    config: Config = request.app.state.config
    if config.billing.engine == "stripe":
        raise APIError(409, "import_disabled", "billing.engine is stripe: Porch's data comes from the Stripe "
                                               "account (webhooks and `python -m backend sync`), not from imports.")
    # Off the event loop, as the parameters were read: a push may hold thousands of objects.
    batch = await run_in_threadpool(read, body, is_form(request))
    imported = await request.app.state.db.call(write, batch)
    return JSONResponse({"object": "import", "written": imported.written, "removed": imported.removed})


COUNTS = {"type": "object", "properties": {kind: {"type": "integer"} for kind in billing.KINDS}}
ENDPOINTS = [
    Endpoint("post", "/v1/import", "Store Stripe-shaped objects and remove deleted ones, all or nothing", push,
             auth="merchant", body=ImportParams,
             answer=returns(object={"type": "string", "enum": ["import"]}, written=COUNTS, removed=COUNTS),
             errors=(400, 409)),
]
