"""Stripe-shaped billing objects: upsert them, find a customer by email, read a customer's billing."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from backend import emails, jsonio
from backend.store import tables
from backend.store.database import Compiled, hold

# import file key -> (table, Stripe "object" value)
KINDS = {
    "products": (tables.products, "product"),
    "prices": (tables.prices, "price"),
    "customers": (tables.customers, "customer"),
    "payment_methods": (tables.payment_methods, "payment_method"),
    "subscriptions": (tables.subscriptions, "subscription"),
    "invoices": (tables.invoices, "invoice"),
}
ACTIVE = ("active", "trialing")
INVOICE_PAGE = 24


def ref(value: Any) -> str | None:
    """Stripe fields such as `customer` hold an id or, when expanded, the object itself."""
    if isinstance(value, dict):
        return value.get("id")
    return value


def _seconds(value: Any) -> int | None:
    """Unix seconds that fit a 64-bit column, or None when the value cannot be that."""
    try:
        seconds = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return seconds if -(2**63) <= seconds < 2**63 else None


def row(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The table row that stores `obj` (checked and shaped by backend.stripe_objects, or written by
    Porch itself): its id, the columns queries filter on, and its JSON whole."""
    row: dict[str, Any] = {"id": obj["id"], "created": obj.get("created") or 0}
    if kind == "prices":
        row["product"] = ref(obj.get("product"))
    elif kind == "customers":
        email = obj.get("email")
        row["email_lower"] = email.strip().lower() if isinstance(email, str) and email.strip() else None
    elif kind in ("payment_methods", "subscriptions", "invoices"):
        row["customer"] = ref(obj.get("customer"))
        if kind == "subscriptions":
            row["status"] = obj["status"]
        elif kind == "invoices":
            row["status"] = obj.get("status")
    row["data"] = jsonio.dumps(obj).decode()
    return row


def upsert(conn: sa.Connection, kind: str, objects: Iterable[dict[str, Any]]) -> int:
    """Insert or replace objects by id; returns how many were written."""
    table = KINDS[kind][0]
    # An id listed twice (overlapping export pages) is one object: the later copy wins.
    rows = list({built["id"]: built for built in (row(kind, obj) for obj in objects)}.values())
    if not rows:
        return 0
    ids = [row["id"] for row in rows]
    for start in range(0, len(ids), 500):
        conn.execute(table.delete().where(table.c.id.in_(ids[start : start + 500])))
    conn.execute(table.insert(), rows)
    return len(rows)


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), 500):
        yield ids[start : start + 500]


def _delete(conn: sa.Connection, table: sa.Table, column: sa.Column[Any], ids: list[str]) -> int:
    return sum(conn.execute(table.delete().where(column.in_(chunk))).rowcount for chunk in _chunks(ids))


def remove(conn: sa.Connection, kind: str, ids: list[str]) -> dict[str, int]:
    """Remove objects Stripe deleted, and what only they owned; returns how many of each kind went.

    A deleted customer takes its subscriptions, invoices and payment methods (no one else can see
    them), Porch's records of those subscriptions, and its sessions: whoever was signed in as it is
    signed out. A deleted subscription takes Porch's records of it. A deleted product leaves its
    prices, so subscriptions on them still show (by the price's nickname): Stripe deletes only
    products without prices, and a merchant who archived one still bills its customers."""
    removed = dict.fromkeys(KINDS, 0)
    if not ids:
        return removed
    removed[kind] = _delete(conn, KINDS[kind][0], KINDS[kind][0].c.id, ids)
    subscriptions = ids if kind == "subscriptions" else []
    if kind == "customers":
        subscriptions = [found for chunk in _chunks(ids) for found in conn.execute(
            sa.select(tables.subscriptions.c.id).where(tables.subscriptions.c.customer.in_(chunk))).scalars()]
        for owned_kind in ("subscriptions", "invoices", "payment_methods"):
            table = KINDS[owned_kind][0]
            removed[owned_kind] += _delete(conn, table, table.c.customer, ids)
        _delete(conn, tables.sessions, tables.sessions.c.customer, ids)
    _delete(conn, tables.prorations, tables.prorations.c.subscription, subscriptions)
    _delete(conn, tables.retention_offers, tables.retention_offers.c.subscription, subscriptions)
    return removed


def payment_method_ids(conn: sa.Connection, customer_ids: list[str]) -> set[str]:
    """The ids of the payment methods stored for these customers."""
    table = tables.payment_methods
    return {found for chunk in _chunks(customer_ids)
            for found in conn.execute(sa.select(table.c.id).where(table.c.customer.in_(chunk))).scalars()}


