"""A realistic data set of N customers, for the benchmarks.

    python bench/generate.py --database-url URL [--customers 1000000] [--seed 1] [--replace]

URL takes the forms PORCH_DATABASE_URL takes (`sqlite:///path`, `postgresql://...`);
the schema comes from the project's migrations. A store that already holds billing
objects is refused unless --replace, which wipes the billing tables first (sessions,
mail and the other tables are left as they are).

What it makes, the same for the same seed and N (dated as of NOW, not of the day it runs):

- the demo's three products, each with a monthly and a yearly price in usd and eur;
- N customers, every one with an email address; about 3% of the addresses are shared
  by 2 or 3 customers, some written in other letter cases, so that sign-in meets
  SPEC rule 3; about 60% have a postal address, some a phone, shipping details or
  an EU VAT id;
- about 1.3 cards per customer (brand, last4, expiry), the newest one the default;
- a subscription for about 75% of the customers, mostly active, some trialing,
  past_due or canceled, a few active ones cancelling at the period end;
- about 3 invoices per subscribed customer, for its latest billing periods, with one
  or two lines.

The objects have the field names and nesting of backend/demo.py's (a subscription
item's and an invoice line's `price` is a price id, which the store expands when it
reads), and each goes through backend.store.billing.row, so the rows are exactly what
importing the objects would store. Rows are written with executemany (SQLite) or COPY
(PostgreSQL), one transaction per batch of customers.

From another script in bench/ (a script's own folder is on sys.path when it runs):

    from generate import generate
    made = generate(engine, customers=1_000_000, seed=1, *, replace=False, progress=None, now=NOW)

`engine` comes from backend.store.database.create_engine. generate migrates it, raises
StoreNotEmpty if it holds billing objects and `replace` is false, calls `progress`
(for example `print`) with a line of text after each batch, dates everything as of
`now` (Unix seconds), and returns a Generated: `counts` (objects written per kind, keyed
as billing.KINDS), `email` and `customer` (the address and id of a customer with an
active subscription, a card and invoices, whose address no other customer shares: one
to sign in as) and `seconds`.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import os
import random
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from backend.demo import DAY, PRODUCTS  # noqa: E402
from backend.store import billing  # noqa: E402
from backend.store.database import create_engine, migrate  # noqa: E402

# 2026-09-21, the tests' clock: a fixed date keeps the output of a seed the same on any day.
NOW = 1_790_000_000
# Customers per transaction: large enough that commits cost little, small enough that
# one batch's rows stay a few hundred MB in memory.
BATCH = 50_000
SHARED = 0.03  # share of the email addresses that 2 or 3 customers use
SUBSCRIBED = 0.75

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Daniel", "Karen",
    "Lukas", "Anna", "Leon", "Sophie", "Jonas", "Marie", "Hugo", "Chloé", "Louis", "Camille", "Daan", "Emma",
    "Sem", "Julia", "Oliver", "Amelia", "Noah", "Isla", "Liam", "Olivia", "Wei", "Yuki", "Aarav", "Priya",
    "Mateo", "Lucía", "Kofi", "Amara", "Sven", "Ingrid",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Martin", "Bernard",
    "Dubois", "Thomas", "Robert", "Richard", "De Jong", "Jansen", "De Vries", "Van den Berg", "Bakker", "Visser",
    "Taylor", "Wilson", "Evans", "Walker", "Wright", "Roberts", "Chen", "Wang", "Tanaka", "Sato", "Patel",
    "Sharma", "López", "Fernández", "Mensah", "Okafor", "Johansson", "Larsen", "Rosen", "Kim",
)
# Addresses in plain ASCII: an internationalised one needs SMTPUTF8 from every mail server on the way.
ASCII = {
    name: unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower().replace(" ", "")
    for name in FIRST_NAMES + LAST_NAMES
}
DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com", "post.example.net")
# country, its weight, currency, phone prefix, whether the house number comes first, streets,
# (city, state, postal code)
COUNTRIES = (
    ("US", 35, "usd", "+1", True, ("Main Street", "Oak Avenue", "Maple Drive", "Park Road", "2nd Street"),
     (("New York", "NY", "10001"), ("San Francisco", "CA", "94103"), ("Austin", "TX", "78701"),
      ("Chicago", "IL", "60601"), ("Seattle", "WA", "98101"))),
    ("GB", 10, "usd", "+44", True, ("High Street", "Station Road", "Church Lane", "Victoria Road"),
     (("London", None, "EC1A 1BB"), ("Manchester", None, "M1 1AE"), ("Leeds", None, "LS1 4AP"))),
    ("DE", 20, "eur", "+49", False, ("Hauptstraße", "Bahnhofstraße", "Friedrichstraße", "Gartenweg"),
     (("Berlin", None, "10117"), ("München", None, "80331"), ("Hamburg", None, "20095"), ("Köln", None, "50667"))),
    ("FR", 12, "eur", "+33", True, ("rue de la Paix", "avenue Victor Hugo", "boulevard Voltaire"),
     (("Paris", None, "75002"), ("Lyon", None, "69002"), ("Marseille", None, "13001"))),
    ("NL", 8, "eur", "+31", False, ("Kerkstraat", "Dorpsstraat", "Stationsweg"),
     (("Amsterdam", None, "1012 AB"), ("Utrecht", None, "3511 AA"), ("Rotterdam", None, "3011 AD"))),
    ("CA", 8, "usd", "+1", True, ("King Street", "Queen Street", "Yonge Street"),
     (("Toronto", "ON", "M5H 2N2"), ("Vancouver", "BC", "V6B 1A1"), ("Montréal", "QC", "H2Y 1C6"))),
    ("AU", 7, "usd", "+61", True, ("George Street", "Collins Street", "Queen Street"),
     (("Sydney", "NSW", "2000"), ("Melbourne", "VIC", "3000"), ("Brisbane", "QLD", "4000"))),
)
EU_VAT = {"DE", "FR", "NL"}
TAX_RATE = {"usd": 0, "eur": 19}  # percent added to an invoice's subtotal
SYMBOL = {"usd": "$", "eur": "€"}
PERIOD = {"month": 30 * DAY, "year": 365 * DAY}
# product id, its weight, unit amount per month, per year (the same number in either currency)
PLANS = (("prod_starter", 45, 900, 9000), ("prod_pro", 40, 2900, 29000), ("prod_team", 15, 1200, 12000))
PRODUCT_NAMES = {p["id"]: p["name"] for p in PRODUCTS}
STATUSES = (("active", 80), ("trialing", 6), ("past_due", 4), ("canceled", 10))
BRANDS = (("visa", 50), ("mastercard", 30), ("amex", 12), ("discover", 5), ("jcb", 2), ("unionpay", 1))
# cards a customer has, for customers with and without a subscription: about 1.3 overall
CARDS_SUBSCRIBED = ((1, 60), (2, 30), (3, 10))
CARDS_OTHERS = ((0, 40), (1, 45), (2, 15))
# How many of its latest billing periods a subscription has invoices for, if it has lasted that long.
# Young and yearly subscriptions have had fewer periods, so this averages more than the 3 they come to.
INVOICES = ((1, 12), (2, 16), (3, 20), (4, 20), (5, 14), (6, 10), (8, 8))


class Plan(NamedTuple):
    """What a subscription bills each period."""

    price: str
    unit: int  # unit amount, in the currency's minor unit
    quantity: int
    currency: str
    product: str  # the product's name
    interval: str


class StoreNotEmpty(Exception):
    """The store already holds billing objects, and the caller did not ask to wipe them."""


@dataclass
class Generated:
    counts: dict[str, int]
    email: str
    customer: str
    seconds: float


class Random(random.Random):
    """Choices that cost one random number each: randrange's exact uniformity is not needed here,
    and it is several times slower."""

    def between(self, low: int, high: int) -> int:
        return low + int(self.random() * (high - low))

    def pick(self, values: tuple[Any, ...]) -> Any:
        return values[int(self.random() * len(values))]


class Weighted:
    """A choice by weight that costs one random number and a bisection, for choices made millions of times."""

    def __init__(self, table: tuple[tuple[Any, ...], ...], whole: bool = False):
        """`table` holds (value, weight) pairs, or with `whole` tuples whose second item is their weight."""
        self.values = [row if whole else row[0] for row in table]
        total = sum(row[1] for row in table)
        self.bounds = [weight / total for weight in accumulate(row[1] for row in table)]

    def __call__(self, rng: Random) -> Any:
        return self.values[min(bisect.bisect(self.bounds, rng.random()), len(self.values) - 1)]


COUNTRY = Weighted(COUNTRIES, whole=True)
PLAN = Weighted(PLANS, whole=True)
STATUS = Weighted(STATUSES)
BRAND = Weighted(BRANDS)
CARD_COUNT = {True: Weighted(CARDS_SUBSCRIBED), False: Weighted(CARDS_OTHERS)}
INVOICE_COUNT = Weighted(INVOICES)


def price_id(product: str, interval: str, currency: str) -> str:
    return f"price_{product.removeprefix('prod_')}_{interval}ly_{currency}"


def catalogue() -> dict[str, list[dict[str, Any]]]:
    """The products and their prices, as an import file would hold them."""
    prices = []
    for product, _, monthly, yearly in PLANS:
        for interval, amount in (("month", monthly), ("year", yearly)):
            for currency in ("usd", "eur"):
                per_seat = ", per seat" if product == "prod_team" else ""
                prices.append({
                    "id": price_id(product, interval, currency), "object": "price", "product": product,
                    "currency": currency, "unit_amount": amount,
                    "nickname": f"{PRODUCT_NAMES[product]} {interval}ly{per_seat}", "type": "recurring",
                    "recurring": {"interval": interval, "interval_count": 1}, "active": True, "created": 1_600_000_000,
                })
    return {"products": [dict(p, created=1_600_000_000) for p in PRODUCTS], "prices": prices}


class Ids:
    """Stripe-like ids ("cus_" and 14 letters and digits), cut from one long random string per batch."""

    LENGTH = 14

    def __init__(self, rng: Random):
        self.rng = rng
        self.pool = ""
        self.at = 0

    def __call__(self, prefix: str) -> str:
        if self.at + self.LENGTH > len(self.pool):
            # base64 of random bytes, with its two punctuation characters made letters
            self.pool = base64.b64encode(self.rng.randbytes(3 << 16)).decode().translate({43: "x", 47: "Q"})
            self.at = 0
        self.at += self.LENGTH
        return prefix + self.pool[self.at - self.LENGTH : self.at]


class Batch:
    """The rows of one batch of customers, kind by kind, from a random generator of its own."""

    def __init__(self, seed: int, start: int, now: int):
        self.rng = Random(f"{seed}/{start}")
        self.ids = Ids(self.rng)
        self.now = now
        self.year = time.gmtime(now).tm_year
        self.rows: dict[str, list[tuple[Any, ...]]] = {kind: [] for kind in billing.KINDS}
        self.columns: dict[str, tuple[str, ...]] = {}
        # One customer to sign in as: the first, until a typical one turns up.
        self.sample: tuple[str, str] | None = None
        self.typical = False

    def add(self, kind: str, obj: dict[str, Any]) -> None:
        row = billing.row(kind, obj)
        if kind not in self.columns:
            self.columns[kind] = tuple(row)
        self.rows[kind].append(tuple(row.values()))

    def customers(self, start: int, count: int) -> None:
        rng = self.rng
        made = 0
        while made < count:
            size = min(rng.pick((2, 3)) if rng.random() < SHARED else 1, count - made)
            first, last = rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES)
            given, family = ASCII[first], ASCII[last]
            # The number, the index of the group's first customer, keeps every address unique.
            local = rng.pick((f"{given}.{family}", f"{given[0]}{family}", f"{given}{family[0]}", f"{given}_{family}"))
            email = f"{local}{start + made}@{rng.pick(DOMAINS)}"
            for member in range(size):
                spelt = email if member == 0 else rng.pick((email, email.capitalize(), email.upper()))
                self.customer(spelt, f"{first} {last}", shared=size > 1)
            made += size

    def customer(self, email: str, name: str, shared: bool) -> None:
        rng, now = self.rng, self.now
        cid = self.ids("cus_")
        created = now - rng.between(2 * DAY, 4 * 365 * DAY)
        subscribed = rng.random() < SUBSCRIBED
        country, _, currency, dial, number_first, streets, cities = COUNTRY(rng)
        address = None
        if rng.random() < 0.6:
            city, state, postal_code = rng.pick(cities)
            street, number = rng.pick(streets), rng.between(1, 300)
            address = {
                "line1": f"{number} {street}" if number_first else f"{street} {number}",
                "line2": rng.pick((None, None, None, f"Apt {rng.between(1, 60)}")),
                "city": city, "state": state, "postal_code": postal_code, "country": country,
            }
        else:
            currency = "usd" if rng.random() < 0.75 else "eur"
        phone = f"{dial} {rng.between(200, 999)} {rng.between(1_000_000, 9_999_999)}" if rng.random() < 0.3 else None
        shipping = {"name": name, "phone": phone, "address": address} if address and rng.random() < 0.15 else None
        tax_ids = []
        if address and country in EU_VAT and rng.random() < 0.2:
            tax_ids.append({"id": self.ids("txi_"), "object": "tax_id", "type": "eu_vat",
                            "value": f"{country}{rng.between(100_000_000, 999_999_999)}"})
        cards = self.cards(cid, name, created, CARD_COUNT[subscribed](rng))
        self.add("customers", {
            "id": cid, "object": "customer", "email": email, "name": name, "created": created, "phone": phone,
            "address": address, "shipping": shipping, "tax_ids": {"object": "list", "data": tax_ids},
            "invoice_settings": {"default_payment_method": cards[-1] if cards else None},
            "metadata": {"crm_id": f"internal-{cid}"},
        })
        status, invoices = self.subscription(cid, created, currency) if subscribed else (None, 0)
        typical = status == "active" and invoices > 0 and bool(cards) and not shared
        if self.sample is None or typical and not self.typical:
            self.sample, self.typical = (email, cid), typical

    def cards(self, customer: str, name: str, created: int, count: int) -> list[str]:
        """Adds the customer's cards, oldest first; returns their ids."""
        rng = self.rng
        ids: list[str] = []
        added = created
        for _ in range(count):
            added += rng.between(0, 200 * DAY) if ids else rng.between(0, DAY)
            pid = self.ids("pm_")
            ids.append(pid)
            self.add("payment_methods", {
                "id": pid, "object": "payment_method", "type": "card", "customer": customer,
                "created": min(added, self.now),
                "card": {"brand": BRAND(rng), "last4": f"{rng.between(0, 10_000):04d}",
                         "exp_month": rng.between(1, 13), "exp_year": self.year + rng.between(-1, 7)},
                "billing_details": {"name": name if rng.random() < 0.5 else None, "email": None},
            })
        return ids

    def subscription(self, customer: str, created: int, currency: str) -> tuple[str, int]:
        """Adds one subscription and its invoices; returns its status and how many invoices it has."""
        rng, now = self.rng, self.now
        sid = self.ids("sub_")
        product, _, monthly, yearly = PLAN(rng)
        interval = "year" if rng.random() < 0.2 else "month"
        period = PERIOD[interval]
        plan = Plan(price_id(product, interval, currency), monthly if interval == "month" else yearly,
                    rng.between(2, 26) if product == "prod_team" else 1, currency, PRODUCT_NAMES[product], interval)
        status = STATUS(rng)
        start = min(created + rng.between(0, 60 * DAY), now - DAY)
        sub: dict[str, Any] = {
            "cancel_at_period_end": False, "cancel_at": None, "canceled_at": None, "ended_at": None,
            "trial_start": None, "trial_end": None,
        }
        if status == "trialing":
            start = max(created, now - rng.between(DAY, 14 * DAY))
            end = start + 14 * DAY
            sub.update(trial_start=start, trial_end=end)
            billed = 0
        elif status == "canceled":
            billed = max(1, min(rng.between(1, 13 if interval == "month" else 3), (now - start) // period))
            # Ended at the end of its last period, or at once when it did not last one.
            end = start + billed * period
            ended = min(end, now - DAY)
            sub.update(canceled_at=max(start, ended - rng.between(0, 20 * DAY)), ended_at=ended)
        else:
            billed = (now - start) // period + 1
            end = start + billed * period
            if status == "active" and rng.random() < 0.06:
                sub.update(cancel_at_period_end=True, cancel_at=end)
        self.add("subscriptions", {
            "id": sid, "object": "subscription", "customer": customer, "status": status, "created": start,
            "start_date": start, "current_period_start": end - (14 * DAY if status == "trialing" else period),
            "current_period_end": end, **sub, "currency": currency,
            "items": {"object": "list", "data": [
                {"id": self.ids("si_"), "object": "subscription_item", "quantity": plan.quantity,
                 "price": plan.price}
            ]},
            "metadata": {},
        })
        count = min(billed, INVOICE_COUNT(rng))
        for n in range(billed - count, billed):
            unpaid = status == "past_due" and n == billed - 1
            self.invoice(customer, sid, plan, n + 1, start + n * period, unpaid)
        return status, count

    def invoice(self, customer: str, subscription: str, plan: Plan, number: int, created: int, unpaid: bool) -> None:
        """Adds the invoice for a subscription's `number`th period, which starts at `created`."""
        rng = self.rng
        period, currency, quantity = PERIOD[plan.interval], plan.currency, plan.quantity
        amount = plan.unit * quantity
        each = f"{SYMBOL[currency]}{plan.unit / 100:.2f} / {plan.interval}"
        lines: list[dict[str, Any]] = [{
            "id": self.ids("il_"), "object": "line_item", "description": f"{quantity} × {plan.product} (at {each})",
            "amount": amount, "currency": currency, "quantity": quantity, "price": plan.price,
            "period": {"start": created, "end": created + period},
        }]
        if number > 1 and rng.random() < 0.25:
            # A change of seats or plan during the period before, charged for the time that was left.
            since = created - rng.between(DAY, period)
            lines.append({
                "id": self.ids("il_"), "object": "line_item",
                "description": f"Remaining time on {quantity} × {plan.product} after "
                               f"{time.strftime('%d %b %Y', time.gmtime(since))}",
                "amount": amount * (created - since) // period, "currency": currency, "quantity": quantity,
                "price": plan.price, "period": {"start": since, "end": created},
            })
        subtotal = sum(line["amount"] for line in lines)
        tax = subtotal * TAX_RATE[currency] // 100
        total = subtotal + tax
        status = "open" if unpaid else "void" if rng.random() < 0.01 else "paid"
        paid = total if status == "paid" else 0
        self.add("invoices", {
            # Numbered as Stripe does: the customer's own prefix, then a sequence.
            "id": self.ids("in_"), "object": "invoice", "customer": customer,
            "number": f"{customer[4:12].upper()}-{number:04d}",
            "subscription": subscription, "created": created, "period_start": created, "period_end": created + period,
            "currency": currency, "subtotal": subtotal, "tax": tax, "total": total, "amount_due": total,
            "amount_paid": paid, "amount_remaining": total if status == "open" else 0, "status": status,
            "hosted_invoice_url": None, "invoice_pdf": None,
            "lines": {"object": "list", "data": lines},
        })

    def sorted_rows(self, kind: str) -> list[tuple[Any, ...]]:
        # In order of creation, as a store filled over time holds them: one customer's
        # invoices lie apart, not side by side as they were made.
        created = self.columns[kind].index("created")
        return sorted(self.rows[kind], key=lambda row: row[created])


def _prepare(engine: sa.Engine, replace: bool) -> None:
    tables = [table for table, _ in billing.KINDS.values()]
    with engine.begin() as conn:
        held = any(conn.execute(sa.select(sa.literal(1)).select_from(t).limit(1)).first() for t in tables)
        if held and not replace:
            raise StoreNotEmpty("the store already holds billing objects; --replace wipes them first")
        if held and engine.dialect.name == "postgresql":
            conn.execute(sa.text(f"TRUNCATE {', '.join(t.name for t in tables)}"))
        elif held:
            for table in tables:
                conn.execute(table.delete())


def batches(customers: int, seed: int, now: int) -> Iterator[Batch]:
    for start in range(0, customers, BATCH):
        batch = Batch(seed, start, now)
        if start == 0:
            for kind, objects in catalogue().items():
                for obj in objects:
                    batch.add(kind, obj)
        batch.customers(start, min(BATCH, customers - start))
        yield batch


def _writer(dbapi: Any, dialect: str) -> Callable[[Batch], Batch]:
    """Writes a batch in one transaction: COPY on PostgreSQL, executemany on SQLite."""

    def write(batch: Batch) -> Batch:
        if dialect == "sqlite":
            dbapi.execute("BEGIN")
        for kind, (table, _) in billing.KINDS.items():
            if not batch.rows[kind]:
                continue
            names = ", ".join(batch.columns[kind])
            if dialect == "postgresql":
                with dbapi.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                    for row in batch.sorted_rows(kind):
                        copy.write_row(row)
            else:
                marks = ", ".join("?" * len(batch.columns[kind]))
                dbapi.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", batch.sorted_rows(kind))
        dbapi.commit()
        return batch

    return write


def generate(
    engine: sa.Engine, customers: int = 1_000_000, seed: int = 1, *, replace: bool = False,
    progress: Callable[[str], None] | None = None, now: int = NOW,
) -> Generated:
    """Fill the store with `customers` customers and everything they have; see the module's docstring."""
    started = time.perf_counter()
    migrate(engine)
    _prepare(engine, replace)
    dialect = engine.dialect.name
    counts = dict.fromkeys(billing.KINDS, 0)
    samples = []

    def written(batch: Batch) -> None:
        for kind, rows in batch.rows.items():
            counts[kind] += len(rows)
        samples.append(batch.sample)
        if progress:
            done = counts["customers"]
            progress(f"{done:>11,} / {customers:,} customers, {time.perf_counter() - started:6.1f} s")

    raw = engine.raw_connection()
    driver: Any = raw.driver_connection
    try:
        if dialect == "sqlite":
            # The indexes on random ids take inserts all over them; a large page cache for
            # this connection keeps them in memory instead of rereading pages from disk.
            driver.execute("PRAGMA cache_size=-524288")
        write = _writer(driver, dialect)
        # One batch is written (by SQLite or the server, mostly outside the GIL) while the next is built.
        with ThreadPoolExecutor(max_workers=1) as writer:
            pending: list[Future[Batch]] = []
            for batch in batches(customers, seed, now):
                pending.append(writer.submit(write, batch))
                if len(pending) > 1:
                    written(pending.pop(0).result())
            for future in pending:
                written(future.result())
        if dialect == "sqlite":
            driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        # Closed, not returned to the pool: its page cache was sized for the load, not for what comes next.
        raw.invalidate()
    if dialect == "postgresql":
        # Statistics and the visibility map now, or autovacuum does it during the benchmark that follows.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f"VACUUM ANALYZE {', '.join(t.name for t, _ in billing.KINDS.values())}"))
    email, customer = next(sample for sample in samples if sample)
    return Generated(counts, email, customer, time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database-url", required=True, help="sqlite:///path or postgresql://...")
    parser.add_argument("--customers", type=int, default=1_000_000, help="how many (default: 1,000,000)")
    parser.add_argument("--seed", type=int, default=1, help="the same seed makes the same data (default: 1)")
    parser.add_argument("--replace", action="store_true", help="wipe the billing tables first")
    args = parser.parse_args()
    if args.customers < 1:
        parser.error("--customers must be at least 1")
    engine = create_engine(args.database_url)
    try:
        made = generate(engine, args.customers, args.seed, replace=args.replace, progress=print)
        if engine.dialect.name == "sqlite":
            where = engine.url.database or ""
            size = os.path.getsize(where)
        else:
            with engine.connect() as conn:
                where = conn.execute(sa.text("SELECT current_database()")).scalar_one()
                size = conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one()
    except StoreNotEmpty as exc:
        print(f"generate: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    for kind, count in made.counts.items():
        print(f"{kind:>16}: {count:>11,}")
    print(f"in {made.seconds:.1f} s; {where} takes {size / 1e9:.2f} GB")
    print(f"sign in as {made.email} ({made.customer})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
