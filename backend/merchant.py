"""The merchant API's edge (SPEC section 11): who calls, and what they send.

A call carries a secret key as Stripe's SDKs send it, as the HTTP Basic user name with an empty
password (`curl -u sk_porch_...:`), or as `Authorization: Bearer sk_porch_...` (what the Python
SDK sends). Parameters come form-encoded, as Stripe's SDKs send them, or as JSON, and are read
into one nested structure, then into the endpoint's model, whose refusals name the parameter in
Stripe's notation (`flow_data[type]`) with Stripe's codes."""

from __future__ import annotations

import base64
import binascii
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from backend import api_keys, auth, forms, jsonio
from backend.errors import APIError
from backend.guards import MAX_DEPTH, MERCHANT_MAX_BODY, read_body

Model = TypeVar("Model", bound=BaseModel)
FORM = "application/x-www-form-urlencoded"


class Params(BaseModel):
    """A merchant endpoint's parameters: unknown ones refused, text bounded. Form values are text, so
    the model reads "true" and "5" as the booleans and numbers its fields want."""

    # Built with the first request, not at import, as the API's bodies are (backend/guards.py).
    model_config = ConfigDict(extra="forbid", str_max_length=5000, defer_build=True)


def presented_key(request: Request) -> str | None:
    """The key the request carries, or None. A header that is not Basic or Bearer carries its whole value,
    to be refused as a wrong key (and counted as one)."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            user, _, _ = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return header
        return user
    return header


async def authenticate(request: Request) -> str:
    """The id of the request's key; 401 or 429 in Stripe's shape otherwise (backend.api_keys)."""
    state = request.app.state
    found: str = await state.db.call(api_keys.authenticate, state.secret, presented_key(request),
                                     auth.client_address(request), auth.now(request))
    return found


def param_name(loc: tuple[Any, ...]) -> str:
    """A parameter's name as Stripe writes it: flow_data[subscription_update_confirm][items][0][price]."""
    # Pydantic names the member of a union that failed (list[any]) among the parameter's parts; no name
    # of a parameter has brackets, so those are left out.
    parts = [part for part in loc if not (isinstance(part, str) and "[" in part)]
    return "".join(str(part) if n == 0 else f"[{part}]" for n, part in enumerate(parts))


def is_form(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip().lower() == FORM


def decoded(body: bytes, form: bool) -> Any:
    """A body's parameters as one nested structure, from a form or from JSON (the guard lets no other
    type through; no body at all is no parameters)."""
    if not form:
        try:
            return jsonio.from_client(body or b"{}", MAX_DEPTH)
        except jsonio.TooDeep:
            raise APIError(400, "invalid_json", f"The request body nests deeper than {MAX_DEPTH} levels.") from None
        except ValueError:
            raise APIError(400, "invalid_json", "The request body is not valid JSON.") from None
    try:
        return forms.decode(body.decode())
    except UnicodeDecodeError:
        raise APIError(400, "parameter_invalid", "The form is not UTF-8 text.") from None
    except forms.FormError as exc:
        raise APIError(400, "parameter_invalid", str(exc), param=exc.param or None) from None


def validated(data: Any, model: type[Model]) -> Model:
    """`data` read into `model`; the first problem refused in Stripe's terms, naming the parameter."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        param = param_name(tuple(error["loc"])) or None
        if error["type"] == "extra_forbidden":
            raise APIError(400, "parameter_unknown", f"Received unknown parameter: {param}", param=param) from None
        if error["type"] == "missing":
            raise APIError(400, "parameter_missing", f"Missing required param: {param}.", param=param) from None
        if error["type"] == "model_type" and not error["loc"]:
            raise APIError(400, "parameter_invalid", "The parameters must be an object of named values.") from None
        raise APIError(400, "parameter_invalid", f"Invalid {param}: {error['msg']}.", param=param) from None


def query(request: Request, model: type[Model]) -> Model:
    """A GET's parameters, from its query string: Stripe's SDKs encode them there as they encode a form."""
    return validated(decoded(request.url.query.encode(), True), model)


async def params(request: Request, model: type[Model]) -> Model:
    """The request's parameters read into `model`. Off the event loop: a body may be megabytes of
    objects (POST /v1/import), whose reading would hold up every other request."""
    body = await read_body(request, MERCHANT_MAX_BODY)
    form = is_form(request)
    return await run_in_threadpool(lambda: validated(decoded(body, form), model))
