"""Calling the business layer without HTTP: one transaction on the seeded store, with the LocalEngine,
or with the stripe engine on a Stripe client the test gives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import stripe
from helpers import NOW

from backend.config import parse_config
from backend.context import Context
from backend.engine import Engine
from backend.events import Actor
from backend.local_engine import LocalEngine
from backend.stripe_engine import StripeEngine

BUSINESS = "business: {name: Acme, support_email: billing@acme.example}\n"


def act(db, settings, fn: Callable[..., Any], *args: Any, config: str = "", customer: str = "cus_jenny",
        now: int = NOW, stripe_client: stripe.StripeClient | None = None) -> Any:
    """`fn(ctx, *args)` as `customer`, committed unless it raises; with `stripe_client`, billing.engine stripe."""
    if stripe_client is not None:
        config += "billing: {engine: stripe}\n"
    parsed = parse_config(BUSINESS + config)[0]
    engine = LocalEngine(parsed, settings) if stripe_client is None else cast(Engine, StripeEngine(stripe_client, parsed))
    return db.run(lambda conn: fn(Context.of(conn, parsed, engine, Actor(customer, "203.0.113.9", now)), *args))
