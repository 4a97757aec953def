"""The stripe engine's subscription and invoice actions, called as the business layer calls them.

Against the emulator (localstripe), each action is read back from the emulator. What localstripe
cannot do (prorations, cancellation details, discounts, schedules, invoice previews, hosted invoice
pages) is tested at the SDK boundary: the exact requests Stripe's SDK sends, answered with Stripe's
published example objects. The same actions run against Stripe's test mode in test_stripe_testmode.py."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import stripe
from processes import free_port
from stripe_boundary import Sent, example, scripted_client
from stripe_calls import make_call
from stripe_emulator import Emulator

from backend import stripe_api
from backend.billing_types import Invoice, Price, Subscription
from backend.config import RetentionOffer, parse_config
from backend.engine import Call, Changed, Payment, Preview
from backend.errors import APIError
from backend.settings import Settings
from backend.store.database import create_engine, migrate
from backend.stripe_engine import StripeEngine
from backend.stripe_objects import normalise

CONFIG = parse_config("business: {name: Acme, support_email: billing@acme.example}\n")[0]
OFFER = RetentionOffer(enabled=True, percent_off=20, duration_in_months=3)


def settings_for(tmp_path: Path, key: str, base: str) -> Settings:
    return Settings(config_path=tmp_path / "config.yaml", database_url=f"sqlite:///{tmp_path / 'porch.db'}",
                    secret_key=b"s" * 32, smtp_url=None, outbox_dir=tmp_path / "outbox",
                    stripe_secret_key=key, stripe_api_base=base)


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sa.Connection]:
    engine = create_engine(f"sqlite:///{tmp_path / 'porch.db'}")
    migrate(engine)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


@pytest.fixture
def call(conn: sa.Connection) -> Call:
    return make_call(conn)


@pytest.fixture
def sdk(stripe_emulator: Emulator, tmp_path: Path) -> stripe.StripeClient:
    return stripe_api.client(settings_for(tmp_path, stripe_emulator.key, stripe_emulator.url), retries=0)


def read(answer: Any) -> dict[str, Any]:
    return normalise(stripe_api.as_dict(answer))[0][1]


def subscribed(sdk: stripe.StripeClient) -> Subscription:
    """A customer whose default card is a Visa, subscribed to plan pro_monthly (localstripe has plans, no prices:
    Stripe itself takes a plan's id wherever a price's is asked), with team_monthly to switch to."""
    product = sdk.v1.products.create({"name": "Pro"})
    for plan, amount in (("pro_monthly", 2000), ("team_monthly", 5000)):
        sdk.v1.plans.create({"id": plan, "product": product.id, "amount": amount, "currency": "usd",
                             "interval": "month"})
    customer = sdk.v1.customers.create({"email": "jenny@example.com"})
    method = sdk.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})
    sdk.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": method.id}})
    sub = sdk.v1.subscriptions.create({"customer": customer.id, "items": [{"plan": "pro_monthly", "quantity": 1}]})
    return Subscription.of(read(sub))


def price(sdk: stripe.StripeClient, plan: str) -> Price:
    return Price.of(read(sdk.v1.plans.retrieve(plan)))


def in_emulator(sdk: stripe.StripeClient, sub: Subscription) -> Subscription:
    return Subscription.of(read(sdk.v1.subscriptions.retrieve(sub.id)))


# Against the emulator.


def test_cancel_at_period_end_is_set_in_stripe(sdk: stripe.StripeClient, call: Call) -> None:
    sub = subscribed(sdk)
    changed = StripeEngine(sdk, CONFIG).cancel(call, sub, at_period_end=True, prorate=False, details={})
    assert changed.subscription["cancel_at_period_end"] is True
    assert changed.subscription["items"]["data"][0]["price"]["id"] == "pro_monthly"  # the store's shape
    assert (changed.invoice, changed.customer) == (None, None)
    now = in_emulator(sdk, sub)
    assert (now.cancel_at_period_end, now.status) == (True, "active")


def test_resume_undoes_cancel_at_period_end_in_stripe(sdk: stripe.StripeClient, call: Call) -> None:
    sub = subscribed(sdk)
    engine = StripeEngine(sdk, CONFIG)
    cancelled = Subscription.of(engine.cancel(call, sub, at_period_end=True, prorate=False, details={}).subscription)
    changed = engine.resume(make_call(call.conn, key="k2"), cancelled)
    assert changed.subscription["cancel_at_period_end"] is False
    assert in_emulator(sdk, sub).cancel_at_period_end is False


def test_cancel_now_ends_the_subscription_in_stripe(sdk: stripe.StripeClient, call: Call) -> None:
    sub = subscribed(sdk)
    changed = StripeEngine(sdk, CONFIG).cancel(call, sub, at_period_end=False, prorate=False, details={})
    assert changed.subscription["status"] == "canceled"
    assert changed.customer is None
    assert in_emulator(sdk, sub).status == "canceled"


def test_cancel_now_with_proration_reads_the_customer_again(sdk: stripe.StripeClient, call: Call) -> None:
    sub = subscribed(sdk)
    changed = StripeEngine(sdk, CONFIG).cancel(call, sub, at_period_end=False, prorate=True, details={})
    assert in_emulator(sdk, sub).status == "canceled"
    # Stripe credits the unused time to the customer's balance: the customer is returned to be stored.
    assert changed.customer is not None and changed.customer["id"] == sub.customer


def test_quantity_change_is_made_in_stripe(sdk: stripe.StripeClient, call: Call) -> None:
    sub = subscribed(sdk)
    changed = StripeEngine(sdk, CONFIG).change(call, sub, price(sdk, "pro_monthly"), 3, "create_prorations")
    assert changed.subscription["items"]["data"][0]["quantity"] == 3
    now = in_emulator(sdk, sub)
    assert (now.items[0].price.id, now.items[0].quantity) == ("pro_monthly", 3)


def test_paying_an_invoice_with_the_default_card(sdk: stripe.StripeClient, call: Call) -> None:
    sub = subscribed(sdk)
    draft = Invoice.of(read(sdk.v1.invoices.create({"customer": sub.customer, "subscription": sub.id})))
    payment = StripeEngine(sdk, CONFIG).pay_invoice(call, draft)
    assert payment.url is None and payment.invoice is not None
    assert payment.invoice["status"] == "paid"
    assert sdk.v1.invoices.retrieve(draft.id).status == "paid"
    # Read again after the payment, as Stripe has it now, so the page shows it at once.
    assert payment.subscription is not None
    assert (payment.subscription["id"], payment.subscription["status"]) == (sub.id, in_emulator(sdk, sub).status)


def test_without_a_default_card_or_a_hosted_page_paying_is_refused(sdk: stripe.StripeClient, call: Call) -> None:
    # localstripe makes no hosted invoice pages; where Stripe has one, the customer is sent there (tested at
    # the SDK boundary).
    sub = subscribed(sdk)
    invoice = Invoice.of(read(sdk.v1.invoices.create({"customer": sub.customer, "subscription": sub.id})))
    sdk.v1.customers.update(sub.customer, {"invoice_settings": {"default_payment_method": ""}})
    with pytest.raises(APIError) as refused:
        StripeEngine(sdk, CONFIG).pay_invoice(call, invoice)
    assert (refused.value.status, refused.value.code) == (409, "billing_refused")
    assert sdk.v1.invoices.retrieve(invoice.id).status == "draft"


def test_a_change_stripe_refuses_answers_409(sdk: stripe.StripeClient, call: Call) -> None:
    sub = subscribed(sdk)
    paid = Invoice.of(read(sdk.v1.invoices.retrieve(str(sub.data["latest_invoice"]))))
    assert paid.status == "paid"
    with pytest.raises(APIError) as refused:
        StripeEngine(sdk, CONFIG).pay_invoice(call, paid)
    assert (refused.value.status, refused.value.code) == (409, "billing_refused")


ACTIONS = {
    "cancel": lambda engine, call, sub, invoice, price: engine.cancel(call, sub, at_period_end=True, prorate=False,
                                                                       details={}),
    "cancel_now": lambda engine, call, sub, invoice, price: engine.cancel(call, sub, at_period_end=False, prorate=True,
                                                                           details={}),
    "resume": lambda engine, call, sub, invoice, price: engine.resume(call, sub),
    "apply_retention": lambda engine, call, sub, invoice, price: engine.apply_retention(call, sub, OFFER),
    "preview_change": lambda engine, call, sub, invoice, price: engine.preview_change(call, sub, price, 2,
                                                                                     "create_prorations"),
    "change": lambda engine, call, sub, invoice, price: engine.change(call, sub, price, 2, "always_invoice"),
    "schedule_change": lambda engine, call, sub, invoice, price: engine.schedule_change(call, sub, price, 2, 1900000000),
    "drop_scheduled_change": lambda engine, call, sub, invoice, price: engine.drop_scheduled_change(
        call, Subscription.of(sub.data | {"schedule": "sub_sched_1"})),
    "pay_invoice": lambda engine, call, sub, invoice, price: engine.pay_invoice(call, invoice),
}


@pytest.mark.parametrize("action", ACTIONS)
def test_stripe_unreachable_answers_503_and_nothing_else(action: str, call: Call, tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    engine = StripeEngine(stripe_api.client(settings_for(tmp_path, "sk_test_closed", closed), retries=0), CONFIG)
    sub = Subscription.of(read(example("subscription")))
    invoice = Invoice.of(read(example("invoice")))
    with pytest.raises(APIError) as refused:
        ACTIONS[action](engine, call, sub, invoice, sub.items[0].price)
    assert (refused.value.status, refused.value.code) == (503, "billing_unavailable")
    assert refused.value.headers == {"Retry-After": "30"}


# At the SDK boundary: what localstripe cannot do.


def key(request_key: str, step: str) -> str:
    return stripe_api.idempotency_key(request_key, step)


def example_sub(**changes: Any) -> Subscription:
    return Subscription.of(read(example("subscription", **changes)))


def posted(sent: Sent) -> tuple[str, str, dict[str, str], str | None]:
    return sent.method, sent.path, sent.params, sent.headers.get("Idempotency-Key")


def test_cancel_at_period_end_sends_the_reason_at_the_sdk_boundary(call: Call) -> None:
    answer = example("subscription", cancel_at_period_end=True)
    client, http = scripted_client((200, answer))
    sub = example_sub()
    changed = StripeEngine(client, CONFIG).cancel(call, sub, at_period_end=True, prorate=False,
                                                  details={"feedback": "too_expensive", "comment": "Over budget"})
    assert [posted(sent) for sent in http.sent] == [
        ("POST", f"/v1/subscriptions/{sub.id}",
         {"cancel_at_period_end": "true", "cancellation_details[feedback]": "too_expensive",
          "cancellation_details[comment]": "Over budget"}, key("k1", "cancel")),
    ]
    assert changed == Changed(subscription=read(answer))


def test_cancel_now_with_proration_at_the_sdk_boundary(call: Call) -> None:
    final = example("invoice", id="in_final", status="paid")
    customer = example("customer", balance=-1200)
    client, http = scripted_client((200, example("subscription", status="canceled", latest_invoice=final)),
                                   (200, customer))
    sub = example_sub(latest_invoice="in_earlier")
    changed = StripeEngine(client, CONFIG).cancel(call, sub, at_period_end=False, prorate=True,
                                                  details={"feedback": "unused"})
    assert [posted(sent) for sent in http.sent] == [
        ("DELETE", f"/v1/subscriptions/{sub.id}",
         {"prorate": "true", "invoice_now": "true", "expand[0]": "latest_invoice",
          "cancellation_details[feedback]": "unused"}, None),
        ("GET", f"/v1/customers/{sub.customer}", {}, None),
    ]
    assert changed.subscription["status"] == "canceled"
    assert changed.subscription["latest_invoice"] == "in_final"
    assert changed.invoice == read(final)
    assert changed.customer == read(customer)


def test_cancel_now_without_proration_at_the_sdk_boundary(call: Call) -> None:
    client, http = scripted_client((200, example("subscription", status="canceled")))
    StripeEngine(client, CONFIG).cancel(call, example_sub(), at_period_end=False, prorate=False, details={})
    assert [sent.params for sent in http.sent] == [
        {"prorate": "false", "invoice_now": "false", "expand[0]": "latest_invoice"},
    ]


def test_resume_at_the_sdk_boundary(call: Call) -> None:
    client, http = scripted_client((200, example("subscription", cancel_at_period_end=False)))
    sub = example_sub(cancel_at_period_end=True)
    StripeEngine(client, CONFIG).resume(call, sub)
    assert [posted(sent) for sent in http.sent] == [
        ("POST", f"/v1/subscriptions/{sub.id}", {"cancel_at_period_end": "false"}, key("k1", "resume")),
    ]


MISSING = (404, {"error": {"type": "invalid_request_error", "code": "resource_missing", "param": "id",
                           "message": "No such coupon: 'porch_retention_20_off_3m'"}})


def test_retention_creates_its_coupon_once_and_applies_it_at_the_sdk_boundary(call: Call) -> None:
    coupon = example("coupon", id="porch_retention_20_off_3m", duration="repeating", percent_off=20)
    discounted = example("subscription", discounts=[example("discount", coupon=coupon)])
    client, http = scripted_client(MISSING, (200, coupon), (200, discounted))
    sub = example_sub()
    changed = StripeEngine(client, CONFIG).apply_retention(call, sub, OFFER)
    assert [posted(sent) for sent in http.sent] == [
        ("GET", "/v1/coupons/porch_retention_20_off_3m", {}, None),
        ("POST", "/v1/coupons", {"id": "porch_retention_20_off_3m", "duration": "repeating",
                                 "duration_in_months": "3", "percent_off": "20", "name": "20% off for 3 months"},
         key("k1", "retention-coupon")),
        ("POST", f"/v1/subscriptions/{sub.id}", {"discounts[0][coupon]": "porch_retention_20_off_3m"},
         key("k1", "retention")),
    ]
    assert changed.subscription["discounts"][0]["coupon"]["id"] == "porch_retention_20_off_3m"


def test_retention_reuses_the_coupon_stripe_has_at_the_sdk_boundary(call: Call) -> None:
    coupon = example("coupon", id="porch_retention_20_off_3m")
    client, http = scripted_client((200, coupon), (200, example("subscription")))
    StripeEngine(client, CONFIG).apply_retention(call, example_sub(), OFFER)
    assert [(sent.method, sent.path) for sent in http.sent] == [
        ("GET", "/v1/coupons/porch_retention_20_off_3m"), ("POST", f"/v1/subscriptions/{example_sub().id}"),
    ]


def test_idempotency_keys_repeat_for_a_repeated_request_and_differ_between_steps_at_the_sdk_boundary(
        conn: sa.Connection) -> None:
    def keys(request_key: str) -> list[str | None]:
        client, http = scripted_client(MISSING, (200, example("coupon")), (200, example("subscription")))
        StripeEngine(client, CONFIG).apply_retention(make_call(conn, key=request_key), example_sub(), OFFER)
        return [sent.headers.get("Idempotency-Key") for sent in http.sent if sent.method == "POST"]

    first = keys("request-1")
    assert first == keys("request-1")
    assert len(set(first)) == 2
    assert set(first).isdisjoint(keys("request-2"))


def preview_invoice() -> dict[str, Any]:
    """Stripe's example invoice as a preview: one proration line, its price under `pricing` (2025-03-31.basil)."""
    invoice = example("invoice", id="upcoming_in_1Pgc6tB7WZ01zgkWu9fdqL6I", amount_due=1234)
    line = invoice["lines"]["data"][0]
    line["pricing"]["price_details"] = {"price": "price_team", "product": "prod_QXg1hqf4jFNsqG"}
    return invoice


