"""`python -m backend deploy cloudflare|netlify`: the files each platform reads, written into public/.

Cloudflare's are loaded into npm's wrangler (`wrangler pages dev`, Cloudflare's own workerd runtime and
Pages asset server) in front of a real `python -m backend serve`: every header of `_headers` on every
page, the API and the merchant's API reaching the backend with bodies intact, 404s that are not the
index page, and a sign-in in Chromium. Netlify's `_redirects` is read as Netlify documents it: Netlify's
local emulator needs an internal flag to start offline and overrides Cache-Control, so it proves less
than it seems (see the README).

Marked `cdn`: `pytest -m cdn` runs these alone; .ci/run installs wrangler."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from backend.static import NOT_A_PAGE
from tests.conftest import ROOT
from tests.processes import free_port, mailed_codes, wait_for_code, wait_until_healthy
from tests.test_deploy import (
    LOCALE,
    SPELLINGS,
    Proxy,
    assert_headers,
    deploy_error,
    example_path,
    expected_headers,
    public,  # noqa: F401 (a fixture)
    rules,
    run_deploy,
    seeded_backend,
)
from tests.test_deploy import (
    test_the_merchant_api_reaches_the_backend_with_its_key as merchant_api_through,
)

pytestmark = pytest.mark.cdn

# The wrangler that .ci/run installs, and a date its workerd (2026-04-26) supports.
WRANGLER_VERSION = "4.86.0"
COMPATIBILITY_DATE = "2026-04-26"
# The platform's files, which must never be served.
PLATFORM_FILES = ["/_headers", "/%5Fheaders", "/_worker.js", "/_routes.json", "/de/_headers"]


def wrangler() -> str:
    found = shutil.which("wrangler")
    if not found:
        pytest.skip(f"npm's wrangler is not installed (npm install -g wrangler@{WRANGLER_VERSION}); .ci/run installs it")
    return found


@contextlib.contextmanager
def pages_dev(site: Path, folder: Path, url: str) -> Iterator[None]:
    """`wrangler pages dev` serving the folder `site` at `url`, offline: no account, no metrics, no fetch of request.cf data."""
    command = [wrangler(), "pages", "dev", str(site), f"--compatibility-date={COMPATIBILITY_DATE}",
               "--ip", "127.0.0.1", "--port", url.rsplit(":", 1)[1]]
    log = folder / "wrangler.log"
    environ = {**os.environ, "HOME": str(folder), "XDG_CONFIG_HOME": str(folder),
               "CLOUDFLARE_CF_FETCH_ENABLED": "false", "WRANGLER_SEND_METRICS": "false"}
    with log.open("ab") as out:
        # A session of its own: wrangler starts workerd, and both end with the group.
        process = subprocess.Popen(command, cwd=folder, stdout=out, stderr=subprocess.STDOUT, env=environ,
                                   start_new_session=True)
    try:
        wait_until_healthy(process, url + "/", log, "wrangler")
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


def deployed(built: Path, folder: Path, site: str, backend: str) -> Path:
    """A copy of the shared build (the command writes into the folder it is given) with Cloudflare's files."""
    copy = Path(shutil.copytree(built, folder / "public"))
    written = run_deploy("cloudflare", "--site", site, "--backend", backend, "--public", str(copy))
    assert written == f"Wrote _worker.js, _routes.json, 404.html into {copy}. Publish it with: wrangler pages deploy {copy}\n"
    return copy


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory, built_site) -> Iterator[Proxy]:
    """Pages in front of the API alone, on the demo store. login_link.url names the Pages site (as it must,
    and the command's default --site): Pages sends the backend's own name as Host, so the backend takes
    the browser's requests for the origin the config names."""
    folder = tmp_path_factory.mktemp("cloudflare")
    site = f"http://127.0.0.1:{free_port()}"
    config = (ROOT / "config.yaml").read_text().replace("https://billing.acme.example", site)
    config = config.replace("site/assets/", f"{ROOT}/site/assets/")
    with seeded_backend(folder / "backend", config) as backend:
        copy = deployed(built_site(None)[1], folder, site, backend.url)
        with pages_dev(copy, folder, site), httpx.Client(timeout=15) as client:
            yield Proxy("cloudflare", site, copy, backend, client)


