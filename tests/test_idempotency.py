"""Idempotency-Key: a repeat within 24 hours in the same session returns the first answer and changes nothing."""

from __future__ import annotations

import sqlalchemy as sa
from conftest import Outbox, sign_in
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
