"""What customers did: an audit log, Stripe-shaped events, and signed webhook
deliveries from a durable outbox, written in the same transaction as the change."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from backend import __version__, jobs
from backend.config import Config, Webhook
from backend.settings import Settings, SettingsError
from backend.store.database import Database
from backend.store.tables import audit_log, events, webhook_deliveries

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("porch.webhooks")
# Receivers that stay down are tried again at least hourly, for as long as it takes.
RETRY_CAP = 3600
TIMEOUT = 10.0


@dataclass(frozen=True)
class Actor:
    """Who made a change, from where, and when."""

    customer: str
    client: str
    now: int


def wants(webhook: Webhook, event_type: str) -> bool:
    return "*" in webhook.events or event_type in webhook.events


def record(
    conn: sa.Connection,
    webhooks: list[Webhook],
    actor: Actor,
    event_type: str,
    obj: dict[str, Any],
    previous: dict[str, Any] | None = None,
) -> str:
    """Log a change, make its event and queue a delivery to each webhook that wants it; returns the event id."""
    event_id = "evt_" + secrets.token_hex(12)
    data: dict[str, Any] = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    event = {"id": event_id, "object": "event", "type": event_type, "created": actor.now, "data": data}
    conn.execute(events.insert().values(
        id=event_id, type=event_type, created=actor.now, customer=actor.customer, data=json.dumps(event)
    ))
    audit(conn, actor, event_type, str(obj.get("id", "")), previous or {}, event_id)
    rows = [
        {"event_id": event_id, "url": hook.url, "status": "pending", "attempts": 0, "next_attempt_at": actor.now}
        for hook in webhooks
        if wants(hook, event_type)
    ]
    if rows:
        conn.execute(webhook_deliveries.insert(), rows)
    return event_id


def audit(conn: sa.Connection, actor: Actor, action: str, object_id: str, detail: dict[str, Any],
          event_id: str = "") -> None:
    """One audit log entry; `event_id` is empty for what sends no webhook, such as a switch of customer."""
    conn.execute(audit_log.insert().values(
        at=actor.now, customer=actor.customer, action=action, object_id=object_id, client=actor.client,
        event=event_id, detail=json.dumps(detail),
    ))


def done(conn: sa.Connection, customer: str, action: str, object_id: str) -> bool:
    """Whether the audit log has `customer` doing `action` to `object_id` already."""
    found = sa.select(audit_log.c.id).where(audit_log.c.customer == customer, audit_log.c.action == action,
                                            audit_log.c.object_id == object_id).limit(1)
    return conn.execute(found).first() is not None


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The Porch-Signature header: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    digest = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def deliveries(conn: sa.Connection, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Newest deliveries first, with their event's type."""
    query = (
        sa.select(webhook_deliveries, events.c.type, events.c.created)
        .join(events, events.c.id == webhook_deliveries.c.event_id)
        .order_by(webhook_deliveries.c.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(webhook_deliveries.c.status == status)
    return [dict(row._mapping) for row in conn.execute(query)]


def audit_entries(conn: sa.Connection, customer: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Newest audit entries first; `detail` holds the values before the change."""
    query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if customer:
        query = query.where(audit_log.c.customer == customer)
    return [dict(row._mapping) for row in conn.execute(query)]


def replay(conn: sa.Connection, event_id: str, now: int) -> int:
    """Queue every delivery of an event again, delivered or not; returns how many."""
    return conn.execute(
        webhook_deliveries.update()
        .where(webhook_deliveries.c.event_id == event_id)
        .values(status="pending", next_attempt_at=now, attempts=0, last_error=None)
    ).rowcount


def signing_secrets(settings: Settings, config: Config) -> dict[str, bytes]:
    """Each webhook URL's signing key. Every key the config names is read now, so that a
    missing one stops the start, named, instead of failing the first delivery or add-card link."""
    problems: list[str] = []
    for name in config.secret_names:
        try:
            settings.secret(name)
        except SettingsError as exc:
            problems += exc.problems
    if problems:
        raise SettingsError(problems)
    return {hook.url: settings.secret(hook.secret_env) for hook in config.webhooks}


class WebhookWorker(jobs.Worker):
    """Posts each queued event to its receiver until the receiver answers 2xx."""

    table = webhook_deliveries
    name = "webhooks"

    def __init__(self, db: Database, keys_by_url: dict[str, bytes], clock: Callable[[], float] = time.time,
                 client: httpx.AsyncClient | None = None):
        super().__init__(db, clock)
        self.keys = keys_by_url
        self.client = client

    async def handle(self, job: Any, now: int) -> None:
        # Imported on first delivery: httpx and its certificates cost ~40 ms of every start.
        import httpx

        body = await self.db.read(_event_body, job.event_id)
        key = self.keys.get(job.url)
        status: int | None = None
        try:
            if key is None:
                raise RuntimeError("no webhook with this URL in config.yaml any more; kept until one is")
            headers = {
                "Content-Type": "application/json",
                "Porch-Signature": signature(key, now, body),
                "User-Agent": f"Porch/{__version__}",
            }
            if self.client is None:
                async with httpx.AsyncClient(timeout=TIMEOUT) as client:
                    answer = await client.post(job.url, content=body, headers=headers)
            else:
                answer = await self.client.post(job.url, content=body, headers=headers)
            status = answer.status_code
            if not 200 <= status < 300:
                raise RuntimeError(f"answered {status}")
        except (httpx.HTTPError, RuntimeError) as exc:
            attempts = job.attempts + 1
            log.warning("webhook %s to %s: attempt %d failed: %s", job.event_id, job.url, attempts, exc)
            await self.finish(job, {"status": "pending", "attempts": attempts, "last_status": status,
                                    "last_error": str(exc)[:500],
                                    "next_attempt_at": now + jobs.backoff(attempts, RETRY_CAP)})
            return
        await self.finish(job, {"status": "delivered", "attempts": job.attempts + 1, "last_status": status,
                                "last_error": None, "delivered_at": now})


def _event_body(conn: sa.Connection, event_id: str) -> bytes:
    return conn.execute(sa.select(events.c.data).where(events.c.id == event_id)).scalar_one().encode()
