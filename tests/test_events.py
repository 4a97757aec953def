"""Audit log, events and signed webhook deliveries from the durable outbox, against a real HTTP receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa
import uvicorn
from click.testing import CliRunner
from helpers import Outbox, sign_in
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from backend.app import create_app
from backend.cli import main
from backend.config import parse_config
from backend.events import Actor, record, signature
from backend.store.tables import audit_log, events, webhook_deliveries

HOOK_SECRET = "whsec-" + "k" * 32


class Receiver:
    """A real HTTP server that records each delivery and answers with the next planned status."""

    def __init__(self) -> None:
        self.received: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()
        self.statuses: list[int] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hooks"

    async def hook(self, request: Request) -> Response:
        self.received.put((dict(request.headers), await request.body()))
        return Response(status_code=self.statuses.pop(0) if self.statuses else 200)

    def start(self) -> None:
        self.sock.listen(16)
        app = Starlette(routes=[Route("/hooks", self.hook, methods=["POST"])])
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    if hasattr(found, "server"):
        found.stop()
    else:
        found.sock.close()


def hooked(settings, clock, receiver, events_list='["*"]'):
    config = parse_config(
        f"webhooks: [{{url: '{receiver.url}', secret_env: HOOK_SECRET, events: {events_list}}}]\n"
    )[0]
    secret_settings = replace(settings, named_secrets={"HOOK_SECRET": HOOK_SECRET})
    return create_app(secret_settings, config, clock=clock, background=False), secret_settings


def rows(db, table) -> list[Any]:
    return db.run(lambda conn: conn.execute(sa.select(table)).all(), write=False)


def verify(header: str, body: bytes, secret: str) -> bool:
    """What a receiver does: recompute the HMAC of "<t>.<body>" and compare in constant time."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def test_a_change_writes_its_audit_entry_event_and_delivery(settings, clock, db, receiver):
    app, _ = hooked(settings, clock, receiver)
    with TestClient(app, base_url="http://localhost", client=("203.0.113.9", 4000)) as client:
        sign_in(client, Outbox(client, settings.outbox_dir))
        assert client.patch("/api/customer", json={"name": "Jenny R."}).status_code == 200
    (event,) = rows(db, events)
    data = json.loads(event.data)
    assert data["type"] == "customer.updated" and data["object"] == "event"
    assert data["data"]["object"]["name"] == "Jenny R."
    assert data["data"]["previous_attributes"] == {"name": "Jenny Rosen"}
    (entry,) = rows(db, audit_log)
    assert (entry.customer, entry.action, entry.object_id, entry.client, entry.event) == (
        "cus_jenny", "customer.updated", "cus_jenny", "203.0.113.9", event.id)
    assert entry.at == int(clock.now)
    (delivery,) = rows(db, webhook_deliveries)
    assert (delivery.event_id, delivery.url, delivery.status) == (event.id, receiver.url, "pending")


def test_webhooks_get_only_the_event_types_they_ask_for(settings, clock, db, receiver):
    config = parse_config(
        f"webhooks: [{{url: '{receiver.url}', secret_env: HOOK_SECRET, events: [customer.subscription.updated]}},"
        f" {{url: 'https://all.example/hooks', secret_env: HOOK_SECRET}}]\n"
    )[0]
    actor = Actor("cus_jenny", "127.0.0.1", int(clock.now))
    db.run(record, config.webhooks, actor, "customer.updated", {"id": "cus_jenny"})
    assert [d.url for d in rows(db, webhook_deliveries)] == ["https://all.example/hooks"]


def test_a_delivery_is_signed_and_carries_the_event(settings, clock, db, receiver):
    receiver.start()
    app, _ = hooked(settings, clock, receiver)
    with TestClient(app, base_url="http://localhost") as client:
        sign_in(client, Outbox(client, settings.outbox_dir))
        client.patch("/api/customer", json={"phone": "+49 30 1111111"})
        assert client.portal.call(app.state.webhook_worker.process_due) == 1
    headers, body = receiver.received.get(timeout=10)
    assert headers["content-type"] == "application/json"
    assert headers["porch-signature"].startswith(f"t={int(clock.now)},v1=")
    assert verify(headers["porch-signature"], body, HOOK_SECRET)
    assert not verify(headers["porch-signature"], body, "another secret")
    (event,) = rows(db, events)
    assert json.loads(body) == json.loads(event.data)
    (delivery,) = rows(db, webhook_deliveries)
    assert (delivery.status, delivery.last_status, delivery.delivered_at) == ("delivered", 200, int(clock.now))


