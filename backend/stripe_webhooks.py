"""Stripe's webhooks into Porch (billing.engine stripe): `POST /api/stripe/webhook` keeps the store
current, and `register` sets up the endpoint in the merchant's Stripe account.

How an event is applied. The signature is checked with Stripe's SDK first; an event of a type Porch
does not read is acknowledged and forgotten. For the others, Porch does not store the object the
event carries: under the lock of the customer it belongs to, it reads the object again from Stripe
and stores what Stripe says now (an object Stripe no longer has, or a payment method no longer
attached, is removed), and records the event's id, in the same transaction. So:

- an event delivered twice, or to two processes at once, is applied once: the second finds its id
  recorded once it holds the customer's lock (and the id is the table's primary key besides);
- deliveries out of order never put older data over newer: whichever is applied last stores what
  Stripe holds at that moment, and the customer's lock orders it with the portal's own changes,
  which store Stripe's answers under the same lock. Comparing versions would not do: Stripe's
  objects carry no version, and an event's `created` orders events, not the object's states;
- nothing is stored unless all of it is: Stripe unreachable on the re-read, an object the normalising
  reader refuses, or the store failing, answers 5xx (the error model's JSON, with one line in the log
  naming the event and why) and records nothing, and Stripe delivers the event again later (for up
  to three days).

The cost is one Stripe read per event, made while the customer's lock is held (on SQLite, while the
store's one writer is), bounded by the client's timeout."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response

from backend import importer, stripe_api, stripe_objects
from backend.errors import APIError
from backend.jsonio import JSONResponse
from backend.openapi import returns
from backend.pipeline import Edge, Endpoint
from backend.store import billing, tables
from backend.store.database import hold

if TYPE_CHECKING:
    import stripe

log = logging.getLogger("porch.stripe")

PATH = "/api/stripe/webhook"
# Stripe sends one event per request, its lists cut to a page; this is far above the largest.
MAX_BODY = 1024 * 1024
# Events older than this are forgotten: Stripe retries a delivery for three days, no longer.
KEPT_FOR = 30 * 86400


def _types(prefix: str, *names: str) -> list[str]:
    return [f"{prefix}.{name}" for name in names]


# Every event type Porch reads, and what it reads again for it: the resource, and the fields of the
# event's object that name it (the first one set). The registered endpoint asks for exactly these.
READS: dict[str, tuple[str, tuple[str, ...]]] = {
    **dict.fromkeys(_types("customer", "created", "updated", "deleted")
                    + _types("customer.discount", "created", "updated", "deleted"), ("customers", ("id",))),
    **dict.fromkeys(_types("customer.tax_id", "created", "updated", "deleted"), ("customers", ("customer",))),
    **dict.fromkeys(_types("payment_method", "attached", "detached", "updated", "automatically_updated"),
                    ("payment_methods", ("id",))),
    **dict.fromkeys(_types("customer.subscription", "created", "updated", "deleted", "paused", "resumed",
                           "pending_update_applied", "pending_update_expired", "trial_will_end"),
                    ("subscriptions", ("id",))),
    # A schedule changes its subscription; once released it names it as released_subscription.
    **dict.fromkeys(_types("subscription_schedule", "updated", "released", "canceled", "completed"),
                    ("subscriptions", ("subscription", "released_subscription"))),
    **dict.fromkeys(_types("invoice", "created", "finalized", "paid", "payment_failed", "voided",
                           "marked_uncollectible", "updated", "deleted"), ("invoices", ("id",))),
    **dict.fromkeys(_types("product", "created", "updated", "deleted"), ("products", ("id",))),
    **dict.fromkeys(_types("price", "created", "updated", "deleted"), ("prices", ("id",))),
    # A plan is the older form of a price, with the same id; Stripe still sends plan.* for them.
    **dict.fromkeys(_types("plan", "created", "updated", "deleted"), ("plans", ("id",))),
}
EVENTS = list(READS)
# How each resource is read from Stripe. A customer's tax ids come only when asked for.
FETCH: dict[str, Callable[[stripe.StripeClient, str], Any]] = {
    "customers": lambda client, id: client.v1.customers.retrieve(id, params={"expand": ["tax_ids"]}),
    "payment_methods": lambda client, id: client.v1.payment_methods.retrieve(id),
    "subscriptions": lambda client, id: client.v1.subscriptions.retrieve(id),
    "invoices": lambda client, id: client.v1.invoices.retrieve(id),
    "products": lambda client, id: client.v1.products.retrieve(id),
    "prices": lambda client, id: client.v1.prices.retrieve(id),
    "plans": lambda client, id: client.v1.plans.retrieve(id),
}
# The "object" of what each resource holds, for the answer that it is gone.
OBJECT = {"customers": "customer", "payment_methods": "payment_method", "subscriptions": "subscription",
          "invoices": "invoice", "products": "product", "prices": "price", "plans": "plan"}


@dataclass(frozen=True)
class Target:
    """What an event makes Porch read again: a resource's object, and the customer whose lock orders it."""

    resource: str
    id: str
    customer: str | None


