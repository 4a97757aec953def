"""Sign-in, sign-out, the portal's data and health: the API's read side (SPEC section 6)."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from backend import accounts, auth, availability, portal, sessions, signin
from backend.errors import APIError
from backend.guards import Body
from backend.jsonio import JSONResponse
from backend.openapi import OBJECT, returns
from backend.pipeline import Edge, Endpoint, locale
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
    framed: bool = Field(False, description=(
        "Whether the sign-in page is in a frame: the session cookie is then SameSite=None and Partitioned, "
        "the only kind a browser keeps in a frame on another site."))


async def login_code(edge: Edge) -> Response:
    request, body = edge.request, edge.body
    email = signin.normalise_email(body.email)
    state = request.app.state
    spoken = locale(request, state.config, body.locale)
    challenge = await state.db.call_grouped(
        signin.request_code, state.secret, email, auth.client_address(request), auth.now(request), spoken)
    state.mail_worker.wake.set()
    return JSONResponse({"challenge": challenge}, status_code=202)


async def login_verify(edge: Edge) -> Response:
    request, body = edge.request, edge.body
    state = request.app.state
    now = auth.now(request)
    address = auth.client_address(request)

    def verify_and_open(conn: Any) -> tuple[dict[str, Any], str]:
        # A wrong code raises errors.Refused: the failed try is counted and committed, then refused.
        proof = signin.verify_code(conn, state.secret, body.challenge, body.code, address, now)
        token = sessions.create(conn, state.secret, proof.customer, now, proof.email)
        return billing.get(conn, "customers", proof.customer) or {}, token

    customer, token = await state.db.call_grouped(verify_and_open)
    response = JSONResponse({"customer": portal.pick("customer", customer)})
    auth.set_session_cookie(request, response, token, body.framed)
    return response


async def logout(edge: Edge) -> Response:
    request = edge.request
    state = request.app.state
    token = auth.session_token(request)
    if token:
        await state.db.call(sessions.revoke, state.secret, token)
    response = Response(status_code=204)
    auth.clear_session_cookies(request, response)
    return response


def _portal_and_accounts(conn: Any, session: sessions.Live) -> tuple[dict[str, Any] | None, list[dict[str, Any]] | None]:
    return billing.portal(conn, session.customer), accounts.listed(conn, session)


async def portal_data(edge: Edge) -> Response:
    """Its own session check: the portal's hot path reads the session and the data in one read."""
    request = edge.request
    session, (data, others) = await auth.read_session(request, _portal_and_accounts)
    if data is None:
        raise APIError(401, "not_signed_in", "Sign in to continue.")
    state = request.app.state
    config = auth.configured(state.config, session)
    shown = portal.view(config, data, state.portal_shared[session.configuration]) | {
        "return_url": session.return_url or config.default_return_url}
    # Only when there is a choice: most customers have one account, and their answer stays as it was.
    return JSONResponse(shown if others is None else shown | {"accounts": others})


async def health(edge: Edge) -> Response:
    if await run_in_threadpool(edge.request.app.state.db.ping):
        return JSONResponse({"status": "ok"})
    return JSONResponse({"error": {"code": "unavailable", "message": "The store does not answer."}}, status_code=503)


async def openapi_json(edge: Edge) -> Response:
    return JSONResponse(edge.request.app.openapi)


ENDPOINTS = [
    Endpoint("post", "/api/login/code", "Mail a one-time code to a customer's email", login_code, auth="none",
             feature=availability.login_feature, body=CodeRequest, status=202,
             answer=returns(challenge={"type": "string"}), errors=(400, 404, 413, 415, 429)),
    Endpoint("post", "/api/login/verify", "Exchange a challenge and its code for a session cookie", login_verify,
             auth="none", feature=availability.login_feature, body=VerifyRequest,
             answer=returns(customer=OBJECT), errors=(400, 401, 404, 413, 415, 429)),
    Endpoint("post", "/api/logout", "Revoke the session", logout, auth="none", body=Body, status=204, answer=None,
             errors=(400, 415)),
    Endpoint("get", "/api/portal", "Everything the portal shows of the signed-in customer", portal_data,
             auth="session", checks_session=True,
             answer={"type": "object", "properties": {k: OBJECT for k in ("customer", "business", "features")}
                     | {k: {"type": "array", "items": OBJECT} for k in ("subscriptions", "invoices", "payment_methods")}
                     | {"return_url": {"type": ["string", "null"], "description":
                        "Where the customer goes back to: the portal session's return_url, else the "
                        "configuration's default_return_url."}}
                     | {"accounts": {"type": "array", "items": OBJECT, "description":
                        "Every customer with the signed-in email address, when there are two or more: "
                        "POST /api/accounts/{id}/switch moves the session to one."}}}),
    Endpoint("get", "/api/health", "200 when the store answers, 503 otherwise", health, auth="none", errors=(503,)),
    Endpoint("get", "/api/openapi.json", "This document", openapi_json, auth="none"),
]
