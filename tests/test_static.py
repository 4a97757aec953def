"""The built site served by the backend from public/: the headers `_headers` names,
precompressed copies chosen by Accept-Encoding, ETags, and /api/ kept apart."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import brotli
import pytest

from backend.static import canonical_path

INDEX = b"<!doctype html><title>Home</title><h1>Home</h1>\n" * 4
LOGIN = b"<!doctype html><title>Sign in</title><form><input type=email></form>\n" * 4
CSS = b"body{color:#123456;margin:0}.card{padding:1rem}\n" * 8
HEADERS = """\
# Written by the build; the backend sends the same headers.
/assets/*
  Cache-Control: public, max-age=31536000, immutable
  X-Content-Type-Options: nosniff

/login/
  Cache-Control: no-cache
  Content-Security-Policy: default-src 'none'; script-src 'self'

/
  Cache-Control: no-cache
  Content-Security-Policy: default-src 'none'
"""


def write(path: Path, data: bytes, compressed: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if compressed:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(data))
        path.with_name(path.name + ".br").write_bytes(brotli.compress(data))


@pytest.fixture(autouse=True)
def public(settings: Any) -> Path:
    """public/ exists before the app is made, as after `python build.py`."""
    root = settings.public_dir
    write(root / "index.html", INDEX)
    write(root / "login/index.html", LOGIN)
    write(root / "assets/x.123.css", CSS)
    write(root / "api/secret.json", b'{"secret": true}', compressed=False)
    (root / "_headers").write_text(HEADERS)
    return root


def raw_get(client: Any, path: str, encoding: str, **headers: str) -> tuple[Any, bytes]:
    """The answer and its body as sent, before any decoding by the client."""
    with client.stream("GET", path, headers={"Accept-Encoding": encoding, **headers}) as response:
        return response, b"".join(response.iter_raw())


def varies(response: Any) -> set[str]:
    return {name.strip() for name in response.headers.get("vary", "").split(",")}


def test_asset_paths_get_the_asset_headers(client):
    response = client.get("/assets/x.123.css")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in response.headers


def test_each_page_gets_its_own_rule(client):
    login = client.get("/login/")
    assert login.headers["cache-control"] == "no-cache"
    assert login.headers["content-security-policy"] == "default-src 'none'; script-src 'self'"
    home = client.get("/")
    assert home.headers["cache-control"] == "no-cache"
    assert home.headers["content-security-policy"] == "default-src 'none'"
    assert "immutable" not in home.headers["cache-control"]


def test_brotli_is_sent_when_accepted(client, public):
    response, body = raw_get(client, "/assets/x.123.css", "gzip, deflate, br")
    assert response.status_code == 200
    assert body == (public / "assets/x.123.css.br").read_bytes()
    assert brotli.decompress(body) == CSS
    assert response.headers["content-encoding"] == "br"
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    assert response.headers["content-length"] == str(len(body))
    assert "Accept-Encoding" in varies(response)
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_gzip_is_sent_when_brotli_is_not_accepted(client, public):
    response, body = raw_get(client, "/assets/x.123.css", "gzip")
    assert body == (public / "assets/x.123.css.gz").read_bytes()
    assert gzip.decompress(body) == CSS
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    assert "Accept-Encoding" in varies(response)


def test_files_without_copies_are_compressed_when_they_shrink(client, public):
    # Long enough to go out in several chunks, each compressed as it comes.
    text = b"".join(b"line %d of a long notice\n" % n for n in range(20000))
    write(public / "assets/notice.txt", text, compressed=False)
    image = bytes(range(256)) * 8
    write(public / "assets/logo.png", image, compressed=False)
    response, body = raw_get(client, "/assets/notice.txt", "gzip, br")
    assert response.headers["content-encoding"] == "br" and "Accept-Encoding" in varies(response)
    assert brotli.decompress(body) == text and len(body) < len(text) // 4
    response, body = raw_get(client, "/assets/notice.txt", "br;q=0, gzip")
    assert response.headers["content-encoding"] == "gzip" and gzip.decompress(body) == text
    response, body = raw_get(client, "/assets/logo.png", "gzip, br")
    assert "content-encoding" not in response.headers and body == image


def test_pages_are_precompressed_too(client, public):
    response, body = raw_get(client, "/login/", "br")
    assert body == (public / "login/index.html.br").read_bytes()
    assert response.headers["content-encoding"] == "br"
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == "default-src 'none'; script-src 'self'"


@pytest.mark.parametrize("encoding", ["identity", "", "deflate"])
def test_without_an_accepted_encoding_the_plain_file_is_sent(client, encoding):
    response, body = raw_get(client, "/assets/x.123.css", encoding)
    assert body == CSS
    assert "content-encoding" not in response.headers
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    assert "Accept-Encoding" in varies(response)


@pytest.mark.parametrize(("encoding", "sent"), [
    ("br;q=0, gzip", "gzip"),
    ("gzip;q=0, br;q=0", None),
    ("gzip; q=0.5, br; q=0.8", "br"),
    ("GZIP", "gzip"),
])
def test_a_coding_refused_with_q_zero_is_not_sent(client, encoding, sent):
    response, body = raw_get(client, "/assets/x.123.css", encoding)
    assert response.headers.get("content-encoding") == sent
    if sent is None:
        assert body == CSS


def test_a_file_without_compressed_copies_is_sent_plain(client, public):
    write(public / "assets/plain.txt", b"just text\n", compressed=False)
    response, body = raw_get(client, "/assets/plain.txt", "br, gzip")
    assert body == b"just text\n"
    assert "content-encoding" not in response.headers


@pytest.mark.parametrize("path", ["/_headers", "/_headers.br", "/assets/_drafts.css"])
def test_underscore_files_are_not_served(client, public, path):
    write(public / "assets/_drafts.css", CSS, compressed=False)
    (public / "_headers.br").write_bytes(brotli.compress(HEADERS.encode()))
    response = client.get(path)
    assert response.status_code == 404
    assert b"Cache-Control" not in response.content and CSS not in response.content


def test_unknown_api_paths_answer_json_404_although_public_exists(client):
    for method in ("GET", "POST", "DELETE"):
        response = client.request(method, "/api/nope", headers={"Content-Type": "application/json"})
        assert response.status_code == 404, method
        assert response.json() == {"error": {"code": "not_found", "message": "No such API endpoint."}}
        assert response.headers["cache-control"] == "no-store"


def test_unknown_merchant_api_paths_answer_in_stripes_shape_although_public_exists(client):
    for method in ("GET", "POST"):
        response = client.request(method, "/v1/nope", headers={"Content-Type": "application/json"})
        assert response.status_code == 404, method
        assert response.json() == {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                             "message": "No such API endpoint."}}
        assert response.headers["cache-control"] == "no-store"


def test_a_file_under_public_api_is_never_served(client):
    response = client.get("/api/secret.json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_api_still_answers_beside_the_site(client):
    assert client.get("/api/health").json() == {"status": "ok"}


def test_an_unknown_page_is_a_plain_404(client):
    response = client.get("/nope/")
    assert response.status_code == 404
    assert not response.headers.get("content-type", "").startswith("application/json")


def test_an_etag_is_answered_with_304(client):
    first, _ = raw_get(client, "/assets/x.123.css", "identity")
    etag = first.headers["etag"]
    again, body = raw_get(client, "/assets/x.123.css", "identity", **{"If-None-Match": etag})
    assert again.status_code == 304
    assert body == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "Accept-Encoding" in varies(again)


def test_each_encoding_has_its_own_etag(client):
    plain, _ = raw_get(client, "/assets/x.123.css", "identity")
    br, _ = raw_get(client, "/assets/x.123.css", "br")
    gz, _ = raw_get(client, "/assets/x.123.css", "gzip")
    assert len({plain.headers["etag"], br.headers["etag"], gz.headers["etag"]}) == 3
    assert raw_get(client, "/assets/x.123.css", "br", **{"If-None-Match": br.headers["etag"]})[0].status_code == 304
    # The plain file's tag does not vouch for the brotli bytes.
    stale, body = raw_get(client, "/assets/x.123.css", "br", **{"If-None-Match": plain.headers["etag"]})
    assert stale.status_code == 200
    assert brotli.decompress(body) == CSS


def test_a_changed_file_gets_a_new_etag(client, public):
    before, _ = raw_get(client, "/", "identity")
    write(public / "index.html", INDEX + b"<p>changed</p>\n", compressed=False)
    after, body = raw_get(client, "/", "identity", **{"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert body.endswith(b"<p>changed</p>\n")


def test_a_wrong_method_on_an_api_route_is_405_although_public_exists(client):
    response = client.get("/api/login/code")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(("path", "canonical"), [
    ("/", "/"), ("//", "/"), ("/login/", "/login/"), ("//login//", "/login/"), ("/a/./b/../c", "/a/c"),
    ("/../..", "/"), ("/portal/..", "/"), ("/portal/.", "/portal/"), ("//evil.example", "/evil.example"),
    ("/\\evil.example", None), ("/login\\", None),
])
def test_the_canonical_spelling_of_a_path(path, canonical):
    assert canonical_path(path) == canonical


def test_a_precompressed_copy_is_not_served_by_its_own_name(client):
    for path in ("/login/index.html.gz", "/login/index.html.br", "/assets/x.123.css.br"):
        response = client.get(path, headers={"Accept-Encoding": "br, gzip"})
        assert response.status_code == 404, path
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_a_folder_is_redirected_to_its_slash_without_the_host_header_and_with_the_query(client):
    response = client.get("/login?prefilled_email=a%40b.c", headers={"Host": "evil.example"}, follow_redirects=False)
    assert response.status_code == 308
    assert response.headers["location"] == "/login/?prefilled_email=a%40b.c"
