"""The one error model of the HTTP API: code raises APIError, the edge answers {"error": {"code", "message"}}.

A raise inside a transaction rolls it back, so a refusal never leaves half a change behind. The
one exception is `Refused` (see there). Every code is listed once, in CODES, with its status and a
sentence in English; the pages say each in the customer's language by code: PAGE_TEXT names the
page string for each code a customer can meet, and the build writes it into the pages' strings,
where site/assets/js/refusals.js reads it."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request

from backend.jsonio import JSONResponse

# code -> (HTTP status, what it means in English). An error's own message may say more.
CODES: dict[str, tuple[int, str]] = {
    "invalid_request": (400, "The request is not valid."),
    "invalid_json": (400, "The request body is not valid JSON."),
    "invalid_quantity": (400, "Choose a quantity the plan allows."),
    "invalid_address": (400, "Check the address."),
    "invalid_phone": (400, "Check the phone number."),
    "invalid_tax_id": (400, "Check the tax ID."),
    "duplicate_tax_id": (400, "This tax ID is already in the list."),
    "parameter_unknown": (400, "The request has a parameter this endpoint does not take."),
    "parameter_missing": (400, "A required parameter is missing."),
    "parameter_invalid": (400, "A parameter's value is not valid."),
    "resource_missing": (400, "A parameter names an object that does not exist."),
    "invalid_import": (400, "An object of the import cannot be stored."),
    "invalid_signature": (400, "The Stripe-Signature header does not match the body."),
    "currency_mismatch": (400, "This plan is not sold in the subscription's currency."),
    "not_signed_in": (401, "Sign in to continue."),
    "api_key_required": (401, "No API key provided."),
    "invalid_api_key": (401, "Invalid API key provided."),
    "invalid_code": (401, "The code is wrong, used or expired. Ask for a new code."),
    "portal_link_invalid": (401, "This portal link has expired or was already used. Ask for a new one."),
    "card_declined": (402, "The card was declined."),
    "feature_disabled": (403, "This is switched off."),
    "email_locked": (403, "The email address cannot be changed here."),
    "cross_site": (403, "Cross-site requests are not allowed."),
    "not_found": (404, "No such object."),
    "login_disabled": (404, "Sign-in is switched off for this portal."),
    "method_not_allowed": (405, "This endpoint does not take that method."),
    "already_default": (409, "This is already the default payment method."),
    "last_payment_method": (409, "Add another payment method before removing this one."),
    "not_cancelable": (409, "This subscription cannot be canceled."),
    "not_resumable": (409, "This subscription is not set to cancel."),
    "not_updatable": (409, "This subscription's plan cannot be changed."),
    "offer_used": (409, "This subscription has had the offer already."),
    "invoice_not_payable": (409, "This invoice has nothing left to pay."),
    "import_disabled": (409, "billing.engine is stripe: the data comes from Stripe, not from imports."),
    "billing_refused": (409, "The billing system refused the change."),
    "payload_too_large": (413, "The request body is too large."),
    "unsupported_media_type": (415, "Send the request body as application/json."),
    "idempotency_mismatch": (422, "This Idempotency-Key was used for a different request."),
    "rate_limited": (429, "Too many requests. Try again later."),
    "internal_error": (500, "Something went wrong on our side."),
    "unavailable": (503, "The service is briefly unavailable. Try again in a moment."),
    "billing_unavailable": (503, "The billing system does not answer. Try again in a moment."),
    "not_configured": (503, "A setting this needs is not set."),
}

# What the pages say, in the customer's language, for the codes a customer meets in a dialog:
# code -> the key of a translated string (site/templates/partials/strings.html). Refusals they
# cannot fix in a field are `refusals`; those naming a field to fix are `fields`. Any other code
# is said by its status (site/assets/js/refusals.js).
PAGE_TEXT: dict[str, dict[str, str]] = {
    "refusals": {
        "feature_disabled": "unavailable", "last_payment_method": "last_payment_method", "offer_used": "offer_used",
        "not_cancelable": "not_cancelable", "not_updatable": "not_updatable", "card_declined": "card_declined",
        "billing_unavailable": "billing_unavailable", "billing_refused": "billing_refused",
        "invoice_not_payable": "invoice_not_payable", "portal_link_invalid": "portal_link_invalid",
    },
    "fields": {
        "duplicate_tax_id": "fix_duplicate_tax_id", "invalid_quantity": "fix_quantity",
        "currency_mismatch": "fix_currency",
    },
}


class APIError(Exception):
    """Raised anywhere below the HTTP edge; turned into the JSON error shape there."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None, param: str | None = None,
        example: str | None = None,
    ):
        super().__init__(message)
        assert CODES.get(code, (status,))[0] == status, f"{code} is listed in CODES with another status"
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.param = param
        self.example = example


def refuse(code: str, message: str | None = None, param: str | None = None) -> APIError:
    """The error for a listed code, with its status and, unless given, its sentence."""
    status, default = CODES[code]
    return APIError(status, code, message or default, param=param)


class Refused(Exception):
    """A refusal that keeps what its transaction wrote: Database.run commits, then raises `error`.

    The one use is sign-in: a wrong code is refused, yet the try must still be counted, or
    guessing would cost nothing (backend/signin.py, verify_code). Everything else raises
    APIError, and the transaction rolls back."""

    def __init__(self, error: APIError):
        super().__init__(error.message)
        self.error = error


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None, param: str | None = None,
    example: str | None = None,
) -> JSONResponse:
    """The one error shape; `param` names the offending field, as Stripe's errors do, so a form can mark it,
    and `example` a value of the form the field wants, for a page to put in its own language's words."""
    error = {"code": code, "message": message} | ({"param": param} if param else {}) | ({"example": example} if example else {})
    return JSONResponse({"error": error}, status_code=status, headers=headers)


# The merchant's API (SPEC section 11) answers its errors in Stripe's shape, so that Stripe's SDKs raise
# their own exceptions for them: {"error": {"type", "message", "code", "param"?}}.
MERCHANT_PREFIX = "/v1/"
# Porch's codes that Stripe has a name of its own for.
STRIPE_CODES = {"not_found": "resource_missing", "rate_limited": "rate_limit"}


def stripe_type(status: int) -> str:
    """Stripe's error type, which its SDKs choose the exception class by, with the status."""
    return "api_error" if status >= 500 else "invalid_request_error"


def stripe_error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None, param: str | None = None,
) -> JSONResponse:
    error = {"type": stripe_type(status), "code": STRIPE_CODES.get(code, code), "message": message}
    return JSONResponse({"error": error | ({"param": param} if param else {})}, status_code=status, headers=headers)


def error_at(
    path: str, status: int, code: str, message: str, headers: Mapping[str, str] | None = None,
    param: str | None = None, example: str | None = None,
) -> JSONResponse:
    """The error in the shape of the API `path` belongs to: Stripe's under /v1/, Porch's own elsewhere."""
    if path.startswith(MERCHANT_PREFIX):
        return stripe_error_response(status, code, message, headers, param)
    return error_response(status, code, message, headers, param, example)


def internal_error(headers: dict[str, str] | None = None, path: str = "") -> JSONResponse:
    """The answer to a fault of the server's own: it tells the client nothing of what went wrong."""
    return error_at(path, 500, "internal_error", "Something went wrong on our side.", headers)


async def api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, APIError)
    return error_at(request.url.path, exc.status, exc.code, exc.message, exc.headers, exc.param, exc.example)
