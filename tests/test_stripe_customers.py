"""The stripe engine's customer and payment method actions: made in Stripe, answered as Stripe has them.

Against the emulator (localstripe) where it has the API; Checkout, which it lacks, and Stripe's own
error bodies at the SDK boundary with Stripe's published example objects."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import stripe
from helpers import SECRET
from processes import free_port
from stripe_boundary import completed, example, scripted_client
from stripe_calls import make_call
from stripe_emulator import Emulator

from backend import stripe_api, stripe_objects
from backend.billing_types import Customer, PaymentMethod
from backend.config import Config
from backend.errors import APIError
from backend.settings import Settings
from backend.stripe_customers import CHECKOUT_LOCALES, checkout_locale, with_session_id
from backend.stripe_engine import StripeEngine

ROOT = Path(__file__).parent.parent
RETURN_URL = "https://billing.acme.example/portal/?payment_method=added"
ADDRESS = {"line1": "Unter den Linden 1", "line2": "3. OG", "city": "Berlin", "state": "BE", "postal_code": "10117",
           "country": "DE"}
VISA = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}


def stored(answer: Any) -> dict[str, Any]:
    """Stripe's answer as the store holds it (as sync would store it)."""
    return stripe_objects.normalise(stripe_api.as_dict(answer))[0][1]


def settings_for(tmp_path: Path, api_base: str, key: str) -> Settings:
    return Settings(config_path=tmp_path / "config.yaml", database_url="sqlite://", secret_key=SECRET, smtp_url=None,
                    outbox_dir=tmp_path / "outbox", stripe_secret_key=key, stripe_api_base=api_base)


@pytest.fixture
def conn() -> Iterator[sa.Connection]:
    engine = sa.create_engine("sqlite://")
    with engine.connect() as connection:
        yield connection
    engine.dispose()


@pytest.fixture
def stripe_client(stripe_emulator: Emulator, tmp_path: Path) -> stripe.StripeClient:
    """The merchant's Stripe account (the emulator), as Porch's engine reaches it."""
    return stripe_api.client(settings_for(tmp_path, stripe_emulator.url, stripe_emulator.key))


@pytest.fixture
def engine(stripe_client: stripe.StripeClient, config: Config) -> StripeEngine:
    return StripeEngine(stripe_client, config)


def customer_in(client: stripe.StripeClient, **fields: Any) -> Customer:
    created = client.v1.customers.create({"email": "jenny@example.com", "name": "Jenny Rosen", **fields})
    return Customer.of(stored(client.v1.customers.retrieve(created.id, {"expand": ["tax_ids"]})))


def card_of(client: stripe.StripeClient, customer: Customer) -> PaymentMethod:
    method = client.v1.payment_methods.create({"type": "card", "card": VISA})
    return PaymentMethod.of(stored(client.v1.payment_methods.attach(method.id, {"customer": customer.id})))


def tax_ids_in(client: stripe.StripeClient, customer: Customer) -> list[tuple[str, str]]:
    return [(t.type, t.value) for t in client.v1.customers.tax_ids.list(customer.id).data]


def refused(action: Any) -> APIError:
    with pytest.raises(APIError) as caught:
        action()
    return caught.value


# Against the emulator.

def test_billing_details_are_changed_in_stripe(engine: StripeEngine, stripe_client: stripe.StripeClient,
                                               conn: sa.Connection) -> None:
    customer = customer_in(stripe_client)
    shipping = {"name": "Jenny Rosen", "phone": "+49 30 1234567", "address": ADDRESS | {"line1": "Pariser Platz 2"}}

    answer = engine.update_customer(make_call(conn, customer.id), customer, {
        "name": "Jenny R. Rosen", "phone": "+49 30 7654321", "address": ADDRESS, "shipping": shipping})

    in_stripe = stripe_client.v1.customers.retrieve(customer.id).to_dict()
    assert (in_stripe["name"], in_stripe["phone"], in_stripe["address"], in_stripe["shipping"]) == (
        "Jenny R. Rosen", "+49 30 7654321", ADDRESS, shipping)
    assert (answer["id"], answer["name"], answer["address"], answer["shipping"]) == (
        customer.id, "Jenny R. Rosen", ADDRESS, shipping)
    assert answer["email"] == "jenny@example.com"


