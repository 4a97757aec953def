"""Configurations in Stripe's billing_portal.configuration shape, checked against Stripe's published example
object (tests/stripe_examples.json) and parsed by Stripe's own SDK."""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any

import pytest
import stripe
from helpers import NOW, SECRET, with_config
from starlette.testclient import TestClient
from stripe import StripeObject

from backend import api_keys, configurations
from backend.config import parse_config
from backend.errors import APIError

EXAMPLE = json.loads((Path(__file__).parent / "stripe_examples.json").read_text(encoding="utf-8"))[
    "billing_portal.configuration"]

CONFIG = """business:
  name: Acme
  headline: {en: "Manage **Acme**", de: "Verwalten Sie **Acme**"}
  privacy_policy_url: https://acme.example/privacy
  terms_of_service_url: https://acme.example/terms
login_link: {url: https://billing.acme.example/}
default_return_url: https://acme.example/account
locales: {default: de}
features:
  customer_update: {allowed_updates: [name, tax_id]}
  subscription_cancel:
    mode: immediately
    proration_behavior: create_prorations
    cancellation_reason: {options: [too_expensive, other]}
  subscription_update:
    enabled: true
    proration_behavior: always_invoice
    schedule_at_period_end: {conditions: [decreasing_item_amount]}
    products:
      - {product: prod_team, prices: [price_team_monthly], adjustable_quantity: {enabled: true, maximum: 50}}
configurations:
  partners:
    default_return_url: https://partners.acme.example
    features:
      subscription_cancel: {enabled: false}
      invoice_history: {enabled: false}
  eu:
    business: {headline: EU}
"""


@pytest.fixture(scope="module")
def config():
    return parse_config(CONFIG, modified=1_700_000_000)[0]


# Keys Porch answers that Stripe's example lacks, and why: Stripe answers `products` only when asked
# to expand it; Porch always does.
EXTRA = {"features.subscription_update.products"}


def same_keys(ours: Any, theirs: Any, path: str = "") -> list[str]:
    """Where `ours` has other keys than Stripe's example, at every level both have."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        found = [f"{path}.{key}".lstrip(".") for key in set(ours) ^ set(theirs)]
        found = [key for key in found if key not in EXTRA]
        for key in set(ours) & set(theirs):
            found += same_keys(ours[key], theirs[key], f"{path}.{key}".lstrip("."))
        return found
    if isinstance(ours, list) and isinstance(theirs, list) and ours and theirs:
        return same_keys(ours[0], theirs[0], path + "[0]")
    return []


def test_the_object_has_the_keys_of_stripes_example_at_every_level(config):
    for name in ("default", "partners", "eu"):
        assert same_keys(configurations.stripe_object(config, name), EXAMPLE) == []
    # The comparison reaches down into lists: conditions are objects with a type, as Stripe's are.
    assert EXAMPLE["features"]["subscription_update"]["schedule_at_period_end"]["conditions"] == [
        {"type": "decreasing_item_amount"}]
    assert configurations.stripe_object(config, "default")["features"]["subscription_update"][
        "schedule_at_period_end"]["conditions"] == [{"type": "decreasing_item_amount"}]


class Expandable(dict[str, Any]):
    """Names the SDK imports only for type checkers: the classes of expandable fields, which hold an id or any object."""

    def __missing__(self, key: str) -> Any:
        return Any


def conforms(value: Any, annotation: Any, path: str) -> list[str]:
    """Where `value` is not what the SDK's type annotation allows. The SDK writes each enum as
    Union[Literal[...], str] so that it keeps parsing values Stripe adds later; Porch must answer
    one of the values the SDK knows, so the Literal is held to."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return [] if type(None) in args else [f"{path}: null"]
        literal = next((arg for arg in args if typing.get_origin(arg) is typing.Literal), None)
        if literal is not None:
            return conforms(value, literal, path)
        return conforms(value, next(arg for arg in args if arg is not type(None)), path)
    if origin is typing.Literal:
        return [] if value in args else [f"{path}: {value!r} is none of {args}"]
    if origin in (list, typing.List):  # noqa: UP006
        if not isinstance(value, list):
            return [f"{path}: not a list"]
        return [problem for index, item in enumerate(value) for problem in conforms(item, args[0], f"{path}[{index}]")]
    if isinstance(annotation, type) and issubclass(annotation, StripeObject):
        if not isinstance(value, dict):
            return [f"{path}: not an object"]
        found = typing.get_type_hints(annotation, localns=Expandable(vars(annotation)))
        hints = {key: hint for key, hint in found.items() if not key.startswith("_")}
        # Fields this SDK knows beyond the example's commit (such as subscription_pause) are left out.
        return [problem for key, item in value.items()
                for problem in (conforms(item, hints[key], f"{path}.{key}") if key in hints else [f"{path}.{key}: unknown"])]
    if annotation in (bool, int, str):
        ok = isinstance(value, annotation) and (annotation is bool or not isinstance(value, bool))
        return [] if ok else [f"{path}: {value!r} is not {annotation.__name__}"]
    return []  # expandable fields and metadata: any JSON


