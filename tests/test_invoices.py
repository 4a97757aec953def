"""GET /api/invoices (keyset pages, newest first) and GET /api/invoices/{id} with what its receipt shows."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from business_helpers import act
from helpers import NOW, Outbox, sign_in, with_config
from starlette.testclient import TestClient
from stripe_boundary import scripted_client
from subscription_helpers import recorded

from backend import invoices, portal
from backend.errors import APIError
from backend.importer import import_file
from backend.store import billing
from backend.stripe_objects import normalise

JENNYS = [f"in_jenny_{n:04d}" for n in range(13, 0, -1)]
# Stripe's published example invoice (tests/stripe_examples.json says where from): a draft with one line,
# no customer details, no tax and no links.
EXAMPLE = json.loads((Path(__file__).parent / "stripe_examples.json").read_text(encoding="utf-8"))["invoice"]
HOSTED = "https://invoice.stripe.com/i/acct_1/in_x"


def stripe_invoice(invoice_id: str, **changes: Any) -> dict[str, Any]:
    """Stripe's example invoice as Jenny's, newer than her other invoices, with these changes."""
    return copy.deepcopy(EXAMPLE) | {"id": invoice_id, "customer": "cus_jenny", "created": NOW} | changes


def imported(db, tmp_path: Path, *invoices: dict[str, Any]) -> None:
    """The invoices brought in as `python -m backend import` does."""
    path = tmp_path / "invoices.json"
    path.write_text(json.dumps({"invoices": list(invoices)}), encoding="utf-8")
    import_file(db, path)


@pytest.fixture
def jenny(client, outbox):
    sign_in(client, outbox)
    return client


def test_walking_every_page_gives_each_invoice_once_newest_first(jenny):
    seen, pages, after = [], [], None
    while True:
        answer = jenny.get("/api/invoices", params={"limit": 5} | ({"starting_after": after} if after else {}))
        assert answer.status_code == 200
        page = answer.json()
        assert page["object"] == "list"
        pages.append((len(page["data"]), page["has_more"]))
        seen += [invoice["id"] for invoice in page["data"]]
        if not page["has_more"]:
            break
        after = page["data"][-1]["id"]
    assert pages == [(5, True), (5, True), (3, False)]
    assert seen == JENNYS
    assert len(set(seen)) == 13


def test_the_first_page_has_24_by_default(jenny):
    page = jenny.get("/api/invoices").json()
    assert [i["id"] for i in page["data"]] == JENNYS and page["has_more"] is False


def test_a_page_that_ends_exactly_at_the_last_invoice_has_no_more(jenny):
    page = jenny.get("/api/invoices", params={"limit": 13}).json()
    assert len(page["data"]) == 13 and page["has_more"] is False
    last = jenny.get("/api/invoices", params={"limit": 1, "starting_after": "in_jenny_0001"}).json()
    assert last == {"object": "list", "data": [], "has_more": False}


def test_invoices_created_in_the_same_second_are_neither_repeated_nor_skipped(jenny, db):
    twins = [{"id": f"in_twin_{n}", "object": "invoice", "customer": "cus_jenny", "created": NOW - 18 * 86400,
              "status": "paid", "currency": "usd", "total": 100} for n in range(4)]
    db.run(billing.upsert, "invoices", twins)
    seen, after = [], None
    while True:
        page = jenny.get("/api/invoices", params={"limit": 2} | ({"starting_after": after} if after else {})).json()
        seen += [i["id"] for i in page["data"]]
        if not page["has_more"]:
            break
        after = seen[-1]
    # in_jenny_0013 shares their second; ties go by id, descending.
    assert seen[:5] == ["in_twin_3", "in_twin_2", "in_twin_1", "in_twin_0", "in_jenny_0013"]
    assert seen[5:] == JENNYS[1:]


def test_the_list_shows_only_what_the_portal_shows(jenny, db):
    invoice = db.run(billing.get, "invoices", "in_jenny_0013", write=False)
    db.run(billing.upsert, "invoices", [invoice | {"metadata": {"crm": "internal"}}])
    text = jenny.get("/api/invoices").text
    assert "crm" not in text and "cus_jenny" not in text


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "", "2.5", "٣"])
def test_a_limit_outside_1_to_100_is_a_bad_request(jenny, limit):
    answer = jenny.get("/api/invoices", params={"limit": limit})
    assert answer.status_code == 400
    assert answer.json() == {"error": {"code": "invalid_request", "message": "limit must be a whole number from 1 to 100.",
                                       "param": "limit"}}


@pytest.mark.parametrize("limit", ["1", "100"])
def test_limits_1_and_100_are_allowed(jenny, limit):
    assert len(jenny.get("/api/invoices", params={"limit": limit}).json()["data"]) == min(int(limit), 13)


@pytest.mark.parametrize("after", ["in_kim_0001", "in_jold_0001", "in_nothing"])
def test_starting_after_must_be_the_customers_own_invoice(jenny, after):
    answer = jenny.get("/api/invoices", params={"starting_after": after})
    assert answer.status_code == 404
    assert answer.json() == {"error": {"code": "not_found", "message": "No such invoice.", "param": "starting_after"}}


def test_another_customers_invoice_is_404_like_a_missing_one(jenny):
    for invoice in ("in_kim_0001", "in_nothing"):
        answer = jenny.get(f"/api/invoices/{invoice}")
        assert answer.status_code == 404
        assert answer.json() == {"error": {"code": "not_found", "message": "No such invoice."}}
    assert "in_kim" not in jenny.get("/api/invoices", params={"limit": 100}).text


def test_the_list_needs_a_session(client):
    assert client.get("/api/invoices").status_code == 401


def test_invoice_history_off_refuses_the_list_and_each_invoice(settings, clock, db):
    app = with_config(settings, "features: {invoice_history: {enabled: false}}", clock)
    with TestClient(app, base_url="http://localhost") as client:
        sign_in(client, Outbox(client, settings.outbox_dir))
        for path in ("/api/invoices", "/api/invoices/in_jenny_0013", "/api/invoices/in_kim_0001"):
            answer = client.get(path)
            assert answer.status_code == 403
            assert answer.json() == {"error": {"code": "feature_disabled", "message": "Invoice history is switched off."}}


def test_an_invoice_comes_with_what_its_receipt_shows(jenny):
    answer = jenny.get("/api/invoices/in_jenny_0013")
    assert answer.status_code == 200
    data = answer.json()
    assert set(data) == {"invoice", "receipt_url", "customer", "business", "return_url"}
    assert data["return_url"] is None  # no default_return_url, and a session by email has no return address
    assert data["invoice"]["number"] == "JENNY-0013"
    assert data["receipt_url"] == "/receipt/?invoice=in_jenny_0013"
    assert data["customer"] == {
        "name": "Jenny Rosen", "email": "jenny@example.com",
        "address": {"line1": "Friedrichstraße 12", "line2": None, "city": "Berlin", "state": None,
                    "postal_code": "10117", "country": "DE", "lines": ["Friedrichstraße 12", "10117 Berlin"]},
        "tax_ids": [{"type": "eu_vat", "value": "DE123456789"}],
    }
    assert data["business"]["name"] == "Acme" and data["business"]["support_email"] == "billing@acme.example"


def test_the_receipt_shows_the_details_the_invoice_was_issued_to(jenny, db):
    invoice = db.run(billing.get, "invoices", "in_jenny_0001", write=False)
    snapshot = {"customer_name": "Jenny Rosen GmbH", "customer_email": "jenny@example.com",
                "customer_address": {"line1": "Alte Straße 1", "city": "Berlin", "postal_code": "10115",
                                     "country": "DE", "line2": None, "state": None},
                "customer_tax_ids": [{"type": "eu_vat", "value": "DE999999999"}]}
    db.run(billing.upsert, "invoices", [invoice | snapshot])
    customer = jenny.get("/api/invoices/in_jenny_0001").json()["customer"]
    assert customer == {"name": "Jenny Rosen GmbH", "email": "jenny@example.com",
                        "address": snapshot["customer_address"] | {"lines": ["Alte Straße 1", "10115 Berlin"]},
                        "tax_ids": [{"type": "eu_vat", "value": "DE999999999"}]}


def test_an_invoice_shows_its_lines_without_the_merchants_metadata(jenny, db):
    invoice = db.run(billing.get, "invoices", "in_jenny_0013", write=False)
    line = {"id": "il_1", "object": "line_item", "type": "subscription", "description": "1 × Pro (at $29.00 / month)",
            "quantity": 1, "amount": 2900, "currency": "usd", "period": {"start": 1, "end": 2}, "proration": False,
            "metadata": {"crm": "internal"},
            "price": {"id": "price_pro_monthly", "object": "price", "unit_amount": 2900, "currency": "usd",
                      "metadata": {"crm": "internal"}}}
    db.run(billing.upsert, "invoices", [invoice | {"lines": {"object": "list", "data": [line], "has_more": False,
                                                              "url": "/v1/invoices/in_jenny_0013/lines"}}])
    for answer in (jenny.get("/api/invoices/in_jenny_0013").json()["invoice"], jenny.get("/api/invoices").json()["data"][0]):
        (shown,) = answer["lines"]["data"]
        assert shown["description"] == "1 × Pro (at $29.00 / month)" and shown["amount"] == 2900
        assert shown["price"] == {"id": "price_pro_monthly", "object": "price", "unit_amount": 2900, "currency": "usd"}
        assert "metadata" not in shown
        assert answer["lines"]["has_more"] is False and "url" not in answer["lines"]


def test_a_receipt_url_escapes_the_invoice_id(jenny, db):
    db.run(billing.upsert, "invoices", [{"id": "in_a&b=c", "object": "invoice", "customer": "cus_jenny",
                                         "created": NOW}])
    assert jenny.get("/api/invoices/in_a&b=c").json()["receipt_url"] == "/receipt/?invoice=in_a%26b%3Dc"


def test_the_openapi_document_describes_the_list(client):
    operation = client.get("/api/openapi.json").json()["paths"]["/api/invoices"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["limit", "starting_after"]
    assert set(operation["responses"]) == {"200", "400", "401", "403", "404"}


# What the customer is shown of each kind of invoice.

def test_a_draft_is_nowhere_the_customer_looks(jenny, db, tmp_path):
    imported(db, tmp_path, stripe_invoice("in_draft"))
    assert "in_draft" not in jenny.get("/api/portal").text
    assert "in_draft" not in jenny.get("/api/invoices", params={"limit": 100}).text
    for path, params in (("/api/invoices/in_draft", {}), ("/api/invoices", {"starting_after": "in_draft"})):
        answer = jenny.get(path, params=params)
        assert answer.status_code == 404
        assert answer.json()["error"]["message"] == "No such invoice."
    # The first page is still a full page of invoices the customer may see.
    assert [i["id"] for i in jenny.get("/api/invoices", params={"limit": 2}).json()["data"]] == JENNYS[:2]


def test_a_draft_once_finalised_is_shown(jenny, db, tmp_path):
    imported(db, tmp_path, stripe_invoice("in_draft"))
    imported(db, tmp_path, stripe_invoice("in_draft", status="open", number="JENNY-0014"))
    assert jenny.get("/api/invoices/in_draft").json()["invoice"]["status"] == "open"
    assert jenny.get("/api/portal").json()["invoices"][0]["id"] == "in_draft"


@pytest.mark.parametrize("status", ["void", "uncollectible", "paid", "open"])
def test_void_uncollectible_paid_and_open_invoices_are_shown_with_their_status(jenny, db, tmp_path, status):
    imported(db, tmp_path, stripe_invoice("in_x", status=status))
    assert jenny.get("/api/invoices/in_x").json()["invoice"]["status"] == status
    assert jenny.get("/api/invoices").json()["data"][0]["status"] == status


@pytest.mark.parametrize(("changes", "actions"), [
    ({"status": "open", "amount_remaining": 1000, "hosted_invoice_url": HOSTED}, ["pay"]),
    ({"status": "open", "amount_remaining": 1000, "hosted_invoice_url": None}, []),
    ({"status": "open", "amount_remaining": 0, "hosted_invoice_url": HOSTED}, []),
    ({"status": "paid", "amount_remaining": 0, "hosted_invoice_url": HOSTED}, []),
    ({"status": "void", "amount_remaining": 1000, "hosted_invoice_url": HOSTED}, []),
    ({"status": "uncollectible", "amount_remaining": 1000, "hosted_invoice_url": HOSTED}, []),
])
def test_only_an_open_invoice_with_something_left_to_pay_and_a_page_to_pay_it_on_can_be_paid(
        jenny, db, tmp_path, changes, actions):
    imported(db, tmp_path, stripe_invoice("in_x", **changes))
    assert jenny.get("/api/invoices/in_x").json()["invoice"]["actions"] == actions
    assert jenny.get("/api/invoices").json()["data"][0]["actions"] == actions
    assert jenny.get("/api/portal").json()["invoices"][0]["actions"] == actions


@pytest.mark.parametrize(("changes", "actions"), [
    ({"status": "open", "amount_remaining": 1000, "hosted_invoice_url": None}, ["pay"]),
    ({"status": "open", "amount_remaining": 0, "hosted_invoice_url": HOSTED}, []),
    ({"status": "paid", "amount_remaining": 0, "hosted_invoice_url": HOSTED}, []),
])
def test_with_the_stripe_engine_an_open_invoice_is_payable_without_a_hosted_page(changes, actions):
    """Stripe charges the card on file, or names its own page for the invoice."""
    assert portal.invoice(stripe_invoice("in_x", **changes), "stripe")["actions"] == actions


def test_an_invoice_link_that_is_not_https_is_never_offered_for_payment(jenny, db):
    # Import refuses such a link; a store filled before it checked them may still hold one.
    db.run(billing.upsert, "invoices", [stripe_invoice("in_x", status="open", hosted_invoice_url="http://pay.example")])
    invoice = jenny.get("/api/invoices/in_x").json()["invoice"]
    assert (invoice["hosted_invoice_url"], invoice["actions"]) == (None, [])


def taxes_of(jenny, db, tmp_path, **changes: Any) -> list[dict[str, Any]]:
    imported(db, tmp_path, stripe_invoice("in_x", status="paid", **changes))
    shown = jenny.get("/api/invoices/in_x").json()["invoice"]["total_taxes"]
    assert jenny.get("/api/invoices").json()["data"][0]["total_taxes"] == shown
    return shown


def test_tax_rows_of_the_current_shape_keep_their_name_rate_and_whether_prices_include_them(jenny, db, tmp_path):
    rows = [{"amount": 1900, "inclusive": False, "taxable_amount": 10000, "tax_rate": "txr_de", "display_name": "VAT",
             "percentage": 19.0},
            {"amount": 160, "inclusive": True, "taxable_amount": 1000, "tax_rate": None}]
    assert taxes_of(jenny, db, tmp_path, tax=2060, total_taxes=rows) == [
        rows[0], rows[1] | {"display_name": None, "percentage": None}]


def test_tax_rows_of_older_api_versions_are_read_from_total_tax_amounts(jenny, db, tmp_path):
    rate = {"id": "txr_fr", "object": "tax_rate", "display_name": "TVA", "percentage": 20.0, "inclusive": True,
            "jurisdiction": "FR", "metadata": {"crm": "internal"}}
    found = taxes_of(jenny, db, tmp_path, tax=2500, total_taxes=None, total_tax_amounts=[
        {"amount": 2000, "inclusive": True, "tax_rate": rate, "taxable_amount": 10000},
        {"amount": 500, "inclusive": False, "tax_rate": "txr_city"}])
    assert found == [
        {"amount": 2000, "inclusive": True, "taxable_amount": 10000, "tax_rate": "txr_fr", "display_name": "TVA",
         "percentage": 20.0},
        {"amount": 500, "inclusive": False, "taxable_amount": None, "tax_rate": "txr_city", "display_name": None, "percentage": None},
    ]


def test_an_invoice_with_only_its_tax_total_shows_one_unnamed_tax(jenny, db, tmp_path):
    assert taxes_of(jenny, db, tmp_path, tax=238, total_taxes=None) == [{"amount": 238, "inclusive": False}]


def test_an_invoice_without_tax_has_no_tax_rows(jenny, db, tmp_path):
    assert taxes_of(jenny, db, tmp_path) == []
    assert taxes_of(jenny, db, tmp_path, tax=0, total_taxes=[]) == []


def test_discounts_come_with_their_coupon_names_and_without_the_merchants_details(jenny, db, tmp_path):
    coupon = {"id": "SUMMER", "object": "coupon", "name": "Summer sale", "percent_off": 20, "amount_off": None,
              "currency": None, "duration": "once", "duration_in_months": None, "metadata": {"crm": "internal"},
              "times_redeemed": 12}
    discount = {"id": "di_1", "object": "discount", "coupon": coupon, "start": NOW, "end": None,
                "promotion_code": "promo_secret"}
    invoice = stripe_invoice("in_x", status="paid", discounts=[discount, "di_2"],
                             total_discount_amounts=[{"amount": 200, "discount": "di_1"}, {"amount": 50, "discount": "di_2"}])
    invoice["lines"]["data"][0] |= {"discount_amounts": [{"amount": 200, "discount": "di_1"}], "discounts": [discount]}
    imported(db, tmp_path, invoice)
    shown = jenny.get("/api/invoices/in_x").json()["invoice"]
    assert shown["total_discount_amounts"] == [{"amount": 200, "discount": "di_1"}, {"amount": 50, "discount": "di_2"}]
    assert shown["discounts"][1] == "di_2"
    assert shown["discounts"][0]["coupon"] == {"id": "SUMMER", "object": "coupon", "name": "Summer sale",
                                               "percent_off": 20, "amount_off": None, "currency": None,
                                               "duration": "once", "duration_in_months": None}
    line = shown["lines"]["data"][0]
    assert line["discount_amounts"] == [{"amount": 200, "discount": "di_1"}]
    assert line["discounts"][0]["coupon"]["name"] == "Summer sale"
    text = jenny.get("/api/invoices/in_x").text
    assert "internal" not in text and "promo_secret" not in text and "times_redeemed" not in text


def test_a_receipt_of_a_page_of_lines_says_more_follow(jenny, db, tmp_path):
    invoice = stripe_invoice("in_x", status="paid")
    invoice["lines"] |= {"has_more": True, "total_count": 12}
    imported(db, tmp_path, invoice)
    assert jenny.get("/api/invoices/in_x").json()["invoice"]["lines"]["has_more"] is True


def test_an_invoice_issued_without_customer_details_has_none_to_show(jenny, db, tmp_path):
    """Stripe's example invoice has its snapshot of the customer, all empty: the receipt shows no one,
    not today's details of the customer."""
    imported(db, tmp_path, stripe_invoice("in_x", status="paid"))
    customer = jenny.get("/api/invoices/in_x").json()["customer"]
    assert customer["name"] is None and customer["email"] is None and customer["tax_ids"] == []
    assert not any(customer["address"].values())