def test_tax_ids_are_replaced_in_stripe_keeping_those_still_listed(
        engine: StripeEngine, stripe_client: stripe.StripeClient, conn: sa.Connection) -> None:
    customer = customer_in(stripe_client, tax_id_data=[{"type": "eu_vat", "value": "DE136695976"},
                                                       {"type": "eu_vat", "value": "ATU13585627"}])
    kept, dropped = customer.data["tax_ids"]["data"]

    answer = engine.update_customer(make_call(conn, customer.id), customer, {
        "tax_ids": [kept, {"type": "eu_vat", "value": "FR40303265045"}]})

    assert tax_ids_in(stripe_client, customer) == [("eu_vat", "DE136695976"), ("eu_vat", "FR40303265045")]
    listed = answer["tax_ids"]["data"]
    assert [(t["type"], t["value"]) for t in listed] == [("eu_vat", "DE136695976"), ("eu_vat", "FR40303265045")]
    assert listed[0]["id"] == kept["id"] and dropped["id"] not in {t["id"] for t in listed}


def test_an_empty_list_removes_every_tax_id(engine: StripeEngine, stripe_client: stripe.StripeClient,
                                            conn: sa.Connection) -> None:
    customer = customer_in(stripe_client, tax_id_data=[{"type": "eu_vat", "value": "DE136695976"}])

    answer = engine.update_customer(make_call(conn, customer.id), customer, {"tax_ids": []})

    assert tax_ids_in(stripe_client, customer) == []
    assert answer["tax_ids"]["data"] == []


def test_a_tax_id_already_removed_in_stripe_is_not_an_error(
        engine: StripeEngine, stripe_client: stripe.StripeClient, conn: sa.Connection) -> None:
    customer = customer_in(stripe_client, tax_id_data=[{"type": "eu_vat", "value": "DE136695976"}])
    stripe_client.v1.customers.tax_ids.delete(customer.id, customer.data["tax_ids"]["data"][0]["id"])

    answer = engine.update_customer(make_call(conn, customer.id), customer, {"tax_ids": [], "name": "Jenny"})

    assert answer["tax_ids"]["data"] == [] and answer["name"] == "Jenny"


def test_a_tax_id_stripe_refuses_names_its_field_and_changes_nothing_else(
        engine: StripeEngine, stripe_client: stripe.StripeClient, conn: sa.Connection) -> None:
    customer = customer_in(stripe_client, tax_id_data=[{"type": "eu_vat", "value": "DE136695976"}])
    kept = customer.data["tax_ids"]["data"][0]

    error = refused(lambda: engine.update_customer(make_call(conn, customer.id), customer, {
        "name": "Someone Else", "tax_ids": [kept, {"type": "eu_vat", "value": "DE1"}]}))

    assert (error.status, error.code, error.param) == (400, "invalid_tax_id", "tax_ids[1].value")
    assert stripe_client.v1.customers.retrieve(customer.id).name == "Jenny Rosen"
    assert tax_ids_in(stripe_client, customer) == [("eu_vat", "DE136695976")]


def test_the_default_payment_method_is_set_in_stripe(engine: StripeEngine, stripe_client: stripe.StripeClient,
                                                     conn: sa.Connection) -> None:
    customer = customer_in(stripe_client)
    card_of(stripe_client, customer)
    second = card_of(stripe_client, customer)

    answer = engine.set_default_payment_method(make_call(conn, customer.id), customer, second)

    assert stripe_client.v1.customers.retrieve(customer.id).invoice_settings.default_payment_method == second.id
    assert Customer.of(answer).default_payment_method == second.id


def test_a_payment_method_is_detached_in_stripe(engine: StripeEngine, stripe_client: stripe.StripeClient,
                                                conn: sa.Connection) -> None:
    customer = customer_in(stripe_client)
    card = card_of(stripe_client, customer)

    engine.detach_payment_method(make_call(conn, customer.id), card)

    assert stripe_client.v1.payment_methods.retrieve(card.id).customer is None


def test_objects_stripe_does_not_have_are_not_found(engine: StripeEngine, conn: sa.Connection) -> None:
    nobody = Customer.of(example("customer", id="cus_gone"))
    gone = PaymentMethod.of(example("payment_method", id="pm_gone"))
    call = make_call(conn, nobody.id)

    for action in (lambda: engine.update_customer(call, nobody, {"name": "Jenny"}),
                   lambda: engine.set_default_payment_method(call, nobody, gone),
                   lambda: engine.detach_payment_method(call, gone)):
        error = refused(action)
        assert (error.status, error.code) == (404, "not_found")