def test_every_value_is_one_stripes_sdk_knows(config):
    for name in ("default", "partners", "eu"):
        ours = configurations.stripe_object(config, name)
        assert conforms(ours, stripe.billing_portal.Configuration, "") == []
    # The check can fail: a value outside the SDK's enum is named.
    wrong = configurations.stripe_object(config, "default")
    wrong["features"]["subscription_cancel"]["mode"] = "later"
    assert conforms(wrong, stripe.billing_portal.Configuration, "") == [
        ".features.subscription_cancel.mode: 'later' is none of ('at_period_end', 'immediately')"]


def test_stripes_sdk_parses_it_into_its_typed_object(config):
    parsed = stripe.billing_portal.Configuration.construct_from(configurations.stripe_object(config, "default"), "sk_test_x")
    assert isinstance(parsed.features, stripe.billing_portal.Configuration.Features)
    assert parsed.id == "bpc_default"
    assert parsed.is_default is True
    assert parsed.business_profile.headline == "Verwalten Sie **Acme**"
    assert parsed.features.subscription_update.products[0].adjustable_quantity.maximum == 50
    assert parsed.features.subscription_update.schedule_at_period_end.conditions[0].type == "decreasing_item_amount"
    assert parsed.features.subscription_cancel.cancellation_reason.options == ["too_expensive", "other"]
    assert parsed.login_page.url == "https://billing.acme.example/login/"
    assert parsed.to_dict() == configurations.stripe_object(config, "default")


def test_porchs_features_map_onto_stripes(config):
    top = configurations.stripe_object(config, "default")
    assert top["features"] == {
        "customer_update": {"allowed_updates": ["name", "tax_id"], "enabled": True},
        "invoice_history": {"enabled": True},
        "payment_method_update": {"enabled": True, "payment_method_configuration": None},
        "subscription_cancel": {
            "cancellation_reason": {"enabled": True, "options": ["too_expensive", "other"]},
            "enabled": True, "mode": "immediately", "proration_behavior": "create_prorations",
        },
        "subscription_update": {
            "default_allowed_updates": ["price", "quantity"], "enabled": True,
            "products": [{"adjustable_quantity": {"enabled": True, "maximum": 50, "minimum": 1},
                          "prices": ["price_team_monthly"], "product": "prod_team"}],
            "proration_behavior": "always_invoice",
            "schedule_at_period_end": {"conditions": [{"type": "decreasing_item_amount"}]},
            "trial_update_behavior": "continue_trial", "billing_cycle_anchor": None,
        },
    }
    assert top["business_profile"] == {"headline": "Verwalten Sie **Acme**",
                                       "privacy_policy_url": "https://acme.example/privacy",
                                       "terms_of_service_url": "https://acme.example/terms"}
    assert (top["id"], top["name"], top["is_default"], top["active"], top["livemode"], top["metadata"]) == (
        "bpc_default", None, True, True, False, {})
    assert (top["created"], top["updated"]) == (1_700_000_000, 1_700_000_000)


def test_a_named_configuration_answers_its_own_settings_over_the_top_levels(config):
    top = configurations.stripe_object(config, "default")
    partners = configurations.stripe_object(config, "partners")
    assert (partners["id"], partners["name"], partners["is_default"]) == ("bpc_partners", "partners", False)
    assert partners["default_return_url"] == "https://partners.acme.example"
    assert partners["features"]["subscription_cancel"]["enabled"] is False
    assert partners["features"]["invoice_history"]["enabled"] is False
    # What it leaves out is the top level's.
    assert partners["features"]["subscription_update"] == top["features"]["subscription_update"]
    assert partners["features"]["subscription_cancel"]["mode"] == "immediately"
    assert partners["business_profile"] == top["business_profile"]
    # Only the top level is reached through the login page; the others through sessions.
    assert partners["login_page"] == {"enabled": False, "url": None}
    assert configurations.stripe_object(config, "eu")["business_profile"]["headline"] == "EU"


def test_the_login_page_is_off_when_the_login_link_is():
    config = parse_config("login_link: {enabled: false, url: https://billing.acme.example}\n")[0]
    assert configurations.stripe_object(config, "default")["login_page"] == {"enabled": False, "url": None}
    config = parse_config("")[0]
    assert configurations.stripe_object(config, "default")["login_page"] == {"enabled": True, "url": None}
    assert configurations.stripe_object(config, "default")["business_profile"]["headline"] is None


def test_one_answers_by_id_and_refuses_anything_else(config):
    assert configurations.one(config, "bpc_partners") == configurations.stripe_object(config, "partners")
    assert configurations.one(config, "bpc_default")["is_default"] is True
    for wrong in ("partners", "bpc_nobody", "bpc_", "default", "bpc_bpc_partners"):
        with pytest.raises(APIError) as caught:
            configurations.one(config, wrong)
        assert (caught.value.status, caught.value.code, str(caught.value), caught.value.param) == (
            404, "not_found", f"No such configuration: '{wrong}'.", "id")
    with pytest.raises(APIError) as caught:
        configurations.name_of(config, "bpc_nobody", "configuration")
    assert caught.value.param == "configuration"
    assert configurations.name_of(config, "bpc_eu", "configuration") == "eu"


