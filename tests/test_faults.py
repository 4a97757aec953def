"""Faults that only real processes show: the database going away under a running
backend, and a backend killed mid-write. Each test runs `python -m backend serve`
against the test's store and looks at the store and the wire, not at internals."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import sqlalchemy as sa
from processes import Backend, free_port, wait_for_code

from backend import event_types
from backend.store import billing
from backend.store.database import Database
from backend.store.tables import audit_log, events, webhook_deliveries

JENNY = "jenny@example.com"


def sign_in(backend: Backend, address: str = JENNY) -> httpx.Client:
    client = backend.client()
    challenge = client.post("/api/login/code", json={"email": address}).json()["challenge"]
    code = wait_for_code(backend.folder / "outbox", address)
    answer = client.post("/api/login/verify", json={"challenge": challenge, "code": code})
    assert answer.status_code == 200, answer.text
    return client


def poll(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """The condition's first truthy value; fails naming `what` when the deadline passes first."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


# The database stopped and started again under a running backend.


class Proxy:
    """A TCP proxy to the database server, run in its own event loop thread.

    `cut` drops every connection and refuses new ones, as a stopped server does; `stall` drops
    every connection and accepts new ones but never answers them, as a hung server or a host
    gone from the network does; `restore` forwards again on the same port."""

    def __init__(self, host: str, port: int):
        self.upstream = (host, port)
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.Server | None = None
        self.forwarding = True
        self.links: set[asyncio.StreamWriter] = set()

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def _link(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if not self.forwarding:
            self.links.add(client_writer)
            try:
                await client_reader.read()  # until the client gives up, or restore() drops it
            except OSError:
                pass
            finally:
                self.links.discard(client_writer)
                client_writer.close()
            return
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.close()
            return
        pair = {client_writer, server_writer}
        self.links |= pair
        try:
            await asyncio.gather(self._pump(client_reader, server_writer), self._pump(server_reader, client_writer))
        finally:
            self.links -= pair

    def _drop_links(self) -> None:
        for writer in list(self.links):
            writer.transport.abort()

    async def _listen(self) -> None:
        self.forwarding = True
        self._drop_links()
        if self.server is None or not self.server.is_serving():
            self.server = await asyncio.start_server(self._link, "127.0.0.1", self.port)

    async def _cut(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()
        self._drop_links()

    async def _stall(self) -> None:
        self.forwarding = False
        self._drop_links()

    def start(self) -> Proxy:
        self.thread.start()
        self._run(self._listen())
        return self

    def cut(self) -> None:
        self._run(self._cut())

    def stall(self) -> None:
        self._run(self._stall())

    def restore(self) -> None:
        self._run(self._listen())

    def close(self) -> None:
        if self.server is not None and self.server.is_serving():
            self.cut()

        async def settle() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self._run(settle())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    def url_for(self, database_url: str) -> str:
        """The same database, reached through the proxy."""
        parts = urlsplit(database_url)
        netloc = parts.netloc.rsplit("@", 1)
        netloc[-1] = f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc="@".join(netloc)))


@pytest.fixture
def proxy(database_url: str) -> Iterator[Proxy]:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite is a file opened inside the backend process: there is no database server to stop")
    parts = urlsplit(database_url)
    found = Proxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
    yield found
    found.close()


def answer(client: httpx.Client, method: str, path: str, within: float = 15, **kwargs: Any) -> httpx.Response:
    # A bound on every answer: a hang fails the test, named, instead of stalling the run.
    try:
        return client.request(method, path, timeout=within, **kwargs)
    except httpx.TimeoutException:
        raise AssertionError(f"{method} {path} did not answer within {within} s") from None


def unavailable(down: httpx.Response) -> None:
    assert down.status_code == 503, f"{down.request.method} {down.request.url.path}: {down.status_code} {down.text}"
    error = down.json()["error"]
    assert set(error) == {"code", "message"} and error["code"] == "unavailable", down.text
    assert error["message"]


