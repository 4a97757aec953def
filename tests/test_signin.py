"""Sign-in with an email one-time code: SPEC section 7's code, binding, tries,
sending, storage and enumeration rules, and the preamble's shared-email rule."""

from __future__ import annotations

from contextlib import closing

import pytest
import sqlalchemy as sa
from helpers import sign_in, with_config
from starlette.testclient import TestClient

from backend import signin
from backend.errors import APIError
from backend.signin import CODE_LIFETIME, MAX_TRIES
from backend.store.tables import challenges, mail_queue, metadata, rate_events, sessions


def ask(client, address="jenny@example.com", **headers):
    return client.post("/api/login/code", json={"email": address}, headers=headers)


def verify(client, challenge, code):
    return client.post("/api/login/verify", json={"challenge": challenge, "code": code})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_a_code_from_the_mail_signs_in_and_sets_the_session_cookie(client, outbox):
    answer = ask(client)
    assert answer.status_code == 202
    assert set(answer.json()) == {"challenge"}
    result = verify(client, answer.json()["challenge"], outbox.last_code("jenny@example.com"))
    assert result.status_code == 200
    assert result.json()["customer"]["id"] == "cus_jenny"
    assert "porch_session" in client.cookies
    assert client.get("/api/portal").status_code == 200


def test_the_code_is_six_digits(client, outbox):
    ask(client)
    code = outbox.last_code()
    assert len(code) == 6 and code.isdigit()


def test_shared_email_signs_in_as_the_newest_customer_with_an_active_plan(client, outbox):
    # cus_jenny_new is newer but has no subscription; cus_jenny_old's plan ended.
    assert sign_in(client, outbox, "JENNY@EXAMPLE.COM")["id"] == "cus_jenny"


def test_shared_email_without_active_plans_signs_in_as_the_newest(client, outbox, db):
    db.run(lambda conn: conn.execute(sa.text("UPDATE subscriptions SET status='canceled' WHERE id='sub_jenny_pro'")))
    assert sign_in(client, outbox, "jenny@example.com")["id"] == "cus_jenny_new"


def test_a_customer_without_email_cannot_sign_in(client, outbox, db):
    # The customer with no email has an active plan, yet no address can reach it.
    ask(client, "")
    assert outbox.deliver() == 0
    assert ask(client, "None").status_code == 400


def test_a_code_is_single_use(client, outbox):
    challenge = ask(client).json()["challenge"]
    code = outbox.last_code()
    assert verify(client, challenge, code).status_code == 200
    again = verify(client, challenge, code)
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "invalid_code"


def test_a_code_expires_after_ten_minutes(client, outbox, clock):
    challenge = ask(client).json()["challenge"]
    code = outbox.last_code()
    clock.advance(CODE_LIFETIME)
    assert verify(client, challenge, code).status_code == 401


def test_a_code_still_works_just_before_it_expires(client, outbox, clock):
    challenge = ask(client).json()["challenge"]
    code = outbox.last_code()
    clock.advance(CODE_LIFETIME - 1)
    assert verify(client, challenge, code).status_code == 200


def test_a_code_works_only_with_its_own_challenge(client, outbox, clock):
    first = ask(client).json()["challenge"]
    first_code = outbox.last_code("jenny@example.com")
    other = ask(client, "sam@example.com").json()["challenge"]
    sam_code = outbox.last_code("sam@example.com")
    assert verify(client, first, sam_code).status_code == 401
    assert verify(client, other, first_code).status_code == 401
    assert verify(client, first, first_code).status_code == 200


def test_a_new_code_voids_the_older_ones(client, outbox, clock):
    old = ask(client).json()["challenge"]
    old_code = outbox.last_code()
    clock.advance(61)
    new = ask(client).json()["challenge"]
    new_code = outbox.last_code()
    assert verify(client, old, old_code).status_code == 401
    assert verify(client, new, new_code).status_code == 200


def test_five_wrong_tries_kill_the_code(client, outbox):
    challenge = ask(client).json()["challenge"]
    code = outbox.last_code()
    for _ in range(5):
        assert verify(client, challenge, wrong(code)).status_code == 401
    assert verify(client, challenge, code).status_code == 401


def test_four_wrong_tries_leave_the_code_alive(client, outbox):
    challenge = ask(client).json()["challenge"]
    code = outbox.last_code()
    for _ in range(4):
        verify(client, challenge, wrong(code))
    assert verify(client, challenge, code).status_code == 200


def from_address(app, address: str) -> TestClient:
    """A client at `address`; the app's lifespan is the `client` fixture's, so the pool lives on."""
    return TestClient(app, base_url="http://localhost", client=(address, 40000))


