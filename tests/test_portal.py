"""What leaves the server (SPEC section 7): every object a browser receives, and every object
inside one, carries only the fields the portal shows; nothing of the merchant's configuration
but what the page draws."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from helpers import NOW, Outbox, sign_in, with_config
from starlette.testclient import TestClient

from backend import portal
from backend.config import parse_config
from backend.importer import import_file
from backend.store import billing

MARKER = "internal-7f3a9c"
DAY = 86400
# Stripe's published example objects, the base of every object imported here.
EXAMPLES = json.loads((Path(__file__).parent / "stripe_examples.json").read_text(encoding="utf-8"))
# Every type of payment method Stripe has, each with its sub-object as Stripe's reference defines it.
METHODS = json.loads((Path(__file__).parent / "stripe_payment_methods.json").read_text(encoding="utf-8"))
# Fields Stripe defines that are the merchant's or the processor's business, not the customer's page.
INTERNAL = (
    "metadata", "fingerprint", "checks", "networks", "three_d_secure_usage", "generated_from",
    "client_secret", "footer", "account_tax_ids", "custom_fields", "lookup_key", "statement_descriptor",
    "invoice_prefix", "default_source", "test_clock", "payment_settings", "transfer_data",
    "application", "on_behalf_of", "rendering", "rendering_options", "last_finalization_error", "owner",
    "verified_name", "verified_address", "routing_number", "financial_connections_account", "mandate",
    "branch_code", "status_details", "plan", "tax_rates", "billing_thresholds", "transform_quantity",
    "package_dimensions", "marketing_features", "max_redemptions", "times_redeemed", "redeem_by", "phases",
    "default_settings", "livemode", "dynamic_last4", "account_country", "account_name", "pending_update",
    "billing_cycle_anchor_config", "trial_settings", "issuer", "automatic_tax",
    "customer_shipping", "customer_phone", "shipping_cost", "parent", "status_transitions", "from_invoice",
    "next_invoice_sequence", "delinquent", "tax_exempt", "regulated_status", "funding",
    "allow_redisplay", "source", "promotion_code", "url", "images", "institution_number", "transit_number",
    "buyer_id", "tax_id", "dob", "persistent_token", "payer_id", "pay_id", "account_holder_name", "iin",
    "cardholder_name", "bic", "logo",
)
# Another field Stripe may add tomorrow: an allowlist drops it too.
UNKNOWN = "added_by_stripe_later"


def marked(value: Any) -> Any:
    """A copy with the marker in every metadata, every internal field and one unknown field of every object."""
    if isinstance(value, list):
        return [marked(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {key: MARKER if key in INTERNAL else marked(v) for key, v in value.items()}
    return out | {"metadata": {"note": MARKER}, UNKNOWN: MARKER}


def example(kind: str, **changes: Any) -> dict[str, Any]:
    return copy.deepcopy(EXAMPLES[kind]) | changes


CUSTOMER = "cus_QXg1o8vcGmoR32"
PRODUCT = EXAMPLES["product"]["id"]
PRICE = EXAMPLES["price"]["id"]
# What of each type's sub-object the page receives: what a customer knows the method by.
SHOWN = {
    "card": {"brand": "visa", "display_brand": "visa", "last4": "4242", "exp_month": 8, "exp_year": 2030,
             "wallet": {"type": "link"}},
    "card_present": {"brand": "visa", "last4": "0000", "exp_month": 12, "exp_year": 2030, "wallet": {"type": "apple_pay"}},
    "interac_present": {"brand": "interac", "last4": "1234", "exp_month": 11, "exp_year": 2029},
    "kr_card": {"last4": "1234"},
    "sepa_debit": {"bank_code": "37040044", "last4": "3000"},
    "bacs_debit": {"sort_code": "108800", "last4": "2345"},
    "au_becs_debit": {"bsb_number": "000000", "last4": "3456"},
    "payto": {"bsb_number": "000000", "last4": "1234"},
    "us_bank_account": {"bank_name": "STRIPE TEST BANK", "last4": "6789"},
    "acss_debit": {"bank_name": "TD Canada Trust", "last4": "6789"},
    "nz_bank_account": {"bank_name": "ANZ Bank New Zealand", "last4": "0010"},
    "link": {"email": "jenny@example.com"},
    "paypal": {"payer_email": "jenny@example.com"},
    "cashapp": {"cashtag": "$jennyrosen"},
    "upi": {"vpa": "jenny@okbank"},
    "custom": {"display_name": "Acme Pay"},
}


def method_example(kind: str) -> dict[str, Any]:
    """Stripe's example payment method, made the type `kind` with that type's sub-object."""
    if kind == "card":
        return example("payment_method", id="pm_card", customer=CUSTOMER)
    method = example("payment_method", id=f"pm_{kind}", customer=CUSTOMER, type=kind)
    del method["card"]
    return method | {kind: copy.deepcopy(METHODS["details"][kind])}


def stripe_export() -> dict[str, list[dict[str, Any]]]:
    """One customer as Stripe's API gives it with every expandable field expanded."""
    methods = [method_example(kind) for kind in METHODS["types"]]
    card = methods[METHODS["types"].index("card")]
    product = example("product")
    price = example("price", product=product)
    dearer = example("price", id="price_dearer", unit_amount=4000, product=PRODUCT)
    coupon = example("coupon")
    discount = example("discount", coupon=coupon, promotion_code={"id": "promo_1", "code": MARKER})
    customer = example("customer", email="rosen@example.com", name="Jenny Rosen", discount=discount,
                       description=MARKER, shipping={"name": "Jenny Rosen", "phone": None, "carrier": MARKER,
                                                     "tracking_number": MARKER, "address": {"country": "DE"}},
                       tax_ids={"object": "list", "data": [example("tax_id")], "has_more": False})
    customer["invoice_settings"]["default_payment_method"] = card
    item = example("subscription")["items"]["data"][0]
    item |= {"price": price, "current_period_start": NOW - 10 * DAY, "current_period_end": NOW + 20 * DAY}
    subscription = example(
        "subscription", customer=CUSTOMER, cancel_at_period_end=False, cancel_at=None, canceled_at=None,
        ended_at=None, trial_end=None, default_payment_method=card, discount=discount, discounts=[discount],
        pause_collection=None,
        schedule=example("subscription_schedule"), items={"object": "list", "data": [item], "has_more": False},
        latest_invoice=example("invoice"), description=MARKER,
    )
    invoice = example("invoice", id="in_marked", customer=customer, subscription=copy.deepcopy(subscription),
                      number="ACME-0001", status="open", description=MARKER,
                      hosted_invoice_url="https://invoice.stripe.com/i/acct_1/in_marked",
                      invoice_pdf="https://pay.stripe.com/invoice/acct_1/in_marked/pdf",
                      customer_tax_ids=[{"type": "eu_vat", "value": "DE123456789"}],
                      customer_address={"line1": "1 Main St", "country": "DE"}, customer_name="Jenny Rosen",
                      default_payment_method=card, discounts=[discount], latest_revision=MARKER)
    line = invoice["lines"]["data"][0]
    line |= {"price": price, "discount_amounts": [{"amount": 100, "discount": discount}],
             "tax_amounts": [{"amount": 0, "inclusive": False, "tax_rate": {"id": "txr_1", "description": MARKER}}],
             "pricing": {"type": "price_details", "price_details": {"price": price, "product": product}}}
    return {kind: marked(objects) for kind, objects in {
        "products": [product], "prices": [price, dearer], "customers": [customer],
        "payment_methods": methods, "subscriptions": [subscription], "invoices": [invoice],
    }.items()}


