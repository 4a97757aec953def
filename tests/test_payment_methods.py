"""Payment methods: make one the default, remove one (never the last one a subscription needs),
and the signed link to the merchant's add-card page."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import sqlalchemy as sa
from business_helpers import act
from helpers import NOW, Outbox, sign_in, with_config
from starlette.testclient import TestClient
from stripe_boundary import completed, scripted_client

from backend import payment_methods
from backend.billing_types import Customer
from backend.errors import APIError
from backend.store import billing
from backend.store.tables import audit_log, events

DAY = 86400
ADD_SECRET = "add-card-" + "s" * 32


@pytest.fixture
def jenny(client, outbox):
    sign_in(client, outbox)
    return client


def delete(client: TestClient, method: str, **kwargs: Any) -> Any:
    return client.request("DELETE", f"/api/payment_methods/{method}", json={}, **kwargs)


def stored_events(db) -> list[dict[str, Any]]:
    rows = db.run(lambda conn: conn.execute(sa.select(events)).all(), write=False)
    # One transaction's events share a second; the audit log's order is the order they were made.
    order = [row.event for row in db.run(lambda conn: conn.execute(sa.select(audit_log).order_by(audit_log.c.id)).all(),
                                         write=False)]
    return sorted((json.loads(row.data) for row in rows), key=lambda e: order.index(e["id"]))


def default_of(db, customer: str = "cus_jenny") -> str | None:
    return db.run(billing.get, "customers", customer, write=False)["invoice_settings"]["default_payment_method"]


def set_status(db, subscription: str, status: str) -> None:
    found = db.run(billing.get, "subscriptions", subscription, write=False)
    db.run(billing.upsert, "subscriptions", [found | {"status": status}])


def add_card(db, method: str, created: int) -> None:
    db.run(billing.upsert, "payment_methods", [{
        "id": method, "object": "payment_method", "type": "card", "customer": "cus_jenny", "created": created,
        "card": {"brand": "amex", "last4": "0005", "exp_month": 1, "exp_year": 2031}}])


# Default


def test_a_method_becomes_the_default_with_a_customer_updated_event(jenny, db):
    answer = jenny.post("/api/payment_methods/pm_jenny_mc/default", json={})
    assert answer.status_code == 200
    assert answer.json()["customer"]["invoice_settings"] == {"default_payment_method": "pm_jenny_mc"}
    assert default_of(db) == "pm_jenny_mc"
    (event,) = stored_events(db)
    assert event["type"] == "customer.updated"
    assert event["data"]["object"]["invoice_settings"]["default_payment_method"] == "pm_jenny_mc"
    assert event["data"]["previous_attributes"] == {"invoice_settings": {"default_payment_method": "pm_jenny_visa"}}
    assert jenny.get("/api/portal").json()["customer"]["invoice_settings"]["default_payment_method"] == "pm_jenny_mc"


def test_the_answer_says_what_each_method_allows_now(jenny):
    answer = jenny.post("/api/payment_methods/pm_jenny_mc/default", json={})
    assert {m["id"]: m["actions"] for m in answer.json()["payment_methods"]} == {
        "pm_jenny_mc": ["remove"], "pm_jenny_visa": ["make_default", "remove"]}


def test_making_the_default_the_default_is_refused_and_changes_nothing(jenny, db):
    answer = jenny.post("/api/payment_methods/pm_jenny_visa/default", json={})
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "already_default"
    assert default_of(db) == "pm_jenny_visa"
    assert stored_events(db) == []


@pytest.mark.parametrize("method", ["pm_kim_visa", "pm_nothing"])
def test_another_customers_method_is_404_like_a_missing_one(jenny, db, method):
    for answer in (jenny.post(f"/api/payment_methods/{method}/default", json={}), delete(jenny, method)):
        assert answer.status_code == 404
        assert answer.json() == {"error": {"code": "not_found", "message": "No such payment method."}}
    assert default_of(db, "cus_kim") == "pm_kim_visa"
    assert db.run(billing.get, "payment_methods", "pm_kim_visa", write=False)["customer"] == "cus_kim"
    assert stored_events(db) == []


def test_the_same_idempotency_key_makes_one_change(jenny, db):
    headers = {"Idempotency-Key": "default-1"}
    first = jenny.post("/api/payment_methods/pm_jenny_mc/default", json={}, headers=headers)
    jenny.post("/api/payment_methods/pm_jenny_visa/default", json={})  # a change in between, without a key
    again = jenny.post("/api/payment_methods/pm_jenny_mc/default", json={}, headers=headers)
    assert again.status_code == 200 and again.json() == first.json()
    assert default_of(db) == "pm_jenny_visa"
    assert len(stored_events(db)) == 2


# Remove


def test_removing_a_method_detaches_it(jenny, db):
    answer = delete(jenny, "pm_jenny_mc")
    assert answer.status_code == 204 and answer.content == b""
    assert db.run(billing.get, "payment_methods", "pm_jenny_mc", write=False)["customer"] is None
    assert [m["id"] for m in jenny.get("/api/portal").json()["payment_methods"]] == ["pm_jenny_visa"]
    assert default_of(db) == "pm_jenny_visa"
    (event,) = stored_events(db)
    assert event["type"] == "payment_method.detached"
    assert event["data"]["object"]["id"] == "pm_jenny_mc" and event["data"]["object"]["customer"] is None
    assert event["data"]["previous_attributes"] == {"customer": "cus_jenny"}
    (entry,) = db.run(lambda conn: conn.execute(sa.select(audit_log)).all(), write=False)
    assert (entry.customer, entry.action, entry.object_id) == ("cus_jenny", "payment_method.detached", "pm_jenny_mc")


def test_removing_the_default_makes_the_newest_remaining_method_the_default(jenny, db):
    add_card(db, "pm_jenny_amex", NOW - 50 * DAY)
    assert delete(jenny, "pm_jenny_visa").status_code == 204
    assert default_of(db) == "pm_jenny_amex"
    detached, updated = stored_events(db)
    assert detached["type"] == "payment_method.detached"
    assert updated["type"] == "customer.updated"
    assert updated["data"]["previous_attributes"] == {"invoice_settings": {"default_payment_method": "pm_jenny_visa"}}
    assert updated["data"]["object"]["invoice_settings"]["default_payment_method"] == "pm_jenny_amex"


@pytest.mark.parametrize("status", ["active", "trialing", "past_due", "unpaid"])
def test_the_last_method_of_a_charging_subscription_stays(jenny, db, status):
    set_status(db, "sub_jenny_pro", status)
    assert delete(jenny, "pm_jenny_mc").status_code == 204
    answer = delete(jenny, "pm_jenny_visa")
    assert answer.status_code == 409
    assert answer.json() == {"error": {"code": "last_payment_method", "message":
                                       "Add another payment method before removing this one: "
                                       "your subscription needs one to renew."}}
    assert db.run(billing.get, "payment_methods", "pm_jenny_visa", write=False)["customer"] == "cus_jenny"
    assert [e["type"] for e in stored_events(db)] == ["payment_method.detached"]


@pytest.mark.parametrize("status", ["canceled", "incomplete_expired"])
def test_the_last_method_goes_when_no_subscription_charges(jenny, db, status):
    set_status(db, "sub_jenny_pro", status)
    assert delete(jenny, "pm_jenny_mc").status_code == 204
    assert delete(jenny, "pm_jenny_visa").status_code == 204
    assert default_of(db) is None
    assert jenny.get("/api/portal").json()["payment_methods"] == []


def test_a_removed_method_is_gone(jenny, db):
    assert delete(jenny, "pm_jenny_mc").status_code == 204
    assert delete(jenny, "pm_jenny_mc").status_code == 404
    assert jenny.post("/api/payment_methods/pm_jenny_mc/default", json={}).status_code == 404


def test_a_repeated_removal_with_the_same_key_writes_one_event(jenny, db):
    headers = {"Idempotency-Key": "remove-mc"}
    assert delete(jenny, "pm_jenny_mc", headers=headers).status_code == 204
    again = delete(jenny, "pm_jenny_mc", headers=headers)
    assert again.status_code == 204 and again.content == b""
    assert [e["type"] for e in stored_events(db)] == ["payment_method.detached"]


def test_a_state_change_needs_a_json_body(jenny, db):
    assert jenny.delete("/api/payment_methods/pm_jenny_mc").status_code == 415
    answer = jenny.request("DELETE", "/api/payment_methods/pm_jenny_mc", json={"force": True})
    assert answer.status_code == 400
    assert answer.json()["error"] == {"code": "invalid_request", "message": "Unknown field 'force'.", "param": "force"}
    assert stored_events(db) == []


def test_payment_methods_need_a_session(client):
    assert client.post("/api/payment_methods/pm_jenny_mc/default", json={}).status_code == 401
    assert delete(client, "pm_jenny_mc").status_code == 401
    assert client.post("/api/payment_methods/add", json={}).status_code == 401


def test_payment_method_update_off_is_refused_by_the_server(settings, clock, db):
    app = add_app(settings, clock, "enabled: false, add_url: 'https://pay.example/add'")
    with TestClient(app, base_url="http://localhost") as client:
        sign_in(client, Outbox(client, settings.outbox_dir))
        for answer in (client.post("/api/payment_methods/pm_jenny_mc/default", json={}), delete(client, "pm_jenny_mc"),
                       client.post("/api/payment_methods/add", json={})):
            assert answer.status_code == 403
            assert answer.json() == {"error": {"code": "feature_disabled",
                                               "message": "Changing payment methods is switched off."}}
    assert default_of(db) == "pm_jenny_visa"
    assert db.run(billing.get, "payment_methods", "pm_jenny_mc", write=False)["customer"] == "cus_jenny"
    assert stored_events(db) == []


# Add


def verify(url: str, secret: str, now: float) -> bool:
    """What the merchant's add-card page does (the README shows the same code)."""
    query = parse_qs(urlsplit(url).query)
    signed = urlencode([(name, query[name][0]) for name in ("customer", "return_url", "expires")])
    expected = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, query["signature"][0]) and int(query["expires"][0]) >= now


