"""Rate limits kept in the database, so that every backend process shares them."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from backend.store.tables import rate_events

LONGEST_WINDOW = 3600


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int


def lock(conn: sa.Connection, *keys: str) -> None:
    """Hold these keys until the transaction ends, so that a check and its record are one step.

    SQLite's writing transactions are serial already; on PostgreSQL two requests could
    both pass a check before either records, so each key takes an advisory lock,
    in sorted order so that two requests locking the same keys cannot deadlock."""
    if conn.dialect.name == "postgresql":
        for key in sorted(set(keys)):
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})


def retry_after(conn: sa.Connection, key: str, limits: tuple[Limit, ...], now: int) -> int:
    """Seconds until one more event under `key` fits every limit; 0 when it fits now."""
    wait = 0
    for limit in limits:
        times = conn.execute(
            sa.select(rate_events.c.at)
            .where(rate_events.c.key == key, rate_events.c.at > now - limit.seconds)
            .order_by(rate_events.c.at.desc())
            .limit(limit.count)
        ).scalars().all()
        if len(times) >= limit.count:
            wait = max(wait, times[-1] + limit.seconds - now)
    return wait


def record(conn: sa.Connection, key: str, now: int) -> None:
    conn.execute(rate_events.insert().values(key=key, at=now))


def prune(conn: sa.Connection, now: int) -> int:
    """Forget events older than any window looks back."""
    return conn.execute(rate_events.delete().where(rate_events.c.at <= now - LONGEST_WINDOW)).rowcount
