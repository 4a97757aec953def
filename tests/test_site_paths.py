"""Every spelling of a path. The sample site, served by the backend on a real socket (http.client sends each
path as written, where an HTTP library would tidy it first), answers each spelling either with a redirect to
the path its `_headers` rule names or with exactly that rule's headers; what it does not serve is a 404 with
a strict set of its own."""

from __future__ import annotations

import http.client
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from backend.static import read_header_rules, rule_matches

NOT_A_PAGE = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
REDIRECTS = [
    ("//portal/", "/portal/"),
    ("/portal//", "/portal/"),
    ("/login//", "/login/"),
    ("//", "/"),
    ("//de/portal/", "/de/portal/"),
    ("/./portal/", "/portal/"),
    ("/portal/./", "/portal/"),
    ("/de//portal/", "/de/portal/"),
    ("/de/./portal/", "/de/portal/"),
    ("/%2Fportal/", "/portal/"),
    ("/%2fde%2fportal/", "/de/portal/"),
    ("/%2e/portal/", "/portal/"),
    ("/portal/../login/", "/login/"),
    ("/../portal/", "/portal/"),
    ("/login", "/login/"),
    ("//login", "/login/"),
    ("/de/login", "/de/login/"),
    ("/embed.html/", "/embed.html"),
    ("//embed.html", "/embed.html"),
    ("/portal/index.html/", "/portal/index.html"),
    ("//portal/index.html", "/portal/index.html"),
    ("/login?prefilled_email=a%40b.c", "/login/?prefilled_email=a%40b.c"),
    ("//login//?prefilled_email=a%40b.c&x=1", "/login/?prefilled_email=a%40b.c&x=1"),
]
SERVED = [
    "/", "/index.html", "/login/", "/portal/", "/receipt/", "/embed.html", "/portal/index.html",
    "/de/login/", "/de/portal/", "/de/receipt/", "/de/embed.html", "/de/portal/index.html",
]
NOT_SERVED = [
    "/nope/", "/nope", "/de/", "/de", "/de/nope/", "/assets/", "/_headers", "//_headers",
    "/portal/index.html.gz", "/portal/index.html.br", "/index.html.gz", "/de/embed.html.br", "//login/index.html.gz",
    "/\\portal/", "/portal\\", "/%5Clogin/", "/\\\\evil.example/", "//evil.example/", "/login/%00", "/" + "a" * 300,
]


@pytest.fixture
def site(live_server_with: Any, built_site: Any) -> tuple[Any, Path]:
    return live_server_with(), built_site()[1]


def request(server: Any, path: str, method: str = "GET") -> http.client.HTTPResponse:
    """The answer to `path` sent exactly as written, with a Host header no answer may use."""
    url = urlsplit(server.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", "evil.example")
        connection.putheader("Accept-Encoding", "br, gzip")
        connection.endheaders()
        response = connection.getresponse()
        response.read()
        return response
    finally:
        connection.close()


def rule_headers(public: Path, path: str) -> dict[str, str]:
    headers = {}
    for pattern, rule in read_header_rules(public / "_headers"):
        if rule_matches(pattern, path):
            headers.update(rule)
    return headers


def assert_headers(response: http.client.HTTPResponse, expected: dict[str, str]) -> None:
    assert expected
    for name, value in expected.items():
        assert response.headers.get_all(name) == [value], name


def assert_page(response: http.client.HTTPResponse, public: Path, path: str) -> None:
    assert response.status == 200, path
    assert_headers(response, rule_headers(public, path))


def test_each_other_spelling_is_redirected_to_the_page_which_carries_its_headers(site):
    server, public = site
    for spelling, target in REDIRECTS:
        response = request(server, spelling)
        assert (response.status, response.getheader("Location")) == (308, target), spelling
        assert_headers(response, NOT_A_PAGE)
        assert_page(request(server, target), public, target.split("?")[0])


def test_each_page_at_its_own_path_carries_exactly_its_rule(site):
    server, public = site
    for path in SERVED:
        for method in ("GET", "HEAD"):
            response = request(server, path, method)
            assert_page(response, public, path)
            assert response.getheader("Content-Encoding") == "br"


def test_every_file_the_build_wrote_is_served_with_its_rule(site):
    server, public = site
    files = [p for p in public.rglob("*") if p.is_file() and p.suffix not in (".br", ".gz") and p.name != "_headers"]
    assert len(files) > 100
    for file in files:
        path = "/" + file.relative_to(public).as_posix()
        assert_page(request(server, path), public, path)


def test_what_the_site_does_not_serve_is_a_404_with_a_strict_default_set(site):
    server, _ = site
    for path in NOT_SERVED:
        response = request(server, path)
        assert response.status == 404, path
        assert response.getheader("Location") is None
        assert_headers(response, NOT_A_PAGE)


def test_other_methods_are_refused_with_the_default_set(site):
    server, _ = site
    response = request(server, "//login/", "POST")
    assert response.status == 405
    assert_headers(response, NOT_A_PAGE)
