"""Who is asking: the request's time, client address, cookie security and signed-in customer."""

from __future__ import annotations

from collections.abc import Callable
from http.cookies import SimpleCookie
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
    # Secure may be dropped only on plain-HTTP localhost, where browsers would refuse it. The scheme
    # first: on HTTPS, every request of a deployment, the request's URL is never built.
    return request.scope["scheme"] != "http" or request.url.hostname not in LOCAL_HOSTS


def session_token(request: Request) -> str | None:
    return request.cookies.get(sessions.cookie_name(secure(request))) or request.cookies.get(sessions.FRAMED_COOKIE)


def framed(request: Request) -> bool:
    """Whether the request's session came in the framed (partitioned) cookie."""
    return sessions.cookie_name(secure(request)) not in request.cookies and sessions.FRAMED_COOKIE in request.cookies


def _set_framed_cookie(response: Response, token: str, max_age: int) -> None:
    # Written by hand: Starlette leaves the Partitioned attribute to http.cookies, which has it from Python 3.14.
    cookie: SimpleCookie = SimpleCookie()
    cookie[sessions.FRAMED_COOKIE] = token
    morsel = cookie[sessions.FRAMED_COOKIE]
    for key, value in {"max-age": max_age, "path": "/", "secure": True, "httponly": True, "samesite": "None"}.items():
        morsel[key] = value
    response.headers.append("set-cookie", morsel.OutputString() + "; Partitioned")


def set_session_cookie(request: Request, response: Response, token: str, in_frame: bool = False) -> None:
    """The session's cookie: Lax and first-party, or, for a page in a frame on another site, where a Lax
    cookie is never stored, partitioned by the top-level site. Which sites may be that top level is the
    pages' frame-ancestors (allowed_origins): no other can show a page of Porch's that could ask for it.

    A framed sign-in clears the first-party cookie: where a browser sends both (a frame on the same
    site), that one would be read first and name the session this one replaces."""
    secure_cookie = secure(request)
    name = sessions.cookie_name(secure_cookie)
    if in_frame:
        _set_framed_cookie(response, token, sessions.ABSOLUTE)
        response.delete_cookie(name, path="/", secure=secure_cookie, httponly=True, samesite="lax")
        return
    response.set_cookie(name, token, max_age=sessions.ABSOLUTE, path="/", secure=secure_cookie, httponly=True,
                        samesite="lax")


def clear_session_cookies(request: Request, response: Response) -> None:
    """Both cookies: a sign-out in a frame or out of it ends whichever this browser holds here."""
    secure_cookie = secure(request)
    response.delete_cookie(sessions.cookie_name(secure_cookie), path="/", secure=secure_cookie, httponly=True,
                           samesite="lax")
    _set_framed_cookie(response, "", 0)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _not_signed_in() -> APIError:
    return APIError(401, "not_signed_in", "Sign in to continue.")


async def read_session(request: Request, read: Callable[[sa.Connection, sessions.Live], T]) -> tuple[sessions.Live, T]:
    """The request's live session, or 401, and what `read` finds for it.

    The check and the read are one read of the store (Database.read), on PostgreSQL one trip to a
    worker thread: the portal's hot path pays for one, not two."""
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
    return session, found


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
