"""Portal sessions: the merchant's app opens the portal for a customer (POST /v1/billing_portal/sessions), the
page spends the link's token once (POST /api/login/session), and the session it opens sees the portal
session's configuration. Stripe's official SDK, unmodified, is the merchant's client against a real server;
the rest runs in-process."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa
import stripe
from helpers import NOW, SECRET, sign_in, with_config
from starlette.testclient import TestClient

from backend import api_keys, portal_sessions, signin
from backend.ratelimit import Limit
from backend.sessions import FRAMED_COOKIE
from backend.store import tables

PATH = "/v1/billing_portal/sessions"
REDEEM = "/api/login/session"
CONFIG = """\
business: {name: Acme, support_email: billing@acme.example}
login_link: {url: 'https://billing.acme.example/'}
default_return_url: https://acme.example/account
locales: {default: en, available: [en, de, pt-BR]}
features:
  subscription_cancel: {retention: {enabled: true, percent_off: 20, duration_in_months: 3}}
  subscription_update:
    enabled: true
    default_allowed_updates: [price, quantity]
    products:
      - {product: prod_starter, prices: [price_starter_monthly]}
      - {product: prod_pro, prices: [price_pro_monthly, price_pro_yearly]}
      - {product: prod_team, prices: [price_team_monthly], adjustable_quantity: {enabled: true, minimum: 1, maximum: 50}}
configurations:
  partners:
    business: {name: Acme Partners}
    default_return_url: https://partners.acme.example/home
    features:
      subscription_cancel: {enabled: false}
      invoice_history: {enabled: false}
      payment_method_update: {enabled: false}
      subscription_update:
        products: [{product: prod_pro, prices: [price_pro_monthly]}]
"""


@pytest.fixture
def key(db) -> str:
    return db.run(api_keys.create, SECRET, "tests", NOW)[1]


@pytest.fixture
def client(settings, clock, db) -> Iterator[TestClient]:
    with TestClient(with_config(settings, CONFIG, clock), base_url="http://localhost") as test_client:
        yield test_client


def create(client: TestClient, key: str, **params: Any) -> Any:
    return client.post(PATH, json={"customer": "cus_jenny"} | params, headers={"Authorization": f"Bearer {key}"})


def token_of(url: str) -> str:
    fragment = urlsplit(url).fragment
    assert fragment.startswith("session=")
    return fragment.removeprefix("session=")


def opened(client: TestClient, key: str, **params: Any) -> dict[str, Any]:
    """A portal session created and its link opened: the redeem's answer."""
    made = create(client, key, **params)
    assert made.status_code == 200, made.text
    answer = client.post(REDEEM, json={"token": token_of(made.json()["url"])})
    assert answer.status_code == 200, answer.text
    return answer.json()


def refused(answer: Any, status: int, code: str, param: str | None = None) -> None:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code, error
    assert error.get("param") == param, error


# Creating


def test_a_session_answers_stripes_object_with_a_link_whose_token_is_only_in_the_fragment(client, key):
    answer = create(client, key)
    assert answer.status_code == 200, answer.text
    session = answer.json()
    assert session["id"].startswith("bps_") and session["object"] == "billing_portal.session"
    assert (session["configuration"], session["customer"], session["created"]) == ("bpc_default", "cus_jenny", NOW)
    assert session["flow"] is None and session["locale"] is None and session["on_behalf_of"] is None
    assert session["livemode"] is False
    assert session["return_url"] == "https://acme.example/account"  # the configuration's default
    parts = urlsplit(session["url"])
    assert (parts.scheme, parts.netloc, parts.path, parts.query) == ("https", "billing.acme.example", "/portal/", "")
    assert len(token_of(session["url"])) >= 43  # 256 bits