def test_preview_is_stripes_own_at_the_sdk_boundary(call: Call) -> None:
    client, http = scripted_client((200, preview_invoice()))
    sub = example_sub()
    team = Price.of(example("price", id="price_team"))
    preview = StripeEngine(client, CONFIG).preview_change(call, sub, team, 2, "create_prorations")
    assert [posted(sent) for sent in http.sent] == [
        ("POST", "/v1/invoices/create_preview", {
            "customer": sub.customer, "subscription": sub.id,
            "subscription_details[items][0][id]": sub.items[0].id,
            "subscription_details[items][0][price]": "price_team",
            "subscription_details[items][0][quantity]": "2",
            "subscription_details[proration_behavior]": "create_prorations",
            "subscription_details[proration_date]": str(call.actor.now),
        }, key("k1", "preview")),
    ]
    assert preview == Preview(amount_due=1234, currency="usd", lines=[{
        "description": "My First Invoice Item (created for API docs)", "amount": 1000, "proration": True,
        "period": {"start": 1721954054, "end": 1721954054}, "price": "price_team", "quantity": 1,
    }])


def test_preview_without_prorations_sends_no_proration_date_at_the_sdk_boundary(call: Call) -> None:
    answer = preview_invoice()
    del answer["id"]  # API versions before previews had ids
    client, http = scripted_client((200, answer))
    team = Price.of(example("price", id="price_team"))
    StripeEngine(client, CONFIG).preview_change(call, example_sub(), team, 1, "none")
    assert "subscription_details[proration_date]" not in http.sent[0].params
    assert http.sent[0].params["subscription_details[proration_behavior]"] == "none"


