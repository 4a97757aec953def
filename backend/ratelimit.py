"""Rate limits kept in the database, so that every backend process shares them."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import sqlalchemy as sa

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


# Built once: building a statement costs more than running it, and sign-in runs several.
NEWEST = (
    sa.select(rate_events.c.at)
    .where(rate_events.c.key == sa.bindparam("key"), rate_events.c.at > sa.bindparam("since"))
    .order_by(rate_events.c.at.desc())
    .limit(sa.bindparam("count", type_=sa.Integer))
)
RECORD = rate_events.insert()
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


def waits(conn: sa.Connection, key: str, limits: tuple[Limit, ...], now: int) -> list[int]:
    """For each limit, seconds until one more event under `key` fits it; 0 when it fits now.

    One query serves every limit: the newest events of the widest window hold,
    for each narrower limit, its own newest events."""
    widest = max(limit.seconds for limit in limits)
    times = conn.execute(
        NEWEST, {"key": key, "since": now - widest, "count": max(limit.count for limit in limits)}
    ).scalars().all()
    found = []
    for limit in limits:
        inside = [at for at in times if at > now - limit.seconds]
        found.append(inside[limit.count - 1] + limit.seconds - now if len(inside) >= limit.count else 0)
    return found


def retry_after(conn: sa.Connection, key: str, limits: tuple[Limit, ...], now: int) -> int:
    """Seconds until one more event under `key` fits every limit; 0 when it fits now."""
    return max(waits(conn, key, limits, now))


def record(conn: sa.Connection, key: str, now: int) -> None:
    conn.execute(RECORD, {"key": key, "at": now})


def prune(conn: sa.Connection, now: int) -> int:
    """Forget events older than any window of their key looks back."""
    return conn.execute(PRUNE, {"since": now - LONGEST_WINDOW, "long_since": now - LONG_WINDOW}).rowcount
