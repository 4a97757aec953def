"""Page weight: what the sign-in page and the portal cost a customer on the wire.

    python bench/page_weight.py

Builds the sample config.yaml into a temporary folder with
backend.pages.build_site, serves it with the real backend (backend.app.create_app
on a migrated SQLite file seeded with the demo data, uvicorn on 127.0.0.1) and
loads the pages in Debian's Chromium through Playwright, with an empty cache:

- /login/ as a visitor arriving from the login link, and the same page in the
  locale the build found heaviest (such as /el/login/);
- /portal/ after a real sign-in as the demo customer: the code is requested with
  POST /api/login/code, read from the mail the backend writes, and verified with
  POST /api/login/verify in the browser's own context, so the session cookie is
  the one Chromium then sends. The sign-in calls are not counted; the portal's
  own GET /api/portal is. The heaviest locale's portal is loaded too.

Every response the page loads is recorded. Chromium sends
`Accept-Encoding: gzip, deflate, br, zstd` and the backend answers with the
precompressed .br files, so the bytes counted are the response bodies as they
travel (encoded), from Chromium's own accounting, checked against each
response's Content-Length. Headers are not counted, as in the build's own
weights. A request to any host other than 127.0.0.1 is third-party.

The budgets are SPEC section 8's: everything the page loads, compressed, at most
14 KB for the sign-in page (one round trip) with no third-party request, and at
most 28 KB for the portal. The script prints a Markdown table for the README and
exits with status 1 if a page is over its budget or the sign-in page calls a
third party.
"""

from __future__ import annotations

import queue
import re
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from backend.app import create_app  # noqa: E402
from backend.config import load_config  # noqa: E402
from backend.demo import DEMO_EMAIL, demo_objects  # noqa: E402
from backend.mailer import Transport  # noqa: E402
from backend.pages import BUDGETS, build_site, locale_base  # noqa: E402
from backend.settings import Settings  # noqa: E402
from backend.store import billing  # noqa: E402
from backend.store.database import Database, create_engine, migrate  # noqa: E402

# The same browser and flags as the browser tests (tests/conftest.py).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
LOCAL_HOST = "127.0.0.1"


@dataclass
class Load:
    """The responses one page load brought in."""

    responses: list[Any] = field(default_factory=list)

    def record(self, response: Any) -> None:
        self.responses.append(response)

    def rows(self) -> list[tuple[str, int, int, str]]:
        """(url, status, encoded body bytes, content encoding) for every response."""
        rows = []
        for response in self.responses:
            body = response.request.sizes()["responseBodySize"]
            declared = response.headers.get("content-length")
            if declared is not None and int(declared) != body and response.status != 304:
                raise SystemExit(f"{response.url}: Chromium counted {body} bytes, Content-Length says {declared}")
            accepted = response.request.all_headers().get("accept-encoding", "")
            if "br" not in accepted:
                raise SystemExit(f"{response.url}: Chromium sent Accept-Encoding {accepted!r}, without br")
            rows.append((response.url, response.status, body, response.headers.get("content-encoding", "identity")))
        return rows


def is_api(url: str) -> bool:
    return urlsplit(url).path.startswith("/api/")


