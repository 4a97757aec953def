"""`python -m backend deploy cloudflare|netlify`: the files each platform reads, written into public/,
loaded into the platforms' own local servers from npm in front of a real `python -m backend serve`:
`wrangler pages dev` (Cloudflare's workerd runtime and Pages asset server) and `netlify dev` (Netlify's
redirect and header rules). Every header of `_headers` on every page, the API and the merchant's API
reaching the backend with bodies intact, 404s that are not the index page, and a sign-in in Chromium.

Marked `cdn`: `pytest -m cdn` runs these alone; .ci/run installs both tools."""

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
from helpers import ROOT
from processes import free_port, wait_until_healthy
from test_deploy import (
    LOCALE,
    SPELLINGS,
    Proxy,
    assert_headers,
    deploy_error,
    example_path,
    expected_headers,
    rules,
    run_deploy,
    seeded_backend,
    sign_in_through,
)
from test_deploy import (
    test_the_merchant_api_reaches_the_backend_with_its_key as merchant_api_through,
)

from backend.static import NOT_A_PAGE

pytestmark = pytest.mark.cdn

# The tools .ci/run installs; a date the workerd in that wrangler (2026-04-26) supports.
TOOLS = {"wrangler": "4.86.0", "netlify": "27.10.2"}
PACKAGES = {"wrangler": "wrangler", "netlify": "netlify-cli"}
COMPATIBILITY_DATE = "2026-04-26"
# The platform's files, which must never be served.
PLATFORM_FILES = {"cloudflare": ["/_headers", "/%5Fheaders", "/_worker.js", "/_routes.json", "/de/_headers"],
                  "netlify": ["/_headers", "/_redirects"]}
# What Netlify's emulator changes on every file it serves (Netlify itself sends the Cache-Control of `_headers`).
NETLIFY_DEV_OVERRIDES = {"Cache-Control"}


def tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        package = f"{PACKAGES[name]}@{TOOLS[name]}"
        pytest.skip(f"npm's {PACKAGES[name]} is not installed (npm install -g {package}); .ci/run installs it")
    return found


@contextlib.contextmanager
def running(command: list[str], folder: Path, url: str, **env: str) -> Iterator[None]:
    """A platform's local server, offline (no account, no metrics), in a session of its own: each starts
    helpers (workerd, a static server) that end with the group."""
    log = folder / f"{Path(command[0]).name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=folder, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, "HOME": str(folder), "XDG_CONFIG_HOME": str(folder), **env},
                                   start_new_session=True)
    try:
        wait_until_healthy(process, url + "/", log, command[0])
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


def pages_dev(site: Path, folder: Path, url: str) -> contextlib.AbstractContextManager[None]:
    """`wrangler pages dev`: Cloudflare's workerd runtime and Pages asset server, without request.cf data."""
    command = [tool("wrangler"), "pages", "dev", str(site), f"--compatibility-date={COMPATIBILITY_DATE}",
               "--ip", "127.0.0.1", "--port", url.rsplit(":", 1)[1]]
    return running(command, folder, url, CLOUDFLARE_CF_FETCH_ENABLED="false", WRANGLER_SEND_METRICS="false")


def netlify_dev(site: Path, folder: Path, url: str) -> contextlib.AbstractContextManager[None]:
    """`netlify dev` with its static server. Offline it cannot fetch Deno for edge functions, which Porch has
    none of: the flag that skips them is internal to netlify-cli."""
    command = [tool("netlify"), "dev", "--offline", "--internal-disable-edge-functions", "--no-open", "--dir", str(site),
               "--port", url.rsplit(":", 1)[1], "--staticServerPort", str(free_port())]
    return running(command, folder, url)


WRITES = {"cloudflare": "_worker.js, _routes.json, 404.html", "netlify": "_redirects, 404.html"}
PUBLISHES = {"cloudflare": "wrangler pages deploy {}", "netlify": "netlify deploy --prod --dir {}"}


def deployed(platform: str, built: Path, folder: Path, site: str, backend: str) -> Path:
    """A copy of the shared build (the command writes into the folder it is given) with the platform's files."""
    copy = Path(shutil.copytree(built, folder / "public"))
    written = run_deploy(platform, "--site", site, "--backend", backend, "--public", str(copy))
    assert written == f"Wrote {WRITES[platform]} into {copy}. Publish it with: {PUBLISHES[platform].format(copy)}\n"
    return copy


