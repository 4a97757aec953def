"""The connection and the migrations."""

from __future__ import annotations

import json
import threading
from typing import Any

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from backend import ratelimit
from backend.errors import APIError, Refused
from backend.store.database import (
    HEAD,
    MIGRATIONS,
    Compiled,
    Database,
    _Pending,
    create_engine,
    current_revision,
    migrate,
    pending_migrations,
)
from backend.store.tables import rate_events


def test_head_names_the_newest_migration():
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD


def test_a_new_database_is_migrated_to_head(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'new.db'}")
    assert current_revision(engine) is None and pending_migrations(engine)
    migrate(engine)
    assert current_revision(engine) == HEAD and not pending_migrations(engine)
    migrate(engine)
    assert current_revision(engine) == HEAD
    engine.dispose()


def test_sqlite_folders_are_created(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'a' / 'b' / 'porch.db'}")
    migrate(engine)
    assert (tmp_path / "a" / "b" / "porch.db").is_file()
    engine.dispose()


def test_processes_starting_together_on_a_new_database_all_migrate(database_url):
    # Several backends behind a load balancer start at once after a release; none may fail.
    engines = [create_engine(database_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    failures: list[BaseException] = []

    def start(engine: Any) -> None:
        barrier.wait()
        try:
            migrate(engine)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=start, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert all(current_revision(engine) == HEAD for engine in engines)
    for engine in engines:
        engine.dispose()


def test_concurrent_writers_in_one_process_all_commit(database_url):
    # SQLite writers of one process queue on a lock instead of SQLite's sleeping busy handler.
    engine = create_engine(database_url)
    migrate(engine)
    database = Database(engine)
    barrier = threading.Barrier(16)

    def write(n: int) -> None:
        barrier.wait()
        database.run(lambda conn: ratelimit.record(conn, n, "test"))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    count = sa.select(sa.func.count()).select_from(rate_events)
    assert database.run(lambda conn: conn.execute(count).scalar(), write=False) == 16
    engine.dispose()


def _recorded(database: Database) -> list[str]:
    return database.run(lambda conn: sorted(conn.execute(sa.select(rate_events.c.key)).scalars()), write=False)


def test_writes_committed_as_a_group_keep_each_ones_outcome(tmp_path):
    database = Database(create_engine(f"sqlite:///{tmp_path}/group.db"))
    migrate(database.engine)

    def write(key: str) -> Any:
        return lambda conn: ratelimit.record(conn, 1, key) or key

    def fail(conn: sa.Connection) -> None:
        ratelimit.record(conn, 1, "failed")
        raise ValueError("broken")

    def refuse(conn: sa.Connection) -> None:
        ratelimit.record(conn, 1, "refused")
        raise Refused(APIError(401, "invalid_code", "wrong"))

    group = [_Pending(write("first"), ()), _Pending(fail, ()), _Pending(refuse, ()), _Pending(write("last"), ())]
    database._run_group(group)
    assert all(pending.done for pending in group)
    assert [pending.result for pending in group] == ["first", None, None, "last"]
    assert group[0].error is None and group[3].error is None
    assert isinstance(group[1].error, ValueError)
    assert isinstance(group[2].error, APIError) and group[2].error.status == 401
    # What the failed one wrote is gone; what the refused one wrote stays, as Database.run keeps it.
    assert _recorded(database) == ["first", "last", "refused"]
    database.close()


def test_grouped_writers_of_one_process_each_get_their_own_answer(tmp_path):
    database = Database(create_engine(f"sqlite:///{tmp_path}/group.db"))
    migrate(database.engine)
    barrier = threading.Barrier(16)
    answers: dict[int, Any] = {}

    def write(n: int) -> None:
        barrier.wait()
        answers[n] = database._grouped(lambda conn: ratelimit.record(conn, n, f"key{n:02}") or n, ())

    threads = [threading.Thread(target=write, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == {n: n for n in range(16)}
    assert _recorded(database) == [f"key{n:02}" for n in range(16)]
    database.close()


def test_objects_stored_in_older_shapes_are_read_into_the_one_shape(database_url):
    """Migration 0007: a store imported before backend.stripe_objects holds the export's shapes as they came."""
    from alembic import command

    from backend.store import billing, tables
    from backend.store.database import _alembic

    engine = create_engine(database_url)
    with engine.begin() as connection:
        command.upgrade(_alembic(connection), "0004")
    old_sub = {"id": "sub_1", "object": "subscription", "customer": {"id": "cus_1", "object": "customer",
               "email": "pat@example.com", "created": 5}, "status": "active",
               "discount": {"id": "di_1", "object": "discount", "coupon": {"percent_off": 10}},
               "items": {"object": "list", "data": [{"id": "si_1", "price": "price_1", "current_period_start": 10,
                                                     "current_period_end": 20}]}}
    old_invoice = {"id": "in_1", "object": "invoice", "customer": "cus_1", "status": "paid",
                   "parent": {"subscription_details": {"subscription": "sub_1"}},
                   "total_taxes": [{"amount": 5, "tax_behavior": "exclusive", "taxable_amount": 50,
                                    "tax_rate_details": {"tax_rate": "txr_1"}}]}
    refused = {"id": "sub_2", "object": "subscription", "customer": "cus_1", "status": "expired"}
    with engine.begin() as connection:
        for table, obj, customer in ((tables.subscriptions, old_sub, "cus_1"), (tables.invoices, old_invoice, "cus_1"),
                                     (tables.subscriptions, refused, "cus_1")):
            values = {"id": obj["id"], "created": 0, "customer": customer, "data": json.dumps(obj)}
            connection.execute(table.insert(), values | ({"status": obj["status"]} if table is tables.subscriptions else {}))
    migrate(engine)
    db = Database(engine)
    sub = db.run(billing.get, "subscriptions", "sub_1")
    assert (sub["customer"], sub["current_period_end"], sub["discounts"]) == ("cus_1", 20, [old_sub["discount"]])
    assert "discount" not in sub
    invoice = db.run(billing.get, "invoices", "in_1")
    assert (invoice["subscription"], invoice["tax"]) == ("sub_1", 5)
    assert db.run(billing.get, "subscriptions", "sub_2") == refused  # the reader refuses it: left as it was
    # The customer expanded inside the subscription, which the store did not have, is stored as its own.
    assert db.run(billing.customer_for_email, "pat@example.com") == "cus_1"
    engine.dispose()


def test_a_compiled_statement_answers_as_sqlalchemy_does_on_the_driver(database_url):
    """Built-in values, a named value, and a list of any length (none too) in one statement, on either driver."""
    engine = create_engine(database_url)
    migrate(engine)
    db = Database(engine)
    db.run(lambda conn: ratelimit.record(conn, 100, "a", "b", "c"))
    query = (
        sa.select(rate_events.c.key).where(rate_events.c.key.in_(sa.bindparam("keys", expanding=True)),
                                           rate_events.c.at >= sa.bindparam("since"), rate_events.c.key != "c")
        .order_by(rate_events.c.key)
    )
    compiled = Compiled(query)
    for keys, since in ((["a", "b", "c", "d"], 0), (["b"], 0), ([], 0), (["a", "b"], 101)):
        params = {"keys": keys, "since": since}
        expected = db.run(lambda conn, params: list(conn.execute(query, params).all()), params, write=False)
        found = db.run(lambda conn, params: compiled.rows(conn, **params), params, write=False)
        assert [tuple(row) for row in found] == [tuple(row) for row in expected]
    assert [tuple(row) for row in db.run(lambda conn: compiled.rows(conn, keys=["a", "b"], since=0), write=False)] == [("a",), ("b",)]
    engine.dispose()


def test_a_pooled_connection_the_server_dropped_is_replaced_before_use(database_url, monkeypatch):
    """One that sat in the pool longer than PING_IDLE is pinged first; here every one is (PING_IDLE 0)."""
    if not database_url.startswith("postgresql"):
        return  # a SQLite file cannot drop a connection
    from backend.store import database

    monkeypatch.setattr(database, "PING_IDLE", 0)
    engine = create_engine(database_url)
    with engine.connect() as conn:
        pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    other = create_engine(database_url)
    with other.connect() as admin:
        assert admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    other.dispose()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar() != pid
    engine.dispose()


def test_a_read_runs_its_statements_each_on_its_own_and_a_write_in_one_transaction(database_url):
    """Database.read's statements on the driver run outside a transaction (no BEGIN, no COMMIT: two of the
    portal read's five round trips on PostgreSQL, 6% of its instructions on SQLite); a write still runs in one.
    A read through SQLAlchemy begins one on SQLite, which ends with the read: the next sees what was written."""
    import asyncio

    engine = create_engine(database_url)
    migrate(engine)
    db = Database(engine)
    sqlite = engine.dialect.name == "sqlite"
    one = Compiled(sa.select(sa.literal(1)))

    def in_transaction(conn: sa.Connection) -> bool:
        driver: Any = conn.connection.driver_connection
        if sqlite:
            return driver.in_transaction
        from psycopg.pq import TransactionStatus

        return driver.info.transaction_status != TransactionStatus.IDLE

    def on_the_driver(conn: sa.Connection) -> bool:
        one.rows(conn)
        return in_transaction(conn)

    def through_sqlalchemy(conn: sa.Connection) -> bool:
        conn.execute(sa.text("SELECT 1"))
        return in_transaction(conn)

    assert asyncio.run(db.read(on_the_driver)) is False
    assert asyncio.run(db.read(through_sqlalchemy)) is sqlite
    # The pooled connection a read used is back in a transaction for the next write.
    assert [db.run(through_sqlalchemy) for _ in range(3)] == [True] * 3

    count = sa.select(sa.func.count()).select_from(rate_events)
    counted = Compiled(count)
    through, on = asyncio.run(db.read(lambda conn: (conn.execute(count).scalar(), counted.rows(conn)[0][0])))
    assert through == on
    db.run(lambda conn: ratelimit.record(conn, 100, "a"))
    assert asyncio.run(db.read(lambda conn: counted.rows(conn)[0][0])) == on + 1
    db.close()