def test_with_the_database_down_the_api_answers_503_and_recovers_when_it_is_back(db, database_url, proxy, tmp_path):
    with Backend(tmp_path / "backend", proxy.url_for(database_url)) as backend, \
            closing(sign_in(backend)) as jenny, backend.client() as anonymous:
        assert answer(jenny, "GET", "/api/portal").status_code == 200
        requests = [
            (anonymous, "GET", "/api/health", {}),
            (jenny, "GET", "/api/portal", {}),
            (jenny, "PATCH", "/api/customer", {"json": {"name": "Jenny in the outage"}}),
            (anonymous, "POST", "/api/login/code", {"json": {"email": "sam@example.com"}}),
            (anonymous, "POST", "/api/login/verify", {"json": {"challenge": "c" * 43, "code": "123456"}}),
        ]

        proxy.cut()
        # Twice: the first requests meet the pool's dead connections, the later ones a server refusing new ones.
        for _ in range(2):
            for client, method, path, kwargs in requests:
                unavailable(answer(client, method, path, **kwargs))
        assert backend.process is not None and backend.process.poll() is None

        proxy.restore()
        # The same process, without a restart: the pool replaces its dead connections.
        assert answer(anonymous, "GET", "/api/health").json() == {"status": "ok"}
        assert answer(jenny, "GET", "/api/portal").json()["customer"]["name"] == "Jenny Rosen"
        assert answer(jenny, "PATCH", "/api/customer", json={"name": "Jenny again"}).status_code == 200
        # The code request refused in the outage left nothing behind, not even a count against the limit.
        assert answer(anonymous, "POST", "/api/login/code", json={"email": "sam@example.com"}).status_code == 202
        assert wait_for_code(backend.folder / "outbox", "sam@example.com")
    names = db.run(lambda conn: [json.loads(d)["data"]["object"]["name"]
                                 for d in conn.execute(sa.select(events.c.data)).scalars()])
    assert names == ["Jenny again"]


def test_a_database_that_never_answers_gets_a_503_within_seconds_too(db, database_url, proxy, tmp_path):
    with Backend(tmp_path / "backend", proxy.url_for(database_url)) as backend, \
            closing(sign_in(backend)) as jenny, backend.client() as anonymous:
        proxy.stall()
        try:
            # One request: each costs the whole connect timeout, and the test above covers the others.
            unavailable(answer(jenny, "GET", "/api/portal", within=8))
        finally:
            proxy.restore()
        assert answer(anonymous, "GET", "/api/health").status_code == 200
        assert answer(jenny, "GET", "/api/portal").status_code == 200


# A backend killed mid-write, and the one started after it on the same store.

WEBHOOK_SECRET = "whsec-" + "f" * 32
SUBSCRIPTION = "sub_jenny_pro"


class Receiver:
    """A webhook receiver on a real socket that records each delivered event and answers 200."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        received = self.events

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def ids(self) -> set[str]:
        return {event["id"] for event in list(self.events)}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def churn(backend: Backend, cookies: httpx.Cookies, worker: int, answers: list[tuple[str, int, str]]) -> None:
    """Changes Jenny's name and cancels and resumes her plan, one request after another, until the backend dies."""
    with backend.client(cookies=cookies) as client:
        for n in range(10_000):
            name = f"Jenny {worker}-{n}"
            kind, path, body = [
                ("name", "/api/customer", {"name": name}),
                ("cancel", f"/api/subscriptions/{SUBSCRIPTION}/cancel", {}),
                ("resume", f"/api/subscriptions/{SUBSCRIPTION}/resume", {}),
            ][(n + worker) % 3]
            try:
                sent = client.request("PATCH" if kind == "name" else "POST", path, json=body)
            except httpx.TransportError:
                return
            answers.append((kind, sent.status_code, name))


def store_after(db: Database) -> dict[str, Any]:
    def read(conn: sa.Connection) -> dict[str, Any]:
        subscription = billing.get(conn, "subscriptions", SUBSCRIPTION)
        assert subscription is not None
        return {
            "events": {row.id: json.loads(row.data) for row in conn.execute(sa.select(events))},
            # In commit order for each customer: their changes are serialised, and ids are taken inside the change.
            "audit": conn.execute(sa.select(audit_log).order_by(audit_log.c.id)).all(),
            "deliveries": conn.execute(sa.select(webhook_deliveries)).all(),
            "customer": event_types.customer_object(billing.get(conn, "customers", "cus_jenny") or {}),
            "subscription": event_types.subscription_object(conn, subscription, "cus_jenny"),
        }

    return db.run(read, write=False)