def serve(platform: str, tmp_path_factory: pytest.TempPathFactory, built: Path) -> Iterator[Proxy]:
    """The platform in front of the API alone, on the demo store. login_link.url names the site (as it must,
    and the command's default --site): both platforms send the backend's own name as Host, so the backend
    takes the browser's requests for the origin the config names."""
    folder = tmp_path_factory.mktemp(platform)
    site = f"http://127.0.0.1:{free_port()}"
    config = (ROOT / "config.yaml").read_text().replace("https://billing.acme.example", site)
    config = config.replace("site/assets/", f"{ROOT}/site/assets/")
    with seeded_backend(folder / "backend", config) as backend:
        copy = deployed(platform, built, folder, site, backend.url)
        emulator = pages_dev if platform == "cloudflare" else netlify_dev
        with emulator(copy, folder, site), httpx.Client(timeout=15) as client:
            yield Proxy(platform, site, copy, backend, client)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory, built_site) -> Iterator[Proxy]:
    yield from serve("cloudflare", tmp_path_factory, built_site(None)[1])


@pytest.fixture(scope="module")
def netlify(tmp_path_factory: pytest.TempPathFactory, built_site) -> Iterator[Proxy]:
    yield from serve("netlify", tmp_path_factory, built_site(None)[1])


@pytest.fixture(scope="module", params=["pages", "netlify"])
def proxy(request: pytest.FixtureRequest) -> Proxy:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def test_every_page_and_asset_has_every_header_of_its_rule(proxy):
    checked = []
    for pattern, headers in rules(proxy):
        path = example_path(proxy, pattern)
        answer = proxy.get(path)
        if path.endswith("/index.html") and proxy.server == "cloudflare":
            # Pages sends a folder's index.html on to the folder's own address.
            assert (answer.status_code, answer.headers["location"]) == (308, path.removesuffix("index.html"))
            assert_headers(answer, NOT_A_PAGE)
            continue
        assert answer.status_code == 200, path
        assert_headers(answer, [(name, value) for name, value in headers
                                if proxy.server == "cloudflare" or name not in NETLIFY_DEV_OVERRIDES])
        checked.append(path)
    assert {"/", "/login/", "/portal/", "/receipt/", "/embed.html", f"/{LOCALE}/login/", f"/{LOCALE}/portal/",
            f"/{LOCALE}/receipt/", f"/{LOCALE}/embed.html"} <= set(checked)
    assert any(path.startswith("/assets/") for path in checked)


def test_embed_html_is_served_at_its_own_address(pages):
    """Pages answers a .html path with a redirect to the name without it, which no rule names."""
    answer = pages.get("/embed.html")
    assert answer.status_code == 200
    assert answer.content == (pages.public / "embed.html").read_bytes()


