"""Mail: the durable queue, its worker and delivery over real SMTP (an in-process
aiosmtpd server) or to the outbox; and the header rules of SPEC section 7."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import gc
import queue
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography.fernet import InvalidToken
from helpers import SECRET
from starlette.testclient import TestClient

from backend import jobs as job_queue
from backend import keys, mailer
from backend.app import create_app
from backend.config import Config, parse_config
from backend.mailer import MailError, Transport, check_transport, header_safe, signin_message
from backend.signin import CODE_LIFETIME
from backend.store import billing
from backend.store.tables import mail_queue

FROM = "Acme Billing <billing@acme.example>"
CODE = re.compile(r"\b(\d{6})\b")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Received:
    """What the SMTP server was handed: the envelope and whether the session had authenticated."""

    def __init__(self, envelope: Any, authenticated: bool):
        self.mail_from = envelope.mail_from
        self.rcpt_tos = envelope.rcpt_tos
        self.message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.raw_to = email.message_from_bytes(envelope.content, policy=email.policy.compat32)["To"]
        self.authenticated = authenticated

    @property
    def code(self) -> str:
        return CODE.search(self.message.get_content()).group(1)  # type: ignore[union-attr]


class Handler:
    def __init__(self) -> None:
        self.received: queue.Queue[Received] = queue.Queue()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.put(Received(envelope, bool(session.authenticated)))
        return "250 OK"


class SMTPServer:
    """A real SMTP server on 127.0.0.1; `start` may be called late, to bring a down server up."""

    def __init__(self, port: int, **kwargs: Any):
        self.port = port
        self.handler = Handler()
        self.kwargs = kwargs
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **self.kwargs)
        self.controller.start()

    def stop(self) -> None:
        if self.controller:
            self.controller.stop()
            self.controller = None

    def next(self) -> Received:
        return self.handler.received.get(timeout=10)

    def nothing_received(self) -> bool:
        return self.handler.received.empty()


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    server = SMTPServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def config() -> Config:
    return parse_config(f'business: {{name: Acme, support_email: help@acme.example}}\nemail: {{from: "{FROM}"}}\n')[0]


def smtp_app(settings: Any, config: Config, clock: Any, smtp_url: str, **kwargs: Any) -> Any:
    return create_app(replace(settings, smtp_url=smtp_url), config, clock=clock, **{"background": False, **kwargs})


@pytest.fixture
def mail_client(settings: Any, config: Config, clock: Any, db: Any, smtp: SMTPServer) -> Iterator[TestClient]:
    with TestClient(smtp_app(settings, config, clock, smtp.url), base_url="http://localhost") as client:
        yield client


def ask(client: TestClient, address: str) -> Any:
    return client.post("/api/login/code", json={"email": address})


def deliver(client: TestClient) -> int:
    return client.portal.call(client.app.state.mail_worker.process_due)  # type: ignore[union-attr]


def jobs(db: Any) -> list[Any]:
    return db.run(lambda conn: conn.execute(sa.select(mail_queue).order_by(mail_queue.c.id)).all())


def test_a_code_request_mails_one_message_with_the_code_to_the_stored_address(mail_client, smtp, db):
    challenge = ask(mail_client, "Jenny@EXAMPLE.com").json()["challenge"]
    assert deliver(mail_client) == 1
    received = smtp.next()
    assert smtp.nothing_received()
    # The customer's address as stored, not as typed; the sender is the config's.
    assert received.rcpt_tos == ["jenny@example.com"]
    assert received.message["To"] == "jenny@example.com"
    assert received.message["From"] == FROM
    assert received.mail_from == "billing@acme.example"
    code = received.code
    assert re.fullmatch(r"\d{6}", code)
    assert received.message["Subject"] == f"Your sign-in code for Acme: {code}"
    assert "help@acme.example" in received.message.get_content()
    assert [job.status for job in jobs(db)] == ["sent"]
    answer = mail_client.post("/api/login/verify", json={"challenge": challenge, "code": code})
    assert answer.status_code == 200
    assert answer.json()["customer"]["id"] == "cus_jenny"


def test_the_code_mail_is_in_the_language_of_the_page_that_asked(mail_client, smtp):
    mail_client.post("/api/login/code", json={"email": "jenny@example.com", "locale": "de"})
    deliver(mail_client)
    german = smtp.next()
    assert german.message["Subject"] == f"Ihr Anmeldecode für Acme: {german.code}"
    assert "Fragen? Schreiben Sie an help@acme.example." in german.message.get_content()
    # The page's own tag names it; a tag the portal lacks falls back to its language, then to the default.
    mail_client.post("/api/login/code", json={"email": "kim@example.com", "locale": "ja-JP"})
    deliver(mail_client)
    assert smtp.next().message["Subject"].startswith("Acmeのログインコード")


def test_without_a_locale_the_mail_follows_accept_language_then_the_default(settings, clock, db, smtp):
    limited = parse_config(f'business: {{name: Acme}}\nemail: {{from: "{FROM}"}}\nlocales: {{available: [fr, ar], default: fr}}\n')[0]
    with TestClient(smtp_app(settings, limited, clock, smtp.url), base_url="http://localhost") as client:
        client.post("/api/login/code", json={"email": "jenny@example.com"}, headers={"Accept-Language": "de, ar;q=0.5"})
        deliver(client)
        assert smtp.next().message["Subject"].startswith("رمز تسجيل الدخول")
        client.post("/api/login/code", json={"email": "kim@example.com", "locale": "de"})
        deliver(client)
        assert smtp.next().message["Subject"].startswith("Votre code de connexion")


def test_an_unknown_address_gets_the_same_answer_and_no_mail(mail_client, smtp, db):
    known = ask(mail_client, "jenny@example.com")
    unknown = ask(mail_client, "nobody@example.com")
    assert unknown.status_code == known.status_code == 202
    assert dict(unknown.headers) == dict(known.headers)
    assert set(unknown.json()) == set(known.json()) == {"challenge"}
    assert len(unknown.json()["challenge"]) == len(known.json()["challenge"])
    assert deliver(mail_client) == 2
    assert smtp.next().rcpt_tos == ["jenny@example.com"]
    assert smtp.nothing_received()
    assert [(job.status, job.sealed) for job in jobs(db)][1] == ("dropped", "")


def test_a_customer_whose_address_is_no_longer_stored_gets_nothing(mail_client, smtp, db):
    ask(mail_client, "sam@example.com")
    # Between the request and the delivery, the merchant re-imports Sam without an address.
    sam = db.run(billing.get, "customers", "cus_sam")
    db.run(billing.upsert, "customers", [dict(sam, email=None)])
    assert deliver(mail_client) == 1
    assert smtp.nothing_received()
    assert jobs(db)[0].status == "dropped"


def test_with_smtp_down_the_job_waits_and_is_delivered_once_the_server_is_up(settings, config, clock, db):
    server = SMTPServer(free_port())  # nothing listens on this port yet
    with TestClient(smtp_app(settings, config, clock, server.url), base_url="http://localhost") as client:
        challenge = ask(client, "jenny@example.com").json()["challenge"]
        assert deliver(client) == 1
        (job,) = jobs(db)
        assert job.status == "pending"
        assert job.attempts == 1
        assert job.next_attempt_at == clock() + 10
        assert f"127.0.0.1:{server.port}" in job.last_error
        assert job.sealed != ""

        server.start()
        try:
            # Up, but the job is not due again yet.
            assert deliver(client) == 0
            assert server.nothing_received()
            clock.advance(10)
            assert deliver(client) == 1
            received = server.next()
        finally:
            server.stop()
        assert received.rcpt_tos == ["jenny@example.com"]
        assert [(j.status, j.attempts, j.sealed) for j in jobs(db)] == [("sent", 1, "")]
        answer = client.post("/api/login/verify", json={"challenge": challenge, "code": received.code})
        assert answer.status_code == 200


def wait_for(condition: Any, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.02)


@pytest.mark.parametrize("outage", ["refused", "hung"])
def test_a_code_request_answers_the_same_while_smtp_is_down_and_its_mail_goes_out_when_it_is_back(
    settings, config, clock, db, smtp, outage
):
    # With the worker running, as in production: it meets the outage while the requests come in.
    working = smtp_app(settings, config, clock, smtp.url, background=True)
    with TestClient(working, base_url="http://localhost") as client:
        up = ask(client, "jenny@example.com")
        assert smtp.next().rcpt_tos == ["jenny@example.com"]
        wait_for(lambda: jobs(db)[0].status == "sent", "the mail marked sent")
    clock.advance(60)

    server = SMTPServer(free_port())
    app = smtp_app(settings, config, clock, server.url, background=True)
    # "hung": connections are taken and no greeting ever comes, as from a mail server that stopped answering.
    hung = [socket.create_server(("127.0.0.1", server.port))] if outage == "hung" else []
    try:
        with TestClient(app, base_url="http://localhost") as client:
            ask(client, "sam@example.com")
            if hung:
                # The worker is connected and waiting for a greeting when Jenny asks.
                hung[0].settimeout(10)
                hung.append(hung[0].accept()[0])
            else:
                wait_for(lambda: jobs(db)[-1].attempts == 1, "the refused attempt")
            down = ask(client, "jenny@example.com")
            assert down.status_code == up.status_code == 202
            assert dict(down.headers) == dict(up.headers)
            assert set(down.json()) == set(up.json()) == {"challenge"}
            assert len(down.json()["challenge"]) == len(up.json()["challenge"])

            for sock in hung:
                sock.close()
            worker = app.state.mail_worker

            def woken_until(done: Any, what: str) -> None:
                # A wake-up that comes while the worker is in a pass is lost with that pass (see the test
                # below): wake it at each look rather than wait for its poll.
                def look() -> bool:
                    client.portal.call(worker.wake.set)
                    return bool(done(jobs(db)[-2:]))

                wait_for(look, what)

            # Both jobs fail once against the dead port and wait in the queue for their next try.
            woken_until(lambda queued: [j.attempts for j in queued] == [1, 1], "a failed attempt at each mail")
            assert [(j.status, j.next_attempt_at) for j in jobs(db)[-2:]] == [("pending", clock() + 10)] * 2
            assert server.nothing_received()

            server.start()
            clock.advance(10)
            woken_until(lambda queued: [j.status for j in queued] == ["sent", "sent"], "both mails sent")
            received = {message.rcpt_tos[0]: message for message in (server.next(), server.next())}
            assert set(received) == {"jenny@example.com", "sam@example.com"}
            code = received["jenny@example.com"].code
            answer = client.post("/api/login/verify", json={"challenge": down.json()["challenge"], "code": code})
            assert answer.status_code == 200
    finally:
        server.stop()
        for sock in hung:
            sock.close()
    assert [j.status for j in jobs(db)] == ["sent"] * 3


class HeldHandler(Handler):
    """Holds the first message in DATA until `release` is set: a mail server slow to take a message."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = threading.Event()
        self.release = threading.Event()

    async def hold_the_first(self) -> None:
        if not self.holding.is_set():
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 10)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await self.hold_the_first()
        return await super().handle_DATA(server, session, envelope)


