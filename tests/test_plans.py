"""Switching plan or quantity: the plans offered, previews and the changes themselves."""

from __future__ import annotations

import json
from typing import Any

import pytest
from business_helpers import act
from helpers import NOW
from subscription_helpers import (
    DAY,
    JENNY_END,
    assert_refused,
    change_stored,
    post,
    recorded,
    stored,
    types,
    updates,
)

from backend import plans
from backend.errors import APIError
from backend.store import billing

# Plans

def test_plans_lists_the_configured_products_and_prices_the_store_has(portal):
    config = updates().replace(
        "      - {product: prod_starter, prices: [price_starter_monthly]}\n",
        "      - {product: prod_missing, prices: [price_missing]}\n"
        "      - {product: prod_starter, prices: [price_starter_monthly, price_team_monthly, price_missing]}\n",
    )
    answer = portal(config).get("/api/plans")
    assert answer.status_code == 200
    plans = answer.json()["plans"]
    assert [(p["product"]["id"], [price["id"] for price in p["prices"]]) for p in plans] == [
        ("prod_starter", ["price_starter_monthly"]),
        ("prod_pro", ["price_pro_monthly", "price_pro_yearly"]),
        ("prod_team", ["price_team_monthly"]),
    ]
    assert plans[1]["product"] == {"id": "prod_pro", "object": "product", "name": "Pro",
                                   "description": "Everything a growing business needs"}
    assert plans[1]["prices"][1] == {
        "id": "price_pro_yearly", "object": "price", "currency": "usd", "unit_amount": 29000,
        "nickname": "Pro yearly", "recurring": {"interval": "year", "interval_count": 1}, "product": "prod_pro",
        "type": "recurring",
    }
    assert [p["adjustable_quantity"] for p in plans] == [
        {"enabled": False, "minimum": 1, "maximum": 99},
        {"enabled": False, "minimum": 1, "maximum": 99},
        {"enabled": True, "minimum": 1, "maximum": 50},
    ]


def test_plans_leave_out_prices_no_longer_sold(portal, db):
    change_stored(db, "prices", "price_pro_yearly", lambda p: p.update(active=False))
    plans = portal(updates()).get("/api/plans").json()["plans"]
    assert [price["id"] for price in plans[1]["prices"]] == ["price_pro_monthly"]


def test_quantity_is_not_adjustable_when_updates_leave_it_out(portal):
    plans = portal(updates(allowed="price")).get("/api/plans").json()["plans"]
    assert plans[2]["adjustable_quantity"]["enabled"] is False


def test_plan_changes_switched_off_are_refused_by_the_server(portal, db):
    jenny = portal("features: {subscription_update: {enabled: false, products: [{product: prod_pro, prices: "
                   "[price_pro_yearly]}]}}")
    assert_refused(jenny.get("/api/plans"), 403, "feature_disabled")
    for action in ("preview", "update"):
        assert_refused(post(jenny, "sub_jenny_pro", action, {"price": "price_pro_yearly"}), 403, "feature_disabled")
    assert recorded(db) == []


# Preview

def line(description: str, amount: int, price: str, quantity: int = 1, start: int = NOW, end: int = JENNY_END,
         proration_line: bool = True) -> dict[str, Any]:
    return {"description": description, "amount": amount, "proration": proration_line,
            "period": {"start": start, "end": end}, "price": price, "quantity": quantity}


UNUSED_PRO = line("Unused time on Pro monthly × 1 after 21 Sep 2026", -1160, "price_pro_monthly")
TEAM_3 = line("Remaining time on Team, per seat × 3 after 21 Sep 2026", 1440, "price_team_monthly", 3)


@pytest.mark.parametrize(("behavior", "lines", "amount_due"), [
    ("create_prorations", [UNUSED_PRO, TEAM_3], 0),
    ("always_invoice", [UNUSED_PRO, TEAM_3], 280),
    ("none", [], 0),
])
def test_preview_of_an_upgrade(portal, db, behavior, lines, amount_due):
    jenny = portal(updates(behavior))
    before = jenny.get("/api/portal").json()
    answer = post(jenny, "sub_jenny_pro", "preview", {"price": "price_team_monthly", "quantity": 3})
    assert answer.status_code == 200
    assert answer.json() == {"amount_due": amount_due, "currency": "usd", "lines": lines,
                             "proration_behavior": behavior, "effective_at": None}
    assert jenny.get("/api/portal").json() == before
    assert recorded(db) == []


