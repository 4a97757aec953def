"""The whole API fuzzed from the OpenAPI document it serves (SPEC sections 6 and 7): never a 5xx,
every error in the one error shape, nothing private reachable without a session, and with one,
answers as the document says."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import schemathesis
import sqlalchemy as sa
from helpers import NOW, ROOT, SECRET, sign_in
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.core.parameters import ParameterLocation
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance
from starlette.routing import Match

from backend import api_keys
from backend.config import Config, parse_config
from backend.ratelimit import DAY
from backend.sessions import LOCAL_COOKIE, SECURE_COOKIE
from backend.settings import Settings
from backend.store.tables import metadata

schema = schemathesis.pytest.from_fixture("api_schema")

# Refusals the guard makes before any route runs (SPEC section 7, "cross-site" and "input").
GUARD = {(403, "cross_site"), (413, "payload_too_large"), (415, "unsupported_media_type")}
OWN = ["sub_jenny_pro", "pm_jenny_visa", "pm_jenny_mc", "in_jenny_0001", "in_jenny_0013"]
# Other customers' objects, the ones sharing Jenny's address among them.
FOREIGN = ["sub_sam_team", "sub_jenny_old", "sub_kim_pro", "pm_sam_mc", "pm_kim_visa", "in_kim_0001", "in_jold_0001"]
# Values the document cannot name (ids in the store, prices on offer, configured reasons): without them
# nearly every generated request would stop at a 404 or a 400 before the code worth fuzzing.
KNOWN = {
    "id": OWN + FOREIGN,
    "price": ["price_starter_monthly", "price_pro_monthly", "price_pro_yearly", "price_team_monthly", "price_gone"],
    "quantity": [0, 1, 2, 5, 50, 51],
    "reason": ["too_expensive", "other"],
}
# positive_data_acceptance: the server checks more than the document can say (a real email address,
# phone numbers, country codes, tax ids, configured reasons, "a price, a quantity or both"), so a
# schema-valid request may rightly get a 400.
EXCLUDED = [positive_data_acceptance]
# Each operation's seed derives from this one and Hypothesis is derandomized: every run sends the same cases.
CONFIG = schemathesis.Config.from_dict({"seed": 20260101})


def fuzz(examples: int) -> Any:
    """Bounded so that the file stays fast in CI; derandomized so that a failure found once is found every run."""
    return settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.filter_too_much])


@pytest.fixture
def config() -> Config:
    # The sample config switches every feature on, and its add-card lines complete it, so that fuzzing
    # gets past feature_disabled into each endpoint's own checks.
    text = (ROOT / "config.yaml").read_text(encoding="utf-8")
    return parse_config(text.replace("# add_url:", "add_url:").replace("# signing_secret_env:", "signing_secret_env:"),
                        base=ROOT)[0]


@pytest.fixture(name="settings")
def keyed_settings(settings: Settings) -> Settings:
    return replace(settings, named_secrets={"PORCH_ADD_CARD_SECRET": "k" * 32})


@pytest.fixture
def api_schema(app: Any, client: Any) -> Iterator[Any]:
    yield schemathesis.openapi.from_asgi("/api/openapi.json", app, config=CONFIG)
    # Loading the document started the app's lifespan inside schemathesis; end it while the store still exists.
    asgi.shutdown_lifespans()


def is_private(operation: Any) -> bool:
    return operation.definition.raw.get("security") == [{"session": []}]


def is_merchant(operation: Any) -> bool:
    return "merchant" in operation.definition.raw.get("tags", [])


PUBLIC = schema.exclude(lambda ctx: is_private(ctx.operation) or is_merchant(ctx.operation))
PRIVATE = schema.include(lambda ctx: is_private(ctx.operation))
MERCHANT = schema.include(lambda ctx: is_merchant(ctx.operation))


def check_answer(case: Any, response: Any, **kwargs: Any) -> None:
    """Never a 5xx; every error JSON in the one shape (SPEC section 6); and schemathesis' checks of the
    status, content type and body against the document."""
    assert response.status_code < 500, f"{case.operation.label}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        assert response.headers.get("content-type", [""])[0].startswith("application/json"), response.headers
        error = json.loads(response.content)["error"]
        assert isinstance(error["code"], str) and error["code"], error
        assert isinstance(error["message"], str) and error["message"], error
    case.validate_response(response, excluded_checks=EXCLUDED, **kwargs)


@PUBLIC.parametrize()
@fuzz(40)
def test_public_operations_answer_as_documented(case):
    """Asking for a code, verifying it, logging out and the health check, with anything at all:
    never a 5xx, errors in the one shape, answers as documented (429s included)."""
    check_answer(case, case.call())


def reaches_route(app: Any, response: Any) -> bool:
    """Whether the request matched a route, method included: a router's 404 or 405 never runs an endpoint."""
    path = unquote(urlsplit(response.request.url).path)
    scope = {"type": "http", "path": path, "root_path": "", "method": response.request.method}
    return any(route.matches(scope)[0] is Match.FULL for route in app.routes)


