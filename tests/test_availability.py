"""What the server accepts now, per status and action: the portal offers an action exactly when the
server accepts it (offered <=> accepted), through the HTTP API, for every Stripe status."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import NOW
from subscription_helpers import (
    DAY,
    JENNY_END,
    assert_refused,
    change_stored,
    post,
    stored,
    updates,
)

from backend import availability
from backend.config import parse_config

# Everything switched on: cancel (at the period's end) with the offer, plan changes, payment methods.
EVERYTHING = updates(cancel="retention: {enabled: true, percent_off: 25, duration_in_months: 3}")
# Each variation of Jenny's subscription: Stripe's statuses, collection paused, and set to cancel.
VARIATIONS: dict[str, dict[str, Any]] = {
    "active": {"status": "active"},
    "trialing": {"status": "trialing", "trial_start": NOW - 18 * DAY, "trial_end": JENNY_END},
    "past_due": {"status": "past_due"},
    "unpaid": {"status": "unpaid"},
    "incomplete": {"status": "incomplete"},
    "incomplete_expired": {"status": "incomplete_expired"},
    "canceled": {"status": "canceled", "canceled_at": NOW - DAY, "ended_at": NOW - DAY},
    "paused": {"status": "paused"},
    "pause_collection": {"status": "active", "pause_collection": {"behavior": "void", "resumes_at": JENNY_END}},
    "set_to_cancel": {"status": "active", "cancel_at_period_end": True, "cancel_at": JENNY_END},
}
BODIES: dict[str, dict[str, Any]] = {"cancel": {}, "resume": {}, "update": {"price": "price_pro_yearly"},
                                     "retention": {}}
# What a customer can do, per variation, with everything switched on.
EXPECTED = {
    "active": ["cancel", "update", "retention"],
    "trialing": ["cancel", "update", "retention"],
    "past_due": ["cancel", "retention"],
    "unpaid": ["cancel", "retention"],
    "incomplete": [],
    "incomplete_expired": [],
    "canceled": [],
    "paused": ["cancel", "retention"],
    "pause_collection": ["cancel", "update", "retention"],
    "set_to_cancel": ["resume"],
}


def jenny_as(db, portal, variation: str, config: str = EVERYTHING):
    change_stored(db, "subscriptions", "sub_jenny_pro", lambda s: s.update(VARIATIONS[variation]))
    # Her address then signs in as the newest customer with it: leave her the only one.
    for other in ("cus_jenny_old", "cus_jenny_new"):
        change_stored(db, "customers", other, lambda c: c.update(email=None))
    return portal(config)


def actions_of(client, kind: str = "subscriptions") -> dict[str, list[str]]:
    return {found["id"]: found["actions"] for found in client.get("/api/portal").json()[kind]}


@pytest.mark.parametrize("variation", VARIATIONS)
def test_the_portal_offers_what_each_status_allows(db, portal, variation):
    assert actions_of(jenny_as(db, portal, variation))["sub_jenny_pro"] == EXPECTED[variation]


@pytest.mark.parametrize("action", BODIES)
@pytest.mark.parametrize("variation", VARIATIONS)
def test_an_action_is_offered_exactly_when_the_server_accepts_it(db, portal, variation, action):
    jenny = jenny_as(db, portal, variation)
    offered = action in actions_of(jenny)["sub_jenny_pro"]
    answer = post(jenny, "sub_jenny_pro", action, BODIES[action])
    assert (answer.status_code == 200) is offered, answer.text
    if offered:
        # The answer lists what the subscription allows after the change, by the same rule.
        assert answer.json()["subscription"]["actions"] == actions_of(jenny)["sub_jenny_pro"]
    else:
        assert answer.status_code == 409


@pytest.mark.parametrize("variation", VARIATIONS)
def test_with_every_feature_off_nothing_is_offered_but_undoing_a_cancellation(db, portal, variation):
    off = "features: {subscription_cancel: {enabled: false}, payment_method_update: {enabled: false}}"
    jenny = jenny_as(db, portal, variation, off)
    assert actions_of(jenny)["sub_jenny_pro"] == (["resume"] if variation == "set_to_cancel" else [])
    assert all(found == [] for found in actions_of(jenny, "payment_methods").values())
    for action in ("cancel", "update", "retention"):
        assert post(jenny, "sub_jenny_pro", action, BODIES[action]).status_code == 403
    assert jenny.post("/api/payment_methods/pm_jenny_mc/default", json={}).status_code == 403


def test_an_incomplete_subscription_cannot_be_canceled(db, portal):
    answer = post(jenny_as(db, portal, "incomplete"), "sub_jenny_pro", "cancel")
    assert_refused(answer, 409, "not_cancelable")
    assert stored(db, "subscriptions", "sub_jenny_pro")["cancel_at_period_end"] is False


def test_a_paused_subscription_canceled_ends_at_once_whatever_the_mode(db, portal):
    answer = post(jenny_as(db, portal, "paused"), "sub_jenny_pro", "cancel")
    sub = answer.json()["subscription"]
    assert (sub["status"], sub["ended_at"], sub["cancel_at_period_end"], sub["actions"]) == (
        "canceled", NOW, False, [])


def test_a_past_due_customer_cannot_change_plan_nor_remove_the_only_card(portal):
    alex = portal(EVERYTHING, "alex@example.com")
    assert actions_of(alex) == {"sub_alex_pro": ["cancel", "retention"]}
    assert actions_of(alex, "payment_methods") == {"pm_alex_amex": []}
    assert_refused(post(alex, "sub_alex_pro", "update", {"price": "price_pro_monthly"}), 409, "not_updatable")
    answer = alex.request("DELETE", "/api/payment_methods/pm_alex_amex", json={})
    assert_refused(answer, 409, "last_payment_method")


# Payment methods: the last one stays while a subscription charges.

def detach(db, method: str) -> None:
    change_stored(db, "payment_methods", method, lambda m: m.update(customer=None))


@pytest.mark.parametrize("variation", VARIATIONS)
def test_the_only_payment_method_is_removable_exactly_when_nothing_charges(db, portal, variation):
    detach(db, "pm_jenny_mc")
    jenny = jenny_as(db, portal, variation)
    offered = actions_of(jenny, "payment_methods")["pm_jenny_visa"]
    charges = VARIATIONS[variation]["status"] in ("active", "trialing", "past_due", "unpaid")
    assert offered == ([] if charges else ["remove"])
    answer = jenny.request("DELETE", "/api/payment_methods/pm_jenny_visa", json={})
    assert answer.status_code == (409 if charges else 204), answer.text


@pytest.mark.parametrize(("method", "action", "path"), [
    ("pm_jenny_visa", "make_default", "/api/payment_methods/pm_jenny_visa/default"),
    ("pm_jenny_mc", "make_default", "/api/payment_methods/pm_jenny_mc/default"),
    ("pm_jenny_visa", "remove", "/api/payment_methods/pm_jenny_visa"),
    ("pm_jenny_mc", "remove", "/api/payment_methods/pm_jenny_mc"),
])
@pytest.mark.parametrize("variation", ["active", "past_due", "canceled"])
def test_a_payment_method_action_is_offered_exactly_when_accepted(db, portal, variation, method, action, path):
    jenny = jenny_as(db, portal, variation)
    offered = action in actions_of(jenny, "payment_methods")[method]
    answer = jenny.request("DELETE" if action == "remove" else "POST", path, json={})
    assert (answer.status_code in (200, 204)) is offered, answer.text


def test_the_default_badge_and_actions_read_an_expanded_default(db, portal):
    change_stored(db, "customers", "cus_jenny", lambda c: c.update(invoice_settings={
        "default_payment_method": {"id": "pm_jenny_mc", "object": "payment_method", "type": "card"}}))
    jenny = portal()
    assert actions_of(jenny, "payment_methods") == {"pm_jenny_mc": ["remove"], "pm_jenny_visa": ["make_default", "remove"]}


# The rules as plain functions, without HTTP.

def test_a_subscription_with_several_plans_or_an_unlisted_product_is_not_offered_a_change():
    config = parse_config(EVERYTHING)[0]
    price = {"id": "price_x", "product": "prod_pro", "recurring": {"interval": "month"}}
    sub = {"id": "sub_x", "status": "active", "current_period_start": NOW, "current_period_end": NOW + 30 * DAY,
           "items": {"data": [{"price": price}]}}
    assert availability.update_refusal(config, sub) is None
    two = sub | {"items": {"data": [{"price": price}, {"price": price}]}}
    unlisted = sub | {"items": {"data": [{"price": price | {"product": "prod_other"}}]}}
    once = sub | {"items": {"data": [{"price": price | {"recurring": None}}]}}
    for refused in (two, unlisted, once):
        assert availability.update_refusal(config, refused).code == "not_updatable"  # type: ignore[union-attr]
        assert "update" not in availability.subscription_actions(config, refused, False)


def test_the_rules_answer_for_the_configuration_they_are_given():
    # A session bound to a configuration is checked with that configuration's settings: the same
    # functions, given config.configuration(name) instead of the top level.
    config = parse_config(EVERYTHING + """configurations:
  partners:
    features:
      subscription_cancel: {enabled: false}
      subscription_update: {enabled: false}
""")[0]
    partners = config.configuration("partners")
    price = {"id": "price_x", "product": "prod_pro", "recurring": {"interval": "month"}}
    sub = {"id": "sub_x", "status": "active", "current_period_start": NOW, "current_period_end": NOW + 30 * DAY,
           "items": {"data": [{"price": price}]}}
    assert availability.subscription_actions(config, sub, False) == ["cancel", "update", "retention"]
    assert availability.subscription_actions(partners, sub, False) == []
    assert availability.cancel_feature(partners).code == "feature_disabled"  # type: ignore[union-attr]
    assert availability.cancel_feature(config) is None
