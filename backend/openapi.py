"""The API's one table of operations: each gives the route and its OpenAPI entry,
so no endpoint can exist without being documented."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from backend import __version__

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string", "description": "In English; pages say it in their own words by code and param."},
                "param": {"type": "string", "description": "The field to fix, such as address.postal_code."},
                "example": {"type": "string", "description": "A value of the form the field wants, such as 10117."},
            },
        }
    },
}
# The merchant's API answers errors in Stripe's shape (backend.errors.stripe_error_response).
STRIPE_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "code", "message"],
            "properties": {
                "type": {"type": "string", "enum": ["invalid_request_error", "api_error"]},
                "code": {"type": "string"},
                "message": {"type": "string"},
                "param": {"type": "string", "description": "The parameter at fault, as Stripe names it: flow_data[type]."},
            },
        }
    },
}
OBJECT: dict[str, Any] = {"type": "object"}
MERCHANT_SECURITY: list[dict[str, list[str]]] = [{"merchant_basic": []}, {"merchant_bearer": []}]
SECURITY_SCHEMES = {
    "session": {"type": "apiKey", "in": "cookie", "name": "__Host-porch_session", "description":
                "Or __Host-porch_framed_session (partitioned) for a page in a frame on another site."},
    "merchant_basic": {"type": "http", "scheme": "basic", "description":
                       "A secret key from `python -m backend keys create` as the user name, the password empty: "
                       "what Stripe's SDKs send."},
    "merchant_bearer": {"type": "http", "scheme": "bearer", "description": "The same secret key as a Bearer token."},
}
MERCHANT_TAG = {"name": "merchant", "description":
                "The merchant's API, for the merchant's servers (never browsers): Stripe's paths, parameters "
                "and error shape, so that Stripe's SDKs work with only the API base changed."}


def returns(**properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    endpoint: Callable[[Request], Awaitable[Response]]
    summary: str
    body: type[BaseModel] | None = None
    status: int = 200
    answer: dict[str, Any] | None = field(default_factory=lambda: OBJECT)
    private: bool = True
    errors: tuple[int, ...] = ()
    query: tuple[tuple[str, dict[str, Any]], ...] = ()
    # Whether the operation runs through idempotency.apply, which replays an Idempotency-Key (SPEC section 6)
    # and counts the change against the customer's limit; only those that change something do.
    idempotent: bool = True
    # The merchant's API (/v1/): a secret key, form or JSON parameters, Stripe's error shape.
    merchant: bool = False

    def route(self) -> Route:
        return Route(self.path, self.endpoint, methods=[self.method.upper()])


def _schema(model: type[BaseModel]) -> tuple[dict[str, Any], dict[str, Any]]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return schema, schema.pop("$defs", {})


def document(operations: list[Operation]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Error": ERROR, "StripeError": STRIPE_ERROR}
    for op in operations:
        errors = set(op.errors) | ({401} if op.private else set()) | ({401, 403, 429} if op.merchant else set())
        changes = op.method in ("post", "patch", "delete") and op.private and op.idempotent
        if op.method in ("post", "patch", "delete"):
            errors |= {400, 403, 413, 415}
        if changes:
            errors.add(429)
        entry: dict[str, Any] = {"summary": op.summary, "responses": {}}
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in ("id",) if "{" + name + "}" in op.path
        ] + [{"name": name, "in": "query", "required": False, "schema": schema} for name, schema in op.query]
        if changes:
            parameters.append({"name": "Idempotency-Key", "in": "header", "required": False,
                               "schema": {"type": "string", "pattern": "^[!-~]{1,255}$"}})
        if parameters:
            entry["parameters"] = parameters
        if op.body is not None:
            schema, definitions = _schema(op.body)
            schemas.update(definitions)
            types = ("application/x-www-form-urlencoded", "application/json") if op.merchant else ("application/json",)
            # A merchant call with no parameters may send no body, as Stripe's API takes it.
            entry["requestBody"] = {"required": not op.merchant, "content": {kind: {"schema": schema} for kind in types}}
        success: dict[str, Any] = {"description": "OK"}
        if op.answer is not None:
            success["content"] = {"application/json": {"schema": op.answer}}
        entry["responses"][str(op.status)] = success
        error = "#/components/schemas/" + ("StripeError" if op.merchant else "Error")
        for code in sorted(errors):
            entry["responses"][str(code)] = {
                "description": "Error", "content": {"application/json": {"schema": {"$ref": error}}}
            }
        if op.private:
            entry["security"] = [{"session": []}]
        if op.merchant:
            entry["security"] = MERCHANT_SECURITY
            entry["tags"] = ["merchant"]
        paths.setdefault(op.path, {})[op.method] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "Porch", "version": __version__},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
        "tags": [MERCHANT_TAG],
    }