FEATURES = f"""
login_link: {{url: 'https://billing.acme.example'}}
features:
  payment_method_update: {{add_url: 'https://pay.example/add', signing_secret_env: ADD_SECRET}}
  subscription_update:
    enabled: true
    proration_behavior: always_invoice
    products: [{{product: {PRODUCT}, prices: [{PRICE}, price_dearer]}}]
"""


@pytest.fixture
def jenny(settings, clock, db, tmp_path) -> Iterator[TestClient]:
    """Signed in as the customer of Stripe's examples, imported as `python -m backend import` does."""
    path = tmp_path / "export.json"
    path.write_text(json.dumps(stripe_export()), encoding="utf-8")
    import_file(db, path)
    keyed = replace(settings, named_secrets={"ADD_SECRET": "k" * 32})
    with TestClient(with_config(keyed, FEATURES, clock), base_url="http://localhost") as client:
        client.signed_in_as = sign_in(client, Outbox(client, settings.outbox_dir), "rosen@example.com")  # type: ignore[attr-defined]
        yield client


def test_no_metadata_or_internal_field_reaches_any_answer(jenny):
    sub = "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw"
    changed = {"Idempotency-Key": "first"}
    answers = [
        jenny.get("/api/portal"),
        jenny.get("/api/invoices"),
        jenny.get("/api/invoices/in_marked"),
        jenny.get("/api/plans"),
        jenny.post(f"/api/subscriptions/{sub}/preview", json={"price": "price_dearer"}),
        jenny.post(f"/api/subscriptions/{sub}/update", json={"price": "price_dearer"}, headers=changed),
        jenny.post(f"/api/subscriptions/{sub}/update", json={"price": "price_dearer"}, headers=changed),
        jenny.post(f"/api/subscriptions/{sub}/cancel", json={}),
        jenny.post(f"/api/subscriptions/{sub}/resume", json={}),
        jenny.post("/api/payment_methods/pm_sepa_debit/default", json={}),
        jenny.patch("/api/customer", json={"name": "Jenny R."}),
        jenny.post("/api/payment_methods/add", json={}),
        jenny.get("/api/portal"),
    ]
    assert [a.status_code for a in answers] == [200] * len(answers), [a.text for a in answers]
    assert MARKER not in json.dumps(jenny.signed_in_as)
    for answer in answers:
        assert MARKER not in answer.text, answer.request.url
        assert UNKNOWN not in answer.text and "metadata" not in answer.text


