"""Billing objects stored before the reader (backend.stripe_objects) are read into its one shape.

Stores imported before it hold whatever API version the merchant's export spoke: a period on the
items only, `discount` instead of `discounts`, an invoice's subscription under `parent`, taxes as
rows only. The rest of Porch now reads one shape, so each stored object is read again here; an
object found expanded inside another is stored as its own kind only where the store has none of
that id. An object the reader refuses (the import before it checked less) is left as it was, and
the portal shows what of it it can, as before.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

from backend import jsonio, stripe_objects
from backend.store import billing

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

PAGE = 1000


def _objects(conn: sa.Connection, table: sa.Table) -> Iterator[Any]:
    """Every stored object of a table, a page at a time, in id order."""
    after = ""
    while True:
        page = conn.execute(sa.select(table.c.id, table.c.data).where(table.c.id > after)
                            .order_by(table.c.id).limit(PAGE)).all()
        yield from page
        if len(page) < PAGE:
            return
        after = page[-1].id


def upgrade() -> None:
    conn = op.get_bind()
    carried: dict[str, dict[str, Any]] = {kind: {} for kind in billing.KINDS}
    for kind, (table, _) in billing.KINDS.items():
        for object_id, data in _objects(conn, table):
            obj = jsonio.loads(data)
            if not isinstance(obj, dict):
                continue
            obj.setdefault("object", stripe_objects.SINGULAR[kind])
            try:
                (_, found), *inside = stripe_objects.normalise(obj)
            except stripe_objects.ObjectError:
                continue
            for inner_kind, inner in inside:
                carried[inner_kind].setdefault(inner["id"], inner)
            if found != obj:
                row = billing.row(kind, found)
                conn.execute(table.update().where(table.c.id == object_id).values(
                    {key: value for key, value in row.items() if key != "id"}))
    for kind, found in carried.items():
        table = billing.KINDS[kind][0]
        ids = list(found)
        for start in range(0, len(ids), 500):
            have = set(conn.execute(sa.select(table.c.id).where(table.c.id.in_(ids[start : start + 500]))).scalars())
            billing.upsert(conn, kind, [found[i] for i in ids[start : start + 500] if i not in have])


def downgrade() -> None:
    # The shapes read here are Stripe's own: older code reads most of them, and nothing is lost.
    pass
