"""Server-side sessions behind an opaque HttpOnly cookie (SPEC section 7, "session")."""

from __future__ import annotations

import sqlalchemy as sa

from backend import keys
from backend.store.tables import sessions

IDLE = 30 * 60
ABSOLUTE = 12 * 60 * 60
# Writing last_seen on every request would make each read a write; a minute of slack is harmless.
TOUCH_AFTER = 60
SECURE_COOKIE = "__Host-porch_session"
LOCAL_COOKIE = "porch_session"


def create(conn: sa.Connection, secret: bytes, customer: str, now: int) -> str:
    token = keys.token()
    conn.execute(
        sessions.insert().values(
            token_hash=keys.digest(secret, "session", token), customer=customer, created=now, last_seen=now, revoked=False
        )
    )
    return token


# Built once: every signed-in request runs it, and building a statement costs more than running it.
LIVE = sa.select(sessions.c.customer, sessions.c.created, sessions.c.last_seen, sessions.c.revoked).where(
    sessions.c.token_hash == sa.bindparam("token_hash")
)


def customer_for(conn: sa.Connection, secret: bytes, token: str, now: int) -> tuple[str | None, bool]:
    """The session's customer while it is live (not revoked, not idle too long, not too old),
    and whether its last_seen is stale enough to be touched.

    Only reads: on SQLite a write would take the single write lock on every request."""
    row = conn.execute(LIVE, {"token_hash": keys.digest(secret, "session", token)}).first()
    if row is None or row.revoked or now - row.last_seen >= IDLE or now - row.created >= ABSOLUTE:
        return None, False
    return row.customer, now - row.last_seen >= TOUCH_AFTER


def touch(conn: sa.Connection, secret: bytes, token: str, now: int) -> None:
    conn.execute(
        sessions.update().where(sessions.c.token_hash == keys.digest(secret, "session", token)).values(last_seen=now)
    )


def revoke(conn: sa.Connection, secret: bytes, token: str) -> None:
    conn.execute(
        sessions.update().where(sessions.c.token_hash == keys.digest(secret, "session", token)).values(revoked=True)
    )


def prune(conn: sa.Connection, now: int) -> None:
    conn.execute(sessions.delete().where(sessions.c.created <= now - ABSOLUTE))


def cookie_name(secure: bool) -> str:
    # The __Host- prefix makes the browser refuse the cookie unless it is Secure,
    # host-only and Path=/, so no subdomain can plant or shadow it.
    return SECURE_COOKIE if secure else LOCAL_COOKIE
