"""Sign-in with an email one-time code: challenges, codes, tries and sending limits (SPEC section 7)."""

from __future__ import annotations

import json
import secrets
from typing import NamedTuple

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email

from backend import keys, ratelimit
from backend.errors import APIError, Refused
from backend.ratelimit import Limit
from backend.store import billing
from backend.store.database import Compiled, hold
from backend.store.tables import challenges, mail_queue

CODE_LIFETIME = 600
MAX_TRIES = 5
HOUR = 3600
# Sending. The strict limit is per email *and* client address, so that a stranger's
# requests never use up the customer's own; a client is an IPv4 address or an IPv6 /64.
SENDS_PER_EMAIL_AND_ADDRESS = (Limit(1, 60), Limit(10, HOUR))
# Looser than per email: several people behind one office address must still get in.
SENDS_PER_ADDRESS = (Limit(10, 60), Limit(60, HOUR))
# What one inbox gets from all addresses together. Addresses the customer signed in from
# within KNOWN_FOR are exempt from this and from slowing: a stranger cannot use them up.
SENDS_PER_EMAIL = (Limit(30, HOUR),)
KNOWN_FOR = ratelimit.LONG_WINDOW
# Guessing. NIST SP 800-63B allows at most 100 consecutive failures; past 100 wrong tries
# for an email in 30 days, guessing is slowed, never locked: few codes, one try each.
SLOW_AFTER = Limit(100, ratelimit.LONG_WINDOW)
SLOWED_SENDS_PER_EMAIL = (Limit(4, 6 * HOUR),)
# One address takes at most one of the four: it takes several to crowd the customer out.
SLOWED_SENDS_PER_EMAIL_AND_ADDRESS = (Limit(1, 6 * HOUR),)
# Verifying, per client address: a rate of requests, and of wrong tries across all emails.
VERIFIES_PER_ADDRESS = (Limit(30, 60), Limit(300, HOUR))
FAILURES_PER_ADDRESS = (Limit(30, HOUR), Limit(100, ratelimit.DAY))


class Proof(NamedTuple):
    """What a right code proves: the customer it signs in as, and the (lower-cased) address it was mailed to."""

    customer: str
    email: str


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
# A new code voids the older ones the same client asked for (and those made before clients
# were recorded), not a stranger's: else anyone could void the code a customer is waiting for.
# Compiled, run on the driver: SQLAlchemy's execution layer cost sign-in more than its statements.
VOID_OLDER = Compiled(
    challenges.update()
    .where(
        challenges.c.email_lower == sa.bindparam("email"), challenges.c.spent.is_(False),
        (challenges.c.client_hash == sa.bindparam("client")) | challenges.c.client_hash.is_(None),
    )
    .values(spent=True)
)
NEW_CHALLENGE = Compiled(challenges.insert(), tuple(challenges.c.keys()))
MAIL = ("kind", "created", "expires_at", "sealed", "status", "attempts", "next_attempt_at")
QUEUE_MAIL = Compiled(mail_queue.insert(), MAIL)
FIND = Compiled(sa.select(challenges.c.email_lower, challenges.c.code_hash)
                .where(challenges.c.id_hash == sa.bindparam("challenge")))
_USABLE = (
    (challenges.c.id_hash == sa.bindparam("challenge")) & challenges.c.spent.is_(False)
    & (challenges.c.attempts < MAX_TRIES) & (challenges.c.expires_at > sa.bindparam("now"))
)
WRONG_TRY = Compiled(challenges.update().where(_USABLE).values(attempts=challenges.c.attempts + 1))
LAST_TRY = Compiled(challenges.update().where(_USABLE).values(attempts=MAX_TRIES))
SPEND = Compiled(challenges.update().where(_USABLE).values(spent=True))


def _key(secret: bytes, kind: str, *parts: str) -> str:
    """A rate-limit key that names an email only by its HMAC, so the table does not list addresses."""
    return kind + keys.digest(secret, "rate", " ".join(parts))


def _email_failures(secret: bytes, email_lower: str) -> str:
    # Long: failures slow guessing for 30 days.
    return _key(secret, ratelimit.LONG + "fail:email:", email_lower)


def address_failures(client: str) -> str:
    return "fail:address:" + client


def _signed_in_from(secret: bytes, email_lower: str, client: str) -> str:
    return _key(secret, ratelimit.LONG + "known:", email_lower, client)


def _slowed(conn: sa.Connection, secret: bytes, email_lower: str, now: int) -> bool:
    return ratelimit.retry_after(conn, _email_failures(secret, email_lower), (SLOW_AFTER,), now) > 0


