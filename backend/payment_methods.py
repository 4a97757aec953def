"""Customers choose their default payment method, remove one, or go to add one (features.payment_method_update).

Porch never sees card numbers: adding a card happens on a page of the merchant's payment
processor (add_url), and Porch learns of the new card when the merchant imports it."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response

from backend import auth, availability, event_types, idempotency, portal
from backend.config import Config
from backend.errors import APIError
from backend.events import Actor
from backend.guards import Body, json_body
from backend.jsonio import JSONResponse
from backend.openapi import OBJECT, Operation, returns
from backend.store import billing

ADD_URL_LIFETIME = 3600
RETURN_PATH = "/portal/?payment_method=added"


def _feature(config: Config) -> None:
    if refused := availability.payment_method_feature(config):
        raise refused


def _not_found() -> APIError:
    return APIError(404, "not_found", "No such payment method.")


def _set_default(
    conn: sa.Connection, config: Config, actor: Actor, customer: dict[str, Any], method_id: str | None
) -> dict[str, Any]:
    """Make a method the customer's default, with its customer.updated event."""
    settings = dict(customer.get("invoice_settings") or {})
    previous = {"invoice_settings": dict(settings)}
    settings["default_payment_method"] = method_id
    customer["invoice_settings"] = settings
    billing.upsert(conn, "customers", [customer])
    event_types.customer_updated(conn, config.webhooks, actor, customer, previous)
    return customer


async def make_default(request: Request) -> Response:
    customer_id = await auth.signed_in(request)
    config = request.app.state.config
    body = await json_body(request, Body)
    _feature(config)
    method_id = request.path_params["id"]

    def change(conn: sa.Connection, actor: Actor) -> tuple[int, dict[str, Any]] | APIError:
        if billing.owned(conn, "payment_methods", customer_id, method_id) is None:
            return _not_found()
        customer = billing.get(conn, "customers", customer_id) or {}
        if refused := availability.make_default_refusal(config, method_id, customer):
            return refused
        customer = _set_default(conn, config, actor, customer, method_id)
        methods = portal.payment_methods(config, customer, billing.payment_methods_of(conn, customer_id),
                                         billing.subscriptions_of(conn, customer_id))
        return 200, {"customer": portal.pick("customer", customer), "payment_methods": methods}

    return await idempotency.apply(request, customer_id, change, body)


async def remove(request: Request) -> Response:
    customer_id = await auth.signed_in(request)
    config = request.app.state.config
    body = await json_body(request, Body)
    _feature(config)
    method_id = request.path_params["id"]

    def change(conn: sa.Connection, actor: Actor) -> tuple[int, None] | APIError:
        method = billing.owned(conn, "payment_methods", customer_id, method_id)
        if method is None:
            return _not_found()
        methods = billing.payment_methods_of(conn, customer_id)
        subscriptions = billing.subscriptions_of(conn, customer_id)
        if refused := availability.remove_refusal(config, method_id, methods, subscriptions):
            return refused
        remaining = [m for m in methods if m["id"] != method_id]
        # Detached as Stripe does it: the method stays, belonging to nobody.
        method["customer"] = None
        billing.upsert(conn, "payment_methods", [method])
        event_types.payment_method_detached(conn, config.webhooks, actor, method)
        customer = billing.get(conn, "customers", customer_id) or {}
        if availability.default_of(customer) == method_id:
            _set_default(conn, config, actor, customer, remaining[0]["id"] if remaining else None)
        # A subscription that named this method falls back to the customer's default, as Stripe's does.
        for sub in subscriptions:
            if billing.ref(sub.get("default_payment_method")) == method_id:
                sub["default_payment_method"] = None
                billing.upsert(conn, "subscriptions", [sub])
                event_types.subscription_updated(conn, config.webhooks, actor, sub,
                                                 {"default_payment_method": method_id})
        return 204, None

    return await idempotency.apply(request, customer_id, change, body)


def add_url(config: Config, key: bytes, customer_id: str, now: int) -> str:
    """The merchant's add-card page with customer, return_url, expires and signature appended.
    The signature is the hex HMAC-SHA256 of the three parameters exactly as encoded here.

    Everything in it comes from the config, never from the request: a Host header of the
    attacker's choosing would otherwise be signed into a return_url that leads to their site."""
    feature = config.features.payment_method_update
    # parse_config refuses an add_url without login_link.url (SPEC section 7, "URLs").
    assert feature.add_url is not None and config.login_link.url is not None
    return_url = config.login_link.url.rstrip("/") + RETURN_PATH
    signed = urlencode([("customer", customer_id), ("return_url", return_url), ("expires", str(now + ADD_URL_LIFETIME))])
    query = signed + "&" + urlencode([("signature", hmac.new(key, signed.encode(), hashlib.sha256).hexdigest())])
    parts = urlsplit(feature.add_url)
    return urlunsplit(parts._replace(query=f"{parts.query}&{query}" if parts.query else query))


async def add(request: Request) -> Response:
    customer_id = await auth.signed_in(request)
    state = request.app.state
    config: Config = state.config
    await json_body(request, Body)
    _feature(config)
    feature = config.features.payment_method_update
    if not feature.add_url:
        raise APIError(403, "feature_disabled",
                       "Adding a payment method is not set up: features.payment_method_update.add_url is unset.")
    # parse_config refuses an add_url without signing_secret_env, and the app does not start
    # while the variable it names is unset (events.signing_secrets), so this finds the key.
    assert feature.signing_secret_env is not None
    key = state.settings.secret(feature.signing_secret_env)
    return JSONResponse({"url": add_url(config, key, customer_id, auth.now(request))})


OPERATIONS = [
    Operation("post", "/api/payment_methods/add", add, "Where to send the customer to add a payment method",
              Body, answer=returns(url={"type": "string"}), idempotent=False),
    Operation("post", "/api/payment_methods/{id}/default", make_default, "Make a payment method the default",
              Body, answer=returns(customer=OBJECT, payment_methods={"type": "array", "items": OBJECT}),
              errors=(404, 409)),
    Operation("delete", "/api/payment_methods/{id}", remove, "Remove a payment method from the customer",
              Body, 204, None, errors=(404, 409)),
]
