"""The tables. Billing objects keep Stripe's JSON whole in `data`, beside the
few columns that queries filter or sort on, so the API can serve them as stored."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()


def _billing(name: str, *columns: sa.Column, indexes: tuple[tuple[str, ...], ...] = ()) -> sa.Table:
    table = sa.Table(
        name,
        metadata,
        sa.Column("id", sa.String(255), primary_key=True),
        *columns,
        sa.Column("created", sa.BigInteger, nullable=False, default=0),
        sa.Column("data", sa.Text, nullable=False),
    )
    for cols in indexes:
        sa.Index(f"ix_{name}_{'_'.join(cols)}", *(table.c[c] for c in cols))
    return table


products = _billing("products")
prices = _billing("prices", sa.Column("product", sa.String(255)))
customers = _billing(
    "customers", sa.Column("email_lower", sa.String(320)), indexes=(("email_lower", "created"),)
)
payment_methods = _billing(
    "payment_methods", sa.Column("customer", sa.String(255)), indexes=(("customer",),)
)
subscriptions = _billing(
    "subscriptions",
    sa.Column("customer", sa.String(255)),
    sa.Column("status", sa.String(32), nullable=False),
    indexes=(("customer", "status"),),
)
invoices = _billing(
    "invoices", sa.Column("customer", sa.String(255)), indexes=(("customer", "created"),)
)

challenges = sa.Table(
    "challenges",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("email_lower", sa.String(320), nullable=False, index=True),
    sa.Column("code_hash", sa.String(64), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("spent", sa.Boolean, nullable=False, default=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("customer", sa.String(255), nullable=False, index=True),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("last_seen", sa.BigInteger, nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False, default=False),
)

rate_events = sa.Table(
    "rate_events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(400), nullable=False),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Index("ix_rate_events_key_at", "key", "at"),
)

mail_queue = sa.Table(
    "mail_queue",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Column("sealed", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", sa.BigInteger, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Index("ix_mail_queue_status_next", "status", "next_attempt_at"),
)
