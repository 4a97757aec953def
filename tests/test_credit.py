"""Credits for unused time come from what was paid for the period, whatever plan changes came first:
every setting of subscription_update.proration_behavior against every setting of
subscription_cancel.proration_behavior, upgrades and downgrades, with exact amounts."""

from __future__ import annotations

import pytest
from helpers import NOW
from subscription_helpers import (
    DAY,
    change_stored,
    post,
    recorded,
    stored,
    types,
    updates,
)

from backend import credit, stripe_objects

# Jenny paid 2900 for a 30-day period with 12 days to come: 1160 of it is unused now,
# 870 three days later (9 days to come).
CANCEL_NOW = "mode: immediately, proration_behavior: create_prorations"
CANCEL_NO_CREDIT = "mode: immediately, proration_behavior: none"
TEAM_50 = {"price": "price_team_monthly", "quantity": 50}  # 60000 a month: 24000 for 12 days
STARTER = {"price": "price_starter_monthly"}  # 900 a month: 360 for 12 days


def credit_on_cancel(portal, update_behavior: str, cancel: str, change: dict, clock, later: int) -> int | None:
    config = updates(update_behavior, cancel=cancel)
    assert post(portal(config), "sub_jenny_pro", "update", change).status_code == 200
    clock.advance(later)
    answer = post(portal(config), "sub_jenny_pro", "cancel")  # a new session: the first one has gone idle
    assert answer.status_code == 200, answer.text
    found = answer.json().get("credit")
    return None if found is None else found["amount"]


def test_the_reviewed_attack_credits_at_most_the_unused_part_of_what_was_paid(portal, db):
    # 29 a month, 12 days left: 50 seats with nothing charged, then canceled at once.
    config = updates("none", cancel=CANCEL_NOW)
    jenny = portal(config)
    assert set(post(jenny, "sub_jenny_pro", "update", TEAM_50).json()) == {"subscription"}
    answer = post(jenny, "sub_jenny_pro", "cancel").json()
    assert answer["credit"] == {"amount": 1160, "currency": "usd"}  # 2900 x 12 / 30, not 24000
    assert stored(db, "customers", "cus_jenny")["balance"] == -1160


def case(update_behavior: str, change: dict, cancel: str, amount: int | None) -> object:
    name = f"{update_behavior}-{'upgrade' if change is TEAM_50 else 'downgrade'}-" + (
        "credit" if cancel == CANCEL_NOW else "no_credit")
    return pytest.param(update_behavior, change, cancel, amount, id=name)


@pytest.mark.parametrize(("update_behavior", "change", "cancel", "amount"), [
    # A change that charged nothing adds nothing: the credit is the unused part of the 2900 paid.
    case("none", TEAM_50, CANCEL_NOW, 870),
    case("none", STARTER, CANCEL_NOW, 870),
    # An upgrade whose charge waits for the next invoice, or sits on an unpaid invoice, was not paid.
    case("create_prorations", TEAM_50, CANCEL_NOW, 870),
    case("always_invoice", TEAM_50, CANCEL_NOW, 870),
    # A downgrade's credit (800: 1160 unused, less 360 for Starter) was already given: 600 of it
    # covers the 9 days left, so 270 remains, which is Starter's own price for 9 days.
    case("create_prorations", STARTER, CANCEL_NOW, 270),
    case("always_invoice", STARTER, CANCEL_NOW, 270),
    case("none", TEAM_50, CANCEL_NO_CREDIT, None),
    case("none", STARTER, CANCEL_NO_CREDIT, None),
    case("create_prorations", TEAM_50, CANCEL_NO_CREDIT, None),
    case("create_prorations", STARTER, CANCEL_NO_CREDIT, None),
    case("always_invoice", TEAM_50, CANCEL_NO_CREDIT, None),
    case("always_invoice", STARTER, CANCEL_NO_CREDIT, None),
])
def test_every_combination_of_change_and_cancel(portal, db, clock, update_behavior, change, cancel, amount):
    assert credit_on_cancel(portal, update_behavior, cancel, change, clock, 3 * DAY) == amount
    balance = stored(db, "customers", "cus_jenny").get("balance")
    given_at_change = 800 if update_behavior == "always_invoice" and change is STARTER else 0
    assert (balance or 0) == -given_at_change - (amount or 0)


