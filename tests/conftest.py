"""Fixtures: a fresh SQLite store seeded with the demo data, a controllable clock,
the app and a client. Mail goes to a real outbox folder (or a real SMTP server in
test_mailer.py); tests drain the mail queue explicitly instead of waiting."""

from __future__ import annotations

import os
import queue
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from helpers import CHROMIUM, CHROMIUM_ARGS, HOOK, NOW, ROOT, SECRET, Clock, LiveServer, Outbox, sign_in, store_url, with_config
from starlette.testclient import TestClient

from backend.app import create_app
from backend.config import Config, load_config, parse_config
from backend.demo import demo_objects
from backend.mailer import Transport
from backend.pages import build_site
from backend.settings import Settings
from backend.store import billing
from backend.store.database import Database, create_engine, migrate

# The Stripe emulator's fixtures (stripe_emulator), for the tests of billing.engine stripe.
pytest_plugins = ["stripe_emulator"]

@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with store_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        config_path=tmp_path / "config.yaml",
        database_url=database_url,
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


@pytest.fixture
def outbox(client: TestClient, settings: Settings) -> Outbox:
    return Outbox(client, settings.outbox_dir)


@pytest.fixture
def portal(settings, clock, db) -> Iterator[Callable[..., TestClient]]:
    """Opens the portal with a config (and a webhook, so deliveries are queued) as a signed-in customer."""
    opened: list[TestClient] = []

    def open_as(config: str = "", email: str = "jenny@example.com") -> TestClient:
        hooked = replace(settings, named_secrets={"HOOK_SECRET": "x" * 32})
        client = TestClient(with_config(hooked, HOOK + config, clock), base_url="http://localhost")
        client.__enter__()
        opened.append(client)
        sign_in(client, Outbox(client, settings.outbox_dir), email)
        return client

    yield open_as
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def postgres_url() -> str:
    url = os.environ.get("PORCH_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PORCH_TEST_POSTGRES_URL is not set; PostgreSQL tests run in CI")
    return url


@pytest.fixture
def public(tmp_path: Path) -> Path:
    """A built site reduced to what the deploy commands read: a `_headers` file with one rule."""
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "_headers").write_text("/\n  X-Content-Type-Options: nosniff\n")
    return tmp_path / "public"


# Browser tests: a live backend on a real socket serving the built sample site,
# and Debian's Chromium driven by Playwright.


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str | None], tuple[Config, Path]]:
    """built_site(config_text) is the site built from that config (None: the sample config.yaml),
    built once per text for the whole run: 48 locales make a build take seconds, and tests only read it."""
    built: dict[str | None, tuple[Config, Path]] = {}

    def build(text: str | None = None) -> tuple[Config, Path]:
        if text not in built:
            config = load_config(ROOT / "config.yaml")[0] if text is None else parse_config(text)[0]
            public = tmp_path_factory.mktemp("site") / "public"
            build_site(config, ROOT, ROOT / "site", public)
            built[text] = (config, public)
        return built[text]

    return build


@pytest.fixture
def live_server_with(settings: Any, db: Any, clock: Clock, built_site: Any) -> Iterator[Any]:
    """A factory: live_server_with(config_text) serves the site built from that config (paths
    in it relative to the repository), on the seeded store, at the time the demo data was made
    for; None is the sample config.yaml."""
    import uvicorn

    servers = []

    def start(text: str | None = None) -> LiveServer:
        config, public = built_site(text)
        mail: queue.Queue[str] = queue.Queue()
        site_settings = replace(settings, public_dir=public)
        transport = Transport(site_settings, echo=mail.put)
        app = create_app(site_settings, config, clock=clock, transport=transport)
        # Listening before the server thread starts: the browser's first connection waits in the backlog.
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", proxy_headers=False, lifespan="on"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        servers.append((server, thread, sock))
        return LiveServer(f"http://127.0.0.1:{port}", mail)

    yield start
    for server, thread, sock in servers:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def live_server(live_server_with: Any) -> LiveServer:
    return live_server_with()  # type: ignore[no-any-return]


# Per module: Playwright's sync API keeps an event loop running in the main thread
# while it is open, which would break code under test that calls asyncio.run.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); .ci/run installs it")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    # Script errors and CSP refusals; an API answer of 401 is logged by Chromium too and is expected.
    page.on("console", lambda m: problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.problems = problems
    yield page
    context.close()
