"""Challenges remember which client asked for them, so a new code voids only that client's older ones.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Null for challenges made before: a new code from any client still voids those.
    with op.batch_alter_table("challenges") as batch:
        batch.add_column(sa.Column("client_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("challenges") as batch:
        batch.drop_column("client_hash")
