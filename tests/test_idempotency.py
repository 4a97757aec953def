"""Idempotency-Key: a repeat within 24 hours in the same session returns the first answer and changes nothing."""

from __future__ import annotations

import sqlalchemy as sa
from helpers import Outbox, sign_in
from starlette.testclient import TestClient

from backend import idempotency
from backend.store.tables import events, idempotency_keys


def event_count(db) -> int:
    return db.run(lambda conn: conn.execute(sa.select(sa.func.count()).select_from(events)).scalar(), write=False)


def patch(client, body, key="key-1"):
    return client.patch("/api/customer", json=body, headers={"Idempotency-Key": key})


def test_a_repeat_returns_the_first_answer_and_changes_nothing(client, outbox, db):
    sign_in(client, outbox)
    first = patch(client, {"name": "Jenny R."})
    client.patch("/api/customer", json={"name": "Someone else"})  # a change in between, without a key
    again = patch(client, {"name": "Jenny R."})
    assert again.status_code == first.status_code == 200
    assert again.json() == first.json()
    assert client.get("/api/portal").json()["customer"]["name"] == "Someone else"
    assert event_count(db) == 2


def test_the_same_key_for_another_request_is_refused(client, outbox, db):
    sign_in(client, outbox)
    patch(client, {"name": "A"})
    other = patch(client, {"name": "B"})
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_mismatch"
    assert event_count(db) == 1


def test_keys_belong_to_one_session(app, settings, db):
    answers = []
    for _ in range(2):
        with TestClient(app, base_url="http://localhost") as client:
            sign_in(client, Outbox(client, settings.outbox_dir))
            app.state.clock.advance(61)
            answers.append(patch(client, {"name": f"Name {len(answers)}"}))
    assert [a.json()["customer"]["name"] for a in answers] == ["Name 0", "Name 1"]
    assert event_count(db) == 2


def test_stored_answers_are_forgotten_after_24_hours(client, outbox, clock, db):
    sign_in(client, outbox)
    patch(client, {"name": "A"})

    def stored(conn):
        return conn.execute(sa.select(sa.func.count()).select_from(idempotency_keys)).scalar()

    db.run(idempotency.prune, int(clock.now) + 24 * 3600 - 1)
    assert db.run(stored) == 1
    db.run(idempotency.prune, int(clock.now) + 24 * 3600)
    assert db.run(stored) == 0


def test_a_refused_change_is_not_remembered(client, outbox, db):
    # Sam's only card cannot go while his trial runs: the change itself refuses, inside the
    # transaction that would store the answer. Had the refusal been stored, reusing the key for
    # another request would be a mismatch.
    sign_in(client, outbox, "sam@example.com")
    headers = {"Idempotency-Key": "key-1"}
    refused = client.request("DELETE", "/api/payment_methods/pm_sam_mc", json={}, headers=headers)
    assert refused.status_code == 409
    assert patch(client, {"name": "Allowed"}).status_code == 200


def test_a_malformed_key_is_a_bad_request(client, outbox):
    sign_in(client, outbox)
    for key in ("", "x" * 256, "with space", "ünïcode"):
        answer = client.patch("/api/customer", json={"name": "A"}, headers={"Idempotency-Key": key.encode("utf-8")})
        assert answer.status_code == 400, key
        assert answer.json()["error"]["code"] == "invalid_request"


# The limit on changes: a person changes a few things a minute; a script would send a webhook
# (and, with always_invoice, an invoice) per change.

def changes(client, count: int, start: int = 0) -> list[int]:
    return [patch(client, {"name": f"Name {n}"}, key=f"change-{n}").status_code for n in range(start, start + count)]


def assert_limited(answer, wait: int) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.headers["Retry-After"] == str(wait)
    message = f"Too many changes. Try again in {wait} seconds."
    assert answer.json() == {"error": {"code": "rate_limited", "message": message}}


def test_twenty_changes_a_minute_then_the_next_waits_and_changes_nothing(client, outbox, clock, db):
    sign_in(client, outbox)
    assert changes(client, 20) == [200] * 20
    clock.advance(15)
    for _ in range(3):  # asking again while limited does not push the wait further
        assert_limited(patch(client, {"name": "One too many"}, key="late"), 45)
    assert client.get("/api/portal").json()["customer"]["name"] == "Name 19"
    assert event_count(db) == 20
    clock.advance(45)
    assert patch(client, {"name": "A minute later"}, key="late").status_code == 200


def test_a_hundred_changes_an_hour(client, outbox, clock, db):
    sign_in(client, outbox)
    for batch in range(5):
        assert changes(client, 20, start=20 * batch) == [200] * 20
        clock.advance(60)
    assert_limited(patch(client, {"name": "One too many"}), 3600 - 5 * 60)
    assert event_count(db) == 100


def test_a_replay_of_an_answered_key_neither_counts_nor_waits(client, outbox, db):
    sign_in(client, outbox)
    first = changes(client, 1)
    assert [patch(client, {"name": "Name 0"}, key="change-0").status_code for _ in range(30)] == [200] * 30
    assert first + changes(client, 19, start=1) == [200] * 20
    assert patch(client, {"name": "New"}, key="new").status_code == 429
    again = patch(client, {"name": "Name 0"}, key="change-0")
    assert again.status_code == 200 and again.json()["customer"]["name"] == "Name 0"
    assert event_count(db) == 20


def test_the_limit_is_the_customers_across_sessions_and_nobody_elses(app, settings, clock, db):
    clients = [TestClient(app, base_url="http://localhost") for _ in range(3)]
    with clients[0] as jenny, clients[1] as jenny_elsewhere, clients[2] as sam:
        sign_in(jenny, Outbox(jenny, settings.outbox_dir))
        clock.advance(61)  # one code a minute per email
        sign_in(jenny_elsewhere, Outbox(jenny_elsewhere, settings.outbox_dir))
        sign_in(sam, Outbox(sam, settings.outbox_dir), "sam@example.com")
        assert changes(jenny, 20) == [200] * 20
        assert_limited(patch(jenny_elsewhere, {"name": "From the phone"}), 60)
        assert changes(sam, 20) == [200] * 20


def test_the_document_names_the_limit_where_changes_are_made(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    assert "429" in paths["/api/customer"]["patch"]["responses"]
    assert "429" in paths["/api/subscriptions/{id}/update"]["post"]["responses"]
    preview = paths["/api/subscriptions/{id}/preview"]["post"]  # reads only: no key to replay, no change to count
    assert "429" not in preview["responses"]
    assert all(p["name"] != "Idempotency-Key" for p in preview["parameters"])


def test_refused_changes_do_not_count(client, outbox):
    sign_in(client, outbox, "sam@example.com")  # his only card cannot go while his trial runs
    refused = [client.request("DELETE", "/api/payment_methods/pm_sam_mc", json={}).status_code for _ in range(25)]
    assert refused == [409] * 25
    assert changes(client, 20) == [200] * 20
