"""Sign-in, sign-out, the portal's data and health: the API's read side (SPEC section 6)."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from backend import accounts, auth, i18n, portal, sessions, signin
from backend.errors import APIError
from backend.guards import Body, json_body
from backend.jsonio import JSONResponse
from backend.openapi import OBJECT, Operation, openapi_json, returns
from backend.store import billing


class CodeRequest(Body):
    email: str = Field(max_length=320, json_schema_extra={"format": "email"})
    locale: str | None = Field(
        None, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$",
        description="The language of the code email, such as de or pt-BR; else the Accept-Language header's.",
    )


class VerifyRequest(Body):
    challenge: str = Field(min_length=16, max_length=128)
    code: str = Field(pattern=r"^[0-9]{6}$")


def _login_enabled(request: Request) -> None:
    if not request.app.state.config.login_link.enabled:
        raise APIError(404, "login_disabled", "Sign-in is switched off for this portal.")


async def login_code(request: Request) -> Response:
    _login_enabled(request)
    body = await json_body(request, CodeRequest)
    email = signin.normalise_email(body.email)
    state = request.app.state
    config = state.config
    asked = [body.locale] if body.locale else i18n.accepted(request.headers.get("accept-language", ""))
    locale = i18n.match(asked, config.locales.offered) or config.locales.default
    challenge = await state.db.call(signin.request_code, state.secret, email, auth.client_address(request), auth.now(request), locale)
    state.mail_worker.wake.set()
    return JSONResponse({"challenge": challenge}, status_code=202)


async def login_verify(request: Request) -> Response:
    _login_enabled(request)
    body = await json_body(request, VerifyRequest)
    state = request.app.state
    now = auth.now(request)
    address = auth.client_address(request)

    def verify_and_open(conn: Any) -> tuple[dict[str, Any], str] | APIError:
        proof = signin.verify_code(conn, state.secret, body.challenge, body.code, address, now)
        if isinstance(proof, APIError):
            return proof
        token = sessions.create(conn, state.secret, proof.customer, now, proof.email)
        return billing.get(conn, "customers", proof.customer) or {}, token

    outcome = await state.db.call(verify_and_open)
    if isinstance(outcome, APIError):
        raise outcome
    customer, token = outcome
    response = JSONResponse({"customer": portal.pick("customer", customer)})
    auth.set_session_cookie(request, response, token)
    return response


async def logout(request: Request) -> Response:
    await json_body(request, Body)
    state = request.app.state
    token = auth.session_token(request)
    if token:
        await state.db.call(sessions.revoke, state.secret, token)
    response = Response(status_code=204)
    secure = auth.secure(request)
    response.delete_cookie(sessions.cookie_name(secure), path="/", secure=secure, httponly=True, samesite="lax")
    return response


def _portal_and_accounts(conn: Any, session: sessions.Live) -> tuple[dict[str, Any] | None, list[dict[str, Any]] | None]:
    return billing.portal(conn, session.customer), accounts.listed(conn, session)


async def portal_data(request: Request) -> Response:
    _, (data, others) = await auth.read_session(request, _portal_and_accounts)
    if data is None:
        raise APIError(401, "not_signed_in", "Sign in to continue.")
    state = request.app.state
    shown = portal.view(state.config, data, state.portal_shared)
    # Only when there is a choice: most customers have one account, and their answer stays as it was.
    return JSONResponse(shown if others is None else shown | {"accounts": others})


async def health(request: Request) -> Response:
    if await run_in_threadpool(request.app.state.db.ping):
        return JSONResponse({"status": "ok"})
    return JSONResponse({"error": {"code": "unavailable", "message": "The store does not answer."}}, status_code=503)


OPERATIONS = [
    Operation("post", "/api/login/code", login_code, "Mail a one-time code to a customer's email", CodeRequest,
              202, returns(challenge={"type": "string"}), private=False, errors=(400, 404, 413, 415, 429)),
    Operation("post", "/api/login/verify", login_verify, "Exchange a challenge and its code for a session cookie",
              VerifyRequest, 200, returns(customer=OBJECT), private=False, errors=(400, 401, 404, 413, 415, 429)),
    Operation("post", "/api/logout", logout, "Revoke the session", Body, 204, None, private=False, errors=(400, 415)),
    Operation("get", "/api/portal", portal_data, "Everything the portal shows of the signed-in customer",
              answer={"type": "object", "properties": {k: OBJECT for k in ("customer", "business", "features")}
                      | {k: {"type": "array", "items": OBJECT} for k in ("subscriptions", "invoices", "payment_methods")}
                      | {"accounts": {"type": "array", "items": OBJECT, "description":
                         "Every customer with the signed-in email address, when there are two or more: "
                         "POST /api/accounts/{id}/switch moves the session to one."}}}),
    Operation("get", "/api/health", health, "200 when the store answers, 503 otherwise", private=False, errors=(503,)),
    Operation("get", "/api/openapi.json", openapi_json, "This document", private=False),
]
