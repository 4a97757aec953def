"""What every API request passes before an endpoint sees it: cross-site rules,
content type, body size and nesting, and the headers every answer carries (SPEC section 7)."""

from __future__ import annotations

from typing import Any, Iterable, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend import jsonio
from backend.errors import APIError, error_response, internal_error

MAX_BODY = 16 * 1024
# Request bodies are flat forms; nothing the API takes nests more than a few levels.
MAX_DEPTH = 32
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
API_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
]
API_HEADER_NAMES = {name for name, _ in API_HEADERS}
Model = TypeVar("Model", bound=BaseModel)


class Body(BaseModel):
    """A request body: unknown fields are refused, text is bounded."""

    model_config = ConfigDict(extra="forbid", str_max_length=2000)


class APIHeaders:
    """Puts the API's headers on every answer under /api/: the guard's refusals, CORS preflights, the router's
    404 and 405, the endpoints' errors, and a fault's 500, which it answers itself because the server's own
    500 comes from outside every middleware."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [
                    h for h in message.get("headers", []) if h[0].lower() not in API_HEADER_NAMES
                ] + API_HEADERS
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if not started:
                await internal_error()(scope, receive, send_with_headers)
            raise  # on to the server, which logs the traceback


class APIGuard:
    """Refuses cross-site and malformed requests under /api/.

    `signed` paths are let through untouched: servers, not browsers, send to them (Stripe's webhooks),
    with no Origin, no cookie and bodies of their own size, and the endpoint admits a request only by
    its signature."""

    def __init__(self, app: ASGIApp, origins: Iterable[str], routes: Iterable[BaseRoute] = (),
                 signed: Iterable[str] = ()):
        self.app = app
        self.origins = set(origins)
        self.routes = list(routes)
        self.signed = set(signed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        guarded = scope["type"] == "http" and scope["path"].startswith("/api/") and scope["path"] not in self.signed
        refusal = self._refusal(Request(scope)) if guarded else None
        await (error_response(*refusal) if refusal else self.app)(scope, receive, send)

    def _routed(self, scope: Scope) -> bool:
        """Whether a route takes this path and method; if none does, the router's 404 or 405 is the answer."""
        return not self.routes or any(route.matches(scope)[0] is Match.FULL for route in self.routes)

    def _refusal(self, request: Request) -> tuple[int, str, str] | None:
        origin = request.headers.get("origin")
        own = f"{request.url.scheme}://{request.url.netloc}"
        allowed = origin is not None and (origin == own or origin in self.origins)
        if origin is not None and not allowed:
            return 403, "cross_site", "Requests from this origin are not allowed."
        if request.headers.get("sec-fetch-site") == "cross-site" and not allowed:
            return 403, "cross_site", "Cross-site requests are not allowed."
        if request.method in STATE_CHANGING and self._routed(request.scope):
            content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != "application/json":
                return 415, "unsupported_media_type", "Send the request body as application/json."
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            return 413, "payload_too_large", f"The request body is larger than {MAX_BODY} bytes."
        return None


async def json_body(request: Request, model: type[Model]) -> Model:
    """The request body parsed into `model`: capped, well-formed, no unknown fields."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise APIError(413, "payload_too_large", f"The request body is larger than {MAX_BODY} bytes.")
    try:
        data: Any = jsonio.from_client(body or b"{}", MAX_DEPTH)
    except jsonio.TooDeep:
        raise APIError(400, "invalid_json", f"The request body nests deeper than {MAX_DEPTH} levels.") from None
    except ValueError:
        raise APIError(400, "invalid_json", "The request body is not valid JSON.") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        loc = exc.errors()[0]["loc"]
        param = "".join(f"[{p}]" if isinstance(p, int) else ("." if i else "") + str(p) for i, p in enumerate(loc))
        raise APIError(400, "invalid_request", _first_problem(exc), param=param or None) from None


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = ".".join(str(p) for p in error["loc"]) or "body"
    if error["type"] == "extra_forbidden":
        return f"Unknown field '{field}'."
    if error["type"] == "missing":
        return f"Field '{field}' is required."
    if error["type"] == "model_type":
        return "The request body must be a JSON object."
    return f"Field '{field}': {error['msg']}."
