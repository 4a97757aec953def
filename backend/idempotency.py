"""State changes that run once: the one place a change is applied, recorded and
answered, so that a repeat with the same Idempotency-Key (same session, within
24 hours) gets the first answer and changes nothing, sends no second webhook, and
so that the limit on a customer's changes is kept in one place.

A change refuses by raising APIError: the transaction rolls back, and nothing of it (not even
the key) is kept, so the same request may be tried again."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from backend import auth, keys, ratelimit
from backend.errors import APIError
from backend.events import Actor
from backend.jsonio import JSONResponse
from backend.ratelimit import Limit
from backend.store import billing
from backend.store.tables import idempotency_keys

LIFETIME = 24 * 60 * 60
KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
# Per customer, whichever session: a person changes a few things a minute, while a script would
# send a webhook per change and, with always_invoice, an invoice per plan toggle.
CHANGES = (Limit(20, 60), Limit(100, 3600))
# A change gets the connection, who asks and the key its engine calls are made under; it returns
# (status, body) or raises APIError.
Change = Callable[[sa.Connection, Actor, str], "tuple[int, dict[str, Any] | None]"]


def _fingerprint(request: Request, body: BaseModel | None) -> str:
    text = request.method + " " + request.url.path + " " + (body.model_dump_json() if body is not None else "")
    return hashlib.sha256(text.encode()).hexdigest()


async def apply(request: Request, customer: str, change: Change, body: BaseModel | None = None) -> Response:
    """Run `change` in one transaction as the signed-in customer, once per Idempotency-Key."""
    state = request.app.state
    key = request.headers.get("idempotency-key")
    if key is not None and not KEY.match(key):
        raise APIError(400, "invalid_request", "Idempotency-Key must be 1 to 255 visible ASCII characters.")
    actor = Actor(customer=customer, client=auth.client_address(request), now=auth.now(request))
    scope = keys.digest(state.secret, "idempotency", auth.session_token(request) or customer)
    fingerprint = _fingerprint(request, body)
    limit_key = "change:customer:" + customer
    # The engine's calls repeat the same keys when the request does, so a retried request whose
    # answer was lost is not carried out twice in the billing system either.
    call_key = keys.digest(state.secret, "idempotency", scope + key) if key is not None else keys.token()

    def once(conn: sa.Connection) -> tuple[int, dict[str, Any] | None]:
        billing.lock_customer(conn, customer)
        if key is not None:
            stored = conn.execute(
                sa.select(idempotency_keys).where(
                    idempotency_keys.c.scope == scope, idempotency_keys.c.key == key,
                    idempotency_keys.c.created > actor.now - LIFETIME,
                )
            ).first()
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise APIError(422, "idempotency_mismatch",
                                    "This Idempotency-Key was used for a different request.")
                return stored.status, json.loads(stored.body)
        # Under the customer's lock, so that changes racing in from several processes are all counted.
        wait = ratelimit.retry_after(conn, limit_key, CHANGES, actor.now)
        if wait:
            raise ratelimit.refusal(wait, "changes")
        outcome = change(conn, actor, call_key)
        ratelimit.record(conn, actor.now, limit_key)
        if key is not None:
            conn.execute(idempotency_keys.delete().where(
                idempotency_keys.c.scope == scope, idempotency_keys.c.key == key))
            conn.execute(idempotency_keys.insert().values(
                scope=scope, key=key, created=actor.now, fingerprint=fingerprint, status=outcome[0],
                body=json.dumps(outcome[1]),
            ))
        return outcome

    try:
        outcome = await state.db.call(once)
    except sa.exc.IntegrityError:
        # The same key raced in from another request; it has committed by now, so answer as it did.
        outcome = await state.db.call(once)
    status, answer = outcome
    state.webhook_worker.wake.set()
    return Response(status_code=status) if answer is None else JSONResponse(answer, status_code=status)


def prune(conn: sa.Connection, now: int) -> None:
    conn.execute(idempotency_keys.delete().where(idempotency_keys.c.created <= now - LIFETIME))