def down_actions(engine: StripeEngine, call: Any) -> list[Any]:
    customer = Customer.of(example("customer"))
    method = PaymentMethod.of(example("payment_method"))
    return [
        lambda: engine.update_customer(call, customer, {"name": "Jenny", "tax_ids": [{"type": "eu_vat",
                                                                                         "value": "DE136695976"}]}),
        lambda: engine.set_default_payment_method(call, customer, method),
        lambda: engine.detach_payment_method(call, method),
        lambda: engine.add_payment_method_url(call, customer, RETURN_URL),
        lambda: engine.payment_method_added(call, customer, "cs_test_a1"),
    ]


def test_stripe_unreachable_is_503_for_every_action(tmp_path: Path, config: Config, conn: sa.Connection) -> None:
    # Nothing listens on the port. No retries: that the SDK retries is its own behaviour, not the engine's.
    closed = settings_for(tmp_path, f"http://127.0.0.1:{free_port()}", "sk_test_porch")
    engine = StripeEngine(stripe_api.client(closed, retries=0), config)

    for action in down_actions(engine, make_call(conn)):
        error = refused(action)
        assert (error.status, error.code, error.headers) == (503, "billing_unavailable", {"Retry-After": "30"})


def test_a_key_stripe_refuses_is_503_and_changes_nothing(stripe_emulator: Emulator, stripe_client: stripe.StripeClient,
                                                         tmp_path: Path, config: Config, conn: sa.Connection) -> None:
    customer = customer_in(stripe_client)
    # The emulator refuses publishable keys, as Stripe refuses a revoked or mistyped one.
    wrong = StripeEngine(stripe_api.client(settings_for(tmp_path, stripe_emulator.url, "pk_test_porch")), config)

    error = refused(lambda: wrong.update_customer(make_call(conn, customer.id), customer, {"name": "Someone Else"}))

    assert (error.status, error.code) == (503, "billing_unavailable")
    assert stripe_client.v1.customers.retrieve(customer.id).name == "Jenny Rosen"


# At the SDK boundary: the requests the SDK makes, answered with Stripe's published examples.

def test_cleared_fields_are_sent_as_empty_strings_at_the_sdk_boundary(config: Config, conn: sa.Connection) -> None:
    client, http = scripted_client((200, example("customer")))
    customer = Customer.of(example("customer"))

    StripeEngine(client, config).update_customer(make_call(conn, customer.id), customer, {
        "phone": None, "shipping": None, "address": ADDRESS | {"line2": None, "state": None}})

    (sent,) = http.sent
    assert (sent.method, sent.path) == ("POST", f"/v1/customers/{customer.id}")
    assert sent.params == {"phone": "", "shipping": "", "expand[0]": "tax_ids"} | {
        f"address[{name}]": value or "" for name, value in ADDRESS.items()} | {"address[line2]": "", "address[state]": ""}
    assert sent.headers["Idempotency-Key"] == stripe_api.idempotency_key("k1", "customer")


def test_tax_ids_are_created_then_deleted_with_keys_on_the_posts_at_the_sdk_boundary(
        config: Config, conn: sa.Connection) -> None:
    old = example("tax_id", id="txi_old")
    customer = Customer.of(example("customer", tax_ids={"object": "list", "data": [old], "has_more": False}))
    client, http = scripted_client(
        (200, example("tax_id", id="txi_new", value="FR40303265045")),
        (200, {"id": "txi_old", "object": "tax_id", "deleted": True}),
        (200, example("customer")),
    )

    StripeEngine(client, config).update_customer(make_call(conn, customer.id), customer, {
        "tax_ids": [{"type": "eu_vat", "value": "FR40303265045"}]})

    create, delete, retrieve = http.sent
    assert (create.method, create.path, create.params) == (
        "POST", f"/v1/customers/{customer.id}/tax_ids", {"type": "eu_vat", "value": "FR40303265045"})
    assert create.headers["Idempotency-Key"] == stripe_api.idempotency_key("k1", "tax_id eu_vat FR40303265045")
    assert (delete.method, delete.path) == ("DELETE", f"/v1/customers/{customer.id}/tax_ids/txi_old")
    assert "Idempotency-Key" not in delete.headers
    assert (retrieve.method, retrieve.path, retrieve.params) == (
        "GET", f"/v1/customers/{customer.id}", {"expand[0]": "tax_ids"})