def test_the_portal_still_shows_what_the_page_draws(jenny):
    data = jenny.get("/api/portal").json()
    methods = {m["type"]: m for m in data["payment_methods"]}
    assert sorted(methods) == METHODS["types"]
    assert {kind: method.get(kind) for kind, method in methods.items()} == {kind: SHOWN.get(kind) for kind in methods}
    assert methods["card"]["billing_details"]["address"]["city"] == "San Francisco"
    customer = data["customer"]
    assert customer["invoice_settings"] == {"default_payment_method": "pm_card"}
    assert customer["shipping"] == {"name": "Jenny Rosen", "phone": None, "address": {"country": "DE"}}
    assert customer["tax_ids"]["data"] == [{"id": "txi_1Pgc6sB7WZ01zgkWXkvC78jZ", "object": "tax_id", "type": "eu_vat",
                                            "value": "DE123456789", "country": "DE", "verification": {"status": "pending"}}]
    (sub,) = data["subscriptions"]
    assert sub["default_payment_method"] == "pm_card"
    (discount,) = sub["discounts"]  # Stripe's older `discount` and current `discounts` held the same one
    assert "discount" not in sub
    assert discount["coupon"] == {"id": "Z4OV52SU", "object": "coupon", "name": "25.5% off", "percent_off": 25.5,
                                         "amount_off": None, "currency": "usd", "duration": "forever",
                                         "duration_in_months": 3}
    assert sub["schedule"] == {"id": "sub_sched_1Pgc7AB7WZ01zgkWaeHcsbnC"}
    price = sub["items"]["data"][0]["price"]
    assert (price["unit_amount"], price["recurring"], price["product"]["name"]) == (
        2000, {"interval": "month", "interval_count": 1}, "T-shirt")
    (invoice,) = data["invoices"]
    assert invoice["subscription"] == sub["id"]
    assert invoice["hosted_invoice_url"] == "https://invoice.stripe.com/i/acct_1/in_marked"
    line = invoice["lines"]["data"][0]
    assert line["discount_amounts"] == [{"amount": 100, "discount": "di_1Pgc6rB7WZ01zgkW7Al8Fal9"}]
    assert line["pricing"] == {"type": "price_details", "price_details": {"price": PRICE, "product": PRODUCT}}


def features_of(text: str) -> dict[str, Any]:
    return portal.shared(parse_config(text)[0])["features"]


def test_the_portal_tells_the_page_whether_adding_a_card_is_set_up_but_not_where_or_how_it_is_signed():
    features = features_of(
        "login_link: {url: 'https://billing.acme.example'}\n"
        "features: {payment_method_update: {add_url: 'https://pay.example/add', signing_secret_env: ADD_SECRET}}")
    assert features["payment_method_update"] == {"enabled": True, "can_add": True}
    assert features_of("")["payment_method_update"] == {"enabled": True, "can_add": False}


def test_the_features_the_page_draws_and_nothing_else():
    assert features_of("""
features:
  customer_update: {allowed_updates: [name, tax_id]}
  subscription_cancel:
    mode: immediately
    proration_behavior: create_prorations
    cancellation_reason: {options: [too_expensive, other]}
    retention: {enabled: true, percent_off: 30, duration_in_months: 2}
  subscription_update:
    enabled: true
    proration_behavior: always_invoice
    products: [{product: prod_pro, prices: [price_a], adjustable_quantity: {enabled: true}}]
""") == {
        "customer_update": {"enabled": True, "allowed_updates": ["name", "tax_id"]},
        "invoice_history": {"enabled": True},
        "payment_method_update": {"enabled": True, "can_add": False},
        "subscription_cancel": {
            "enabled": True, "mode": "immediately",
            "cancellation_reason": {"enabled": True, "options": ["too_expensive", "other"]},
            "retention": {"enabled": True, "percent_off": 30, "duration_in_months": 2},
        },
        "subscription_update": {"enabled": True, "products": [{"product": "prod_pro"}]},
    }


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>",
                                 "http://pay.example/in_1", "//pay.example/in_1", "https://", " https://x.example/"])
def test_an_invoice_link_that_is_not_https_never_leaves_the_server(url):
    shown = portal.invoice({"id": "in_1", "hosted_invoice_url": url, "invoice_pdf": url}, "local")
    assert shown == {"id": "in_1", "hosted_invoice_url": None, "invoice_pdf": None, "total_taxes": [], "actions": []}


