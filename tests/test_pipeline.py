"""The endpoint table and its pipeline: what the OpenAPI document says of each endpoint is what is enforced,
and the engine is the one billing.engine names."""

from __future__ import annotations

from dataclasses import replace

import pytest
from helpers import with_config
from starlette.testclient import TestClient

from backend import availability
from backend.app import ENDPOINTS, create_app
from backend.config import parse_config
from backend.settings import SettingsError

# Each feature an endpoint names, and the config that switches it off.
OFF = {
    availability.login_feature: "login_link: {enabled: false}",
    availability.customer_update_feature: "features: {customer_update: {enabled: false}}",
    availability.invoice_history_feature: "features: {invoice_history: {enabled: false}}",
    availability.cancel_feature: "features: {subscription_cancel: {enabled: false}}",
    availability.retention_feature: "features: {subscription_cancel: {retention: {enabled: false}}}",
    availability.update_feature: "features: {subscription_update: {enabled: false}}",
    availability.payment_method_feature: "features: {payment_method_update: {enabled: false}}",
}
GATED = [e for e in ENDPOINTS if e.feature is not None]
PRIVATE = [e for e in ENDPOINTS if e.auth == "session"]


def send(client: TestClient, endpoint, path_id: str = "sub_jenny_pro"):
    path = endpoint.path.replace("{id}", path_id)
    if endpoint.method == "get":
        return client.get(path)
    return client.request(endpoint.method.upper(), path, json={})


def test_every_feature_an_endpoint_names_has_a_way_to_switch_it_off():
    assert {e.feature for e in GATED} <= set(OFF)


@pytest.mark.parametrize("endpoint", GATED, ids=lambda e: f"{e.method} {e.path}")
def test_an_endpoint_whose_feature_is_off_refuses_before_it_reads_anything(endpoint, portal, settings, clock):
    text = OFF[endpoint.feature]
    refusal = endpoint.feature(parse_config(text)[0])
    if endpoint.auth == "session":
        client = portal(text)
        answer = send(client, endpoint)
    else:
        with TestClient(with_config(settings, text, clock), base_url="http://localhost") as client:
            answer = send(client, endpoint)
    assert (answer.status_code, answer.json()["error"]["code"]) == (refusal.status, refusal.code)
    expected = (404, "login_disabled") if endpoint.feature is availability.login_feature else (403, "feature_disabled")
    assert (refusal.status, refusal.code) == expected
    # And the document says so.
    assert str(refusal.status) in client.app.openapi["paths"][endpoint.path][endpoint.method]["responses"]


@pytest.mark.parametrize("endpoint", PRIVATE, ids=lambda e: f"{e.method} {e.path}")
def test_a_session_endpoint_answers_401_without_a_session(endpoint, client):
    answer = send(client, endpoint)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "not_signed_in"
    entry = client.app.openapi["paths"][endpoint.path][endpoint.method]
    assert entry["security"] == [{"session": []}] and "401" in entry["responses"]


def test_public_endpoints_are_documented_without_a_session(client):
    for endpoint in ENDPOINTS:
        entry = client.app.openapi["paths"][endpoint.path][endpoint.method]
        assert ("security" in entry) == (endpoint.auth != "none")


MERCHANT = [e for e in ENDPOINTS if e.auth == "merchant"]


@pytest.mark.parametrize("endpoint", MERCHANT, ids=lambda e: f"{e.method} {e.path}")
def test_a_merchant_endpoint_answers_401_without_a_key_and_is_documented_so(endpoint, client):
    answer = client.request(endpoint.method.upper(), endpoint.path)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "api_key_required"
    entry = client.app.openapi["paths"][endpoint.path][endpoint.method]
    assert endpoint.path.startswith("/v1/") and entry["tags"] == ["merchant"]
    assert entry["security"] == [{"merchant_basic": []}, {"merchant_bearer": []}]
    assert entry["responses"]["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/StripeError")


def test_the_local_engine_is_the_default(app):
    assert app.state.engine.name == "local"


STRIPE = "business: {name: Acme, support_email: billing@acme.example}\nbilling: {engine: stripe}\n"


def test_the_stripe_engine_does_not_start_without_its_key(settings):
    with pytest.raises(SettingsError, match="PORCH_STRIPE_SECRET_KEY"):
        create_app(settings, parse_config(STRIPE)[0], background=False)


def test_the_stripe_engine_starts_with_its_key(settings):
    app = create_app(replace(settings, stripe_secret_key="sk_test_123456"), parse_config(STRIPE)[0], background=False)
    assert app.state.engine.name == "stripe"