@pytest.fixture
def writes(app: Any) -> Iterator[list[str]]:
    """The writing statements the app sends to its store."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE", "MERGE"):
            seen.append(statement)

    sa.event.listen(app.state.db.engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(app.state.db.engine, "before_cursor_execute", record)


@PRIVATE.parametrize()
@PRIVATE.given(forged=st.booleans())
@fuzz(10)
def test_private_operations_are_unreachable_without_a_session(case, forged, app, writes):
    """Every private operation, its session cookie missing or forged: refused with 401 not_signed_in
    (or by the guard, or by the router, before any endpoint runs), never 2xx, and not one write to the store."""
    if not forged:
        case.cookies = {}
    response = case.call()
    check_answer(case, response)
    assert not 200 <= response.status_code < 300, f"{case.operation.label} answered without a session"
    if reaches_route(app, response):
        refusal = (response.status_code, json.loads(response.content)["error"]["code"])
        assert refusal in GUARD | {(401, "not_signed_in")}, (case.operation.label, refusal)
    assert writes == [], f"{case.operation.label} wrote to the store without a session: {writes}"


@pytest.fixture
def session(client: Any, outbox: Any) -> str:
    sign_in(client, outbox)
    return client.cookies[LOCAL_COOKIE]


def foreign_rows(db: Any) -> list[str]:
    def read(conn: sa.Connection) -> list[str]:
        rows: list[str] = []
        for name in ("customers", "payment_methods", "subscriptions", "invoices"):
            table = metadata.tables[name]
            column = table.c.id if name == "customers" else table.c.customer
            rows += sorted(map(repr, conn.execute(table.select().where(column != "cus_jenny"))))
        return rows

    return db.run(read, write=False)


@pytest.fixture
def others(db: Any) -> list[str]:
    return foreign_rows(db)


# Logging out is public and would end the session the rest of the run needs, so it is fuzzed
# above; test_signin_states.py logs out of live sessions.
@PRIVATE.parametrize()
@PRIVATE.given(known=st.fixed_dictionaries({name: st.none() | st.sampled_from(values) for name, values in KNOWN.items()}))
@fuzz(25)
def test_private_operations_signed_in_answer_as_documented(case, known, db, session, others):
    """Every private operation as Jenny: never a 5xx, errors in the one shape, status, content type and
    body as documented, and the operation refused once the cookie is dropped or forged (schemathesis'
    ignored_auth check probes that). Other customers' objects are never reached nor changed."""
    meta = case.meta
    if known["id"] and "id" in case.path_parameters and not meta.is_negative_at(ParameterLocation.PATH):
        case.path_parameters["id"] = known["id"]
    if isinstance(case.body, dict) and not meta.is_negative_at(ParameterLocation.BODY):
        case.body.update({name: known[name] for name in ("price", "quantity", "reason")
                          if known[name] is not None and name in case.body})
    if meta.is_negative_at(ParameterLocation.COOKIE):
        # The case is about a missing or malformed session cookie: it must be refused like any other.
        response = case.call()
        check_answer(case, response)
    else:
        # In the case, so that it stays a valid one; as an argument too, so that schemathesis knows the
        # session is real and probes the operation without it.
        cookies = {SECURE_COOKIE: session}
        case.cookies = dict(cookies)
        response = case.call(cookies=cookies)
        check_answer(case, response, transport_kwargs={"cookies": cookies})
    ok = 200 <= response.status_code < 300
    if case.path_parameters.get("id") in FOREIGN:
        assert not ok, f"{case.operation.label} reached {case.path_parameters['id']}"
    if ok and case.method.upper() != "GET":
        assert foreign_rows(db) == others, f"{case.operation.label} changed another customer's objects"