_HAS_ACTIVE = (
    sa.select(sa.literal(1))
    .where(tables.subscriptions.c.customer == tables.customers.c.id)
    .where(tables.subscriptions.c.status.in_(ACTIVE))
    .exists()
)
# Built once, as every sign-in and every portal read runs them. One index (email_lower, created) serves both.
WITH_EMAIL = (
    sa.select(tables.customers.c.id)
    .where(tables.customers.c.email_lower.in_(sa.bindparam("emails", expanding=True)))
    .order_by(sa.case((_HAS_ACTIVE, 1), else_=0).desc(), tables.customers.c.created.desc(), tables.customers.c.id.desc())
)
SIGNS_IN_AS = Compiled(WITH_EMAIL.limit(1))
ALL_WITH_EMAIL = Compiled(WITH_EMAIL)
CUSTOMERS_DATA = Compiled(
    sa.select(tables.customers.c.data).where(tables.customers.c.id.in_(sa.bindparam("ids", expanding=True))))
SUBSCRIPTIONS_OF_CUSTOMERS = Compiled(
    sa.select(tables.subscriptions.c.customer, tables.subscriptions.c.data)
    .where(tables.subscriptions.c.customer.in_(sa.bindparam("ids", expanding=True)))
    .order_by(tables.subscriptions.c.created.desc(), tables.subscriptions.c.id.desc())
)


def customer_for_email(conn: sa.Connection, email: str) -> str | None:
    """The customer an email signs in as: the newest with an active or trialing
    subscription, else the newest with that address (case-insensitive, its domain in either
    of its forms, Unicode or ASCII)."""
    found = SIGNS_IN_AS.rows(conn, emails=emails.lookup_forms(email))
    return found[0][0] if found else None


def customers_for_email(conn: sa.Connection, email: str) -> list[str]:
    """Every customer with the address, as customer_for_email finds them, in the order it prefers them."""
    return [customer for customer, in ALL_WITH_EMAIL.rows(conn, emails=emails.lookup_forms(email))]