def test_the_link_leads_to_the_portal_in_the_sessions_language(client, key):
    # A locale chosen is also in the query: the root's pages would otherwise follow the browser's languages.
    for asked, path, query, said in (("de", "/de/portal/", "locale=de", "de"),
                                     ("pt-BR", "/pt-BR/portal/", "locale=pt-BR", "pt-BR"),
                                     ("pt_br", "/pt-BR/portal/", "locale=pt-BR", "pt-BR"), ("auto", "/portal/", "", None),
                                     ("en", "/portal/", "locale=en", "en"), ("fr", "/portal/", "", "fr")):
        session = create(client, key, locale=asked).json()
        url = urlsplit(session["url"])
        assert (url.path, url.query, session["locale"]) == (path, query, said), asked


@pytest.mark.parametrize("params, status, code, param", [
    ({"customer": "cus_nobody"}, 400, "resource_missing", "customer"),
    ({"locale": "xx-YY"}, 400, "parameter_invalid", "locale"),
    ({"configuration": "bpc_nobody"}, 400, "resource_missing", "configuration"),
    ({"configuration": "partners"}, 400, "resource_missing", "configuration"),
    ({"return_url": "javascript:alert(1)"}, 400, "parameter_invalid", "return_url"),
    ({"return_url": "/relative"}, 400, "parameter_invalid", "return_url"),
    ({"on_behalf_of": "acct_1"}, 400, "parameter_invalid", "on_behalf_of"),
    ({"nonsense": "1"}, 400, "parameter_unknown", "nonsense"),
])
def test_wrong_parameters_are_refused_in_stripes_shape_naming_them(client, key, params, status, code, param):
    answer = create(client, key, **params)
    refused(answer, status, code, param)
    assert answer.json()["error"]["type"] == "invalid_request_error"


def test_a_session_needs_the_merchants_key(client, key, portal):
    refused(client.post(PATH, json={"customer": "cus_jenny"}), 401, "api_key_required")
    signed_in = portal()  # a customer's cookie is no key
    refused(signed_in.post(PATH, json={"customer": "cus_jenny"}), 401, "api_key_required")


# Opening


def test_the_link_opens_a_session_once(client, key):
    session = create(client, key, return_url="https://acme.example/back").json()
    token = token_of(session["url"])
    answer = client.post(REDEEM, json={"token": token})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"flow": None, "return_url": "https://acme.example/back", "locale": None}
    portal = client.get("/api/portal")
    assert portal.status_code == 200 and portal.json()["customer"]["id"] == "cus_jenny"
    assert portal.json()["return_url"] == "https://acme.example/back"
    fresh = TestClient(client.app, base_url="http://localhost")
    refused(fresh.post(REDEEM, json={"token": token}), 401, "portal_link_invalid")
    refused(fresh.get("/api/portal"), 401, "not_signed_in")


def test_a_link_opened_in_a_frame_sets_the_partitioned_cookie(client, key):
    token = token_of(create(client, key).json()["url"])
    answer = client.post(REDEEM, json={"token": token, "framed": True})
    assert answer.status_code == 200, answer.text
    (framed,) = [h for h in answer.headers.get_list("set-cookie") if h.startswith(FRAMED_COOKIE + "=")]
    assert "; SameSite=None; Secure; Partitioned" in framed


def test_two_redeems_racing_open_one_session(client, key):
    token = token_of(create(client, key).json()["url"])
    barrier = threading.Barrier(2)
    answers: list[int] = []

    def redeem() -> None:
        # Outside `with`: the app's lifespan (whose end closes its store) stays the fixture's.
        racer = TestClient(client.app, base_url="http://localhost")
        barrier.wait()
        answers.append(racer.post(REDEEM, json={"token": token}).status_code)

    threads = [threading.Thread(target=redeem) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200, 401]


def test_the_link_expires_after_five_minutes(client, key, clock):
    first, second = (token_of(create(client, key).json()["url"]) for _ in range(2))
    clock.advance(portal_sessions.LIFETIME - 1)
    assert client.post(REDEEM, json={"token": first}).status_code == 200
    clock.advance(1)
    refused(client.post(REDEEM, json={"token": second}), 401, "portal_link_invalid")


