"""Rate limits kept in the database, so that every backend process shares them."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from backend.errors import APIError
from backend.store.tables import rate_events

LONGEST_WINDOW = 3600


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int


# Built once: building a statement costs more than running it, and sign-in runs several.
NEWEST = (
    sa.select(rate_events.c.at)
    .where(rate_events.c.key == sa.bindparam("key"), rate_events.c.at > sa.bindparam("since"))
    .order_by(rate_events.c.at.desc())
    .limit(sa.bindparam("count", type_=sa.Integer))
)
RECORD = rate_events.insert()


def retry_after(conn: sa.Connection, key: str, limits: tuple[Limit, ...], now: int) -> int:
    """Seconds until one more event under `key` fits every limit; 0 when it fits now.

    One query serves every limit: the newest events of the widest window hold,
    for each narrower limit, its own newest events."""
    widest = max(limit.seconds for limit in limits)
    times = conn.execute(
        NEWEST, {"key": key, "since": now - widest, "count": max(limit.count for limit in limits)}
    ).scalars().all()
    wait = 0
    for limit in limits:
        inside = [at for at in times if at > now - limit.seconds]
        if len(inside) >= limit.count:
            wait = max(wait, inside[limit.count - 1] + limit.seconds - now)
    return wait


def refusal(wait: int, what: str) -> APIError:
    """The 429 answer, saying when to try again in its message and in Retry-After."""
    return APIError(429, "rate_limited", f"Too many {what}. Try again in {wait} seconds.", {"Retry-After": str(wait)})


def record(conn: sa.Connection, key: str, now: int) -> None:
    conn.execute(RECORD, {"key": key, "at": now})


def prune(conn: sa.Connection, now: int) -> int:
    """Forget events older than any window looks back."""
    return conn.execute(rate_events.delete().where(rate_events.c.at <= now - LONGEST_WINDOW)).rowcount
