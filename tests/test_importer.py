"""`python -m backend import FILE.json`: upserts of Stripe-shaped objects (SPEC section 5),
safe to re-run, all or nothing, and errors that say what and where."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from backend.importer import ImportFileError, import_file
from backend.store import billing, tables
from backend.store.database import Database, create_engine, migrate

KIND_NAMES = "products, prices, customers, payment_methods, subscriptions, invoices"
EMPTY_LIST = {"object": "list", "data": [], "has_more": False}


@pytest.fixture
def store(settings: Any) -> Iterator[Database]:
    """An empty store: every row in it came from the file under test."""
    engine = create_engine(settings.database_url)
    migrate(engine)
    yield Database(engine)
    engine.dispose()


def objects() -> dict[str, Any]:
    return {
        "products": [{"id": "prod_a", "object": "product", "name": "Plan A", "created": 100}],
        "prices": [{"id": "price_a", "object": "price", "product": "prod_a", "unit_amount": 1000, "currency": "eur"}],
        "customers": [
            {"id": "cus_1", "object": "customer", "email": "Pat@Example.com", "name": "Pat", "phone": "+1 555",
             "created": 200},
            {"id": "cus_2", "object": "customer", "email": None, "name": "No Mail", "created": 300},
        ],
        "payment_methods": [
            {"id": "pm_1", "object": "payment_method", "type": "card", "customer": "cus_1",
             "card": {"brand": "visa", "last4": "4242"}, "created": 210},
        ],
        "subscriptions": [
            {"id": "sub_1", "object": "subscription", "customer": {"id": "cus_1", "object": "customer"},
             "status": "active", "created": 220,
             "items": {"object": "list", "data": [{"id": "si_1", "price": "price_a", "quantity": 1}]}},
        ],
        "invoices": [{"id": "in_1", "object": "invoice", "customer": "cus_1", "total": 1000, "created": 230}],
    }


def write(folder: Path, data: Any, name: str = "data.json") -> Path:
    path = folder / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def rows(store: Database) -> dict[str, list[str]]:
    """Every id in every billing table."""
    def read(conn: sa.Connection) -> dict[str, list[str]]:
        return {
            kind: sorted(conn.execute(sa.select(table.c.id)).scalars())
            for kind, (table, _) in billing.KINDS.items()
        }
    return store.run(read)


def import_error(store: Database, path: Path) -> str:
    with pytest.raises(ImportFileError) as caught:
        import_file(store, path)
    return str(caught.value)


def test_imports_every_kind_and_counts_each(store, tmp_path):
    counts = import_file(store, write(tmp_path, objects())).written
    assert counts == {"products": 1, "prices": 1, "customers": 2, "payment_methods": 1, "subscriptions": 1,
                      "invoices": 1}
    assert list(counts) == KIND_NAMES.split(", ")
    assert rows(store) == {
        "products": ["prod_a"], "prices": ["price_a"], "customers": ["cus_1", "cus_2"],
        "payment_methods": ["pm_1"], "subscriptions": ["sub_1"], "invoices": ["in_1"],
    }
    # Objects are kept whole, in the one shape the rest of Porch reads (backend.stripe_objects).
    assert store.run(billing.get, "customers", "cus_1") == objects()["customers"][0] | {"tax_ids": EMPTY_LIST}
    sub = objects()["subscriptions"][0]
    assert store.run(billing.get, "subscriptions", "sub_1") == sub | {
        "customer": "cus_1", "discounts": [], "pause_collection": None, "items": sub["items"] | {"has_more": False}}


def test_imported_references_and_addresses_are_indexed(store, tmp_path):
    import_file(store, write(tmp_path, objects()))
    assert store.run(billing.customer_for_email, "pat@example.com") == "cus_1"
    # The subscription's customer was an expanded object; its id is what links it.
    assert store.run(billing.owned, "subscriptions", "cus_1", "sub_1") is not None
    assert store.run(billing.owned, "payment_methods", "cus_1", "pm_1") is not None
    assert store.run(billing.owned, "invoices", "cus_1", "in_1") is not None


def test_an_empty_object_imports_nothing(store, tmp_path):
    counts = import_file(store, write(tmp_path, {})).written
    assert counts == dict.fromkeys(KIND_NAMES.split(", "), 0)
    assert all(ids == [] for ids in rows(store).values())


def test_running_the_same_file_again_changes_nothing(store, tmp_path):
    path = write(tmp_path, objects())
    first = import_file(store, path)
    before = rows(store)
    assert import_file(store, path) == first
    assert rows(store) == before
    assert store.run(billing.get, "customers", "cus_1") == objects()["customers"][0] | {"tax_ids": EMPTY_LIST}


def test_a_changed_object_replaces_the_stored_one(store, tmp_path):
    import_file(store, write(tmp_path, objects()))
    changed = objects()
    customer = changed["customers"][0]
    customer.update(name="Pat Smith", email="pat.smith@example.com")
    del customer["phone"]
    changed["subscriptions"][0]["status"] = "canceled"
    changed["invoices"][0]["customer"] = "cus_2"
    import_file(store, write(tmp_path, changed))

    stored = store.run(billing.get, "customers", "cus_1")
    assert stored["name"] == "Pat Smith"
    assert "phone" not in stored  # replaced whole, not merged
    assert store.run(billing.customer_for_email, "pat@example.com") is None
    assert store.run(billing.customer_for_email, "PAT.SMITH@example.com") == "cus_1"
    assert store.run(billing.get, "subscriptions", "sub_1")["status"] == "canceled"
    # The indexed columns follow the object: the invoice now belongs to cus_2 only.
    assert store.run(billing.owned, "invoices", "cus_1", "in_1") is None
    assert store.run(billing.owned, "invoices", "cus_2", "in_1")["customer"] == "cus_2"
    assert rows(store)["customers"] == ["cus_1", "cus_2"]


def test_objects_missing_from_a_later_file_are_kept(store, tmp_path):
    import_file(store, write(tmp_path, objects()))
    counts = import_file(store, write(tmp_path, {"customers": [{"id": "cus_3", "email": "sam@example.com"}]}))
    assert counts.written["customers"] == 1
    assert rows(store)["customers"] == ["cus_1", "cus_2", "cus_3"]
    assert rows(store)["subscriptions"] == ["sub_1"]


def test_stripe_list_objects_are_accepted(store, tmp_path):
    data = {kind: {"object": "list", "data": items, "has_more": False, "url": f"/v1/{kind}"}
            for kind, items in objects().items()}
    assert import_file(store, write(tmp_path, data)) == import_file(store, write(tmp_path, objects(), "plain.json"))
    assert rows(store)["customers"] == ["cus_1", "cus_2"]


def test_an_id_listed_twice_is_one_object_and_the_later_copy_wins(store, tmp_path):
    # Stripe exports fetched page by page can overlap.
    data = {"customers": [{"id": "cus_1", "name": "First"}, {"id": "cus_4"}, {"id": "cus_1", "name": "Second"}]}
    assert import_file(store, write(tmp_path, data)).written["customers"] == 2
    assert rows(store)["customers"] == ["cus_1", "cus_4"]
    assert store.run(billing.get, "customers", "cus_1")["name"] == "Second"


def test_a_file_that_is_not_json_is_refused(store, tmp_path):
    path = write(tmp_path, '{"customers": [}')
    assert import_error(store, path) == f"{path}: not valid JSON: Expecting value: line 1 column 16 (char 15)"


def test_nan_and_infinity_are_refused_as_not_json(store, tmp_path):
    # The API could never send such an object: JSON has no NaN.
    path = write(tmp_path, '{"prices": [{"id": "price_x", "unit_amount": NaN}]}')
    assert import_error(store, path) == f"{path}: not valid JSON: NaN is not allowed in JSON"
    path = write(tmp_path, '{"customers": [{"id": "cus_x", "created": -Infinity}]}')
    assert import_error(store, path) == f"{path}: not valid JSON: -Infinity is not allowed in JSON"


def test_a_file_that_cannot_be_read_is_refused(store, tmp_path):
    path = tmp_path / "missing.json"
    assert import_error(store, path) == f"{path}: cannot read it: No such file or directory"


@pytest.mark.parametrize(("text", "found"), [('"customers"', "str"), ("3", "int"), ("null", "NoneType")])
def test_a_file_that_is_not_an_object_is_refused(store, tmp_path, text, found):
    path = write(tmp_path, text)
    assert import_error(store, path) == (
        f'{path}: expected a JSON object with keys such as "customers", or a list of Stripe objects, found {found}'
    )


def test_an_unknown_key_is_refused_and_the_known_ones_named(store, tmp_path):
    path = write(tmp_path, {"customers": [], "zebras": [], "customer": []})
    assert import_error(store, path) == f"{path}: unknown key 'customer'; use any of: {KIND_NAMES}, plans"


@pytest.mark.parametrize("bad", [{"email": "x@example.com"}, {"id": ""}, {"id": 17}, {"id": None}, "cus_1", None])
def test_an_object_without_a_string_id_is_refused_with_its_place(store, tmp_path, bad):
    path = write(tmp_path, {"customers": [{"id": "cus_1"}, bad]})
    assert import_error(store, path) == f'{path}: customers[1]: each object needs a string "id"'


@pytest.mark.parametrize("value", [{"id": "cus_1"}, {"object": "list"}, {"object": "list", "data": {}}, "cus_1", 3])
def test_a_kind_that_is_not_a_list_is_refused(store, tmp_path, value):
    path = write(tmp_path, {"customers": value})
    assert import_error(store, path) == f"{path}: customers: expected a list of objects"


def test_a_subscription_without_a_status_is_refused(store, tmp_path):
    path = write(tmp_path, {"subscriptions": [{"id": "sub_9", "customer": "cus_1"}]})
    assert import_error(store, path) == f'{path}: subscriptions[0]: subscription sub_9 needs a "status"'


@pytest.mark.parametrize("created", ["yesterday", {"seconds": 1}, [1], 10**30])
def test_a_created_time_that_is_not_unix_seconds_is_refused(store, tmp_path, created):
    path = write(tmp_path, {"customers": [{"id": "cus_9", "created": created}]})
    assert import_error(store, path) == (
        f'{path}: customers[0]: customer cus_9 needs "created" as Unix seconds, such as 1700000000'
    )


@pytest.mark.parametrize(("kind", "field", "value"), [
    ("subscriptions", "customer", ["cus_1"]),
    ("invoices", "customer", 42),
    ("payment_methods", "customer", {"id": 42}),
    ("prices", "product", ["prod_a"]),
])
def test_a_reference_that_is_not_an_id_is_refused(store, tmp_path, kind, field, value):
    obj = {"id": "obj_9", field: value} | ({"status": "active"} if kind == "subscriptions" else {})
    path = write(tmp_path, {kind: [obj]})
    singular = billing.KINDS[kind][1]
    assert import_error(store, path) == (
        f'{path}: {kind}[0]: {singular} obj_9 needs "{field}" as an id, or an object with an "id"'
    )


@pytest.mark.parametrize("field", ["hosted_invoice_url", "invoice_pdf"])
@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>",
                                 "http://pay.example/in_9", "//pay.example/in_9", 42])
def test_an_invoice_link_must_be_https(store, tmp_path, field, url):
    """The portal links to these from its pages: another scheme could run script there."""
    path = write(tmp_path, {"invoices": [{"id": "in_9", "customer": "cus_1", field: url}]})
    assert import_error(store, path) == f'{path}: invoices[0]: invoice in_9 needs "{field}" as an https:// URL, or null'


def test_https_invoice_links_and_missing_ones_are_imported(store, tmp_path):
    links = {"hosted_invoice_url": "https://invoice.stripe.com/i/acct_1/in_1", "invoice_pdf": None}
    data = objects()
    data["invoices"][0] |= links
    data["invoices"].append({"id": "in_2", "customer": "cus_1"})
    import_file(store, write(tmp_path, data))
    assert {key: store.run(billing.get, "invoices", "in_1")[key] for key in links} == links


def test_a_failing_file_writes_nothing(store, tmp_path):
    data = objects()
    del data["subscriptions"][0]["status"]  # refused after products, prices and customers were written
    message = import_error(store, write(tmp_path, data))
    assert message.endswith('subscriptions[0]: subscription sub_1 needs a "status"')
    assert all(ids == [] for ids in rows(store).values())


def test_a_failing_file_leaves_earlier_imports_as_they_were(store, tmp_path):
    import_file(store, write(tmp_path, objects()))
    before = rows(store)
    data = objects()
    data["customers"][0]["name"] = "Changed"
    data["customers"].append({"id": "cus_new"})
    data["invoices"].append({"id": "in_bad", "customer": "cus_1", "created": "last week"})
    import_error(store, write(tmp_path, data, "bad.json"))
    assert rows(store) == before
    assert store.run(billing.get, "customers", "cus_1")["name"] == "Pat"


# The shapes of a file beyond the keyed one: Stripe's own list output, search results, one object.

def mixed() -> list[dict[str, Any]]:
    return [obj for kind in KIND_NAMES.split(", ") for obj in objects()[kind]]


@pytest.mark.parametrize("shape", ["list", "search_result", "array"])
def test_stripe_list_output_of_mixed_objects_is_routed_by_each_objects_kind(store, tmp_path, shape):
    data: Any = mixed() if shape == "array" else {"object": shape, "data": mixed(), "has_more": False,
                                                  "url": "/v1/customers/search"}
    assert import_file(store, write(tmp_path, data)).written == {
        "products": 1, "prices": 1, "customers": 2, "payment_methods": 1, "subscriptions": 1, "invoices": 1}
    assert rows(store)["subscriptions"] == ["sub_1"]


def test_one_object_alone_is_a_file(store, tmp_path):
    customer = objects()["customers"][0]
    assert import_file(store, write(tmp_path, customer)).written["customers"] == 1
    assert store.run(billing.get, "customers", "cus_1")["email"] == "Pat@Example.com"


@pytest.mark.parametrize(("data", "where", "name"), [
    ({"customers": {"object": "list", "data": [], "has_more": True}}, "customers: ", "customers"),
    ({"payment_methods": {"object": "search_result", "data": [], "has_more": True}}, "payment_methods: ",
     "payment_methods"),
    ({"object": "list", "data": [], "has_more": True}, "", "customers"),
])
def test_a_page_of_many_is_refused_saying_how_to_export_every_page(store, tmp_path, data, where, name):
    path = write(tmp_path, data)
    message = import_error(store, path)
    assert message.startswith(f'{path}: {where}this list is one page of many ("has_more": true). Export every page: '
                              f"with the Stripe CLI, run `stripe {name} list --limit 100`, then again with "
                              "`--starting-after` set to the id of the last object")
    assert "auto_paging_iter()" in message


def test_an_object_under_the_key_of_another_kind_is_refused(store, tmp_path):
    data = objects()
    data["customers"].append(data["invoices"][0])
    path = write(tmp_path, data)
    assert import_error(store, path) == (
        f'{path}: customers[2]: invoice in_1 does not belong under "customers"; list it under "invoices"')
    path = write(tmp_path, {"prices": [objects()["payment_methods"][0]]})
    assert import_error(store, path) == (
        f'{path}: prices[0]: payment_method pm_1 does not belong under "prices"; list it under "payment_methods"')
    assert rows(store)["customers"] == []


def test_plans_are_prices(store, tmp_path):
    plan = {"id": "gold", "object": "plan", "amount": 1500, "currency": "eur", "interval": "month",
            "interval_count": 1, "product": "prod_a", "nickname": "Gold"}
    assert import_file(store, write(tmp_path, {"plans": [plan], "prices": [dict(plan)]})).written["prices"] == 1
    stored = store.run(billing.get, "prices", "gold")
    assert (stored["object"], stored["unit_amount"], stored["recurring"]) == (
        "price", 1500, {"interval": "month", "interval_count": 1})


@pytest.mark.parametrize("found", ["charge", None])
def test_an_object_porch_does_not_store_is_refused_naming_what_it_stores(store, tmp_path, found):
    path = write(tmp_path, [{"id": "ch_1", "object": found}])
    named = f'"object": "{found}"' if found else 'no "object"'
    assert import_error(store, path) == (
        f"{path}: [0]: ch_1 has {named}; Porch imports these: product, price, plan, customer, payment_method, "
        "subscription, invoice")


def test_expanded_objects_are_stored_as_their_own_kind_and_referenced_by_id(store, tmp_path):
    data = objects()
    customer = data["customers"].pop(0)
    card = data["payment_methods"].pop(0)
    data["subscriptions"][0] |= {"customer": customer, "default_payment_method": card}
    import_file(store, write(tmp_path, data))
    assert rows(store)["customers"] == ["cus_1", "cus_2"] and rows(store)["payment_methods"] == ["pm_1"]
    sub = store.run(billing.get, "subscriptions", "sub_1")
    assert (sub["customer"], sub["default_payment_method"]) == ("cus_1", "pm_1")
    assert store.run(billing.owned, "subscriptions", "cus_1", "sub_1") is not None


# Deleted objects: Stripe's {"id", "object", "deleted": true}.

def sessions_of(store: Database, customer: str) -> int:
    return len(store.run(lambda conn: conn.execute(
        sa.select(tables.sessions.c.token_hash).where(tables.sessions.c.customer == customer)).all()))


def test_a_deleted_customer_takes_what_only_it_owned(store, tmp_path):
    import_file(store, write(tmp_path, objects()))
    store.run(lambda conn: conn.execute(tables.sessions.insert(), {
        "token_hash": "t" * 64, "customer": "cus_1", "created": 1, "last_seen": 1, "revoked": False}))
    store.run(lambda conn: conn.execute(tables.prorations.insert(), {
        "subscription": "sub_1", "at": 1, "amount": -100, "kind": "balance"}))
    imported = import_file(store, write(tmp_path, [{"id": "cus_1", "object": "customer", "deleted": True}]))
    assert imported.removed == {"products": 0, "prices": 0, "customers": 1, "payment_methods": 1,
                                "subscriptions": 1, "invoices": 1}
    assert rows(store) == {"products": ["prod_a"], "prices": ["price_a"], "customers": ["cus_2"],
                           "payment_methods": [], "subscriptions": [], "invoices": []}
    assert sessions_of(store, "cus_1") == 0
    assert store.run(lambda conn: conn.execute(sa.select(tables.prorations)).all()) == []
    assert store.run(billing.customer_for_email, "pat@example.com") is None


def test_a_deleted_product_keeps_its_prices_and_a_deleted_invoice_goes(store, tmp_path):
    import_file(store, write(tmp_path, objects()))
    import_file(store, write(tmp_path, {"products": [{"id": "prod_a", "object": "product", "deleted": True}],
                                        "invoices": [{"id": "in_1", "object": "invoice", "deleted": True}]}))
    assert rows(store)["products"] == [] and rows(store)["invoices"] == []
    assert rows(store)["prices"] == ["price_a"] and rows(store)["subscriptions"] == ["sub_1"]


def test_deleting_an_object_the_store_never_had_removes_nothing(store, tmp_path):
    imported = import_file(store, write(tmp_path, [{"id": "cus_9", "object": "customer", "deleted": True}]))
    assert imported.removed == dict.fromkeys(KIND_NAMES.split(", "), 0)