def test_stripes_own_tax_id_refusal_names_the_field_at_the_sdk_boundary(config: Config, conn: sa.Connection) -> None:
    client, http = scripted_client((400, {"error": {
        "type": "invalid_request_error", "code": "tax_id_invalid", "param": "value",
        "message": "Invalid value for eu_vat.", "doc_url": "https://stripe.com/docs/error-codes/tax-id-invalid"}}))
    customer = Customer.of(example("customer"))

    error = refused(lambda: StripeEngine(client, config).update_customer(
        make_call(conn, customer.id), customer, {"name": "Jenny", "tax_ids": [{"type": "eu_vat", "value": "DE999"}]}))

    assert (error.status, error.code, error.param) == (400, "invalid_tax_id", "tax_ids[0].value")
    assert len(http.sent) == 1


def test_the_default_payment_method_is_sent_at_the_sdk_boundary(config: Config, conn: sa.Connection) -> None:
    customer = Customer.of(example("customer"))
    method = PaymentMethod.of(example("payment_method"))
    answer = example("customer", invoice_settings=example("customer")["invoice_settings"]
                     | {"default_payment_method": method.id})
    client, http = scripted_client((200, answer))

    changed = StripeEngine(client, config).set_default_payment_method(make_call(conn, customer.id), customer, method)

    (sent,) = http.sent
    assert sent.params == {"invoice_settings[default_payment_method]": method.id, "expand[0]": "tax_ids"}
    assert sent.headers["Idempotency-Key"] == stripe_api.idempotency_key("k1", "default payment method")
    assert Customer.of(changed).default_payment_method == method.id


def test_detach_is_sent_with_its_key_at_the_sdk_boundary(config: Config, conn: sa.Connection) -> None:
    method = PaymentMethod.of(example("payment_method"))
    client, http = scripted_client((200, example("payment_method", customer=None)))

    StripeEngine(client, config).detach_payment_method(make_call(conn, key="k2"), method)

    (sent,) = http.sent
    assert (sent.method, sent.path) == ("POST", f"/v1/payment_methods/{method.id}/detach")
    assert sent.headers["Idempotency-Key"] == stripe_api.idempotency_key("k2", "detach")


def test_adding_a_card_is_a_checkout_session_in_setup_mode_at_the_sdk_boundary(
        config: Config, conn: sa.Connection) -> None:
    session = example("checkout.session", mode="setup")
    client, http = scripted_client((200, session))
    customer = Customer.of(example("customer", currency="eur"))

    url = StripeEngine(client, config).add_payment_method_url(make_call(conn, customer.id, locale="pt_BR"), customer,
                                                              RETURN_URL)

    assert url == session["url"]
    (sent,) = http.sent
    assert (sent.method, sent.path) == ("POST", "/v1/checkout/sessions")
    assert sent.params == {
        "mode": "setup", "customer": customer.id, "currency": "eur", "locale": "pt-BR",
        "success_url": RETURN_URL + "&session_id={CHECKOUT_SESSION_ID}", "cancel_url": RETURN_URL.split("?")[0],
    }
    assert sent.headers["Idempotency-Key"] == stripe_api.idempotency_key("k1", "checkout session")


def test_a_customer_without_a_currency_gets_the_accounts_at_the_sdk_boundary(
        config: Config, conn: sa.Connection) -> None:
    client, http = scripted_client((200, example("account", default_currency="chf")),
                                   (200, example("checkout.session", mode="setup")))
    customer = Customer.of(example("customer", currency=None))

    StripeEngine(client, config).add_payment_method_url(make_call(conn, customer.id), customer, RETURN_URL)

    account, create = http.sent
    assert (account.method, account.path) == ("GET", "/v1/account")
    assert create.params["currency"] == "chf"


@pytest.mark.parametrize(("url", "success"), [
    ("https://billing.acme.example/portal/", "https://billing.acme.example/portal/?session_id={CHECKOUT_SESSION_ID}"),
    ("https://acme.example/p?a=1&b=2#cards", "https://acme.example/p?a=1&b=2&session_id={CHECKOUT_SESSION_ID}#cards"),
])
def test_the_session_id_is_added_to_the_return_url_keeping_its_query(url: str, success: str) -> None:
    assert with_session_id(url) == success