def ids(answer: dict[str, Any]) -> list[str]:
    return [item["id"] for item in answer["data"]]


def test_listed_answers_stripes_list_default_first_in_the_files_order(config):
    answer = configurations.listed(config)
    assert {key: value for key, value in answer.items() if key != "data"} == {
        "object": "list", "has_more": False, "url": "/v1/billing_portal/configurations"}
    assert ids(answer) == ["bpc_default", "bpc_partners", "bpc_eu"]
    assert answer["data"][1] == configurations.one(config, "bpc_partners")
    assert ids(configurations.listed(config, is_default=True)) == ["bpc_default"]
    assert ids(configurations.listed(config, is_default=False)) == ["bpc_partners", "bpc_eu"]
    assert ids(configurations.listed(config, active=True)) == ["bpc_default", "bpc_partners", "bpc_eu"]
    assert ids(configurations.listed(config, active=False)) == []


def test_listed_pages_as_stripe_does(config):
    first = configurations.listed(config, limit=2)
    assert (ids(first), first["has_more"]) == (["bpc_default", "bpc_partners"], True)
    rest = configurations.listed(config, limit=2, starting_after="bpc_partners")
    assert (ids(rest), rest["has_more"]) == (["bpc_eu"], False)
    back = configurations.listed(config, limit=1, ending_before="bpc_eu")
    assert (ids(back), back["has_more"]) == (["bpc_partners"], True)
    with pytest.raises(APIError) as caught:
        configurations.listed(config, starting_after="bpc_nobody")
    assert (caught.value.status, caught.value.param) == (404, "starting_after")
    for limit in (0, 101):
        with pytest.raises(APIError) as caught:
            configurations.listed(config, limit=limit)
        assert (caught.value.status, caught.value.code, caught.value.param) == (400, "invalid_request", "limit")
    assert len(configurations.listed(config, limit=100)["data"]) == 3


def test_stripes_sdk_pages_through_every_configuration(config):
    # What StripeClient's auto-paging does with each answer: the next page after the last id.
    pages = []
    page = stripe.ListObject.construct_from(configurations.listed(config, limit=1), "sk_test_x")
    pages.append([item.id for item in page.data])
    while page.has_more:
        page = stripe.ListObject.construct_from(
            configurations.listed(config, limit=1, starting_after=page.data[-1].id), "sk_test_x")
        pages.append([item.id for item in page.data])
    assert pages == [["bpc_default"], ["bpc_partners"], ["bpc_eu"]]
    assert isinstance(page.data[0], stripe.billing_portal.Configuration)


# Over HTTP: GET /v1/billing_portal/configurations and /{id}, their query strings read as Stripe's SDKs encode them.


@pytest.fixture
def merchant(settings, clock, db):
    key = db.run(api_keys.create, SECRET, "tests", NOW)[1]
    with TestClient(with_config(settings, CONFIG, clock), base_url="http://localhost",
                    headers={"Authorization": f"Bearer {key}"}) as client:
        yield client


def test_the_list_and_one_configuration_are_served_to_a_merchant_key(merchant, config):
    listed = merchant.get(configurations.LIST_URL)
    assert listed.status_code == 200
    assert [c["id"] for c in listed.json()["data"]] == ["bpc_default", "bpc_partners", "bpc_eu"]
    page = merchant.get(configurations.LIST_URL + "?limit=1&starting_after=bpc_default").json()
    assert [c["id"] for c in page["data"]] == ["bpc_partners"] and page["has_more"] is True
    assert [c["id"] for c in merchant.get(configurations.LIST_URL + "?is_default=true").json()["data"]] == [
        "bpc_default"]
    assert merchant.get(configurations.LIST_URL + "?active=false").json()["data"] == []
    one = merchant.get(configurations.LIST_URL + "/bpc_eu")
    assert one.status_code == 200 and one.json()["id"] == "bpc_eu" and one.json()["name"] == "eu"


@pytest.mark.parametrize("query, status, code, param", [
    ("?limit=0", 400, "invalid_request", "limit"),
    ("?limit=ten", 400, "parameter_invalid", "limit"),
    ("?limit=1&limit=2", 400, "parameter_invalid", "limit"),
    ("?is_default=maybe", 400, "parameter_invalid", "is_default"),
    ("?starting_after=bpc_nobody", 404, "resource_missing", "starting_after"),
    ("?colour=blue", 400, "parameter_unknown", "colour"),
    ("?expand[0]=data&expand[2]=x", 400, "parameter_invalid", "expand"),
    ("/bpc_nobody", 404, "resource_missing", "id"),
    ("/bpc_eu?colour=blue", 400, "parameter_unknown", "colour"),
])
def test_wrong_queries_are_refused_in_stripes_shape_naming_the_parameter(merchant, query, status, code, param):
    answer = merchant.get(configurations.LIST_URL + query)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert (error["type"], error["code"], error.get("param")) == ("invalid_request_error", code, param)


def test_configurations_need_the_merchants_key(client):
    answer = client.get(configurations.LIST_URL)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "api_key_required"
