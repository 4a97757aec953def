"""The merchant API's edge over HTTP (SPEC sections 7 and 11): the key as Stripe's SDKs send it,
refusals in Stripe's error shape, wrong keys limited per client address, parameters form-encoded
or JSON with unknown ones named, and browsers refused with no CORS header to read the answer by.
POST /v1/import serves as the endpoint; what it does is test_push.py's."""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import replace
from typing import Any

import pytest
from helpers import NOW, SECRET, with_config
from starlette.testclient import TestClient

from backend import api_keys
from backend.guards import MERCHANT_MAX_BODY

PATH = "/v1/import"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def key(db) -> str:
    return db.run(api_keys.create, SECRET, "tests", NOW)[1]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def basic(user: str, password: str = "") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def stripe_error(answer: Any, status: int, code: str, param: str | None = None) -> dict[str, Any]:
    """The answer is Stripe's error shape, with the status and code given."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    error = answer.json()["error"]
    assert set(error) <= {"type", "code", "message", "param"}
    assert error["type"] == ("api_error" if status >= 500 else "invalid_request_error")
    assert error["code"] == code and error["message"]
    assert error.get("param") == param
    return error


def test_the_key_is_taken_as_a_bearer_token(client, key):
    assert client.post(PATH, data={}, headers=bearer(key)).status_code == 200


def test_the_key_is_taken_as_the_basic_user_name_with_an_empty_password(client, key):
    assert client.post(PATH, data={}, headers=basic(key)).status_code == 200


@pytest.mark.parametrize("headers, code", [
    ({}, "api_key_required"),
    ({"Authorization": "Bearer "}, "api_key_required"),
    ({"Authorization": "Bearer sk_porch_wrong"}, "invalid_api_key"),
    (basic("sk_porch_wrong"), "invalid_api_key"),
    ({"Authorization": "Basic !!!"}, "invalid_api_key"),
    ({"Authorization": "Token sk_porch_x"}, "invalid_api_key"),
])
def test_a_missing_or_wrong_key_is_401_in_stripes_shape(client, key, headers, code):
    stripe_error(client.post(PATH, data={}, headers=headers), 401, code)


def test_a_revoked_key_is_refused(client, db, key):
    key_id = db.run(api_keys.listed, write=False)[0].id
    assert client.post(PATH, json={}, headers=bearer(key)).status_code == 200
    db.run(api_keys.revoke, key_id, NOW)
    stripe_error(client.post(PATH, json={}, headers=bearer(key)), 401, "invalid_api_key")


def test_the_session_cookie_is_no_key(portal):
    signed_in = portal()
    stripe_error(signed_in.post(PATH, json={}), 401, "api_key_required")


def wrong_keys(client: TestClient, count: int, **headers: str) -> list[int]:
    return [client.post(PATH, json={}, headers={"Authorization": f"Bearer sk_porch_guess{n}", **headers}).status_code
            for n in range(count)]


def test_wrong_keys_from_one_address_are_limited_with_a_429_in_stripes_shape(client, key):
    first = api_keys.LIMITS[0]
    assert wrong_keys(client, first.count) == [401] * first.count
    limited = client.post(PATH, json={}, headers=bearer(key))
    error = stripe_error(limited, 429, "rate_limit")
    assert "wrong API key" in error["message"]
    assert 0 < int(limited.headers["retry-after"]) <= first.seconds


def test_x_forwarded_for_from_an_untrusted_peer_does_not_spread_the_guesses(client):
    first = api_keys.LIMITS[0]
    answers = [client.post(PATH, json={}, headers={"Authorization": "Bearer sk_porch_x",
                                                   "X-Forwarded-For": f"203.0.113.{n}"}).status_code
               for n in range(first.count + 1)]
    assert answers == [401] * first.count + [429]


def test_x_forwarded_for_from_a_trusted_proxy_is_the_address_counted(settings, config, clock, db, key):
    from backend.app import create_app

    trusted = replace(settings, trusted_proxies=(ipaddress.ip_network("127.0.0.0/8"),))
    first = api_keys.LIMITS[0]
    with TestClient(create_app(trusted, config, clock=clock, background=False), base_url="http://localhost",
                    client=("127.0.0.1", 5000)) as client:
        assert wrong_keys(client, first.count, **{"X-Forwarded-For": "198.51.100.7"}) == [401] * first.count
        assert client.post(PATH, json={}, headers={**bearer(key), "X-Forwarded-For": "198.51.100.7"}).status_code == 429
        assert client.post(PATH, json={}, headers={**bearer(key), "X-Forwarded-For": "198.51.100.8"}).status_code == 200


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Origin": "https://billing.acme.example"},  # the portal's own origin: still a browser
    {"Origin": "null"},
    {"Sec-Fetch-Site": "same-origin"},
    {"Sec-Fetch-Site": "cross-site"},
])
def test_a_browser_is_refused_whatever_the_origin_and_gets_no_cors_header(settings, clock, db, key, headers):
    config = ("business: {name: Acme}\nlogin_link: {url: 'https://billing.acme.example'}\n"
              "allowed_origins: ['https://evil.example']\n")
    with TestClient(with_config(settings, config, clock), base_url="http://localhost") as client:
        answer = client.post(PATH, json={}, headers={**bearer(key), **headers})
        stripe_error(answer, 403, "cross_site")
        assert not any(name.startswith("access-control-") for name in answer.headers)
        preflight = client.options(PATH, headers={"Origin": "https://billing.acme.example",
                                                  "Access-Control-Request-Method": "POST"})
        assert preflight.status_code >= 400
        assert not any(name.startswith("access-control-") for name in preflight.headers)
        # The portal's API still answers its allowed origins' preflights: only /v1/ is left out.
        portal_preflight = client.options("/api/portal", headers={"Origin": "https://billing.acme.example",
                                                                  "Access-Control-Request-Method": "GET"})
        assert portal_preflight.headers["access-control-allow-origin"] == "https://billing.acme.example"


def test_an_address_typed_into_a_browser_is_not_a_cross_site_request(client, key):
    """Sec-Fetch-Site: none is what a browser sends for navigation the user started; servers send none at all."""
    assert client.get("/v1/nothing", headers={**bearer(key), "Sec-Fetch-Site": "none"}).status_code == 404


def test_merchant_answers_carry_the_apis_strict_headers(client, key):
    answer = client.post(PATH, json={}, headers=bearer(key))
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=x", ""])
def test_a_body_neither_form_nor_json_is_415(client, key, content_type):
    answer = client.post(PATH, content=b"customers=", headers={**bearer(key), "Content-Type": content_type})
    stripe_error(answer, 415, "unsupported_media_type")


def test_a_body_over_the_cap_is_413(client, key):
    answer = client.post(PATH, content=b"x" * (MERCHANT_MAX_BODY + 1), headers={**bearer(key), **FORM})
    stripe_error(answer, 413, "payload_too_large")


@pytest.mark.parametrize("body, headers, code, param", [
    (b"nonsense=1", FORM, "parameter_unknown", "nonsense"),
    (b'{"nonsense": 1}', {"Content-Type": "application/json"}, "parameter_unknown", "nonsense"),
    (b"customers=1&customers[0][id]=x", FORM, "parameter_invalid", "customers[0][id]"),
    (b"customers[0][id]=a&customers[2][id]=b", FORM, "parameter_invalid", "customers"),
    (b"customers=text", FORM, "parameter_invalid", "customers"),
    (b'{"customers": [', {"Content-Type": "application/json"}, "invalid_json", None),
    (b"[1, 2]", {"Content-Type": "application/json"}, "parameter_invalid", None),
    (b'{"customers": ' + b"[" * 40 + b"]" * 40 + b"}", {"Content-Type": "application/json"}, "invalid_json", None),
    (b"customers" + b"[0]" * 40 + b"=x", FORM, "parameter_invalid", "customers" + "[0]" * 40),
    (b"\xff=1", FORM, "parameter_invalid", None),
])
def test_bad_parameters_are_400_naming_the_parameter(client, key, body, headers, code, param):
    stripe_error(client.post(PATH, content=body, headers={**bearer(key), **headers}), 400, code, param)


def test_unknown_paths_and_methods_under_v1_answer_in_stripes_shape(client, key):
    stripe_error(client.get("/v1/nothing-here", headers=bearer(key)), 404, "resource_missing")
    stripe_error(client.get(PATH, headers=bearer(key)), 405, "method_not_allowed")


def test_the_portal_api_keeps_its_own_error_shape(client):
    answer = client.get("/api/nothing-here")
    assert answer.json() == {"error": {"code": "not_found", "message": "No such API endpoint."}}
