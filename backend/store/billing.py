"""Stripe-shaped billing objects: upsert them, find a customer by email, read a customer's billing."""

from __future__ import annotations

from typing import Any, Iterable

import sqlalchemy as sa

from backend import emails, jsonio
from backend.store import tables
from backend.store.database import hold

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


class ObjectError(ValueError):
    """An object to import lacks what the store needs; the message says which and why."""


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


def _id_of(kind: str, obj: dict[str, Any], field: str) -> str | None:
    value = ref(obj.get(field))
    if value is not None and not isinstance(value, str):
        raise ObjectError(f"{KINDS[kind][1]} {obj['id']} needs \"{field}\" as an id, or an object with an \"id\"")
    return value


def row(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The table row that stores `obj`: its id, the columns queries filter on, and its JSON whole."""
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str) or not obj["id"]:
        raise ObjectError(f"each of {kind} needs a string \"id\"")
    created = _seconds(obj.get("created") or 0)
    if created is None:
        raise ObjectError(f"{KINDS[kind][1]} {obj['id']} needs \"created\" as Unix seconds, such as 1700000000")
    row: dict[str, Any] = {"id": obj["id"], "created": created}
    if kind == "prices":
        row["product"] = _id_of(kind, obj, "product")
    elif kind == "customers":
        email = obj.get("email")
        row["email_lower"] = email.strip().lower() if isinstance(email, str) and email.strip() else None
    elif kind in ("payment_methods", "subscriptions", "invoices"):
        row["customer"] = _id_of(kind, obj, "customer")
        if kind == "subscriptions":
            if not isinstance(obj.get("status"), str):
                raise ObjectError(f"subscription {obj['id']} needs a \"status\"")
            row["status"] = obj["status"]
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
SIGNS_IN_AS = WITH_EMAIL.limit(1)


def customer_for_email(conn: sa.Connection, email: str) -> str | None:
    """The customer an email signs in as: the newest with an active or trialing
    subscription, else the newest with that address (case-insensitive, its domain in either
    of its forms, Unicode or ASCII)."""
    return conn.execute(SIGNS_IN_AS, {"emails": emails.lookup_forms(email)}).scalar()


def customers_for_email(conn: sa.Connection, email: str) -> list[str]:
    """Every customer with the address, as customer_for_email finds them, in the order it prefers them."""
    return list(conn.execute(WITH_EMAIL, {"emails": emails.lookup_forms(email)}).scalars())


def customers_with_subscriptions(conn: sa.Connection, ids: list[str]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each of these customers that is stored, in the order given, with its subscriptions (newest first,
    prices and products expanded)."""
    found = {c["id"]: c for c in _load(conn.execute(
        sa.select(tables.customers.c.data).where(tables.customers.c.id.in_(ids))
    ))}
    table = tables.subscriptions
    rows = conn.execute(
        sa.select(table.c.customer, table.c.data).where(table.c.customer.in_(ids))
        .order_by(table.c.created.desc(), table.c.id.desc())
    ).all()
    subscriptions = [(row.customer, jsonio.loads(row.data)) for row in rows]
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


def get(conn: sa.Connection, kind: str, object_id: str) -> dict[str, Any] | None:
    table = KINDS[kind][0]
    data = conn.execute(sa.select(table.c.data).where(table.c.id == object_id)).scalar()
    return None if data is None else jsonio.loads(data)


def owned(conn: sa.Connection, kind: str, customer_id: str, object_id: str) -> dict[str, Any] | None:
    """An object by id, only if it belongs to the customer: others' ids look like missing ones."""
    table = KINDS[kind][0]
    data = conn.execute(
        sa.select(table.c.data).where(table.c.id == object_id, table.c.customer == customer_id)
    ).scalar()
    return None if data is None else jsonio.loads(data)


def expand_prices(conn: sa.Connection, subscriptions: list[dict[str, Any]]) -> None:
    """Put each item's price, with its product, into the subscription, as Stripe's expand does."""
    items = [item for sub in subscriptions for item in (sub.get("items") or {}).get("data", [])]
    price_ids = {ref(item.get("price")) for item in items} - {None}
    if not price_ids:
        return
    prices: dict[str, Any] = {}
    products: dict[str, Any] = {}
    found = conn.execute(PRICES_WITH_PRODUCTS, {"prices": list(price_ids)})
    for price_data, product_data in found:
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
        price = dict(prices.get(ref(price), price if isinstance(price, dict) else {"id": price}))
        product = price.get("product")
        # A product expanded in the file but missing from the store is kept as the file gave it.
        fallback = product if isinstance(product, dict) else {"id": product, "name": product}
        price["product"] = products.get(ref(product), fallback)
        item["price"] = price


PORTAL_PARTS = ("customer", "subscriptions", "invoices", "payment_methods", "retention_offers")


def _portal_part(number: int, table: sa.Table, key: sa.Column[Any], limit: int | None = None) -> sa.Select[Any]:
    ident = next(iter(table.primary_key))
    query = sa.select(sa.literal(number).label("part"), table.c.created, ident.label("id"), table.c.data)
    query = query.where(key == sa.bindparam("customer"))
    if limit is not None:
        # A branch of a UNION cannot carry its own LIMIT in SQLite; a subquery can.
        query = sa.select(query.order_by(table.c.created.desc(), ident.desc()).limit(limit).subquery())
    return query


# Built once: making a statement and its cache key costs more than running it.
PORTAL_OBJECTS = sa.union_all(
    _portal_part(0, tables.customers, tables.customers.c.id),
    _portal_part(1, tables.subscriptions, tables.subscriptions.c.customer),
    _portal_part(2, tables.invoices, tables.invoices.c.customer, INVOICE_PAGE),
    _portal_part(3, tables.payment_methods, tables.payment_methods.c.customer),
    _portal_part(4, tables.retention_offers, tables.retention_offers.c.customer),
).order_by(sa.literal_column("part"), sa.literal_column("created").desc(), sa.literal_column("id").desc())
PRICES_WITH_PRODUCTS = (
    sa.select(tables.prices.c.data, tables.products.c.data.label("product"))
    .outerjoin(tables.products, tables.products.c.id == tables.prices.c.product)
    .where(tables.prices.c.id.in_(sa.bindparam("prices", expanding=True)))
)


def portal(conn: sa.Connection, customer_id: str) -> dict[str, Any] | None:
    """Everything the portal page shows of one customer: the API's hottest read, so it is one
    query for the customer's own objects (newest first) and one for the prices they use."""
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in PORTAL_PARTS}
    for part, _created, _id, data in conn.execute(PORTAL_OBJECTS, {"customer": customer_id}):
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


def has_subscription(conn: sa.Connection, customer_id: str, statuses: Iterable[str]) -> bool:
    """Whether the customer has a subscription in one of these statuses."""
    table = tables.subscriptions
    query = sa.select(sa.literal(1)).where(table.c.customer == customer_id, table.c.status.in_(list(statuses))).limit(1)
    return conn.execute(query).first() is not None


def invoice_page(
    conn: sa.Connection, customer_id: str, limit: int, after: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], bool]:
    """Up to `limit` of the customer's invoices, newest first (created, then id, descending), from just
    after the invoice `after` when given; and whether more follow. Keyset paging: a page costs the same
    however deep it is, and invoices added meanwhile neither repeat nor skip one."""
    table = tables.invoices
    query = sa.select(table.c.data).where(table.c.customer == customer_id)
    if after is not None:
        created = _seconds(after.get("created") or 0) or 0
        query = query.where(sa.or_(
            table.c.created < created, sa.and_(table.c.created == created, table.c.id < after["id"])
        ))
    found = _load(conn.execute(query.order_by(table.c.created.desc(), table.c.id.desc()).limit(limit + 1)))
    return found[:limit], len(found) > limit
