"""Who is asking: the request's time, client address, cookie security and signed-in customer."""

from __future__ import annotations

from starlette.requests import Request

from backend import sessions
from backend.errors import APIError

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def now(request: Request) -> int:
    return int(request.app.state.clock())


def secure(request: Request) -> bool:
    # Secure may be dropped only on plain-HTTP localhost, where browsers would refuse it.
    return not (request.url.scheme == "http" and request.url.hostname in LOCAL_HOSTS)


def session_token(request: Request) -> str | None:
    return request.cookies.get(sessions.cookie_name(secure(request)))


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def signed_in(request: Request) -> str:
    """The customer id of the request's live session, or 401."""
    token = session_token(request)
    state = request.app.state
    if not token:
        raise APIError(401, "not_signed_in", "Sign in to continue.")
    at = now(request)
    customer, stale = await state.db.read(sessions.customer_for, state.secret, token, at)
    if not customer:
        raise APIError(401, "not_signed_in", "Sign in to continue.")
    if stale:
        await state.db.call(sessions.touch, state.secret, token, at)
    return customer
