"""The portal's configurations in Stripe's `billing_portal.configuration` shape.

config.yaml's top level is the default configuration; each entry of its `configurations` is
another, with its settings merged over the top level's (Config.configuration). Their ids are
`bpc_` and the name, `bpc_default` for the top level: the prefix Stripe's ids of this object
have, so that an id in a merchant's logs or in a session's `configuration` says what it names
and is never taken for another object's; the name itself is in Stripe's `name` field (null for
the default, as Stripe's default configuration has none). Ids are derived, not stored, so they
stay the same across restarts and on every backend process.

Porch's features map onto Stripe's one to one, except what Stripe's object has no field for:
the retention offer (in Stripe an offer belongs to a session's cancel flow) and the add-card
page (`payment_method_update.add_url`). `created` and `updated` are when config.yaml was last
changed; `livemode` is false, since no configuration touches a live Stripe account by itself."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from starlette.responses import Response

from backend.config import DEFAULT_CONFIGURATION, Config
from backend.errors import APIError
from backend.jsonio import JSONResponse
from backend.merchant import Params, query
from backend.openapi import returns
from backend.pipeline import Edge, Endpoint

PREFIX = "bpc_"
LIST_URL = "/v1/billing_portal/configurations"


def id_of(name: str) -> str:
    return PREFIX + name


def name_of(config: Config, configuration_id: str, param: str = "id") -> str:
    """The name a configuration id stands for; not_found naming `param` when there is none."""
    name = configuration_id.removeprefix(PREFIX)
    if configuration_id == name or (name != DEFAULT_CONFIGURATION and name not in config.configurations):
        raise APIError(404, "not_found", f"No such configuration: '{configuration_id}'.", param=param)
    return name


def stripe_object(config: Config, name: str) -> dict[str, Any]:
    """The configuration `name` of `config` (DEFAULT_CONFIGURATION for the top level), as Stripe answers it."""
    settings = config.configuration(name)
    business, features = settings.business, settings.features
    default = name == DEFAULT_CONFIGURATION
    cancel, update = features.subscription_cancel, features.subscription_update
    # Customers sign in on the login page to reach the top level's settings only: any other
    # configuration is reached through a session the merchant's app creates.
    login = config.login_link.enabled and default
    return {
        "id": id_of(name),
        "object": "billing_portal.configuration",
        "active": True,
        "application": None,
        "business_profile": {
            # Stripe's headline is one text: the default locale's.
            "headline": business.headline_in(config.locales.default, config.locales.default) or None,
            "privacy_policy_url": business.privacy_policy_url,
            "terms_of_service_url": business.terms_of_service_url,
        },
        "created": config.modified,
        "default_return_url": settings.default_return_url,
        "features": {
            "customer_update": {
                "allowed_updates": list(features.customer_update.allowed_updates),
                "enabled": features.customer_update.enabled,
            },
            "invoice_history": {"enabled": features.invoice_history.enabled},
            "payment_method_update": {
                "enabled": features.payment_method_update.enabled, "payment_method_configuration": None,
            },
            "subscription_cancel": {
                "cancellation_reason": {
                    "enabled": cancel.cancellation_reason.enabled, "options": list(cancel.cancellation_reason.options),
                },
                "enabled": cancel.enabled,
                "mode": cancel.mode,
                "proration_behavior": cancel.proration_behavior,
            },
            "subscription_update": {
                "default_allowed_updates": list(update.default_allowed_updates),
                "enabled": update.enabled,
                # Stripe answers products only when asked to expand them; Porch always does, there being
                # no second request to save.
                "products": [
                    {
                        "adjustable_quantity": {
                            "enabled": entry.adjustable_quantity.enabled,
                            "maximum": entry.adjustable_quantity.maximum,
                            "minimum": entry.adjustable_quantity.minimum,
                        },
                        "prices": list(entry.prices),
                        "product": entry.product,
                    }
                    for entry in update.products
                ],
                "proration_behavior": update.proration_behavior,
                "schedule_at_period_end": {
                    "conditions": [{"type": condition} for condition in update.schedule_at_period_end.conditions],
                },
                # A plan changed during a trial keeps the trial (backend/plans.py); the billing cycle
                # anchor follows Stripe's default.
                "trial_update_behavior": "continue_trial",
                "billing_cycle_anchor": None,
            },
        },
        "is_default": default,
        "livemode": False,
        "login_page": {
            "enabled": login,
            "url": config.login_link.url.rstrip("/") + "/login/" if login and config.login_link.url else None,
        },
        "metadata": {},
        "name": None if default else name,
        "updated": config.modified,
    }


def one(config: Config, configuration_id: str) -> dict[str, Any]:
    """GET /v1/billing_portal/configurations/{id}."""
    return stripe_object(config, name_of(config, configuration_id))


def listed(config: Config, limit: int = 10, starting_after: str | None = None, ending_before: str | None = None,
           is_default: bool | None = None, active: bool | None = None) -> dict[str, Any]:
    """GET /v1/billing_portal/configurations: the default first, then config.yaml's order, paged as Stripe
    pages (its SDK's auto-paging sends `starting_after`). All of them are active."""
    if not 1 <= limit <= 100:
        raise APIError(400, "invalid_request", "limit must be between 1 and 100.", param="limit")
    names = [DEFAULT_CONFIGURATION, *config.configurations]
    if is_default is not None:
        names = [name for name in names if (name == DEFAULT_CONFIGURATION) == is_default]
    if active is False:
        names = []
    if starting_after is not None:
        after = name_of(config, starting_after, "starting_after")
        names = names[names.index(after) + 1:] if after in names else []
    if ending_before is not None:
        before = name_of(config, ending_before, "ending_before")
        names = names[:names.index(before)] if before in names else []
        # Paging backwards, Stripe answers the page just before the cursor.
        page, more = names[-limit:], len(names) > limit
    else:
        page, more = names[:limit], len(names) > limit
    return {"object": "list", "data": [stripe_object(config, name) for name in page], "has_more": more,
            "url": LIST_URL}


class ListParams(Params):
    # The range is listed's to refuse, with Stripe's message.
    limit: int = 10
    starting_after: str | None = Field(None, max_length=100)
    ending_before: str | None = Field(None, max_length=100)
    is_default: bool | None = None
    active: bool | None = None


class RetrieveParams(Params):
    """Retrieving takes no parameters; one sent is refused by name."""


async def _listed(edge: Edge) -> Response:
    request = edge.request
    return JSONResponse(listed(request.app.state.config, **query(request, ListParams).model_dump()))


async def _one(edge: Edge) -> Response:
    request = edge.request
    query(request, RetrieveParams)
    return JSONResponse(one(request.app.state.config, request.path_params["id"]))


CONFIGURATION = {"type": "object", "properties": {"id": {"type": "string"}, "object": {
    "type": "string", "enum": ["billing_portal.configuration"]}}}
ENDPOINTS = [
    Endpoint("get", LIST_URL, "The portal's configurations: the default first, then config.yaml's", _listed,
             auth="merchant", errors=(400, 404), query=(
                 ("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}),
                 ("starting_after", {"type": "string", "description": "The last id of the previous page"}),
                 ("ending_before", {"type": "string", "description": "The first id of the next page"}),
                 ("is_default", {"type": "boolean"}),
                 ("active", {"type": "boolean"}),
             ), answer=returns(object={"type": "string", "enum": ["list"]},
                               data={"type": "array", "items": CONFIGURATION}, has_more={"type": "boolean"},
                               url={"type": "string"})),
    Endpoint("get", LIST_URL + "/{id}", "One configuration, by its id (bpc_default, bpc_<name>)", _one,
             auth="merchant", answer=CONFIGURATION, errors=(400, 404)),
]
