"""The HTTP API's endpoints (SPEC section 6): they parse, call the domain, and shape answers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from backend import portal, sessions, signin
from backend.errors import APIError
from backend.guards import json_body
from backend.store import billing


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=2000)


class CodeRequest(Body):
    email: str = Field(max_length=320)
    locale: str = Field("en", pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class VerifyRequest(Body):
    challenge: str = Field(min_length=16, max_length=128)
    code: str = Field(pattern=r"^[0-9]{6}$")


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


def _now(request: Request) -> int:
    return int(request.app.state.clock())


def _secure(request: Request) -> bool:
    # Secure may be dropped only on plain-HTTP localhost, where browsers would refuse it.
    return not (request.url.scheme == "http" and request.url.hostname in ("localhost", "127.0.0.1", "::1"))


def _session_token(request: Request) -> str | None:
    return request.cookies.get(sessions.cookie_name(_secure(request)))


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def signed_in(request: Request) -> str:
    """The customer id of the request's live session, or 401."""
    token = _session_token(request)
    state = request.app.state
    customer = token and await state.db.call(sessions.customer_for, state.secret, token, _now(request))
    if not customer:
        raise APIError(401, "not_signed_in", "Sign in to continue.")
    return customer


def _login_enabled(request: Request) -> None:
    if not request.app.state.config.login_link.enabled:
        raise APIError(404, "login_disabled", "Sign-in is switched off for this portal.")


async def login_code(request: Request) -> Response:
    _login_enabled(request)
    body = await json_body(request, CodeRequest)
    email = signin.normalise_email(body.email)
    state = request.app.state
    challenge = await state.db.call(signin.request_code, state.secret, email, _client(request), _now(request), body.locale)
    state.mail_worker.wake.set()
    return JSONResponse({"challenge": challenge}, status_code=202)


async def login_verify(request: Request) -> Response:
    _login_enabled(request)
    body = await json_body(request, VerifyRequest)
    state = request.app.state
    now = _now(request)

    def verify_and_open(conn: Any) -> tuple[dict[str, Any], str] | APIError:
        customer = signin.verify_code(conn, state.secret, body.challenge, body.code, now)
        if isinstance(customer, APIError):
            return customer
        return billing.get(conn, "customers", customer) or {}, sessions.create(conn, state.secret, customer, now)

    outcome = await state.db.call(verify_and_open)
    if isinstance(outcome, APIError):
        raise outcome
    customer, token = outcome
    response = JSONResponse({"customer": portal.pick("customer", customer)})
    secure = _secure(request)
    response.set_cookie(
        sessions.cookie_name(secure), token, max_age=sessions.ABSOLUTE, path="/", secure=secure, httponly=True,
        samesite="lax",
    )
    return response


async def logout(request: Request) -> Response:
    await json_body(request, Body)
    state = request.app.state
    token = _session_token(request)
    if token:
        await state.db.call(sessions.revoke, state.secret, token)
    response = Response(status_code=204)
    secure = _secure(request)
    response.delete_cookie(sessions.cookie_name(secure), path="/", secure=secure, httponly=True, samesite="lax")
    return response


async def portal_data(request: Request) -> Response:
    customer = await signed_in(request)
    data = await request.app.state.db.read(billing.portal, customer)
    if data is None:
        raise APIError(401, "not_signed_in", "Sign in to continue.")
    return JSONResponse(portal.view(request.app.state.config, data))


async def update_customer(request: Request) -> Response:
    customer_id = await signed_in(request)
    state = request.app.state
    body = await json_body(request, CustomerUpdate)
    if "email" in body.model_fields_set:
        raise APIError(403, "email_locked", "The email address cannot be changed here.")
    feature = state.config.features.customer_update
    if not feature.enabled:
        raise APIError(403, "feature_disabled", "Updating billing details is switched off.")
    changes = body.model_dump(exclude_unset=True, exclude={"email"})
    allowed = set(feature.allowed_updates)
    refused = [field for field in changes if field not in allowed]
    if refused:
        raise APIError(403, "feature_disabled", f"Changing '{refused[0]}' is not allowed.")

    def apply(conn: Any) -> dict[str, Any]:
        customer = billing.get(conn, "customers", customer_id) or {}
        customer.update(changes)
        billing.upsert(conn, "customers", [customer])
        return customer

    customer = await state.db.call(apply)
    return JSONResponse({"customer": portal.pick("customer", customer)})


async def invoice(request: Request) -> Response:
    customer = await signed_in(request)
    state = request.app.state
    if not state.config.features.invoice_history.enabled:
        raise APIError(403, "feature_disabled", "Invoice history is switched off.")
    found = await state.db.read(billing.owned, "invoices", customer, request.path_params["id"])
    if found is None:
        raise APIError(404, "not_found", "No such invoice.")
    return JSONResponse({"invoice": portal.pick("invoice", found)})


async def health(request: Request) -> Response:
    if await run_in_threadpool(request.app.state.db.ping):
        return JSONResponse({"status": "ok"})
    return JSONResponse({"error": {"code": "unavailable", "message": "The store does not answer."}}, status_code=503)
