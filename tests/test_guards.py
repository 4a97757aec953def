"""Cross-site rules, content type, body size, bad input and client addresses (SPEC section 7)."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import replace

import pytest
from helpers import sign_in, with_config
from starlette.testclient import TestClient

ALLOWED = "https://acme.example"
CONFIG = f"allowed_origins: [{ALLOWED}]\nlogin_link: {{url: https://billing.acme.example}}\n"


@pytest.fixture
def guarded(settings, clock, db):
    with TestClient(with_config(settings, CONFIG, clock), base_url="http://localhost") as client:
        yield client


def test_cors_allows_only_listed_origins_with_credentials(guarded):
    preflight = guarded.options(
        "/api/login/code",
        headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ALLOWED
    assert preflight.headers["access-control-allow-credentials"] == "true"
    refused = guarded.options(
        "/api/login/code",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


def test_cors_never_answers_with_a_wildcard(guarded):
    answer = guarded.get("/api/health", headers={"Origin": ALLOWED})
    assert answer.headers["access-control-allow-origin"] == ALLOWED
    assert answer.headers["vary"].lower().count("origin") == 1


def test_the_login_link_origin_is_allowed_too(guarded):
    answer = guarded.post("/api/login/code", json={"email": "jenny@example.com"},
                          headers={"Origin": "https://billing.acme.example"})
    assert answer.status_code == 202


def test_a_foreign_origin_is_refused(guarded):
    answer = guarded.post("/api/login/code", json={"email": "jenny@example.com"},
                          headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "cross_site"


def test_a_foreign_origin_cannot_read_the_portal_either(client, outbox):
    sign_in(client, outbox)
    assert client.get("/api/portal", headers={"Origin": "https://evil.example"}).status_code == 403


def test_same_origin_requests_pass(client):
    answer = client.post("/api/login/code", json={"email": "jenny@example.com"},
                         headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"})
    assert answer.status_code == 202


def test_sec_fetch_site_cross_site_is_refused(client, outbox):
    sign_in(client, outbox)
    answer = client.post("/api/logout", json={}, headers={"Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 403
    assert client.get("/api/portal").status_code == 200


def test_cross_site_from_an_allowed_origin_passes(guarded):
    answer = guarded.post("/api/login/code", json={"email": "jenny@example.com"},
                          headers={"Origin": ALLOWED, "Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 202


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None])
def test_state_changes_need_json(client, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    answer = client.post("/api/login/code", content=b'{"email": "jenny@example.com"}', headers=headers)
    assert answer.status_code == 415
    assert answer.json()["error"]["code"] == "unsupported_media_type"


def test_a_form_post_cannot_log_out(client, outbox):
    sign_in(client, outbox)
    client.post("/api/logout", data={"a": "b"})
    assert client.get("/api/portal").status_code == 200


def test_json_with_a_charset_is_accepted(client):
    answer = client.post("/api/login/code", content=b'{"email": "jenny@example.com"}',
                         headers={"Content-Type": "application/json; charset=utf-8"})
    assert answer.status_code == 202


def test_oversized_bodies_are_413(client):
    answer = client.post("/api/login/code", json={"email": "a" * 20000 + "@example.com"})
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"


def test_oversized_streamed_bodies_are_413(client):
    def chunks():
        for _ in range(20):
            yield b" " * 1024

    answer = client.post("/api/login/code", content=chunks(), headers={"Content-Type": "application/json"})
    assert answer.status_code == 413


@pytest.mark.parametrize("body", [b"{", b"nul", b"\xff\xfe", b'{"email": "x@example.com",}'])
def test_malformed_json_is_400(client, body):
    answer = client.post("/api/login/code", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_json"


def test_unknown_fields_are_refused(client):
    answer = client.post("/api/login/code", json={"email": "jenny@example.com", "admin": True})
    assert answer.status_code == 400
    assert answer.json() == {"error": {"code": "invalid_request", "message": "Unknown field 'admin'.", "param": "admin"}}


@pytest.mark.parametrize("body", [[], "x", 1, None, {"email": 5}, {"email": ["a"]}, {}])
def test_wrong_shapes_are_400_not_500(client, body):
    answer = client.post("/api/login/code", content=json.dumps(body), headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert set(answer.json()["error"]) <= {"code", "message", "param"}


def test_api_answers_carry_strict_headers(client):
    answer = client.get("/api/health")
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


def send_limit_hits(client, forwarded_for):
    return [
        client.post("/api/login/code", json={"email": f"p{n}@example.com"},
                    headers={"X-Forwarded-For": forwarded_for.format(n=n)}).status_code
        for n in range(11)
    ]


def test_x_forwarded_for_from_an_untrusted_peer_changes_nothing(client):
    # Each request claims another address; the per-address limit still sees one client.
    assert send_limit_hits(client, "203.0.113.{n}") == [202] * 10 + [429]


def test_x_forwarded_for_from_a_trusted_proxy_is_believed(settings, config, clock, db):
    from backend.app import create_app

    trusted = replace(settings, trusted_proxies=(ipaddress.ip_network("127.0.0.0/8"),))
    app = create_app(trusted, config, clock=clock, background=False)
    with TestClient(app, base_url="http://localhost", client=("127.0.0.1", 5000)) as client:
        assert send_limit_hits(client, "203.0.113.{n}") == [202] * 11
        assert send_limit_hits(client, "198.51.100.7")[-1] == 429


def test_unknown_api_paths_and_methods_answer_json(client):
    missing = client.get("/api/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong_method = client.put("/api/portal", json={})
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


API_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
}


def assert_api_headers(answer):
    for name, value in API_HEADERS.items():
        assert answer.headers.get_list(name) == [value], (answer.status_code, name)


@pytest.mark.parametrize("body", [b"[" * 8000, b'{"a":' * 3000, b"[" * 33 + b"]" * 33, b'{"email": ' * 40 + b"1" + b"}" * 40],
                         ids=["8000-arrays", "3000-objects", "33-closed-arrays", "40-closed-objects"])
def test_deeply_nested_json_is_400_not_a_500(client, body):
    answer = client.post("/api/login/code", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_json"
    assert_api_headers(answer)


def test_nesting_up_to_the_bound_is_read_as_json(client):
    # 32 levels parse, so the answer is about the shape, not the JSON.
    answer = client.post("/api/login/code", content=b"[" * 32 + b"]" * 32, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("body", [b'"\\ud800"', b'{"email": NaN}', b'{"email": 1e999}'])
def test_what_is_not_strict_json_is_invalid_json(client, body):
    answer = client.post("/api/login/code", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_json"


@pytest.mark.parametrize(("method", "path", "headers", "body", "status"), [
    pytest.param("POST", "/api/login/code", {"Origin": "https://evil.example"}, b"{}", 403, id="foreign-origin"),
    pytest.param("POST", "/api/logout", {"Sec-Fetch-Site": "cross-site"}, b"{}", 403, id="cross-site"),
    pytest.param("POST", "/api/login/code", {"Content-Type": "text/plain"}, b"{}", 415, id="not-json"),
    pytest.param("POST", "/api/login/code", {}, b" " * 20000, 413, id="too-large"),
    pytest.param("GET", "/api/nothing-here", {}, None, 404, id="no-route"),
    pytest.param("PUT", "/api/portal", {}, b"{}", 405, id="wrong-method"),
    pytest.param("GET", "/api/portal", {}, None, 401, id="signed-out"),
    pytest.param("OPTIONS", "/api/login/code", {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
                 None, 400, id="refused-preflight"),
])
def test_every_api_answer_carries_the_api_headers(client, method, path, headers, body, status):
    answer = client.request(method, path, content=body, headers={"Content-Type": "application/json", **headers})
    assert answer.status_code == status
    assert_api_headers(answer)


@pytest.mark.parametrize("path", ["/api/broken", "/broken/"])
def test_a_fault_is_a_500_with_the_strict_headers_and_no_traceback(app, path):
    def broken(request):
        raise ZeroDivisionError("secret detail")

    app.add_route(path, broken)
    with TestClient(app, base_url="http://localhost", raise_server_exceptions=False) as client:
        answer = client.get(path)
    assert answer.status_code == 500
    assert answer.json() == {"error": {"code": "internal_error", "message": "Something went wrong on our side."}}
    assert_api_headers(answer)


def test_a_database_out_of_reach_is_a_503_with_the_api_headers(settings, config, clock):
    from backend.app import create_app

    # Nothing listens on port 9: the connection is refused at once.
    unreachable = replace(settings, database_url="postgresql://porch@127.0.0.1:9/porch")
    with TestClient(create_app(unreachable, config, clock=clock, background=False), base_url="http://localhost") as client:
        answer = client.get("/api/health")
    assert answer.status_code == 503
    assert_api_headers(answer)