def add_app(settings, clock, feature: str):
    """An app whose add-card link is set up: add_url (in `feature`), the portal's address and the signing key."""
    keyed = replace(settings, named_secrets={"ADD_SECRET": ADD_SECRET})
    return with_config(keyed, "login_link: {url: 'https://billing.acme.example/'}\n"
                              f"features: {{payment_method_update: {{signing_secret_env: ADD_SECRET, {feature}}}}}\n",
                       clock)


def add_answer(app, settings, **headers: str) -> Any:
    with TestClient(app, base_url="https://billing.acme.example") as client:
        sign_in(client, Outbox(client, settings.outbox_dir))
        return client.post("/api/payment_methods/add", json={}, headers=headers)


def test_the_add_link_is_signed_and_returns_to_the_portal(settings, clock, db):
    app = add_app(settings, clock, "add_url: 'https://pay.example/add-card'")
    answer = add_answer(app, settings)
    assert answer.status_code == 200
    url = answer.json()["url"]
    assert url.startswith("https://pay.example/add-card?customer=cus_jenny&return_url=")
    query = parse_qs(urlsplit(url).query)
    assert query["return_url"] == ["https://billing.acme.example/portal/?payment_method=added"]
    assert query["expires"] == [str(NOW + 3600)]
    signed = urlencode([("customer", "cus_jenny"),
                        ("return_url", "https://billing.acme.example/portal/?payment_method=added"),
                        ("expires", str(NOW + 3600))])
    assert query["signature"] == [hmac.new(ADD_SECRET.encode(), signed.encode(), hashlib.sha256).hexdigest()]
    assert verify(url, ADD_SECRET, NOW) and verify(url, ADD_SECRET, NOW + 3600)
    assert not verify(url, ADD_SECRET, NOW + 3601)
    assert not verify(url, "another secret", NOW)
    assert not verify(url.replace("cus_jenny", "cus_kim"), ADD_SECRET, NOW)
    assert stored_events(db) == []