def test_an_upgrade_once_paid_is_credited_for_its_unused_part(portal, db, clock):
    config = updates("always_invoice", cancel=CANCEL_NOW)
    invoice = post(portal(config), "sub_jenny_pro", "update", TEAM_50).json()["invoice"]
    assert invoice["amount_due"] == 22840  # 24000 for 50 seats, less the 1160 unused
    change_stored(db, "invoices", invoice["id"], lambda i: i.update(
        status="paid", amount_paid=22840, amount_remaining=0))
    clock.advance(3 * DAY)
    # 870 of the 2900, and 9 of the 12 days the 22840 paid for: 17130; 50 seats for 9 days is 18000.
    assert post(portal(config), "sub_jenny_pro", "cancel").json()["credit"]["amount"] == 18000


def test_an_unpaid_upgrade_gives_no_credit_for_a_downgrade_right_after(portal, db):
    jenny = portal(updates("always_invoice"))
    assert post(jenny, "sub_jenny_pro", "update", TEAM_50).json()["invoice"]["status"] == "open"
    lines = post(jenny, "sub_jenny_pro", "preview", STARTER).json()["lines"]
    assert [line["amount"] for line in lines] == [-1160, 360]  # not -24000: those 50 seats are unpaid
    answer = post(jenny, "sub_jenny_pro", "update", STARTER).json()
    assert answer["credit"] == {"amount": 800, "currency": "usd"}
    assert stored(db, "customers", "cus_jenny")["balance"] == -800


def test_prorations_waiting_for_the_next_invoice_net_out_over_several_changes(portal, db):
    jenny = portal(updates("create_prorations"))
    assert post(jenny, "sub_jenny_pro", "update", TEAM_50).status_code == 200
    preview = post(jenny, "sub_jenny_pro", "preview", STARTER).json()
    assert [line["amount"] for line in preview["lines"]] == [-24000, 360]
    post(jenny, "sub_jenny_pro", "update", STARTER)
    pending = [line["amount"] for _, event, _ in recorded(db)
               for line in event["data"]["object"].get("pending_invoice_items", [])]
    assert pending == [-1160, 24000, -24000, 360]
    assert sum(pending) == -800  # Pro to Starter for 12 days, as one change would have made it


def test_a_credit_once_given_is_not_given_again(portal, db, clock):
    jenny = portal(updates("none", cancel=CANCEL_NOW))
    assert post(jenny, "sub_jenny_pro", "cancel").json()["credit"]["amount"] == 1160
    # An import brings the subscription back as it was in the billing system: still active.
    change_stored(db, "subscriptions", "sub_jenny_pro", lambda s: s.update(
        status="active", canceled_at=None, ended_at=None))
    again = post(jenny, "sub_jenny_pro", "cancel").json()
    assert "credit" not in again and stored(db, "customers", "cus_jenny")["balance"] == -1160
    assert types(db) == ["customer.subscription.deleted", "customer.updated", "customer.subscription.deleted"]


def test_a_period_not_paid_has_nothing_to_credit(portal, db):
    change_stored(db, "invoices", "in_jenny_0013", lambda i: i.update(status="open", amount_paid=0,
                                                                       amount_remaining=2900))
    jenny = portal(updates(cancel=CANCEL_NOW))
    assert [line["amount"] for line in post(jenny, "sub_jenny_pro", "preview", STARTER).json()["lines"]] == [0, 360]
    answer = post(jenny, "sub_jenny_pro", "cancel").json()
    assert answer["subscription"]["status"] == "canceled" and "credit" not in answer


def test_invoices_of_an_earlier_period_or_another_subscription_do_not_count(db):
    sub = stored(db, "subscriptions", "sub_jenny_pro")
    assert db.run(credit.creditable, sub, NOW, write=False) == 1160
    change_stored(db, "invoices", "in_jenny_0013", lambda i: i.update(subscription="sub_other"))
    assert db.run(credit.creditable, sub, NOW, write=False) == 0
    newer = {"subscription": None, "parent": {"subscription_details": {"subscription": "sub_jenny_pro"}}}
    change_stored(db, "invoices", "in_jenny_0013", lambda i: i.update(stripe_objects.normalise(i | newer)[0][1]))
    assert db.run(credit.creditable, sub, NOW, write=False) == 1160  # where newer API versions keep it
    change_stored(db, "invoices", "in_jenny_0013", lambda i: i.update(created=NOW - 18 * DAY - 1))
    assert db.run(credit.creditable, sub, NOW, write=False) == 0