@pytest.mark.parametrize("change", [
    lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
    lambda token: token + "x",
    lambda token: token[:20],
    lambda token: "",
])
def test_a_tampered_token_is_refused(client, key, change):
    token = token_of(create(client, key).json()["url"])
    refused(client.post(REDEEM, json={"token": change(token)}), 401, "portal_link_invalid")
    assert client.post(REDEEM, json={"token": token}).status_code == 200  # the real one still opens, once


def test_failed_redeems_count_towards_the_sign_in_failure_limit(client, key, monkeypatch):
    monkeypatch.setattr(signin, "FAILURES_PER_ADDRESS", (Limit(3, 3600),))
    assert [client.post(REDEEM, json={"token": f"guess{n}"}).status_code for n in range(3)] == [401] * 3
    token = token_of(create(client, key).json()["url"])
    refused(client.post(REDEEM, json={"token": token}), 429, "rate_limited")


def test_the_token_never_reaches_the_servers_log(client, key, caplog):
    caplog.set_level(logging.DEBUG)
    token = token_of(create(client, key).json()["url"])
    assert client.post(REDEEM, json={"token": token}).status_code == 200
    assert client.post(REDEEM, json={"token": token}).status_code == 401
    assert caplog.records and token not in caplog.text


# Flows, checked at creation


def flow_of(client: TestClient, key: str, **flow_data: Any) -> Any:
    return create(client, key, flow_data=flow_data)


def test_each_flow_is_answered_in_stripes_shape(client, key):
    cases = {
        "payment_method_update": {},
        "subscription_cancel": {"subscription_cancel": {"subscription": "sub_jenny_pro"}},
        "subscription_update": {"subscription_update": {"subscription": "sub_jenny_pro"}},
        "subscription_update_confirm": {"subscription_update_confirm": {
            "subscription": "sub_jenny_pro", "items": [{"id": "si_jenny_pro", "price": "price_pro_yearly"}]}},
    }
    for kind, details in cases.items():
        answer = flow_of(client, key, type=kind, **details)
        assert answer.status_code == 200, (kind, answer.text)
        flow = answer.json()["flow"]
        assert flow["type"] == kind
        assert flow["after_completion"] == {"type": "portal_homepage", "redirect": None, "hosted_confirmation": None}
        for other in ("subscription_cancel", "subscription_update", "subscription_update_confirm"):
            assert (flow[other] is None) == (other != kind), (kind, other)
    confirm = flow_of(client, key, **cases["subscription_update_confirm"], type="subscription_update_confirm").json()
    assert confirm["flow"]["subscription_update_confirm"] == {
        "subscription": "sub_jenny_pro", "items": [{"id": "si_jenny_pro", "price": "price_pro_yearly", "quantity": None}],
        "discounts": []}
    cancel = flow_of(client, key, type="subscription_cancel", subscription_cancel={
        "subscription": "sub_jenny_pro", "retention": {"type": "coupon_offer", "coupon_offer": {"coupon": "STAY20"}}})
    assert cancel.json()["flow"]["subscription_cancel"] == {
        "subscription": "sub_jenny_pro", "retention": {"type": "coupon_offer", "coupon_offer": {"coupon": "STAY20"}}}


def test_each_after_completion_is_answered_and_handed_to_the_page(client, key):
    redirect = {"type": "redirect", "redirect": {"return_url": "https://acme.example/thanks"}}
    hosted = {"type": "hosted_confirmation", "hosted_confirmation": {"custom_message": "See you soon."}}
    expected = {
        "redirect": {"type": "redirect", "redirect": {"return_url": "https://acme.example/thanks"},
                     "hosted_confirmation": None},
        "hosted_confirmation": {"type": "hosted_confirmation", "redirect": None,
                                "hosted_confirmation": {"custom_message": "See you soon."}},
    }
    for given in (redirect, hosted):
        made = flow_of(client, key, type="payment_method_update", after_completion=given)
        assert made.json()["flow"]["after_completion"] == expected[given["type"]]
        answer = client.post(REDEEM, json={"token": token_of(made.json()["url"])}).json()
        assert answer["flow"] == made.json()["flow"]


