"""Sign-in with an email one-time code: challenges, codes, tries and sending limits (SPEC section 7)."""

from __future__ import annotations

import json
import secrets

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from backend import keys, ratelimit
from backend.errors import APIError
from backend.ratelimit import Limit
from backend.store import billing
from backend.store.database import hold
from backend.store.tables import challenges, mail_queue

CODE_LIFETIME = 600
MAX_TRIES = 5
FAILURES_PER_EMAIL = (Limit(100, 3600),)
SENDS_PER_EMAIL = (Limit(1, 60), Limit(10, 3600))
# Looser than per email: several people behind one office address must still get in.
SENDS_PER_ADDRESS = (Limit(10, 60), Limit(60, 3600))


def invalid_code() -> APIError:
    return APIError(401, "invalid_code", "The code is wrong, used or expired. Ask for a new code.")


def rate_limited(wait: int) -> APIError:
    return ratelimit.refusal(wait, "attempts")


def normalise_email(raw: str) -> str:
    """The address as typed, checked; refused when malformed or when it could break a mail header."""
    if any(c in raw for c in "\r\n\0"):
        raise APIError(400, "invalid_request", "Enter a valid email address.")
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise APIError(400, "invalid_request", "Enter a valid email address.") from None


# Built once: building a statement costs more than running it. Parameters are named
# apart from the columns, which SQLAlchemy reserves for the values an UPDATE sets.
VOID_OLDER = (
    challenges.update()
    .where(challenges.c.email_lower == sa.bindparam("email"), challenges.c.spent.is_(False))
    .values(spent=True)
)
NEW_CHALLENGE = challenges.insert()
QUEUE_MAIL = mail_queue.insert()
FIND = sa.select(challenges).where(challenges.c.id_hash == sa.bindparam("challenge"))
_USABLE = (
    (challenges.c.id_hash == sa.bindparam("challenge")) & challenges.c.spent.is_(False)
    & (challenges.c.attempts < MAX_TRIES) & (challenges.c.expires_at > sa.bindparam("now"))
)
WRONG_TRY = challenges.update().where(_USABLE).values(attempts=challenges.c.attempts + 1)
SPEND = challenges.update().where(_USABLE).values(spent=True)


def request_code(
    conn: sa.Connection, secret: bytes, email: str, client: str, now: int, locale: str = "en"
) -> str:
    """Issue a new challenge and queue its code for mailing.

    The work is the same whether or not the address belongs to a customer: the
    mail worker resolves the customer later, so neither the answer nor its timing
    can tell an attacker which addresses are known.
    """
    email_lower = email.lower()
    email_key = "send:email:" + keys.digest(secret, "rate", email_lower)
    address_key = "send:address:" + client
    hold(conn, email_key, address_key)
    wait = max(
        ratelimit.retry_after(conn, email_key, SENDS_PER_EMAIL, now),
        ratelimit.retry_after(conn, address_key, SENDS_PER_ADDRESS, now),
    )
    if wait:
        raise rate_limited(wait)
    ratelimit.record(conn, email_key, now)
    ratelimit.record(conn, address_key, now)

    challenge = keys.token()
    code = f"{secrets.randbelow(10**6):06d}"
    conn.execute(VOID_OLDER, {"email": email_lower})
    conn.execute(NEW_CHALLENGE, {
        "id_hash": keys.digest(secret, "challenge", challenge),
        "email_lower": email_lower,
        "code_hash": keys.digest(secret, "code", challenge + code),
        "created": now,
        "expires_at": now + CODE_LIFETIME,
        "attempts": 0,
        "spent": False,
    })
    payload = json.dumps({"to": email_lower, "code": code, "locale": locale})
    conn.execute(
        QUEUE_MAIL, {
            "kind": "signin_code",
            "created": now,
            "expires_at": now + CODE_LIFETIME,
            "sealed": keys.sealer(secret).encrypt(payload.encode()).decode(),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
        }
    )
    return challenge


def verify_code(conn: sa.Connection, secret: bytes, challenge: str, code: str, now: int) -> str | APIError:
    """The customer id that a right, fresh, unused code signs in as, or the refusal.

    A refusal is returned, not raised, so that the transaction still commits
    what it counted: a wrong try and a failure must stick.
    """
    id_hash = keys.digest(secret, "challenge", challenge)
    row = conn.execute(FIND, {"challenge": id_hash}).first()
    if row is None:
        return invalid_code()
    failure_key = "fail:email:" + keys.digest(secret, "rate", row.email_lower)
    hold(conn, failure_key)
    wait = ratelimit.retry_after(conn, failure_key, FAILURES_PER_EMAIL, now)
    if wait:
        return rate_limited(wait)
    right = keys.same(keys.digest(secret, "code", challenge + code), row.code_hash)
    usable = {"challenge": id_hash, "now": now}
    if not right:
        conn.execute(WRONG_TRY, usable)
        ratelimit.record(conn, failure_key, now)
        return invalid_code()
    # The update is the decision: of concurrent verifies only one can flip `spent`.
    if conn.execute(SPEND, usable).rowcount != 1:
        return invalid_code()
    customer = billing.customer_for_email(conn, row.email_lower)
    if customer is None:
        return invalid_code()
    return customer


def prune(conn: sa.Connection, now: int) -> None:
    """Forget challenges that can no longer be used."""
    conn.execute(challenges.delete().where(challenges.c.expires_at <= now - CODE_LIFETIME))