@contextlib.contextmanager
def held_smtp(handler: HeldHandler) -> Iterator[SMTPServer]:
    server = SMTPServer(free_port())
    server.handler = handler
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sqlite_only(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the worker's wake-ups and batches work alike on every store; once is enough")


def test_a_code_asked_for_while_the_worker_sends_another_goes_out_without_waiting_for_the_poll(
    sqlite_only, settings, config, clock, db, monkeypatch
):
    monkeypatch.setattr(job_queue, "POLL", 3600)  # only wake-ups drive the worker: a lost one shows
    with held_smtp(held := HeldHandler()) as server:
        app = smtp_app(settings, config, clock, server.url, background=True)
        with TestClient(app, base_url="http://localhost") as client:
            ask(client, "jenny@example.com")
            assert held.holding.wait(10)
            ask(client, "sam@example.com")
            held.release.set()
            assert server.next().rcpt_tos == ["jenny@example.com"]
            wait_for(lambda: not server.nothing_received(), "Sam's mail", timeout=3)


def test_a_stop_lets_the_mail_in_flight_finish_so_it_is_not_sent_twice(sqlite_only, settings, config, clock, db):
    # Cancelled mid-send, a mail the server had accepted would stay "sending" and go out again after its lease.
    with held_smtp(held := HeldHandler()) as server:
        app = smtp_app(settings, config, clock, server.url, background=True)
        client = TestClient(app, base_url="http://localhost")
        client.__enter__()
        ask(client, "jenny@example.com")
        assert held.holding.wait(10)
        stopping = threading.Thread(target=client.__exit__, args=(None, None, None))
        stopping.start()
        wait_for(lambda: app.state.mail_worker.stopping, "the stop to begin", timeout=10)
        held.release.set()
        stopping.join(timeout=30)
        assert not stopping.is_alive()
        assert server.next().rcpt_tos == ["jenny@example.com"]
        statuses = db.run(lambda conn: conn.execute(sa.select(mail_queue.c.status)).scalars().all())
        assert statuses == ["sent"]


def test_a_backlog_larger_than_one_batch_goes_out_without_waiting_for_the_poll(
    sqlite_only, settings, config, clock, db, smtp, monkeypatch
):
    monkeypatch.setattr(job_queue, "POLL", 3600)
    app = smtp_app(settings, config, clock, smtp.url)
    with TestClient(app, base_url="http://localhost") as client:
        for n in range(job_queue.BATCH + 5):
            assert ask(client, f"person{n}@example.com").status_code == 202
            clock.advance(6)  # inside the limit of ten a minute per client address
    # The backlog a restart after an outage finds: only the worker's first pass and its wake-ups move it.
    # (Unknown addresses: each job is handled, then dropped, without mail; the batches are the same.)
    handled = mail_queue.c.status != "pending"
    with TestClient(smtp_app(settings, config, clock, smtp.url, background=True), base_url="http://localhost"):
        wait_for(lambda: db.run(lambda conn: conn.execute(sa.select(sa.func.count()).where(handled)).scalar())
                 == job_queue.BATCH + 5, "every queued job handled", timeout=3)


def test_failed_attempts_back_off_further_each_time(settings, config, clock, db):
    port = free_port()
    with TestClient(smtp_app(settings, config, clock, f"smtp://127.0.0.1:{port}"), base_url="http://localhost") as client:
        ask(client, "jenny@example.com")
        waits = []
        for _ in range(3):
            start = int(clock())
            assert deliver(client) == 1
            (job,) = jobs(db)
            waits.append(job.next_attempt_at - start)
            clock.advance(job.next_attempt_at - start)
        assert waits == [10, 20, 40]
        assert jobs(db)[0].attempts == 3


def test_a_job_past_the_code_lifetime_is_not_sent(mail_client, smtp, db, clock):
    ask(mail_client, "jenny@example.com")
    clock.advance(CODE_LIFETIME)
    assert deliver(mail_client) == 1
    assert smtp.nothing_received()
    assert [(job.status, job.sealed) for job in jobs(db)] == [("expired", "")]


def test_a_job_just_inside_the_code_lifetime_is_sent(mail_client, smtp, db, clock):
    ask(mail_client, "jenny@example.com")
    clock.advance(CODE_LIFETIME - 1)
    assert deliver(mail_client) == 1
    assert smtp.next().rcpt_tos == ["jenny@example.com"]


def test_the_queued_job_holds_neither_the_code_nor_the_address_in_clear(mail_client, smtp, db):
    ask(mail_client, "jenny@example.com")
    (queued,) = jobs(db)
    deliver(mail_client)
    code = smtp.next().code
    text = " ".join(str(value) for value in queued._mapping.values() if isinstance(value, str))
    assert code not in text
    assert "jenny" not in text.lower()
    # Sealed with the server secret: it opens with it, and holds exactly what was mailed.
    payload = keys.sealer(SECRET).decrypt(queued.sealed.encode()).decode()
    assert code in payload and "jenny@example.com" in payload
    with pytest.raises(InvalidToken):
        keys.sealer(b"another-secret-that-is-long-enough-000").decrypt(queued.sealed.encode())
    assert jobs(db)[0].sealed == ""


def test_a_job_sealed_under_another_secret_is_dropped_without_holding_up_the_others(mail_client, smtp, db, clock):
    # After PORCH_SECRET_KEY is changed, jobs queued before can never be opened.
    other = keys.sealer(b"the-previous-secret-that-was-long-enough")
    sealed = other.encrypt(b'{"to": "kim@example.com", "code": "111111", "locale": "en"}').decode()
    now = int(clock())
    db.run(lambda conn: conn.execute(mail_queue.insert().values(
        kind="signin_code", created=now, expires_at=now + CODE_LIFETIME, sealed=sealed, status="pending",
        attempts=0, next_attempt_at=now)))
    ask(mail_client, "jenny@example.com")
    assert deliver(mail_client) == 2
    assert smtp.next().rcpt_tos == ["jenny@example.com"]
    assert smtp.nothing_received()
    assert [(job.status, job.sealed) for job in jobs(db)] == [("dropped", ""), ("sent", "")]


# Every line or paragraph separator and every control character: U+0085 (NEL), U+2028 and U+2029 break lines
# for Python's email package as CR and LF do, and one in the business name made every code mail fail.
@pytest.mark.parametrize("bad", [
    "\r", "\n", "\0", "\r\nBcc: victim@example.com", "\x85", "\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\x1e",
    "\t", "\x1b", "\x7f", "\x9f",
])
def test_header_values_with_line_breaks_or_control_characters_are_refused(bad, config):
    refused = f"refusing a header value with a line break or control character (U+{ord(bad[0]):04X})"
    with pytest.raises(MailError, match=re.escape(refused)):
        header_safe(f"jenny@example.com{bad}")
    with pytest.raises(MailError, match=re.escape(refused)):
        signin_message(config, f"jenny@example.com{bad}", "123456", "en")
    sender = config.model_copy(update={"email": config.email.model_copy(update={"from_": f"{FROM}{bad}"})})
    with pytest.raises(MailError, match=re.escape(refused)):
        signin_message(sender, "jenny@example.com", "123456", "en")
    named = config.model_copy(update={"business": config.business.model_copy(update={"name": f"Acme{bad}"})})
    with pytest.raises(MailError, match=re.escape(refused)):
        signin_message(named, "jenny@example.com", "123456", "en")


def test_header_safe_lets_ordinary_values_through():
    assert header_safe("Jenny Rosen <jenny@example.com>") == "Jenny Rosen <jenny@example.com>"
    # Letters of any script and the spaces between words are not line breaks.
    assert header_safe("Café Zoë \u00a0Ünïcødé 株式会社") == "Café Zoë \u00a0Ünïcødé 株式会社"


def test_the_outbox_writes_a_parseable_eml_and_echoes_it(settings, config):
    echoed: list[str] = []
    transport = Transport(settings, echo=echoed.append)
    asyncio.run(transport.send(signin_message(config, "jenny@example.com", "042917", "en")))
    (path,) = settings.outbox_dir.glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["To"] == "jenny@example.com"
    assert message["From"] == FROM
    assert message["Subject"] == "Your sign-in code for Acme: 042917"
    assert message["Auto-Submitted"] == "auto-generated"
    assert "    042917\n" in message.get_content()
    (shown,) = echoed
    assert f"--- mail to jenny@example.com ({path}) ---" in shown
    assert "Subject: Your sign-in code for Acme: 042917" in shown
    assert "042917" in shown.split("\n\n", 1)[1]


def test_without_an_smtp_url_the_worker_writes_to_the_outbox(client, outbox, settings):
    client.post("/api/login/code", json={"email": "kim@example.com"})
    assert outbox.deliver() == 1
    (message,) = outbox.messages()
    assert message["To"] == "kim@example.com"


@pytest.fixture
def auth_smtp() -> Iterator[tuple[SMTPServer, list[tuple[str, str]]]]:
    logins: list[tuple[str, str]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = (v.decode() if isinstance(v, bytes) else v for v in (data.login, data.password))
        logins.append((login, password))
        # handled=False: aiosmtpd answers a refusal with 535 itself.
        return AuthResult(success=(login, password) == ("mailer", "p@ss word"), handled=False)

    server = SMTPServer(free_port(), authenticator=authenticator, auth_require_tls=False)
    server.start()
    yield server, logins
    server.stop()


def test_smtp_auth_uses_the_user_and_password_from_the_url(settings, config, clock, db, auth_smtp):
    server, logins = auth_smtp
    url = f"smtp://mailer:p%40ss%20word@127.0.0.1:{server.port}"
    with TestClient(smtp_app(settings, config, clock, url), base_url="http://localhost") as client:
        ask(client, "jenny@example.com")
        assert deliver(client) == 1
    received = server.next()
    assert received.authenticated
    assert received.rcpt_tos == ["jenny@example.com"]
    assert logins == [("mailer", "p@ss word")]
    assert jobs(db)[0].status == "sent"


def test_a_refused_login_leaves_the_job_queued(settings, config, clock, db, auth_smtp):
    server, logins = auth_smtp
    url = f"smtp://mailer:wrong@127.0.0.1:{server.port}"
    with TestClient(smtp_app(settings, config, clock, url), base_url="http://localhost") as client:
        ask(client, "jenny@example.com")
        assert deliver(client) == 1
    assert server.nothing_received()
    (job,) = jobs(db)
    assert (job.status, job.attempts) == ("pending", 1)
    # aiosmtplib tries each mechanism the server offers (PLAIN, then LOGIN), all with the URL's credentials.
    assert logins and set(logins) == {("mailer", "wrong")}


def test_the_background_worker_delivers_without_being_drained(settings, config, clock, db, smtp):
    app = smtp_app(settings, config, clock, smtp.url, background=True)
    with TestClient(app, base_url="http://localhost") as client:
        challenge = ask(client, "jenny@example.com").json()["challenge"]
        received = smtp.next()
        assert received.rcpt_tos == ["jenny@example.com"]
        answer = client.post("/api/login/verify", json={"challenge": challenge, "code": received.code})
        assert answer.status_code == 200


def test_check_transport_reports_a_reachable_smtp_server(settings, smtp):
    answer = asyncio.run(check_transport(Transport(replace(settings, smtp_url=smtp.url))))
    assert answer == f"SMTP 127.0.0.1:{smtp.port} answers"
    assert smtp.nothing_received()


def test_check_transport_logs_in_when_the_url_has_credentials(settings, auth_smtp):
    server, logins = auth_smtp
    good = replace(settings, smtp_url=f"smtp://mailer:p%40ss%20word@127.0.0.1:{server.port}")
    assert asyncio.run(check_transport(Transport(good))) == f"SMTP 127.0.0.1:{server.port} answers"
    bad = replace(settings, smtp_url=f"smtp://mailer:wrong@127.0.0.1:{server.port}")
    with pytest.raises(MailError, match=rf"^cannot reach SMTP at 127\.0\.0\.1:{server.port}: "):
        asyncio.run(check_transport(Transport(bad)))
    # A refused login must not leave the connection open: an unclosed socket is
    # reported as a ResourceWarning when collected, and warnings are errors here.
    gc.collect()
    assert logins[0] == ("mailer", "p@ss word")
    assert set(logins[1:]) == {("mailer", "wrong")}


def test_check_transport_raises_when_nothing_listens(settings):
    port = free_port()
    with pytest.raises(MailError, match=rf"^cannot reach SMTP at 127\.0\.0\.1:{port}: "):
        asyncio.run(check_transport(Transport(replace(settings, smtp_url=f"smtp://127.0.0.1:{port}"))))


def test_check_transport_without_smtp_names_the_outbox_and_creates_it(settings):
    answer = asyncio.run(check_transport(Transport(settings)))
    assert answer == f"outbox {settings.outbox_dir} (no PORCH_SMTP_URL set)"
    assert settings.outbox_dir.is_dir()


@contextlib.contextmanager
def store_statements(db: Any) -> Iterator[list[str]]:
    """The SQL the store runs while the block runs, as text."""
    ran: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        ran.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield ran
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


def test_the_worker_reads_renders_and_writes_alike_for_known_and_unknown_addresses(mail_client, smtp, db, monkeypatch):
    # Work done only for customers' addresses would slow whatever request the server answers next: timing tells.
    rendered: list[str] = []

    def render(config: Config, to: str, code: str, locale: str) -> Any:
        rendered.append(to)
        return signin_message(config, to, code, locale)

    monkeypatch.setattr(mailer, "signin_message", render)
    ran = {}
    for address in ("jenny@example.com", "nobody@example.com"):
        ask(mail_client, address)
        with store_statements(mail_client.app.state.db) as ran[address]:
            assert deliver(mail_client) == 1
    assert ran["jenny@example.com"] == ran["nobody@example.com"]
    assert len(ran["nobody@example.com"]) >= 4  # the claim, the customer's lookup, the finish
    assert rendered == ["jenny@example.com", "nobody@example.com"]
    assert smtp.next().rcpt_tos == ["jenny@example.com"]
    assert smtp.nothing_received()
    assert [job.status for job in jobs(db)] == ["sent", "dropped"]


class RcptHeldHandler(HeldHandler):
    """Holds the first RCPT instead: the mail is mid-conversation, its content still to come."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        await self.hold_the_first()
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_mail_goes_out_while_the_event_loop_that_serves_requests_is_busy(sqlite_only, settings, config, clock, db):
    # The SMTP conversation is the one step that only a customer's address takes: on the event loop it would
    # delay the requests served meanwhile, and so tell them which code requests were for customers.
    with held_smtp(held := RcptHeldHandler()) as server:
        app = smtp_app(settings, config, clock, server.url, background=True)
        with TestClient(app, base_url="http://localhost") as client:
            ask(client, "jenny@example.com")
            assert held.holding.wait(10)

            def busy_until_the_mail_is_in() -> Received:
                # Runs on the app's event loop and keeps it from doing anything else meanwhile.
                held.release.set()
                return held.received.get(timeout=5)

            assert client.portal.call(busy_until_the_mail_is_in).rcpt_tos == ["jenny@example.com"]
            wait_for(lambda: jobs(db)[0].status == "sent", "the mail marked sent")


def add_customer(db: Any, email: str) -> None:
    db.run(billing.upsert, "customers", [{"id": "cus_buecher", "object": "customer", "email": email,
                                           "name": "Bücher GmbH", "created": 1_700_000_000}])


# A domain with letters outside ASCII has two spellings, Unicode and ASCII (IDNA "punycode"), for one mailbox.
@pytest.mark.parametrize("stored, mailed", [
    ("user@xn--bcher-kva.de", "user@xn--bcher-kva.de"),
    ("user@bücher.de", "user@xn--bcher-kva.de"),
    ("User@BÜCHER.de", "User@xn--bcher-kva.de"),
])
@pytest.mark.parametrize("typed", ["user@bücher.de", "USER@xn--BCHER-kva.de"])
def test_an_internationalised_domain_signs_in_in_either_form_and_is_mailed_in_ascii(
    mail_client, smtp, db, stored, mailed, typed
):
    add_customer(db, stored)
    challenge = ask(mail_client, typed).json()["challenge"]
    assert deliver(mail_client) == 1
    received = smtp.next()
    # ASCII in the envelope and in the header (no RFC 2047 encoded word, which no mail server delivers to).
    assert received.rcpt_tos == [mailed]
    assert received.raw_to == mailed
    answer = mail_client.post("/api/login/verify", json={"challenge": challenge, "code": received.code})
    assert answer.status_code == 200
    assert answer.json()["customer"]["id"] == "cus_buecher"


def test_an_unknown_internationalised_domain_gets_no_mail(mail_client, smtp, db):
    add_customer(db, "user@bücher.de")
    ask(mail_client, "other@bücher.de")
    ask(mail_client, "user@xn--bchr-0ra.de")  # a neighbour's domain, bächer.de
    assert deliver(mail_client) == 2
    assert smtp.nothing_received()
