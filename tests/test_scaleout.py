"""Two real backend processes on one store behave as one backend: a session, a code's
tries and every sending limit live in the database, not in a process.

The two processes start once per store for the whole module; each test keeps to its
own customer and its own client address, so what one test counts never limits another.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from helpers import store_url
from processes import Backend, wait_for_code

from backend.sessions import LOCAL_COOKIE
from backend.signin import MAX_TRIES, SENDS_PER_ADDRESS, VERIFIES_PER_ADDRESS
from backend.store import billing
from backend.store.database import Database, create_engine, migrate
from backend.store.tables import sessions

CONCURRENT = 16
ADDRESSES = (f"198.51.100.{n}" for n in itertools.count(1))


@dataclass
class Pair:
    a: Backend
    b: Backend
    outbox: Path
    db: Database
    kind: str


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    folder = tmp_path_factory.mktemp(f"scaleout-{request.param}")
    outbox = folder / "outbox"
    # The per-test store, entered once for the module (and skipped the same way without a server).
    with store_url(request.param, folder) as url:
        # Requests come from 127.0.0.1 and name their client in X-Forwarded-For, as behind a
        # load balancer, so that each test counts against its own client address.
        env = {"PORCH_OUTBOX_DIR": str(outbox), "PORCH_TRUSTED_PROXIES": "127.0.0.1"}
        backends = [Backend(folder / name, url, **env) for name in ("a", "b")]
        engine = create_engine(url)
        with contextlib.ExitStack() as running:
            running.callback(engine.dispose)
            migrate(engine)
            for backend in backends:
                running.callback(backend.stop)
            with ThreadPoolExecutor(len(backends)) as starting:
                list(starting.map(Backend.start, backends))
            yield Pair(*backends, outbox, Database(engine), request.param)


@pytest.fixture
def clients(pair: Pair) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """A client for each process, both from this test's own client address."""
    headers = {"X-Forwarded-For": next(ADDRESSES)}
    with pair.a.client(headers=headers) as a, pair.b.client(headers=headers) as b:
        yield a, b


@pytest.fixture
def customer(pair: Pair) -> tuple[str, str]:
    """(id, email) of a customer of this test alone: its codes and sessions are the only ones at that address."""
    key = uuid.uuid4().hex[:12]
    cid, email = f"cus_scale{key}", f"scale-{key}@example.com"
    obj = {"id": cid, "object": "customer", "email": email, "name": "Scale Out", "created": int(time.time()),
           "phone": None, "address": None, "shipping": None, "tax_ids": {"object": "list", "data": []},
           "invoice_settings": {"default_payment_method": None}, "metadata": {}}
    pair.db.run(billing.upsert, "customers", [obj])
    return cid, email


def ask_code(client: httpx.Client, email: str) -> str:
    answer = client.post("/api/login/code", json={"email": email})
    assert answer.status_code == 202, answer.text
    return str(answer.json()["challenge"])


def verify(client: httpx.Client, challenge: str, code: str) -> httpx.Response:
    return client.post("/api/login/verify", json={"challenge": challenge, "code": code})


def portal_status(backend: Backend, token: str) -> int:
    """GET /api/portal through `backend` with the session cookie copied into a fresh client."""
    with backend.client(cookies={LOCAL_COOKIE: token}) as client:
        return client.get("/api/portal").status_code


def refused_with(answer: httpx.Response, status: int, code: str) -> bool:
    return answer.status_code == status and answer.json()["error"]["code"] == code


def assert_limited(answer: httpx.Response) -> None:
    assert refused_with(answer, 429, "rate_limited"), answer.text
    assert 0 < int(answer.headers["Retry-After"]) <= 60


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_code_asked_through_one_process_signs_in_through_the_other(pair, clients, customer):
    a, b = clients
    cid, email = customer
    challenge = ask_code(a, email)
    answer = verify(b, challenge, wait_for_code(pair.outbox, email))
    assert answer.status_code == 200, answer.text
    assert answer.json()["customer"]["id"] == cid
    token = answer.cookies[LOCAL_COOKIE]
    assert portal_status(pair.a, token) == 200
    assert portal_status(pair.b, token) == 200


