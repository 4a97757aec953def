"""Stripe's events applied to the store, by id, so that an event Stripe delivers twice, or to two
processes at once, is applied once (backend.stripe_webhooks).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stripe_events",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("created", sa.BigInteger, nullable=False),
        sa.Column("applied_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_stripe_events_applied_at", "stripe_events", ["applied_at"])


def downgrade() -> None:
    op.drop_index("ix_stripe_events_applied_at", "stripe_events")
    op.drop_table("stripe_events")