def test_the_add_link_keeps_the_add_url_query_first(settings, clock, db):
    app = add_app(settings, clock, "add_url: 'https://pay.example/add?merchant=acme'")
    url = add_answer(app, settings).json()["url"]
    signed = urlencode([("customer", "cus_jenny"), ("return_url", "https://billing.acme.example/portal/?payment_method=added"),
                        ("expires", str(NOW + 3600))])
    assert url == "https://pay.example/add?merchant=acme&" + signed + "&signature=" + \
        hmac.new(ADD_SECRET.encode(), signed.encode(), hashlib.sha256).hexdigest()


def test_a_host_header_never_reaches_the_signed_link(settings, clock, db):
    app = add_app(settings, clock, "add_url: 'https://pay.example/add-card'")
    answer = add_answer(app, settings, Host="attacker.example", **{"X-Forwarded-Host": "attacker.example"})
    assert answer.status_code == 200
    query = parse_qs(urlsplit(answer.json()["url"]).query)
    assert query["return_url"] == ["https://billing.acme.example/portal/?payment_method=added"]
    assert verify(answer.json()["url"], ADD_SECRET, NOW)


def test_without_an_add_url_adding_is_refused_saying_why(jenny):
    answer = jenny.post("/api/payment_methods/add", json={})
    assert answer.status_code == 403
    assert answer.json() == {"error": {"code": "feature_disabled", "message":
                                       "Adding a payment method is not set up: "
                                       "features.payment_method_update.add_url is unset."}}


