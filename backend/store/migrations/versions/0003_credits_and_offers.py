"""Prorations and credits Porch recorded against a period; retention offers taken.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "prorations",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("subscription", sa.String(255), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
    )
    op.create_index("ix_prorations_subscription_at", "prorations", ["subscription", "at"])
    op.create_table(
        "retention_offers",
        sa.Column("subscription", sa.String(255), primary_key=True),
        sa.Column("customer", sa.String(255), nullable=False),
        sa.Column("created", sa.BigInteger, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_index("ix_retention_offers_customer", "retention_offers", ["customer"])


def downgrade() -> None:
    for name in ("retention_offers", "prorations"):
        op.drop_table(name)
