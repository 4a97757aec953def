"""Who is asking: the request's time, client address, cookie security and signed-in customer."""

from __future__ import annotations

from typing import Callable, TypeVar

import sqlalchemy as sa
from starlette.requests import Request

from backend import sessions
from backend.errors import APIError

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
T = TypeVar("T")


def now(request: Request) -> int:
    return int(request.app.state.clock())


def secure(request: Request) -> bool:
    # Secure may be dropped only on plain-HTTP localhost, where browsers would refuse it.
    return not (request.url.scheme == "http" and request.url.hostname in LOCAL_HOSTS)


def session_token(request: Request) -> str | None:
    return request.cookies.get(sessions.cookie_name(secure(request)))


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _not_signed_in() -> APIError:
    return APIError(401, "not_signed_in", "Sign in to continue.")


async def read_signed_in(request: Request, read: Callable[[sa.Connection, str], T]) -> tuple[str, T]:
    """The customer id of the request's live session, or 401, and what `read` finds for that customer.

    The check and the read share one transaction and one trip to a worker thread:
    the portal's hot path pays for one, not two."""
    token = session_token(request)
    if not token:
        raise _not_signed_in()
    state = request.app.state
    at = now(request)

    def check_and_read(conn: sa.Connection) -> tuple[str | None, bool, T | None]:
        customer, stale = sessions.customer_for(conn, state.secret, token, at)
        return customer, stale, None if customer is None else read(conn, customer)

    customer, stale, found = await state.db.read(check_and_read)
    if customer is None:
        raise _not_signed_in()
    if stale:
        await state.db.call(sessions.touch, state.secret, token, at)
    return customer, found  # type: ignore[return-value]


async def signed_in(request: Request) -> str:
    """The customer id of the request's live session, or 401."""
    return (await read_signed_in(request, lambda conn, customer: None))[0]