def test_plan_change_invoiced_now_returns_stripes_invoice_at_the_sdk_boundary(call: Call) -> None:
    invoice = example("invoice", id="in_proration", status="paid")
    client, http = scripted_client((200, example("subscription", latest_invoice=invoice)))
    sub = example_sub(latest_invoice="in_earlier")
    team = Price.of(example("price", id="price_team"))
    changed = StripeEngine(client, CONFIG).change(call, sub, team, 2, "always_invoice")
    assert [posted(sent) for sent in http.sent] == [
        ("POST", f"/v1/subscriptions/{sub.id}", {
            "items[0][id]": sub.items[0].id, "items[0][price]": "price_team", "items[0][quantity]": "2",
            "proration_behavior": "always_invoice", "expand[0]": "latest_invoice",
            "payment_behavior": "error_if_incomplete",
        }, key("k1", "change")),
    ]
    assert changed.invoice == read(invoice)


def test_plan_change_with_prorations_for_later_makes_no_invoice_at_the_sdk_boundary(call: Call) -> None:
    unchanged = example("invoice", id="in_earlier")
    client, http = scripted_client((200, example("subscription", latest_invoice=unchanged)))
    team = Price.of(example("price", id="price_team"))
    changed = StripeEngine(client, CONFIG).change(call, example_sub(latest_invoice="in_earlier"), team, 1,
                                                  "create_prorations")
    assert "payment_behavior" not in http.sent[0].params
    assert http.sent[0].params["proration_behavior"] == "create_prorations"
    assert changed.invoice is None


