"""Portal sessions (Stripe's `billing_portal.session`): the merchant's app opens the portal for one of its
customers, signed in already, with a link that works once.

`POST /v1/billing_portal/sessions` takes Stripe's parameters and answers Stripe's object. Its `url` carries
a token of 256 bits in the fragment (`.../portal/#session=...`) only: browsers send a fragment neither to
the server nor in a Referer, so the token reaches no log on the way. Porch keeps only its HMAC. The link
is good for LIFETIME seconds until it is opened, and opens once: `POST /api/login/session` spends it
(of two racing, one wins) and opens an ordinary session bound to the portal session's configuration and
return address. A link that does not open counts against the client's sign-in failures, as a wrong code does.

A flow (`flow_data`) is checked when the session is created, against the customer's own subscription and
the configuration's features, so that a link never opens into something the portal would then refuse."""

from __future__ import annotations

import json
import secrets
from typing import Any, Literal
from urllib.parse import urlsplit

import sqlalchemy as sa
from pydantic import Field
from starlette.responses import Response

from backend import (
    auth,
    availability,
    configurations,
    i18n,
    keys,
    plans,
    ratelimit,
    retention,
    sessions,
    signin,
)
from backend.config import DEFAULT_CONFIGURATION, Config
from backend.context import Context
from backend.engine import Engine
from backend.errors import APIError, Refused
from backend.events import Actor
from backend.guards import Body
from backend.jsonio import JSONResponse
from backend.merchant import Params
from backend.openapi import returns
from backend.pipeline import Edge, Endpoint
from backend.store import billing
from backend.store.database import hold
from backend.store.tables import portal_sessions
from backend.subscriptions import expanded

LIFETIME = 5 * 60
PATH = "/v1/billing_portal/sessions"
FLOW = "flow_data"


# Stripe's parameters, by its names.


class Redirect(Params):
    return_url: str


class HostedConfirmation(Params):
    custom_message: str | None = Field(None, max_length=500)


class AfterCompletion(Params):
    type: Literal["portal_homepage", "redirect", "hosted_confirmation"]
    redirect: Redirect | None = None
    hosted_confirmation: HostedConfirmation | None = None


class CouponOffer(Params):
    coupon: str


class Retention(Params):
    type: Literal["coupon_offer"]
    coupon_offer: CouponOffer


class CancelFlow(Params):
    subscription: str
    retention: Retention | None = None


class UpdateFlow(Params):
    subscription: str


class ConfirmItem(Params):
    id: str
    price: str | None = None
    quantity: int | None = Field(None, ge=0)


class ConfirmDiscount(Params):
    coupon: str | None = None
    promotion_code: str | None = None


class ConfirmFlow(Params):
    subscription: str
    # Stripe takes one item, as the portal changes one.
    items: list[ConfirmItem] = Field(min_length=1, max_length=1)
    discounts: list[ConfirmDiscount] | None = None


class FlowData(Params):
    type: Literal["payment_method_update", "subscription_cancel", "subscription_update", "subscription_update_confirm"]
    after_completion: AfterCompletion | None = None
    subscription_cancel: CancelFlow | None = None
    subscription_update: UpdateFlow | None = None
    subscription_update_confirm: ConfirmFlow | None = None


class SessionParams(Params):
    customer: str
    return_url: str | None = None
    locale: str | None = None
    configuration: str | None = None
    flow_data: FlowData | None = None
    on_behalf_of: str | None = None


class RedeemRequest(Body):
    # Any text is looked up, and what is not a live token is the one refusal, whatever its form.
    token: str = Field(max_length=1000)
    framed: bool = Field(False, description="Whether the portal is in a frame: as for POST /api/login/verify.")


def invalid(param: str, message: str) -> APIError:
    return APIError(400, "parameter_invalid", message, param=param)