def test_preview_of_a_longer_interval_charges_the_new_rate_for_the_rest_of_the_period(portal):
    answer = post(portal(updates("always_invoice")), "sub_jenny_pro", "preview", {"price": "price_pro_yearly"})
    # 29000 a year for 12 of 365 days is 953.42; the credit is larger, so nothing is due now.
    assert answer.json() == {
        "amount_due": 0, "currency": "usd", "proration_behavior": "always_invoice", "effective_at": None,
        "lines": [UNUSED_PRO, line("Remaining time on Pro yearly × 1 after 21 Sep 2026", 953, "price_pro_yearly")],
    }


def test_preview_an_hour_later_rounds_each_line_to_the_cent(portal, clock):
    clock.advance(3600)
    lines = post(portal(updates()), "sub_jenny_pro", "preview",
                 {"price": "price_team_monthly", "quantity": 3}).json()["lines"]
    assert [x["amount"] for x in lines] == [-1156, 1435]  # 1155.97 and 1434.96


def test_a_downgrade_waits_for_the_period_end_when_configured(portal):
    answer = post(portal(updates(conditions="decreasing_item_amount")), "sub_jenny_pro", "preview",
                  {"price": "price_starter_monthly"})
    assert answer.json() == {
        "amount_due": 0, "currency": "usd", "proration_behavior": "none", "effective_at": JENNY_END,
        "lines": [line("Starter monthly × 1 from 3 Oct 2026", 0, "price_starter_monthly", start=JENNY_END,
                       end=JENNY_END + 31 * DAY, proration_line=False)],
    }


def test_a_downgrade_applies_now_when_not_listed(portal):
    answer = post(portal(updates(conditions="shortening_interval")), "sub_jenny_pro", "preview",
                  {"price": "price_starter_monthly"})
    assert answer.json()["effective_at"] is None
    assert [x["amount"] for x in answer.json()["lines"]] == [-1160, 360]


@pytest.mark.parametrize(("conditions", "scheduled"), [
    ("shortening_interval", True),
    ("decreasing_item_amount", False),
])
def test_a_shorter_interval_waits_only_when_listed(portal, conditions, scheduled):
    jenny = portal(updates(conditions=conditions))
    assert post(jenny, "sub_jenny_pro", "update", {"price": "price_pro_yearly"}).status_code == 200
    # Yearly to 25 seats monthly: more a period (30000 > 29000), but a shorter interval.
    preview = post(jenny, "sub_jenny_pro", "preview", {"price": "price_team_monthly", "quantity": 25}).json()
    if scheduled:
        assert (preview["effective_at"], preview["lines"][0]["amount"]) == (JENNY_END, 0)
    else:
        assert preview["effective_at"] is None
        assert [x["amount"] for x in preview["lines"]] == [-953, 12000]


def test_a_trial_changes_now_without_prorations(portal, db):
    sam = portal(updates("always_invoice", "decreasing_item_amount"), "sam@example.com")
    preview = post(sam, "sub_sam_team", "preview", {"quantity": 7}).json()
    assert preview == {"amount_due": 0, "currency": "usd", "lines": [], "proration_behavior": "none",
                       "effective_at": None}
    answer = post(sam, "sub_sam_team", "update", {"quantity": 7})
    assert set(answer.json()) == {"subscription"}
    assert answer.json()["subscription"]["items"]["data"][0]["quantity"] == 7
    # Fewer seats is a lower amount: it waits for the trial's end.
    assert post(sam, "sub_sam_team", "preview", {"quantity": 3}).json()["effective_at"] == NOW + 9 * DAY