def target(event: dict[str, Any]) -> Target | None:
    """What to read again for `event`; None when the event names nothing Porch keeps."""
    resource, fields = READS[event["type"]]
    obj = (event.get("data") or {}).get("object") or {}
    found = next((billing.ref(obj.get(name)) for name in fields if billing.ref(obj.get(name))), None)
    if not isinstance(found, str):
        return None
    customer = found if resource == "customers" else billing.ref(obj.get("customer"))
    return Target(resource, found, customer if isinstance(customer, str) else None)


def _kind(resource: str) -> str:
    return "prices" if resource == "plans" else resource


def _now_in_stripe(client: stripe.StripeClient, read: Target) -> dict[str, Any]:
    """The object as Stripe has it now; {"id", "object", "deleted": true} when Stripe has it no more."""
    gone = {"id": read.id, "object": OBJECT[read.resource], "deleted": True}
    try:
        with stripe_api.refusals():
            found = stripe_api.as_dict(FETCH[read.resource](client, read.id))
    except APIError as exc:
        if exc.code == "not_found":
            return gone
        # Whatever else Stripe answered, the event is not applied: 5xx, so that Stripe delivers it again.
        raise APIError(503, "billing_unavailable", "Stripe could not be read; the event is not applied.",
                       headers={"Retry-After": "60"}) from exc
    if read.resource == "payment_methods" and found.get("customer") is None:
        return gone  # detached: no customer of Porch's holds it any more
    return found


def apply(conn: sa.Connection, client: stripe.StripeClient, event: dict[str, Any], now: int) -> importer.Imported | None:
    """Apply one event, in the caller's transaction; None when it was applied before."""
    read = target(event)
    customer = read.customer if read else None
    if read is not None and customer is None:
        # A detached payment method's event names no customer; the stored copy knows whose it was.
        customer = billing.ref((billing.get(conn, _kind(read.resource), read.id) or {}).get("customer"))
    if customer is not None:
        billing.lock_customer(conn, customer)
    else:
        hold(conn, "stripe:" + (read.id if read else event["id"]))
    seen = tables.stripe_events
    if conn.execute(sa.select(seen.c.id).where(seen.c.id == event["id"])).first() is not None:
        return None
    imported = importer.Imported({}, {})
    if read is not None:
        batch = stripe_objects.Batch()
        batch.add(_now_in_stripe(client, read), f"{event['type']} {event['id']}: ")
        imported = importer.write(conn, batch.finished())
    conn.execute(seen.insert().values(id=event["id"], type=event["type"], created=int(event.get("created") or 0),
                                      applied_at=now))
    return imported


def prune(conn: sa.Connection, now: int) -> None:
    conn.execute(tables.stripe_events.delete().where(tables.stripe_events.c.applied_at < now - KEPT_FOR))


