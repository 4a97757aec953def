"""The Starlette application: routes, middleware and the background work it runs."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sys
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any, cast

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from backend import (
    accounts,
    api,
    configurations,
    customers,
    event_types,
    i18n,
    idempotency,
    invoices,
    payment_methods,
    plans,
    portal,
    portal_sessions,
    push,
    ratelimit,
    sessions,
    signin,
    stripe_api,
    stripe_webhooks,
    subscriptions,
)
from backend.config import Config
from backend.engine import Engine
from backend.errors import APIError, api_error, error_at, internal_error
from backend.events import WebhookWorker, signing_secrets
from backend.front import Front
from backend.guards import API_PREFIXES, Guard
from backend.local_engine import LocalEngine
from backend.mailer import MailWorker, Transport
from backend.openapi import document
from backend.settings import Settings, SettingsError
from backend.static import NOT_A_PAGE, Site
from backend.store.database import Database, create_engine

log = logging.getLogger("porch")
HOUSEKEEPING_EVERY = 600
# How long a stop waits for a mail or webhook in flight before it cancels the send.
STOP_GRACE = 10


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    path = request.url.path
    if not path.startswith(API_PREFIXES):
        return Response(exc.detail, status_code=exc.status_code, headers={**NOT_A_PAGE, **(exc.headers or {})})
    code, message = {
        404: ("not_found", "No such API endpoint."),
        405: ("method_not_allowed", "This endpoint does not take that method."),
    }.get(exc.status_code, ("http_error", str(exc.detail)))
    return error_at(path, exc.status_code, code, message, exc.headers)


async def database_error(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable: %s", exc)
    return error_at(request.url.path, 503, "unavailable", "The service is briefly unavailable. Try again in a moment.",
                    {"Retry-After": "5"})


async def server_error(request: Request, exc: Exception) -> Response:
    return internal_error(NOT_A_PAGE, request.url.path)


class Porch(Starlette):
    """Starlette with Front (backend/front.py) in place of its stack of middleware: Front answers the
    exceptions that Starlette's ServerErrorMiddleware and ExceptionMiddleware would."""

    def __init__(self, front: Callable[[ASGIApp], Front], **kwargs: Any):
        super().__init__(**kwargs)
        self.front = front

    def build_middleware_stack(self) -> ASGIApp:
        return self.front(self.router)

    @functools.cached_property
    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document of the routes, made when first asked for: pydantic's JSON Schemas of every
        body took a third of create_app, before the first answer the start waits for."""
        return document(OPERATIONS) | {"webhooks": event_types.openapi_webhooks()}


# The API, one table (backend/pipeline.py): every route, and the OpenAPI document that describes it.
ENDPOINTS = (
    api.ENDPOINTS + customers.ENDPOINTS + subscriptions.ENDPOINTS + plans.ENDPOINTS
    + payment_methods.ENDPOINTS + invoices.ENDPOINTS + accounts.ENDPOINTS + stripe_webhooks.ENDPOINTS
    + push.ENDPOINTS + portal_sessions.ENDPOINTS + configurations.ENDPOINTS
)
OPERATIONS = [endpoint.operation() for endpoint in ENDPOINTS]
ROUTES: list[BaseRoute] = [op.route() for op in OPERATIONS]


def billing_engine(settings: Settings, config: Config) -> Engine:
    """The engine config.yaml's billing.engine names. The stripe engine needs its key now, so that a
    missing one stops the start, named, instead of failing the first customer's change."""
    if config.billing.engine == "local":
        return LocalEngine(config, settings)
    # Only here: with billing.engine local, Stripe's SDK is never loaded.
    from backend.stripe_engine import StripeEngine

    try:
        # cast: the stripe engine's methods are written module by module (stripe_customers, ...).
        return cast(Engine, StripeEngine(stripe_api.client(settings), config))
    except stripe_api.NotConfigured as exc:
        raise SettingsError([str(exc)]) from None


def _housekeeping(conn: sa.Connection, now: int) -> None:
    idempotency.prune(conn, now)
    ratelimit.prune(conn, now)
    signin.prune(conn, now)
    sessions.prune(conn, now)
    portal_sessions.prune(conn, now)
    stripe_webhooks.prune(conn, now)


def create_app(
    settings: Settings,
    config: Config,
    *,
    clock: Callable[[], float] = time.time,
    transport: Transport | None = None,
    background: bool = True,
    webhook_client: Any = None,
    engine: Engine | None = None,
) -> Starlette:
    """The app; `background=False` leaves the mail queue to be drained by the caller (tests do).
    `engine` replaces the one config.yaml names, built from the settings: tests give a Stripe engine
    whose client gives up at once, to see what a customer sees when Stripe does not answer."""
    # A language's mail without its catalogue would go out in English: refuse to start instead.
    for locale in config.locales.offered:
        if locale != i18n.SOURCE:
            i18n.catalogue(locale)
    engine = engine or billing_engine(settings, config)
    db = Database(create_engine(settings.database_url))
    worker = MailWorker(db, transport or Transport(settings), config, settings.secret_key, clock)
    webhooks = WebhookWorker(db, signing_secrets(settings, config), clock, webhook_client)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async def housekeeping() -> None:
            while True:
                with contextlib.suppress(sa.exc.SQLAlchemyError):
                    await db.call(_housekeeping, int(clock()))
                await asyncio.sleep(HOUSEKEEPING_EVERY)

        queues = [(queue, asyncio.create_task(queue.run())) for queue in (worker, webhooks)] if background else []
        chores = [asyncio.create_task(housekeeping())] if background else []
        try:
            yield
        finally:
            await asyncio.gather(*(queue.stop(task, STOP_GRACE) for queue, task in queues))
            for task in chores:
                task.cancel()
            await asyncio.gather(*chores, return_exceptions=True)
            db.close()

    # The portal's JSON is most of what the page loads: Front sends it in Brotli where the browser takes it
    # (every current one does; a sixth smaller than gzip), gzip otherwise.
    front = partial(
        Front,
        trusted_proxies=[str(n) for n in settings.trusted_proxies],
        guard=Guard(config.origins, routes=ROUTES, signed=[stripe_webhooks.PATH]),
        cors=dict(
            allow_origins=config.origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Content-Type", "Idempotency-Key"],
            max_age=600,
        ),
        handlers={
            APIError: api_error,
            HTTPException: http_error,
            sa.exc.OperationalError: database_error,
            sa.exc.InterfaceError: database_error,
            sa.exc.TimeoutError: database_error,  # every pooled connection busy past pool_timeout
        },
        fault=server_error,
    )
    app = Porch(front, routes=ROUTES, lifespan=lifespan)
    if settings.public_dir.is_dir():
        # The site answers only what no route claims, so a wrong method on an
        # API path is still 405 rather than a static 404.
        app.router.default = Site(settings.public_dir)
    app.state.settings = settings
    app.state.config = config
    app.state.portal_shared = portal.shared_by_configuration(config)
    app.state.db = db
    app.state.engine = engine
    app.state.secret = settings.secret_key
    app.state.clock = clock
    app.state.mail_worker = worker
    app.state.webhook_worker = webhooks
    # The one Stripe client of the process (billing.engine stripe): the engine's calls and the webhook's reads.
    stripe_engine = sys.modules.get("backend.stripe_engine")  # an engine of its class has loaded it
    app.state.stripe = engine.client if stripe_engine and isinstance(engine, stripe_engine.StripeEngine) else None
    return app