def test_the_openapi_document_lists_the_payment_method_operations(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    assert set(paths["/api/payment_methods/{id}"]) == {"delete"}
    assert set(paths["/api/payment_methods/{id}"]["delete"]["responses"]) >= {"204", "404", "409"}
    assert paths["/api/payment_methods/add"]["post"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "type": "object", "properties": {"url": {"type": "string"}}}
    assert "/api/payment_methods/{id}/default" in paths
    added = paths["/api/payment_methods/added"]["post"]
    assert added["requestBody"]["content"]["application/json"]["schema"]["required"] == ["session"]
    assert "Idempotency-Key" in [parameter["name"] for parameter in added["parameters"]]


def test_a_subscription_that_named_the_removed_method_falls_back_to_the_default(client, outbox, db):
    def name_mc(conn):
        sub = billing.get(conn, "subscriptions", "sub_jenny_pro")
        sub["default_payment_method"] = "pm_jenny_mc"
        billing.upsert(conn, "subscriptions", [sub])

    db.run(name_mc)
    sign_in(client, outbox)
    answer = client.request("DELETE", "/api/payment_methods/pm_jenny_mc", json={})
    assert answer.status_code == 204
    assert db.run(billing.get, "subscriptions", "sub_jenny_pro")["default_payment_method"] is None


# The return from the add-card page (POST /api/payment_methods/added).

def test_the_return_from_the_add_card_page_answers_the_methods_as_they_are(jenny):
    answer = jenny.post("/api/payment_methods/added", json={"session": "anything"})
    assert answer.status_code == 200
    # The local engine learns of a new card from the merchant's next import, so nothing is new yet.
    assert [m["id"] for m in answer.json()["payment_methods"]] == [
        m["id"] for m in jenny.get("/api/portal").json()["payment_methods"]]
    assert answer.json()["added"] == []


def test_the_return_needs_its_session(jenny):
    answer = jenny.post("/api/payment_methods/added", json={})
    assert (answer.status_code, answer.json()["error"]["param"]) == (400, "session")


# The business functions, called without HTTP.

def test_make_default_and_remove_are_business_functions(db, settings):
    customer = act(db, settings, payment_methods.make_default, "pm_jenny_mc")
    assert customer.default_payment_method == "pm_jenny_mc"
    act(db, settings, payment_methods.remove, "pm_jenny_mc")
    assert billing.ref(db.run(billing.get, "payment_methods", "pm_jenny_mc")["customer"]) is None
    assert Customer.of(db.run(billing.get, "customers", "cus_jenny")).default_payment_method == "pm_jenny_visa"
    assert [e["type"] for e in stored_events(db)] == ["customer.updated", "payment_method.detached",
                                                      "customer.updated"]
    with pytest.raises(APIError) as refused:
        act(db, settings, payment_methods.remove, "pm_jenny_visa")
    assert refused.value.code == "last_payment_method"


# A card added through Stripe's Checkout is stored on the customer's return, with Porch's events.

def returned(db, settings, *answers: tuple[int, dict[str, Any]]) -> Customer:
    client, _ = scripted_client(*answers)
    customer, _ = act(db, settings, payment_methods.added, "cs_test_a1", stripe_client=client)
    return customer


def test_a_card_added_in_stripe_is_stored_with_its_event_and_audit_entry_once(db, settings):
    session = completed("cus_jenny")
    method = session["setup_intent"]["payment_method"]
    returned(db, settings, (200, session))
    assert billing.ref(db.run(billing.get, "payment_methods", method["id"], write=False)["customer"]) == "cus_jenny"
    (attached,) = stored_events(db)
    assert attached["type"] == "payment_method.attached"
    assert (attached["data"]["object"]["id"], attached["data"]["object"]["customer"]) == (method["id"], "cus_jenny")
    assert "previous_attributes" not in attached["data"]  # as Stripe's own payment_method.attached
    entry = db.run(lambda conn: conn.execute(sa.select(audit_log)).one(), write=False)
    assert (entry.customer, entry.action, entry.object_id, entry.event) == (
        "cus_jenny", "payment_method.attached", method["id"], attached["id"])
    # The customer comes back with the same session again (a reload): nothing new is added.
    returned(db, settings, (200, session))
    assert [e["id"] for e in stored_events(db)] == [attached["id"]]


def test_a_card_stripe_stored_first_is_still_the_customers_addition(db, settings):
    """Stripe's own payment_method.attached often arrives before the customer does."""
    session = completed("cus_jenny")
    db.run(billing.upsert, "payment_methods", [session["setup_intent"]["payment_method"] | {"customer": "cus_jenny"}])
    returned(db, settings, (200, session))
    assert [e["type"] for e in stored_events(db)] == ["payment_method.attached"]


def test_a_first_card_added_becomes_the_default_with_both_events(db, settings):
    db.run(billing.upsert, "customers", [db.run(billing.get, "customers", "cus_jenny", write=False)
                                         | {"invoice_settings": {"default_payment_method": None}}])
    session = completed("cus_jenny")
    method_id = session["setup_intent"]["payment_method"]["id"]
    now_default = db.run(billing.get, "customers", "cus_jenny", write=False) | {
        "invoice_settings": {"default_payment_method": method_id}}
    customer = returned(db, settings, (200, session), (200, now_default))
    assert customer.default_payment_method == method_id
    attached, updated = stored_events(db)
    assert (attached["type"], updated["type"]) == ("payment_method.attached", "customer.updated")
    assert updated["data"]["previous_attributes"]["invoice_settings"] == {"default_payment_method": None}