def test_invoice_links_stored_before_import_checked_them_are_not_passed_on(jenny, db):
    """A store filled by an older Porch may hold such links; the API is the last guard."""
    def spoil(conn: Any) -> None:
        invoice = billing.get(conn, "invoices", "in_marked")
        billing.upsert(conn, "invoices", [invoice | {"hosted_invoice_url": "javascript:alert(1)",
                                                     "invoice_pdf": "data:application/pdf;base64,JVBERi0="}])
    db.run(spoil)
    for answer in (jenny.get("/api/portal").json()["invoices"][0], jenny.get("/api/invoices/in_marked").json()["invoice"]):
        assert (answer["hosted_invoice_url"], answer["invoice_pdf"]) == (None, None)


def test_an_expanded_object_where_an_id_may_stand_becomes_its_id():
    expanded = {"id": "pm_1", "object": "payment_method", "metadata": {"k": MARKER}}
    assert portal.pick("customer", {"invoice_settings": {"default_payment_method": expanded}}) == {
        "invoice_settings": {"default_payment_method": "pm_1"}}
    assert portal.pick("invoice", {"subscription": {"id": "sub_1", "metadata": {}}}) == {"subscription": "sub_1"}
    assert portal.pick("invoice", {"subscription": "sub_1"}) == {"subscription": "sub_1"}


def test_a_field_of_an_unexpected_type_is_dropped_not_passed_whole():
    """A scalar field holding an object, or an object field holding a number, carries nothing."""
    shown = portal.pick("payment_method", {"id": "pm_1", "type": {"secret": MARKER}, "card": 7,
                                           "billing_details": {"name": ["x", MARKER]}})
    assert shown == {"id": "pm_1", "billing_details": {}}


@pytest.mark.parametrize("kind", METHODS["types"])
def test_each_type_of_payment_method_shows_what_its_customer_knows_it_by_and_nothing_else(kind):
    """Every type in Stripe's PaymentMethod reference, its sub-object built from the type's schema
    (tests/stripe_payment_methods.json): the brand, last four digits, bank name or code, a wallet's
    email pass; fingerprints, account and routing numbers, buyer ids, tax ids and birth dates stay."""
    shown = portal.pick("payment_method", method_example(kind))
    assert (shown["type"], shown.get(kind)) == (kind, SHOWN.get(kind))
    assert set(shown) <= {"id", "object", "type", "created", "billing_details", kind}


def test_a_method_named_by_an_expanded_object_is_sent_as_its_id():
    """The Default badge and a subscription's "Charged to" find the method by id, whatever the store holds."""
    expanded = method_example("sepa_debit")
    assert portal.subscription({"default_payment_method": expanded})["default_payment_method"] == "pm_sepa_debit"
    assert portal.pick("customer", {"invoice_settings": {"default_payment_method": expanded}}) == {
        "invoice_settings": {"default_payment_method": "pm_sepa_debit"}}


TOKYO = {"line1": "丸の内1-1", "line2": None, "city": "千代田区", "state": "東京都", "postal_code": "100-0001", "country": "JP"}
BERLIN = {"line1": "Friedrichstraße 12", "line2": None, "city": "Berlin", "state": None, "postal_code": "10117",
          "country": "DE"}


def test_every_address_a_browser_gets_carries_its_lines_in_its_countrys_order():
    customer = portal.pick("customer", {"address": TOKYO, "shipping": {"name": "J", "address": BERLIN}})
    assert customer["address"] == TOKYO | {"lines": ["〒100-0001", "東京都", "千代田区", "丸の内1-1"]}
    assert customer["shipping"]["address"]["lines"] == ["Friedrichstraße 12", "10117 Berlin"]
    method = portal.pick("payment_method", {"id": "pm_1", "billing_details": {"address": BERLIN | {"state": MARKER}}})
    assert method["billing_details"]["address"]["lines"] == ["Friedrichstraße 12", "10117 Berlin"]
    assert portal.pick("receipt_customer", {"address": TOKYO})["address"]["lines"][0] == "〒100-0001"


def test_events_keep_stripes_address_fields_only_and_odd_addresses_get_no_lines():
    assert portal.pick("customer", {"address": TOKYO}, lines=False) == {"address": TOKYO}
    # No country the library knows, an id where an object was expected, nothing at all: no lines, no failure.
    odd = portal.pick("customer", {"address": BERLIN | {"country": "QQ"}, "shipping": {"address": "addr_1"}})
    assert "lines" not in odd["address"] and odd["shipping"] == {"address": "addr_1"}
    assert portal.pick("customer", {"address": None, "shipping": None}) == {"address": None, "shipping": None}