@pytest.mark.parametrize(("email", "subscription", "body", "status", "code", "param"), [
    ("sam@example.com", "sub_sam_team", {"quantity": 0}, 400, "invalid_quantity", "quantity"),
    ("sam@example.com", "sub_sam_team", {"quantity": 51}, 400, "invalid_quantity", "quantity"),
    ("sam@example.com", "sub_sam_team", {"quantity": "7"}, 400, "invalid_request", "quantity"),
    ("sam@example.com", "sub_sam_team", {"quantity": 7.0}, 400, "invalid_request", "quantity"),
    ("sam@example.com", "sub_sam_team", {"quantity": True}, 400, "invalid_request", "quantity"),
    ("sam@example.com", "sub_sam_team", {"seats": 7}, 400, "invalid_request", "seats"),
    ("jenny@example.com", "sub_jenny_pro", {"quantity": 2}, 403, "feature_disabled", "quantity"),
    ("jenny@example.com", "sub_jenny_pro", {"price": "price_team_monthly", "quantity": 60}, 400, "invalid_quantity",
     "quantity"),
    ("jenny@example.com", "sub_jenny_pro", {"price": "price_nothing"}, 403, "feature_disabled", "price"),
    ("jenny@example.com", "sub_jenny_pro", {"price": 42}, 400, "invalid_request", "price"),
    ("jenny@example.com", "sub_jenny_pro", {}, 400, "invalid_request", None),
    ("jenny@example.com", "sub_jenny_pro", {"price": "price_pro_monthly"}, 400, "invalid_request", None),
    ("kim@example.com", "sub_kim_pro", {"price": "price_pro_yearly"}, 409, "not_updatable", None),
    ("alex@example.com", "sub_alex_pro", {"price": "price_pro_monthly"}, 409, "not_updatable", None),
])
@pytest.mark.parametrize("action", ["preview", "update"])
def test_changes_outside_the_rules_are_refused(portal, db, action, email, subscription, body, status, code, param):
    client = portal(updates(), email)
    before = stored(db, "subscriptions", subscription)
    assert_refused(post(client, subscription, action, body), status, code, param)
    assert stored(db, "subscriptions", subscription) == before
    assert recorded(db) == []


def test_a_price_not_offered_is_refused(portal):
    jenny = portal(updates().replace("price_pro_monthly, price_pro_yearly", "price_pro_monthly"))
    assert_refused(post(jenny, "sub_jenny_pro", "preview", {"price": "price_pro_yearly"}), 403, "feature_disabled",
                   "price")


def test_price_changes_left_out_of_allowed_updates_are_refused(portal):
    sam = portal(updates(allowed="quantity"), "sam@example.com")
    assert_refused(post(sam, "sub_sam_team", "preview", {"price": "price_pro_monthly"}), 403, "feature_disabled",
                   "price")


def test_a_plan_with_nothing_that_may_change_is_not_offered_a_change(portal):
    jenny = portal(updates(allowed="quantity"))  # Pro's quantity is not adjustable
    (sub,) = jenny.get("/api/portal").json()["subscriptions"]
    assert "update" not in sub["actions"]
    assert_refused(post(jenny, "sub_jenny_pro", "preview", {"quantity": 2}), 409, "not_updatable")


def test_quantity_changes_left_out_of_allowed_updates_are_refused(portal):
    sam = portal(updates(allowed="price"), "sam@example.com")
    assert_refused(post(sam, "sub_sam_team", "preview", {"quantity": 7}), 403, "feature_disabled", "quantity")


def test_a_price_in_another_currency_is_refused(portal, db):
    euro = dict(stored(db, "prices", "price_pro_yearly"), id="price_pro_yearly_eur", currency="eur")
    db.run(billing.upsert, "prices", [euro])
    jenny = portal(updates().replace("price_pro_yearly]", "price_pro_yearly, price_pro_yearly_eur]"))
    assert_refused(post(jenny, "sub_jenny_pro", "preview", {"price": "price_pro_yearly_eur"}), 400,
                   "currency_mismatch", "price")


def test_a_subscription_with_several_items_is_not_changed_here(portal, db):
    def add_item(sub):
        sub["items"]["data"].append({"id": "si_extra", "object": "subscription_item", "quantity": 1,
                                     "price": "price_starter_monthly"})

    change_stored(db, "subscriptions", "sub_jenny_pro", add_item)
    assert_refused(post(portal(updates()), "sub_jenny_pro", "preview", {"price": "price_pro_yearly"}), 409,
                   "not_updatable")


def test_a_canceled_subscription_is_not_changed(portal):
    jenny = portal(updates(cancel="mode: immediately"))
    post(jenny, "sub_jenny_pro", "cancel")
    assert_refused(post(jenny, "sub_jenny_pro", "update", {"price": "price_pro_yearly"}), 409, "not_updatable")


# Update