def test_logout_through_one_process_ends_the_session_on_both(pair, clients, customer):
    a, b = clients
    _, email = customer
    token = verify(b, ask_code(a, email), wait_for_code(pair.outbox, email)).cookies[LOCAL_COOKIE]
    assert portal_status(pair.b, token) == 200
    a.cookies.set(LOCAL_COOKIE, token)
    assert a.post("/api/logout", json={}).status_code == 204
    # Fresh clients still present the token: only the server can refuse it now.
    assert portal_status(pair.a, token) == 401
    assert portal_status(pair.b, token) == 401


def test_one_code_a_minute_per_email_counts_both_processes(clients):
    a, b = clients
    email = f"limit-{uuid.uuid4().hex[:12]}@example.com"
    ask_code(a, email)
    assert_limited(b.post("/api/login/code", json={"email": email}))


def test_a_client_address_limit_counts_both_processes(clients):
    a, b = clients
    allowed = SENDS_PER_ADDRESS[0].count
    for n in range(allowed):
        ask_code((a, b)[n % 2], f"address-{n}-{uuid.uuid4().hex[:8]}@example.com")
    for client in (a, b):
        assert_limited(client.post("/api/login/code", json={"email": f"over-{uuid.uuid4().hex[:8]}@example.com"}))


def test_a_client_address_verify_limit_counts_both_processes(clients):
    a, b = clients
    for n in range(VERIFIES_PER_ADDRESS[0].count):
        assert refused_with(verify((a, b)[n % 2], "x" * 43, "123456"), 401, "invalid_code")
    for client in (a, b):
        assert_limited(verify(client, "x" * 43, "123456"))


def test_wrong_tries_through_both_processes_kill_the_code(pair, clients, customer):
    a, b = clients
    _, email = customer
    challenge = ask_code(a, email)
    code = wait_for_code(pair.outbox, email)
    # Split so that neither process alone sees MAX_TRIES: only a shared count kills the code.
    for n in range(MAX_TRIES):
        assert refused_with(verify((a, b)[n % 2], challenge, wrong(code)), 401, "invalid_code")
    assert refused_with(verify(a, challenge, code), 401, "invalid_code")
    assert refused_with(verify(b, challenge, code), 401, "invalid_code")


def at_once(
    pair: Pair, count: int, request: Callable[[httpx.Client], httpx.Response],
    address: Callable[[int], str] = lambda n: f"203.0.113.{n + 1}",
) -> list[httpx.Response]:
    """`count` requests released together, alternating between the processes, each thread with its own client."""
    barrier = threading.Barrier(count)
    answers: list[Any] = [None] * count

    def one(n: int) -> None:
        with (pair.a, pair.b)[n % 2].client(headers={"X-Forwarded-For": address(n)}) as client:
            client.get("/api/health")  # connected before the barrier: the race is the request itself
            barrier.wait(timeout=30)
            answers[n] = request(client)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(isinstance(answer, httpx.Response) for answer in answers), answers
    return answers


def test_concurrent_verifies_through_both_processes_sign_in_once(pair, clients, customer):
    cid, email = customer
    challenge = ask_code(clients[0], email)
    code = wait_for_code(pair.outbox, email)
    answers = at_once(pair, CONCURRENT, lambda client: verify(client, challenge, code))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [401] * (CONCURRENT - 1), [answer.text for answer in answers]
    assert all(refused_with(answer, 401, "invalid_code") for answer in answers if answer.status_code != 200)
    count = sa.select(sa.func.count()).select_from(sessions).where(sessions.c.customer == cid)
    assert pair.db.run(lambda conn: conn.execute(count).scalar(), write=False) == 1


def test_concurrent_code_requests_through_both_processes_send_one_code(pair):
    email = f"race-{uuid.uuid4().hex[:12]}@example.com"
    # One client: the limit of one code a minute is per email and client address.
    client_address = next(ADDRESSES)
    answers = at_once(pair, CONCURRENT, lambda client: client.post("/api/login/code", json={"email": email}),
                      lambda n: client_address)
    assert sorted(answer.status_code for answer in answers) == [202] + [429] * (CONCURRENT - 1)
