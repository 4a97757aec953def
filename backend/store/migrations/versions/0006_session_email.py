"""Sessions remember the email address their code proved, so the customer can switch to any other
customer with that address; read again from the customer it would be whatever an import made it.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Null for sessions opened before: they stay signed in, with no other customers to switch to.
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("email", sa.String(320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("email")