def attacker(n: int) -> str:
    return f"198.51.{n // 250}.{n % 250 + 1}"


def email_failures(db) -> int:
    """Wrong tries counted against emails: what slows guessing."""
    query = sa.select(sa.func.count()).select_from(rate_events).where(rate_events.c.key.startswith("long:fail:email:"))
    return db.run(lambda conn: conn.execute(query).scalar(), write=False)


def guess_once(app, challenge: str, code: str, address: str) -> int:
    with closing(from_address(app, address)) as client:
        return verify(client, challenge, wrong(code)).status_code


def spend_a_code(app, outbox, address, how: str, clock) -> tuple[str, str]:
    """A challenge for Jenny that the attacker at `address` asked for, then made dead in the way named."""
    with closing(from_address(app, address)) as client:
        challenge = ask(client).json()["challenge"]
        code = outbox.last_code()
        if how == "used":
            assert verify(client, challenge, code).status_code == 200
        elif how == "killed by five wrong tries":
            assert [verify(client, challenge, wrong(code)).status_code for _ in range(MAX_TRIES)] == [401] * 5
        elif how == "expired":
            clock.advance(CODE_LIFETIME)
        elif how == "voided":
            clock.advance(60)
            ask(client)
    return challenge, code


@pytest.mark.parametrize("how", ["used", "killed by five wrong tries", "expired", "voided"])
def test_tries_against_a_dead_challenge_count_for_nothing(app, client, outbox, clock, db, how):
    challenge, code = spend_a_code(app, outbox, attacker(0), how, clock)
    counted = email_failures(db)
    # A hundred and one wrong tries, each from its own address, so no address limit is what stops them.
    assert {guess_once(app, challenge, code, attacker(n)) for n in range(1, 102)} == {401}
    assert email_failures(db) == counted
    clock.advance(61)
    # Jenny, at home, gets her code and it works.
    assert sign_in(client, outbox)["id"] == "cus_jenny"


def test_a_strangers_code_requests_do_not_use_up_the_customers_own(app, client, outbox, clock):
    with closing(from_address(app, attacker(0))) as stranger:
        for _ in range(10):
            assert ask(stranger).status_code == 202
            clock.advance(61)
        assert ask(stranger).status_code == 429
    assert sign_in(client, outbox)["id"] == "cus_jenny"


def test_a_strangers_code_request_does_not_void_the_code_the_customer_is_waiting_for(app, client, outbox, clock):
    mine = ask(client).json()["challenge"]
    my_code = outbox.last_code()
    clock.advance(5)
    with closing(from_address(app, attacker(0))) as stranger:
        assert ask(stranger).status_code == 202
    assert verify(client, mine, my_code).status_code == 200


def test_a_new_code_voids_the_older_ones_of_the_same_client_only(app, client, outbox, clock):
    with closing(from_address(app, attacker(0))) as stranger:
        theirs = ask(stranger).json()["challenge"]
        their_code = outbox.last_code()
        clock.advance(61)
        ask(stranger)
        assert verify(stranger, theirs, their_code).status_code == 401


def test_all_addresses_together_get_an_email_thirty_codes_an_hour(app, client, outbox, clock):
    answers = []
    for _ in range(10):
        answers += [ask(from_address(app, attacker(n))).status_code for n in range(4)]
        clock.advance(61)
    assert answers.count(202) == signin.SENDS_PER_EMAIL[0].count and set(answers) == {202, 429}
    # Jenny from an address she has never signed in from waits like everyone else...
    assert ask(client).status_code == 429


def test_an_address_the_customer_signed_in_from_is_never_crowded_out(app, client, outbox, clock):
    sign_in(client, outbox)
    clock.advance(61)
    for _ in range(10):
        for n in range(4):
            ask(from_address(app, attacker(n)))
        clock.advance(61)
    outbox.deliver()
    assert sign_in(client, outbox)["id"] == "cus_jenny"


def test_the_addresses_of_one_ipv6_64_are_one_client(app, client):
    asked = [ask(from_address(app, f"2001:db8:1:2::{n:x}"), f"person{n}@example.com").status_code for n in range(25)]
    assert asked == [202] * signin.SENDS_PER_ADDRESS[0].count + [429] * 15
    assert ask(from_address(app, "2001:db8:1:3::1"), "other@example.com").status_code == 202


def test_verifies_per_client_address_are_limited(app, client, outbox, clock):
    for _ in range(signin.VERIFIES_PER_ADDRESS[0].count):
        assert verify(client, "x" * 43, "123456").status_code == 401
    limited = verify(client, "x" * 43, "123456")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert limited.headers["retry-after"] == "60"
    with closing(from_address(app, attacker(0))) as other:
        challenge = ask(other).json()["challenge"]
        assert verify(other, challenge, outbox.last_code()).status_code == 200
    clock.advance(60)
    assert verify(client, "x" * 43, "123456").status_code == 401


