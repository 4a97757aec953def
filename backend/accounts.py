"""Several customers on one email address. Sign-in picks one (billing.customer_for_email); the code
proved the address, so the session may then move to any other customer with it, and the portal lists
them to choose from: a past-due account behind a newer empty one can still be reached and paid."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from starlette.responses import Response

from backend import auth, emails, keys, portal, ratelimit, sessions
from backend.errors import APIError
from backend.events import Actor, audit
from backend.guards import Body
from backend.jsonio import JSONResponse
from backend.openapi import OBJECT, returns
from backend.pipeline import Edge, Endpoint
from backend.ratelimit import Limit
from backend.store import billing
from backend.store.database import hold

# Per proven address, whichever customer: a person looks through their few accounts; a script
# switching in a loop would only fill the sessions table and the audit log.
SWITCHES = (Limit(10, 60), Limit(60, 3600))


def _plan(sub: dict[str, Any]) -> str | None:
    """What the customer calls a subscription: its product's name, else its price's nickname."""
    for item in (sub.get("items") or {}).get("data", []):
        price = item.get("price")
        if isinstance(price, dict):
            product = price.get("product")
            name = (product.get("name") if isinstance(product, dict) else None) or price.get("nickname")
            if name:
                return str(name)
    return None


def summary(customer: dict[str, Any], subscriptions: list[dict[str, Any]]) -> dict[str, Any]:
    """A customer as the menu of accounts shows it: its name, and each plan with its status."""
    return portal.pick("account", {
        "id": customer["id"], "name": customer.get("name"), "created": customer.get("created"),
        "subscriptions": [{"status": sub.get("status"), "plan": _plan(sub)} for sub in subscriptions],
    })


def listed(conn: sa.Connection, session: sessions.Live) -> list[dict[str, Any]] | None:
    """The customers this session may switch between, in the order sign-in prefers them; None when
    there is no other. The common case, one customer, costs no query: the session's own counted them."""
    if session.email is None:
        return None
    if not session.others and emails.lookup_forms(session.email) == [session.email]:
        return None  # no other customer has the address, and it has no other spelling to look for
    ids = billing.customers_for_email(conn, session.email)
    if session.customer not in ids:
        # An import changed the address of the customer signed in as: it stays reachable in its session.
        ids = [session.customer, *ids]
    if len(ids) < 2:
        return None
    return [summary(customer, subs) for customer, subs in billing.customers_with_subscriptions(conn, ids)]


def switch_session(
    conn: sa.Connection, secret: bytes, token: str, target: str, client: str, now: int
) -> tuple[dict[str, Any], str | None]:
    """Move the session to `target`, a customer with the address it proved: the customer, and the new
    token (None when it is already that customer's). Any other customer is a 404, as others' objects are."""
    session = sessions.live(conn, secret, token, now)
    if session is None:
        raise APIError(401, "not_signed_in", "Sign in to continue.")
    if target == session.customer:
        return billing.get(conn, "customers", target) or {}, None
    if session.email is None or target not in billing.customers_for_email(conn, session.email):
        raise APIError(404, "not_found", "No such account.")
    limit_key = "switch:email:" + keys.digest(secret, "rate", session.email)
    hold(conn, limit_key)
    wait = ratelimit.retry_after(conn, limit_key, SWITCHES, now)
    if wait:
        raise ratelimit.refusal(wait, "switches")
    ratelimit.record(conn, now, limit_key)
    new_token = sessions.move(conn, secret, token, session, target, now)
    audit(conn, Actor(session.customer, client, now), "session.switched", target, {"customer": session.customer})
    return billing.get(conn, "customers", target) or {}, new_token


async def switch(edge: Edge) -> Response:
    """An edge handler: it answers with the new session's cookie."""
    request = edge.request
    token = auth.session_token(request)
    assert token is not None  # the pipeline found its session
    state = request.app.state
    customer, new_token = await state.db.call(
        switch_session, state.secret, token, request.path_params["id"], auth.client_address(request), auth.now(request)
    )
    response = JSONResponse({"customer": portal.pick("customer", customer)})
    if new_token is not None:
        auth.set_session_cookie(request, response, new_token, auth.framed(request))
    return response


ENDPOINTS = [
    Endpoint("post", "/api/accounts/{id}/switch",
             "Sign in as another customer with the email address the session proved; the session gets a new token",
             switch, body=Body, answer=returns(customer=OBJECT), errors=(404, 429)),
]
