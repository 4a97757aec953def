"""The one error shape of the HTTP API: {"error": {"code", "message"}}."""

from __future__ import annotations

from starlette.requests import Request

from backend.jsonio import JSONResponse


class APIError(Exception):
    """Raised anywhere below the HTTP edge; turned into the JSON error shape there."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None, param: str | None = None,
        example: str | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.param = param
        self.example = example


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, param: str | None = None,
    example: str | None = None,
) -> JSONResponse:
    """The one error shape; `param` names the offending field, as Stripe's errors do, so a form can mark it,
    and `example` a value of the form the field wants, for a page to put in its own language's words."""
    error = {"code": code, "message": message} | ({"param": param} if param else {}) | ({"example": example} if example else {})
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def internal_error(headers: dict[str, str] | None = None) -> JSONResponse:
    """The answer to a fault of the server's own: it tells the client nothing of what went wrong."""
    return error_response(500, "internal_error", "Something went wrong on our side.", headers)


async def api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, APIError)
    return error_response(exc.status, exc.code, exc.message, exc.headers, exc.param, exc.example)
