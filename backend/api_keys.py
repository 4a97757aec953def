"""The merchant API's secret keys (SPEC section 11): made by `python -m backend keys create`, shown once,
kept only as HMACs with the server secret, so that a copy of the database opens nothing.

A request's key is found by its HMAC (an indexed lookup) and compared in constant time. Wrong keys
are counted per client address and, past LIMITS, refused before any lookup: a guess costs the
guesser the same as a mistake costs the merchant, and 256 random bits leave nothing to guess."""

from __future__ import annotations

import dataclasses
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from backend import keys, ratelimit
from backend.errors import APIError, Refused
from backend.ratelimit import Limit
from backend.store.tables import api_keys

PREFIX = "sk_porch_"
PURPOSE = "api key"
# Wrong keys from one client address: a misconfigured server hits the first limit and is told to wait;
# a scan of keys stops at the second.
LIMITS = (Limit(10, 60), Limit(100, ratelimit.DAY))
# Writing last_used on every request would make each call a write; a minute of slack is harmless.
TOUCH_AFTER = 60
MAX_NAME = 200
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class APIKeyError(Exception):
    """A key cannot be made or revoked as asked; the message says why."""


@dataclass(frozen=True)
class APIKey:
    """What is known of a key after it was shown: never the key itself."""

    id: str
    name: str
    last4: str
    created: int
    last_used: int | None
    revoked: int | None

    @property
    def hint(self) -> str:
        """How the key is shown in lists, as Stripe shows its keys: sk_porch_...abcd."""
        return f"{PREFIX}...{self.last4}"


def _row(row: sa.Row) -> APIKey:
    return APIKey(row.id, row.name, row.last4, row.created, row.last_used, row.revoked)


def create(conn: sa.Connection, secret: bytes, name: str, now: int) -> tuple[APIKey, str]:
    """A new key, and the key itself: the only time it is known."""
    name = name.strip()
    if not name or len(name) > MAX_NAME or CONTROL.search(name):
        raise APIKeyError(f"the name must be 1 to {MAX_NAME} characters of text, such as \"billing server\"")
    key = PREFIX + keys.token()
    made = APIKey("key_" + secrets.token_hex(12), name, key[-4:], now, None, None)
    conn.execute(api_keys.insert().values(
        id=made.id, name=made.name, key_hash=keys.digest(secret, PURPOSE, key), last4=made.last4, created=now,
    ))
    return made, key


def listed(conn: sa.Connection) -> list[APIKey]:
    """Every key, the oldest first, revoked ones included: the list says when each was last used."""
    return [_row(row) for row in conn.execute(sa.select(api_keys).order_by(api_keys.c.created, api_keys.c.id))]


def revoke(conn: sa.Connection, key_id: str, now: int) -> APIKey:
    """Refuse the key from now on; revoking it again keeps the first time."""
    row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).first()
    if row is None:
        raise APIKeyError(f"no key {key_id}: list the keys with `python -m backend keys list`")
    if row.revoked is None:
        conn.execute(api_keys.update().where(api_keys.c.id == key_id).values(revoked=now))
    found = _row(row)
    return found if found.revoked is not None else dataclasses.replace(found, revoked=now)


# Built once: every call of the merchant API runs it.
SELECT = sa.select(api_keys.c.id, api_keys.c.key_hash, api_keys.c.last_used, api_keys.c.revoked).where(
    api_keys.c.key_hash == sa.bindparam("key_hash"))


def _limit_key(client: str) -> str:
    return "api_key:client:" + ratelimit.client(client)


def authenticate(conn: sa.Connection, secret: bytes, presented: str | None, client: str, now: int) -> str:
    """The id of the live key `presented`; 401 for a missing, wrong or revoked one, counted against the
    client address (and kept: the refusal commits the count); 429 while the address is over its limits."""
    limit_key = _limit_key(client)
    wait = ratelimit.retry_after(conn, limit_key, LIMITS, now)
    if wait:
        raise ratelimit.refusal(wait, "requests with a wrong API key")
    if not presented:
        ratelimit.record(conn, now, limit_key)
        raise Refused(APIError(401, "api_key_required", "No API key provided. Send the secret key as the "
                                                        "HTTP Basic user name or as a Bearer token."))
    hashed = keys.digest(secret, PURPOSE, presented)
    row = conn.execute(SELECT, {"key_hash": hashed}).first()
    if row is None or not keys.same(row.key_hash, hashed) or row.revoked is not None:
        ratelimit.record(conn, now, limit_key)
        # Its last characters only, as Stripe says it: enough to tell which key was sent, too few to log a key.
        raise Refused(APIError(401, "invalid_api_key", f"Invalid API key provided: ...{presented[-4:]}"))
    if row.last_used is None or row.last_used <= now - TOUCH_AFTER:
        conn.execute(api_keys.update().where(api_keys.c.id == row.id).values(last_used=now))
    return str(row.id)