def test_wrong_tries_per_client_address_are_limited_across_emails(app, client, outbox, clock):
    allowed = signin.FAILURES_PER_ADDRESS[0].count
    for n in range(allowed // MAX_TRIES):
        challenge = ask(client, f"person{n}@example.com").json()["challenge"]
        assert {verify(client, challenge, "000000").status_code for _ in range(MAX_TRIES)} == {401}
        clock.advance(60)
    challenge = ask(client).json()["challenge"]
    code = outbox.last_code()
    refused = verify(client, challenge, code)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 3600
    # Refused before the code was looked at, so the code is still alive for Jenny elsewhere.
    assert verify(from_address(app, attacker(0)), challenge, code).status_code == 200


def make_100_failures(app, outbox, clock, first: int = 0) -> None:
    """A hundred wrong tries at Jenny's codes, five to a code, each code asked for from a new address."""
    for n in range(first, first + 20):
        with closing(from_address(app, attacker(n))) as guesser:
            challenge = ask(guesser).json()["challenge"]
            code = outbox.last_code()
            assert {verify(guesser, challenge, wrong(code)).status_code for _ in range(MAX_TRIES)} == {401}
        clock.advance(300)


def test_after_100_failures_guessing_is_slowed_not_locked(app, client, outbox, clock, db):
    make_100_failures(app, outbox, clock)
    assert email_failures(db) == signin.SLOW_AFTER.count
    # The codes of the last six hours count against the slowed limits too.
    clock.advance(6 * 3600)
    # One wrong try now ends a code.
    with closing(from_address(app, attacker(100))) as guesser:
        challenge = ask(guesser).json()["challenge"]
        code = outbox.last_code()
        assert verify(guesser, challenge, wrong(code)).status_code == 401
        assert verify(guesser, challenge, code).status_code == 401
        # One code per address in six hours...
        clock.advance(3600)
        again = ask(guesser)
        assert again.status_code == 429 and int(again.headers["retry-after"]) == 5 * 3600
    # ...and four for everyone together.
    assert [ask(from_address(app, attacker(n))).status_code for n in range(101, 105)] == [202] * 3 + [429]
    clock.advance(6 * 3600)
    # Jenny's right code on a live challenge always works.
    assert sign_in(client, outbox)["id"] == "cus_jenny"


def test_an_address_the_customer_signed_in_from_is_not_slowed(app, client, outbox, clock):
    sign_in(client, outbox)
    make_100_failures(app, outbox, clock)
    for _ in range(3):
        clock.advance(61)
        assert ask(client).status_code == 202
    clock.advance(61)
    assert sign_in(client, outbox)["id"] == "cus_jenny"


def test_slowing_ends_as_the_failures_grow_30_days_old(app, client, outbox, clock):
    start = clock()
    make_100_failures(app, outbox, clock)
    # A second before the first five failures are 30 days old, one wrong try still ends a code...
    clock.now = start + 30 * 86400 - 1
    with closing(from_address(app, attacker(100))) as guesser:
        challenge = ask(guesser).json()["challenge"]
        code = outbox.last_code()
        assert [verify(guesser, challenge, c).status_code for c in (wrong(code), code)] == [401, 401]
    # ...and a second later, with 95 left, it takes five again.
    clock.advance(1)
    with closing(from_address(app, attacker(101))) as guesser:
        challenge = ask(guesser).json()["challenge"]
        code = outbox.last_code()
        assert [verify(guesser, challenge, wrong(code)).status_code for _ in range(MAX_TRIES - 1)] == [401] * 4
        assert verify(guesser, challenge, code).status_code == 200


def test_one_code_a_minute_per_email(client, clock):
    assert ask(client).status_code == 202
    second = ask(client)
    assert second.status_code == 429
    assert second.headers["retry-after"] == "60"
    clock.advance(60)
    assert ask(client).status_code == 202


def test_ten_codes_an_hour_per_email(client, clock):
    for _ in range(10):
        assert ask(client).status_code == 202
        clock.advance(61)
    eleventh = ask(client)
    assert eleventh.status_code == 429
    assert 0 < int(eleventh.headers["retry-after"]) <= 3600


def test_sending_limits_are_per_address_case_insensitive(client):
    assert ask(client, "jenny@example.com").status_code == 202
    assert ask(client, "JENNY@example.com").status_code == 429


def test_unknown_emails_get_the_same_limits(client, clock):
    assert ask(client, "nobody@example.com").status_code == 202
    assert ask(client, "nobody@example.com").status_code == 429


def test_one_client_address_is_bounded_across_emails(client):
    answers = [ask(client, f"person{n}@example.com").status_code for n in range(11)]
    assert answers == [202] * 10 + [429]


def test_known_and_unknown_emails_get_the_same_answer(client, clock):
    known = ask(client, "jenny@example.com")
    unknown = ask(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 202
    assert known.json().keys() == unknown.json().keys()
    assert len(known.json()["challenge"]) == len(unknown.json()["challenge"])
    drop = {"date", "content-length"}
    assert {k: v for k, v in known.headers.items() if k not in drop} == {
        k: v for k, v in unknown.headers.items() if k not in drop
    }


def test_known_and_unknown_emails_do_the_same_work(client, db, clock):
    def counts():
        return db.run(lambda conn: [conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
                                    for t in (challenges, mail_queue, rate_events)])

    before = counts()
    ask(client, "jenny@example.com")
    after_known = counts()
    ask(client, "nobody@example.com")
    after_unknown = counts()
    assert [b - a for a, b in zip(before, after_known, strict=True)] == [b - a for a, b in zip(after_known, after_unknown, strict=True)]


def test_mail_goes_only_to_known_addresses(client, outbox):
    ask(client, "nobody@example.com")
    ask(client, "sam@example.com")
    assert outbox.deliver() == 2
    assert [m["To"] for m in outbox.messages()] == ["sam@example.com"]


def test_an_unknown_email_cannot_sign_in_even_with_the_right_code(client, outbox, db):
    challenge = ask(client, "nobody@example.com").json()["challenge"]
    outbox.deliver()
    # No mail went out; even a guessed code must not open a session.
    code_hash = db.run(lambda conn: conn.execute(sa.select(challenges.c.code_hash)).scalar())
    assert code_hash and len(code_hash) == 64
    assert all(verify(client, challenge, f"{n:06d}").status_code == 401 for n in range(5))


def test_codes_challenges_and_tokens_are_stored_only_as_hmacs(client, outbox, db):
    challenge = ask(client).json()["challenge"]
    code = outbox.last_code()
    verify(client, challenge, code)
    token = client.cookies["porch_session"]
    dump = "\n".join(
        str(row) for table in metadata.sorted_tables
        for row in db.run(lambda conn, table=table: conn.execute(table.select()).all())
    )
    assert "jenny@example.com" in dump  # the dump does reach the stored rows
    for secret in (code, challenge, token):
        assert secret not in dump


def test_mail_is_queued_not_sent_inline(client, outbox):
    ask(client)
    assert outbox.messages() == []
    outbox.deliver()
    assert len(outbox.messages()) == 1


def test_login_disabled_refuses_sign_in(settings, clock, db):
    from starlette.testclient import TestClient

    app = with_config(settings, "login_link: {enabled: false}", clock)
    with TestClient(app, base_url="http://localhost") as client:
        for path, body in (("/api/login/code", {"email": "jenny@example.com"}),
                           ("/api/login/verify", {"challenge": "x" * 43, "code": "123456"})):
            answer = client.post(path, json=body)
            assert answer.status_code == 404
            assert answer.json()["error"]["code"] == "login_disabled"


def test_malformed_emails_and_header_breaks_are_refused(client):
    for bad in ("not-an-email", "jenny@example.com\r\nBcc: evil@example.com", "a\0@example.com"):
        answer = ask(client, bad)
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "invalid_request"


def test_a_malformed_code_is_a_bad_request(client):
    challenge = ask(client).json()["challenge"]
    for bad in ("12345", "1234567", "abcdef", 123456):
        answer = verify(client, challenge, bad)
        assert answer.status_code == 400


def test_concurrent_verifies_of_one_code_let_exactly_one_win(client, outbox, app):
    from concurrent.futures import ThreadPoolExecutor

    challenge = ask(client).json()["challenge"]
    code = outbox.last_code()
    state = app.state

    def attempt(n):
        try:
            return state.db.run(signin.verify_code, state.secret, challenge, code, f"203.0.113.{n + 1}",
                                int(state.clock())).customer
        except APIError as refused:
            return refused.code

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(16)))
    assert results.count("cus_jenny") == 1
    assert results.count("invalid_code") == 15


def test_sessions_are_new_at_each_sign_in(client, outbox, clock, db):
    sign_in(client, outbox)
    first = client.cookies["porch_session"]
    clock.advance(61)
    client.cookies.clear()
    sign_in(client, outbox)
    assert client.cookies["porch_session"] != first
    assert db.run(lambda conn: conn.execute(sa.select(sa.func.count()).select_from(sessions)).scalar()) == 2
