"""bench/generate.py: the benchmark data set has the size and the shares it promises, is the same
for the same seed, signs shared addresses in by the SPEC's rule, and reads as a portal."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa

from backend import portal
from backend.store import billing, tables
from backend.store.database import create_engine

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "generate.py"
CUSTOMERS = 600


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_generate", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: dataclasses look their module up by name.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def generator(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = load_script()
    # Small batches, so that a few hundred customers take several, as a million do.
    monkeypatch.setattr(module, "BATCH", 250)
    return module


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def made(generator: ModuleType, engine: sa.Engine) -> Any:
    return generator.generate(engine, CUSTOMERS, seed=1)


def column(conn: sa.Connection, query: Any) -> list[Any]:
    return list(conn.execute(query).scalars())


def test_counts_match_the_store_and_the_shares_are_as_designed(made: Any, engine: sa.Engine) -> None:
    c = tables.customers.c
    with engine.connect() as conn:
        stored = {
            kind: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for kind, (table, _) in billing.KINDS.items()
        }
        emails = Counter(column(conn, sa.select(c.email_lower)))
        statuses = Counter(column(conn, sa.select(tables.subscriptions.c.status)))
        subscribed = conn.execute(sa.select(sa.func.count(sa.distinct(tables.subscriptions.c.customer)))).scalar_one()
        lines = Counter(len(billing.get(conn, "invoices", i)["lines"]["data"])
                        for i in column(conn, sa.select(tables.invoices.c.id)))
    assert made.counts == stored
    assert stored["customers"] == CUSTOMERS
    assert None not in emails
    assert stored["prices"] > stored["products"] >= 2
    shared = [n for n in emails.values() if n > 1]
    assert set(shared) <= {2, 3}
    assert 0.01 < len(shared) / len(emails) < 0.06
    assert 1.1 < stored["payment_methods"] / CUSTOMERS < 1.5
    assert 0.65 < subscribed / CUSTOMERS < 0.85
    assert subscribed == stored["subscriptions"]
    assert 2.4 < stored["invoices"] / subscribed < 3.6
    assert statuses.most_common(1)[0][0] == "active"
    assert {"trialing", "past_due", "canceled"} < set(statuses)
    assert set(lines) == {1, 2}


def test_the_same_seed_makes_the_same_rows_and_a_full_store_is_refused(
    generator: ModuleType, engine: sa.Engine, made: Any
) -> None:
    def digest() -> str:
        found = hashlib.sha256()
        with engine.connect() as conn:
            for table, _ in billing.KINDS.values():
                for row in conn.execute(sa.select(table).order_by(table.c.id)):
                    found.update(repr(tuple(row)).encode())
        return found.hexdigest()

    first = digest()
    with pytest.raises(generator.StoreNotEmpty, match="--replace"):
        generator.generate(engine, CUSTOMERS, seed=1)
    again = generator.generate(engine, CUSTOMERS, seed=1, replace=True)
    assert (again.counts, again.email) == (made.counts, made.email)
    assert digest() == first
    generator.generate(engine, CUSTOMERS, seed=2, replace=True)
    assert digest() != first


def test_shared_emails_sign_in_as_the_spec_says(made: Any, engine: sa.Engine) -> None:
    c, s = tables.customers.c, tables.subscriptions.c
    with engine.connect() as conn:
        shared = column(conn, sa.select(c.email_lower).group_by(c.email_lower).having(sa.func.count() > 1))
        passed_over_newest = spelt_otherwise = 0
        for email in shared:
            members = conn.execute(sa.select(c.id, c.created, c.data).where(c.email_lower == email)).all()
            active = set(column(conn, sa.select(s.customer).where(
                s.customer.in_([m.id for m in members]), s.status.in_(("active", "trialing")))))
            # SPEC rule 3: the newest with an active or trialing subscription, else the newest.
            expected = max(members, key=lambda m: (m.id in active, m.created, m.id)).id
            assert billing.customer_for_email(conn, email.upper()) == expected
            passed_over_newest += expected != max(members, key=lambda m: (m.created, m.id)).id
            spelt_otherwise += len({json.loads(m.data)["email"] for m in members}) > 1
    assert shared
    assert passed_over_newest, "no shared address where an older customer's subscription wins"
    assert spelt_otherwise, "every shared address is spelt alike"


def test_a_generated_customer_loads_as_a_portal(made: Any, engine: sa.Engine, config: Any) -> None:
    with engine.connect() as conn:
        assert billing.customer_for_email(conn, made.email) == made.customer
        data = billing.portal(conn, made.customer)
    assert data is not None
    shown = portal.view(config, data)
    assert shown["customer"]["email"] == made.email
    assert shown["customer"]["invoice_settings"]["default_payment_method"] == shown["payment_methods"][0]["id"]
    assert shown["payment_methods"][0]["card"]["last4"].isdigit()
    (subscription,) = shown["subscriptions"]
    assert subscription["status"] == "active"
    price = subscription["items"]["data"][0]["price"]
    assert price["unit_amount"] > 0 and price["product"]["name"]
    assert shown["invoices"] and all(i["subscription"] == subscription["id"] for i in shown["invoices"])
    assert all(i["total"] == i["subtotal"] + i["tax"] for i in shown["invoices"])


def test_the_command_reports_and_refuses_a_full_store(
    generator: ModuleType, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["generate.py", "--database-url", database_url, "--customers", "300"])
    assert generator.main() == 0
    out = capsys.readouterr().out
    assert "300 / 300 customers" in out and "customers:         300" in out
    assert "sign in as " in out
    assert generator.main() == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--replace" in err
