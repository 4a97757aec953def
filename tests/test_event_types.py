"""One shape per event type: every action that sends an event is driven through the API, and each
event it recorded must validate against its type's schema, as served in the OpenAPI document."""

from __future__ import annotations

from typing import Any, get_args

import jsonschema
from business_helpers import act
from stripe_boundary import completed, example, scripted_client
from subscription_helpers import change_stored, recorded, updates

from backend import event_types, invoices, payment_methods
from backend.config import WebhookEventOption
from backend.store import billing

RETAIN = "retention: {enabled: true, percent_off: 25, duration_in_months: 3}"
CREDIT_ON_CANCEL = "mode: immediately, proration_behavior: create_prorations"
SUB = "/api/subscriptions/sub_jenny_pro/"
CHANGED = ["customer.updated"]
SUB_CHANGED = ["customer.subscription.updated"]
# (what the customer does, method, path, body, the event types it sends), in the order done.
AT_PERIOD_END = [
    ("edits the name", "PATCH", "/api/customer", {"name": "Jenny R."}, CHANGED),
    ("edits the address", "PATCH", "/api/customer", {"address": {
        "line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117", "country": "DE"}}, CHANGED),
    ("adds a tax id", "PATCH", "/api/customer", {"tax_ids": [
        {"type": "eu_vat", "value": "DE123456789"}, {"type": "gb_vat", "value": "GB980780684"}]}, CHANGED),
    ("deletes a tax id", "PATCH", "/api/customer", {"tax_ids": [{"type": "eu_vat", "value": "DE123456789"}]},
     CHANGED),
    ("sets the default card", "POST", "/api/payment_methods/pm_jenny_mc/default", {}, CHANGED),
    ("takes the offer for staying", "POST", SUB + "retention", {}, SUB_CHANGED),
    ("changes plan", "POST", SUB + "update", {"price": "price_team_monthly", "quantity": 3}, SUB_CHANGED),
    ("changes quantity", "POST", SUB + "update", {"quantity": 4}, SUB_CHANGED),
    ("schedules a downgrade", "POST", SUB + "update", {"price": "price_starter_monthly"}, SUB_CHANGED),
    ("cancels at the period's end", "POST", SUB + "cancel", {"reason": "too_expensive"}, SUB_CHANGED),
    ("resumes", "POST", SUB + "resume", {}, SUB_CHANGED),
    ("removes the card the subscription used", "DELETE", "/api/payment_methods/pm_jenny_mc", {},
     ["payment_method.detached", "customer.updated", "customer.subscription.updated"]),
]
AT_ONCE = [
    ("adds seats, invoiced now", "POST", SUB + "update", {"price": "price_team_monthly", "quantity": 10},
     ["customer.subscription.updated", "invoice.created"]),
    ("removes seats, credited", "POST", SUB + "update", {"quantity": 1}, ["customer.subscription.updated",
                                                                          "customer.updated"]),
    ("cancels now, credited", "POST", SUB + "cancel", {}, ["customer.subscription.deleted", "customer.updated"]),
]


# What only the stripe engine does at once: adding a card on Stripe's page, and paying with the default card.
STRIPE_ONLY = {"payment_method.attached", "invoice.paid"}


def do(client, actions) -> list[str]:
    sent = []
    for what, method, path, body, kinds in actions:
        answer = client.request(method, path, json=body)
        assert answer.status_code in (200, 204), (what, answer.text)
        sent += kinds
    return sent


def served_schema(client, event_type: str) -> dict[str, Any]:
    hook = client.get("/api/openapi.json").json()["webhooks"][event_type]["post"]
    return hook["requestBody"]["content"]["application/json"]["schema"]  # type: ignore[no-any-return]


def test_every_event_type_has_one_shape_whatever_action_sent_it(portal, db, clock):
    change_stored(db, "subscriptions", "sub_jenny_pro", lambda s: s.update(default_payment_method="pm_jenny_mc"))
    jenny = portal(updates("create_prorations", "decreasing_item_amount", cancel=RETAIN))
    expected = do(jenny, AT_PERIOD_END)
    clock.advance(61)  # a new sign-in: one code a minute
    expected += do(portal(updates("always_invoice", cancel=CREDIT_ON_CANCEL)), AT_ONCE)

    events = recorded(db)
    assert [kind for kind, _, _ in events] == expected
    assert set(expected) | STRIPE_ONLY == set(event_types.OBJECTS)
    for kind, event, entry in events:
        problems = [error.message for error in jsonschema.Draft202012Validator(served_schema(jenny, kind))
                    .iter_errors(event)]
        assert problems == [], (kind, entry.object_id, problems)


def test_a_webhook_may_ask_for_exactly_the_event_types_porch_sends():
    assert set(get_args(WebhookEventOption)) == {"*"} | set(event_types.OBJECTS)


def test_the_events_of_what_only_stripe_does_at_once_have_their_shapes(portal, db, settings):
    change_stored(db, "customers", "cus_jenny", lambda c: c.update(invoice_settings={"default_payment_method": None}))
    session = completed("cus_jenny")
    now_default = example("customer", id="cus_jenny", invoice_settings={
        "default_payment_method": session["setup_intent"]["payment_method"]["id"]})
    client, _ = scripted_client((200, session), (200, now_default))
    act(db, settings, payment_methods.added, session["id"], stripe_client=client)
    owed = db.run(billing.get, "invoices", "in_alex_0002", write=False)
    paid = owed | {"status": "paid", "amount_paid": owed["amount_due"], "amount_remaining": 0}
    client, _ = scripted_client((200, db.run(billing.get, "customers", "cus_alex", write=False)), (200, paid),
                                (200, db.run(billing.get, "subscriptions", "sub_alex_pro", write=False)
                                       | {"status": "active"}))
    act(db, settings, invoices.pay, "in_alex_0002", customer="cus_alex", stripe_client=client)

    events = recorded(db)
    assert [kind for kind, _, _ in events] == [
        "payment_method.attached", "customer.updated", "invoice.paid", "customer.subscription.updated"]
    jenny = portal()
    for kind, event, entry in events:
        problems = [error.message for error in jsonschema.Draft202012Validator(served_schema(jenny, kind))
                    .iter_errors(event)]
        assert problems == [], (kind, entry.object_id, problems)


def test_a_subscription_left_by_a_removed_card_is_sent_whole(portal, db):
    change_stored(db, "subscriptions", "sub_jenny_pro", lambda s: s.update(default_payment_method="pm_jenny_mc"))
    jenny = portal()
    assert jenny.request("DELETE", "/api/payment_methods/pm_jenny_mc", json={}).status_code == 204
    ((_, event, _),) = [found for found in recorded(db) if found[0] == "customer.subscription.updated"]
    sub = event["data"]["object"]
    assert sub["customer"] == "cus_jenny"
    assert sub["default_payment_method"] is None
    assert event["data"]["previous_attributes"] == {"default_payment_method": "pm_jenny_mc"}
    (item,) = sub["items"]["data"]
    assert (item["price"]["id"], item["price"]["unit_amount"], item["price"]["product"]["name"]) == (
        "price_pro_monthly", 2900, "Pro")
    shown = jenny.get("/api/portal").json()["subscriptions"][0]["items"]["data"][0]
    assert item["price"] == shown["price"]  # as the portal shows it
