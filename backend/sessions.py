"""Server-side sessions behind an opaque HttpOnly cookie (SPEC section 7, "session")."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from backend import keys
from backend.config import DEFAULT_CONFIGURATION
from backend.store.database import Compiled
from backend.store.tables import customers, sessions

IDLE = 30 * 60
ABSOLUTE = 12 * 60 * 60
# Writing last_seen on every request would make each read a write; a minute of slack is harmless.
TOUCH_AFTER = 60
SECURE_COOKIE = "__Host-porch_session"
LOCAL_COOKIE = "porch_session"
# A session opened in a frame on another site (CHIPS): browsers keep a cookie there only when it is
# SameSite=None, Secure and Partitioned, and then send it only under the top-level site it was set
# under. Secure even on plain-HTTP localhost, which browsers count as a secure context; a name of its
# own, so that it never shadows or is shadowed by the first-party cookie on a site that has both.
FRAMED_COOKIE = "__Host-porch_framed_session"


@dataclass(frozen=True)
class Live:
    """A live session: whose it is, the email its code proved (None for sessions opened before
    sessions kept it, and for those a portal session opened), when it was opened, and whether its
    last_seen is stale enough to be touched."""

    customer: str
    email: str | None
    created: int
    stale: bool
    # How many other customers have exactly the proven address: where none has, the portal need not look further.
    others: int = 0
    # The configuration whose settings the session sees, and the return address it was given (a portal session's).
    configuration: str = DEFAULT_CONFIGURATION
    return_url: str | None = None


# Compiled: every sign-in writes one, and building the insert cost more than running it.
NEW = Compiled(sessions.insert(), tuple(sessions.c.keys()))


def create(
    conn: sa.Connection, secret: bytes, customer: str, now: int, email: str | None = None, created: int | None = None,
    configuration: str = DEFAULT_CONFIGURATION, return_url: str | None = None,
) -> str:
    """A new session's token. `created` is when its email was proven, if earlier than now."""
    token = keys.token()
    NEW.run(
        conn, token_hash=keys.digest(secret, "session", token), customer=customer, email=email,
        created=now if created is None else created, last_seen=now, revoked=False, configuration=configuration,
        return_url=return_url,
    )
    return token


# Built once: every signed-in request runs it, and building a statement costs more than running it.
# Counting the other customers here, by index, costs the database microseconds; a query of its own
# would cost the portal's hot read a round of SQLAlchemy's execution layer, much more.
OTHERS = (
    sa.select(sa.func.count()).select_from(customers)
    .where(customers.c.email_lower == sessions.c.email, customers.c.id != sessions.c.customer)
    .scalar_subquery()
)
LIVE = Compiled(sa.select(
    sessions.c.customer, sessions.c.email, sessions.c.created, sessions.c.last_seen, sessions.c.revoked,
    OTHERS.label("others"), sessions.c.configuration, sessions.c.return_url,
).where(sessions.c.token_hash == sa.bindparam("token_hash")))


def live(conn: sa.Connection, secret: bytes, token: str, now: int) -> Live | None:
    """The session while it is live: not revoked, not idle too long, not too old.

    Only reads: on SQLite a write would take the single write lock on every request."""
    found = LIVE.rows(conn, token_hash=keys.digest(secret, "session", token))
    if not found:
        return None
    customer, email, created, last_seen, revoked, others, configuration, return_url = found[0]
    if revoked or now - last_seen >= IDLE or now - created >= ABSOLUTE:
        return None
    return Live(customer, email, created, now - last_seen >= TOUCH_AFTER, others, configuration, return_url)


def move(conn: sa.Connection, secret: bytes, token: str, session: Live, customer: str, now: int) -> str:
    """Put a live session on another customer of its email under a new token; the old token stops working.

    A new token, not the old one re-pointed: whatever is keyed by the token (an Idempotency-Key's
    answer, a copy of the cookie) cannot carry over from one customer to the other. The new session
    keeps the old one's start, so switching never stretches the 12 hours a proven code is good for."""
    revoke(conn, secret, token)
    return create(conn, secret, customer, now, session.email, session.created, session.configuration,
                  session.return_url)


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
