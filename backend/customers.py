"""Customers change their own billing details (features.customer_update); never the email."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from backend import addresses, availability, changes, portal, tax_ids
from backend.billing_types import Customer
from backend.config import Config
from backend.context import Context
from backend.errors import APIError
from backend.guards import Body
from backend.openapi import OBJECT, returns
from backend.pipeline import Endpoint
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


def _checked(changes: dict[str, Any], on_file: dict[str, Any]) -> dict[str, Any]:
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
        raise _invalid("invalid_phone" if problem.param.endswith("phone") else "invalid_address", problem) from None
    return out


def _tax_ids(wanted: list[dict[str, str]] | None, current: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The new tax ids, a plain list as the engines take it; ids already on file keep their id, and
    their value even when Porch does not know their type (imported from the payment processor). New
    ones have no id: the engine gives them theirs."""
    wanted = wanted or []
    if len(wanted) > tax_ids.MAX:
        raise APIError(400, "invalid_tax_id", f"You can add up to {tax_ids.MAX} tax IDs.", param="tax_ids")
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
                raise _invalid("invalid_tax_id", problem) from None
            entry = on_file.get((item["type"], value)) or {
                "object": "tax_id", "type": item["type"], "value": value, "country": country,
            }
        if any(e["type"] == entry["type"] and e["value"] == entry["value"] for e in data):
            raise APIError(400, "duplicate_tax_id", "This tax ID is already in the list.", param=f"tax_ids[{n}].value")
        data.append(entry)
    return data


def refusal(config: Config, fields: set[str]) -> APIError | None:
    """Why these fields may not be changed, or None. The email never is: nobody changes it through
    the login link."""
    if "email" in fields:
        return APIError(403, "email_locked", "The email address cannot be changed here.")
    allowed = config.features.customer_update.allowed_updates
    refused = [name for name in ALLOWED_AS if name in fields and ALLOWED_AS[name] not in allowed]
    if refused:
        return APIError(403, "feature_disabled", f"Changing '{refused[0]}' is not allowed.")
    return None


def update(ctx: Context, wanted: dict[str, Any]) -> Customer:
    """Change the customer's billing details: checked and normalised here, made by the engine."""
    if refused := refusal(ctx.config, set(wanted)):
        raise refused
    customer = Customer.of(billing.get(ctx.conn, "customers", ctx.customer) or {"id": ctx.customer})
    checked = _checked(wanted, customer.data)
    if "tax_ids" in checked:
        checked["tax_ids"] = _tax_ids(checked["tax_ids"], customer.data.get("tax_ids"))
    after = ctx.engine.update_customer(ctx.call, customer, checked)
    changes.customer(ctx, after)
    return Customer.of(after)


def _update(ctx: Context) -> dict[str, Any]:
    body: CustomerUpdate = ctx.body
    customer = update(ctx, body.model_dump(exclude_unset=True))
    return {"customer": portal.pick("customer", customer.data)}


ENDPOINTS = [
    Endpoint("patch", "/api/customer", "Change the customer's billing details (never the email)", _update,
             feature=availability.customer_update_feature, body=CustomerUpdate, idempotent=True,
             answer=returns(customer=OBJECT)),
]
