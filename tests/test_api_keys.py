"""The merchant API's secret keys (SPEC sections 7 and 11): shown once, kept only as HMACs, found in
constant time, refused once revoked, and wrong ones limited per client address. Called as the
business layer, without HTTP; test_merchant.py sends them over HTTP."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from helpers import NOW, SECRET

from backend import api_keys, keys
from backend.errors import APIError
from backend.store.tables import api_keys as table
from backend.store.tables import rate_events

CLIENT = "203.0.113.7"


def make(db, name: str = "billing server", now: int = NOW) -> tuple[api_keys.APIKey, str]:
    return db.run(api_keys.create, SECRET, name, now)


def authenticate(db, presented: str | None, client: str = CLIENT, now: int = NOW) -> str:
    return db.run(api_keys.authenticate, SECRET, presented, client, now)


def refusal(db, presented: str | None, client: str = CLIENT, now: int = NOW) -> APIError:
    with pytest.raises(APIError) as refused:
        authenticate(db, presented, client, now)
    return refused.value


def test_a_key_is_256_random_bits_after_its_prefix(db):
    made, key = make(db)
    other = make(db)[1]
    assert key.startswith("sk_porch_") and other.startswith("sk_porch_") and key != other
    assert len(key.removeprefix("sk_porch_")) >= 43  # 32 bytes, base64url
    assert made.id.startswith("key_") and made.name == "billing server" and made.created == NOW


def test_the_table_holds_an_hmac_of_the_key_and_never_the_key(db):
    _, key = make(db)
    rows = db.run(lambda conn: [dict(row._mapping) for row in conn.execute(sa.select(table))], write=False)
    assert len(rows) == 1
    stored = " ".join(str(value) for value in rows[0].values())
    assert key not in stored and key.removeprefix("sk_porch_") not in stored
    assert rows[0]["key_hash"] == keys.digest(SECRET, "api key", key)
    assert rows[0]["last4"] == key[-4:]


def test_the_list_shows_each_key_by_its_last_four_characters(db):
    first, first_key = make(db, "one")
    second, _ = make(db, "two", NOW + 1)
    listed = db.run(api_keys.listed, write=False)
    assert [k.id for k in listed] == [first.id, second.id]
    assert listed[0].hint == "sk_porch_..." + first_key[-4:]
    assert listed[0].last_used is None and listed[0].revoked is None


def test_the_right_key_is_accepted_and_its_use_is_recorded_once_a_minute(db):
    made, key = make(db)
    assert authenticate(db, key) == made.id
    assert authenticate(db, key, now=NOW + 30) == made.id
    assert db.run(api_keys.listed, write=False)[0].last_used == NOW
    authenticate(db, key, now=NOW + api_keys.TOUCH_AFTER + 1)
    assert db.run(api_keys.listed, write=False)[0].last_used == NOW + api_keys.TOUCH_AFTER + 1


@pytest.mark.parametrize("presented", [None, "", "sk_porch_wrong", "sk_live_1234567890"])
def test_a_missing_or_wrong_key_is_401_and_counted_against_the_address(db, presented):
    """The count outlives the refusal (errors.Refused): were it rolled back, guessing would cost nothing."""
    make(db)
    error = refusal(db, presented)
    assert error.status == 401
    assert error.code == ("api_key_required" if not presented else "invalid_api_key")
    counted = db.run(lambda conn: conn.execute(sa.select(rate_events.c.key)).scalars().all(), write=False)
    assert counted == ["api_key:client:" + CLIENT]


def test_a_wrong_key_is_named_by_its_last_four_characters_only(db):
    error = refusal(db, "sk_porch_not-a-real-key-but-long-abcd")
    assert error.message == "Invalid API key provided: ...abcd"


def test_a_key_with_another_keys_hash_under_another_secret_is_refused(db):
    _, key = make(db)
    with pytest.raises(APIError):
        db.run(api_keys.authenticate, b"another-secret-that-is-long-enough-0123456", key, CLIENT, NOW)


def test_a_revoked_key_is_refused_from_then_on(db):
    made, key = make(db)
    revoked = db.run(api_keys.revoke, made.id, NOW + 5)
    assert revoked.revoked == NOW + 5
    assert refusal(db, key, now=NOW + 6).code == "invalid_api_key"
    # Revoking again keeps the first time.
    assert db.run(api_keys.revoke, made.id, NOW + 9).revoked == NOW + 5
    assert db.run(api_keys.listed, write=False)[0].revoked == NOW + 5


def test_revoking_a_key_that_does_not_exist_says_how_to_find_one(db):
    with pytest.raises(api_keys.APIKeyError, match="keys list"):
        db.run(api_keys.revoke, "key_nope", NOW)


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "line\nbreak"])
def test_a_key_needs_a_name_of_text(db, name):
    with pytest.raises(api_keys.APIKeyError, match="name"):
        make(db, name)


def test_wrong_keys_past_the_limit_are_refused_with_429_even_the_right_one(db):
    _, key = make(db)
    first = api_keys.LIMITS[0]
    for n in range(first.count):
        assert refusal(db, f"sk_porch_guess{n}", now=NOW + n).status == 401
    limited = refusal(db, key, now=NOW + first.count)
    assert (limited.status, limited.code) == (429, "rate_limited")
    assert 0 < int(limited.headers["Retry-After"]) <= first.seconds
    # Another address is not held up by this one's guesses.
    assert authenticate(db, key, client="198.51.100.1", now=NOW + first.count)
    # Once the window has passed, the right key is let in again.
    assert authenticate(db, key, now=NOW + first.seconds + 1)


def test_an_ipv6_client_is_counted_per_64(db):
    first = api_keys.LIMITS[0]
    for n in range(first.count):
        refusal(db, "sk_porch_x", client=f"2001:db8:1:2::{n + 1}", now=NOW + n)
    assert refusal(db, "sk_porch_x", client="2001:db8:1:2::ffff", now=NOW + first.count).status == 429
    assert refusal(db, "sk_porch_x", client="2001:db8:1:3::1", now=NOW + first.count).status == 401