# Paying an invoice (POST /api/invoices/{id}/pay): through the engine; the local one sends the customer
# to the invoice's hosted page.

def pay(client: TestClient, invoice_id: str) -> Any:
    return client.post(f"/api/invoices/{invoice_id}/pay", json={})


def test_an_open_invoice_is_paid_on_its_hosted_page(client, outbox):
    sign_in(client, outbox, "alex@example.com")
    answer = pay(client, "in_alex_0002")
    assert answer.status_code == 200
    assert answer.json() == {"url": "https://invoice.example.com/i/in_alex_0002"}


def test_a_paid_invoice_is_not_payable(jenny):
    answer = pay(jenny, "in_jenny_0013")
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "invoice_not_payable"


def test_another_customers_invoice_is_not_found(jenny):
    answer = pay(jenny, "in_alex_0002")
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "not_found")


def test_an_open_invoice_without_a_page_to_pay_it_on_is_refused(client, outbox, db):
    db.run(lambda conn: billing.upsert(conn, "invoices", [billing.get(conn, "invoices", "in_alex_0002")
                                                          | {"hosted_invoice_url": None}]))
    sign_in(client, outbox, "alex@example.com")
    answer = pay(client, "in_alex_0002")
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "invoice_not_payable")


def test_the_openapi_document_lists_pay(client):
    entry = client.get("/api/openapi.json").json()["paths"]["/api/invoices/{id}/pay"]["post"]
    assert set(entry["responses"]) >= {"200", "401", "403", "404", "409"}
    assert set(entry["responses"]["200"]["content"]["application/json"]["schema"]["properties"]) == {"invoice", "url", "subscription"}


