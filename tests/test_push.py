"""POST /v1/import (SPEC sections 10 and 11): the import file's objects pushed live, with the file's
reader and checks, all or nothing, deletions included; form-encoded as Stripe's SDKs send them or JSON.
Stripe's official SDK, unmodified, is the client against a real server; the rest runs in-process."""

from __future__ import annotations

import copy
import json
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
import stripe
from helpers import NOW, SECRET, with_config
from starlette.testclient import TestClient
from stripe._encode import _api_encode

from backend import api_keys, importer, stripe_objects
from backend import push as push_module
from backend.store import billing
from backend.store.tables import customers, products

PATH = "/v1/import"
EXAMPLES = json.loads((Path(__file__).parent / "stripe_examples.json").read_text(encoding="utf-8"))
# Stripe's own example of each kind Porch imports, as Stripe's API answers them.
STRIPE_OBJECTS = {"products": [EXAMPLES["product"]], "prices": [EXAMPLES["price"]],
                  "customers": [EXAMPLES["customer"]], "payment_methods": [EXAMPLES["payment_method"]],
                  "subscriptions": [EXAMPLES["subscription"]], "invoices": [EXAMPLES["invoice"]]}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
PUSH = {
    "products": [{"id": "prod_push", "object": "product", "name": "Pushed", "active": True, "created": NOW,
                  "metadata": {"created": "42", "active": "true"}}],
    "prices": [{"id": "price_push", "object": "price", "product": "prod_push", "currency": "eur", "unit_amount": 1250,
                "recurring": {"interval": "month", "interval_count": 1}, "livemode": False}],
    "customers": [{"id": "cus_push", "object": "customer", "email": "pat@example.com", "name": "007",
                   "address": {"postal_code": "01234", "country": "DE"}, "balance": -500}],
}


@pytest.fixture
def key(db) -> str:
    return db.run(api_keys.create, SECRET, "tests", NOW)[1]


def sdk_form(params: dict[str, Any]) -> str:
    """The body Stripe's SDK sends for these parameters."""
    return urlencode(list(_api_encode(params))).replace("%5B", "[").replace("%5D", "]")


def push(client: TestClient, key: str, params: Any, form: bool = True) -> Any:
    auth = {"Authorization": f"Bearer {key}"}
    if form:
        return client.post(PATH, content=sdk_form(params), headers={**auth, **FORM})
    return client.post(PATH, json=params, headers=auth)


def stored(db, kind: str, object_id: str) -> dict[str, Any] | None:
    return db.run(billing.get, kind, object_id, write=False)