@pytest.mark.parametrize("flow_data, code, param", [
    ({"type": "subscription_cancel"}, "parameter_missing", "flow_data[subscription_cancel]"),
    ({"type": "subscription_cancel", "subscription_cancel": {"subscription": "sub_sam_team"}},
     "resource_missing", "flow_data[subscription_cancel][subscription]"),  # another customer's
    ({"type": "subscription_cancel", "subscription_cancel": {"subscription": "sub_nobody"}},
     "resource_missing", "flow_data[subscription_cancel][subscription]"),
    ({"type": "subscription_update", "subscription_update": {"subscription": "sub_jenny_old"}},
     "resource_missing", "flow_data[subscription_update][subscription]"),  # same address, another customer
    ({"type": "subscription_update_confirm", "subscription_update_confirm": {
        "subscription": "sub_jenny_pro", "items": [{"id": "si_jenny_pro", "price": "price_gone"}]}},
     "parameter_invalid", "flow_data[subscription_update_confirm][items][0][price]"),  # not on offer
    ({"type": "subscription_update_confirm", "subscription_update_confirm": {
        "subscription": "sub_jenny_pro", "items": [{"id": "si_sam_team", "price": "price_pro_yearly"}]}},
     "resource_missing", "flow_data[subscription_update_confirm][items][0][id]"),
    ({"type": "subscription_update_confirm", "subscription_update_confirm": {
        "subscription": "sub_jenny_pro", "items": [{"id": "si_jenny_pro", "price": "price_pro_yearly"}],
        "discounts": [{"coupon": "X"}]}},
     "parameter_invalid", "flow_data[subscription_update_confirm][discounts]"),
    ({"type": "subscription_update_confirm", "subscription_update_confirm": {
        "subscription": "sub_jenny_pro", "items": [{"id": "si_jenny_pro", "quantity": 3}]}},
     "parameter_invalid", "flow_data[subscription_update_confirm][items][0][quantity]"),  # Pro's is fixed
    ({"type": "subscription_update", "subscription_cancel": {"subscription": "sub_jenny_pro"},
      "subscription_update": {"subscription": "sub_jenny_pro"}}, "parameter_invalid", "flow_data[subscription_cancel]"),
    ({"type": "payment_method_update", "after_completion": {"type": "redirect"}},
     "parameter_missing", "flow_data[after_completion][redirect]"),
    ({"type": "payment_method_update", "after_completion": {"type": "redirect", "redirect": {"return_url": "ftp://x"}}},
     "parameter_invalid", "flow_data[after_completion][redirect][return_url]"),
    ({"type": "payment_method_update", "after_completion": {"type": "hosted_confirmation", "hosted_confirmation": {
        "custom_message": "x" * 501}}}, "parameter_invalid", "flow_data[after_completion][hosted_confirmation][custom_message]"),
    ({"type": "somewhere"}, "parameter_invalid", "flow_data[type]"),
])
def test_a_flow_the_portal_could_not_take_is_refused_at_creation(client, key, flow_data, code, param):
    refused(create(client, key, flow_data=flow_data), 400, code, param)


def test_a_flow_on_a_subscription_that_cannot_take_it_is_refused(client, key):
    for customer, kind, sub in (("cus_kim", "subscription_cancel", "sub_kim_pro"),  # already set to cancel
                                ("cus_kim", "subscription_update", "sub_kim_pro"),
                                ("cus_alex", "subscription_update", "sub_alex_pro"),  # past due
                                ("cus_jenny_old", "subscription_cancel", "sub_jenny_old")):  # ended
        answer = create(client, key, customer=customer, flow_data={"type": kind, kind: {"subscription": sub}})
        refused(answer, 400, "parameter_invalid", f"flow_data[{kind}][subscription]")


