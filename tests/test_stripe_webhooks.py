"""Stripe's webhooks into Porch: each signed event applied once, out-of-order deliveries never storing
older data, failures answered 5xx with nothing recorded; and the endpoint's registration.

Events come from the emulator (localstripe, signing and delivering them itself to a real backend
process) and from the tests, signed here as Stripe documents it (the v1 HMAC-SHA256 of
"timestamp.body") and built from Stripe's published example event. Registration is tested at the
SDK boundary: localstripe has no webhook-endpoint API."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, get_args

import pytest
import sqlalchemy as sa
import stripe
from click.testing import CliRunner
from processes import Backend, free_port
from starlette.testclient import TestClient
from stripe.params import WebhookEndpointCreateParams
from stripe_boundary import example, scripted_client
from stripe_emulator import WEBHOOK_SECRET, Emulator

from backend import stripe_api, stripe_webhooks
from backend.app import create_app
from backend.cli import main
from backend.config import parse_config
from backend.settings import SETTINGS, Settings
from backend.store import billing, tables
from backend.store.database import Database

CONFIG_TEXT = "business: {name: Acme, support_email: billing@acme.example}\nbilling: {engine: stripe}\n"
STRIPE_CONFIG = parse_config(CONFIG_TEXT)[0]
URL = "https://billing.example/api/stripe/webhook"
POLL_DEADLINE = 20


def signed(payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> dict[str, str]:
    """The headers Stripe sends with `payload`: Stripe-Signature t=<seconds>,v1=<HMAC-SHA256 of "t.payload">."""
    at = int(time.time()) if at is None else at
    signature = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={at},v1={signature}", "Content-Type": "application/json; charset=utf-8"}


def event(type: str, obj: dict[str, Any], created: int = 1_790_000_000) -> bytes:
    """Stripe's published example event, as `type` carrying `obj`, with an id of its own."""
    found = example("event", id="evt_" + uuid.uuid4().hex[:24], type=type, created=created, data={"object": obj})
    return json.dumps(found).encode()


def deliver(client: Any, payload: bytes, **headers: str) -> Any:
    return client.post(stripe_webhooks.PATH, content=payload, headers=signed(payload) | headers)


def recorded(db: Database) -> list[str]:
    return db.run(lambda conn: list(conn.execute(sa.select(tables.stripe_events.c.id)).scalars()), write=False)


def stored(db: Database, kind: str, object_id: str) -> dict[str, Any] | None:
    return db.run(billing.get, kind, object_id, write=False)


def wait_for(check: Callable[[], Any], what: str) -> Any:
    """Polls `check` until it is true, up to a deadline: the emulator delivers on its own schedule."""
    deadline = time.monotonic() + POLL_DEADLINE
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {POLL_DEADLINE} s")
        time.sleep(0.05)
    return found


@pytest.fixture
def hooked(stripe_settings: Settings, clock: Any, db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(stripe_settings, STRIPE_CONFIG, clock=clock, background=False)) as client:
        yield client


def a_customer(emulator_client: stripe.StripeClient, name: str = "Old Name") -> dict[str, Any]:
    return stripe_api.as_dict(emulator_client.v1.customers.create(params={"email": "hook@example.com", "name": name}))


