"""`python -m backend sync` keeps its progress, so that an interrupted run continues where it stopped
and the next run fetches only what changed since the last one began.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stripe_sync",
        sa.Column("step", sa.String(32), primary_key=True),
        sa.Column("started_at", sa.BigInteger, nullable=False),
        sa.Column("finished_at", sa.BigInteger, nullable=True),
        sa.Column("cursor", sa.String(255), nullable=True),
        sa.Column("since", sa.BigInteger, nullable=True),
        sa.Column("seen", sa.Text, nullable=True),
        sa.Column("skipped", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("stripe_sync")
