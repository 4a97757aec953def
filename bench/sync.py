"""Sync: objects per second of a full `sync` from a Stripe emulator, and GET /api/portal with either engine.

    python bench/sync.py [--customers 300] [--duration 10] [--connections 64] [--rounds 2]
                         [--postgres-url postgresql://...]

The script starts localstripe (tests/localstripe_server.py) on a free loopback port and makes, through
Stripe's SDK, --customers customers, each with a card as default payment method, a tax id and a monthly
subscription, whose first invoice the emulator makes and charges. It then times a full sync into a new
SQLite store (and into --postgres-url, a database of its own, when given), and an incremental sync
straight after, which finds nothing to do. The emulator answers each request in one Python process, so
the figure is a floor: Stripe answers pages of 100 from many machines.

Then, on the synced SQLite store, bench/load.py measures GET /api/portal with `billing.engine` local and
with stripe, in turns (--rounds of each), under wrk as it measures the portal: the same server, sessions and data, so the
two rows show that the portal's reads are local and unchanged by the engine. The script prints a
Markdown table for the README."""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import stripe

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from load import measure  # noqa: E402
from startup import GIVE_UP, POLL, free_port  # noqa: E402

from backend import stripe_sync  # noqa: E402
from backend.store.database import Database, create_engine, migrate  # noqa: E402

KEY = "sk_test_porch_bench"
CONFIG = "business:\n  name: Sync bench\nbilling:\n  engine: {engine}\n"


@contextlib.contextmanager
def emulator(folder: Path) -> Iterator[str]:
    """localstripe on a free loopback port until the block ends; yields its address."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (folder / "localstripe.log").open("wb") as log:
        process = subprocess.Popen([sys.executable, str(ROOT / "tests" / "localstripe_server.py"), str(port)],
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        started = time.monotonic()
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/v1/customers?limit=1", headers={"Authorization": f"Bearer {KEY}"}).is_success:
                    break
            if process.poll() is not None or time.monotonic() - started > GIVE_UP:
                raise SystemExit(f"localstripe did not start:\n{(folder / 'localstripe.log').read_text()}")
            time.sleep(POLL)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def fill(client: stripe.StripeClient, customers: int) -> None:
    product = client.v1.products.create({"name": "Pro"})
    client.v1.plans.create({"id": "pro-monthly", "product": product.id, "amount": 1500, "currency": "eur",
                            "interval": "month"})
    for number in range(customers):
        customer = client.v1.customers.create({"email": f"bench-{number}@example.com", "name": f"Bench {number}"})
        card = client.v1.payment_methods.create({"type": "card", "card": {
            "number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
        client.v1.payment_methods.attach(card.id, {"customer": customer.id})
        client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": card.id}})
        client.v1.customers.tax_ids.create(customer.id, {"type": "eu_vat", "value": f"DE{number:09d}"})
        client.v1.subscriptions.create({"customer": customer.id, "items": [{"plan": "pro-monthly"}]})


def timed_sync(label: str, url: str, client: stripe.StripeClient) -> list[str]:
    engine = create_engine(url)
    migrate(engine)
    db = Database(engine)
    full = stripe_sync.sync(db, client)
    objects = sum(full.written.values())
    again = stripe_sync.sync(db, client)
    engine.dispose()
    return [f"| {label} | full | {objects:,} | {full.seconds:.2f} s | {objects / full.seconds:,.0f} |",
            f"| {label} | incremental, nothing changed | {sum(again.written.values()):,} | {again.seconds:.2f} s | |"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--customers", type=int, default=300, help="customers made in the emulator (default: 300)")
    parser.add_argument("--duration", type=int, default=10, help="seconds of GET /api/portal per engine (default: 10)")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections (default: 64)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each engine, in turns (default: 2)")
    parser.add_argument("--postgres-url", help="a PostgreSQL database of its own to sync into too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="porch-sync-") as folder, emulator(Path(folder)) as api:
        tmp = Path(folder)
        client = stripe.StripeClient(KEY, base_addresses={"api": api}, max_network_retries=0)
        print(f"making {args.customers:,} customers in localstripe ...", flush=True)
        fill(client, args.customers)
        sqlite = f"sqlite:///{tmp / 'porch.db'}"
        rows = timed_sync("SQLite", sqlite, client)
        if args.postgres_url:
            rows += timed_sync("PostgreSQL", args.postgres_url, client)
        portal = []
        # Taken in turns, so that a neighbour's load on the machine falls on both engines alike.
        for engine in ("local", "stripe") * args.rounds:
            (tmp / "config.yaml").write_text(CONFIG.format(engine=engine))
            # The stripe engine's server is given the emulator, as a merchant's is given Stripe.
            os.environ |= {"PORCH_STRIPE_SECRET_KEY": KEY, "PORCH_STRIPE_API_BASE": api,
                           "PORCH_STRIPE_WEBHOOK_SECRET": "whsec_bench"}
            load = argparse.Namespace(duration=args.duration, connections=args.connections, endpoints=["portal"],
                                      customers=args.customers)
            (_, row), *_ = measure(f"billing.engine {engine}", sqlite, load, tmp).rows
            portal.append(f"| {engine} | {row['rate']:,.0f} | {row['p50']:.1f} ms | {row['p99']:.1f} ms | "
                          f"{row['requests']:,.0f} | {row['errors']:,.0f} |")
    print(f"\nFull sync of {args.customers:,} customers from localstripe, on {os.cpu_count()} cores:\n")
    print("| store | run | objects | time | objects/s |\n| --- | --- | ---: | ---: | ---: |")
    print("\n".join(rows))
    print(f"\nGET /api/portal on the synced SQLite store, wrk -t1 -c{args.connections} -d{args.duration}s:\n")
    print("| billing.engine | requests/s | p50 | p99 | requests | errors |\n| --- | ---: | ---: | ---: | ---: | ---: |")
    print("\n".join(portal))
    return 0


if __name__ == "__main__":
    sys.exit(main())