def test_pay_is_a_business_function(db, settings):
    assert act(db, settings, invoices.pay, "in_alex_0002", customer="cus_alex") == {
        "url": "https://invoice.example.com/i/in_alex_0002"}
    with pytest.raises(APIError) as refused:
        act(db, settings, invoices.pay, "in_jenny_0013")
    assert refused.value.code == "invoice_not_payable"


def paid_in_stripe(db, settings, subscription: dict[str, Any]) -> dict[str, Any]:
    """Alex pays his open invoice with his default card; Stripe then answers `subscription` when read again."""
    open_one = db.run(billing.get, "invoices", "in_alex_0002", write=False)
    paid = stripe_invoice("in_alex_0002", customer="cus_alex", status="paid", amount_paid=open_one["amount_due"],
                          amount_due=open_one["amount_due"], amount_remaining=0)
    customer = db.run(billing.get, "customers", "cus_alex", write=False)
    client, _ = scripted_client((200, customer), (200, paid), (200, subscription))
    answer: dict[str, Any] = act(db, settings, invoices.pay, "in_alex_0002", customer="cus_alex", stripe_client=client)
    return answer


def test_an_invoice_paid_at_once_in_stripe_is_stored_with_its_event_and_audit_entry(db, settings):
    past_due = db.run(billing.get, "subscriptions", "sub_alex_pro", write=False)
    answer = paid_in_stripe(db, settings, normalise(past_due | {"status": "active"})[0][1])
    assert answer["invoice"]["status"] == "paid"
    assert answer["subscription"]["status"] == "active"
    assert db.run(billing.get, "invoices", "in_alex_0002", write=False)["status"] == "paid"
    assert db.run(billing.get, "subscriptions", "sub_alex_pro", write=False)["status"] == "active"
    (kind, event, entry), (sub_kind, sub_event, _) = recorded(db)
    assert (kind, entry.customer, entry.object_id) == ("invoice.paid", "cus_alex", "in_alex_0002")
    assert (event["data"]["object"]["status"], event["data"]["object"]["customer"]) == ("paid", "cus_alex")
    assert (sub_kind, sub_event["data"]["previous_attributes"]["status"]) == ("customer.subscription.updated",
                                                                             "past_due")
    # Paid once: asked again, it has nothing left to pay, and Stripe is not asked.
    with pytest.raises(APIError) as refused:
        act(db, settings, invoices.pay, "in_alex_0002", customer="cus_alex", stripe_client=scripted_client()[0])
    assert refused.value.code == "invoice_not_payable"
    assert len(recorded(db)) == 2


def test_a_subscription_read_again_unchanged_after_a_payment_sends_no_event(db, settings):
    (_, stored), *_ = normalise(db.run(billing.get, "subscriptions", "sub_alex_pro", write=False))
    db.run(billing.upsert, "subscriptions", [stored])
    paid_in_stripe(db, settings, stored)
    assert [kind for kind, _, _ in recorded(db)] == ["invoice.paid"]


def test_an_invoice_sent_to_its_page_to_pay_records_nothing(db, settings):
    act(db, settings, invoices.pay, "in_alex_0002", customer="cus_alex")
    assert recorded(db) == []


def test_a_page_of_invoices_is_a_business_function(db, settings):
    found, more = act(db, settings, invoices.page, 5, "in_jenny_0009")
    assert [i["id"] for i in found] == JENNYS[5:10] and more
