"""What a business function works with: one transaction, the config, who asks, and the engine.

The pipeline (backend/pipeline.py) makes one per request; a test makes one with `Context.of`
and calls the business functions directly, without HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from backend import keys
from backend.config import Config
from backend.engine import Call, Engine
from backend.events import Actor


@dataclass(frozen=True)
class Context:
    conn: sa.Connection
    config: Config
    actor: Actor
    engine: Engine
    call: Call
    params: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    query: Mapping[str, str] = field(default_factory=dict)
    # Where the customer goes back to on the merchant's site: their session's return address, else the
    # configuration's default_return_url.
    return_url: str | None = None

    @property
    def customer(self) -> str:
        return self.actor.customer

    @classmethod
    def of(cls, conn: sa.Connection, config: Config, engine: Engine, actor: Actor, key: str | None = None,
           locale: str = "en", **more: Any) -> Context:
        """Without a request's Idempotency-Key the engine's calls get a fresh key: they are new calls."""
        return cls(conn, config, actor, engine, Call(conn, actor, key or keys.token(), locale), **more)
