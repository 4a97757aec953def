"""The one error model: every code listed once with its status, and Refused, the one refusal that commits."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from backend.errors import CODES, APIError, Refused, error_at
from backend.store.tables import rate_events

BACKEND = Path(__file__).resolve().parent.parent / "backend"


def raised_codes() -> set[tuple[int, str]]:
    """Every (status, code) written as APIError(status, "code", ...) in the backend."""
    found = set()
    for path in BACKEND.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "APIError" and len(node.args) >= 2
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[1], ast.Constant)):
                found.add((node.args[0].value, node.args[1].value))
    return found


def test_every_code_the_backend_raises_is_listed_with_its_status():
    found = raised_codes()
    assert len(found) > 20
    assert found <= {(status, code) for code, (status, _) in CODES.items()}


def test_a_listed_code_with_another_status_is_a_mistake():
    with pytest.raises(AssertionError):
        APIError(400, "not_found", "No such thing.")


def test_an_api_error_rolls_back_what_its_transaction_wrote(db):
    def write_then_refuse(conn):
        conn.execute(rate_events.insert().values(key="k", at=1))
        raise APIError(409, "not_updatable", "No.")

    with pytest.raises(APIError):
        db.run(write_then_refuse)
    assert db.run(lambda conn: conn.execute(sa.select(sa.func.count()).select_from(rate_events)).scalar()) == 0


def test_refused_commits_what_its_transaction_wrote_then_raises_its_error(db):
    def count_then_refuse(conn):
        conn.execute(rate_events.insert().values(key="k", at=1))
        raise Refused(APIError(401, "invalid_code", "Wrong code."))

    with pytest.raises(APIError) as refused:
        db.run(count_then_refuse)
    assert refused.value.code == "invalid_code"
    assert db.run(lambda conn: conn.execute(sa.select(sa.func.count()).select_from(rate_events)).scalar()) == 1


def test_the_merchant_api_answers_in_stripes_shape_and_the_portal_api_in_its_own():
    merchant = error_at("/v1/import", 404, "not_found", "No such thing.", param="customer")
    assert json.loads(merchant.body) == {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                                   "message": "No such thing.", "param": "customer"}}
    fault = error_at("/v1/import", 500, "internal_error", "Something went wrong on our side.")
    assert json.loads(fault.body)["error"]["type"] == "api_error"
    portal = error_at("/api/portal", 404, "not_found", "No such thing.", param="customer", example="x")
    assert json.loads(portal.body) == {"error": {"code": "not_found", "message": "No such thing.",
                                                 "param": "customer", "example": "x"}}
