"""`python -m backend deploy caddy|nginx` loaded into Debian's real Caddy and nginx, in front
of a real `python -m backend serve` that serves the API only: every header of `_headers` on
every page, whatever the path's spelling, precompressed answers, the API with its origin
intact, directory redirects that keep the query, no build files, and a sign-in in Chromium.

The site is built once for the run and each server started once per module (SPEC section 12)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from helpers import ROOT, SECRET
from processes import (
    Backend,
    free_port,
    mailed_codes,
    stop,
    wait_for_code,
    wait_until_healthy,
)

from backend import api_keys
from backend.cli import main
from backend.demo import demo_objects
from backend.static import NOT_A_PAGE, read_header_rules, rule_matches
from backend.store import billing
from backend.store.database import Database, create_engine, migrate

BROTLI_STATIC = Path("/usr/lib/nginx/modules/ngx_http_brotli_static_module.so")
LOCALE = "de"
# Spellings of a page's path that browsers and crawlers send, and the page each one is.
SPELLINGS = {
    "//": "/", "//portal/": "/portal/", "/portal//": "/portal/", "/login//": "/login/",
    "//de/portal/": "/de/portal/", "/de//login/": "/de/login/", "///receipt///": "/receipt/",
}


@dataclass
class Proxy:
    server: str
    url: str
    public: Path
    backend: Backend
    client: httpx.Client

    def get(self, path: str, **headers: str) -> httpx.Response:
        # Paths are sent as written: httpx does not merge slashes.
        return self.client.get(self.url + path, headers=headers)


def run_deploy(*args: str) -> str:
    result = CliRunner().invoke(main, ["deploy", *args])
    assert result.exit_code == 0, result.output
    return result.output


def seeded_backend(folder: Path, config: str = "", **env: str) -> Backend:
    """The API alone (no public/ beside it), on a store seeded with the demo customers, believing
    X-Forwarded-* from the proxies on this machine as the generated configurations ask."""
    url = f"sqlite:///{folder / 'porch.db'}"
    engine = create_engine(url)
    migrate(engine)
    objects = demo_objects(int(time.time()))
    Database(engine).run(lambda conn: [billing.upsert(conn, kind, objects[kind]) for kind in billing.KINDS])
    engine.dispose()
    return Backend(folder, url, config, PORCH_TRUSTED_PROXIES="127.0.0.1", **env)


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with seeded_backend(tmp_path_factory.mktemp("deploy-backend"), PORCH_CONFIG=str(ROOT / "config.yaml")) as started:
        yield started


@contextlib.contextmanager
def running(command: list[str], folder: Path, url: str, **env: str) -> Iterator[None]:
    log = folder / "server.log"
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=folder, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env})
    try:
        wait_until_healthy(process, url + "/api/health", log, command[0])
        yield
    finally:
        stop(process)


def start_caddy(folder: Path, config: str, url: str) -> contextlib.AbstractContextManager[None]:
    # The admin endpoint is off so that several Caddies can run at once; its state stays in the folder.
    (folder / "Caddyfile").write_text("{\n\tadmin off\n}\n" + config)
    command = ["caddy", "run", "--config", str(folder / "Caddyfile"), "--adapter", "caddyfile"]
    return running(command, folder, url, HOME=str(folder), XDG_CONFIG_HOME=str(folder), XDG_DATA_HOME=str(folder))


def nginx_command(folder: Path, config: str) -> list[str]:
    """nginx with the generated server block in a main configuration like Debian's, but with its
    pid, logs and temporary files in the folder."""
    assert BROTLI_STATIC.exists(), "install libnginx-mod-http-brotli-static (.ci/run does)"
    (folder / "porch.conf").write_text(config)
    temp = "\n".join(f"    {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (folder / "nginx.conf").write_text(
        f"load_module {BROTLI_STATIC};\n"
        # Workers run as nobody unless told otherwise, and pytest's folders are private to their owner.
        + ("user root;\n" if os.geteuid() == 0 else "")
        + f"pid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'};\nevents {{}}\n"
        f"http {{\n    include /etc/nginx/mime.types;\n    access_log off;\n{temp}\n    include {folder / 'porch.conf'};\n}}\n"
    )
    return ["nginx", "-p", str(folder), "-c", str(folder / "nginx.conf")]


def start_nginx(folder: Path, config: str, url: str) -> contextlib.AbstractContextManager[None]:
    return running([*nginx_command(folder, config), "-g", "daemon off;"], folder, url)


def require(*programs: str) -> None:
    for program in programs:
        if not shutil.which(program):
            pytest.skip(f"Debian's {program} is not installed (apt-get install {program}); .ci/run installs it")


@pytest.fixture(scope="module", params=["caddy", "nginx"])
def proxy(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, built_site, backend) -> Iterator[Proxy]:
    server = request.param
    require(server)
    public = built_site(None)[1]
    folder = tmp_path_factory.mktemp(server)
    url = f"http://127.0.0.1:{free_port()}"
    config = run_deploy(server, "--site", url, "--backend", f"127.0.0.1:{backend.port}", "--public", str(public))
    with (start_caddy if server == "caddy" else start_nginx)(folder, config, url), httpx.Client(timeout=15) as client:
        yield Proxy(server, url, public, backend, client)


def rules(proxy: Proxy) -> list[tuple[str, list[tuple[str, str]]]]:
    return read_header_rules(proxy.public / "_headers")


def example_path(proxy: Proxy, pattern: str) -> str:
    """A path of a real file that the pattern matches: /:locale/ is /de/, /assets/* a stylesheet."""
    stylesheet = next((proxy.public / "assets" / "css").glob("*.css")).name
    return pattern.replace(":locale", LOCALE).replace("*", f"css/{stylesheet}")


def expected_headers(proxy: Proxy, path: str) -> list[tuple[str, str]]:
    return [header for pattern, headers in rules(proxy) if rule_matches(pattern, path) for header in headers]


def assert_headers(answer: httpx.Response, expected: list[tuple[str, str]] | dict[str, str]) -> None:
    pairs = expected.items() if isinstance(expected, dict) else expected
    missing = {name: (value, answer.headers.get(name)) for name, value in pairs if answer.headers.get(name) != value}
    assert not missing, f"{answer.request.url}: header: (wanted, got): {missing}"


def test_every_page_and_asset_has_every_header_of_its_rule(proxy):
    checked = []
    for pattern, headers in rules(proxy):
        path = example_path(proxy, pattern)
        answer = proxy.get(path)
        assert answer.status_code == 200, path
        assert_headers(answer, headers)
        checked.append(path)
    # Each page at the root and in a locale, and the assets.
    assert {"/", "/login/", "/portal/", "/receipt/", "/embed.html", f"/{LOCALE}/login/", f"/{LOCALE}/portal/",
            f"/{LOCALE}/receipt/", f"/{LOCALE}/embed.html"} <= set(checked)
    assert any(path.startswith("/assets/") for path in checked)


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_other_spellings_of_a_page_keep_its_headers(proxy, spelling):
    page = SPELLINGS[spelling]
    answer = proxy.get(spelling)
    if answer.is_redirect:
        assert answer.headers["location"] == page
    else:
        assert answer.status_code == 200
        assert answer.content == proxy.get(page).content
        assert_headers(answer, expected_headers(proxy, page))


@pytest.mark.parametrize("path", ["/nope", "/de/nope/", "/assets/css/nope.css", "/_headers", "/%5Fheaders", "/de/_headers"])
def test_what_is_missing_or_hidden_is_a_404_with_the_fallback_headers(proxy, path):
    answer = proxy.get(path)
    assert answer.status_code == 404
    assert_headers(answer, NOT_A_PAGE)
    # A year-long cache is for files that exist.
    assert "immutable" not in answer.headers.get("cache-control", "")
    assert "Content-Security-Policy:" not in answer.text


@pytest.mark.parametrize("coding", ["br", "gzip"])
@pytest.mark.parametrize("path", ["/login/", f"/{LOCALE}/portal/", "/embed.html"])
def test_precompressed_copies_are_served(proxy, coding, path):
    answer = proxy.get(path, **{"Accept-Encoding": coding})
    assert answer.status_code == 200
    assert answer.headers["content-encoding"] == coding
    assert "accept-encoding" in answer.headers["vary"].lower()
    assert answer.headers["content-type"].startswith("text/html")
    # httpx decodes the body as the Content-Encoding says.
    assert answer.content == (proxy.public / path.lstrip("/") / ("" if path.endswith(".html") else "index.html")).read_bytes()
    assert_headers(answer, expected_headers(proxy, path))


@pytest.mark.parametrize("path", ["/login?prefilled_email=x%40y.z", f"/{LOCALE}/login?prefilled_email=x%40y.z&locale=de",
                                  "//login?prefilled_email=x%40y.z", "/portal"])
def test_a_folder_without_its_slash_redirects_keeping_the_query(proxy, path):
    answer = proxy.get(path)
    assert answer.status_code in (301, 308)
    folder, _, query = path.lstrip("/").partition("?")
    assert answer.headers["location"] == f"/{folder}/" + (f"?{query}" if query else "")
    assert_headers(answer, NOT_A_PAGE)


def test_the_api_reaches_the_backend_with_the_browsers_origin(proxy):
    health = proxy.get("/api/health")
    assert health.status_code == 200
    assert health.headers["cache-control"] == "no-store"  # the backend's API headers, not a page's
    # The backend compares Origin with the scheme and Host it is given: a proxy that drops the port,
    # or passes on a client's own X-Forwarded-Proto, fails this.
    answer = proxy.client.post(
        proxy.url + "/api/login/code", json={"email": f"nobody-{proxy.server}@example.com"},
        headers={"Origin": proxy.url, "Sec-Fetch-Site": "same-origin", "X-Forwarded-Proto": "https"},
    )
    assert answer.status_code == 202, answer.text
    assert proxy.get("/api/nope").json()["error"]["code"] == "not_found"


def test_the_merchant_api_reaches_the_backend_with_its_key(proxy):
    refused = proxy.client.post(proxy.url + "/v1/import", json={})
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "invalid_request_error"
    engine = create_engine(proxy.backend.environ["PORCH_DATABASE_URL"])
    key = Database(engine).run(api_keys.create, SECRET, proxy.server, int(time.time()))[1]
    engine.dispose()
    answer = proxy.client.post(proxy.url + "/v1/import", json={}, auth=(key, ""))
    assert answer.status_code == 200, answer.text
    assert answer.json()["object"] == "import"


@pytest.mark.browser
def test_a_customer_signs_in_through_the_server(proxy, page):
    # One customer per server: a code a minute per address.
    sign_in_through(proxy, page, {"caddy": "jenny@example.com", "nginx": "sam@example.com"}[proxy.server])


def sign_in_through(proxy: Proxy, page: Any, address: str) -> None:
    """In Chromium, through the proxy in front of the backend: the code from the mail, then the portal."""
    expect = pytest.importorskip("playwright.sync_api").expect
    page.goto(f"{proxy.url}/login?prefilled_email={address.replace('@', '%40')}")
    expect(page.locator("#email")).to_have_value(address)
    outbox = proxy.backend.folder / "outbox"
    sent = len(mailed_codes(outbox, address)) if outbox.is_dir() else 0
    page.get_by_role("button", name="Continue").click()
    page.locator("#code").fill(wait_for_code(outbox, address, count=sent + 1))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{proxy.url}/portal/")
    expect(page.locator("#details")).to_contain_text("Rosen" if address.startswith("jenny") else "Sam Lee")
    assert page.problems == []


def test_an_https_site_gets_tls_from_caddy_and_a_tls_server_in_nginx(built_site, tmp_path):
    """login_link.url is the default site; the configurations for it load in the real servers."""
    require("caddy", "nginx", "openssl")
    public = built_site(None)[1]
    caddyfile = run_deploy("caddy", "--public", str(public), "--config", str(ROOT / "config.yaml"))
    assert "\nbilling.acme.example {\n" in caddyfile
    (tmp_path / "Caddyfile").write_text(caddyfile)
    adapted = subprocess.run(["caddy", "adapt", "--config", str(tmp_path / "Caddyfile"), "--adapter", "caddyfile"],
                             capture_output=True, text=True, check=True, env={**os.environ, "HOME": str(tmp_path)})
    server = json.loads(adapted.stdout)["apps"]["http"]["servers"]["srv0"]
    assert server["listen"] == [":443"]  # Caddy then redirects :80 and fetches the certificate itself
    assert server["routes"][0]["match"] == [{"host": ["billing.acme.example"]}]

    config = run_deploy("nginx", "--public", str(public), "--config", str(ROOT / "config.yaml"))
    assert "    listen 443 ssl http2;\n    server_name billing.acme.example;\n" in config
    assert "    listen 80;\n    server_name billing.acme.example;\n    return 301 https://$host$request_uri;\n" in config
    # The certificate paths are certbot's; a self-signed pair stands in for them.
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=billing.acme.example",
                    "-keyout", str(tmp_path / "privkey.pem"), "-out", str(tmp_path / "fullchain.pem")], capture_output=True, check=True)
    config = config.replace("/etc/letsencrypt/live/billing.acme.example", str(tmp_path))
    tested = subprocess.run([*nginx_command(tmp_path, config), "-t"], capture_output=True, text=True, check=False)
    assert tested.returncode == 0, tested.stderr


def deploy_error(*args: str) -> str:
    result = CliRunner().invoke(main, ["deploy", *args])
    assert result.exit_code == 1, result.output
    return result.output


@pytest.mark.parametrize("site", ["ftp://billing.acme.example", "https://billing.acme.example/portal/", "https://:443",
                                  "http://127.0.0.1:99999", "https://jenny@billing.acme.example", ":0", ":", "http://127.0.0.1:0"])
def test_a_site_that_is_no_address_is_refused(public, site):
    assert deploy_error("caddy", "--public", str(public), "--site", site) == (
        f"Error: --site {site}: expected the portal's address, such as https://billing.acme.example, "
        "http://127.0.0.1:8080 or :8080\n"
    )


@pytest.mark.parametrize("backend", ["localhost", "127.0.0.1:0", "http://127.0.0.1:8000", "127.0.0.1:8000/api"])
def test_a_backend_that_is_no_host_and_port_is_refused(public, backend):
    assert deploy_error("nginx", "--public", str(public), "--site", ":8080", "--backend", backend) == (
        f"Error: --backend {backend}: expected HOST:PORT, such as 127.0.0.1:8000\n"
    )


def test_a_folder_that_was_never_built_is_refused(tmp_path):
    assert deploy_error("caddy", "--public", str(tmp_path), "--site", ":8080") == (
        f"Error: {tmp_path}/_headers does not exist: build it first (`python build.py` in a checkout, `porch build` where Porch is "
        "installed), or name the built site with --public\n"
    )


def test_without_a_site_or_a_login_link_the_command_says_which_to_give(public, tmp_path):
    (tmp_path / "config.yaml").write_text("business:\n  name: Acme\n")
    assert deploy_error("nginx", "--public", str(public), "--config", str(tmp_path / "config.yaml")) == (
        f"Error: login_link.url is not set in {tmp_path / 'config.yaml'}: set it, or name the portal's address with --site\n"
    )


@pytest.mark.parametrize(("site", "caddy_address", "nginx_listen"), [
    (":8080", ":8080 {", "listen 8080;"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080 {\n\tbind 127.0.0.1", "listen 127.0.0.1:8080;"),
    ("http://billing.acme.example", "http://billing.acme.example {", "listen 80;\n    server_name billing.acme.example;"),
    ("billing.acme.example:8443", "billing.acme.example:8443 {", "listen 8443 ssl http2;"),
])
def test_each_kind_of_site_address_becomes_the_servers_own(public, site, caddy_address, nginx_listen):
    assert f"\n{caddy_address}\n" in run_deploy("caddy", "--public", str(public), "--site", site)
    assert f"\n    {nginx_listen}\n" in run_deploy("nginx", "--public", str(public), "--site", site)
