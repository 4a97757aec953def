"""The reader of Stripe's objects: every API version's shape in, one shape out.

The objects are Stripe's published examples (tests/stripe_examples.json, from stripe/openapi) in the
current API version, and the same objects as Stripe gives them to accounts pinned to older versions:
2025-03-31.basil moved the period to the items, an invoice's subscription under `parent`, `tax` to
`total_taxes` and a line's price under `pricing`; 2025-09-30.clover moved a discount's coupon under
`source`; versions before them carry a `plan` beside or instead of the price, and `discount`."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import Outbox, sign_in, with_config
from starlette.testclient import TestClient
from test_portal import stripe_export

from backend.importer import import_file
from backend.stripe_objects import (
    Batch,
    ObjectError,
    normalise,
    price_from_plan,
    read_file,
)

EXAMPLES = json.loads((Path(__file__).parent / "stripe_examples.json").read_text(encoding="utf-8"))
DAY = 86400
START, END = 1_767_225_600, 1_769_904_000  # 1 January and 1 February 2026


def example(kind: str, **changes: Any) -> dict[str, Any]:
    return copy.deepcopy(EXAMPLES[kind]) | changes


def one(obj: dict[str, Any]) -> dict[str, Any]:
    """The object itself, as the reader gives it back."""
    (_kind, found), *_ = normalise(obj)
    return found


def refused(obj: Any) -> str:
    with pytest.raises(ObjectError) as caught:
        normalise(obj)
    return str(caught.value)


PLAN = {"id": "plan_gold", "object": "plan", "active": True, "amount": 1500, "amount_decimal": "1500",
        "billing_scheme": "per_unit", "created": 1_600_000_000, "currency": "eur", "interval": "month",
        "interval_count": 3, "livemode": False, "nickname": "Gold quarterly", "product": "prod_gold",
        "usage_type": "licensed", "metadata": {}}


def subscription_of_old(**changes: Any) -> dict[str, Any]:
    """The example subscription as an account pinned before 2025-03-31.basil gets it."""
    sub = example("subscription", current_period_start=START, current_period_end=END, **changes)
    item = sub["items"]["data"][0]
    del item["current_period_start"], item["current_period_end"]
    return sub


# Prices and plans

def test_a_plan_becomes_the_price_stripe_made_of_it():
    assert price_from_plan(PLAN) == {
        "id": "plan_gold", "object": "price", "active": True, "unit_amount": 1500, "unit_amount_decimal": "1500",
        "billing_scheme": "per_unit", "created": 1_600_000_000, "currency": "eur", "livemode": False,
        "nickname": "Gold quarterly", "product": "prod_gold", "metadata": {}, "type": "recurring",
        "recurring": {"interval": "month", "interval_count": 3, "usage_type": "licensed"},
    }
    assert normalise(PLAN) == [("prices", price_from_plan(PLAN))]


def test_a_price_always_has_the_fields_the_pages_read_and_its_product_by_id():
    product = example("product")
    found = normalise(example("price", product=product, nickname=None))
    assert found == [("prices", example("price", product=product["id"], nickname=None)), ("products", product)]
    bare = one({"id": "price_1", "object": "price"})
    assert bare == {"id": "price_1", "object": "price", "currency": None, "unit_amount": None, "nickname": None,
                    "product": None, "recurring": None, "active": True}


# Subscriptions

def test_the_current_shape_keeps_the_period_on_the_items_and_copies_it_to_the_subscription():
    sub = one(example("subscription"))
    item = EXAMPLES["subscription"]["items"]["data"][0]
    assert (sub["current_period_start"], sub["current_period_end"]) == (
        item["current_period_start"], item["current_period_end"])


def test_an_older_shape_keeps_the_period_on_the_subscription_and_copies_it_to_the_items():
    sub = one(subscription_of_old())
    (item,) = sub["items"]["data"]
    assert (item["current_period_start"], item["current_period_end"]) == (START, END)
    assert (sub["current_period_start"], sub["current_period_end"]) == (START, END)


def test_an_item_with_only_a_plan_gets_the_price_stripe_made_of_it():
    sub = subscription_of_old()
    item = sub["items"]["data"][0]
    del item["price"]
    item["plan"] = PLAN
    found = normalise(sub)
    (item,) = found[0][1]["items"]["data"]
    assert item["price"] == price_from_plan(PLAN)
    assert ("prices", price_from_plan(PLAN)) in found  # stored as a price too
    item_by_id = subscription_of_old()
    item_by_id["items"]["data"][0] |= {"price": None, "plan": "plan_gold"}
    assert one(item_by_id)["items"]["data"][0]["price"] == "plan_gold"


def test_an_item_with_a_price_and_a_plan_keeps_its_price():
    sub = one(example("subscription"))
    assert sub["items"]["data"][0]["price"]["id"] == EXAMPLES["price"]["id"]


def test_the_older_discount_moves_into_discounts():
    discount = example("discount", coupon=example("coupon"))
    sub = one(subscription_of_old(discount=discount, discounts=[]))
    assert "discount" not in sub
    assert sub["discounts"] == [discount]
    # Both shapes at once (an account between versions) name it once.
    assert one(subscription_of_old(discount=discount, discounts=[discount]))["discounts"] == [discount]
    assert one(subscription_of_old(discount=None, discounts=["di_1"]))["discounts"] == ["di_1"]


def test_the_coupon_under_source_moves_to_coupon():
    coupon = example("coupon")
    discount = example("discount")
    discount["source"]["coupon"] = coupon
    (found,) = one(example("subscription", discounts=[discount]))["discounts"]
    assert found["coupon"] == coupon
    discount["source"]["coupon"] = "Z4OV52SU"
    (found,) = one(example("subscription", discounts=[discount]))["discounts"]
    assert found["coupon"] == {"id": "Z4OV52SU", "object": "coupon"}


def test_references_are_stored_as_ids_and_expanded_objects_as_their_own_kind():
    customer = example("customer", email="rosen@example.com")
    card = example("payment_method", customer=customer["id"])
    found = normalise(example("subscription", customer=customer, default_payment_method=card,
                              latest_invoice=example("invoice")))
    sub = found[0][1]
    assert (sub["customer"], sub["default_payment_method"], sub["latest_invoice"]) == (
        customer["id"], card["id"], EXAMPLES["invoice"]["id"])
    assert [(kind, obj["id"]) for kind, obj in found[1:]] == [
        ("customers", customer["id"]), ("payment_methods", card["id"]), ("invoices", EXAMPLES["invoice"]["id"]),
        ("prices", EXAMPLES["price"]["id"])]


def test_a_reference_given_as_id_and_object_only_is_no_object_to_store():
    found = normalise(example("subscription", customer={"id": "cus_1", "object": "customer"}))
    assert found[0][1]["customer"] == "cus_1"
    assert [kind for kind, _ in found[1:]] == ["prices"]


def test_a_price_given_as_id_and_object_only_stays_a_reference():
    sub = example("subscription")
    sub["items"]["data"][0]["price"] = {"id": "price_1", "object": "price"}
    found = normalise(sub)
    assert found[0][1]["items"]["data"][0]["price"] == "price_1"
    assert [kind for kind, _ in found[1:]] == []


@pytest.mark.parametrize("status", ["active", "trialing", "past_due", "unpaid", "incomplete", "incomplete_expired",
                                    "canceled", "paused"])
def test_every_stripe_status_is_read(status):
    assert one(example("subscription", status=status))["status"] == status


def test_a_status_stripe_does_not_have_is_refused():
    assert refused(example("subscription", status="expired")) == (
        "subscription sub_1Pgc6rB7WZ01zgkWNy0Cn5nw has \"status\": \"expired\"; Stripe's are active, trialing, "
        "past_due, unpaid, incomplete, incomplete_expired, canceled, paused")


def test_pause_collection_keeps_what_the_page_shows():
    pause = {"behavior": "void", "resumes_at": END, "extra": 1}
    assert one(example("subscription", pause_collection=pause))["pause_collection"] == {
        "behavior": "void", "resumes_at": END}
    assert one(example("subscription", pause_collection=None))["pause_collection"] is None
    bare = example("subscription")
    del bare["pause_collection"]
    assert one(bare)["pause_collection"] is None


# Invoices

def test_the_subscription_of_an_invoice_is_read_from_parent():
    invoice = example("invoice")
    invoice["parent"]["subscription_details"]["subscription"] = "sub_1"
    assert one(invoice)["subscription"] == "sub_1"
    assert one(example("invoice", subscription="sub_2"))["subscription"] == "sub_2"  # before basil
    assert one(example("invoice", parent=None))["subscription"] is None


def test_what_is_left_to_pay_of_an_invoice_is_worked_out_when_stripe_leaves_it_out():
    invoice = example("invoice", status="open", amount_due=29000, amount_paid=9000)
    del invoice["amount_remaining"]
    assert one(invoice)["amount_remaining"] == 20000
    assert one(example("invoice", amount_due=29000, amount_paid=0, amount_remaining=100))["amount_remaining"] == 100


def test_taxes_from_total_taxes():
    invoice = example("invoice", total_taxes=[
        {"amount": 380, "tax_behavior": "exclusive", "taxable_amount": 2000, "taxability_reason": "standard_rated",
         "type": "tax_rate_details", "tax_rate_details": {"tax_rate": "txr_1"}},
        {"amount": 100, "tax_behavior": "inclusive", "taxable_amount": 526, "type": "tax_rate_details",
         "tax_rate_details": {"tax_rate": "txr_2"}},
    ])
    found = one(invoice)
    assert found["total_taxes"] == [
        {"amount": 380, "inclusive": False, "taxable_amount": 2000, "tax_rate": "txr_1"},
        {"amount": 100, "inclusive": True, "taxable_amount": 526, "tax_rate": "txr_2"},
    ]
    assert found["tax"] == 480
    assert one(found) == found  # read again, unchanged


def test_taxes_from_total_tax_amounts():
    rate = {"id": "txr_1", "object": "tax_rate", "display_name": "VAT", "percentage": 19.0}
    found = one(example("invoice", tax=380, total_tax_amounts=[
        {"amount": 380, "inclusive": False, "tax_rate": rate, "taxable_amount": 2000}]))
    assert found["total_taxes"] == [{"amount": 380, "inclusive": False, "taxable_amount": 2000, "tax_rate": "txr_1",
                                     "display_name": "VAT", "percentage": 19.0}]
    assert found["tax"] == 380


def test_an_invoice_without_tax_rows_has_no_tax():
    invoice = example("invoice")
    invoice.pop("total_taxes", None)
    assert one(invoice)["tax"] is None


def test_a_line_price_from_pricing_or_its_plan():
    invoice = example("invoice")
    line = invoice["lines"]["data"][0]
    line["pricing"]["price_details"] = {"price": "price_1", "product": "prod_1"}
    assert one(invoice)["lines"]["data"][0]["price"] == "price_1"
    line.pop("pricing")
    line["plan"] = PLAN
    assert one(invoice)["lines"]["data"][0]["price"] == price_from_plan(PLAN)


def test_lines_keep_has_more_and_a_bare_array_becomes_a_list():
    invoice = example("invoice")
    invoice["lines"]["has_more"] = True
    assert one(invoice)["lines"]["has_more"] is True
    invoice["lines"] = invoice["lines"]["data"]
    assert one(invoice)["lines"]["has_more"] is False


def test_discount_amounts_name_the_discount_by_id():
    invoice = example("invoice", total_discount_amounts=[{"amount": 100, "discount": example("discount")}])
    assert one(invoice)["total_discount_amounts"] == [{"amount": 100, "discount": EXAMPLES["discount"]["id"]}]


# Customers and payment methods

def test_the_default_payment_method_of_a_customer_is_an_id():
    card = example("payment_method")
    customer = example("customer")
    customer["invoice_settings"]["default_payment_method"] = card
    found = normalise(customer)
    assert found[0][1]["invoice_settings"]["default_payment_method"] == card["id"]
    assert found[1] == ("payment_methods", card)
    assert found[0][1]["tax_ids"] == {"object": "list", "data": [], "has_more": False}


def test_a_deleted_object_comes_back_as_stripe_deletes_it():
    assert normalise({"id": "cus_1", "object": "customer", "deleted": True, "email": "x"}) == [
        ("customers", {"id": "cus_1", "object": "customer", "deleted": True})]


@pytest.mark.parametrize("field", ["created", "current_period_end", "cancel_at", "trial_end"])
def test_a_time_that_is_not_unix_seconds_is_refused_naming_the_field(field):
    assert refused(example("subscription", **{field: "2026-01-01"})) == (
        f'subscription sub_1Pgc6rB7WZ01zgkWNy0Cn5nw needs "{field}" as Unix seconds, such as 1700000000')


def test_an_expanded_object_with_a_problem_is_refused_naming_where_it_sits():
    customer = example("customer", created="yesterday")
    assert refused(example("subscription", customer=customer)) == (
        'subscription sub_1Pgc6rB7WZ01zgkWNy0Cn5nw, in "customer": customer cus_QXg1o8vcGmoR32 needs "created" '
        "as Unix seconds, such as 1700000000")


def test_reading_what_the_reader_gave_changes_nothing():
    for kind in ("customer", "payment_method", "product", "price", "subscription", "invoice"):
        for _, obj in normalise(example(kind)):
            assert one(obj) == obj


# Files

def test_a_file_routes_objects_by_their_object_field():
    batch = read_file({"object": "list", "has_more": False, "data": [
        example("customer"), example("price"), PLAN, example("invoice")]})
    assert {kind: list(found) for kind, found in batch.objects.items() if found} == {
        "customers": ["cus_QXg1o8vcGmoR32"], "prices": [EXAMPLES["price"]["id"], "plan_gold"],
        "invoices": [EXAMPLES["invoice"]["id"]]}


def test_what_the_file_lists_wins_over_a_copy_inside_another_object():
    listed = example("customer", name="Listed")
    inside = example("customer", name="Inside")
    for data in ([example("subscription", customer=inside), listed], [listed, example("subscription", customer=inside)]):
        batch = read_file(data)
        assert batch.objects["customers"]["cus_QXg1o8vcGmoR32"]["name"] == "Listed"
    assert read_file([example("subscription", customer=inside)]).objects["customers"][
        "cus_QXg1o8vcGmoR32"]["name"] == "Inside"


def test_a_deletion_and_a_copy_of_one_id_the_later_wins():
    gone = {"id": "cus_QXg1o8vcGmoR32", "object": "customer", "deleted": True}
    batch = read_file([example("customer"), gone])
    assert (list(batch.objects["customers"]), list(batch.deleted["customers"])) == ([], ["cus_QXg1o8vcGmoR32"])
    batch = read_file([gone, example("customer")])
    assert (list(batch.objects["customers"]), list(batch.deleted["customers"])) == (["cus_QXg1o8vcGmoR32"], [])
    assert isinstance(batch, Batch)


# Each shape through `python -m backend import` and GET /api/portal, as the customer's page gets it.

SUB = EXAMPLES["subscription"]["id"]


@pytest.fixture
def shown(settings, clock, db, tmp_path) -> Callable[[Callable[[dict[str, Any]], None]], dict[str, Any]]:
    """GET /api/portal for the customer of Stripe's examples, after importing the export as `change` left it."""
    def show(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        export = stripe_export()
        change(export)
        path = tmp_path / "export.json"
        path.write_text(json.dumps(export), encoding="utf-8")
        import_file(db, path)
        with TestClient(with_config(settings, FEATURES_OFFER, clock), base_url="http://localhost") as client:
            sign_in(client, Outbox(client, settings.outbox_dir), "rosen@example.com")
            return client.get("/api/portal").json()  # type: ignore[no-any-return]
    return show


FEATURES_OFFER = "features: {subscription_cancel: {retention: {enabled: true}}}"


def sub_of(export: dict[str, Any]) -> dict[str, Any]:
    return export["subscriptions"][0]  # type: ignore[no-any-return]


def item_of(export: dict[str, Any]) -> dict[str, Any]:
    return sub_of(export)["items"]["data"][0]  # type: ignore[no-any-return]


def line_of(export: dict[str, Any]) -> dict[str, Any]:
    return export["invoices"][0]["lines"]["data"][0]  # type: ignore[no-any-return]


def test_an_item_with_only_a_plan_shows_its_price(shown):
    def only_plan(export: dict[str, Any]) -> None:
        item_of(export).pop("price")
        item_of(export)["plan"] = PLAN | {"product": EXAMPLES["product"]["id"]}
    (item,) = shown(only_plan)["subscriptions"][0]["items"]["data"]
    assert (item["price"]["id"], item["price"]["unit_amount"], item["price"]["recurring"]) == (
        "plan_gold", 1500, {"interval": "month", "interval_count": 3})
    assert (item["price"]["nickname"], item["price"]["product"]["name"]) == ("Gold quarterly", "T-shirt")


@pytest.mark.parametrize("where", ["subscription", "items"])
def test_the_period_shows_wherever_the_api_version_kept_it(shown, where):
    def period(export: dict[str, Any]) -> None:
        holder, other = (sub_of(export), item_of(export)) if where == "subscription" else (item_of(export), sub_of(export))
        holder |= {"current_period_start": START, "current_period_end": END}
        for key in ("current_period_start", "current_period_end"):
            other.pop(key, None)
    (sub,) = shown(period)["subscriptions"]
    assert (sub["current_period_start"], sub["current_period_end"]) == (START, END)
    assert (sub["items"]["data"][0]["current_period_start"], sub["items"]["data"][0]["current_period_end"]) == (START, END)


@pytest.mark.parametrize("shape", ["discount", "discounts", "source.coupon"])
def test_a_discount_in_any_shape_shows_and_stops_the_offer(shown, shape):
    def discounted(export: dict[str, Any]) -> None:
        sub = sub_of(export)
        discount = example("discount", coupon=example("coupon"))
        if shape == "source.coupon":
            discount["source"]["coupon"] = discount.pop("coupon")
        sub.pop("discount"), sub.pop("discounts")
        sub |= {"discount": discount} if shape == "discount" else {"discounts": [discount]}
    (sub,) = shown(discounted)["subscriptions"]
    assert [d["coupon"]["percent_off"] for d in sub["discounts"]] == [25.5]
    assert "discount" not in sub and "retention" not in sub["actions"]


def test_without_a_discount_the_offer_is_made(shown):
    def none(export: dict[str, Any]) -> None:
        sub_of(export).update(discount=None, discounts=[])
    (sub,) = shown(none)["subscriptions"]
    assert sub["discounts"] == [] and "retention" in sub["actions"]


@pytest.mark.parametrize("shape", ["total_taxes", "total_tax_amounts"])
def test_the_tax_of_an_invoice_shows_from_either_shape(shown, shape):
    def taxed(export: dict[str, Any]) -> None:
        invoice = export["invoices"][0]
        invoice.pop("tax", None)
        invoice.pop("total_taxes", None)
        invoice |= {"subtotal": 2000, "total": 2380}
        invoice[shape] = [{"amount": 380, "tax_behavior": "exclusive", "taxable_amount": 2000,
                           "tax_rate_details": {"tax_rate": "txr_1"}}] if shape == "total_taxes" else [
            {"amount": 380, "inclusive": False, "taxable_amount": 2000, "tax_rate": "txr_1"}]
    (invoice,) = shown(taxed)["invoices"]
    assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == (2000, 380, 2380)


def test_the_subscription_of_an_invoice_shows_from_parent(shown):
    def newer(export: dict[str, Any]) -> None:
        invoice = export["invoices"][0]
        invoice.pop("subscription")
        invoice["parent"] = {"type": "subscription_details", "subscription_details": {"subscription": SUB}}
    assert shown(newer)["invoices"][0]["subscription"] == SUB


@pytest.mark.parametrize("shape", ["pricing", "plan"])
def test_a_line_shows_its_price_from_pricing_or_plan(shown, shape):
    def newer(export: dict[str, Any]) -> None:
        line = line_of(export)
        line.pop("price")
        if shape == "plan":
            line.pop("pricing")
            line["plan"] = PLAN
    price = shown(newer)["invoices"][0]["lines"]["data"][0]["price"]
    assert price["id"] == (EXAMPLES["price"]["id"] if shape == "pricing" else "plan_gold")


@pytest.mark.parametrize("nickname", ["Gold", None])
def test_a_price_whose_product_is_not_in_the_file_is_never_named_by_its_id(shown, nickname):
    def no_product(export: dict[str, Any]) -> None:
        export["products"] = []
        export["prices"] = []
        item_of(export)["price"] = example("price", id="price_elsewhere", nickname=nickname, product="prod_elsewhere")
    (item,) = shown(no_product)["subscriptions"][0]["items"]["data"]
    assert item["price"]["product"] == {"id": "prod_elsewhere", "name": nickname}