@pytest.mark.parametrize(("locale", "shown"), [
    ("de", "de"), ("pt_BR", "pt-BR"), ("pt", "pt"), ("es_419", "es-419"), ("fr_CA", "fr-CA"), ("zh_HK", "zh-HK"),
    ("zh-TW", "zh-TW"), ("en", "en"), ("en_GB", "en-GB"), ("en_AU", "en-GB"), ("en_CA", "en"), ("fil", "fil"),
    ("ar", "auto"), ("he", "auto"),
])
def test_checkout_is_shown_in_the_customers_language(locale: str, shown: str) -> None:
    assert checkout_locale(locale) == shown


def test_only_languages_checkout_lacks_fall_back_to_the_browsers() -> None:
    porch = sorted(p.name for p in (ROOT / "site" / "locales").iterdir() if p.is_dir())
    assert {locale for locale in porch if checkout_locale(locale) == "auto"} == {"ar", "he"}
    assert {checkout_locale(locale) for locale in porch} - {"auto"} <= set(CHECKOUT_LOCALES)


def test_the_card_added_is_read_from_the_session_at_the_sdk_boundary(config: Config, conn: sa.Connection) -> None:
    customer = Customer.of(example("customer", invoice_settings={"default_payment_method": "pm_had"}))
    session = completed(customer.id)
    client, http = scripted_client((200, session))

    added = StripeEngine(client, config).payment_method_added(make_call(conn, customer.id), customer, session["id"])

    assert added == [stored(session["setup_intent"]["payment_method"])]
    (sent,) = http.sent
    assert (sent.method, sent.path, sent.params) == (
        "GET", f"/v1/checkout/sessions/{session['id']}", {"expand[0]": "setup_intent.payment_method"})


def test_the_first_card_added_becomes_the_default_at_the_sdk_boundary(config: Config, conn: sa.Connection) -> None:
    customer = Customer.of(example("customer"))
    session = completed(customer.id)
    method_id = session["setup_intent"]["payment_method"]["id"]
    now_default = example("customer", invoice_settings={"default_payment_method": method_id})
    client, http = scripted_client((200, session), (200, now_default))

    added = StripeEngine(client, config).payment_method_added(make_call(conn, customer.id), customer, session["id"])

    # The customer as Stripe answers is returned too, so the page shows the new default at once.
    assert [(o["object"], o["id"]) for o in added] == [("payment_method", method_id), ("customer", customer.id)]
    assert Customer.of(added[1]).default_payment_method == method_id
    _, default = http.sent
    assert (default.method, default.path, default.params) == (
        "POST", f"/v1/customers/{customer.id}", {"invoice_settings[default_payment_method]": method_id,
                                                  "expand[0]": "tax_ids"})
    assert default.headers["Idempotency-Key"] == stripe_api.idempotency_key("k1", "default payment method")


@pytest.mark.parametrize("session", [
    completed("cus_someone_else"),
    example("checkout.session", mode="setup", status="open", customer="cus_QXg1o8vcGmoR32"),
    completed("cus_QXg1o8vcGmoR32", status="expired"),
    completed("cus_QXg1o8vcGmoR32", mode="payment"),
], ids=["someone_elses", "not_completed", "expired", "not_setup"])
def test_a_session_not_completed_by_this_customer_adds_nothing_at_the_sdk_boundary(
        session: dict[str, Any], config: Config, conn: sa.Connection) -> None:
    customer = Customer.of(example("customer"))
    assert customer.id == "cus_QXg1o8vcGmoR32"
    client, http = scripted_client((200, session))

    error = refused(lambda: StripeEngine(client, config).payment_method_added(
        make_call(conn, customer.id), customer, session["id"]))

    assert (error.status, error.code) == (404, "not_found")
    assert len(http.sent) == 1


def test_a_session_id_that_is_not_one_is_not_sent_to_stripe_at_the_sdk_boundary(
        config: Config, conn: sa.Connection) -> None:
    client, http = scripted_client()
    customer = Customer.of(example("customer"))

    error = refused(lambda: StripeEngine(client, config).payment_method_added(
        make_call(conn, customer.id), customer, "../customers/cus_QXg1o8vcGmoR32"))

    assert (error.status, error.code, http.sent) == (404, "not_found", [])