def test_a_backend_killed_mid_write_leaves_a_consistent_store_and_every_event_is_delivered(
    db, database_url, receiver, tmp_path
):
    config = f"webhooks: [{{url: '{receiver.url}', secret_env: PORCH_WEBHOOK_SECRET, events: ['*']}}]\n"
    first = Backend(tmp_path / "first", database_url, config, PORCH_WEBHOOK_SECRET=WEBHOOK_SECRET).start()
    try:
        with closing(sign_in(first)) as jenny:
            cookies = jenny.cookies
        answers: list[tuple[str, int, str]] = []
        with ThreadPoolExecutor(6) as pool:
            running = [pool.submit(churn, first, cookies, worker, answers) for worker in range(6)]
            try:
                # Killed well before the limit on a customer's changes: writes are still in flight.
                poll(lambda: len(answers) >= 12, 30, "12 answered changes")
            finally:
                first.kill()
        for each in running:
            each.result()
    finally:
        first.stop()
    assert {status for _, status, _ in answers} <= {200, 409, 429}, answers

    if database_url.startswith("sqlite"):
        with closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as raw:
            assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    store = store_after(db)
    recorded = store["events"]
    # Whole events, each with one audit entry and one delivery to the one webhook; nothing without its event.
    assert all(event["id"] == event_id and event["data"]["object"] for event_id, event in recorded.items())
    assert sorted(entry.event for entry in store["audit"]) == sorted(recorded)
    assert sorted(d.event_id for d in store["deliveries"]) == sorted(recorded)
    assert {d.url for d in store["deliveries"]} == {receiver.url}
    # Every change a client was told about is in the store with its event.
    named = {event["data"]["object"]["name"] for event in recorded.values() if event["type"] == "customer.updated"}
    assert {name for kind, status, name in answers if kind == "name" and status == 200} <= named
    changed = sum(1 for kind, status, _ in answers if kind != "name" and status == 200)
    assert changed <= sum(1 for e in recorded.values() if e["type"] == "customer.subscription.updated")
    # What the store holds is what the last event of each object says it became, not half of a change.
    last = {entry.object_id: recorded[entry.event]["data"]["object"] for entry in store["audit"]}
    assert last["cus_jenny"] == store["customer"]
    assert last[SUBSCRIPTION] == store["subscription"]
    # Serialised: cancels and resumes alternate, none lost between two others.
    plan = [recorded[entry.event]["data"]["object"]["cancel_at_period_end"]
            for entry in store["audit"] if entry.object_id == SUBSCRIPTION]
    assert plan == [n % 2 == 0 for n in range(len(plan))]

    # The killed process's leases and backoffs run out, as they would for a backend started later;
    # moved in the store so that the test does not wait them out.
    now = int(time.time())
    db.run(lambda conn: conn.execute(webhook_deliveries.update().where(
        webhook_deliveries.c.status != "delivered", webhook_deliveries.c.next_attempt_at > now,
    ).values(next_attempt_at=now)))
    undelivered = {d.event_id for d in store["deliveries"] if d.status != "delivered"}
    before = len(receiver.events)
    with Backend(tmp_path / "second", database_url, config, PORCH_WEBHOOK_SECRET=WEBHOOK_SECRET):
        poll(lambda: receiver.ids() >= set(recorded), 30, f"delivery of all {len(recorded)} events")
        # Those the killed process had not seen answered are sent (again) by the new one.
        poll(lambda: {event["id"] for event in receiver.events[before:]} >= undelivered, 30,
             f"the new process's delivery of {len(undelivered)} events")
        delivered = webhook_deliveries.c.status == "delivered"
        poll(lambda: db.run(lambda conn: conn.execute(
            sa.select(sa.func.count()).select_from(webhook_deliveries).where(~delivered)).scalar(), write=False) == 0,
            30, "every delivery marked delivered")
    # Nothing reached the receiver that the store does not hold: deliveries follow commits.
    assert receiver.ids() == set(recorded)
    assert all(event == recorded[event["id"]] for event in receiver.events)