DECLINED = (402, {"error": {"type": "card_error", "code": "card_declined", "decline_code": "generic_decline",
                            "message": "Your card was declined."}})


def test_a_declined_charge_refuses_the_change_at_the_sdk_boundary(call: Call) -> None:
    client, _ = scripted_client(DECLINED)
    team = Price.of(example("price", id="price_team"))
    with pytest.raises(APIError) as refused:
        StripeEngine(client, CONFIG).change(call, example_sub(), team, 1, "always_invoice")
    assert (refused.value.status, refused.value.code) == (402, "card_declined")


def test_a_subscription_of_several_items_is_refused_before_asking_stripe(call: Call) -> None:
    sub = example("subscription")
    sub["items"]["data"].append(sub["items"]["data"][0] | {"id": "si_second"})
    client, http = scripted_client()
    with pytest.raises(APIError) as refused:
        StripeEngine(client, CONFIG).change(call, Subscription.of(read(sub)), example_sub().items[0].price, 1, "none")
    assert (refused.value.status, refused.value.code, http.sent) == (409, "billing_refused", [])


def test_schedule_change_at_period_end_at_the_sdk_boundary(call: Call) -> None:
    schedule = example("subscription_schedule")
    phase = schedule["phases"][0]
    phase["discounts"] = [{"coupon": "porch_retention_20_off_3m", "discount": "di_1", "promotion_code": None}]
    scheduled = example("subscription", schedule=schedule["id"])
    client, http = scripted_client((200, schedule), (200, schedule), (200, scheduled))
    sub = example_sub()
    team = Price.of(example("price", id="price_team"))
    changed = StripeEngine(client, CONFIG).schedule_change(call, sub, team, 2, 1754008472)
    assert [posted(sent) for sent in http.sent] == [
        ("POST", "/v1/subscription_schedules", {"from_subscription": sub.id}, key("k1", "schedule")),
        ("POST", f"/v1/subscription_schedules/{schedule['id']}", {
            "phases[0][items][0][price]": "price_1PgafmB7WZ01zgkW6dKueIc5", "phases[0][items][0][quantity]": "1",
            "phases[0][start_date]": "1722558872", "phases[0][end_date]": "1754008472",
            "phases[0][discounts][0][discount]": "di_1",
            "phases[1][items][0][price]": "price_team", "phases[1][items][0][quantity]": "2",
            "phases[1][duration][interval]": "month", "phases[1][duration][interval_count]": "1",
            "phases[1][discounts][0][discount]": "di_1",
            "end_behavior": "release",
        }, key("k1", "schedule-phases")),
        ("GET", f"/v1/subscriptions/{sub.id}", {}, None),
    ]
    assert changed.subscription["schedule"] == schedule["id"]


