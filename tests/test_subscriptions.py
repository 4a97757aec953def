"""Cancel, resume and the retention offer: what each allows, refuses, writes and records
(events, audit entries, webhook deliveries)."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from business_helpers import act
from helpers import HOOK_URL, NOW
from subscription_helpers import (
    DAY,
    IMMEDIATELY,
    JENNY_END,
    NOT_FOUND,
    RETENTION,
    assert_refused,
    change_stored,
    post,
    recorded,
    stored,
    types,
    updates,
)

from backend import proration, stripe_objects, subscriptions
from backend.errors import APIError
from backend.store.tables import retention_offers, webhook_deliveries

# Cancel

def test_cancel_at_period_end_keeps_the_plan_until_then_and_records_why(portal, db, clock):
    jenny = portal()
    answer = post(jenny, "sub_jenny_pro", "cancel", {"reason": "too_expensive", "comment": "  Too pricey  "})
    assert answer.status_code == 200
    assert set(answer.json()) == {"subscription"}
    sub = answer.json()["subscription"]
    assert (sub["status"], sub["cancel_at_period_end"], sub["cancel_at"]) == ("active", True, JENNY_END)
    assert sub["cancellation_details"] == {"reason": "cancellation_requested", "feedback": "too_expensive",
                                           "comment": "Too pricey"}
    assert sub["items"]["data"][0]["price"]["product"]["name"] == "Pro"
    assert sub["actions"] == ["resume"]
    assert jenny.get("/api/portal").json()["subscriptions"] == [sub]
    ((kind, event, entry),) = recorded(db)
    previous = {"cancel_at_period_end": False, "cancel_at": None, "cancellation_details": None}
    assert kind == event["type"] == "customer.subscription.updated"
    assert event["data"]["previous_attributes"] == previous
    sent = event["data"]["object"]
    assert all(sent[key] == value for key, value in sub.items() if key not in ("items", "actions"))
    assert sent["items"]["data"][0]["price"] == sub["items"]["data"][0]["price"]
    assert (sent["customer"], sent["pending_invoice_items"]) == ("cus_jenny", [])
    assert "metadata" not in event["data"]["object"]
    assert (entry.customer, entry.object_id, entry.at, json.loads(entry.detail)) == (
        "cus_jenny", "sub_jenny_pro", int(clock.now), previous)
    (delivery,) = db.run(lambda conn: conn.execute(sa.select(webhook_deliveries)).all(), write=False)
    assert (delivery.event_id, delivery.url, delivery.status) == (event["id"], HOOK_URL, "pending")


def test_a_reason_and_a_comment_are_optional(portal):
    sub = post(portal(), "sub_jenny_pro", "cancel").json()["subscription"]
    assert sub["cancellation_details"] == {"reason": "cancellation_requested", "feedback": None, "comment": None}


@pytest.mark.parametrize(("later", "credit"), [(0, 1160), (3600, 1156), (12 * DAY, None)])
def test_cancel_immediately_credits_the_unused_time_to_the_balance(portal, db, clock, later, credit):
    clock.advance(later)
    jenny = portal(IMMEDIATELY)
    answer = post(jenny, "sub_jenny_pro", "cancel", {"reason": "unused"})
    assert answer.status_code == 200
    sub = answer.json()["subscription"]
    now = int(clock.now)
    assert (sub["status"], sub["canceled_at"], sub["ended_at"]) == ("canceled", now, now)
    assert (sub["cancel_at_period_end"], sub["cancel_at"]) == (False, None)
    customer = jenny.get("/api/portal").json()["customer"]
    if credit is None:
        assert "credit" not in answer.json() and "balance" not in customer
        assert types(db) == ["customer.subscription.deleted"]
        return
    assert answer.json()["credit"] == {"amount": credit, "currency": "usd"}
    assert customer["balance"] == -credit
    (_, deleted, _), (_, updated, _) = recorded(db)
    assert deleted["type"] == "customer.subscription.deleted" and deleted["data"]["object"]["status"] == "canceled"
    assert updated["type"] == "customer.updated"
    assert updated["data"]["object"]["balance"] == -credit
    assert updated["data"]["previous_attributes"] == {"balance": None}


def test_cancel_immediately_adds_to_a_balance_already_there(portal, db):
    change_stored(db, "customers", "cus_jenny", lambda c: c.update(balance=500))
    answer = post(portal(IMMEDIATELY), "sub_jenny_pro", "cancel")
    assert answer.json()["credit"]["amount"] == 1160
    assert stored(db, "customers", "cus_jenny")["balance"] == 500 - 1160


def test_a_period_billed_with_a_discount_is_credited_from_what_its_invoice_charged(portal, db):
    discount = {"object": "discount", "coupon": {"object": "coupon", "percent_off": 50}, "start": NOW - 90 * DAY,
                "end": None}
    change_stored(db, "subscriptions", "sub_jenny_pro", lambda s: s.update(discounts=[discount]))
    change_stored(db, "invoices", "in_jenny_0013", lambda i: i.update(total=1450, amount_paid=1450))
    assert post(portal(IMMEDIATELY), "sub_jenny_pro", "cancel").json()["credit"]["amount"] == 580


def test_cancel_immediately_without_prorations_credits_nothing(portal, db):
    config = "features: {subscription_cancel: {mode: immediately, proration_behavior: none}}"
    answer = post(portal(config), "sub_jenny_pro", "cancel")
    assert answer.json()["subscription"]["status"] == "canceled" and "credit" not in answer.json()
    assert types(db) == ["customer.subscription.deleted"]


def test_a_trial_canceled_immediately_has_nothing_to_credit(portal, db):
    answer = post(portal(IMMEDIATELY, "sam@example.com"), "sub_sam_team", "cancel")
    assert answer.json()["subscription"]["status"] == "canceled" and "credit" not in answer.json()
    assert types(db) == ["customer.subscription.deleted"]


def test_a_subscription_already_ending_or_ended_cannot_be_canceled(portal, db):
    assert_refused(post(portal(email="kim@example.com"), "sub_kim_pro", "cancel"), 409, "not_cancelable")
    jenny = portal(IMMEDIATELY)
    assert post(jenny, "sub_jenny_pro", "cancel").status_code == 200
    assert_refused(post(jenny, "sub_jenny_pro", "cancel"), 409, "not_cancelable")
    assert types(db) == ["customer.subscription.deleted", "customer.updated"]


def test_cancel_twice_at_period_end_is_refused_the_second_time(portal):
    jenny = portal()
    assert post(jenny, "sub_jenny_pro", "cancel").status_code == 200
    assert_refused(post(jenny, "sub_jenny_pro", "cancel"), 409, "not_cancelable")


def test_cancel_switched_off_is_refused_by_the_server(portal, db):
    jenny = portal("features: {subscription_cancel: {enabled: false}}")
    assert_refused(post(jenny, "sub_jenny_pro", "cancel"), 403, "feature_disabled")
    assert stored(db, "subscriptions", "sub_jenny_pro")["cancel_at_period_end"] is False
    assert recorded(db) == []


@pytest.mark.parametrize(("body", "code", "param"), [
    ({"why": "x"}, "invalid_request", "why"),
    ({"reason": 3}, "invalid_request", "reason"),
    ({"reason": "bored"}, "invalid_request", "reason"),
    ({"comment": "x" * 501}, "invalid_request", "comment"),
    ({"comment": ["x"]}, "invalid_request", "comment"),
    ([], "invalid_request", None),
])
def test_bad_cancel_bodies_are_refused(portal, db, body, code, param):
    assert_refused(post(portal(), "sub_jenny_pro", "cancel", body), 400, code, param)
    assert recorded(db) == []


def test_malformed_json_is_a_bad_request(portal):
    answer = portal().post("/api/subscriptions/sub_jenny_pro/cancel", content=b"{",
                           headers={"Content-Type": "application/json"})
    assert_refused(answer, 400, "invalid_json")


def test_reasons_are_refused_when_the_portal_does_not_ask(portal):
    jenny = portal("features: {subscription_cancel: {cancellation_reason: {enabled: false}}}")
    assert_refused(post(jenny, "sub_jenny_pro", "cancel", {"reason": "unused"}), 400, "invalid_request", "reason")
    assert_refused(post(jenny, "sub_jenny_pro", "cancel", {"comment": "bye"}), 400, "invalid_request", "comment")
    assert post(jenny, "sub_jenny_pro", "cancel", {"comment": "   "}).status_code == 200


def test_only_the_configured_reasons_are_accepted(portal):
    jenny = portal("features: {subscription_cancel: {cancellation_reason: {options: [too_expensive, other]}}}")
    answer = post(jenny, "sub_jenny_pro", "cancel", {"reason": "unused"})
    assert_refused(answer, 400, "invalid_request", "reason")
    assert answer.json()["error"]["message"] == "Choose one of: too_expensive, other."
    assert post(jenny, "sub_jenny_pro", "cancel", {"reason": "other"}).status_code == 200


def test_a_repeated_cancel_with_the_same_key_changes_nothing_more(portal, db):
    jenny = portal()
    first = post(jenny, "sub_jenny_pro", "cancel", {"reason": "unused"}, key="cancel-1")
    again = post(jenny, "sub_jenny_pro", "cancel", {"reason": "unused"}, key="cancel-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert types(db) == ["customer.subscription.updated"]
    assert len(db.run(lambda conn: conn.execute(sa.select(webhook_deliveries)).all(), write=False)) == 1
    other = post(jenny, "sub_jenny_pro", "cancel", {"reason": "other"}, key="cancel-1")
    assert_refused(other, 422, "idempotency_mismatch")
    assert_refused(post(jenny, "sub_jenny_pro", "cancel", {"reason": "unused"}), 409, "not_cancelable")
    assert len(recorded(db)) == 1


def test_a_repeated_immediate_cancel_credits_once(portal, db):
    jenny = portal(IMMEDIATELY)
    answers = [post(jenny, "sub_jenny_pro", "cancel", key="k").json() for _ in range(3)]
    assert answers[0] == answers[1] == answers[2] and answers[0]["credit"]["amount"] == 1160
    assert stored(db, "customers", "cus_jenny")["balance"] == -1160
    assert types(db) == ["customer.subscription.deleted", "customer.updated"]


# Resume

def test_resume_undoes_a_cancellation_at_the_period_end(portal, db):
    answer = post(portal(email="kim@example.com"), "sub_kim_pro", "resume")
    assert answer.status_code == 200 and set(answer.json()) == {"subscription"}
    sub = answer.json()["subscription"]
    assert (sub["cancel_at_period_end"], sub["cancel_at"], sub["status"]) == (False, None, "active")
    assert sub["cancellation_details"] == {"reason": None, "feedback": None, "comment": None}
    ((kind, event, entry),) = recorded(db)
    assert kind == "customer.subscription.updated" and entry.customer == "cus_kim"
    assert event["data"]["previous_attributes"] == {
        "cancel_at_period_end": True, "cancel_at": NOW + 20 * DAY, "cancellation_details": None}


def test_cancel_then_resume_leaves_the_plan_running(portal, db):
    jenny = portal()
    post(jenny, "sub_jenny_pro", "cancel", {"reason": "too_complex", "comment": "hm"})
    sub = post(jenny, "sub_jenny_pro", "resume").json()["subscription"]
    assert (sub["cancel_at_period_end"], sub["cancel_at"]) == (False, None)
    assert types(db) == ["customer.subscription.updated"] * 2
    assert recorded(db)[1][1]["data"]["previous_attributes"]["cancellation_details"]["comment"] == "hm"
    assert post(jenny, "sub_jenny_pro", "cancel").status_code == 200  # and it can be canceled again


def test_nothing_to_resume_is_refused(portal, db):
    jenny = portal(IMMEDIATELY)
    assert_refused(post(jenny, "sub_jenny_pro", "resume"), 409, "not_resumable")
    post(jenny, "sub_jenny_pro", "cancel")
    assert_refused(post(jenny, "sub_jenny_pro", "resume"), 409, "not_resumable")


def test_resume_is_allowed_while_canceling_is_switched_off(portal):
    kim = portal("features: {subscription_cancel: {enabled: false}}", "kim@example.com")
    assert post(kim, "sub_kim_pro", "resume").status_code == 200


def test_resume_takes_no_fields(portal):
    assert_refused(post(portal(email="kim@example.com"), "sub_kim_pro", "resume", {"now": True}), 400,
                   "invalid_request", "now")


# The retention offer

def test_accepting_the_offer_records_the_discount(portal, db, clock):
    jenny = portal(RETENTION)
    answer = post(jenny, "sub_jenny_pro", "retention")
    assert answer.status_code == 200
    (discount,) = answer.json()["subscription"]["discounts"]
    assert discount == {
        "object": "discount",
        "coupon": {"object": "coupon", "percent_off": 25, "duration": "repeating", "duration_in_months": 3},
        "start": NOW,
        "end": NOW + 91 * DAY,  # 21 September to 21 December 2026
    }
    assert discount["end"] == proration.add_months(NOW, 3)
    assert jenny.get("/api/portal").json()["subscriptions"][0]["discounts"] == [discount]
    ((kind, event, entry),) = recorded(db)
    assert kind == "customer.subscription.updated" and entry.object_id == "sub_jenny_pro"
    assert json.loads(entry.detail) == {"discounts": None}
    assert event["data"]["object"]["discounts"] == [discount]


def test_the_offer_is_taken_once(portal, db):
    jenny = portal(RETENTION)
    post(jenny, "sub_jenny_pro", "retention")
    assert_refused(post(jenny, "sub_jenny_pro", "retention"), 409, "offer_used")
    assert len(recorded(db)) == 1


def offered(client) -> bool:
    (sub,) = client.get("/api/portal").json()["subscriptions"]
    return "retention" in sub["actions"]


@pytest.mark.parametrize("discount", [
    {"discount": {"coupon": {"percent_off": 10}}},  # Stripe's older shape...
    {"discounts": ["di_1PxYz"]},  # ...and its current one: ids...
    {"discounts": [{"id": "di_1PxYz", "object": "discount", "coupon": {"percent_off": 10}}]},  # ...or expanded
    {"discount": None, "discounts": ["di_1PxYz"]},
    {"discounts": [{"id": "di_1PxYz", "object": "discount", "source": {"type": "coupon", "coupon": "10OFF"}}]},
])
def test_no_offer_where_a_discount_is_already_running(portal, db, discount):
    # As the import or sync stores it: through the reader.
    change_stored(db, "subscriptions", "sub_jenny_pro", lambda s: s.update(stripe_objects.normalise(s | discount)[0][1]))
    before = stored(db, "subscriptions", "sub_jenny_pro")
    jenny = portal(RETENTION)
    assert offered(jenny) is False
    answer = post(jenny, "sub_jenny_pro", "retention")
    assert_refused(answer, 409, "offer_used")
    assert answer.json()["error"]["message"] == "This subscription already has a discount."
    assert stored(db, "subscriptions", "sub_jenny_pro") == before
    assert recorded(db) == [] and accepted(db) == []


def accepted(db) -> list[tuple[str, str, int, dict]]:
    found = db.run(lambda conn: conn.execute(sa.select(retention_offers)).all(), write=False)
    return [(row.subscription, row.customer, row.created, json.loads(row.data)) for row in found]


def test_the_offer_taken_is_recorded_by_porch_and_survives_an_import_that_drops_the_discount(portal, db):
    jenny = portal(RETENTION)
    assert offered(jenny) is True
    (discount,) = post(jenny, "sub_jenny_pro", "retention").json()["subscription"]["discounts"]
    assert accepted(db) == [("sub_jenny_pro", "cus_jenny", NOW, {"subscription": "sub_jenny_pro",
                                                                 "discount": discount})]
    # The billing system's copy, imported again, knows nothing of the discount.
    change_stored(db, "subscriptions", "sub_jenny_pro", lambda s: s.update(discounts=[]))
    assert offered(jenny) is False
    answer = post(jenny, "sub_jenny_pro", "retention")
    assert_refused(answer, 409, "offer_used")
    assert answer.json()["error"]["message"] == "This subscription has had the offer already."
    assert stored(db, "subscriptions", "sub_jenny_pro")["discounts"] == []
    assert len(recorded(db)) == 1 and len(accepted(db)) == 1


def test_the_page_is_told_no_offer_when_it_is_switched_off(portal):
    assert offered(portal("features: {subscription_cancel: {retention: {enabled: false}}}")) is False


@pytest.mark.parametrize("config", [
    "",
    "features: {subscription_cancel: {retention: {enabled: false}}}",
    "features: {subscription_cancel: {enabled: false, retention: {enabled: true}}}",
])
def test_the_offer_switched_off_is_refused_by_the_server(portal, db, config):
    assert_refused(post(portal(config), "sub_jenny_pro", "retention"), 403, "feature_disabled")
    assert "discounts" not in stored(db, "subscriptions", "sub_jenny_pro")


def test_no_offer_for_a_subscription_already_ending(portal):
    assert_refused(post(portal(RETENTION, "kim@example.com"), "sub_kim_pro", "retention"), 409, "not_cancelable")


# Everyone's own subscriptions only, signed in only

@pytest.mark.parametrize("action", ["cancel", "resume", "retention", "preview", "update"])
@pytest.mark.parametrize("subscription", ["sub_kim_pro", "sub_jenny_old", "sub_nothing"])
def test_another_customers_subscription_is_404_like_a_missing_one(portal, db, action, subscription):
    jenny = portal(updates(cancel="mode: immediately, retention: {enabled: true}"))
    body = {"price": "price_pro_yearly"} if action in ("preview", "update") else {}
    answer = post(jenny, subscription, action, body)
    assert answer.status_code == 404 and answer.json() == NOT_FOUND
    assert recorded(db) == []


@pytest.mark.parametrize("action", ["cancel", "resume", "retention", "preview", "update"])
def test_changes_need_a_session(client, action):
    assert_refused(post(client, "sub_jenny_pro", action, {"price": "price_pro_yearly"}), 401, "not_signed_in")
    assert_refused(client.get("/api/plans"), 401, "not_signed_in")


# The business functions, called without HTTP.

def test_cancel_is_a_business_function_that_answers_the_subscription(db, settings):
    done = act(db, settings, subscriptions.cancel, "sub_jenny_pro", None, "  ")
    assert (done.subscription.id, done.subscription.cancel_at_period_end, done.credit) == ("sub_jenny_pro", True, 0)
    assert done.subscription.data["cancellation_details"] == {
        "reason": "cancellation_requested", "feedback": None, "comment": None}
    assert stored(db, "subscriptions", "sub_jenny_pro")["cancel_at_period_end"] is True
    assert types(db) == ["customer.subscription.updated"]


def test_a_cancellation_now_credits_the_unused_time_on_the_balance(db, settings):
    done = act(db, settings, subscriptions.cancel, "sub_jenny_pro", None, None, config=IMMEDIATELY)
    assert done.subscription.status == "canceled" and done.credit > 0
    assert stored(db, "customers", "cus_jenny")["balance"] == -done.credit
    assert types(db) == ["customer.subscription.deleted", "customer.updated"]


def test_a_refused_business_call_leaves_nothing_behind(db, settings):
    act(db, settings, subscriptions.cancel, "sub_jenny_pro", None, None)
    with pytest.raises(APIError) as refused:
        act(db, settings, subscriptions.cancel, "sub_jenny_pro", None, None)
    assert refused.value.code == "not_cancelable"
    with pytest.raises(APIError) as missing:
        act(db, settings, subscriptions.resume, "sub_alex_pro")
    assert missing.value.code == "not_found"  # another customer's subscription
    assert types(db) == ["customer.subscription.updated"]


def test_resume_and_retention_are_business_functions_too(db, settings):
    act(db, settings, subscriptions.cancel, "sub_jenny_pro", None, None)
    resumed = act(db, settings, subscriptions.resume, "sub_jenny_pro").subscription
    assert resumed.cancel_at_period_end is False
    kept = act(db, settings, subscriptions.take_retention, "sub_jenny_pro", config=RETENTION).subscription
    assert kept.data["discounts"][0]["coupon"]["percent_off"] == 25
    assert db.run(lambda conn: conn.execute(sa.select(retention_offers.c.subscription)).scalars().all()) == [
        "sub_jenny_pro"]