def _sending_wait(conn: sa.Connection, secret: bytes, email_lower: str, client: str, now: int) -> int:
    """Seconds until this client may have one more code for this email, recording it when 0."""
    email_key = _key(secret, "send:email:", email_lower)
    pair_key = _key(secret, "send:email-address:", email_lower, client)
    address_key = "send:address:" + client
    hold(conn, email_key, pair_key, address_key)
    # One query for every limit; the slowed ones only count once the failures say so.
    failures, pair, address, email = ratelimit.waits(conn, [
        (_email_failures(secret, email_lower), (SLOW_AFTER,)),
        (pair_key, SENDS_PER_EMAIL_AND_ADDRESS + SLOWED_SENDS_PER_EMAIL_AND_ADDRESS),
        (address_key, SENDS_PER_ADDRESS),
        (email_key, SENDS_PER_EMAIL + SLOWED_SENDS_PER_EMAIL),
    ], now)
    slowed = failures[0] > 0
    own = len(SENDS_PER_EMAIL_AND_ADDRESS)
    wait = max(pair[:own] + address)
    shared = max(email[:len(SENDS_PER_EMAIL)] + (pair[own:] + email[len(SENDS_PER_EMAIL):] if slowed else []))
    if shared and not _known(conn, secret, email_lower, client, now):
        wait = max(wait, shared)
    if not wait:
        ratelimit.record(conn, now, email_key, pair_key, address_key)
    return wait


def _known(conn: sa.Connection, secret: bytes, email_lower: str, client: str, now: int) -> bool:
    """Whether this email signed in from this client address within KNOWN_FOR."""
    return ratelimit.retry_after(conn, _signed_in_from(secret, email_lower, client), (Limit(1, KNOWN_FOR),), now) > 0


def request_code(
    conn: sa.Connection, secret: bytes, email: str, address: str, now: int, locale: str = "en"
) -> str:
    """Issue a new challenge and queue its code for mailing.

    The work is the same whether or not the address belongs to a customer: the
    mail worker resolves the customer later, so neither the answer nor its timing
    can tell an attacker which addresses are known.
    """
    email_lower = email.lower()
    client = ratelimit.client(address)
    wait = _sending_wait(conn, secret, email_lower, client, now)
    if wait:
        raise rate_limited(wait)

    challenge = keys.token()
    code = f"{secrets.randbelow(10**6):06d}"
    client_hash = keys.digest(secret, "client", client)
    VOID_OLDER.run(conn, email=email_lower, client=client_hash)
    NEW_CHALLENGE.run(
        conn, id_hash=keys.digest(secret, "challenge", challenge), client_hash=client_hash, email_lower=email_lower,
        code_hash=keys.digest(secret, "code", challenge + code), created=now, expires_at=now + CODE_LIFETIME,
        attempts=0, spent=False,
    )
    payload = json.dumps({"to": email_lower, "code": code, "locale": locale})
    QUEUE_MAIL.run(
        conn, kind="signin_code", created=now, expires_at=now + CODE_LIFETIME,
        sealed=keys.sealer(secret).encrypt(payload.encode()).decode(), status="pending", attempts=0,
        next_attempt_at=now,
    )
    return challenge


def verify_code(
    conn: sa.Connection, secret: bytes, challenge: str, code: str, address: str, now: int
) -> Proof:
    """What a right, fresh, unused code proves; else raises Refused.

    Refused, not APIError, so that the transaction still commits what it counted
    (Database.run commits, then raises the error): the verify itself, and what
    `_decide` says the outcome counts for.
    """
    client = ratelimit.client(address)
    verify_key, failure_key = "verify:address:" + client, address_failures(client)
    hold(conn, verify_key, failure_key)
    verifies, failures = ratelimit.waits(conn, [(verify_key, VERIFIES_PER_ADDRESS), (failure_key, FAILURES_PER_ADDRESS)], now)
    wait = max(verifies + failures)
    if wait:
        raise Refused(rate_limited(wait))
    outcome, counted = _decide(conn, secret, challenge, code, client, now)
    ratelimit.record(conn, now, verify_key, *counted)
    if isinstance(outcome, APIError):
        raise Refused(outcome)
    return outcome


def _decide(
    conn: sa.Connection, secret: bytes, challenge: str, code: str, client: str, now: int
) -> tuple[Proof | APIError, list[str]]:
    """The outcome of one verify, and the keys it counts for besides the verify.

    Only a wrong try against a live challenge is a failure: tries against a spent,
    expired or dead one learn nothing, so they cost nothing, and nobody can use
    them to get a customer refused."""
    id_hash = keys.digest(secret, "challenge", challenge)
    found = FIND.rows(conn, challenge=id_hash)
    if not found:
        return invalid_code(), []
    ((email_lower, code_hash),) = found
    if not keys.same(keys.digest(secret, "code", challenge + code), code_hash):
        # While guessing at this email is slowed, one wrong try ends the code.
        slowed = _slowed(conn, secret, email_lower, now)
        if (LAST_TRY if slowed else WRONG_TRY).run(conn, challenge=id_hash, now=now) != 1:
            return invalid_code(), []
        return invalid_code(), [address_failures(client), _email_failures(secret, email_lower)]
    # The update is the decision: of concurrent verifies only one can flip `spent`.
    if SPEND.run(conn, challenge=id_hash, now=now) != 1:
        return invalid_code(), []
    customer = billing.customer_for_email(conn, email_lower)
    if customer is None:
        return invalid_code(), []
    return Proof(customer, email_lower), [_signed_in_from(secret, email_lower, client)]


def prune(conn: sa.Connection, now: int) -> None:
    """Forget challenges that can no longer be used."""
    conn.execute(challenges.delete().where(challenges.c.expires_at <= now - CODE_LIFETIME))
