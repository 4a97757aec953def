"""The API's one table of operations: each gives the route and its OpenAPI entry,
so no endpoint can exist without being documented."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

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
OBJECT: dict[str, Any] = {"type": "object"}


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

    def route(self) -> Route:
        return Route(self.path, self.endpoint, methods=[self.method.upper()])


def _schema(model: type[BaseModel]) -> tuple[dict[str, Any], dict[str, Any]]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return schema, schema.pop("$defs", {})


def document(operations: list[Operation]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Error": ERROR}
    for op in operations:
        errors = set(op.errors) | ({401} if op.private else set())
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
            entry["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
        success: dict[str, Any] = {"description": "OK"}
        if op.answer is not None:
            success["content"] = {"application/json": {"schema": op.answer}}
        entry["responses"][str(op.status)] = success
        for code in sorted(errors):
            entry["responses"][str(code)] = {
                "description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
            }
        if op.private:
            entry["security"] = [{"session": []}]
        paths.setdefault(op.path, {})[op.method] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "Porch", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "__Host-porch_session"}},
        },
    }
