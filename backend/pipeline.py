"""The API's endpoints as one table, run by one pipeline.

Each Endpoint says what the OpenAPI document says of it (backend/openapi.py): who may call it,
which feature it needs, what body it takes, whether it is a change. The pipeline enforces exactly
that, in order and once per request:

1. auth: "session" endpoints answer 401 without a live session; "merchant" endpoints (the
   merchant's API under /v1/) 401 without a live secret key (backend/merchant.py);
2. feature: the endpoint's availability check (config -> refusal or None) refuses when it is off;
3. body: parsed into the endpoint's model (backend/guards.py: capped, no unknown fields; on a
   merchant endpoint, form-encoded or JSON parameters, backend/merchant.py);
4. the handler, in one transaction:
   - idempotent endpoints (changes) through idempotency.apply: the customer's lock, the change
     limit and the Idempotency-Key replay, the handler's writes committed with them or not at all;
   - other endpoints in a read-only transaction;
   and the handler's dict is the answer (None: no body).

A handler gets a Context (backend/context.py): no request, so what it does is the business
layer's, testable without HTTP. The few endpoints that must touch the request itself (cookies,
the health probe) have an async handler, given an Edge, that answers with a Response."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from backend import auth, i18n, idempotency, keys, merchant
from backend.config import Config
from backend.context import Context
from backend.engine import Call
from backend.errors import APIError
from backend.events import Actor
from backend.guards import json_body
from backend.jsonio import JSONResponse
from backend.openapi import OBJECT, Operation

Feature = Callable[[Config], "APIError | None"]


@dataclass(frozen=True)
class Edge:
    """What an async handler gets: the request itself, the signed-in customer ("" on a public
    endpoint) and the parsed body."""

    request: Request
    customer: str
    body: Any


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    summary: str
    # (Context) -> dict | None, run in a transaction; or async (Edge) -> Response.
    handler: Callable[..., Any]
    auth: Literal["none", "session", "merchant"] = "session"
    feature: Feature | None = None
    body: type[BaseModel] | None = None
    # A change: runs through idempotency.apply (SPEC section 6) and counts against the customer's limit.
    idempotent: bool = False
    status: int = 200
    answer: dict[str, Any] | None = field(default_factory=lambda: OBJECT)
    errors: tuple[int, ...] = ()
    query: tuple[tuple[str, dict[str, Any]], ...] = ()
    # An edge handler that reads the session together with its data, in one transaction (auth.read_session):
    # the portal's hot path pays for one read, not two. It answers 401 all the same.
    checks_session: bool = False

    def operation(self) -> Operation:
        errors = set(self.errors) | ({403} if self.feature is not None else set())
        return Operation(
            self.method, self.path, partial(run, self), self.summary, self.body, self.status, self.answer,
            private=self.auth == "session", errors=tuple(sorted(errors)), query=self.query,
            idempotent=self.idempotent, merchant=self.auth == "merchant",
        )


def locale(request: Request, config: Config, asked: str | None = None) -> str:
    """The customer's language: `asked`, else their Accept-Language, among the offered ones."""
    wanted = [asked] if asked else i18n.accepted(request.headers.get("accept-language", ""))
    return i18n.match(wanted, config.locales.offered) or config.locales.default


def _answer(status: int, body: dict[str, Any] | None) -> Response:
    return Response(status_code=status) if body is None else JSONResponse(body, status_code=status)


async def run(endpoint: Endpoint, request: Request) -> Response:
    state = request.app.state
    checked = endpoint.auth == "session" and not endpoint.checks_session
    session = await auth.signed_in(request) if checked else None
    customer = session.customer if session is not None else ""
    # A session sees its configuration's settings: which features it may use, the business, the plans.
    config: Config = auth.configured(state.config, session) if session is not None else state.config
    return_url = session.return_url if session is not None and session.return_url else config.default_return_url
    if endpoint.auth == "merchant":
        await merchant.authenticate(request)
    if endpoint.feature is not None and (refused := endpoint.feature(config)):
        raise refused
    read_body = merchant.params if endpoint.auth == "merchant" else json_body
    body = await read_body(request, endpoint.body) if endpoint.body is not None else None
    if inspect.iscoroutinefunction(endpoint.handler):
        response: Response = await endpoint.handler(Edge(request, customer, body))
        return response
    spoken = locale(request, config)

    def context(conn: sa.Connection, actor: Actor, key: str) -> Context:
        return Context(conn, config, actor, state.engine, Call(conn, actor, key, spoken), request.path_params, body,
                       request.query_params, return_url)

    if endpoint.idempotent:
        def change(conn: sa.Connection, actor: Actor, key: str) -> tuple[int, dict[str, Any] | None]:
            return endpoint.status, endpoint.handler(context(conn, actor, key))

        return await idempotency.apply(request, customer, change, body)

    actor = Actor(customer, auth.client_address(request), auth.now(request))

    def read(conn: sa.Connection) -> dict[str, Any] | None:
        return endpoint.handler(context(conn, actor, keys.token()))

    # A GET only reads the store (inline on SQLite, see Database.read); a POST that does not change
    # anything may still ask the engine, which may be a network call, so it runs off the event loop.
    found = await (state.db.read(read) if endpoint.method == "get"
                   else run_in_threadpool(state.db.run, read, write=False))
    return _answer(endpoint.status, found)
