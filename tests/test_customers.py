"""PATCH /api/customer: billing details checked and normalised, each refusal naming its field,
tax ids replaced as a list, one customer.updated event per change."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import sqlalchemy as sa
from business_helpers import act
from helpers import Outbox, sign_in, with_config
from starlette.testclient import TestClient

from backend import customers
from backend.errors import APIError
from backend.store import billing
from backend.store.tables import audit_log, events

US = {"line1": "354 Oyster Point Blvd", "city": "South San Francisco", "state": "ca", "postal_code": "94080",
      "country": "us"}


@pytest.fixture
def jenny(client, outbox):
    sign_in(client, outbox)
    return client


def stored_events(db) -> list[dict[str, Any]]:
    return [json.loads(row.data) for row in
            db.run(lambda conn: conn.execute(sa.select(events).order_by(events.c.created)).all(), write=False)]


def customer(db) -> dict[str, Any]:
    return db.run(billing.get, "customers", "cus_jenny", write=False)


def refused(answer, code: str, param: str, message: str, example: str | None = None) -> None:
    """Refused naming the field and, where the message gives one, the example on its own for pages in other languages."""
    assert answer.status_code == 400, answer.text
    assert answer.json() == {"error": {"code": code, "message": message, "param": param} | ({"example": example} if example else {})}


def test_an_address_is_stored_normalised_with_one_event(jenny, db):
    answer = jenny.patch("/api/customer", json={"address": US | {"line1": "  354 Oyster Point Blvd "}})
    assert answer.status_code == 200
    expected = {"line1": "354 Oyster Point Blvd", "line2": None, "city": "South San Francisco", "state": "CA",
                "postal_code": "94080", "country": "US"}
    # The browser also gets the lines to show, in the country's order; the store keeps Stripe's six keys.
    assert answer.json()["customer"]["address"] == expected | {"lines": ["354 Oyster Point Blvd",
                                                                         "South San Francisco, CA 94080"]}
    assert customer(db)["address"] == expected
    (event,) = stored_events(db)
    assert event["type"] == "customer.updated"
    assert event["data"]["object"]["address"] == expected
    assert event["data"]["previous_attributes"] == {"address": {
        "line1": "Friedrichstraße 12", "line2": None, "city": "Berlin", "state": None, "postal_code": "10117",
        "country": "DE"}}


def test_shipping_is_checked_like_the_billing_address(jenny, db):
    answer = jenny.patch("/api/customer", json={"shipping": {"name": " Jenny  Rosen ", "phone": "+1 415 555 0100",
                                                               "address": US | {"state": "California"}}})
    assert answer.status_code == 200
    shipping = answer.json()["customer"]["shipping"]
    assert shipping["name"] == "Jenny Rosen" and shipping["phone"] == "+14155550100"
    assert shipping["address"]["state"] == "CA" and shipping["address"]["country"] == "US"


@pytest.mark.parametrize("body, param, message, example", [
    ({"address": US | {"postal_code": "9408"}}, "address.postal_code", "Enter a postal code such as 90000.", "90000"),
    ({"address": US | {"state": "ny"}}, "address.postal_code", "Enter a postal code such as 10000.", "10000"),
    ({"address": US | {"state": None}}, "address.state", "Enter a state or province such as AL.", "AL"),
    ({"address": {"line1": "丸の内1-1", "city": "千代田区", "state": "Tokio", "postal_code": "100-0001", "country": "JP"}},
     "address.state", "Enter a state or province such as Hokkaido.", "Hokkaido"),
    ({"address": {"line1": "Friedrichstraße 12", "city": "Berlin", "postal_code": "1011", "country": "DE"}},
     "address.postal_code", "Enter a postal code such as 26133.", "26133"),
    ({"address": US | {"country": "XX"}}, "address.country", "Choose a country from the list.", None),
    ({"address": {"line1": "1 Main St", "city": "Berlin", "postal_code": "10117"}}, "address.country",
     "Choose a country.", None),
    ({"address": US | {"line1": ""}}, "address.line1", "Enter the street address.", None),
    ({"address": US | {"city": " "}}, "address.city", "Enter a town or city.", None),
    ({"shipping": {"name": "J", "address": US | {"country": "CA", "state": "ON", "postal_code": "12345"}}},
     "shipping.address.postal_code", "Enter a postal code such as H3Z 2Y7.", "H3Z 2Y7"),
    ({"shipping": {"name": "  ", "address": US}}, "shipping.name",
     "Enter the name of the person who receives deliveries.", None),
])
def test_a_wrong_address_is_refused_naming_the_field(jenny, db, body, param, message, example):
    refused(jenny.patch("/api/customer", json=body), "invalid_address", param, message, example)
    assert customer(db)["address"]["city"] == "Berlin"
    assert stored_events(db) == []


@pytest.mark.parametrize("body, param, message, example", [
    # Jenny's address on file is in Germany: a number without + is read as a German one.
    ({"phone": "call me"}, "phone", "Enter a phone number such as +49 30 123456.", "+49 30 123456"),
    ({"phone": "12345"}, "phone", "Enter a phone number such as +49 30 123456.", "+49 30 123456"),
    # Sent with a new address, the number is read in that address's country.
    ({"phone": "12345", "address": US}, "phone", "Enter a phone number such as +1 201-555-0123.", "+1 201-555-0123"),
    ({"shipping": {"name": "J", "phone": "555", "address": US}}, "shipping.phone",
     "Enter a phone number such as +1 201-555-0123.", "+1 201-555-0123"),
])
def test_a_wrong_phone_number_is_refused_naming_the_field(jenny, db, body, param, message, example):
    refused(jenny.patch("/api/customer", json=body), "invalid_phone", param, message, example)
    assert customer(db)["phone"] == "+49 30 1234567"


@pytest.mark.parametrize("body, stored", [
    ({"phone": "030 7654321"}, "+49307654321"),
    ({"phone": "+44 20 7946 0018"}, "+442079460018"),
    ({"phone": "(415) 555-0100", "address": US}, "+14155550100"),
    ({"phone": "03-1234-5678", "address": {"line1": "丸の内1-1", "city": "千代田区", "state": "東京都",
                                           "postal_code": "100-0001", "country": "JP"}}, "+81312345678"),
])
def test_a_phone_number_is_stored_in_e164_read_in_the_addresss_country(jenny, db, body, stored):
    assert jenny.patch("/api/customer", json=body).json()["customer"]["phone"] == stored
    assert customer(db)["phone"] == stored


@pytest.mark.parametrize("address, lines", [
    ({"line1": "丸の内1-1", "city": "千代田区", "state": "東京都", "postal_code": "1000001", "country": "JP"},
     ["〒1000001", "東京都", "千代田区", "丸の内1-1"]),
    ({"line1": "Av. Paulista, 1578", "city": "São Paulo", "state": "são paulo", "postal_code": "01310-200",
      "country": "BR"}, ["Av. Paulista, 1578", "São Paulo-SP", "01310-200"]),
    ({"line1": "1 Raffles Place", "city": "Singapore", "postal_code": "048616", "country": "SG"},
     ["1 Raffles Place", "SINGAPORE 048616"]),
])
def test_addresses_of_other_countries_come_back_with_their_lines(jenny, db, address, lines):
    answer = jenny.patch("/api/customer", json={"address": address, "shipping": {"name": "Jenny", "address": address}})
    assert answer.status_code == 200, answer.text
    shown = answer.json()["customer"]
    assert shown["address"]["lines"] == shown["shipping"]["address"]["lines"] == lines
    assert "lines" not in customer(db)["address"]
    assert "lines" not in stored_events(db)[0]["data"]["object"]["address"]
    assert jenny.get("/api/portal").json()["customer"]["address"]["lines"] == lines


def test_an_empty_phone_number_removes_it(jenny, db):
    assert jenny.patch("/api/customer", json={"phone": " "}).json()["customer"]["phone"] is None
    assert stored_events(db)[0]["data"]["previous_attributes"] == {"phone": "+49 30 1234567"}


def test_a_lower_case_country_is_stored_upper_case(jenny):
    address = {"line1": "Friedrichstraße 12", "city": "Berlin", "postal_code": "10117", "country": "de"}
    assert jenny.patch("/api/customer", json={"address": address}).json()["customer"]["address"]["country"] == "DE"


def test_null_removes_an_address(jenny, db):
    assert jenny.patch("/api/customer", json={"address": None, "shipping": None}).status_code == 200
    assert customer(db)["address"] is None and customer(db)["shipping"] is None


TXI = re.compile(r"^txi_[0-9a-f]{24}$")
# Five real tax ids of five types, from python-stdnum's examples.
FIVE = [{"type": "eu_vat", "value": "DE136695976"}, {"type": "gb_vat", "value": "GB980780684"},
        {"type": "au_abn", "value": "83914571673"}, {"type": "us_ein", "value": "91-1144442"},
        {"type": "br_cnpj", "value": "16727230000197"}]


def test_tax_ids_replace_the_list_in_stripes_shape(jenny, db):
    answer = jenny.patch("/api/customer", json={"tax_ids": [
        {"type": "eu_vat", "value": "DE123456789"}, {"type": "gb_vat", "value": "980 7806 84"},
        {"type": "au_abn", "value": "51824753556"},
    ]})
    assert answer.status_code == 200
    listed = answer.json()["customer"]["tax_ids"]
    assert listed["object"] == "list"
    kept, gb, au = listed["data"]
    # The one already on file keeps its id.
    assert kept == {"id": "txi_jenny", "object": "tax_id", "type": "eu_vat", "value": "DE123456789"}
    assert TXI.match(gb["id"]) and TXI.match(au["id"]) and gb["id"] != au["id"]
    assert {k: v for k, v in gb.items() if k != "id"} == {"object": "tax_id", "type": "gb_vat", "value": "GB980780684",
                                                          "country": "GB"}
    assert (au["value"], au["country"]) == ("51 824 753 556", "AU")
    assert customer(db)["tax_ids"] == listed
    (event,) = stored_events(db)
    assert event["data"]["previous_attributes"] == {"tax_ids": {"object": "list", "data": [
        {"id": "txi_jenny", "object": "tax_id", "type": "eu_vat", "value": "DE123456789"}]}}
    assert event["data"]["object"]["tax_ids"] == listed


@pytest.mark.parametrize("empty", [[], None])
def test_an_empty_list_removes_every_tax_id(jenny, db, empty):
    answer = jenny.patch("/api/customer", json={"tax_ids": empty})
    assert answer.json()["customer"]["tax_ids"] == {"object": "list", "data": []}


def test_a_tax_id_on_file_is_kept_when_sent_back_even_if_it_would_not_pass_now(jenny, db):
    """Jenny's imported DE123456789 fails stdnum's check digits: unchanged it stays, changed it is checked."""
    answer = jenny.patch("/api/customer", json={"tax_ids": [{"type": "eu_vat", "value": "DE123456789"},
                                                            {"type": "ca_pst_bc", "value": "PST-1234-5678"}]})
    assert answer.status_code == 200
    kept, pst = answer.json()["customer"]["tax_ids"]["data"]
    assert kept["id"] == "txi_jenny" and (pst["value"], pst["country"]) == ("PST-1234-5678", "CA")
    refused(jenny.patch("/api/customer", json={"tax_ids": [{"type": "eu_vat", "value": "DE 123456789"}]}),
            "invalid_tax_id", "tax_ids[0].value", "This tax ID is not valid. Check it and try again.")


@pytest.mark.parametrize("tax_ids, code, param, message, example", [
    ([{"type": "eu_vat", "value": "DE123456789"}, {"type": "eu_vat", "value": "FR12345"}], "invalid_tax_id",
     "tax_ids[1].value", "Enter the tax ID in this form: FR40303265045.", "FR40303265045"),
    ([{"type": "vat", "value": "DE123456789"}], "invalid_tax_id", "tax_ids[0].type", "Choose a tax ID type from the list.", None),
    ([{"type": "au_abn", "value": "51824753557"}], "invalid_tax_id", "tax_ids[0].value",
     "This tax ID is not valid. Check it and try again.", None),
    ([{"type": "gb_vat", "value": "GB980780684"}, {"type": "gb_vat", "value": "980 7806 84"}], "duplicate_tax_id",
     "tax_ids[1].value", "This tax ID is already in the list.", None),
    ([*FIVE, {"type": "ca_bn", "value": "123026635"}], "invalid_tax_id", "tax_ids",
     "You can add up to 5 tax IDs.", None),
])
def test_a_wrong_tax_id_is_refused_naming_the_field(jenny, db, tax_ids, code, param, message, example):
    refused(jenny.patch("/api/customer", json={"tax_ids": tax_ids}), code, param, message, example)
    assert [t["id"] for t in customer(db)["tax_ids"]["data"]] == ["txi_jenny"]
    assert stored_events(db) == []


def test_five_tax_ids_are_allowed(jenny):
    tax_ids = FIVE
    assert len(jenny.patch("/api/customer", json={"tax_ids": tax_ids}).json()["customer"]["tax_ids"]["data"]) == 5


def test_a_malformed_tax_id_entry_is_a_bad_request(jenny):
    for entry in ({"type": "eu_vat"}, {"type": "eu_vat", "value": "DE123456789", "id": "txi_jenny"}):
        answer = jenny.patch("/api/customer", json={"tax_ids": [entry]})
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "invalid_request"


def test_tax_ids_need_tax_id_in_allowed_updates(settings, clock, db):
    app = with_config(settings, "features: {customer_update: {allowed_updates: [name, address]}}", clock)
    with TestClient(app, base_url="http://localhost") as client:
        sign_in(client, Outbox(client, settings.outbox_dir))
        answer = client.patch("/api/customer", json={"tax_ids": []})
        assert answer.status_code == 403
        assert answer.json() == {"error": {"code": "feature_disabled", "message": "Changing 'tax_ids' is not allowed."}}
        assert client.patch("/api/customer", json={"name": "Jenny R."}).status_code == 200


def test_customer_update_off_is_refused_by_the_server(settings, clock, db):
    app = with_config(settings, "features: {customer_update: {enabled: false}}", clock)
    with TestClient(app, base_url="http://localhost") as client:
        sign_in(client, Outbox(client, settings.outbox_dir))
        answer = client.patch("/api/customer", json={"address": US})
        assert answer.status_code == 403
        assert answer.json() == {"error": {"code": "feature_disabled",
                                           "message": "Updating billing details is switched off."}}
    assert stored_events(db) == []


def test_a_repeat_with_the_same_key_writes_one_event_and_answers_the_same_ids(jenny, db):
    body = {"tax_ids": [{"type": "us_ein", "value": "911144442"}], "address": US}
    first = jenny.patch("/api/customer", json=body, headers={"Idempotency-Key": "details-1"})
    again = jenny.patch("/api/customer", json=body, headers={"Idempotency-Key": "details-1"})
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert len(stored_events(db)) == 1
    assert customer(db)["tax_ids"] == first.json()["customer"]["tax_ids"]


def test_each_change_is_in_the_audit_log(jenny, db):
    jenny.patch("/api/customer", json={"phone": "+49 30 7654321"})
    (entry,) = db.run(lambda conn: conn.execute(sa.select(audit_log)).all(), write=False)
    assert (entry.customer, entry.action, entry.object_id) == ("cus_jenny", "customer.updated", "cus_jenny")
    assert json.loads(entry.detail) == {"phone": "+49 30 1234567"}


def test_the_openapi_document_lists_the_tax_id_fields(client):
    schema = client.get("/api/openapi.json").json()
    body = schema["paths"]["/api/customer"]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["tax_ids"]["maxItems"] == 5
    assert set(schema["components"]["schemas"]["TaxId"]["properties"]) == {"type", "value"}


# The business function, called without HTTP.

def test_update_is_a_business_function_and_the_engine_gives_new_tax_ids_their_id(db, settings):
    config = "features: {customer_update: {allowed_updates: [name, tax_id]}}"
    customer = act(db, settings, customers.update, {"name": "  Jenny R.", "tax_ids": [
        {"type": "eu_vat", "value": "DE123456789"}]}, config=config)
    (tax_id,) = customer.data["tax_ids"]["data"]
    assert tax_id["id"].startswith("txi_") and tax_id["value"] == "DE123456789"
    assert db.run(billing.get, "customers", "cus_jenny")["tax_ids"] == customer.data["tax_ids"]
    with pytest.raises(APIError) as refused:
        act(db, settings, customers.update, {"phone": "+49 30 1234567"}, config=config)
    assert (refused.value.status, refused.value.code) == (403, "feature_disabled")
    with pytest.raises(APIError) as locked:
        act(db, settings, customers.update, {"email": "x@example.com"}, config=config)
    assert locked.value.code == "email_locked"
