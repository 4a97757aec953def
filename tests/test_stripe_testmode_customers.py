"""The stripe engine's customer and payment method actions against Stripe itself, in test mode (opt-in).

Set PORCH_STRIPE_TEST_KEY to a test-mode secret key (sk_test_...) to run them; each test makes its
own customer on its own test clock and deletes the clock (and with it the customer) afterwards.
Checkout cannot be completed without a browser, so the return is checked for sessions not completed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import stripe
from helpers import NOW
from stripe_calls import make_call
from test_stripe_customers import ADDRESS, RETURN_URL, settings_for, stored

from backend import stripe_api
from backend.billing_types import Customer, PaymentMethod
from backend.config import Config
from backend.errors import APIError
from backend.stripe_engine import StripeEngine

KEY = os.environ.get("PORCH_STRIPE_TEST_KEY", "")
pytestmark = [
    pytest.mark.skipif(not KEY, reason="PORCH_STRIPE_TEST_KEY is unset: set it to a Stripe test-mode secret key "
                                       "(sk_test_...) to run these against Stripe itself"),
    pytest.mark.skipif("_live_" in KEY, reason="PORCH_STRIPE_TEST_KEY is a live-mode key; these tests change "
                                               "customers, so they run in test mode only"),
]


@pytest.fixture
def conn() -> Iterator[sa.Connection]:
    engine = sa.create_engine("sqlite://")
    with engine.connect() as connection:
        yield connection
    engine.dispose()


@pytest.fixture
def stripe_client(tmp_path: Path) -> stripe.StripeClient:
    return stripe_api.client(settings_for(tmp_path, "https://api.stripe.com", KEY))


@pytest.fixture
def engine(stripe_client: stripe.StripeClient, config: Config) -> StripeEngine:
    return StripeEngine(stripe_client, config)


@pytest.fixture
def test_clock(stripe_client: stripe.StripeClient) -> Iterator[str]:
    clock = stripe_client.v1.test_helpers.test_clocks.create({"frozen_time": NOW, "name": "porch tests"})
    yield clock.id
    stripe_client.v1.test_helpers.test_clocks.delete(clock.id)


def customer_on(client: stripe.StripeClient, clock: str, **fields: Any) -> Customer:
    created = client.v1.customers.create({"email": "jenny@example.com", "name": "Jenny Rosen", "test_clock": clock,
                                          **fields})
    return Customer.of(stored(client.v1.customers.retrieve(created.id, {"expand": ["tax_ids"]})))


def test_billing_details_and_tax_ids_change_in_stripe(engine: StripeEngine, stripe_client: stripe.StripeClient,
                                                      test_clock: str, conn: sa.Connection) -> None:
    customer = customer_on(stripe_client, test_clock, tax_id_data=[{"type": "eu_vat", "value": "DE136695976"}])
    shipping = {"name": "Jenny Rosen", "phone": "+49301234567", "address": ADDRESS}

    answer = engine.update_customer(make_call(conn, customer.id, key="details"), customer, {
        "name": "Jenny R. Rosen", "phone": "+49307654321", "address": ADDRESS, "shipping": shipping,
        "tax_ids": [{"type": "eu_vat", "value": "FR40303265045"}]})

    in_stripe = stripe_client.v1.customers.retrieve(customer.id, {"expand": ["tax_ids"]}).to_dict()
    assert (in_stripe["name"], in_stripe["phone"], in_stripe["address"], in_stripe["shipping"]) == (
        "Jenny R. Rosen", "+49307654321", ADDRESS, shipping)
    assert [(t["type"], t["value"]) for t in in_stripe["tax_ids"]["data"]] == [("eu_vat", "FR40303265045")]
    assert [t["id"] for t in answer["tax_ids"]["data"]] == [t["id"] for t in in_stripe["tax_ids"]["data"]]


def test_a_tax_id_stripe_refuses_names_its_field(engine: StripeEngine, stripe_client: stripe.StripeClient,
                                                 test_clock: str, conn: sa.Connection) -> None:
    customer = customer_on(stripe_client, test_clock)

    with pytest.raises(APIError) as caught:
        engine.update_customer(make_call(conn, customer.id, key="tax id"), customer,
                               {"tax_ids": [{"type": "eu_vat", "value": "DE12"}]})

    assert (caught.value.status, caught.value.code, caught.value.param) == (400, "invalid_tax_id", "tax_ids[0].value")


def test_the_default_card_and_detach_happen_in_stripe(engine: StripeEngine, stripe_client: stripe.StripeClient,
                                                      test_clock: str, conn: sa.Connection) -> None:
    customer = customer_on(stripe_client, test_clock)
    card = PaymentMethod.of(stored(stripe_client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id})))

    answer = engine.set_default_payment_method(make_call(conn, customer.id, key="default"), customer, card)
    assert Customer.of(answer).default_payment_method == card.id
    default = stripe_client.v1.customers.retrieve(customer.id).invoice_settings.default_payment_method
    assert default == card.id

    engine.detach_payment_method(make_call(conn, customer.id, key="detach"), card)
    assert stripe_client.v1.payment_methods.retrieve(card.id).customer is None


def test_a_card_is_added_on_a_checkout_page_in_the_customers_language(
        engine: StripeEngine, stripe_client: stripe.StripeClient, test_clock: str, conn: sa.Connection) -> None:
    customer = customer_on(stripe_client, test_clock)
    someone_else = customer_on(stripe_client, test_clock, email="someone@example.com")

    url = engine.add_payment_method_url(make_call(conn, customer.id, key="add", locale="de"), customer, RETURN_URL)

    assert url.startswith("https://checkout.stripe.com/")
    (session,) = stripe_client.v1.checkout.sessions.list({"customer": customer.id}).data
    assert (session.mode, session.locale, session.status) == ("setup", "de", "open")
    assert session.success_url == RETURN_URL + "&session_id={CHECKOUT_SESSION_ID}"
    for who in (customer, someone_else):
        with pytest.raises(APIError) as caught:
            engine.payment_method_added(make_call(conn, who.id, key="return"), who, session.id)
        assert (caught.value.status, caught.value.code) == (404, "not_found")
