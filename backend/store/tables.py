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
    "invoices",
    sa.Column("customer", sa.String(255)),
    # Null where the invoice gives none; drafts are filtered out in SQL so that pages stay full.
    sa.Column("status", sa.String(32)),
    indexes=(("customer", "created"),),
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
    # Who asked, as an HMAC: a new code voids only the older codes the same client asked for.
    sa.Column("client_hash", sa.String(64), nullable=True),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("customer", sa.String(255), nullable=False, index=True),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("last_seen", sa.BigInteger, nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False, default=False),
    # The lower-cased address the sign-in code proved: the customers the session may switch to are its.
    # Not secret (the challenges table holds it too) but needed as text, to look customers up by it.
    sa.Column("email", sa.String(320), nullable=True),
    # The configuration (config.yaml `configurations`) whose settings the session sees, and where the customer
    # goes back to: a portal session's (backend.portal_sessions); the top level's for the email sign-in.
    sa.Column("configuration", sa.String(64), nullable=False, server_default="default"),
    sa.Column("return_url", sa.Text, nullable=True),
)

# Portal sessions the merchant's app created, until their link is opened once (backend.portal_sessions).
# Only an HMAC of the link's token is kept.
portal_sessions = sa.Table(
    "portal_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("customer", sa.String(255), nullable=False),
    sa.Column("configuration", sa.String(64), nullable=False),
    sa.Column("return_url", sa.Text, nullable=True),
    sa.Column("locale", sa.String(16), nullable=True),
    # The flow the portal opens into, as the session's answer has it (JSON), or null.
    sa.Column("flow", sa.Text, nullable=True),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False, index=True),
    sa.Column("redeemed", sa.Boolean, nullable=False),
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

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("customer", sa.String(255), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("object_id", sa.String(255), nullable=False),
    sa.Column("client", sa.String(100), nullable=False),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Index("ix_audit_log_customer_at", "customer", "at"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("customer", sa.String(255), nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Index("ix_events_created", "created"),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(64), nullable=False, index=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.BigInteger, nullable=False),
    sa.Column("last_status", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("delivered_at", sa.BigInteger),
    sa.Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("scope", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("created", sa.BigInteger, nullable=False, index=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
)

# Amounts Porch charged or credited against a subscription's period outside a stored invoice:
# prorations waiting for the next invoice, and credits put on the customer's balance.
prorations = sa.Table(
    "prorations",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("subscription", sa.String(255), nullable=False),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Index("ix_prorations_subscription_at", "subscription", "at"),
)

# Retention offers taken, kept by Porch itself: an import rewrites the subscription, not this.
retention_offers = sa.Table(
    "retention_offers",
    metadata,
    sa.Column("subscription", sa.String(255), primary_key=True),
    sa.Column("customer", sa.String(255), nullable=False, index=True),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("data", sa.Text, nullable=False),
)

# `python -m backend sync`: where the last run of each step got to (backend.stripe_sync). The row
# "run" is the run itself; the others are its steps, each with the id of the last object committed.
stripe_sync = sa.Table(
    "stripe_sync",
    metadata,
    sa.Column("step", sa.String(32), primary_key=True),
    # The run's start, by this machine's clock: the next incremental run lists events from here.
    sa.Column("started_at", sa.BigInteger, nullable=False),
    # Null while the step (or, on the "run" row, the run) is unfinished: a re-run continues it.
    sa.Column("finished_at", sa.BigInteger, nullable=True),
    sa.Column("cursor", sa.String(255), nullable=True),
    # Run row only: null for a full run; else the time the incremental run lists events from.
    sa.Column("since", sa.BigInteger, nullable=True),
    # Run row only: JSON lists of event ids. `seen`: events that already existed when the run began,
    # whose changes it read anyway; `skipped`: the previous run's `seen`, which this run skips.
    sa.Column("seen", sa.Text, nullable=True),
    sa.Column("skipped", sa.Text, nullable=True),
)


# Stripe's events applied to the store (backend.stripe_webhooks): a second delivery of one finds its id here.
stripe_events = sa.Table(
    "stripe_events",
    metadata,
    sa.Column("id", sa.String(255), primary_key=True),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("applied_at", sa.BigInteger, nullable=False, index=True),
)

# The claim of the sync that is running (backend.stripe_sync): one row while a run holds the store.
# A run renews `expires_at` with each page it commits; a claim past it is a crashed run's, and lapses.
sync_lock = sa.Table(
    "sync_lock",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    # Which run: its process and host, and a token of its own (two threads of one process are two runs).
    sa.Column("owner", sa.String(255), nullable=False),
    sa.Column("started_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
)

# The merchant API's secret keys (backend.api_keys): only an HMAC of each key is kept, never the key.
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    # The key's last characters, for the list to tell keys apart by; too few to help a guess.
    sa.Column("last4", sa.String(4), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("last_used", sa.BigInteger, nullable=True),
    sa.Column("revoked", sa.BigInteger, nullable=True),
)
