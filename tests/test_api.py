"""The read side of the HTTP API (SPEC section 6) and its one error shape."""

from __future__ import annotations

from dataclasses import replace

import pytest
from helpers import sign_in, with_config
from openapi_spec_validator import validate
from starlette.testclient import TestClient

from backend.app import ROUTES, create_app


@pytest.fixture
def jenny(client, outbox):
    sign_in(client, outbox)
    return client


def test_portal_has_the_documented_keys(jenny):
    data = jenny.get("/api/portal").json()
    # "accounts": two more customers share Jenny's address in the demo data.
    assert set(data) == {"customer", "subscriptions", "invoices", "payment_methods", "features", "business", "accounts",
                         "return_url"}
    assert data["customer"]["id"] == "cus_jenny"
    assert data["return_url"] is None  # the sign-in by email has the top level's default_return_url, unset here
    assert data["business"]["name"] == "Acme"


def test_portal_shows_plans_with_their_price_and_product(jenny):
    (subscription,) = jenny.get("/api/portal").json()["subscriptions"]
    price = subscription["items"]["data"][0]["price"]
    assert subscription["status"] == "active"
    assert price["unit_amount"] == 2900 and price["recurring"]["interval"] == "month"
    assert price["product"]["name"] == "Pro"


def test_portal_shows_cards_and_newest_invoices_first(jenny):
    data = jenny.get("/api/portal").json()
    assert [m["card"]["last4"] for m in data["payment_methods"]] == ["4444", "4242"]
    assert data["customer"]["invoice_settings"]["default_payment_method"] == "pm_jenny_visa"
    created = [i["created"] for i in data["invoices"]]
    assert created == sorted(created, reverse=True) and len(created) == 13


def test_portal_never_shows_the_merchants_metadata(jenny):
    assert "metadata" not in jenny.get("/api/portal").json()["customer"]
    assert "crm_id" not in jenny.get("/api/portal").text


def test_portal_shows_only_the_signed_in_customers_objects(jenny):
    text = jenny.get("/api/portal").text
    # cus_jenny_old has Jenny's address: it is named in the menu of accounts, but none of its objects is sent.
    for other in ("cus_sam", "sub_kim_pro", "pm_alex_amex", "in_alex", "sub_jenny_old", "in_jold"):
        assert other not in text


def test_an_own_invoice_is_readable(jenny):
    answer = jenny.get("/api/invoices/in_jenny_0013")
    assert answer.status_code == 200
    assert answer.json()["invoice"]["number"] == "JENNY-0013"


@pytest.mark.parametrize("invoice", ["in_kim_0001", "in_jold_0001", "in_nothing"])
def test_another_customers_invoice_is_404_like_a_missing_one(jenny, invoice):
    answer = jenny.get(f"/api/invoices/{invoice}")
    assert answer.status_code == 404
    assert answer.json() == {"error": {"code": "not_found", "message": "No such invoice."}}


def test_invoices_need_a_session(client):
    assert client.get("/api/invoices/in_jenny_0013").status_code == 401


def test_invoice_history_off_is_refused_by_the_server(settings, clock, db, outbox):
    app = with_config(settings, "features: {invoice_history: {enabled: false}}", clock)
    with TestClient(app, base_url="http://localhost") as client:
        sign_in(client, type(outbox)(client, settings.outbox_dir))
        answer = client.get("/api/invoices/in_jenny_0013")
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "feature_disabled"
        assert client.get("/api/portal").json()["features"]["invoice_history"] == {"enabled": False}


def test_the_email_cannot_be_changed(jenny):
    for body in ({"email": "mallory@example.com"}, {"email": "mallory@example.com", "name": "M"}):
        answer = jenny.patch("/api/customer", json=body)
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "email_locked"
    assert jenny.get("/api/portal").json()["customer"]["email"] == "jenny@example.com"


def test_allowed_billing_details_can_be_changed(jenny):
    answer = jenny.patch("/api/customer", json={"name": "Jenny R.", "phone": "+49 30 7654321"})
    assert answer.status_code == 200
    assert answer.json()["customer"]["name"] == "Jenny R."
    assert jenny.get("/api/portal").json()["customer"]["phone"] == "+49307654321"


def test_billing_details_outside_allowed_updates_are_refused(settings, clock, db, outbox):
    app = with_config(settings, "features: {customer_update: {allowed_updates: [name]}}", clock)
    with TestClient(app, base_url="http://localhost") as client:
        sign_in(client, type(outbox)(client, settings.outbox_dir))
        answer = client.patch("/api/customer", json={"phone": "+1 555 0100"})
        assert answer.status_code == 403
        assert answer.json()["error"]["code"] == "feature_disabled"


def test_customer_update_needs_a_session(client):
    assert client.patch("/api/customer", json={"name": "x"}).status_code == 401


def test_headline_markdown_is_sanitised(settings, clock, db, outbox):
    config = 'business: {headline: "Manage **Acme** <script>alert(1)</script> [x](javascript:alert(1))"}'
    with TestClient(with_config(settings, config, clock), base_url="http://localhost") as client:
        sign_in(client, type(outbox)(client, settings.outbox_dir))
        html = client.get("/api/portal").json()["business"]["headline_html"]
        assert "<strong>Acme</strong>" in html
        assert "<script" not in html and "javascript:" not in html


def test_health_is_200_when_the_store_answers(client):
    assert client.get("/api/health").json() == {"status": "ok"}


def test_health_is_503_when_the_store_does_not(settings, config, clock):
    down = replace(settings, database_url="postgresql://porch@127.0.0.1:9/none")
    with TestClient(create_app(down, config, clock=clock, background=False)) as client:
        answer = client.get("/api/health")
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "unavailable"


def test_a_store_outage_is_a_json_503_not_a_500(settings, config, clock):
    down = replace(settings, database_url="postgresql://porch@127.0.0.1:9/none")
    with TestClient(create_app(down, config, clock=clock, background=False), base_url="http://localhost") as client:
        answer = client.post("/api/login/code", json={"email": "jenny@example.com"})
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "unavailable"


def test_openapi_document_is_valid_and_lists_every_route(client):
    document = client.get("/api/openapi.json").json()
    validate(document)
    documented = {path for path in document["paths"]} | {"/api/openapi.json"}
    assert documented == {route.path for route in ROUTES}


def test_large_json_answers_are_compressed_when_the_client_accepts_it(jenny):
    brotli = jenny.get("/api/portal", headers={"Accept-Encoding": "gzip, deflate, br, zstd"})  # as Chromium asks
    assert brotli.headers["content-encoding"] == "br" and "Accept-Encoding" in brotli.headers["vary"]
    assert brotli.json()["customer"]["id"] == "cus_jenny"
    answer = jenny.get("/api/portal", headers={"Accept-Encoding": "gzip"})
    assert answer.headers["content-encoding"] == "gzip"
    assert int(answer.headers["content-length"]) < len(answer.content)
    assert int(brotli.headers["content-length"]) < int(answer.headers["content-length"])
    assert answer.json()["customer"]["id"] == "cus_jenny"
    plain = jenny.get("/api/portal", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers


def test_portal_invoice_lines_carry_no_metadata(jenny, db):
    from backend.store import billing

    def tag(conn):
        invoice = billing.get(conn, "invoices", "in_jenny_0013")
        invoice["lines"]["data"][0]["metadata"] = {"margin": "internal-42"}
        billing.upsert(conn, "invoices", [invoice])

    db.run(tag)
    text = jenny.get("/api/portal").text
    assert "Pro monthly" in text and "internal-42" not in text