def test_schedule_change_reuses_the_subscriptions_schedule_from_its_current_phase_at_the_sdk_boundary(
        call: Call) -> None:
    schedule = example("subscription_schedule")
    earlier = schedule["phases"][0]
    now = copy.deepcopy(earlier) | {"start_date": schedule["current_phase"]["start_date"], "end_date": 1800000000}
    now["items"][0]["price"] = "price_now"
    schedule["phases"] = [earlier, now]
    client, http = scripted_client((200, schedule), (200, schedule),
                                   (200, example("subscription", schedule=schedule["id"])))
    sub = example_sub(schedule=schedule["id"])
    StripeEngine(client, CONFIG).schedule_change(call, sub, Price.of(example("price", id="price_team")), 1, 1754008472)
    assert [(sent.method, sent.path) for sent in http.sent] == [
        ("GET", f"/v1/subscription_schedules/{schedule['id']}"),
        ("POST", f"/v1/subscription_schedules/{schedule['id']}"),
        ("GET", f"/v1/subscriptions/{sub.id}"),
    ]
    phases = {name: value for name, value in http.sent[1].params.items() if name.startswith("phases[0]")}
    assert phases == {"phases[0][items][0][price]": "price_now", "phases[0][items][0][quantity]": "1",
                      "phases[0][start_date]": str(schedule["current_phase"]["start_date"]),
                      "phases[0][end_date]": "1754008472"}