def published_customer(found: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """Stripe's published example customer, as the event would carry the customer `found`."""
    return example("customer", id=found["id"], email=found["email"], **changes)


def test_a_signed_event_stores_what_stripe_holds(hooked, emulator_client, db):
    customer = a_customer(emulator_client)
    answer = deliver(hooked, event("customer.created", published_customer(customer, name="Old Name")))
    assert answer.status_code == 200 and answer.json() == {"received": True, "applied": True}
    assert stored(db, "customers", customer["id"])["name"] == "Old Name"  # type: ignore[index]


def test_an_event_delivered_twice_is_applied_once(hooked, emulator_client, db):
    customer = a_customer(emulator_client)
    payload = event("customer.created", published_customer(customer))
    assert deliver(hooked, payload).json()["applied"] is True
    # Were the second delivery applied, it would read Stripe again and store the new name.
    emulator_client.v1.customers.update(customer["id"], params={"name": "Renamed Meanwhile"})
    again = deliver(hooked, payload)
    assert again.status_code == 200 and again.json() == {"received": True, "applied": False}
    assert stored(db, "customers", customer["id"])["name"] == "Old Name"  # type: ignore[index]
    assert recorded(db) == [json.loads(payload)["id"]]


def test_an_older_event_delivered_after_a_newer_one_leaves_the_newer_data(hooked, emulator_client, db):
    customer = a_customer(emulator_client, "First Name")
    emulator_client.v1.customers.update(customer["id"], params={"name": "Second Name"})
    newer = event("customer.updated", published_customer(customer, name="Second Name"), created=1_790_000_100)
    older = event("customer.created", published_customer(customer, name="First Name"), created=1_790_000_000)
    assert deliver(hooked, newer).json()["applied"] is True
    assert deliver(hooked, older).json()["applied"] is True
    assert stored(db, "customers", customer["id"])["name"] == "Second Name"  # type: ignore[index]
    assert len(recorded(db)) == 2


def test_an_object_stripe_no_longer_has_is_removed(hooked, emulator_client, db):
    customer = a_customer(emulator_client)
    deliver(hooked, event("customer.created", published_customer(customer)))
    emulator_client.v1.customers.delete(customer["id"])
    answer = deliver(hooked, event("customer.deleted", published_customer(customer)))
    assert answer.json()["applied"] is True
    assert stored(db, "customers", customer["id"]) is None


def test_a_detached_payment_method_is_removed_from_the_customer_it_was_stored_for(hooked, emulator_client, db):
    customer = a_customer(emulator_client)
    method = emulator_client.v1.payment_methods.create(params={"type": "card", "card": {
        "number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    emulator_client.v1.payment_methods.attach(method.id, params={"customer": customer["id"]})
    attached = example("payment_method", id=method.id, customer=customer["id"])
    deliver(hooked, event("payment_method.attached", attached))
    assert stored(db, "payment_methods", method.id)["customer"] == customer["id"]  # type: ignore[index]
    emulator_client.v1.payment_methods.detach(method.id)
    # Stripe's detached event names no customer any more.
    answer = deliver(hooked, event("payment_method.detached", example("payment_method", id=method.id, customer=None)))
    assert answer.json()["applied"] is True
    assert stored(db, "payment_methods", method.id) is None


def test_subscription_and_plan_events_store_them_in_the_one_shape(hooked, emulator_client, db):
    customer = a_customer(emulator_client)
    product = emulator_client.v1.products.create(params={"name": "Pro"})
    plan = emulator_client.v1.plans.create(params={"id": "pro-" + uuid.uuid4().hex[:8], "amount": 1500,
                                                  "currency": "eur", "interval": "month", "product": product.id})
    method = emulator_client.v1.payment_methods.create(params={"type": "card", "card": {
        "number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
    emulator_client.v1.payment_methods.attach(method.id, params={"customer": customer["id"]})
    emulator_client.v1.customers.update(customer["id"], params={"invoice_settings": {"default_payment_method": method.id}})
    sub = emulator_client.v1.subscriptions.create(params={"customer": customer["id"], "items": [{"plan": plan.id}]})
    deliver(hooked, event("plan.created", example("price", id=plan.id, product=product.id)))
    price = stored(db, "prices", plan.id)
    assert price is not None and price["unit_amount"] == 1500 and price["recurring"]["interval"] == "month"
    deliver(hooked, event("customer.subscription.created", example("subscription", id=sub.id, customer=customer["id"])))
    found = stored(db, "subscriptions", sub.id)
    assert found is not None and found["status"] == "active" and found["items"]["data"][0]["price"]["id"] == plan.id
    emulator_client.v1.subscriptions.cancel(sub.id)
    deliver(hooked, event("customer.subscription.deleted", example("subscription", id=sub.id, customer=customer["id"])))
    assert stored(db, "subscriptions", sub.id)["status"] == "canceled"  # type: ignore[index]


def test_an_event_of_a_type_porch_does_not_read_is_acknowledged_and_forgotten(stripe_settings, clock, db):
    # Stripe unreachable: nothing is read from it for such an event, so it is acknowledged all the same.
    unreachable = replace(stripe_settings, stripe_api_base=f"http://127.0.0.1:{free_port()}")
    with TestClient(create_app(unreachable, STRIPE_CONFIG, clock=clock, background=False)) as down:
        answer = deliver(down, event("charge.succeeded", {"id": "ch_123", "object": "charge", "customer": "cus_x"}))
    assert answer.status_code == 200 and answer.json() == {"received": True, "applied": False}
    assert recorded(db) == []


# Ways a request can fail to be Stripe's: each gives the headers sent with the event's body.
BAD_SIGNATURES: dict[str, Callable[[bytes], dict[str, str]]] = {
    "wrong": lambda payload: {"Stripe-Signature": "t=1,v1=00"},
    "missing": lambda payload: {"Content-Type": "application/json"},
    "other-body": lambda payload: signed(payload + b" "),
    "other-secret": lambda payload: signed(payload, secret="whsec_someone_else"),
    # Older than the SDK's tolerance (5 minutes): a recorded delivery replayed.
    "stale": lambda payload: signed(payload, at=int(time.time()) - 3600),
}


@pytest.mark.parametrize("bad", BAD_SIGNATURES)
def test_a_badly_signed_request_is_refused_and_nothing_applied(hooked, emulator_client, db, bad):
    customer = a_customer(emulator_client)
    payload = event("customer.created", published_customer(customer))
    answer = hooked.post(stripe_webhooks.PATH, content=payload, headers=BAD_SIGNATURES[bad](payload))
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_signature"
    assert recorded(db) == [] and stored(db, "customers", customer["id"]) is None


def test_the_browser_guards_let_stripe_through_and_the_signature_still_decides(hooked, emulator_client, db):
    customer = a_customer(emulator_client)
    # Bigger than the API's 16 KB bodies, sent as Stripe sends it, from no origin.
    obj = published_customer(customer, metadata={f"k{n}": "x" * 400 for n in range(50)})
    payload = event("customer.created", obj)
    assert len(payload) > 16 * 1024
    assert deliver(hooked, payload).json()["applied"] is True
    # What the guards would refuse elsewhere (another site's origin, no JSON type) is admitted
    # to the endpoint, and then refused there for want of a valid signature.
    forged = event("customer.updated", published_customer(customer))
    answer = hooked.post(stripe_webhooks.PATH, content=forged, headers={
        "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain",
        "Stripe-Signature": signed(b"other")["Stripe-Signature"]})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_signature"
    assert len(recorded(db)) == 1


def test_other_paths_are_still_guarded(hooked):
    answer = hooked.post("/api/logout", content=b"{}", headers={"Origin": "https://evil.example",
                                                                 "Content-Type": "application/json"})
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "cross_site"


def test_with_the_local_engine_there_is_no_stripe_webhook(client):
    payload = event("customer.created", example("customer"))
    answer = deliver(client, payload)
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


def test_without_the_signing_secret_events_wait_with_a_503(stripe_settings, emulator_client, clock, db):
    customer = a_customer(emulator_client)
    unset = replace(stripe_settings, stripe_webhook_secret=None)
    with TestClient(create_app(unset, STRIPE_CONFIG, clock=clock, background=False)) as client:
        answer = deliver(client, event("customer.created", published_customer(customer)))
    # Stripe retries for three days: once the secret is set, the events arrive after all.
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "not_configured"
    assert recorded(db) == []


def test_stripe_unreachable_answers_503_records_nothing_and_the_retry_applies(stripe_settings, emulator_client, clock, db):
    customer = a_customer(emulator_client)
    payload = event("customer.created", published_customer(customer))
    unreachable = replace(stripe_settings, stripe_api_base=f"http://127.0.0.1:{free_port()}")
    with TestClient(create_app(unreachable, STRIPE_CONFIG, clock=clock, background=False)) as down:
        answer = deliver(down, payload)
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "billing_unavailable"
    assert recorded(db) == [] and stored(db, "customers", customer["id"]) is None
    # Stripe delivers it again later, when Stripe answers (here: to a process that reaches it).
    with TestClient(create_app(stripe_settings, STRIPE_CONFIG, clock=clock, background=False)) as up:
        assert deliver(up, payload).json()["applied"] is True
    assert recorded(db) == [json.loads(payload)["id"]]
    assert stored(db, "customers", customer["id"])["name"] == "Old Name"  # type: ignore[index]


def failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "porch.stripe"
            and record.levelname == "ERROR"]


def test_an_object_the_reader_refuses_answers_500_records_nothing_and_the_retry_applies(
        hooked, emulator_client, db, caplog):
    customer = a_customer(emulator_client)
    payload = event("customer.created", published_customer(customer))
    real = hooked.app.state.stripe
    # What Stripe answers on the re-read is not a customer the normalising reader can store.
    hooked.app.state.stripe, _ = scripted_client((200, customer | {"created": "yesterday"}))
    answer = deliver(hooked, payload)
    assert answer.status_code == 500
    assert answer.json() == {"error": {"code": "internal_error",
                                       "message": "The event's object cannot be stored; the event is not applied."}}
    assert recorded(db) == [] and stored(db, "customers", customer["id"]) is None
    (line,) = failures(caplog)
    assert line.startswith(f"Stripe event {json.loads(payload)['id']} (customer.created) not applied")
    assert '"created" as Unix seconds' in line and "\n" not in line
    # Stripe delivers it again; this time its object can be stored.
    hooked.app.state.stripe = real
    assert deliver(hooked, payload).json()["applied"] is True
    assert recorded(db) == [json.loads(payload)["id"]]


REFUSE_SQLITE = "CREATE TRIGGER refuse BEFORE INSERT ON stripe_events BEGIN SELECT RAISE(ABORT, 'disk is full'); END"
REFUSE_POSTGRES = [
    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk is full'; END $$",
    "CREATE TRIGGER refuse BEFORE INSERT ON stripe_events FOR EACH ROW EXECUTE FUNCTION refuse()",
]


def test_a_store_that_fails_answers_503_records_nothing_and_the_retry_applies(hooked, emulator_client, db, caplog):
    customer = a_customer(emulator_client)
    payload = event("customer.created", published_customer(customer))

    def refuse(conn: sa.Connection) -> None:
        for statement in REFUSE_POSTGRES if conn.dialect.name == "postgresql" else [REFUSE_SQLITE]:
            conn.execute(sa.text(statement))

    # The store refuses the event's record, the last write of the event's transaction.
    db.run(refuse)
    answer = deliver(hooked, payload)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "60"
    assert answer.json() == {"error": {"code": "unavailable", "message": "The store failed; the event is not applied."}}
    # The customer written before the failure is rolled back with it.
    assert recorded(db) == [] and stored(db, "customers", customer["id"]) is None
    (line,) = failures(caplog)
    assert line.startswith(f"Stripe event {json.loads(payload)['id']} (customer.created) not applied")
    assert "disk is full" in line and "INSERT" not in line
    db.run(lambda conn: conn.execute(sa.text("DROP TRIGGER refuse" + (" ON stripe_events" if conn.dialect.name
                                                                       == "postgresql" else ""))))
    assert deliver(hooked, payload).json()["applied"] is True
    assert stored(db, "customers", customer["id"])["name"] == "Old Name"  # type: ignore[index]


def _backend(folder: Path, database_url: str, emulator: Emulator) -> Backend:
    return Backend(folder, database_url, CONFIG_TEXT, PORCH_STRIPE_SECRET_KEY=emulator.key,
                   PORCH_STRIPE_API_BASE=emulator.url, PORCH_STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET)


def test_one_event_delivered_to_two_processes_at_once_is_applied_once(tmp_path, database_url, db, stripe_emulator,
                                                                     emulator_client):
    customer = a_customer(emulator_client)
    payload = event("customer.created", published_customer(customer))
    with _backend(tmp_path / "a", database_url, stripe_emulator) as a, \
            _backend(tmp_path / "b", database_url, stripe_emulator) as b:
        barrier = threading.Barrier(2)
        answers: list[Any] = [None, None]

        def send(n: int, backend: Backend) -> None:
            with backend.client() as client:
                client.get("/api/health")  # connected before the barrier: the race is the delivery itself
                barrier.wait(timeout=30)
                answers[n] = deliver(client, payload)

        threads = [threading.Thread(target=send, args=pair) for pair in enumerate((a, b))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert sorted(answer.json()["applied"] for answer in answers) == [False, True], [a.text for a in answers]
    assert recorded(db) == [json.loads(payload)["id"]]
    assert stored(db, "customers", customer["id"]) is not None


@pytest.fixture
def emulator_delivering(stripe_emulator: Emulator) -> Iterator[Callable[[str], None]]:
    """Has the emulator deliver its events to a URL; afterwards, to none (its webhooks outlive a reset)."""
    yield lambda url: stripe_emulator.webhook("porch", url, WEBHOOK_SECRET)
    stripe_emulator.webhook("porch", "http://127.0.0.1:9/", WEBHOOK_SECRET, ["porch.never_sent"])


def test_the_emulators_own_deliveries_keep_the_store_current(tmp_path, database_url, db, stripe_emulator,
                                                            emulator_client, emulator_delivering):
    with _backend(tmp_path / "live", database_url, stripe_emulator) as backend:
        emulator_delivering(backend.url + stripe_webhooks.PATH)
        customer = a_customer(emulator_client, "Live Customer")
        wait_for(lambda: stored(db, "customers", customer["id"]), "customer.created applied")
        emulator_client.v1.customers.update(customer["id"], params={"name": "Renamed Live"})
        wait_for(lambda: (stored(db, "customers", customer["id"]) or {}).get("name") == "Renamed Live",
                 "customer.updated applied")
        product = emulator_client.v1.products.create(params={"name": "Live"})
        plan = emulator_client.v1.plans.create(params={"id": "live-" + uuid.uuid4().hex[:8], "amount": 900,
                                                      "currency": "eur", "interval": "month", "product": product.id})
        wait_for(lambda: stored(db, "prices", plan.id), "plan.created applied")
        method = emulator_client.v1.payment_methods.create(params={"type": "card", "card": {
            "number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}})
        emulator_client.v1.payment_methods.attach(method.id, params={"customer": customer["id"]})
        emulator_client.v1.customers.update(customer["id"], params={
            "invoice_settings": {"default_payment_method": method.id}})
        sub = emulator_client.v1.subscriptions.create(params={"customer": customer["id"], "items": [{"plan": plan.id}]})
        wait_for(lambda: stored(db, "subscriptions", sub.id), "customer.subscription.created applied")
        emulator_client.v1.subscriptions.cancel(sub.id)
        wait_for(lambda: (stored(db, "subscriptions", sub.id) or {}).get("status") == "canceled",
                 "customer.subscription.deleted applied")
        emulator_client.v1.customers.delete(customer["id"])
        wait_for(lambda: stored(db, "customers", customer["id"]) is None, "customer.deleted applied")
        assert stored(db, "subscriptions", sub.id) is None  # the customer's objects went with it
    # Each applied event is a line of the backend's log.
    assert re.search(r"Stripe event evt_\w+ \(customer\.deleted\) applied: .*removed 1 customers",
                     backend.log.read_text()), backend.log.read_text()


# Registration.

def test_registering_creates_an_endpoint_for_exactly_porchs_events_at_the_sdk_boundary():
    answer = example("webhook_endpoint", url=URL, enabled_events=stripe_webhooks.EVENTS, description="Porch",
                     api_version=stripe_api.API_VERSION, secret="whsec_published_example")
    client, http = scripted_client((200, {"object": "list", "data": [], "has_more": False,
                                          "url": "/v1/webhook_endpoints"}), (200, answer))
    registered = stripe_webhooks.register(client, URL)
    assert registered == stripe_webhooks.Registered(answer["id"], True, "whsec_published_example")
    listed, created = http.sent
    assert (listed.method, listed.path) == ("GET", "/v1/webhook_endpoints")
    assert (created.method, created.path) == ("POST", "/v1/webhook_endpoints")
    events = [value for key, value in sorted(created.params.items(), key=lambda kv: kv[0])
              if key.startswith("enabled_events[")]
    assert sorted(events) == sorted(stripe_webhooks.READS)
    assert created.params["url"] == URL and created.params["description"] == "Porch"
    assert created.params["api_version"] == stripe_api.API_VERSION


def test_registering_an_address_registered_before_updates_its_events_at_the_sdk_boundary():
    existing = example("webhook_endpoint", url=URL)
    client, http = scripted_client((200, {"object": "list", "data": [example("webhook_endpoint"), existing],
                                          "has_more": False, "url": "/v1/webhook_endpoints"}),
                                   (200, existing | {"enabled_events": stripe_webhooks.EVENTS}))
    assert stripe_webhooks.register(client, URL) == stripe_webhooks.Registered(existing["id"], False, None)
    updated = http.sent[1]
    assert (updated.method, updated.path) == ("POST", f"/v1/webhook_endpoints/{existing['id']}")
    assert sorted(v for k, v in updated.params.items() if k.startswith("enabled_events[")) == sorted(stripe_webhooks.READS)
    assert "url" not in updated.params and len(http.sent) == 2


def test_every_event_type_read_is_one_stripe_sends():
    # The SDK's own list of the event types an endpoint can ask for.
    known = set(get_args(get_args(WebhookEndpointCreateParams.__annotations__["enabled_events"])[0]))
    assert set(stripe_webhooks.EVENTS) <= known, set(stripe_webhooks.EVENTS) - known


def run(*args: str, **env: str) -> Any:
    environ: dict[str, str | None] = {name: None for name, _, _ in SETTINGS} | env
    result = CliRunner().invoke(main, list(args), env=environ)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.mark.parametrize("url", ["http://billing.example/api/stripe/webhook", "ftp://billing.example/hook",
                                 "billing.example/api/stripe/webhook"])
def test_the_command_refuses_an_address_that_is_not_https(url):
    result = run("stripe", "webhook", "--url", url, PORCH_STRIPE_SECRET_KEY="sk_test_x")
    assert result.exit_code == 1
    assert f"Error: {url!r} is not an https:// address" in result.stderr


def test_the_command_names_the_missing_key():
    result = run("stripe", "webhook", "--url", URL)
    assert result.exit_code == 1 and "PORCH_STRIPE_SECRET_KEY is unset" in result.stderr


def test_the_command_says_when_stripe_refuses(stripe_emulator):
    # localstripe has no webhook-endpoint API: it answers 404, as Stripe answers an unknown path.
    result = run("stripe", "webhook", "--url", "http://127.0.0.1:8000/api/stripe/webhook",
                 PORCH_STRIPE_SECRET_KEY=stripe_emulator.key, PORCH_STRIPE_API_BASE=stripe_emulator.url)
    assert result.exit_code == 1 and "Error: Stripe did not register the endpoint: " in result.stderr


def test_a_local_address_may_be_plain_http():
    stripe_webhooks.check_url("http://127.0.0.1:8000/api/stripe/webhook")
    stripe_webhooks.check_url("http://localhost:8000/api/stripe/webhook")
    with pytest.raises(stripe_webhooks.WebhookURLError):
        stripe_webhooks.check_url("http://127.0.0.1.billing.example/api/stripe/webhook")


def test_events_are_forgotten_once_stripe_can_no_longer_retry(db):
    rows = [{"id": "evt_old", "type": "customer.updated", "created": 1, "applied_at": 1_000},
            {"id": "evt_new", "type": "customer.updated", "created": 1, "applied_at": 1_000 + stripe_webhooks.KEPT_FOR}]
    db.run(lambda conn: conn.execute(tables.stripe_events.insert(), rows))
    db.run(stripe_webhooks.prune, 1_001 + stripe_webhooks.KEPT_FOR)
    assert recorded(db) == ["evt_new"]