def customers_with_subscriptions(conn: sa.Connection, ids: list[str]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each of these customers that is stored, in the order given, with its subscriptions (newest first,
    prices and products expanded)."""
    found = {c["id"]: c for c in (jsonio.loads(data) for data, in CUSTOMERS_DATA.rows(conn, ids=ids))}
    subscriptions = [(customer, jsonio.loads(data)) for customer, data in SUBSCRIPTIONS_OF_CUSTOMERS.rows(conn, ids=ids)]
    expand_prices(conn, [sub for _, sub in subscriptions])
    return [(found[i], [sub for owner, sub in subscriptions if owner == i]) for i in ids if i in found]


def _load(rows: Iterable[Any]) -> list[dict[str, Any]]:
    return [jsonio.loads(row.data) for row in rows]


def subscriptions_of(conn: sa.Connection, customer_id: str) -> list[dict[str, Any]]:
    return _load(conn.execute(
        sa.select(tables.subscriptions.c.data).where(tables.subscriptions.c.customer == customer_id)
    ))


def lock_customer(conn: sa.Connection, customer_id: str) -> None:
    """Serialise one customer's changes until the transaction ends, so two at once cannot lose one."""
    hold(conn, "customer:" + customer_id)


@functools.cache
def _by_id(kind: str) -> Compiled:
    # Compiled: sign-in reads the customer twice (the verify, the mail worker), and building the
    # select cost more than running it.
    table = KINDS[kind][0]
    return Compiled(sa.select(table.c.data).where(table.c.id == sa.bindparam("id")))


def get(conn: sa.Connection, kind: str, object_id: str) -> dict[str, Any] | None:
    found = _by_id(kind).rows(conn, id=object_id)
    return jsonio.loads(found[0][0]) if found else None


# A draft is the merchant's work in progress: until it is finalised the customer sees nothing of it.
# The status column is null where the invoice gave none, and NULL != 'draft' is not true in SQL.
SHOWN_INVOICE = sa.or_(tables.invoices.c.status.is_(None), tables.invoices.c.status != "draft")


def owned(conn: sa.Connection, kind: str, customer_id: str, object_id: str) -> dict[str, Any] | None:
    """An object by id, only if it belongs to the customer and is shown to them: others' ids, and
    draft invoices, look like missing ones."""
    table = KINDS[kind][0]
    query = sa.select(table.c.data).where(table.c.id == object_id, table.c.customer == customer_id)
    data = conn.execute(query.where(SHOWN_INVOICE) if kind == "invoices" else query).scalar()
    return None if data is None else jsonio.loads(data)


def expand_prices(conn: sa.Connection, subscriptions: list[dict[str, Any]]) -> None:
    """Put each item's price, with its product, into the subscription, as Stripe's expand does."""
    items = [item for sub in subscriptions for item in (sub.get("items") or {}).get("data", [])]
    price_ids = {ref(item.get("price")) for item in items} - {None}
    if not price_ids:
        return
    prices: dict[str, Any] = {}
    products: dict[str, Any] = {}
    for price_data, product_data in PRICES_WITH_PRODUCTS.rows(conn, prices=list(price_ids)):
        price = jsonio.loads(price_data)
        prices[price["id"]] = price
        if product_data is not None:
            product = jsonio.loads(product_data)
            products[product["id"]] = product
    inline = {ref(item["price"].get("product")) for item in items if isinstance(item.get("price"), dict)}
    if missing := inline - set(products) - {None}:
        products |= {p["id"]: p for p in _load(conn.execute(
            sa.select(tables.products.c.data).where(tables.products.c.id.in_(missing))
        ))}
    for item in items:
        price = item.get("price")
        price = dict(prices.get(ref(price) or "", price if isinstance(price, dict) else {"id": price}))
        product = price.get("product")
        # A product expanded in the file but missing from the store is kept as the file gave it; one
        # known by id only is named by the price's nickname (the page has a generic name): never by its id.
        fallback = product if isinstance(product, dict) else {"id": product, "name": price.get("nickname")}
        price["product"] = products.get(ref(product) or "", fallback)
        item["price"] = price


PORTAL_PARTS = ("customer", "subscriptions", "invoices", "payment_methods", "retention_offers")


def _portal_part(number: int, table: sa.Table, key: sa.Column[Any], limit: int | None = None,
                 shown: sa.ColumnElement[bool] | None = None) -> sa.Select[Any]:
    ident = next(iter(table.primary_key))
    query = sa.select(sa.literal(number).label("part"), table.c.created, ident.label("id"), table.c.data)
    query = query.where(key == sa.bindparam("customer"))
    if shown is not None:
        query = query.where(shown)
    if limit is not None:
        # A branch of a UNION cannot carry its own LIMIT in SQLite; a subquery can.
        query = sa.select(query.order_by(table.c.created.desc(), ident.desc()).limit(limit).subquery())
    return query


# Built once: making a statement and its cache key costs more than running it.
PORTAL_OBJECTS = Compiled(sa.union_all(
    _portal_part(0, tables.customers, tables.customers.c.id),
    _portal_part(1, tables.subscriptions, tables.subscriptions.c.customer),
    _portal_part(2, tables.invoices, tables.invoices.c.customer, INVOICE_PAGE, SHOWN_INVOICE),
    _portal_part(3, tables.payment_methods, tables.payment_methods.c.customer),
    _portal_part(4, tables.retention_offers, tables.retention_offers.c.customer),
).order_by(sa.literal_column("part"), sa.literal_column("created").desc(), sa.literal_column("id").desc()))
PRICES_WITH_PRODUCTS = Compiled(
    sa.select(tables.prices.c.data, tables.products.c.data.label("product"))
    .outerjoin(tables.products, tables.products.c.id == tables.prices.c.product)
    .where(tables.prices.c.id.in_(sa.bindparam("prices", expanding=True)))
)


def portal(conn: sa.Connection, customer_id: str) -> dict[str, Any] | None:
    """Everything the portal page shows of one customer: the API's hottest read, so it is one
    query for the customer's own objects (newest first) and one for the prices they use."""
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in PORTAL_PARTS}
    for part, _created, _id, data in PORTAL_OBJECTS.rows(conn, customer=customer_id):
        found[PORTAL_PARTS[part]].append(jsonio.loads(data))
    if not found["customer"]:
        return None
    expand_prices(conn, found["subscriptions"])
    return {"customer": found["customer"][0]} | {name: found[name] for name in PORTAL_PARTS[1:]}


def payment_methods_of(conn: sa.Connection, customer_id: str) -> list[dict[str, Any]]:
    """A customer's payment methods, newest first."""
    table = tables.payment_methods
    return _load(conn.execute(
        sa.select(table.c.data).where(table.c.customer == customer_id).order_by(table.c.created.desc(), table.c.id.desc())
    ))


def invoice_page(
    conn: sa.Connection, customer_id: str, limit: int, after: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], bool]:
    """Up to `limit` of the customer's invoices but drafts, newest first (created, then id, descending), from just
    after the invoice `after` when given; and whether more follow. Keyset paging: a page costs the same
    however deep it is, and invoices added meanwhile neither repeat nor skip one."""
    table = tables.invoices
    query = sa.select(table.c.data).where(table.c.customer == customer_id, SHOWN_INVOICE)
    if after is not None:
        created = _seconds(after.get("created") or 0) or 0
        query = query.where(sa.or_(
            table.c.created < created, sa.and_(table.c.created == created, table.c.id < after["id"])
        ))
    found = _load(conn.execute(query.order_by(table.c.created.desc(), table.c.id.desc()).limit(limit + 1)))
    return found[:limit], len(found) > limit
