"""Rate limits kept in the database, so that every backend process shares them."""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from backend.errors import APIError
from backend.store.database import Compiled
from backend.store.tables import rate_events

DAY = 86400
# The window of every key but the long ones.
LONGEST_WINDOW = DAY
# Keys with this prefix are kept for LONG_WINDOW: few events each, counted over a month.
LONG = "long:"
LONG_WINDOW = 30 * DAY
# One IPv6 subscriber is usually given a whole /64: its addresses are one client.
IPV6_CLIENT_PREFIX = 64


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int


@functools.cache
def _newest(keys: int) -> Compiled:
    """The newest events of each of `keys` keys, in one query: sign-in checks several keys at once.
    Built once for each number of keys: building a statement costs more than running it."""
    parts = [
        sa.select(rate_events.c.key, rate_events.c.at)
        .where(rate_events.c.key == sa.bindparam(f"key{n}"), rate_events.c.at > sa.bindparam(f"since{n}"))
        .order_by(rate_events.c.at.desc())
        .limit(sa.bindparam(f"count{n}", type_=sa.Integer))
        .subquery()
        for n in range(keys)
    ]
    return Compiled(sa.union_all(*(sa.select(part.c.key, part.c.at) for part in parts)))


@functools.cache
def _record(keys: int) -> Compiled:
    """One insert of `keys` events, built once for each number of keys."""
    rows: list[dict[str, Any]] = [{"key": sa.bindparam(f"key{n}"), "at": sa.bindparam("at")} for n in range(keys)]
    return Compiled(rate_events.insert().values(rows))


PRUNE = rate_events.delete().where(
    (rate_events.c.at <= sa.bindparam("long_since"))
    | ((rate_events.c.at <= sa.bindparam("since")) & ~rate_events.c.key.startswith(LONG))
)


def client(address: str) -> str:
    """Who counts as one client: an IPv4 address, an IPv6 /64, or the address as given when it is neither."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(ip)


def waits(conn: sa.Connection, checks: list[tuple[str, tuple[Limit, ...]]], now: int) -> list[list[int]]:
    """For each (key, limits), for each limit, seconds until one more event under the key fits it; 0 when
    it fits now. Each key once: their events are told apart by key.

    One query serves every check: the newest events of a key's widest window hold,
    for each narrower limit, its own newest events."""
    params: dict[str, Any] = {}
    for n, (key, limits) in enumerate(checks):
        params |= {f"key{n}": key, f"since{n}": now - max(limit.seconds for limit in limits),
                   f"count{n}": max(limit.count for limit in limits)}
    times: dict[str, list[int]] = {key: [] for key, _ in checks}
    for key, at in _newest(len(checks)).rows(conn, **params):
        times[key].append(at)
    found = []
    for key, limits in checks:
        newest = sorted(times[key], reverse=True)
        inside = [[at for at in newest if at > now - limit.seconds] for limit in limits]
        found.append([
            within[limit.count - 1] + limit.seconds - now if len(within) >= limit.count else 0
            for limit, within in zip(limits, inside, strict=True)
        ])
    return found


def retry_after(conn: sa.Connection, key: str, limits: tuple[Limit, ...], now: int) -> int:
    """Seconds until one more event under `key` fits every limit; 0 when it fits now."""
    return max(waits(conn, [(key, limits)], now)[0])


def refusal(wait: int, what: str) -> APIError:
    """The 429 answer, saying when to try again in its message and in Retry-After."""
    return APIError(429, "rate_limited", f"Too many {what}. Try again in {wait} seconds.", {"Retry-After": str(wait)})


def record(conn: sa.Connection, now: int, *keys: str) -> None:
    """One event now under each key, in one statement."""
    _record(len(keys)).run(conn, at=now, **{f"key{n}": key for n, key in enumerate(keys)})


def prune(conn: sa.Connection, now: int) -> int:
    """Forget events older than any window of their key looks back."""
    return conn.execute(PRUNE, {"since": now - LONGEST_WINDOW, "long_since": now - LONG_WINDOW}).rowcount