def is_third_party(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname != LOCAL_HOST


def serve(tmp: Path) -> tuple[str, queue.Queue[str], Any, dict[str, str]]:
    """The real app on a real socket, serving the freshly built sample site; also the locale in which
    each page weighs most, by the build's count."""
    config, _ = load_config(ROOT / "config.yaml")
    public = tmp / "public"
    built = build_site(config, ROOT, ROOT / "site", public)
    prefix = {page: locale_base(config, locale).rstrip("/") for page, locale in built.heaviest.items()}
    settings = Settings(
        config_path=ROOT / "config.yaml",
        database_url=f"sqlite:///{tmp / 'porch.db'}",
        secret_key=b"page-weight-benchmark-secret-0123456789abcdef",
        smtp_url=None,
        outbox_dir=tmp / "outbox",
        public_dir=public,
    )
    engine = create_engine(settings.database_url)
    migrate(engine)
    objects = demo_objects(int(time.time()))
    Database(engine).run(lambda conn: [billing.upsert(conn, kind, objects[kind]) for kind in billing.KINDS])
    engine.dispose()

    mail: queue.Queue[str] = queue.Queue()
    app = create_app(settings, config, transport=Transport(settings, echo=mail.put))
    # Listening before the server thread starts: the browser's first connection waits in the backlog.
    sock = socket.socket()
    sock.bind((LOCAL_HOST, 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", proxy_headers=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

    return f"http://{LOCAL_HOST}:{sock.getsockname()[1]}", mail, stop, prefix


def load(context: Any, url: str) -> list[tuple[str, int, int, str]]:
    """Open `url` in a fresh tab and wait until nothing more is loading."""
    page = context.new_page()
    loaded = Load()
    page.on("response", loaded.record)
    page.goto(url, wait_until="networkidle")
    rows = loaded.rows()  # sizes are only known while the tab is open
    page.close()
    return rows


def sign_in(requests: Any, base: str, mail: queue.Queue[str]) -> None:
    """POST /api/login/code, the code from the mail, POST /api/login/verify: the session cookie lands in
    `requests`, a Playwright request context (a browser context's, or one of its own)."""
    headers = {"Origin": base}
    answer = requests.post(f"{base}/api/login/code", data={"email": DEMO_EMAIL}, headers=headers)
    if not answer.ok:
        raise SystemExit(f"POST /api/login/code answered {answer.status}: {answer.text()}")
    text = mail.get(timeout=15)
    code = re.search(r"\b(\d{6})\b", text.split("Subject:", 1)[1]).group(1)  # type: ignore[union-attr]
    answer = requests.post(
        f"{base}/api/login/verify", data={"challenge": answer.json()["challenge"], "code": code}, headers=headers
    )
    if not answer.ok:
        raise SystemExit(f"POST /api/login/verify answered {answer.status}: {answer.text()}")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="porch-bench-") as folder:
        base, mail, stop, heaviest = serve(Path(folder))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    # A context each: an empty cache, as for a customer's first visit.
                    # The root pages (the default locale), then the locale the build found heaviest.
                    results = []
                    for prefix in ("", heaviest["login"]):
                        visitor = browser.new_context(locale="en-US")
                        rows = load(visitor, f"{base}{prefix}/login/?prefilled_email=" + DEMO_EMAIL.replace("@", "%40"))
                        results.append((f"Sign-in page `{prefix}/login/`", "login", rows))
                        visitor.close()

                    signed_in = browser.new_context(locale="en-US")
                    sign_in(signed_in.request, base, mail)
                    session = signed_in.storage_state()
                    signed_in.close()
                    for prefix in ("", heaviest["portal"]):
                        # The session cookie carried over into an empty cache.
                        customer = browser.new_context(locale="en-US", storage_state=session)
                        portal = load(customer, f"{base}{prefix}/portal/")
                        customer.close()
                        if not any(urlsplit(url).path == "/api/portal" and status == 200 for url, status, _, _ in portal):
                            raise SystemExit("/portal/ did not load GET /api/portal with 200: the sign-in did not hold")
                        results.append((f"Portal `{prefix}/portal/`", "portal", portal))
                finally:
                    browser.close()
        finally:
            stop()

    print("| page | requests | third-party | static, compressed | with API JSON | budget | result |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    failed = False
    for label, name, rows in results:
        static = sum(size for url, _, size, _ in rows if not is_api(url))
        total = sum(size for _, _, size, _ in rows)
        third_party = sum(1 for url, _, _, _ in rows if is_third_party(url))
        ok = total <= BUDGETS[name] and (name != "login" or third_party == 0)
        failed |= not ok
        print(
            f"| {label} | {len(rows)} | {third_party} | {static / 1024:.1f} KB ({static} B) "
            f"| {total / 1024:.1f} KB ({total} B) | {BUDGETS[name] // 1024} KB | {'pass' if ok else 'FAIL'} |"
        )
    print()
    print("Requests, by page:")
    print()
    for label, _, rows in results:
        print(f"- {label}: " + ", ".join(
            f"`{urlsplit(url).path}` {size} B {encoding}" for url, _, size, encoding in rows
        ))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