def test_a_flow_the_configuration_switches_off_is_refused(client, key):
    partners = {"configuration": "bpc_partners"}
    refused(create(client, key, **partners, flow_data={"type": "subscription_cancel", "subscription_cancel": {
        "subscription": "sub_jenny_pro"}}), 400, "parameter_invalid", "flow_data[subscription_cancel][subscription]")
    refused(create(client, key, **partners, flow_data={"type": "payment_method_update"}),
            400, "parameter_invalid", "flow_data[type]")
    refused(create(client, key, **partners, flow_data={"type": "subscription_update_confirm",
                                                       "subscription_update_confirm": {
        "subscription": "sub_jenny_pro", "items": [{"id": "si_jenny_pro", "price": "price_pro_yearly"}]}}),
            400, "parameter_invalid", "flow_data[subscription_update_confirm][items][0][price]")
    # The same flows under the top level's settings are accepted.
    assert create(client, key, flow_data={"type": "payment_method_update"}).status_code == 200


# The session a link opens


def test_a_session_sees_its_configurations_settings_and_the_server_holds_to_them(client, key):
    answer = opened(client, key, configuration="bpc_partners")
    assert answer["return_url"] == "https://partners.acme.example/home"
    portal = client.get("/api/portal").json()
    assert portal["business"]["name"] == "Acme Partners"
    assert portal["return_url"] == "https://partners.acme.example/home"
    assert portal["features"]["subscription_cancel"]["enabled"] is False
    assert portal["features"]["invoice_history"]["enabled"] is False
    assert "cancel" not in portal["subscriptions"][0]["actions"]
    assert "accounts" not in portal  # no email was proven: no switching to the address's other customers
    refused(client.post("/api/subscriptions/sub_jenny_pro/cancel", json={}), 403, "feature_disabled")
    refused(client.get("/api/invoices"), 403, "feature_disabled")
    refused(client.get("/api/invoices/in_jenny_0013"), 403, "feature_disabled")
    refused(client.post("/api/payment_methods/pm_jenny_mc/default", json={}), 403, "feature_disabled")
    plans = client.get("/api/plans").json()["plans"]
    offered = [price["id"] for plan in plans for price in plan["prices"]]
    assert offered == ["price_pro_monthly"]


def test_a_session_by_the_top_level_keeps_its_settings(client, key):
    opened(client, key)
    portal = client.get("/api/portal").json()
    assert portal["business"]["name"] == "Acme" and portal["return_url"] == "https://acme.example/account"
    assert portal["features"]["subscription_cancel"]["enabled"] is True
    receipt = client.get("/api/invoices/in_jenny_0013")
    assert receipt.status_code == 200 and receipt.json()["return_url"] == "https://acme.example/account"


def test_a_portal_sessions_customer_cannot_reach_another_customers_objects(client, key):
    opened(client, key, customer="cus_jenny")
    for path in ("/api/invoices/in_kim_0001", "/api/invoices/in_jold_0001"):
        refused(client.get(path), 404, "not_found")
    for path in ("/api/subscriptions/sub_sam_team/cancel", "/api/subscriptions/sub_jenny_old/cancel",
                 "/api/payment_methods/pm_sam_mc/default"):
        assert client.post(path, json={}).status_code == 404, path
    refused(client.post("/api/accounts/cus_jenny_old/switch", json={}), 404, "not_found")
    assert client.get("/api/portal").json()["customer"]["id"] == "cus_jenny"


def test_a_link_whose_configuration_is_gone_opens_nothing(settings, clock, db, client, key):
    token = token_of(create(client, key, configuration="bpc_partners").json()["url"])
    without = CONFIG.split("configurations:")[0]
    with TestClient(with_config(settings, without, clock), base_url="http://localhost") as other:
        refused(other.post(REDEEM, json={"token": token}), 401, "portal_link_invalid")


