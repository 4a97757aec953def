"""Calling the business layer without HTTP: one transaction on the seeded store, with the LocalEngine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conftest import NOW

from backend.config import parse_config
from backend.context import Context
from backend.events import Actor
from backend.local_engine import LocalEngine

BUSINESS = "business: {name: Acme, support_email: billing@acme.example}\n"


def act(db, settings, fn: Callable[..., Any], *args: Any, config: str = "", customer: str = "cus_jenny",
        now: int = NOW) -> Any:
    """`fn(ctx, *args)` as `customer`, committed unless it raises."""
    parsed = parse_config(BUSINESS + config)[0]
    engine = LocalEngine(parsed, settings)
    return db.run(lambda conn: fn(Context.of(conn, parsed, engine, Actor(customer, "203.0.113.9", now)), *args))