def test_drop_scheduled_change_releases_the_schedule_at_the_sdk_boundary(call: Call) -> None:
    schedule = example("subscription_schedule", status="released")
    client, http = scripted_client((200, schedule), (200, example("subscription", schedule=None)))
    sub = example_sub(schedule=schedule["id"])
    changed = StripeEngine(client, CONFIG).drop_scheduled_change(call, sub)
    assert [posted(sent) for sent in http.sent] == [
        ("POST", f"/v1/subscription_schedules/{schedule['id']}/release", {}, key("k1", "release")),
        ("GET", f"/v1/subscriptions/{sub.id}", {}, None),
    ]
    assert changed.subscription["schedule"] is None


HOSTED = "https://invoice.stripe.com/i/acct_1/test_YWNjdF8x"


def test_pay_without_a_default_card_sends_the_customer_to_stripes_page_at_the_sdk_boundary(call: Call) -> None:
    invoice = example("invoice", status="open", hosted_invoice_url=HOSTED)
    client, http = scripted_client((200, example("customer")), (200, invoice))
    payment = StripeEngine(client, CONFIG).pay_invoice(call, Invoice.of(read(invoice)))
    assert payment == Payment(url=HOSTED)
    assert [(sent.method, sent.path) for sent in http.sent] == [
        ("GET", f"/v1/customers/{invoice['customer']}"), ("GET", f"/v1/invoices/{invoice['id']}"),
    ]