@pytest.mark.parametrize("method, path", [("PUT", "/api/portal"), ("POST", "/api/portal"), ("PUT", "/api/customer")])
def test_a_method_the_path_does_not_take_is_405(client, method, path):
    answer = client.request(method, path)
    assert answer.status_code == 405, answer.text
    assert answer.json()["error"]["code"] == "method_not_allowed"


def test_idempotency_key_is_offered_only_where_it_is_checked(client, outbox):
    operation = client.get("/api/openapi.json").json()["paths"]["/api/payment_methods/add"]["post"]
    offered = any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
    sign_in(client, outbox)
    answer = client.post("/api/payment_methods/add", json={}, headers={"Idempotency-Key": "k" * 256})
    assert offered == (answer.status_code == 400), answer.text


# The merchant's API (SPEC section 11). A wrong key is counted against the client address: that one write is expected.
KEY_REFUSALS = GUARD | {(401, "api_key_required"), (401, "invalid_api_key"), (429, "rate_limit")}


def outside_rate_events(statements: list[str]) -> list[str]:
    return [s for s in statements if "rate_events" not in s]


@MERCHANT.parametrize()
@MERCHANT.given(header=st.sampled_from([None, "Bearer sk_porch_forged", "Basic c2tfcG9yY2hfZm9yZ2VkOg==", "Token x"]))
@fuzz(15)
def test_merchant_operations_are_unreachable_without_a_key(case, header, app, writes):
    """Every merchant operation with no key, or a forged one in any form: refused in Stripe's shape,
    never 2xx, and nothing written but the count of wrong keys."""
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    response = case.call(headers={"Authorization": header} if header else {})
    check_answer(case, response)
    assert not 200 <= response.status_code < 300, f"{case.operation.label} answered without a key"
    if reaches_route(app, response):
        error = json.loads(response.content)["error"]
        assert error["type"] == "invalid_request_error", error
        assert (response.status_code, error["code"]) in KEY_REFUSALS, (case.operation.label, error)
    assert outside_rate_events(writes) == [], f"{case.operation.label} wrote without a key: {writes}"


@pytest.fixture
def merchant_key(db: Any) -> str:
    return db.run(api_keys.create, SECRET, "fuzz", NOW)[1]


# Values a portal session's parameters name: without them nearly every session would stop at "No such customer".
MERCHANT_KNOWN = {
    "customer": ["cus_jenny", "cus_kim", "cus_nobody"],
    "subscription": ["sub_jenny_pro", "sub_kim_pro", "sub_sam_team", "sub_nobody"],
    "configuration": ["bpc_default", "bpc_nobody"],
    "type": ["payment_method_update", "subscription_cancel", "subscription_update", "subscription_update_confirm"],
    "price": KNOWN["price"],
}


def seeded(value: Any, known: dict[str, Any]) -> None:
    """Put the known values under their names, at any depth of a generated body."""
    if isinstance(value, dict):
        for name, item in value.items():
            if known.get(name) is not None and isinstance(item, str):
                value[name] = known[name]
            else:
                seeded(item, known)
    elif isinstance(value, list):
        for item in value:
            seeded(item, known)


@MERCHANT.parametrize()
@MERCHANT.given(known=st.fixed_dictionaries({name: st.none() | st.sampled_from(values)
                                             for name, values in MERCHANT_KNOWN.items()}))
@fuzz(25)
def test_merchant_operations_with_a_key_answer_as_documented(case, known, merchant_key, clock):
    """Every merchant operation with a live key, form-encoded or JSON: never a 5xx, errors in Stripe's
    shape, status, content type and body as documented; schemathesis probes it without the key too."""
    # A day on for each case: the wrong keys of earlier cases' probes are forgotten, so each probe gets a 401.
    clock.advance(DAY + 1)
    if not case.meta.is_negative_at(ParameterLocation.BODY):
        seeded(case.body, known)
    headers = {"Authorization": f"Bearer {merchant_key}"}
    response = case.call(headers=headers)
    check_answer(case, response, transport_kwargs={"headers": headers})
    if response.status_code >= 400:
        assert json.loads(response.content)["error"]["type"] in ("invalid_request_error", "idempotency_error")