def without_empties(value: Any) -> Any:
    """A form cannot say null, [] or {}: Stripe's SDK leaves such values out, so they are compared without."""
    if isinstance(value, dict):
        kept = {k: without_empties(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [without_empties(v) for v in value]
    return value


@pytest.mark.parametrize("form", [True, False], ids=["form", "json"])
def test_a_push_stores_the_objects_and_answers_the_counts(client, db, key, form):
    answer = push(client, key, PUSH, form)
    assert answer.status_code == 200, answer.text
    counts = dict.fromkeys(billing.KINDS, 0)
    assert answer.json() == {"object": "import", "written": counts | {"products": 1, "prices": 1, "customers": 1},
                             "removed": counts}
    price = stored(db, "prices", "price_push")
    assert price["unit_amount"] == 1250 and price["recurring"]["interval_count"] == 1 and price["livemode"] is False
    customer = stored(db, "customers", "cus_push")
    # Text stays text: a name or a postal code of digits is not a number, whatever a form makes of it.
    assert customer["name"] == "007" and customer["address"]["postal_code"] == "01234"
    assert customer["balance"] == -500
    assert stored(db, "products", "prod_push")["metadata"] == {"created": "42", "active": "true"}


def test_stripes_own_objects_pushed_as_a_form_are_stored_as_the_same_objects_pushed_as_json(client, db, key):
    assert push(client, key, STRIPE_OBJECTS, form=True).status_code == 200
    from_form = {kind: stored(db, kind, objects[0]["id"]) for kind, objects in STRIPE_OBJECTS.items()}
    assert push(client, key, STRIPE_OBJECTS, form=False).status_code == 200
    from_json = {kind: stored(db, kind, objects[0]["id"]) for kind, objects in STRIPE_OBJECTS.items()}
    assert without_empties(from_form) == without_empties(from_json)


def test_a_push_is_read_and_checked_as_the_import_file_is(client, db, key, tmp_path):
    """The same objects through `python -m backend import` and through the API store the same rows."""
    answer = push(client, key, STRIPE_OBJECTS, form=False)
    pushed = {kind: stored(db, kind, objects[0]["id"]) for kind, objects in STRIPE_OBJECTS.items()}
    path = tmp_path / "data.json"
    path.write_text(json.dumps(STRIPE_OBJECTS))
    imported = importer.import_file(db, path)
    assert answer.json()["written"] == imported.written
    assert {kind: stored(db, kind, objects[0]["id"]) for kind, objects in STRIPE_OBJECTS.items()} == pushed


def test_a_deleted_object_is_removed(client, db, key):
    push(client, key, PUSH)
    answer = push(client, key, {"customers": [{"id": "cus_push", "object": "customer", "deleted": True}]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["removed"]["customers"] == 1
    assert stored(db, "customers", "cus_push") is None


def count(db, table: sa.Table) -> int:
    return db.run(lambda conn: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar(), write=False)


@pytest.mark.parametrize("form", [True, False], ids=["form", "json"])
def test_one_bad_object_refuses_the_whole_push_naming_it(client, db, key, form):
    before = (count(db, customers), count(db, products))
    bad = copy.deepcopy(PUSH)
    bad["customers"].append({"id": "cus_bad", "object": "price"})
    answer = push(client, key, bad, form)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "invalid_import"
    assert error["param"] == "customers[1]"
    assert "cus_bad" in error["message"]
    assert (count(db, customers), count(db, products)) == before
    assert stored(db, "products", "prod_push") is None


SUBSCRIPTION = {"id": "sub_x", "object": "subscription", "customer": "cus_push", "status": "active",
                "current_period_end": NOW, "items": {"object": "list", "data": []}}


@pytest.mark.parametrize("form", [True, False], ids=["form", "json"])
def test_a_field_the_store_relies_on_is_checked_as_in_a_file(client, db, key, form):
    error = push(client, key, {"subscriptions": [SUBSCRIPTION | {"current_period_end": "soon"}]}, form).json()["error"]
    assert error["param"] == "subscriptions[0]" and "current_period_end" in error["message"]


def test_an_empty_list_object_survives_the_form_that_cannot_say_it(client, db, key):
    assert push(client, key, {"subscriptions": [SUBSCRIPTION]}).status_code == 200
    assert stored(db, "subscriptions", "sub_x")["items"]["data"] == []


def test_with_billing_engine_stripe_a_push_is_refused(settings, clock, db, key):
    stripe_settings = replace(settings, stripe_secret_key="sk_test_x", stripe_webhook_secret="whsec_x")
    app = with_config(stripe_settings, "business: {name: Acme}\nbilling: {engine: stripe}\n", clock)
    with TestClient(app, base_url="http://localhost") as client:
        answer = push(client, key, PUSH)
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "import_disabled"
    assert "Stripe" in answer.json()["error"]["message"]
    assert stored(db, "products", "prod_push") is None


@pytest.fixture
def porch(live_server_with) -> str:
    return live_server_with("business: {name: Acme}\n").url


def test_stripes_sdk_pushes_objects_with_its_own_encoding_and_auth(porch, db, key):
    client = stripe.StripeClient(key, base_addresses={"api": porch}, max_network_retries=0)
    answer = client.raw_request("post", PATH, **copy.deepcopy(STRIPE_OBJECTS))
    parsed = client.deserialize(answer, api_mode="V1")
    assert parsed["object"] == "import" and parsed["written"]["subscriptions"] == 1
    assert stored(db, "subscriptions", EXAMPLES["subscription"]["id"])["items"]["data"][0]["quantity"] == 1


def test_stripes_sdk_raises_its_own_errors_for_porchs_refusals(porch, db, key):
    client = stripe.StripeClient(key, base_addresses={"api": porch}, max_network_retries=0)
    with pytest.raises(stripe.InvalidRequestError) as invalid:
        client.raw_request("post", PATH, customers=[{"id": "cus_a", "object": "customer"}], nonsense="1")
    assert invalid.value.param == "nonsense" and invalid.value.code == "parameter_unknown"
    wrong = stripe.StripeClient("sk_porch_wrong", base_addresses={"api": porch}, max_network_retries=0)
    with pytest.raises(stripe.AuthenticationError):
        wrong.raw_request("post", PATH, customers=[])
    for _ in range(api_keys.LIMITS[0].count):
        with pytest.raises(stripe.StripeError):
            wrong.raw_request("post", PATH)
    with pytest.raises(stripe.RateLimitError):
        client.raw_request("post", PATH)


@pytest.mark.parametrize("form", [True, False], ids=["form", "json"])
def test_a_few_thousand_objects_fit_in_one_push(client, db, key, form):
    many = {"customers": [{"id": f"cus_many_{n}", "object": "customer", "email": f"c{n}@example.com",
                           "name": f"Customer {n}", "created": NOW + n, "balance": 0} for n in range(3000)]}
    answer = push(client, key, many, form)
    assert answer.status_code == 200, answer.text[:300]
    assert answer.json()["written"]["customers"] == 3000
    assert stored(db, "customers", "cus_many_2999")["created"] == NOW + 2999


def test_a_push_locks_every_customer_it_changes(db):
    batch = stripe_objects.read_file({
        "customers": [{"id": "cus_new", "object": "customer"}],
        "subscriptions": [{"id": "sub_new", "object": "subscription", "customer": {"id": "cus_owner", "object": "customer"},
                           "status": "active", "items": {"object": "list", "data": []}}],
        "payment_methods": [{"id": "pm_jenny_visa", "object": "payment_method", "deleted": True}],
    })
    found = db.run(push_module.customers_of, batch, write=False)
    assert found == {"cus_new", "cus_owner", "cus_jenny"}


def test_a_push_waits_for_a_customers_change_in_flight(client, db, key):
    """A change in the portal holds its customer's lock (idempotency.apply); a push for that customer
    lands after it, not in its middle. On SQLite writes are serial anyway: PostgreSQL shows the wait."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writing transaction at a time")
    assert push(client, key, PUSH).status_code == 200
    renamed = {"customers": [PUSH["customers"][0] | {"name": "Renamed"}]}
    answers: list[Any] = []
    with db.engine.connect() as change, change.begin():
        billing.lock_customer(change, "cus_push")
        pusher = threading.Thread(target=lambda: answers.append(push(client, key, renamed)))
        pusher.start()
        deadline = time.monotonic() + 15
        waiting = sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        with db.engine.connect() as watcher:
            while not watcher.execute(waiting).scalar():
                assert time.monotonic() < deadline, "the push never asked for the customer's lock"
                watcher.rollback()
                time.sleep(0.01)
        assert stored(db, "customers", "cus_push")["name"] == "007"
    pusher.join(timeout=15)
    assert answers[0].status_code == 200, answers[0].text
    assert stored(db, "customers", "cus_push")["name"] == "Renamed"
