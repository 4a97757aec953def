"""Customers change their own billing details (features.customer_update); never the email."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from backend import auth, events, idempotency, portal
from backend.errors import APIError
from backend.events import Actor
from backend.guards import Body, json_body
from backend.openapi import OBJECT, Operation, returns
from backend.store import billing


class Address(Body):
    line1: str | None = Field(None, max_length=200)
    line2: str | None = Field(None, max_length=200)
    city: str | None = Field(None, max_length=200)
    state: str | None = Field(None, max_length=200)
    postal_code: str | None = Field(None, max_length=40)
    country: str | None = Field(None, pattern=r"^[A-Z]{2}$")


class Shipping(Body):
    name: str = Field(max_length=200)
    phone: str | None = Field(None, max_length=40)
    address: Address


class CustomerUpdate(Body):
    # Accepted only to be refused by name: nobody changes an email through the login link.
    email: str | None = None
    name: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=40)
    address: Address | None = None
    shipping: Shipping | None = None


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
    refused = [name for name in changes if name not in feature.allowed_updates]
    if refused:
        raise APIError(403, "feature_disabled", f"Changing '{refused[0]}' is not allowed.")

    def apply(conn: sa.Connection, actor: Actor) -> tuple[int, dict[str, Any]]:
        customer = billing.get(conn, "customers", customer_id) or {}
        previous = {name: customer.get(name) for name in changes}
        customer.update(changes)
        billing.upsert(conn, "customers", [customer])
        events.record(conn, config.webhooks, actor, "customer.updated", portal.pick("customer", customer), previous)
        return 200, {"customer": portal.pick("customer", customer)}

    return await idempotency.apply(request, customer_id, apply, body)


OPERATIONS = [
    Operation("patch", "/api/customer", update_customer, "Change the customer's billing details (never the email)",
              CustomerUpdate, answer=returns(customer=OBJECT)),
]