async def _body(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise APIError(413, "payload_too_large", f"The request body is larger than {MAX_BODY} bytes.")
    return body


async def _applied(state: Any, event: dict[str, Any]) -> importer.Imported | None:
    """`apply`, with each way it can fail said in one line of the log and answered 5xx: nothing is
    recorded, so Stripe's next delivery of the event applies it."""
    def failed(why: str) -> None:
        log.error("Stripe event %s (%s) not applied, left for Stripe to deliver again: %s", event["id"],
                  event["type"], why)

    try:
        return await state.db.call(apply, state.stripe, event, int(state.clock()))
    except APIError as exc:
        failed(exc.message)
        raise
    except stripe_objects.ObjectError as exc:
        failed(f"Stripe's object cannot be stored: {exc}")
        raise APIError(500, "internal_error", "The event's object cannot be stored; the event is not applied.") from None
    except sa.exc.SQLAlchemyError as exc:
        # The driver's own words, not SQLAlchemy's, which quote the statement and the customer's data in it.
        cause = getattr(exc, "orig", None) or exc
        first_line = str(cause).partition("\n")[0]
        failed(f"the store failed: {type(cause).__name__}: {first_line}")
        raise APIError(503, "unavailable", "The store failed; the event is not applied.",
                       headers={"Retry-After": "60"}) from None


async def webhook(edge: Edge) -> Response:
    """Stripe's deliveries: signed, not sent by a browser, so the API's browser guards do not apply
    (backend.guards lets PATH through); the signature is what admits them."""
    request = edge.request
    state = request.app.state
    if state.config.billing.engine != "stripe":
        raise APIError(404, "not_found", "No such API endpoint.")
    secret = state.settings.stripe_webhook_secret
    if not secret:
        log.error("a Stripe event arrived but PORCH_STRIPE_WEBHOOK_SECRET is unset: run "
                  "`python -m backend stripe webhook --url ...` and set the secret it prints")
        raise APIError(503, "not_configured", "The webhook's signing secret is not set.")
    import stripe  # loaded with the engine's client already: billing.engine is stripe here

    body = await _body(request)
    try:
        event = stripe_api.as_dict(state.stripe.construct_event(body, request.headers.get("stripe-signature"), secret))
    except stripe.SignatureVerificationError:
        raise APIError(400, "invalid_signature", "The Stripe-Signature header does not match the body.") from None
    except ValueError:
        raise APIError(400, "invalid_json", "The request body is not a Stripe event.") from None
    if event.get("type") not in READS or not isinstance(event.get("id"), str):
        return JSONResponse({"received": True, "applied": False})
    imported = await _applied(state, event)
    if imported is None:
        log.info("Stripe event %s (%s) was applied before; delivered again", event["id"], event["type"])
        return JSONResponse({"received": True, "applied": False})
    changed = ", ".join(f"{verb} {n} {kind}" for verb, counts in (("stored", imported.written), ("removed", imported.removed))
                        for kind, n in counts.items() if n)
    log.info("Stripe event %s (%s) applied: %s", event["id"], event["type"], changed or "nothing to store")
    return JSONResponse({"received": True, "applied": True})


ENDPOINTS = [
    Endpoint("post", PATH, "Stripe's events (billing.engine stripe), signed with the endpoint's secret", webhook,
             auth="none", answer=returns(received={"type": "boolean"}, applied={"type": "boolean"}),
             errors=(400, 404, 413, 500, 503)),
]


class WebhookURLError(ValueError):
    """The address given for the endpoint is not one Stripe should send to."""


@dataclass(frozen=True)
class Registered:
    """The endpoint in Stripe; `secret` only when it was created now (Stripe shows it only then)."""

    id: str
    created: bool
    secret: str | None


def check_url(url: str) -> None:
    parts = urlsplit(url)
    local = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")
    if not (parts.scheme == "https" or local) or not parts.hostname:
        raise WebhookURLError(f"{url!r} is not an https:// address: Stripe signs its events, but sends them "
                              "readable to anyone between it and an http:// address. Give the portal's "
                              "https:// address, such as https://billing.example/api/stripe/webhook")


def register(client: stripe.StripeClient, url: str) -> Registered:
    """Create the endpoint at `url` for exactly EVENTS, at Porch's API version; when one is there
    already, set its events instead of adding a second (which would deliver every event twice)."""
    check_url(url)
    # Typed as Any: the SDK's parameter types list each event type and API version as a literal.
    events: Any = {"enabled_events": EVENTS}
    with stripe_api.refusals():
        for endpoint in client.v1.webhook_endpoints.list(params={"limit": 100}).auto_paging_iter():
            if endpoint.url == url:
                client.v1.webhook_endpoints.update(endpoint.id, params=events)
                return Registered(endpoint.id, False, None)
        created = client.v1.webhook_endpoints.create(params=events | {
            "url": url, "api_version": stripe_api.API_VERSION, "description": "Porch",
        })
    return Registered(created.id, True, created.secret)
