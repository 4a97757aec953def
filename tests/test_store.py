"""The store: which customer an email signs in as (the SPEC's shared-email rule),
what the portal reads, ownership, and migrations that match the tables."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from helpers import NOW

from backend import stripe_objects
from backend.store import billing, tables
from backend.store.database import MIGRATIONS, Database, create_engine, migrate, pending_migrations

DAY = 86400


def customer(cid: str, email: str | None, created: int, **extra: Any) -> dict[str, Any]:
    return {"id": cid, "object": "customer", "email": email, "name": cid, "created": created, **extra}


def subscription(sid: str, customer_ref: Any, status: str, created: int = NOW) -> dict[str, Any]:
    return {"id": sid, "object": "subscription", "customer": customer_ref, "status": status, "created": created,
            "items": {"object": "list", "data": []}}


def put(db: Database, kind: str, *objects: dict[str, Any]) -> None:
    db.run(billing.upsert, kind, list(objects))


def signs_in_as(db: Database, email: str) -> str | None:
    return db.run(billing.customer_for_email, email, write=False)


# The shared-email rule (SPEC preamble, point 3).

def test_the_demo_address_signs_in_as_the_customer_with_the_active_plan(db):
    # cus_jenny_new is newer and cus_jenny_old older; only cus_jenny has an active plan.
    assert signs_in_as(db, "jenny@example.com") == "cus_jenny"


def test_without_any_active_plan_the_newest_customer_wins(db):
    put(db, "customers", customer("cus_p1", "pat@example.com", NOW - 30 * DAY),
        customer("cus_p2", "pat@example.com", NOW - 10 * DAY), customer("cus_p3", "pat@example.com", NOW - 20 * DAY))
    assert signs_in_as(db, "pat@example.com") == "cus_p2"


def test_an_older_customer_with_an_active_plan_beats_newer_ones_without(db):
    put(db, "customers", customer("cus_p1", "pat@example.com", NOW - 30 * DAY),
        customer("cus_p2", "pat@example.com", NOW - 10 * DAY))
    put(db, "subscriptions", subscription("sub_p1", "cus_p1", "active"))
    assert signs_in_as(db, "pat@example.com") == "cus_p1"


def test_among_customers_with_active_plans_the_newest_wins(db):
    put(db, "customers", customer("cus_p1", "pat@example.com", NOW - 30 * DAY),
        customer("cus_p2", "pat@example.com", NOW - 20 * DAY), customer("cus_p3", "pat@example.com", NOW - 10 * DAY))
    put(db, "subscriptions", subscription("sub_p1", "cus_p1", "active"), subscription("sub_p2", "cus_p2", "active"))
    assert signs_in_as(db, "pat@example.com") == "cus_p2"


def test_a_trialing_plan_counts_as_active(db):
    put(db, "customers", customer("cus_p1", "pat@example.com", NOW - 30 * DAY),
        customer("cus_p2", "pat@example.com", NOW - 20 * DAY), customer("cus_p3", "pat@example.com", NOW - 10 * DAY))
    put(db, "subscriptions", subscription("sub_p1", "cus_p1", "trialing"))
    assert signs_in_as(db, "pat@example.com") == "cus_p1"
    put(db, "subscriptions", subscription("sub_p2", "cus_p2", "active"))
    assert signs_in_as(db, "pat@example.com") == "cus_p2"


@pytest.mark.parametrize("status", ["canceled", "past_due", "unpaid", "incomplete", "incomplete_expired", "paused"])
def test_other_subscription_states_do_not_count_as_active(db, status):
    put(db, "customers", customer("cus_p1", "pat@example.com", NOW - 30 * DAY),
        customer("cus_p2", "pat@example.com", NOW - 10 * DAY))
    put(db, "subscriptions", subscription("sub_p1", "cus_p1", status))
    assert signs_in_as(db, "pat@example.com") == "cus_p2"


def test_one_active_plan_among_ended_ones_counts(db):
    put(db, "customers", customer("cus_p1", "pat@example.com", NOW - 30 * DAY),
        customer("cus_p2", "pat@example.com", NOW - 10 * DAY))
    put(db, "subscriptions", subscription("sub_p1", "cus_p1", "canceled"), subscription("sub_p2", "cus_p1", "active"),
        subscription("sub_p3", "cus_p2", "canceled"))
    assert signs_in_as(db, "pat@example.com") == "cus_p1"


def test_a_plan_whose_customer_is_an_expanded_object_counts(db):
    put(db, "customers", customer("cus_p1", "pat@example.com", NOW - 30 * DAY),
        customer("cus_p2", "pat@example.com", NOW - 10 * DAY))
    put(db, "subscriptions", subscription("sub_p1", {"id": "cus_p1", "object": "customer"}, "active"))
    assert signs_in_as(db, "pat@example.com") == "cus_p1"


def test_a_status_change_on_reimport_moves_the_sign_in(db):
    put(db, "subscriptions", dict(db.run(billing.get, "subscriptions", "sub_jenny_pro"), status="canceled"))
    assert signs_in_as(db, "jenny@example.com") == "cus_jenny_new"


def test_addresses_that_differ_only_in_case_are_one_address(db):
    put(db, "customers", customer("cus_p1", "Pat.Lee@Example.COM", NOW - 30 * DAY))
    for typed in ("pat.lee@example.com", "PAT.LEE@EXAMPLE.COM", "Pat.Lee@Example.COM", "  pat.lee@example.com "):
        assert signs_in_as(db, typed) == "cus_p1"
    assert signs_in_as(db, "pat.le@example.com") is None
    # The demo's three Jennies are stored as jenny@, Jenny@Example.com and JENNY@example.com.
    assert signs_in_as(db, "jEnNy@ExAmPlE.cOm") == "cus_jenny"


@pytest.mark.parametrize("email", [None, "", "   "])
def test_a_customer_without_an_email_never_matches(db, email):
    put(db, "customers", customer("cus_blank", email, NOW))
    put(db, "subscriptions", subscription("sub_blank", "cus_blank", "active"))
    for typed in ("", " ", "None", "none", "null", "   "):
        assert signs_in_as(db, typed) is None
    # The demo's cus_noemail has an active plan and no address: nothing reaches it either.
    assert db.run(billing.get, "customers", "cus_noemail")["email"] is None


def test_the_email_lookup_uses_the_index(db):
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "email_lower" in statement:
            statements.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", capture)
    try:
        signs_in_as(db, "jenny@example.com")
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", capture)
    ((statement, parameters),) = statements
    with db.engine.connect() as conn:
        if db.engine.dialect.name == "sqlite":
            plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
            assert "SCAN customers" not in plan
        else:
            # A handful of rows makes any planner prefer a scan; ask whether the index can serve the query.
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = " ".join(str(row[0]) for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
            assert "Seq Scan on customers" not in plan
    assert "ix_customers_email_lower_created" in plan


# What the portal reads.

def test_portal_reads_one_customer_with_plans_invoices_and_cards(db):
    data = db.run(billing.portal, "cus_jenny", write=False)
    assert set(data) == {"customer", "subscriptions", "invoices", "payment_methods", "retention_offers"}
    assert data["customer"] == db.run(billing.get, "customers", "cus_jenny")
    assert [s["id"] for s in data["subscriptions"]] == ["sub_jenny_pro"]
    assert [m["id"] for m in data["payment_methods"]] == ["pm_jenny_mc", "pm_jenny_visa"]  # newest first
    created = [i["created"] for i in data["invoices"]]
    assert len(created) == 13 and created == sorted(created, reverse=True)
    assert {i["customer"] for i in data["invoices"]} == {"cus_jenny"}


def test_portal_expands_each_item_price_and_its_product(db):
    (sub,) = db.run(billing.portal, "cus_jenny", write=False)["subscriptions"]
    (item,) = sub["items"]["data"]
    price = item["price"]
    assert price["id"] == "price_pro_monthly"
    assert price["unit_amount"] == 2900 and price["recurring"]["interval"] == "month"
    assert price["product"] == db.run(billing.get, "products", "prod_pro")
    # The stored subscription still holds the price's id, as imported.
    assert db.run(billing.get, "subscriptions", "sub_jenny_pro")["items"]["data"][0]["price"] == "price_pro_monthly"


def test_portal_keeps_a_price_and_product_expanded_in_the_file_when_the_store_lacks_them(db):
    put(db, "customers", customer("cus_p1", "pat@example.com", NOW))
    sub = subscription("sub_p1", "cus_p1", "active")
    embedded = {"id": "price_only_here", "unit_amount": 500, "currency": "eur",
                "product": {"id": "prod_only_here", "name": "Embedded plan"}}
    sub["items"]["data"] = [{"id": "si_1", "quantity": 2, "price": embedded},
                            {"id": "si_2", "quantity": 1, "price": {"id": "price_x", "product": "prod_team"}}]
    put(db, "subscriptions", sub)
    (read,) = db.run(billing.portal, "cus_p1", write=False)["subscriptions"]
    first, second = read["items"]["data"]
    assert first["price"]["unit_amount"] == 500
    assert first["price"]["product"] == {"id": "prod_only_here", "name": "Embedded plan"}
    # A product id the store knows is expanded from the store.
    assert second["price"]["product"]["name"] == "Team"


def test_portal_shows_at_most_a_page_of_the_newest_invoices(db):
    invoices = [{"id": f"in_many_{n:03d}", "customer": "cus_sam", "created": NOW - n * DAY} for n in range(40)]
    put(db, "invoices", *invoices)
    shown = db.run(billing.portal, "cus_sam", write=False)["invoices"]
    assert [i["id"] for i in shown] == [f"in_many_{n:03d}" for n in range(billing.INVOICE_PAGE)]


def test_portal_of_an_unknown_customer_is_none(db):
    assert db.run(billing.portal, "cus_nobody", write=False) is None


@pytest.mark.parametrize(("kind", "own", "other"), [
    ("invoices", "in_jenny_0013", "in_kim_0006"),
    ("subscriptions", "sub_jenny_pro", "sub_kim_pro"),
    ("payment_methods", "pm_jenny_visa", "pm_kim_visa"),
])
def test_owned_refuses_other_customers_objects(db, kind, own, other):
    assert db.run(billing.owned, kind, "cus_jenny", own)["id"] == own
    assert db.run(billing.owned, kind, "cus_jenny", other) is None
    assert db.run(billing.owned, kind, "cus_kim", other)["id"] == other
    assert db.run(billing.owned, kind, "cus_jenny", "nope_123") is None
    # A customer sharing Jenny's address is still another customer.
    assert db.run(billing.owned, kind, "cus_jenny_new", own) is None


def test_a_draft_invoice_is_never_read_for_the_customer(db):
    put(db, "invoices", {"id": "in_draft", "customer": "cus_jenny", "created": NOW, "status": "draft"},
        {"id": "in_void", "customer": "cus_jenny", "created": NOW - 1, "status": "void"})
    assert db.run(billing.owned, "invoices", "cus_jenny", "in_draft") is None
    assert db.run(billing.owned, "invoices", "cus_jenny", "in_void")["id"] == "in_void"
    assert [i["id"] for i in db.run(billing.portal, "cus_jenny", write=False)["invoices"][:2]] == ["in_void", "in_jenny_0013"]
    page, _ = db.run(billing.invoice_page, "cus_jenny", 2, write=False)
    assert [i["id"] for i in page] == ["in_void", "in_jenny_0013"]


def test_a_draft_that_is_finalised_is_shown_from_then_on(db):
    draft = {"id": "in_later", "customer": "cus_jenny", "created": NOW, "status": "draft"}
    put(db, "invoices", draft)
    put(db, "invoices", draft | {"status": "open"})
    assert db.run(billing.owned, "invoices", "cus_jenny", "in_later")["status"] == "open"


@pytest.mark.parametrize("status", ["Paid", "", 3])
def test_an_invoice_status_stripe_does_not_have_is_refused(status):
    with pytest.raises(stripe_objects.ObjectError, match='invoice in_odd has "status": .*; Stripe\'s are draft, open, '
                                                         'paid, uncollectible, void'):
        stripe_objects.normalise({"id": "in_odd", "object": "invoice", "customer": "cus_jenny", "status": status})


# Migrations.

@pytest.fixture
def engine(settings: Any) -> Iterator[sa.Engine]:
    engine = create_engine(settings.database_url)
    yield engine
    engine.dispose()


def test_migrations_build_exactly_the_tables_the_code_declares(engine):
    migrate(engine)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), tables.metadata)
    assert differences == []


def test_a_fresh_database_has_pending_migrations_until_migrated(engine):
    assert pending_migrations(engine) is True
    migrate(engine)
    assert pending_migrations(engine) is False
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head


def test_migrating_twice_is_safe_and_keeps_the_data(engine):
    migrate(engine)
    database = Database(engine)
    put(database, "customers", customer("cus_kept", "kept@example.com", NOW))
    migrate(engine)
    assert pending_migrations(engine) is False
    assert signs_in_as(database, "kept@example.com") == "cus_kept"
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar() == 1


def test_invoices_stored_before_the_status_column_get_their_status_from_their_json(engine):
    from alembic import command

    with engine.begin() as conn:
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, "0004")
        rows = [("in_old_draft", '{"id": "in_old_draft", "customer": "cus_old", "status": "draft"}'),
                ("in_old_paid", '{"id": "in_old_paid", "customer": "cus_old", "status": "paid"}'),
                ("in_old_none", '{"id": "in_old_none", "customer": "cus_old"}')]
        for invoice_id, data in rows:
            conn.execute(sa.text("INSERT INTO invoices (id, customer, created, data) VALUES (:id, 'cus_old', 0, :data)"),
                         {"id": invoice_id, "data": data})
    migrate(engine)
    with engine.connect() as conn:
        found = dict(conn.execute(sa.select(tables.invoices.c.id, tables.invoices.c.status)).all())
    assert found == {"in_old_draft": "draft", "in_old_paid": "paid", "in_old_none": None}
    database = Database(engine)
    assert database.run(billing.owned, "invoices", "cus_old", "in_old_draft") is None
    assert database.run(billing.owned, "invoices", "cus_old", "in_old_none")["id"] == "in_old_none"
