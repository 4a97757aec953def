"""What every API request passes before an endpoint sees it: cross-site rules,
content type, body size and nesting, and the headers every answer carries (SPEC section 7)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from backend import jsonio
from backend.errors import MERCHANT_PREFIX, APIError

MAX_BODY = 16 * 1024
# The merchant's API takes whole batches of objects (POST /v1/import): a few thousand fit.
MERCHANT_MAX_BODY = 4 * 1024 * 1024
MERCHANT_TYPES = ("application/x-www-form-urlencoded", "application/json")
# The portal's API, for its pages, and the merchant's, for the merchant's servers (SPEC section 11).
API_PREFIXES = ("/api/", MERCHANT_PREFIX)
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

    # Each model's validator is built with its first body, not at import: some 10 ms of every start
    # for the API's bodies and parameters together, a fraction of a millisecond on a first request.
    model_config = ConfigDict(extra="forbid", str_max_length=2000, defer_build=True)


class Guard:
    """Refuses cross-site and malformed requests under /api/, and any request from a browser under /v1/.

    `signed` paths are let through untouched: servers, not browsers, send to them (Stripe's webhooks),
    with no Origin, no cookie and bodies of their own size, and the endpoint admits a request only by
    its signature."""

    def __init__(self, origins: Iterable[str], routes: Iterable[BaseRoute] = (), signed: Iterable[str] = ()):
        self.origins = set(origins)
        self.routes = list(routes)
        self.signed = set(signed)

    def refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        """Why this request is refused, as (status, code, message), or None to let it through."""
        path = scope["path"]
        if path.startswith("/api/") and path not in self.signed:
            return self._refusal(Request(scope))
        if path.startswith(MERCHANT_PREFIX):
            return self._merchant_refusal(Request(scope))
        return None

    def _routed(self, scope: Scope) -> bool:
        """Whether a route takes this path and method; if none does, the router's 404 or 405 is the answer."""
        return not self.routes or any(route.matches(scope)[0] is Match.FULL for route in self.routes)

    def _refusal(self, request: Request) -> tuple[int, str, str] | None:
        origin = request.headers.get("origin")
        # The request's own origin only when there is one to compare: making the URL costs more than the check.
        allowed = origin is not None and (origin in self.origins or origin == f"{request.url.scheme}://{request.url.netloc}")
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

    def _merchant_refusal(self, request: Request) -> tuple[int, str, str] | None:
        """The merchant's API is called by servers with a secret key: a browser sends an Origin, or a
        Sec-Fetch-Site other than "none" (what it sends for an address typed in), and is refused whatever
        the origin, so that a page can never spend the key."""
        fetch_site = request.headers.get("sec-fetch-site")
        if request.headers.get("origin") is not None or (fetch_site is not None and fetch_site != "none"):
            return 403, "cross_site", "The merchant API is for servers: browsers may not call it."
        if request.method in STATE_CHANGING and self._routed(request.scope):
            content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            # A POST with no parameters may come with no body at all, as `curl -X POST -u KEY:` sends it.
            empty = request.headers.get("content-length", "0") == "0" and "transfer-encoding" not in request.headers
            if content_type not in MERCHANT_TYPES and not (empty and "content-type" not in request.headers):
                return 415, "unsupported_media_type", "Send the parameters as application/x-www-form-urlencoded or application/json."
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MERCHANT_MAX_BODY):
            return 413, "payload_too_large", f"The request body is larger than {MERCHANT_MAX_BODY} bytes."
        return None


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes `limit` (a Content-Length may be missing)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise APIError(413, "payload_too_large", f"The request body is larger than {limit} bytes.")
    return body


async def json_body(request: Request, model: type[Model]) -> Model:
    """The request body parsed into `model`: capped, well-formed, no unknown fields."""
    body = await read_body(request, MAX_BODY)
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
