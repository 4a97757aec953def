"""Fixtures: a fresh SQLite store seeded with the demo data, a controllable clock,
the app and a client. Mail goes to a real outbox folder (or a real SMTP server in
test_mailer.py); tests drain the mail queue explicitly instead of waiting."""

from __future__ import annotations

import email
import email.policy
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

import pytest
from starlette.testclient import TestClient

from backend.app import create_app
from backend.config import Config, parse_config
from backend.demo import demo_objects
from backend.settings import Settings
from backend.store import billing
from backend.store.database import Database, create_engine, migrate

NOW = 1_790_000_000
SECRET = b"test-secret-that-is-long-enough-0123456789"


class Clock:
    """Time that tests move by hand: expiry and limits are tested without waiting."""

    def __init__(self, now: float = NOW):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        config_path=tmp_path / "config.yaml",
        database_url=f"sqlite:///{tmp_path / 'porch.db'}",
        secret_key=SECRET,
        smtp_url=None,
        outbox_dir=tmp_path / "outbox",
        public_dir=tmp_path / "public",
    )


@pytest.fixture
def config() -> Config:
    return parse_config("business: {name: Acme, support_email: billing@acme.example}\n")[0]


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    engine = create_engine(settings.database_url)
    migrate(engine)
    database = Database(engine)
    objects = demo_objects(NOW)
    database.run(lambda conn: [billing.upsert(conn, kind, objects[kind]) for kind in billing.KINDS])
    yield database
    engine.dispose()


@pytest.fixture
def app(settings: Settings, config: Config, clock: Clock, db: Database) -> Any:
    return create_app(settings, config, clock=clock, background=False)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://localhost") as test_client:
        yield test_client


class Outbox:
    """Reads the codes the mail worker wrote to the outbox folder."""

    def __init__(self, client: TestClient, folder: Path):
        self.client = client
        self.folder = folder

    def deliver(self) -> int:
        """Drain the mail queue now; returns how many jobs were handled."""
        return self.client.portal.call(self.client.app.state.mail_worker.process_due)  # type: ignore[union-attr]

    def messages(self) -> list[email.message.EmailMessage]:
        files = sorted(self.folder.glob("*.eml")) if self.folder.is_dir() else []
        return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]  # type: ignore[misc]

    def last_code(self, to: str | None = None) -> str:
        self.deliver()
        for message in reversed(self.messages()):
            if to is None or message["To"].lower() == to.lower():
                return re.search(r"\b(\d{6})\b", message.get_content()).group(1)  # type: ignore[union-attr]
        raise AssertionError(f"no code mailed to {to}")


@pytest.fixture
def outbox(client: TestClient, settings: Settings) -> Outbox:
    return Outbox(client, settings.outbox_dir)


JSON = {"Content-Type": "application/json"}


def sign_in(client: TestClient, outbox: Outbox, address: str = "jenny@example.com") -> dict[str, Any]:
    """The whole sign-in: ask for a code, read it from the mail, verify it."""
    challenge = client.post("/api/login/code", json={"email": address}).json()["challenge"]
    answer = client.post("/api/login/verify", json={"challenge": challenge, "code": outbox.last_code(address)})
    assert answer.status_code == 200, answer.text
    return answer.json()["customer"]


def with_config(settings: Settings, text: str, clock: Clock, **kwargs: Any) -> Any:
    """An app with another config, on the same seeded store."""
    return create_app(settings, parse_config(text)[0], clock=clock, background=False, **kwargs)


@pytest.fixture
def postgres_url() -> str:
    url = os.environ.get("PORCH_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PORCH_TEST_POSTGRES_URL is not set; PostgreSQL tests run in CI")
    return url


