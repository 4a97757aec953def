"""Portal sessions the merchant's app creates (backend.portal_sessions), and the configuration and return
address a customer's session is bound to.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("customer", sa.String(255), nullable=False),
        sa.Column("configuration", sa.String(64), nullable=False),
        sa.Column("return_url", sa.Text, nullable=True),
        sa.Column("locale", sa.String(16), nullable=True),
        sa.Column("flow", sa.Text, nullable=True),
        sa.Column("created", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False, index=True),
        sa.Column("redeemed", sa.Boolean, nullable=False),
    )
    # Sessions opened before were all from the email sign-in: the top level's settings, its return address.
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("configuration", sa.String(64), nullable=False, server_default="default"))
        batch.add_column(sa.Column("return_url", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("return_url")
        batch.drop_column("configuration")
    op.drop_table("portal_sessions")
