"""The OpenAPI document of the HTTP API, built from the request models it validates with."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse

from backend import __version__, api

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}
OBJECT = {"type": "object"}
# method, path, summary, request model, success status, success body, signed in, error statuses
OPERATIONS: list[tuple[str, str, str, type[BaseModel] | None, int, dict[str, Any] | None, bool, tuple[int, ...]]] = [
    ("post", "/api/login/code", "Mail a one-time code to a customer's email", api.CodeRequest, 202,
     {"type": "object", "required": ["challenge"], "properties": {"challenge": {"type": "string"}}}, False, (400, 404, 413, 415, 429)),
    ("post", "/api/login/verify", "Exchange a challenge and its code for a session cookie", api.VerifyRequest, 200,
     {"type": "object", "properties": {"customer": OBJECT}}, False, (400, 401, 404, 413, 415, 429)),
    ("post", "/api/logout", "Revoke the session", api.Body, 204, None, False, (400, 415)),
    ("get", "/api/portal", "Everything the portal shows of the signed-in customer", None, 200,
     {"type": "object", "properties": {k: OBJECT for k in ("customer", "business", "features")}
      | {k: {"type": "array", "items": OBJECT} for k in ("subscriptions", "invoices", "payment_methods")}}, True, (401,)),
    ("patch", "/api/customer", "Change the customer's billing details (never the email)", api.CustomerUpdate, 200,
     {"type": "object", "properties": {"customer": OBJECT}}, True, (400, 401, 403, 413, 415)),
    ("get", "/api/invoices/{id}", "One of the customer's invoices", None, 200,
     {"type": "object", "properties": {"invoice": OBJECT}}, True, (401, 403, 404)),
    ("get", "/api/health", "200 when the store answers, 503 otherwise", None, 200, OBJECT, False, (503,)),
]


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for method, path, summary, model, status, body, private, errors in OPERATIONS:
        operation: dict[str, Any] = {"summary": summary, "responses": {}}
        if "{id}" in path:
            operation["parameters"] = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
        if model is not None:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schema.pop("$defs", None)
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
        success: dict[str, Any] = {"description": "OK"}
        if body is not None:
            success["content"] = {"application/json": {"schema": body}}
        operation["responses"][str(status)] = success
        for code in errors:
            operation["responses"][str(code)] = {
                "description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
            }
        if private:
            operation["security"] = [{"session": []}]
        paths.setdefault(path, {})[method] = operation
    schemas: dict[str, Any] = {"Error": ERROR}
    for _, _, _, model, *_ in OPERATIONS:
        if model is not None:
            schemas.update(model.model_json_schema(ref_template="#/components/schemas/{model}").pop("$defs", {}))
    return {
        "openapi": "3.1.0",
        "info": {"title": "Porch", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "__Host-porch_session"}},
        },
    }


async def openapi_json(request: Request) -> JSONResponse:
    return JSONResponse(document())
