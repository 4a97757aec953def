"""Invoices keep their status in a column, so that drafts can be left out in SQL and pages stay full.

Revision ID: 0005
Revises: 0004
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(sa.Column("status", sa.String(32), nullable=True))
    # Filled from each stored invoice's JSON, as billing.row() fills it for new ones: a page a time,
    # by id, so that a large store is not held in memory at once.
    invoices = sa.table("invoices", sa.column("id", sa.String), sa.column("data", sa.Text),
                        sa.column("status", sa.String))
    conn = op.get_bind()
    after = ""
    while rows := conn.execute(
        sa.select(invoices.c.id, invoices.c.data).where(invoices.c.id > after).order_by(invoices.c.id).limit(BATCH)
    ).all():
        found = [{"row_id": row.id, "found": status} for row in rows
                 if isinstance(status := json.loads(row.data).get("status"), str) and len(status) <= 32]
        if found:
            conn.execute(invoices.update().where(invoices.c.id == sa.bindparam("row_id"))
                         .values(status=sa.bindparam("found")), found)
        after = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("status")