def with_card() -> dict[str, Any]:
    customer = example("customer")
    customer["invoice_settings"]["default_payment_method"] = "pm_1"
    return customer


def test_pay_with_the_default_card_at_the_sdk_boundary(call: Call) -> None:
    invoice = example("invoice", status="open", hosted_invoice_url=HOSTED)
    paid = example("invoice", status="paid", hosted_invoice_url=HOSTED)
    active = example("subscription", id=Invoice.of(read(invoice)).subscription, status="active")
    client, http = scripted_client((200, with_card()), (200, paid), (200, active))
    payment = StripeEngine(client, CONFIG).pay_invoice(call, Invoice.of(read(invoice)))
    assert payment == Payment(invoice=read(paid), subscription=read(active))
    assert posted(http.sent[1]) == ("POST", f"/v1/invoices/{invoice['id']}/pay", {}, key("k1", "pay"))
    assert (http.sent[2].method, http.sent[2].path) == ("GET", f"/v1/subscriptions/{active['id']}")


def test_paid_but_the_subscription_unread_is_still_paid_at_the_sdk_boundary(call: Call) -> None:
    invoice = example("invoice", status="open", hosted_invoice_url=HOSTED)
    paid = example("invoice", status="paid", hosted_invoice_url=HOSTED)
    client, _ = scripted_client((200, with_card()), (200, paid),
                                (500, {"error": {"type": "api_error", "message": "Try again later."}}))
    assert StripeEngine(client, CONFIG).pay_invoice(call, Invoice.of(read(invoice))) == Payment(invoice=read(paid))


@pytest.mark.parametrize("failure", [
    DECLINED,
    (402, {"error": {"type": "card_error", "code": "authentication_required", "decline_code": "authentication_required",
                     "message": "Your card was declined. This transaction requires authentication."}}),
])
def test_a_card_that_fails_sends_the_customer_to_stripes_page_at_the_sdk_boundary(
        call: Call, failure: tuple[int, dict[str, Any]]) -> None:
    invoice = example("invoice", status="open", hosted_invoice_url=HOSTED)
    client, http = scripted_client((200, with_card()), failure, (200, invoice))
    assert StripeEngine(client, CONFIG).pay_invoice(call, Invoice.of(read(invoice))) == Payment(url=HOSTED)
    assert [sent.method for sent in http.sent] == ["GET", "POST", "GET"]
