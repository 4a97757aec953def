"""A Call as the business layer makes it, for the tests of the stripe engine's actions."""

from __future__ import annotations

import time

import sqlalchemy as sa

from backend.engine import Call
from backend.events import Actor


def make_call(conn: sa.Connection, customer: str = "cus_x", key: str = "k1", locale: str = "en") -> Call:
    # Stripe checks times such as a proration date against its own clock: the actor's is the real one.
    return Call(conn=conn, actor=Actor(customer=customer, client="test", now=int(time.time())), key=key, locale=locale)
