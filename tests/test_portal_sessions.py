"""Portal sessions: the merchant's app opens the portal for a customer (POST /v1/billing_portal/sessions), the
page spends the link's token once (POST /api/login/session), and the session it opens sees the portal
session's configuration. Stripe's official SDK, unmodified, is the merchant's client against a real server;
the rest runs in-process."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import NOW, SECRET, with_config
from starlette.testclient import TestClient

from backend import api_keys, portal_sessions, signin
from backend.ratelimit import Limit

PATH = "/v1/billing_portal/sessions"
REDEEM = "/api/login/session"
CONFIG = """\
business: {name: Acme, support_email: billing@acme.example}
login_link: {url: 'https://billing.acme.example/'}
default_return_url: https://acme.example/account
locales: {default: en, available: [en, de, pt-BR]}
features:
  subscription_cancel: {retention: {enabled: true, percent_off: 20, duration_in_months: 3}}
  subscription_update:
    enabled: true
    default_allowed_updates: [price, quantity]
    products:
      - {product: prod_starter, prices: [price_starter_monthly]}
      - {product: prod_pro, prices: [price_pro_monthly, price_pro_yearly]}
      - {product: prod_team, prices: [price_team_monthly], adjustable_quantity: {enabled: true, minimum: 1, maximum: 50}}
configurations:
  partners:
    business: {name: Acme Partners}
    default_return_url: https://partners.acme.example/home
    features:
      subscription_cancel: {enabled: false}
      invoice_history: {enabled: false}
      payment_method_update: {enabled: false}
      subscription_update:
        products: [{product: prod_pro, prices: [price_pro_monthly]}]
"""


@pytest.fixture
def key(db) -> str:
    return db.run(api_keys.create, SECRET, "tests", NOW)[1]


@pytest.fixture
def client(settings, clock, db) -> Iterator[TestClient]:
    with TestClient(with_config(settings, CONFIG, clock), base_url="http://localhost") as test_client:
        yield test_client


def create(client: TestClient, key: str, **params: Any) -> Any:
    return client.post(PATH, json={"customer": "cus_jenny"} | params, headers={"Authorization": f"Bearer {key}"})


def token_of(url: str) -> str:
    fragment = urlsplit(url).fragment
    assert fragment.startswith("session=")
    return fragment.removeprefix("session=")


def opened(client: TestClient, key: str, **params: Any) -> dict[str, Any]:
    """A portal session created and its link opened: the redeem's answer."""
    made = create(client, key, **params)
    assert made.status_code == 200, made.text
    answer = client.post(REDEEM, json={"token": token_of(made.json()["url"])})
    assert answer.status_code == 200, answer.text
    return answer.json()


def refused(answer: Any, status: int, code: str, param: str | None = None) -> None:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code, error
    assert error.get("param") == param, error


# Creating


def test_a_session_answers_stripes_object_with_a_link_whose_token_is_only_in_the_fragment(client, key):
    answer = create(client, key)
    assert answer.status_code == 200, answer.text
    session = answer.json()
    assert session["id"].startswith("bps_") and session["object"] == "billing_portal.session"
    assert (session["configuration"], session["customer"], session["created"]) == ("bpc_default", "cus_jenny", NOW)
    assert session["flow"] is None and session["locale"] is None and session["on_behalf_of"] is None
    assert session["livemode"] is False
    assert session["return_url"] == "https://acme.example/account"  # the configuration's default
    parts = urlsplit(session["url"])
    assert (parts.scheme, parts.netloc, parts.path, parts.query) == ("https", "billing.acme.example", "/portal/", "")
    assert len(token_of(session["url"])) >= 43  # 256 bits


def test_the_link_leads_to_the_portal_in_the_sessions_language(client, key):
    for asked, path, said in (("de", "/de/portal/", "de"), ("pt-BR", "/pt-BR/portal/", "pt-BR"),
                              ("pt_br", "/pt-BR/portal/", "pt-BR"), ("auto", "/portal/", None),
                              ("en", "/portal/", "en"), ("fr", "/portal/", "fr")):
        session = create(client, key, locale=asked).json()
        assert (urlsplit(session["url"]).path, session["locale"]) == (path, said), asked


