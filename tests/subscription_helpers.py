"""What the subscription and plan tests share: configs, a signed-in portal, and readers of what was recorded."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from helpers import NOW
from starlette.testclient import TestClient

from backend.store import billing
from backend.store.tables import audit_log, events

DAY = 86400
IMMEDIATELY = "features: {subscription_cancel: {mode: immediately, proration_behavior: create_prorations}}"
RETENTION = "features: {subscription_cancel: {retention: {enabled: true, percent_off: 25, duration_in_months: 3}}}"
UPDATES = """
features:
  subscription_cancel: {{{cancel}}}
  subscription_update:
    enabled: true
    default_allowed_updates: [{allowed}]
    proration_behavior: {behavior}
    schedule_at_period_end: {{conditions: [{conditions}]}}
    products:
      - {{product: prod_starter, prices: [price_starter_monthly]}}
      - {{product: prod_pro, prices: [price_pro_monthly, price_pro_yearly]}}
      - product: prod_team
        prices: [price_team_monthly]
        adjustable_quantity: {{enabled: true, minimum: 1, maximum: 50}}
"""
NOT_FOUND = {"error": {"code": "not_found", "message": "No such subscription."}}
# Jenny's period: 18 days gone, 12 to come, of 30; Pro monthly is 2900, so 1160 is unused.
JENNY_END = NOW + 12 * DAY


def updates(behavior: str = "create_prorations", conditions: str = "", allowed: str = "price, quantity",
            cancel: str = "") -> str:
    return UPDATES.format(behavior=behavior, conditions=conditions, allowed=allowed, cancel=cancel)


def post(client: TestClient, subscription: str, action: str, body: Any = None, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(f"/api/subscriptions/{subscription}/{action}", json={} if body is None else body,
                       headers=headers)


def recorded(db) -> list[tuple[str, dict[str, Any], Any]]:
    """Each change in the order made: (event type, the event, its audit entry)."""
    found = db.run(lambda conn: conn.execute(
        sa.select(audit_log, events.c.data).join(events, events.c.id == audit_log.c.event).order_by(audit_log.c.id)
    ).all(), write=False)
    return [(row.action, json.loads(row.data), row) for row in found]


def types(db) -> list[str]:
    return [kind for kind, _, _ in recorded(db)]


def stored(db, kind: str, object_id: str) -> dict[str, Any]:
    return db.run(billing.get, kind, object_id, write=False)


def change_stored(db, kind: str, object_id: str, change: Callable[[dict[str, Any]], None]) -> None:
    def apply(conn):
        obj = billing.get(conn, kind, object_id)
        change(obj)
        billing.upsert(conn, kind, [obj])

    db.run(apply)


def assert_refused(answer, status: int, code: str, param: str | None = None) -> None:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code
    assert error.get("param") == param