def test_a_session_whose_configuration_is_gone_is_signed_out(settings, clock, db, client, key):
    opened(client, key, configuration="bpc_partners")
    cookies = dict(client.cookies)
    without = CONFIG.split("configurations:")[0]
    with TestClient(with_config(settings, without, clock), base_url="http://localhost", cookies=cookies) as other:
        refused(other.get("/api/portal"), 401, "not_signed_in")
        refused(other.get("/api/plans"), 401, "not_signed_in")


# Stripe's SDK, unmodified, against a real server


@pytest.fixture
def porch(live_server_with) -> str:
    return live_server_with(CONFIG).url


@pytest.fixture
def sdk(porch, key) -> stripe.StripeClient:
    return stripe.StripeClient(key, base_addresses={"api": porch}, max_network_retries=0)


def test_stripes_sdk_creates_sessions_with_every_flow(sdk, porch):
    flows: list[dict[str, Any]] = [
        {"type": "payment_method_update", "after_completion": {"type": "hosted_confirmation",
                                                               "hosted_confirmation": {"custom_message": "Done."}}},
        {"type": "subscription_cancel", "subscription_cancel": {"subscription": "sub_jenny_pro", "retention": {
            "type": "coupon_offer", "coupon_offer": {"coupon": "STAY20"}}},
         "after_completion": {"type": "redirect", "redirect": {"return_url": "https://acme.example/bye"}}},
        {"type": "subscription_update", "subscription_update": {"subscription": "sub_jenny_pro"}},
        {"type": "subscription_update_confirm", "subscription_update_confirm": {
            "subscription": "sub_jenny_pro", "items": [{"id": "si_jenny_pro", "price": "price_pro_yearly"}]},
         "after_completion": {"type": "portal_homepage"}},
    ]
    for flow_data in flows:
        session = sdk.v1.billing_portal.sessions.create(params={
            "customer": "cus_jenny", "return_url": "https://acme.example/account", "locale": "de",
            "flow_data": flow_data})  # type: ignore[typeddict-item]
        assert isinstance(session, stripe.billing_portal.Session)
        assert session.id.startswith("bps_") and session.customer == "cus_jenny" and session.locale == "de"
        assert session.url.startswith("https://billing.acme.example/de/portal/?locale=de#session=")
        assert session.flow is not None and session.flow.type == flow_data["type"]
        assert session.flow.after_completion.type == flow_data.get("after_completion", {}).get("type", "portal_homepage")
    assert session.flow.subscription_update_confirm is not None
    assert session.flow.subscription_update_confirm.items[0].price == "price_pro_yearly"


def test_stripes_sdk_raises_its_own_errors_for_refused_sessions(sdk):
    with pytest.raises(stripe.InvalidRequestError) as missing:
        sdk.v1.billing_portal.sessions.create(params={"customer": "cus_nobody"})
    assert (missing.value.code, missing.value.param) == ("resource_missing", "customer")
    with pytest.raises(stripe.InvalidRequestError) as flow:
        sdk.v1.billing_portal.sessions.create(params={"customer": "cus_jenny", "flow_data": {
            "type": "subscription_cancel", "subscription_cancel": {"subscription": "sub_sam_team"}}})
    assert flow.value.param == "flow_data[subscription_cancel][subscription]"


