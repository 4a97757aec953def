"""`python -m backend sync` against a real Stripe emulator (localstripe): a full run lands Stripe's objects
in the store in the one shape; a re-run is safe; an incremental run fetches only what changed; an
interrupted run keeps its pages and the next one continues from the cursor. The Prices API, which
localstripe lacks, is tested at the SDK boundary."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import sqlalchemy as sa
import stripe
from helpers import ROOT
from processes import free_port
from stripe_boundary import example, scripted_client
from stripe_emulator import Emulator
from test_cli import failure, run

from backend import stripe_sync
from backend.settings import Settings
from backend.store import billing, tables
from backend.store.database import Database, create_engine, migrate

Sent = tuple[str, str, dict[str, str]]


class Counting(stripe.RequestsClient):
    """Stripe's own HTTP client, recording each request; once `broken(sent)` holds, it sends that request
    and the rest to a closed port, as when Stripe becomes unreachable mid-run."""

    def __init__(self, broken: Callable[[list[Sent]], bool] = lambda sent: False):
        super().__init__(timeout=10)
        self.sent: list[Sent] = []
        self.broken = broken
        self.closed = f"http://127.0.0.1:{free_port()}"

    def request(self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None) -> Any:
        parts = urlsplit(url)
        self.sent.append((method.upper(), parts.path, dict(parse_qsl(parts.query))))
        if self.broken(self.sent):
            url = self.closed + parts.path + ("?" + parts.query if parts.query else "")
        return super().request(method, url, headers, post_data)


def connect(emulator: Emulator, http: stripe.HTTPClient | None = None) -> stripe.StripeClient:
    return stripe.StripeClient(emulator.key, base_addresses={"api": emulator.url}, max_network_retries=0,
                               http_client=http or stripe.RequestsClient(timeout=10))


@pytest.fixture
def store(settings: Settings) -> Iterator[Database]:
    """An empty store (SQLite, and PostgreSQL where the tests have one)."""
    engine = create_engine(settings.database_url)
    migrate(engine)
    yield Database(engine)
    engine.dispose()


@pytest.fixture
def emulator(stripe_emulator: Emulator) -> Emulator:
    return stripe_emulator


def seed(client: stripe.StripeClient, customers: int) -> list[str]:
    """A product and its monthly plan; customers, each with a card as default, a tax id, and a subscription
    whose first invoice Stripe makes and charges. Returns the customers' ids, oldest first."""
    product = client.v1.products.create({"name": "Pro"})
    client.v1.plans.create({"id": "pro-monthly", "product": product.id, "amount": 1500, "currency": "eur",
                            "interval": "month", "nickname": "Pro monthly"})
    made = []
    for number in range(customers):
        customer = client.v1.customers.create({"email": f"c{number}@example.com", "name": f"Customer {number}"})
        card = client.v1.payment_methods.create({"type": "card", "card": {
            "number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
        client.v1.payment_methods.attach(card.id, {"customer": customer.id})
        client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": card.id}})
        client.v1.customers.tax_ids.create(customer.id, {"type": "eu_vat", "value": f"DE12345678{number}"})
        client.v1.subscriptions.create({"customer": customer.id, "items": [{"plan": "pro-monthly"}]})
        made.append(customer.id)
    return made


def stored(db: Database) -> dict[str, int]:
    def count(conn: sa.Connection) -> dict[str, int]:
        return {kind: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for kind, (table, _) in billing.KINDS.items()}
    return db.run(count, write=False)


def test_a_full_sync_lands_stripes_objects_in_the_one_shape_the_portal_reads(store, emulator):
    client = connect(emulator)
    first, second = seed(client, 2)
    seen: list[tuple[str, int]] = []
    synced = stripe_sync.sync(store, client, progress=lambda step, done: seen.append((step, done)))
    assert synced.full and synced.why == "Full sync: no sync has run before."
    assert stored(store) == {"products": 1, "prices": 1, "customers": 2, "payment_methods": 2,
                             "subscriptions": 2, "invoices": 2}
    assert seen == [("products", 1), ("prices", 1), ("customers", 2), ("subscriptions", 2), ("invoices", 2)]
    portal = store.run(billing.portal, first, write=False)
    assert portal["customer"]["name"] == "Customer 0"
    assert [tax["value"] for tax in portal["customer"]["tax_ids"]["data"]] == ["DE123456780"]
    card = client.v1.customers.retrieve(first).invoice_settings.default_payment_method
    assert portal["customer"]["invoice_settings"]["default_payment_method"] == card
    assert [(m["id"], m["card"]["last4"]) for m in portal["payment_methods"]] == [(card, "4242")]
    (subscription,) = portal["subscriptions"]
    assert subscription["status"] == "active"
    (item,) = subscription["items"]["data"]
    # localstripe speaks 2017: the item's plan is read as the price Stripe made of it, with its product.
    assert item["price"]["id"] == "pro-monthly" and item["price"]["unit_amount"] == 1500
    assert item["price"]["recurring"]["interval"] == "month"
    assert item["price"]["product"]["name"] == "Pro"
    assert item["current_period_end"] == subscription["current_period_end"]
    (invoice,) = portal["invoices"]
    assert (invoice["status"], invoice["total"], invoice["subscription"]) == ("paid", 1500, subscription["id"])
    assert invoice["lines"]["data"][0]["price"]["id"] == "pro-monthly"
    assert store.run(billing.portal, second, write=False)["customer"]["email"] == "c1@example.com"


def test_running_it_again_writes_the_same_and_duplicates_nothing(store, emulator):
    client = connect(emulator)
    seed(client, 3)
    first = stripe_sync.sync(store, client)
    again = stripe_sync.sync(store, client, full=True)
    assert again.why == "Full sync, as asked (--full)."
    assert again.written == first.written
    assert stored(store) == {"products": 1, "prices": 1, "customers": 3, "payment_methods": 3,
                             "subscriptions": 3, "invoices": 3}


def test_an_incremental_run_fetches_only_what_changed_and_applies_it(store, emulator):
    client = connect(emulator)
    first, second = seed(client, 2)
    stripe_sync.sync(store, client)
    client.v1.customers.update(second, {"name": "Renamed in Stripe"})
    http = Counting()
    synced = stripe_sync.sync(store, connect(emulator, http))
    assert not synced.full and synced.why.startswith("Incremental sync: what changed since ")
    assert [(method, path) for method, path, _ in http.sent] == [
        ("GET", "/v1/events"), ("GET", f"/v1/customers/{second}"), ("GET", "/v1/payment_methods")]
    assert synced.written == {"products": 0, "prices": 0, "customers": 1, "payment_methods": 1,
                              "subscriptions": 0, "invoices": 0}
    assert store.run(billing.get, "customers", second, write=False)["name"] == "Renamed in Stripe"
    # Its tax ids came with it, as in a full run.
    assert store.run(billing.get, "customers", second, write=False)["tax_ids"]["data"][0]["value"] == "DE123456781"
    assert store.run(billing.get, "customers", first, write=False)["name"] == "Customer 0"
    # Nothing changed since: one request, for the events.
    http = Counting()
    nothing = stripe_sync.sync(store, connect(emulator, http))
    assert [path for _, path, _ in http.sent] == ["/v1/events"]
    assert not any(nothing.written.values())


def test_a_customer_deleted_in_stripe_is_removed_with_what_only_it_owned(store, emulator):
    client = connect(emulator)
    gone, kept = seed(client, 2)
    stripe_sync.sync(store, client)
    client.v1.customers.delete(gone)
    synced = stripe_sync.sync(store, client)
    assert synced.removed["customers"] == 1
    assert store.run(billing.get, "customers", gone, write=False) is None
    assert store.run(billing.portal, gone, write=False) is None
    assert stored(store)["customers"] == 1 and store.run(billing.get, "customers", kept, write=False)


def test_a_card_detached_in_stripe_leaves_the_store_on_the_next_full_run(store, emulator):
    client = connect(emulator)
    (customer,) = seed(client, 1)
    stripe_sync.sync(store, client)
    (card,) = client.v1.payment_methods.list({"customer": customer, "type": "card"}).data
    client.v1.payment_methods.detach(card.id)
    synced = stripe_sync.sync(store, client, full=True)
    assert synced.removed["payment_methods"] == 1
    assert store.run(billing.portal, customer, write=False)["payment_methods"] == []


def test_an_interrupted_sync_keeps_its_pages_and_the_next_run_continues_from_the_cursor(store, emulator):
    client = connect(emulator)
    customers = seed(client, 5)
    # Stripe stops answering when the second page of customers is asked for.
    broken = Counting(lambda sent: [path for _, path, _ in sent].count("/v1/customers") == 2)
    with pytest.raises(stripe.APIConnectionError):
        stripe_sync.sync(store, connect(emulator, broken), page=2)
    # The first page of customers (oldest first in localstripe), with their cards, is stored and committed.
    assert sorted(store.run(lambda conn: [
        row.id for row in conn.execute(sa.select(tables.customers.c.id))], write=False)) == sorted(customers[:2])
    assert stored(store)["payment_methods"] == 2 and stored(store)["products"] == 1
    cursor = store.run(lambda conn: conn.execute(sa.select(tables.stripe_sync.c.cursor).where(
        tables.stripe_sync.c.step == "customers")).scalar_one(), write=False)
    assert cursor == customers[1]

    http = Counting()
    synced = stripe_sync.sync(store, connect(emulator, http), page=2)
    assert synced.full and synced.why.startswith("Continuing the full sync begun ")
    paths = [path for _, path, _ in http.sent]
    # Products and prices were done: not listed again; customers continue after the cursor.
    assert "/v1/products" not in paths and "/v1/plans" not in paths and "/v1/events" not in paths
    assert http.sent[0] == ("GET", "/v1/customers", {"limit": "2", "starting_after": cursor,
                                                     "expand[0]": "data.tax_ids"})
    assert synced.written["customers"] == 3
    assert stored(store) == {"products": 1, "prices": 1, "customers": 5, "payment_methods": 5,
                             "subscriptions": 5, "invoices": 5}
    # Finished: the next run is incremental.
    assert not stripe_sync.sync(store, client).full


def test_an_interrupted_incremental_run_continues_after_its_last_event(store, emulator):
    client = connect(emulator)
    customers = seed(client, 3)
    stripe_sync.sync(store, client)
    for customer in customers:
        client.v1.customers.update(customer, {"name": "Renamed " + customer})
    # One event a page; Stripe stops answering when the page after the first renamed customer's is asked for.
    broken = Counting(lambda sent: sent[-1][1] == "/v1/events" and any("/v1/customers/" in p for _, p, _ in sent))
    with pytest.raises(stripe.APIConnectionError):
        stripe_sync.sync(store, connect(emulator, broken), page=1)
    names = {c: store.run(billing.get, "customers", c, write=False)["name"] for c in customers}
    assert [names[c] == "Renamed " + c for c in customers].count(True) == 1
    cursor = store.run(lambda conn: conn.execute(sa.select(tables.stripe_sync.c.cursor).where(
        tables.stripe_sync.c.step == "events")).scalar_one(), write=False)
    measure = Counting()
    synced = stripe_sync.sync(store, connect(emulator, measure), page=1)
    assert synced.why.startswith("Continuing the incremental sync begun ")
    assert measure.sent[0][:2] == ("GET", "/v1/events") and measure.sent[0][2]["starting_after"] == cursor
    assert synced.written["customers"] == 2
    assert all(store.run(billing.get, "customers", c, write=False)["name"] == "Renamed " + c for c in customers)


def test_a_last_run_older_than_stripes_events_makes_a_full_run_and_says_why(store, emulator):
    client = connect(emulator)
    seed(client, 1)
    stripe_sync.sync(store, client, now=lambda: time.time() - 31 * 86400)
    synced = stripe_sync.sync(store, client)
    assert synced.full
    assert synced.why == "Full sync: the changes to read go back 31 days, and Stripe keeps events for 30 days only."


def listed(*objects: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Stripe's answer to a list request: one page holding these objects."""
    return 200, {"object": "list", "data": list(objects), "has_more": False, "url": "/v1/x"}


def test_prices_come_from_the_prices_api_where_stripe_has_one_at_the_sdk_boundary(store):
    price = example("price")
    client, http = scripted_client(listed(), listed(example("product", id=price["product"])), listed(price),
                                   listed(), listed(), listed())
    synced = stripe_sync.sync(store, client)
    assert [sent.path for sent in http.sent] == [
        "/v1/events", "/v1/products", "/v1/prices", "/v1/customers", "/v1/subscriptions", "/v1/invoices"]
    assert http.sent[4].params["status"] == "all"
    assert synced.written["prices"] == 1
    assert store.run(billing.get, "prices", price["id"], write=False)["unit_amount"] == price["unit_amount"]


STRIPE_CONFIG = "business:\n  name: Acme\nbilling:\n  engine: stripe\n"


@pytest.fixture
def stripe_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text(STRIPE_CONFIG)
    return tmp_path


def test_the_command_prints_why_the_counts_and_the_time_and_counts_on_stderr(stripe_folder, emulator):
    seed(connect(emulator), 1)
    env = {"PORCH_STRIPE_SECRET_KEY": emulator.key, "PORCH_STRIPE_API_BASE": emulator.url}
    result = run("sync", **env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Full sync: no sync has run before."
    assert re.fullmatch(r"Synced 1 product, 1 price, 1 customer, 1 payment method, 1 subscription, 1 invoice "
                        r"in \d+\.\d s\.", lines[1])
    assert result.stderr == "products: 1\nprices: 1\ncustomers: 1\nsubscriptions: 1\ninvoices: 1\n"
    again = run("sync", **env)
    assert again.stdout.splitlines()[0].startswith("Incremental sync: what changed since ")
    assert re.fullmatch(r"Synced 0 products, 0 prices, 0 customers, 0 payment methods, 0 subscriptions, "
                        r"0 invoices in \d+\.\d s\.", again.stdout.splitlines()[1])


def test_the_command_says_what_is_missing_or_refused(stripe_folder, emulator):
    assert failure(run("sync")) == (
        "Error: PORCH_STRIPE_SECRET_KEY is unset: billing.engine is stripe. Set it to a secret key (sk_live_... or "
        "sk_test_...) or a restricted key (rk_...) from https://dashboard.stripe.com/apikeys\n")
    assert failure(run("sync", PORCH_STRIPE_SECRET_KEY="rk_test_refused", PORCH_STRIPE_API_BASE=emulator.url)) == (
        "Error: PORCH_STRIPE_SECRET_KEY was refused by Stripe (401): it is not a secret (sk_) or restricted (rk_) "
        "key of an account, or it was rolled. Copy it again from https://dashboard.stripe.com/apikeys. What was "
        "synced so far is kept: run `python -m backend sync` again to continue\n")
    closed = f"http://127.0.0.1:{free_port()}"
    assert failure(run("sync", PORCH_STRIPE_SECRET_KEY=emulator.key, PORCH_STRIPE_API_BASE=closed)) == (
        f"Error: cannot reach Stripe at {closed} (PORCH_STRIPE_API_BASE) during the sync: the connection failed. "
        "Check the address and this machine's network. What was synced so far is kept: run "
        "`python -m backend sync` again to continue\n")


def test_the_command_refuses_to_overwrite_the_local_engines_store(stripe_folder, emulator):
    (stripe_folder / "config.yaml").write_text("business:\n  name: Acme\n")
    assert failure(run("sync", PORCH_STRIPE_SECRET_KEY=emulator.key, PORCH_STRIPE_API_BASE=emulator.url)) == (
        "Error: billing.engine is local in config.yaml: Porch's store is the truth, and a sync would overwrite it "
        "with Stripe's. Set billing: {engine: stripe} to connect Stripe\n")


def test_an_object_the_reader_refuses_stops_the_run_naming_it_at_the_sdk_boundary(store):
    odd = example("subscription", status="dormant")
    client, _ = scripted_client(listed(), listed(), listed(), listed(), listed(odd))
    with pytest.raises(stripe_sync.SyncError) as raised:
        stripe_sync.sync(store, client)
    assert str(raised.value) == (f'subscriptions: subscription {odd["id"]} has "status": "dormant"; Stripe\'s are '
                                 "active, trialing, past_due, unpaid, incomplete, incomplete_expired, canceled, paused")


# One run at a time: a second run is refused while the first holds the store.

def test_a_second_run_while_one_is_running_is_refused_and_the_first_goes_on(store, emulator):
    client = connect(emulator)
    seed(client, 2)
    refused: list[BaseException] = []

    def second_run(step: str, done: int) -> None:
        # From another thread, while the first run is between two of its pages.
        if not refused:
            thread = threading.Thread(target=lambda: refused.append(
                pytest.raises(stripe_sync.SyncBusy, stripe_sync.sync, store, connect(emulator)).value))
            thread.start()
            thread.join()

    synced = stripe_sync.sync(store, client, progress=second_run)
    (busy,) = refused
    assert re.fullmatch(r"another sync is running since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(process \d+ on .+, "
                        r"run [0-9a-f]{8}\); wait for it to finish, or, if it has stopped, run again after "
                        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, when its claim lapses", str(busy))
    assert synced.written["customers"] == 2 and stored(store)["customers"] == 2
    # The first run gave its claim back: the next run goes ahead.
    assert not stripe_sync.sync(store, client).full


def claimed(store: Database, at: float) -> stripe_sync.Claim:
    """A claim of another run (another process's, on another connection), made at `at`."""
    claim = stripe_sync.Claim("process 4242 on elsewhere, run 0badc0de", lambda: at)
    store.run(stripe_sync._claim, claim)
    return claim


def test_a_run_whose_claim_lapsed_and_was_taken_stops_before_its_next_page(store, emulator):
    client = connect(emulator)
    seed(client, 2)
    pages: list[str] = []

    def taken_over(step: str, done: int) -> None:
        pages.append(step)
        if len(pages) == 1:
            claimed(store, time.time() + stripe_sync.LEASE + 1)

    with pytest.raises(stripe_sync.SyncBusy) as raised:
        stripe_sync.sync(store, client, progress=taken_over)
    assert str(raised.value) == ("this sync went 15 minutes without committing a page, and its claim lapsed and was "
                                 "taken by another run: that run goes on, and this one stops here")
    assert pages == ["products"] and stored(store)["prices"] == 0
    owner = store.run(lambda conn: conn.execute(sa.select(tables.sync_lock.c.owner)).scalar_one(), write=False)
    assert owner == "process 4242 on elsewhere, run 0badc0de"


def test_the_command_refuses_to_run_beside_another_and_runs_once_its_claim_lapsed(stripe_folder, emulator, store,
                                                                                   settings):
    seed(connect(emulator), 1)
    env = {"PORCH_STRIPE_SECRET_KEY": emulator.key, "PORCH_STRIPE_API_BASE": emulator.url,
           "PORCH_DATABASE_URL": settings.database_url}
    at = time.time()
    claimed(store, at)
    assert failure(run("sync", **env)) == (
        f"Error: another sync is running since {stripe_sync._when(int(at))} (process 4242 on elsewhere, run "
        f"0badc0de); wait for it to finish, or, if it has stopped, run again after "
        f"{stripe_sync._when(int(at) + stripe_sync.LEASE)}, when its claim lapses\n")
    assert stored(store)["customers"] == 0
    # That run crashed: once its claim has lapsed, a run goes ahead.
    store.run(lambda conn: conn.execute(tables.sync_lock.update().values(expires_at=int(at) - 1)))
    assert run("sync", **env).exit_code == 0
    assert stored(store)["customers"] == 1


def test_a_sync_process_started_beside_a_running_one_exits_non_zero(stripe_folder, emulator, store, settings):
    """Two real processes: this one holds the claim, as a running sync does, and a `python -m backend sync`
    started meanwhile stops at once."""
    claimed(store, time.time())
    environ = {**{k: v for k, v in os.environ.items() if not k.startswith("PORCH_")}, "PYTHONPATH": str(ROOT),
               "PORCH_DATABASE_URL": settings.database_url, "PORCH_STRIPE_SECRET_KEY": emulator.key,
               "PORCH_STRIPE_API_BASE": emulator.url, "PORCH_OUTBOX_DIR": "outbox"}
    done = subprocess.run([sys.executable, "-m", "backend", "sync"], check=False, cwd=stripe_folder, env=environ,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: another sync is running since ") and "Traceback" not in done.stderr
    assert store.run(lambda conn: conn.execute(sa.select(tables.sync_lock.c.owner)).scalar_one(), write=False) == (
        "process 4242 on elsewhere, run 0badc0de")