@pytest.mark.parametrize("params, status, code, param", [
    ({"customer": "cus_nobody"}, 400, "resource_missing", "customer"),
    ({"locale": "xx-YY"}, 400, "parameter_invalid", "locale"),
    ({"configuration": "bpc_nobody"}, 400, "resource_missing", "configuration"),
    ({"configuration": "partners"}, 400, "resource_missing", "configuration"),
    ({"return_url": "javascript:alert(1)"}, 400, "parameter_invalid", "return_url"),
    ({"return_url": "/relative"}, 400, "parameter_invalid", "return_url"),
    ({"on_behalf_of": "acct_1"}, 400, "parameter_invalid", "on_behalf_of"),
    ({"nonsense": "1"}, 400, "parameter_unknown", "nonsense"),
])
def test_wrong_parameters_are_refused_in_stripes_shape_naming_them(client, key, params, status, code, param):
    answer = create(client, key, **params)
    refused(answer, status, code, param)
    assert answer.json()["error"]["type"] == "invalid_request_error"


def test_a_session_needs_the_merchants_key(client, key, portal):
    refused(client.post(PATH, json={"customer": "cus_jenny"}), 401, "api_key_required")
    signed_in = portal()  # a customer's cookie is no key
    refused(signed_in.post(PATH, json={"customer": "cus_jenny"}), 401, "api_key_required")


# Opening


def test_the_link_opens_a_session_once(client, key):
    session = create(client, key, return_url="https://acme.example/back").json()
    token = token_of(session["url"])
    answer = client.post(REDEEM, json={"token": token})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"flow": None, "return_url": "https://acme.example/back", "locale": None}
    portal = client.get("/api/portal")
    assert portal.status_code == 200 and portal.json()["customer"]["id"] == "cus_jenny"
    assert portal.json()["return_url"] == "https://acme.example/back"
    fresh = TestClient(client.app, base_url="http://localhost")
    refused(fresh.post(REDEEM, json={"token": token}), 401, "portal_link_invalid")
    refused(fresh.get("/api/portal"), 401, "not_signed_in")


def test_two_redeems_racing_open_one_session(client, key):
    token = token_of(create(client, key).json()["url"])
    barrier = threading.Barrier(2)
    answers: list[int] = []

    def redeem() -> None:
        # Outside `with`: the app's lifespan (whose end closes its store) stays the fixture's.
        racer = TestClient(client.app, base_url="http://localhost")
        barrier.wait()
        answers.append(racer.post(REDEEM, json={"token": token}).status_code)

    threads = [threading.Thread(target=redeem) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200, 401]


def test_the_link_expires_after_five_minutes(client, key, clock):
    first, second = (token_of(create(client, key).json()["url"]) for _ in range(2))
    clock.advance(portal_sessions.LIFETIME - 1)
    assert client.post(REDEEM, json={"token": first}).status_code == 200
    clock.advance(1)
    refused(client.post(REDEEM, json={"token": second}), 401, "portal_link_invalid")


@pytest.mark.parametrize("change", [
    lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
    lambda token: token + "x",
    lambda token: token[:20],
    lambda token: "",
])
def test_a_tampered_token_is_refused(client, key, change):
    token = token_of(create(client, key).json()["url"])
    answer = client.post(REDEEM, json={"token": change(token)})
    assert answer.status_code in (400, 401)
    assert answer.json()["error"]["code"] in ("portal_link_invalid", "invalid_request")
    assert client.post(REDEEM, json={"token": token}).status_code == 200  # the real one still opens, once


def test_failed_redeems_count_towards_the_sign_in_failure_limit(client, key, monkeypatch):
    monkeypatch.setattr(signin, "FAILURES_PER_ADDRESS", (Limit(3, 3600),))
    assert [client.post(REDEEM, json={"token": f"guess{n}"}).status_code for n in range(3)] == [401] * 3
    token = token_of(create(client, key).json()["url"])
    refused(client.post(REDEEM, json={"token": token}), 429, "rate_limited")


def test_the_token_never_reaches_the_servers_log(client, key, caplog):
    caplog.set_level(logging.DEBUG)
    token = token_of(create(client, key).json()["url"])
    assert client.post(REDEEM, json={"token": token}).status_code == 200
    assert client.post(REDEEM, json={"token": token}).status_code == 401
    assert caplog.records and token not in caplog.text
