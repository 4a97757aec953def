"""The first schema: billing objects, sign-in challenges, sessions, rate events, mail queue.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
BILLING = {
    "products": [],
    "prices": [sa.Column("product", sa.String(255))],
    "customers": [sa.Column("email_lower", sa.String(320))],
    "payment_methods": [sa.Column("customer", sa.String(255))],
    "subscriptions": [sa.Column("customer", sa.String(255)), sa.Column("status", sa.String(32), nullable=False)],
    "invoices": [sa.Column("customer", sa.String(255))],
}
INDEXES = {
    "customers": ["email_lower", "created"],
    "payment_methods": ["customer"],
    "subscriptions": ["customer", "status"],
    "invoices": ["customer", "created"],
}


def upgrade() -> None:
    for name, columns in BILLING.items():
        op.create_table(
            name,
            sa.Column("id", sa.String(255), primary_key=True),
            *columns,
            sa.Column("created", sa.BigInteger, nullable=False),
            sa.Column("data", sa.Text, nullable=False),
        )
    for name, indexed in INDEXES.items():
        op.create_index(f"ix_{name}_{'_'.join(indexed)}", name, indexed)
    op.create_table(
        "challenges",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("email_lower", sa.String(320), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("spent", sa.Boolean, nullable=False),
    )
    op.create_index("ix_challenges_email_lower", "challenges", ["email_lower"])
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("customer", sa.String(255), nullable=False),
        sa.Column("created", sa.BigInteger, nullable=False),
        sa.Column("last_seen", sa.BigInteger, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
    )
    op.create_index("ix_sessions_customer", "sessions", ["customer"])
    op.create_table(
        "rate_events",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_rate_events_key_at", "rate_events", ["key", "at"])
    op.create_table(
        "mail_queue",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("created", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("sealed", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger, nullable=False),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_mail_queue_status_next", "mail_queue", ["status", "next_attempt_at"])


def downgrade() -> None:
    for name in ("mail_queue", "rate_events", "sessions", "challenges", *reversed(BILLING)):
        op.drop_table(name)