def test_every_page_and_asset_has_every_header_of_its_rule(proxy):
    checked = []
    for pattern, headers in rules(proxy):
        path = example_path(proxy, pattern)
        answer = proxy.get(path)
        if path.endswith("/index.html"):
            # Pages sends a folder's index.html on to the folder's own address.
            assert (answer.status_code, answer.headers["location"]) == (308, path.removesuffix("index.html"))
            assert_headers(answer, NOT_A_PAGE)
            continue
        assert answer.status_code == 200, path
        assert_headers(answer, headers)
        checked.append(path)
    assert {"/", "/login/", "/portal/", "/receipt/", "/embed.html", f"/{LOCALE}/login/", f"/{LOCALE}/portal/",
            f"/{LOCALE}/receipt/", f"/{LOCALE}/embed.html"} <= set(checked)
    assert any(path.startswith("/assets/") for path in checked)


def test_embed_html_is_served_at_its_own_address(proxy):
    """Pages answers a .html path with a redirect to the name without it, which no rule names."""
    answer = proxy.get("/embed.html")
    assert answer.status_code == 200
    assert answer.content == (proxy.public / "embed.html").read_bytes()


def test_a_revalidated_page_keeps_its_headers(proxy):
    first = proxy.get("/login/")
    again = proxy.get("/login/", **{"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert_headers(again, expected_headers(proxy, "/login/"))


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_other_spellings_of_a_page_keep_its_headers(proxy, spelling):
    page = SPELLINGS[spelling]
    answer = proxy.get(spelling)
    if answer.is_redirect:
        assert answer.headers["location"] == page
        assert_headers(answer, NOT_A_PAGE)
    else:
        assert answer.status_code == 200
        assert answer.content == proxy.get(page).content
        assert_headers(answer, expected_headers(proxy, page))


@pytest.mark.parametrize("path", ["/nope", "/de/nope/", "/api", "/v1", *PLATFORM_FILES])
def test_what_is_missing_or_the_platforms_is_a_404_with_the_fallback_headers(proxy, path):
    answer = proxy.get(path)
    assert answer.status_code == 404
    assert_headers(answer, NOT_A_PAGE)
    # Not the index page, which Pages sends for any path when public/ has no 404.html.
    assert "<html" not in answer.text


def test_a_missing_asset_is_a_404_with_the_assets_headers_and_no_long_cache(proxy):
    """Assets never invoke the worker: Pages answers alone, with the rule of /assets/*, minus its cache."""
    answer = proxy.get("/assets/css/nope.css")
    assert answer.status_code == 404
    assets = dict(expected_headers(proxy, "/assets/css/nope.css"))
    assert answer.headers["content-security-policy"] == assets["Content-Security-Policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "immutable" not in answer.headers.get("cache-control", "")


@pytest.mark.parametrize("path", ["/login?prefilled_email=x%40y.z", f"/{LOCALE}/login?prefilled_email=x%40y.z&locale=de",
                                  "//login?prefilled_email=x%40y.z", "/portal"])
def test_a_folder_without_its_slash_redirects_keeping_the_query(proxy, path):
    answer = proxy.get(path)
    assert answer.status_code == 308
    folder, _, query = path.lstrip("/").partition("?")
    # //login is first merged to /login, which Pages then sends on to /login/.
    assert answer.headers["location"] in (f"/{folder}/" + (f"?{query}" if query else ""), f"/{folder}" + (f"?{query}" if query else ""))
    assert_headers(answer, NOT_A_PAGE)


def test_the_api_reaches_the_backend_and_never_the_index_page(proxy):
    health = proxy.get("/api/health")
    assert health.status_code == 200
    assert health.headers["content-type"].startswith("application/json")
    assert health.headers["cache-control"] == "no-store"  # the backend's API headers, not a page's
    assert proxy.get("/api/nope").json()["error"]["code"] == "not_found"
    assert proxy.get("/api//health").headers["content-type"].startswith("application/json")


def test_a_json_body_reaches_the_backend_intact(proxy):
    headers = {"Origin": proxy.url, "Sec-Fetch-Site": "same-origin"}
    # The backend names the field it does not know: the body arrived byte for byte, UTF-8 included.
    refused = proxy.client.post(proxy.url + "/api/login/code", headers={**headers, "Content-Type": "application/json"},
                                content=json.dumps({"email": "nobody@example.com", "größe": [1, {"ü": None}]}))
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["message"] == "Unknown field 'größe'."
    answer = proxy.client.post(proxy.url + "/api/login/code", json={"email": "nobody@example.com"}, headers=headers)
    assert answer.status_code == 202, answer.text


def test_the_merchant_api_reaches_the_backend_with_its_key(proxy):
    merchant_api_through(proxy)


class Echo(BaseHTTPRequestHandler):
    """Answers with what it was sent, as JSON."""

    def answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        heard = json.dumps({"method": self.command, "path": self.path, "headers": dict(self.headers.items()),
                            "body": body.decode(), "peer": self.client_address[0]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(heard)))
        self.end_headers()
        self.wfile.write(heard)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = answer

    def log_message(self, *args: object) -> None:
        pass


def test_the_worker_forwards_method_path_query_body_and_the_clients_address(built_site, tmp_path):
    """What the backend is told, seen from an echoing server: the address Cloudflare saw replaces any
    X-Forwarded-For the client sends, and the scheme the client used goes as X-Forwarded-Proto."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    site = f"http://127.0.0.1:{free_port()}"
    try:
        copy = deployed(built_site(None)[1], tmp_path, site, f"http://127.0.0.1:{server.server_address[1]}")
        with pages_dev(copy, tmp_path, site):
            heard = httpx.patch(site + "/v1/customers/cus_1?expand[]=x&q=%C3%BC", content=b'{"name": "J\xc3\xbcrgen"}',
                                headers={"Content-Type": "application/json", "X-Forwarded-For": "203.0.113.9",
                                         "X-Forwarded-Proto": "https", "Authorization": "Bearer sk_test"}).json()
    finally:
        server.shutdown()
        server.server_close()
    assert heard["method"] == "PATCH"
    assert heard["path"] == "/v1/customers/cus_1?expand[]=x&q=%C3%BC"
    assert heard["body"] == '{"name": "Jürgen"}'
    headers = {name.lower(): value for name, value in heard["headers"].items()}
    assert headers["authorization"] == "Bearer sk_test"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"


@pytest.mark.browser
def test_a_customer_signs_in_through_pages(proxy, page):
    expect = pytest.importorskip("playwright.sync_api").expect
    address = "jenny@example.com"
    page.goto(f"{proxy.url}/login?prefilled_email={address.replace('@', '%40')}")
    expect(page.locator("#email")).to_have_value(address)
    outbox = proxy.backend.folder / "outbox"
    sent = len(mailed_codes(outbox, address)) if outbox.is_dir() else 0
    page.get_by_role("button", name="Continue").click()
    page.locator("#code").fill(wait_for_code(outbox, address, count=sent + 1))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{proxy.url}/portal/")
    expect(page.locator("#details")).to_contain_text("Rosen")
    assert page.problems == []


def test_netlify_proxies_the_apis_and_keeps_the_headers_file(public):  # noqa: F811 (the fixture)
    headers = (public / "_headers").read_text()
    written = run_deploy("netlify", "--site", "https://billing.acme.example", "--backend", "https://api.acme.example/",
                         "--public", str(public))
    assert written == f"Wrote _redirects, 404.html into {public}. Publish it with: netlify deploy --prod --dir {public}\n"
    assert (public / "_headers").read_text() == headers
    # Netlify's _redirects: one rule a line, `from to status`, `#` comments; the first rule that matches wins.
    lines = [line.split() for line in (public / "_redirects").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[:2] == [["/api/*", "https://api.acme.example/api/:splat", "200!"],
                         ["/v1/*", "https://api.acme.example/v1/:splat", "200!"]]
    assert all(len(rule) == 3 for rule in lines)
    assert ["/_headers", "/404.html", "404!"] in lines
    assert "<h1>404</h1>" in (public / "404.html").read_text()


@pytest.mark.parametrize("target", ["netlify", "cloudflare"])
def test_a_cdn_needs_the_backends_address(public, target):  # noqa: F811 (the fixture)
    assert deploy_error(target, "--public", str(public), "--site", "https://billing.acme.example") == (
        f"Error: --backend is required for {target}: the backend's https:// address as {target.title()} reaches it, "
        "such as https://api.billing.acme.example\n"
    )
    assert not (public / "_redirects").exists() and not (public / "_worker.js").exists()


@pytest.mark.parametrize("backend", ["127.0.0.1:8000", "http://api.acme.example", "http://10.0.0.2:8000", "ftp://api.acme.example",
                                     "https://api.acme.example/porch", "https://api.acme.example:0", "https://api.acme.example?x=1",
                                     "https://user:pw@api.acme.example", "https://"])
@pytest.mark.parametrize("target", ["netlify", "cloudflare"])
def test_a_cdns_backend_must_be_an_https_address(public, target, backend):  # noqa: F811 (the fixture)
    assert deploy_error(target, "--public", str(public), "--site", "https://billing.acme.example", "--backend", backend) == (
        f"Error: --backend {backend}: expected the backend's https:// address as the platform reaches it, such as "
        "https://api.billing.acme.example (http:// only to this machine, such as http://127.0.0.1:8000)\n"
    )
