"""Customers change their own billing details (features.customer_update); never the email."""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from backend import addresses, auth, event_types, idempotency, portal, tax_ids
from backend.errors import APIError
from backend.events import Actor
from backend.guards import Body, json_body
from backend.openapi import OBJECT, Operation, returns
from backend.store import billing

# Body field -> its name in features.customer_update.allowed_updates.
ALLOWED_AS = {"name": "name", "phone": "phone", "address": "address", "shipping": "shipping", "tax_ids": "tax_id"}


class Address(Body):
    line1: str | None = Field(None, max_length=200)
    line2: str | None = Field(None, max_length=200)
    city: str | None = Field(None, max_length=200)
    state: str | None = Field(None, max_length=200)
    postal_code: str | None = Field(None, max_length=40)
    country: str | None = Field(None, max_length=100, description="ISO 3166-1 alpha-2 code, such as DE")


class Shipping(Body):
    name: str = Field(max_length=200)
    phone: str | None = Field(None, max_length=40)
    address: Address


class TaxId(Body):
    type: str = Field(max_length=40, description="One of Stripe's tax_id types, such as eu_vat, gb_vat or au_abn")
    value: str = Field(max_length=60)


class CustomerUpdate(Body):
    # Accepted only to be refused by name: nobody changes an email through the login link.
    email: str | None = None
    name: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=40)
    address: Address | None = None
    shipping: Shipping | None = None
    tax_ids: list[TaxId] | None = Field(
        None, json_schema_extra={"maxItems": tax_ids.MAX},
        description="Replaces the customer's tax ids; null or [] removes them all.",
    )


def _invalid(code: str, problem: addresses.Invalid) -> APIError:
    return APIError(400, code, problem.message, param=problem.param, example=problem.example)


def _country(address: dict[str, Any] | None) -> str | None:
    """The address's country where it is one, for reading a phone number written without +."""
    code = str((address or {}).get("country") or "").strip().upper()
    return code if code in addresses.countries() else None


def _checked(changes: dict[str, Any], on_file: dict[str, Any]) -> dict[str, Any] | APIError:
    """The changes normalised, checked in the order the form shows them; the first problem is a
    400 naming its field. A phone number is read in the country of the address it goes with:
    the one sent with it, else the one on file."""
    out = dict(changes)
    home = _country(changes["address"] if "address" in changes else on_file.get("address"))
    try:
        if "phone" in changes:
            out["phone"] = addresses.phone(changes["phone"], "phone", home)
        if changes.get("address") is not None:
            out["address"] = addresses.address(changes["address"], "address")
        shipping = changes.get("shipping")
        if shipping is not None:
            name = " ".join(shipping["name"].split())
            if not name:
                raise addresses.Invalid("Enter the name of the person who receives deliveries.", "shipping.name")
            out["shipping"] = {
                "name": name,
                "phone": addresses.phone(shipping.get("phone"), "shipping.phone", _country(shipping["address"]) or home),
                "address": addresses.address(shipping["address"], "shipping.address"),
            }
    except addresses.Invalid as problem:
        return _invalid("invalid_phone" if problem.param.endswith("phone") else "invalid_address", problem)
    return out


def _tax_ids(wanted: list[dict[str, str]] | None, current: dict[str, Any] | None) -> dict[str, Any] | APIError:
    """The new tax id list; ids already on file keep their id, and their value even when Porch
    does not know their type (imported from the payment processor)."""
    wanted = wanted or []
    if len(wanted) > tax_ids.MAX:
        return APIError(400, "invalid_tax_id", f"You can add up to {tax_ids.MAX} tax IDs.", param="tax_ids")
    on_file = {(t.get("type"), t.get("value")): t for t in (current or {}).get("data", [])}
    data: list[dict[str, Any]] = []
    for n, item in enumerate(wanted):
        kept = on_file.get((item["type"], item["value"]))
        if kept is not None:
            entry = kept
        else:
            try:
                value, country = tax_ids.check(item["type"], item["value"], f"tax_ids[{n}].value", f"tax_ids[{n}].type")
            except addresses.Invalid as problem:
                return _invalid("invalid_tax_id", problem)
            entry = on_file.get((item["type"], value)) or {
                "id": "txi_" + secrets.token_hex(12), "object": "tax_id", "type": item["type"], "value": value,
                "country": country,
            }
        if any(e["type"] == entry["type"] and e["value"] == entry["value"] for e in data):
            return APIError(400, "duplicate_tax_id", "This tax ID is already in the list.", param=f"tax_ids[{n}].value")
        data.append(entry)
    return {"object": "list", "data": data}


async def update_customer(request: Request) -> Response:
    customer_id = await auth.signed_in(request)
    config = request.app.state.config
    body = await json_body(request, CustomerUpdate)
    if "email" in body.model_fields_set:
        raise APIError(403, "email_locked", "The email address cannot be changed here.")
    feature = config.features.customer_update
    if not feature.enabled:
        raise APIError(403, "feature_disabled", "Updating billing details is switched off.")
    changes = body.model_dump(exclude_unset=True, exclude={"email"})
    refused = [name for name in changes if ALLOWED_AS[name] not in feature.allowed_updates]
    if refused:
        raise APIError(403, "feature_disabled", f"Changing '{refused[0]}' is not allowed.")

    def apply(conn: sa.Connection, actor: Actor) -> tuple[int, dict[str, Any]] | APIError:
        customer = billing.get(conn, "customers", customer_id) or {}
        update = _checked(changes, customer)
        if isinstance(update, APIError):
            return update
        if "tax_ids" in update:
            listed = _tax_ids(update["tax_ids"], customer.get("tax_ids"))
            if isinstance(listed, APIError):
                return listed
            update["tax_ids"] = listed
        previous = {name: customer.get(name) for name in update}
        customer.update(update)
        billing.upsert(conn, "customers", [customer])
        event_types.customer_updated(conn, config.webhooks, actor, customer, previous)
        return 200, {"customer": portal.pick("customer", customer)}

    return await idempotency.apply(request, customer_id, apply, body)


OPERATIONS = [
    Operation("patch", "/api/customer", update_customer, "Change the customer's billing details (never the email)",
              CustomerUpdate, answer=returns(customer=OBJECT)),
]
