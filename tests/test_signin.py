"""Sign-in with an email one-time code: SPEC section 7's code, binding, tries,
sending, storage and enumeration rules, and the preamble's shared-email rule."""

from __future__ import annotations

import sqlalchemy as sa
from conftest import sign_in, with_config

from backend.signin import CODE_LIFETIME
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


def test_at_most_100_failures_per_email_per_hour_not_reset_by_resends(client, outbox, clock):
    challenge = ask(client).json()["challenge"]
    code = outbox.last_code()
    for _ in range(100):
        assert verify(client, challenge, wrong(code)).status_code == 401
    clock.advance(61)
    challenge = ask(client).json()["challenge"]
    capped = verify(client, challenge, outbox.last_code())
    assert capped.status_code == 429
    assert capped.json()["error"]["code"] == "rate_limited"
    assert 0 < int(capped.headers["retry-after"]) <= 3600


def test_the_failure_cap_lifts_after_an_hour(client, outbox, clock):
    challenge = ask(client).json()["challenge"]
    code = outbox.last_code()
    for _ in range(100):
        verify(client, challenge, wrong(code))
    clock.advance(3600)
    challenge = ask(client).json()["challenge"]
    assert verify(client, challenge, outbox.last_code()).status_code == 200


def test_99_failures_do_not_block_a_right_code(client, outbox, clock):
    challenge = ask(client).json()["challenge"]
    code = outbox.last_code()
    for _ in range(99):
        verify(client, challenge, wrong(code))
    clock.advance(61)
    challenge = ask(client).json()["challenge"]
    assert verify(client, challenge, outbox.last_code()).status_code == 200


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
    assert [b - a for a, b in zip(before, after_known)] == [b - a for a, b in zip(after_known, after_unknown)]


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
        str(row) for table in metadata.sorted_tables for row in db.run(lambda conn: conn.execute(table.select()).all())
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

    from backend import signin

    challenge = ask(client).json()["challenge"]
    code = outbox.last_code()
    state = app.state

    def attempt(_):
        outcome = state.db.run(signin.verify_code, state.secret, challenge, code, int(state.clock()))
        return outcome if isinstance(outcome, str) else outcome.code

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
