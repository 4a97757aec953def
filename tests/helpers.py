"""What tests share besides fixtures: the clock and secret they run with, the outbox and sign-in
they read codes through, and where the checkout and Chromium are. Fixtures live in conftest.py."""

from __future__ import annotations

import email
import email.policy
import os
import queue
import re
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from backend.app import create_app
from backend.config import parse_config
from backend.settings import Settings

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


HOOK_URL = "https://hooks.example/porch"
HOOK = f"webhooks: [{{url: '{HOOK_URL}', secret_env: HOOK_SECRET}}]\n"



ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


class LiveServer:
    def __init__(self, url: str, mail: queue.Queue[str]):
        self.url = url
        self.mail = mail

    def next_code(self) -> str:
        """The code in the next mail the backend writes; waits for the mail, not for a guess of time."""
        text = self.mail.get(timeout=15)
        return re.search(r"\b(\d{6})\b", text.split("Subject:", 1)[1]).group(1)  # type: ignore[union-attr]


@contextmanager
def store_url(kind: str, folder: Path) -> Iterator[str]:
    """A store for a test: a SQLite file in `folder`, or a fresh PostgreSQL database where
    PORCH_TEST_POSTGRES_URL names a server (skipped without one), dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'porch.db'}"
        return
    admin_url = os.environ.get("PORCH_TEST_POSTGRES_URL")
    if not admin_url:
        pytest.skip("PORCH_TEST_POSTGRES_URL is not set; the PostgreSQL runs happen in CI")
    import psycopg

    name = "porch_test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class OtherSite:
    """Another site's web server, at http://localhost:PORT (the backend is 127.0.0.1: a different site
    to the browser), whose every page is `page(path)`: a page that frames Porch's, say."""

    def __init__(self, page: Callable[[str], str]):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = page(self.path).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://localhost:{self.server.server_address[1]}"

    def __enter__(self) -> OtherSite:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