def test_an_upgrade_replaces_the_price_and_keeps_the_item(portal, db):
    jenny = portal(updates())
    body = {"price": "price_team_monthly", "quantity": 3}
    preview = post(jenny, "sub_jenny_pro", "preview", body).json()
    old_items = jenny.get("/api/portal").json()["subscriptions"][0]["items"]
    answer = post(jenny, "sub_jenny_pro", "update", body)
    assert answer.status_code == 200 and set(answer.json()) == {"subscription"}
    (item,) = answer.json()["subscription"]["items"]["data"]
    assert (item["id"], item["quantity"], item["price"]["id"]) == ("si_jenny_pro", 3, "price_team_monthly")
    assert item["price"]["product"]["name"] == "Team"
    assert stored(db, "subscriptions", "sub_jenny_pro")["items"]["data"][0]["price"] == "price_team_monthly"
    ((kind, event, entry),) = recorded(db)
    assert kind == "customer.subscription.updated"
    assert event["data"]["previous_attributes"] == {"items": old_items}
    assert json.loads(entry.detail) == {"items": old_items}
    assert event["data"]["object"]["pending_invoice_items"] == preview["lines"] == [UNUSED_PRO, TEAM_3]
    assert "pending_invoice_items" not in jenny.get("/api/portal").text


def test_an_item_holding_its_price_object_keeps_that_form(portal, db):
    price = stored(db, "prices", "price_pro_monthly")
    change_stored(db, "subscriptions", "sub_jenny_pro", lambda s: s["items"]["data"][0].update(price=price))
    post(portal(updates()), "sub_jenny_pro", "update", {"price": "price_pro_yearly"})
    assert stored(db, "subscriptions", "sub_jenny_pro")["items"]["data"][0]["price"] == stored(
        db, "prices", "price_pro_yearly")


def test_always_invoice_bills_the_difference_now(portal, db, clock):
    jenny = portal(updates("always_invoice"))
    answer = post(jenny, "sub_jenny_pro", "update", {"price": "price_team_monthly", "quantity": 3})
    assert set(answer.json()) == {"subscription", "invoice"}
    invoice = answer.json()["invoice"]
    assert invoice["number"] == "JENNY-0014"
    assert (invoice["status"], invoice["amount_due"], invoice["total"], invoice["amount_paid"]) == ("open", 280, 280, 0)
    assert (invoice["subscription"], invoice["created"], invoice["currency"]) == ("sub_jenny_pro", NOW, "usd")
    assert [x["amount"] for x in invoice["lines"]["data"]] == [-1160, 1440]
    assert invoice["id"].startswith("in_")
    assert stored(db, "invoices", invoice["id"])["customer"] == "cus_jenny"
    shown = jenny.get(f"/api/invoices/{invoice['id']}").json()["invoice"]
    assert (shown["number"], shown["amount_due"], shown["lines"]["data"][1]["amount"]) == ("JENNY-0014", 280, 1440)
    assert jenny.get("/api/portal").json()["invoices"][0]["id"] == invoice["id"]
    assert types(db) == ["customer.subscription.updated", "invoice.created"]
    assert recorded(db)[0][1]["data"]["object"]["pending_invoice_items"] == []
    assert recorded(db)[1][1]["data"]["object"]["amount_due"] == 280


def test_always_invoice_puts_a_net_credit_on_the_balance(portal, db):
    answer = post(portal(updates("always_invoice")), "sub_jenny_pro", "update", {"price": "price_pro_yearly"})
    assert answer.json()["credit"] == {"amount": 207, "currency": "usd"}  # 1160 unused, 953 for the rest
    assert "invoice" not in answer.json()
    assert stored(db, "customers", "cus_jenny")["balance"] == -207
    assert types(db) == ["customer.subscription.updated", "customer.updated"]


def test_without_prorations_the_new_price_simply_applies(portal, db):
    answer = post(portal(updates("none")), "sub_jenny_pro", "update", {"price": "price_team_monthly",
                                                                      "quantity": 3})
    assert set(answer.json()) == {"subscription"}
    assert answer.json()["subscription"]["items"]["data"][0]["price"]["id"] == "price_team_monthly"
    ((_, event, _),) = recorded(db)
    assert event["data"]["object"]["pending_invoice_items"] == []