def test_stripes_sdk_lists_and_retrieves_configurations(sdk):
    listed = sdk.v1.billing_portal.configurations.list()
    assert [c.id for c in listed.data] == ["bpc_default", "bpc_partners"] and listed.has_more is False
    assert all(isinstance(c, stripe.billing_portal.Configuration) for c in listed.data)
    assert [c.id for c in sdk.v1.billing_portal.configurations.list(params={"limit": 1}).auto_paging_iter()] == [
        "bpc_default", "bpc_partners"]
    assert [c.id for c in sdk.v1.billing_portal.configurations.list(params={"is_default": False}).data] == ["bpc_partners"]
    partners = sdk.v1.billing_portal.configurations.retrieve("bpc_partners")
    assert partners.name == "partners" and partners.features.subscription_cancel.enabled is False
    assert partners.default_return_url == "https://partners.acme.example/home"
    with pytest.raises(stripe.InvalidRequestError) as missing:
        sdk.v1.billing_portal.configurations.retrieve("bpc_nobody")
    assert missing.value.http_status == 404 and missing.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError) as wrong:
        sdk.v1.billing_portal.configurations.list(params={"limit": 0})
    assert wrong.value.param == "limit"


def test_a_session_made_by_the_sdk_opens_in_the_portal_once(sdk, porch):
    session = sdk.v1.billing_portal.sessions.create(params={"customer": "cus_jenny", "configuration": "bpc_partners"})
    token = token_of(session.url)
    with httpx.Client(base_url=porch) as browser:
        answer = browser.post(REDEEM, json={"token": token})
        assert answer.status_code == 200 and answer.json()["return_url"] == "https://partners.acme.example/home"
        assert browser.get("/api/portal").json()["business"]["name"] == "Acme Partners"
        assert browser.post(REDEEM, json={"token": token}).status_code == 401


def test_a_link_opened_where_another_session_was_ends_that_session(client, key, outbox):
    sign_in(client, outbox, "sam@example.com")
    before = client.cookies.get("porch_session")
    opened(client, key, customer="cus_jenny")
    assert client.get("/api/portal").json()["customer"]["id"] == "cus_jenny"
    stale = TestClient(client.app, base_url="http://localhost", cookies={"porch_session": before})
    refused(stale.get("/api/portal"), 401, "not_signed_in")


def test_only_an_hmac_of_the_token_is_stored_and_spent_links_are_pruned(client, key, db, clock):
    table = tables.portal_sessions
    token = token_of(create(client, key).json()["url"])
    stored = db.run(lambda conn: [tuple(row) for row in conn.execute(sa.select(table))], write=False)
    assert len(stored) == 1 and not any(token in str(value) for value in stored[0])
    db.run(portal_sessions.prune, NOW + portal_sessions.LIFETIME - 1)
    assert db.run(lambda conn: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar(), write=False) == 1
    db.run(portal_sessions.prune, NOW + portal_sessions.LIFETIME)
    assert db.run(lambda conn: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar(), write=False) == 0


def test_a_redeem_from_another_site_is_refused_by_the_apis_browser_guard(client, key):
    token = token_of(create(client, key).json()["url"])
    refused(client.post(REDEEM, json={"token": token}, headers={"Origin": "https://evil.example"}), 403, "cross_site")
    assert client.post(REDEEM, json={"token": token}).status_code == 200  # the refused try spent nothing


def test_links_open_the_portal_where_the_sign_in_page_is_switched_off(settings, clock, db, key):
    closed = CONFIG.replace("login_link: {url: 'https://billing.acme.example/'}",
                            "login_link: {enabled: false, url: 'https://billing.acme.example/'}")
    with TestClient(with_config(settings, closed, clock), base_url="http://localhost") as client:
        refused(client.post("/api/login/code", json={"email": "jenny@example.com"}), 404, "login_disabled")
        assert opened(client, key)["return_url"] == "https://acme.example/account"
        assert client.get("/api/portal").json()["customer"]["id"] == "cus_jenny"


def test_without_the_portals_address_no_link_can_be_made(settings, clock, db, key):
    unplaced = CONFIG.replace("login_link: {url: 'https://billing.acme.example/'}\n", "")
    with TestClient(with_config(settings, unplaced, clock), base_url="http://localhost") as client:
        refused(create(client, key), 503, "not_configured")
