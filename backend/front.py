"""The one middleware every request passes, in one call and with one wrapper around `send`: the client's
address and scheme from a trusted proxy, the guard's refusals, CORS, the API's headers, compression, and
the answer to an exception. Seven stacked layers did this before, most wrapping `send` again."""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, cast

import brotli
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from backend.errors import MERCHANT_PREFIX, error_at
from backend.guards import API_HEADER_NAMES, API_HEADERS, API_PREFIXES, Guard
from backend.static import accepted_codings

Handler = Callable[[Request, Exception], Awaitable[Response]]
# Smaller answers gain less than the header and the work cost.
MINIMUM_SIZE = 1024
# Quality 5: most of what 11 saves on JSON, at a small part of its time.
BROTLI_QUALITY = 5
# zlib's default: 9 made a portal answer no smaller.
GZIP_LEVEL = 6


def compressible(media_type: str) -> bool:
    """Text, JSON, JavaScript, XML and SVG shrink; images, fonts and archives are compressed already."""
    media_type = media_type.partition(";")[0].strip().lower()
    return media_type.startswith("text/") or media_type.endswith(("json", "javascript", "xml"))


class Encoder:
    """One answer's Brotli or gzip stream."""

    def __init__(self, encoding: str):
        self.encoding = encoding
        if encoding == "br":
            self.brotli = brotli.Compressor(quality=BROTLI_QUALITY, mode=brotli.MODE_TEXT)
        else:
            self.gzip = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)

    def chunk(self, data: bytes, last: bool) -> bytes:
        """`data` compressed; all of it goes out now, so that a streamed answer reaches the client as it comes."""
        if self.encoding == "br":
            return self.brotli.process(data) + (self.brotli.finish() if last else self.brotli.flush())
        return self.gzip.compress(data) + self.gzip.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


class Front:
    """What stands between the server and the router.

    - A trusted proxy's X-Forwarded-For and X-Forwarded-Proto become the client's address and scheme
      (uvicorn's rules).
    - Under /api/ and /v1/, the guard's refusals (backend/guards.py) are answered before any route runs.
    - CORS for the allowed origins everywhere but /v1/, which browsers must not call (the guard refuses them
      there, preflights included); a preflight is answered here.
    - Every answer under /api/ and /v1/ carries the API's headers: refusals, preflights, 404s, 405s, errors.
    - Answers of compressible types from 1 KB up go out in Brotli to clients that take it, gzip otherwise; the
      site's files come precompressed (Content-Encoding set) and pass as they are.
    - `handlers` answer the exceptions they name, whether an endpoint or the router raised them (the routes
      find them in the scope); any other exception is answered with `fault` and raised on to the server, which
      logs it.
    """

    def __init__(self, app: ASGIApp, *, trusted_proxies: Iterable[str], guard: Guard, cors: Mapping[str, Any],
                 handlers: Mapping[type[Exception], Handler], fault: Handler):
        self.app = app
        trusted = list(trusted_proxies)
        # cast: uvicorn types ASGI apps more narrowly than Starlette does.
        self.proxies = cast(ASGIApp, ProxyHeadersMiddleware(cast(Any, _nothing), trusted)) if trusted else None
        self.guard = guard
        # Starlette's CORS rules (`cors` is its options), asked for preflights and origins but never called:
        # the answers of allowed origins carry what CORSMiddleware would put on them.
        self.cors = CORSMiddleware(app, **cors)
        self.handlers = dict(handlers)
        self.fault = fault

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.proxies is not None:
            # uvicorn's own code rewrites the scope's client and scheme; its app does nothing.
            await self.proxies(scope, receive, send)
        # Where a route's own wrapper finds the handlers (starlette.middleware.exceptions does the same).
        scope["starlette.exception_handlers"] = (self.handlers, {})
        path = scope["path"]
        api = path.startswith(API_PREFIXES)
        cors = not path.startswith(MERCHANT_PREFIX)
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        taken = accepted_codings(headers.get("accept-encoding", ""))
        encoding = "br" if "br" in taken else "gzip" if "gzip" in taken else None
        encoder: Encoder | None = None
        held: Message | None = None  # the start of an answer that may yet be compressed
        started = False

        async def reply(message: Message) -> None:
            nonlocal held, started, encoder
            kind = message["type"]
            if kind == "http.response.start":
                started = True
                message.setdefault("headers", [])
                if api:
                    message["headers"] = [h for h in message["headers"] if h[0] not in API_HEADER_NAMES] + API_HEADERS
                answer = MutableHeaders(scope=message)
                if cors:
                    self._cors(answer, origin)
                if (encoding is None or message["status"] == 206 or "content-encoding" in answer
                        or not compressible(answer.get("content-type", ""))):
                    await send(message)
                else:
                    held = message
                return
            if held is None:
                if encoder is not None and kind == "http.response.body":
                    message["body"] = encoder.chunk(message.get("body", b""), not message.get("more_body", False))
                await send(message)
                return
            start, held = held, None
            body = message.get("body", b"")
            more = message.get("more_body", False)
            if kind == "http.response.body" and (more or len(body) >= MINIMUM_SIZE):
                assert encoding is not None  # held only when there is one
                encoder = Encoder(encoding)
                answer = MutableHeaders(scope=start)
                answer["Content-Encoding"] = encoding
                answer.add_vary_header("Accept-Encoding")
                message["body"] = encoder.chunk(body, not more)
                if more:
                    del answer["Content-Length"]
                else:
                    answer["Content-Length"] = str(len(message["body"]))
            await send(start)
            await send(message)

        try:
            # A preflight before the guard, which would refuse one from a disallowed origin: CORS's 400 says why.
            if cors and origin is not None and scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
                await self.cors.preflight_response(headers)(scope, receive, reply)
            elif api and (refusal := self.guard.refusal(scope)):
                await error_at(path, *refusal)(scope, receive, reply)
            else:
                await self.app(scope, receive, reply)
        except Exception as exc:
            if started:
                raise
            handler = next((self.handlers[cls] for cls in type(exc).__mro__ if cls in self.handlers), None)
            await (await (handler or self.fault)(Request(scope), exc))(scope, receive, reply)
            if handler is None:
                raise  # on to the server, which logs the traceback

    def _cors(self, headers: MutableHeaders, origin: str | None) -> None:
        """Starlette's CORSMiddleware.send, on headers already open for writing."""
        if origin is not None:
            headers.update(self.cors.simple_headers)
            if self.cors.is_allowed_origin(origin):
                headers["Access-Control-Allow-Origin"] = origin
        headers["Vary"] = ", ".join([*headers.getlist("Vary"), "Origin"])


async def _nothing(scope: Scope, receive: Receive, send: Send) -> None:
    """The app behind the proxy rules: they only rewrite the scope, and the request goes on from Front."""