def test_a_revalidated_page_keeps_its_headers(pages):
    first = pages.get("/login/")
    again = pages.get("/login/", **{"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert_headers(again, expected_headers(pages, "/login/"))


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_other_spellings_of_a_page_keep_its_headers(pages, spelling):
    page = SPELLINGS[spelling]
    answer = pages.get(spelling)
    if answer.is_redirect:
        assert answer.headers["location"] == page
        assert_headers(answer, NOT_A_PAGE)
    else:
        assert answer.status_code == 200
        assert answer.content == pages.get(page).content
        assert_headers(answer, expected_headers(pages, page))


@pytest.mark.parametrize("path", ["/nope", "/de/nope/", "/api", "/v1", *PLATFORM_FILES["cloudflare"]])
def test_on_pages_what_is_missing_or_the_platforms_is_a_404_with_the_fallback_headers(pages, path):
    answer = pages.get(path)
    assert answer.status_code == 404
    assert_headers(answer, NOT_A_PAGE)
    # Not the index page, which Pages sends for any path when public/ has no 404.html.
    assert answer.text in ("", (pages.public / "404.html").read_text())


@pytest.mark.parametrize("path", ["/nope", "/de/nope/", *PLATFORM_FILES["netlify"]])
def test_on_netlify_what_is_missing_or_the_platforms_is_a_404(netlify, path):
    """Netlify applies `_headers` by the path asked for, and no rule names these: its 404 has no fallback set."""
    answer = netlify.get(path)
    assert answer.status_code == 404
    assert answer.text == (netlify.public / "404.html").read_text()


def test_a_missing_asset_is_a_404_with_the_assets_headers_and_no_long_cache(pages):
    """Assets never invoke the worker: Pages answers alone, with the rule of /assets/*, minus its cache."""
    answer = pages.get("/assets/css/nope.css")
    assert answer.status_code == 404
    assets = dict(expected_headers(pages, "/assets/css/nope.css"))
    assert answer.headers["content-security-policy"] == assets["Content-Security-Policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "immutable" not in answer.headers.get("cache-control", "")


@pytest.mark.parametrize("path", ["/login?prefilled_email=x%40y.z", f"/{LOCALE}/login?prefilled_email=x%40y.z&locale=de",
                                  "//login?prefilled_email=x%40y.z", "/portal"])
def test_a_folder_without_its_slash_redirects_keeping_the_query(pages, path):
    answer = pages.get(path)
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
    assert proxy.get("/v1/nope").headers["content-type"].startswith("application/json")


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
    X-Forwarded-For the client sends, and the scheme the client used goes as X-Forwarded-Proto. Once the
    server has stopped, the API answers 502 with the fallback headers."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    site = f"http://127.0.0.1:{free_port()}"
    copy = deployed("cloudflare", built_site(None)[1], tmp_path, site, f"http://127.0.0.1:{server.server_address[1]}")
    with pages_dev(copy, tmp_path, site):
        try:
            heard = httpx.patch(site + "/v1/customers/cus_1?expand[]=x&q=%C3%BC", content=b'{"name": "J\xc3\xbcrgen"}',
                                headers={"Content-Type": "application/json", "X-Forwarded-For": "203.0.113.9",
                                         "X-Forwarded-Proto": "https", "Authorization": "Bearer sk_test"}).json()
        finally:
            server.shutdown()
            server.server_close()
        unanswered = httpx.get(site + "/api/health")
    assert heard["method"] == "PATCH"
    assert heard["path"] == "/v1/customers/cus_1?expand[]=x&q=%C3%BC"
    assert heard["body"] == '{"name": "Jürgen"}'
    headers = {name.lower(): value for name, value in heard["headers"].items()}
    assert headers["authorization"] == "Bearer sk_test"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert unanswered.status_code == 502
    assert_headers(unanswered, NOT_A_PAGE)
    assert unanswered.content == b""


@pytest.mark.browser
def test_a_customer_signs_in_through_the_platform(proxy, page):
    # One customer per platform: a code a minute per address.
    sign_in_through(proxy, page, {"cloudflare": "jenny@example.com", "netlify": "sam@example.com"}[proxy.server])


def test_netlify_proxies_the_apis_and_keeps_the_headers_file(public):
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
def test_a_cdn_needs_the_backends_address(public, target):
    assert deploy_error(target, "--public", str(public), "--site", "https://billing.acme.example") == (
        f"Error: --backend is required for {target}: the backend's https:// address as {target.title()} reaches it, "
        "such as https://api.billing.acme.example\n"
    )
    assert not (public / "_redirects").exists() and not (public / "_worker.js").exists()


@pytest.mark.parametrize("backend", ["127.0.0.1:8000", "http://api.acme.example", "http://10.0.0.2:8000", "ftp://api.acme.example",
                                     "https://api.acme.example/porch", "https://api.acme.example:0", "https://api.acme.example?x=1",
                                     "https://user:pw@api.acme.example", "https://"])
@pytest.mark.parametrize("target", ["netlify", "cloudflare"])
def test_a_cdns_backend_must_be_an_https_address(public, target, backend):
    assert deploy_error(target, "--public", str(public), "--site", "https://billing.acme.example", "--backend", backend) == (
        f"Error: --backend {backend}: expected the backend's https:// address as the platform reaches it, such as "
        "https://api.billing.acme.example (http:// only to this machine, such as http://127.0.0.1:8000)\n"
    )
