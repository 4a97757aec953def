"""One portal request's Call, as the business layer gives it to an engine, for tests that call an engine directly."""

from __future__ import annotations

import sqlalchemy as sa

from backend.engine import Call
from backend.events import Actor
from tests.conftest import NOW


def make_call(conn: sa.Connection, customer: str = "cus_x", key: str = "k1", locale: str = "en") -> Call:
    return Call(conn, Actor(customer, "203.0.113.7", NOW), key, locale)