def test_a_scheduled_downgrade_is_recorded_and_can_be_dropped(portal, db):
    jenny = portal(updates(conditions="decreasing_item_amount"))
    answer = post(jenny, "sub_jenny_pro", "update", {"price": "price_starter_monthly"})
    sub = answer.json()["subscription"]
    schedule = {"price": "price_starter_monthly", "quantity": 1, "effective_at": JENNY_END}
    assert sub["schedule"] == schedule
    assert sub["items"]["data"][0]["price"]["id"] == "price_pro_monthly"
    assert recorded(db)[0][1]["data"]["previous_attributes"] == {"schedule": None}
    # Choosing the current plan again drops the change that was waiting.
    assert post(jenny, "sub_jenny_pro", "preview", {"price": "price_pro_monthly"}).json()["lines"] == []
    sub = post(jenny, "sub_jenny_pro", "update", {"price": "price_pro_monthly"}).json()["subscription"]
    assert sub["schedule"] is None
    assert recorded(db)[1][1]["data"]["previous_attributes"] == {"schedule": schedule}
    assert_refused(post(jenny, "sub_jenny_pro", "update", {"price": "price_pro_monthly"}), 400, "invalid_request")


def test_an_upgrade_replaces_a_scheduled_downgrade(portal, db):
    jenny = portal(updates(conditions="decreasing_item_amount"))
    post(jenny, "sub_jenny_pro", "update", {"price": "price_starter_monthly"})
    sub = post(jenny, "sub_jenny_pro", "update", {"price": "price_pro_yearly"}).json()["subscription"]
    assert sub["schedule"] is None and sub["items"]["data"][0]["price"]["id"] == "price_pro_yearly"
    assert set(recorded(db)[1][1]["data"]["previous_attributes"]) == {"items", "schedule"}


def test_a_repeated_update_with_the_same_key_bills_once(portal, db):
    jenny = portal(updates("always_invoice"))
    body = {"price": "price_team_monthly", "quantity": 3}
    first = post(jenny, "sub_jenny_pro", "update", body, key="up-1")
    again = post(jenny, "sub_jenny_pro", "update", body, key="up-1")
    assert again.json() == first.json()
    assert types(db) == ["customer.subscription.updated", "invoice.created"]
    assert_refused(post(jenny, "sub_jenny_pro", "update", {"price": "price_pro_yearly"}, key="up-1"), 422,
                   "idempotency_mismatch")


def test_the_openapi_document_describes_the_subscription_endpoints(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    preview = paths["/api/subscriptions/{id}/preview"]["post"]
    schema = preview["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(schema["required"]) == {"amount_due", "currency", "lines", "proration_behavior", "effective_at"}
    assert {"403", "404", "409"} <= set(preview["responses"])
    assert {"404", "409", "422"} <= set(paths["/api/subscriptions/{id}/resume"]["post"]["responses"])
    assert "403" in paths["/api/plans"]["get"]["responses"]


# The business functions, called without HTTP.

def test_preview_and_update_are_business_functions_agreeing_on_the_lines(db, settings):
    planned = act(db, settings, plans.preview, "sub_jenny_pro", "price_team_monthly", 3, config=updates())
    assert planned["lines"] == [UNUSED_PRO, TEAM_3] and planned["effective_at"] is None
    done = act(db, settings, plans.update, "sub_jenny_pro", "price_team_monthly", 3, config=updates())
    assert (done.subscription.items[0].price.id, done.subscription.items[0].quantity) == ("price_team_monthly", 3)
    assert done.invoice is None and done.credit == 0
    ((_, event, _),) = recorded(db)
    assert event["data"]["object"]["pending_invoice_items"] == [UNUSED_PRO, TEAM_3]


def test_always_invoice_makes_the_invoice_the_engine_answered_with(db, settings):
    done = act(db, settings, plans.update, "sub_jenny_pro", "price_team_monthly", 3,
               config=updates("always_invoice"))
    assert done.invoice["amount_due"] == 280
    assert stored(db, "invoices", done.invoice["id"])["number"] == "JENNY-0014"
    assert types(db) == ["customer.subscription.updated", "invoice.created"]


def test_an_empty_change_is_refused_by_the_business_layer(db, settings):
    with pytest.raises(APIError) as refused:
        act(db, settings, plans.update, "sub_jenny_pro", None, None, config=updates())
    assert refused.value.code == "invalid_request"
    assert types(db) == []