def test_signature_is_hmac_of_timestamp_dot_body():
    assert signature(b"key", 1700000000, b'{"a":1}') == (
        "t=1700000000,v1=" + hmac.new(b"key", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    )


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers_2xx(settings, clock, db, receiver):
    receiver.statuses = [500, 503]
    receiver.start()
    app, _ = hooked(settings, clock, receiver)
    with TestClient(app, base_url="http://localhost") as client:
        sign_in(client, Outbox(client, settings.outbox_dir))
        client.patch("/api/customer", json={"name": "J"})
        worker = app.state.webhook_worker
        client.portal.call(worker.process_due)
        (delivery,) = rows(db, webhook_deliveries)
        assert (delivery.status, delivery.attempts, delivery.last_status) == ("pending", 1, 500)
        assert delivery.next_attempt_at == int(clock.now) + 10
        assert client.portal.call(worker.process_due) == 0  # not due yet
        clock.advance(10)
        client.portal.call(worker.process_due)
        (delivery,) = rows(db, webhook_deliveries)
        assert (delivery.attempts, delivery.last_status, delivery.next_attempt_at) == (2, 503, int(clock.now) + 20)
        clock.advance(20)
        client.portal.call(worker.process_due)
    bodies = [receiver.received.get(timeout=10)[1] for _ in range(3)]
    assert bodies[0] == bodies[1] == bodies[2]  # the same event each time, never a new one
    (delivery,) = rows(db, webhook_deliveries)
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("delivered", 3, 200)


def test_nothing_is_lost_while_the_receiver_and_the_backend_are_down(settings, clock, db, receiver):
    app, secret_settings = hooked(settings, clock, receiver)
    with TestClient(app, base_url="http://localhost") as client:
        sign_in(client, Outbox(client, settings.outbox_dir))
        client.patch("/api/customer", json={"name": "Down"})
        client.portal.call(app.state.webhook_worker.process_due)  # nothing listens yet
    (delivery,) = rows(db, webhook_deliveries)
    assert delivery.status == "pending" and "connect" in (delivery.last_error or "").lower()
    # A new backend process, after the receiver came back: the queued delivery goes out.
    receiver.start()
    clock.advance(3600)
    restarted = create_app(secret_settings, app.state.config, clock=clock, background=False)
    with TestClient(restarted) as client:
        assert client.portal.call(restarted.state.webhook_worker.process_due) == 1
    assert json.loads(receiver.received.get(timeout=10)[1])["data"]["object"]["name"] == "Down"


def test_a_delivery_whose_sender_died_is_taken_again_after_its_lease(settings, clock, db, receiver):
    receiver.start()
    app, _ = hooked(settings, clock, receiver)
    actor = Actor("cus_jenny", "127.0.0.1", int(clock.now))
    db.run(record, app.state.config.webhooks, actor, "customer.updated", {"id": "cus_jenny"})
    db.run(lambda conn: conn.execute(webhook_deliveries.update().values(status="sending",
                                                                       next_attempt_at=int(clock.now) + 120)))
    with TestClient(app) as client:
        assert client.portal.call(app.state.webhook_worker.process_due) == 0
        clock.advance(120)
        assert client.portal.call(app.state.webhook_worker.process_due) == 1
    assert rows(db, webhook_deliveries)[0].status == "delivered"


def test_a_missing_signing_secret_stops_the_start_and_names_it(settings, clock, db):
    from backend.settings import SettingsError

    config = parse_config("webhooks: [{url: 'https://hooks.example/x', secret_env: HOOK_SECRET}]\n")[0]
    with pytest.raises(SettingsError) as caught:
        create_app(settings, config, clock=clock)
    assert caught.value.problems == [
        "HOOK_SECRET is unset: the config names it as a signing secret; set it in the environment"
    ]


def test_events_cli_lists_and_replays(settings, clock, db, receiver, tmp_path, monkeypatch):
    app, _ = hooked(settings, clock, receiver)
    actor = Actor("cus_jenny", "127.0.0.1", int(clock.now))
    event_id = db.run(record, app.state.config.webhooks, actor, "customer.updated", {"id": "cus_jenny"})
    db.run(lambda conn: conn.execute(webhook_deliveries.update().values(
        status="delivered", attempts=1, last_status=200, delivered_at=int(clock.now))))
    env = {"PORCH_DATABASE_URL": settings.database_url}
    runner = CliRunner()
    listed = runner.invoke(main, ["events"], env=env)
    assert listed.exit_code == 0, listed.output
    assert listed.output.startswith(f"{event_id}  customer.updated")
    assert f"{receiver.url}  delivered " in listed.output and "1 tries last answer 200" in listed.output
    assert runner.invoke(main, ["events", "--status", "pending"], env=env).output == "No webhook deliveries pending.\n"
    replayed = runner.invoke(main, ["events", "replay", event_id], env=env)
    assert replayed.output == f"Queued 1 delivery of {event_id} again.\n"
    assert rows(db, webhook_deliveries)[0].status == "pending"
    missing = runner.invoke(main, ["events", "replay", "evt_nothing"], env=env)
    assert missing.exit_code == 1
    assert missing.output == "Error: no webhook deliveries for evt_nothing: list them with `python -m backend events`\n"


def test_audit_cli_lists_who_changed_what_from_where(settings, clock, db):
    actor = Actor("cus_jenny", "203.0.113.9", 1_790_000_000)
    event_id = db.run(record, [], actor, "customer.updated", {"id": "cus_jenny"}, {"name": "Jenny Rosen"})
    runner = CliRunner()
    env = {"PORCH_DATABASE_URL": settings.database_url}
    assert runner.invoke(main, ["audit"], env=env).output == (
        f"2026-09-21 14:13:20  cus_jenny  customer.updated                     cus_jenny  from 203.0.113.9  "
        f'{event_id}  {{"name": "Jenny Rosen"}}\n'
    )
    assert runner.invoke(main, ["audit", "--customer", "cus_sam"], env=env).output == "No changes recorded for cus_sam.\n"


def test_an_unset_add_card_signing_key_stops_the_start_too(settings, clock, db):
    from backend.settings import SettingsError

    config = parse_config(
        "login_link: {url: 'https://billing.acme.example'}\n"
        "features: {payment_method_update: {add_url: 'https://acme.example/add', signing_secret_env: ADD_SECRET}}\n"
    )[0]
    with pytest.raises(SettingsError) as caught:
        create_app(settings, config, clock=clock)
    assert caught.value.problems == [
        "ADD_SECRET is unset: the config names it as a signing secret; set it in the environment"
    ]
