"""Who is asking: the request's time, client address, cookie security and signed-in customer."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response

from backend import sessions
from backend.config import Config
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


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    secure_cookie = secure(request)
    response.set_cookie(
        sessions.cookie_name(secure_cookie), token, max_age=sessions.ABSOLUTE, path="/", secure=secure_cookie,
        httponly=True, samesite="lax",
    )


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _not_signed_in() -> APIError:
    return APIError(401, "not_signed_in", "Sign in to continue.")


async def read_session(request: Request, read: Callable[[sa.Connection, sessions.Live], T]) -> tuple[sessions.Live, T]:
    """The request's live session, or 401, and what `read` finds for it.

    The check and the read share one transaction and one trip to a worker thread:
    the portal's hot path pays for one, not two."""
    token = session_token(request)
    if not token:
        raise _not_signed_in()
    state = request.app.state
    at = now(request)

    def check_and_read(conn: sa.Connection) -> tuple[sessions.Live | None, T | None]:
        session = sessions.live(conn, state.secret, token, at)
        return session, None if session is None else read(conn, session)

    session, found = await state.db.read(check_and_read)
    if session is None:
        raise _not_signed_in()
    if session.stale:
        await state.db.call(sessions.touch, state.secret, token, at)
    return session, found  # type: ignore[return-value]


async def signed_in(request: Request) -> sessions.Live:
    """The request's live session, or 401."""
    return (await read_session(request, lambda conn, live: None))[0]


def configured(config: Config, session: sessions.Live) -> Config:
    """The settings a session sees: its configuration's. One that config.yaml no longer has (it was
    renamed or removed since the session began) signs the customer out rather than guess at another."""
    try:
        return config.configuration(session.configuration)
    except KeyError:
        raise _not_signed_in() from None