def checked_url(value: str, param: str) -> str:
    """An absolute http(s) URL, as Stripe wants a return_url: where a customer's browser is sent."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() or ord(c) < 32 for c in value):
        raise invalid(param, f"Invalid URL: {param} must be an absolute http or https URL.")
    return value


def locale_of(asked: str | None) -> str | None:
    """The Porch locale a `locale` parameter names (Stripe's spellings taken: pt-BR, zh-HK); None for auto."""
    if asked is None or asked == "auto":
        return None
    found = i18n.canonical(asked)
    if found is None:
        raise invalid("locale", f"Invalid locale: {asked!r} is not one of Porch's locales, nor auto.")
    return found


def configuration_of(config: Config, asked: str | None) -> str:
    if asked is None:
        return DEFAULT_CONFIGURATION
    try:
        return configurations.name_of(config, asked, "configuration")
    except APIError as exc:
        # Stripe answers 400 for an unknown object named by a parameter; 404 is for a path's.
        raise APIError(400, "resource_missing", exc.message, param="configuration") from None


def after_completion(given: AfterCompletion | None) -> dict[str, Any]:
    """Stripe's `after_completion`: each kind's object, null for the others."""
    kind = given.type if given is not None else "portal_homepage"
    at = f"{FLOW}[after_completion]"
    redirect = hosted = None
    if kind == "redirect":
        if given is None or given.redirect is None:
            raise APIError(400, "parameter_missing", f"Missing required param: {at}[redirect].", param=f"{at}[redirect]")
        redirect = {"return_url": checked_url(given.redirect.return_url, f"{at}[redirect][return_url]")}
    elif given is not None and given.redirect is not None:
        raise invalid(f"{at}[redirect]", f"{at}[redirect] is only for after_completion[type] redirect.")
    if kind == "hosted_confirmation":
        message = given.hosted_confirmation.custom_message if given and given.hosted_confirmation else None
        hosted = {"custom_message": message}
    elif given is not None and given.hosted_confirmation is not None:
        raise invalid(f"{at}[hosted_confirmation]",
                      f"{at}[hosted_confirmation] is only for after_completion[type] hosted_confirmation.")
    return {"type": kind, "redirect": redirect, "hosted_confirmation": hosted}


def _subscription(ctx: Context, subscription_id: str, param: str) -> dict[str, Any]:
    """The customer's subscription, its items' prices expanded; another customer's is no more found than none."""
    found = billing.owned(ctx.conn, "subscriptions", ctx.customer, subscription_id)
    if found is None:
        raise APIError(400, "resource_missing", f"No such subscription: '{subscription_id}'.", param=param)
    return expanded(ctx.conn, found)


def _refused(refusal: APIError | None, param: str) -> None:
    """A refusal the portal would make once the flow opens, made now, naming the parameter."""
    if refusal is not None:
        raise invalid(param, refusal.message)


def _cancel(ctx: Context, given: CancelFlow) -> dict[str, Any]:
    at = f"{FLOW}[subscription_cancel]"
    sub = _subscription(ctx, given.subscription, f"{at}[subscription]")
    _refused(availability.cancel_refusal(ctx.config, sub), f"{at}[subscription]")
    offer = None
    if given.retention is not None:
        # The offer made is the configuration's (features.subscription_cancel.retention): Porch applies its own
        # discount, so a flow may ask for an offer only where the portal would make one.
        _refused(availability.retention_refusal(ctx.config, sub, retention.taken(ctx.conn, sub["id"])), f"{at}[retention]")
        offer = {"type": "coupon_offer", "coupon_offer": {"coupon": given.retention.coupon_offer.coupon}}
    return {"subscription": sub["id"], "retention": offer}


def _update(ctx: Context, given: UpdateFlow) -> dict[str, Any]:
    at = f"{FLOW}[subscription_update][subscription]"
    sub = _subscription(ctx, given.subscription, at)
    _refused(availability.update_refusal(ctx.config, sub), at)
    return {"subscription": sub["id"]}


def _confirm(ctx: Context, given: ConfirmFlow) -> dict[str, Any]:
    at = f"{FLOW}[subscription_update_confirm]"
    sub = _subscription(ctx, given.subscription, f"{at}[subscription]")
    _refused(availability.update_refusal(ctx.config, sub), f"{at}[subscription]")
    if given.discounts:
        raise invalid(f"{at}[discounts]", "Porch applies no discounts to a change of plan: leave discounts out.")
    (item,) = given.items
    items = [found["id"] for found in (sub.get("items") or {}).get("data") or []]
    if item.id not in items:
        raise APIError(400, "resource_missing", f"No such item of this subscription: '{item.id}'.",
                       param=f"{at}[items][0][id]")
    try:
        # The change the portal would preview and make: the price on offer, the quantity allowed.
        plans.decide(ctx, sub["id"], item.price, item.quantity)
    except APIError as exc:
        raise invalid(f"{at}[items][0][{exc.param or 'price'}]", exc.message) from None
    return {"subscription": sub["id"], "items": [{"id": item.id, "price": item.price, "quantity": item.quantity}],
            "discounts": []}


def flow(ctx: Context, given: FlowData) -> dict[str, Any]:
    """Stripe's `flow` for the given `flow_data`, checked as the portal would check each step now; 400 naming
    the parameter at fault otherwise."""
    kinds = ("subscription_cancel", "subscription_update", "subscription_update_confirm")
    for kind in kinds:
        if kind != given.type and getattr(given, kind) is not None:
            raise invalid(f"{FLOW}[{kind}]", f"{FLOW}[{kind}] is only for {FLOW}[type] {kind}.")
    out: dict[str, Any] = {"type": given.type, "after_completion": after_completion(given.after_completion)}
    out |= dict.fromkeys(kinds)
    if given.type == "payment_method_update":
        _refused(availability.payment_method_feature(ctx.config), f"{FLOW}[type]")
        return out
    details = getattr(given, given.type)
    if details is None:
        raise APIError(400, "parameter_missing", f"Missing required param: {FLOW}[{given.type}].",
                       param=f"{FLOW}[{given.type}]")
    if isinstance(details, CancelFlow):
        out[given.type] = _cancel(ctx, details)
    elif isinstance(details, UpdateFlow):
        out[given.type] = _update(ctx, details)
    else:
        out[given.type] = _confirm(ctx, details)
    return out


def portal_url(config: Config, locale: str | None, token: str) -> str:
    """The link to the portal in the session's language (the default's, for auto), the token in its fragment."""
    if not config.login_link.url:
        raise APIError(503, "not_configured", "login_link.url is not set: Porch does not know the portal's address "
                                              "to link to.")
    shown = i18n.match([locale], config.locales.offered) if locale else None
    base = config.locales.base(shown or config.locales.default)
    # The root's pages follow the browser's languages; a locale the merchant chose must win there too.
    query = f"?locale={shown}" if shown else ""
    return f"{config.login_link.url.rstrip('/')}{base}portal/{query}#session={token}"


def create(conn: sa.Connection, config: Config, engine: Engine, secret: bytes, params: SessionParams,
           now: int) -> dict[str, Any]:
    """A new portal session, as Stripe answers it."""
    if params.on_behalf_of is not None:
        raise invalid("on_behalf_of", "on_behalf_of is not supported: Porch serves one business.")
    name = configuration_of(config, params.configuration)
    settings = config.configuration(name)
    locale = locale_of(params.locale)
    return_url = (checked_url(params.return_url, "return_url") if params.return_url is not None
                  else settings.default_return_url)
    if billing.get(conn, "customers", params.customer) is None:
        raise APIError(400, "resource_missing", f"No such customer: '{params.customer}'.", param="customer")
    ctx = Context.of(conn, settings, engine, Actor(params.customer, "merchant", now))
    found = flow(ctx, params.flow_data) if params.flow_data is not None else None
    token = keys.token()
    url = portal_url(config, locale, token)
    conn.execute(portal_sessions.insert().values(
        token_hash=keys.digest(secret, "portal session", token), customer=params.customer, configuration=name,
        return_url=return_url, locale=locale, flow=json.dumps(found) if found is not None else None, created=now,
        expires_at=now + LIFETIME, redeemed=False,
    ))
    return {
        "id": "bps_" + secrets.token_urlsafe(18), "object": "billing_portal.session",
        "configuration": configurations.id_of(name), "created": now, "customer": params.customer, "flow": found,
        "livemode": False, "locale": locale, "on_behalf_of": None, "return_url": return_url, "url": url,
    }


def link_invalid() -> APIError:
    return APIError(401, "portal_link_invalid", "This portal link has expired or was already used. Ask for a new one.")


# Built once: building a statement costs more than running it.
_REDEEMABLE = (
    (portal_sessions.c.token_hash == sa.bindparam("hashed")) & portal_sessions.c.redeemed.is_(False)
    & (portal_sessions.c.expires_at > sa.bindparam("now"))
)
SPEND = portal_sessions.update().where(_REDEEMABLE).values(redeemed=True)
FIND = sa.select(portal_sessions).where(portal_sessions.c.token_hash == sa.bindparam("hashed"))


def redeem(conn: sa.Connection, config: Config, secret: bytes, token: str, address: str, now: int,
           replaced: str | None = None) -> tuple[dict[str, Any], str]:
    """Spend a portal session's token: its answer for the page and a new session's token; else raises Refused.
    The browser's session until now (`replaced`, its token) ends: its cookie is overwritten, so nothing
    should be left that a copy of it could still use.

    Refused, not APIError, so that a failure is counted and committed as a wrong code's is."""
    failures = signin.address_failures(ratelimit.client(address))
    hold(conn, failures)
    wait = max(ratelimit.waits(conn, [(failures, signin.FAILURES_PER_ADDRESS)], now)[0])
    if wait:
        raise Refused(signin.rate_limited(wait))
    token_hash = keys.digest(secret, "portal session", token)
    # The update is the decision: of concurrent redeems only one can flip `redeemed`.
    spent = conn.execute(SPEND, {"hashed": token_hash, "now": now}).rowcount == 1
    row = conn.execute(FIND, {"hashed": token_hash}).first() if spent else None
    # The customer or the configuration may have gone since the link was made.
    if row is None or billing.get(conn, "customers", row.customer) is None or (
            row.configuration != DEFAULT_CONFIGURATION and row.configuration not in config.configurations):
        ratelimit.record(conn, now, failures)
        raise Refused(link_invalid())
    if replaced:
        sessions.revoke(conn, secret, replaced)
    opened = sessions.create(conn, secret, row.customer, now, configuration=row.configuration,
                             return_url=row.return_url)
    answer = {"flow": json.loads(row.flow) if row.flow is not None else None, "return_url": row.return_url,
              "locale": row.locale}
    return answer, opened


def prune(conn: sa.Connection, now: int) -> None:
    """Forget links that can no longer be opened."""
    conn.execute(portal_sessions.delete().where(portal_sessions.c.expires_at <= now))


async def create_session(edge: Edge) -> Response:
    state = edge.request.app.state
    found = await state.db.call(create, state.config, state.engine, state.secret, edge.body, auth.now(edge.request))
    return JSONResponse(found)


async def open_session(edge: Edge) -> Response:
    request = edge.request
    state = request.app.state
    answer, token = await state.db.call(redeem, state.config, state.secret, edge.body.token,
                                        auth.client_address(request), auth.now(request), auth.session_token(request))
    response = JSONResponse(answer)
    auth.set_session_cookie(request, response, token, edge.body.framed)
    return response


NULLABLE_OBJECT = {"type": ["object", "null"]}
NULLABLE_TEXT = {"type": ["string", "null"]}
SESSION = returns(
    id={"type": "string"}, object={"type": "string", "enum": ["billing_portal.session"]},
    configuration={"type": "string"}, created={"type": "integer"}, customer={"type": "string"},
    flow=NULLABLE_OBJECT, livemode={"type": "boolean"}, locale=NULLABLE_TEXT, on_behalf_of={"type": "null"},
    return_url=NULLABLE_TEXT, url={"type": "string"},
)
ENDPOINTS = [
    Endpoint("post", PATH, "Open the portal for a customer: a link, good once and for 5 minutes", create_session,
             auth="merchant", body=SessionParams, answer=SESSION, errors=(400, 503)),
    Endpoint("post", "/api/login/session", "Exchange a portal session's token for a session cookie", open_session,
             auth="none", body=RedeemRequest, answer=returns(flow=NULLABLE_OBJECT, return_url=NULLABLE_TEXT,
                                                             locale=NULLABLE_TEXT),
             errors=(400, 401, 413, 415, 429)),
]
