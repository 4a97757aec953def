"""Portal sessions in Debian's Chromium: the merchant's app creates a session over HTTP with its key,
the customer opens its one-time link, and the flow it names opens straight away, ends where its
after_completion says, and leaves no token in the address bar. A used, expired or altered link says
so in the customer's language and offers the sign-in by email. The flow views pass axe-core, in a
left-to-right and a right-to-left language."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from helpers import NOW, ROOT, SECRET
from routed import ACTIVE, PLANS, SELF_SERVICE, Session, refusal

from backend import api_keys, portal_sessions
from backend.i18n import translations

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

AXE = Axe()
RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}}
TOKEN = "tok_" + "a" * 43
SAMPLE = (ROOT / "config.yaml").read_text(encoding="utf-8")
# The sample config with the local engine's add-card page switched on.
ADDING = (SAMPLE.replace("    # add_url: https://acme.example/billing/add-card", "    add_url: https://pay.acme.example/add-card")
          .replace("# signing_secret_env:", "signing_secret_env:"))
JENNY_END = "Oct 3, 2026"  # the end of Jenny's current period in the demo data
HOME = "https://acme.example/account"  # the sample config's default_return_url


def flow(kind: str, after: dict[str, Any] | None = None, **detail: Any) -> dict[str, Any]:
    """A session's flow in Stripe's shape."""
    shape: dict[str, Any] = {"type": kind, "after_completion": after or {"type": "portal_homepage", "redirect": None,
                                                                       "hosted_confirmation": None}}
    for each in ("subscription_cancel", "subscription_update", "subscription_update_confirm"):
        shape[each] = detail if each == kind else None
    return shape


def violations(page: Any, state: str) -> list[str]:
    found = AXE.run(page, options=RULES).response["violations"]
    return [f"{state}: {v['id']} at {', '.join(n['target'][0] for n in v['nodes'])}: {v['help']}" for v in found]


def opened(session: Callable[..., Session], redeemed: tuple[int, Any], path: str = "/portal/",
           scheme: str = "light", **replies: Any) -> Any:
    s = session({"POST /api/login/session": [(*redeemed, {})],
                 "GET /api/portal": [(200, {**SELF_SERVICE, "return_url": None}, {})], **replies}, color_scheme=scheme)
    page = s.open(f"{path}#session={TOKEN}")
    page.session = s
    return page


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_cancel_flow_opens_its_dialog_alone_and_shows_the_merchants_confirmation_as_text(
        session: Callable[..., Session], scheme: str) -> None:
    after = {"type": "hosted_confirmation", "redirect": None,
             "hosted_confirmation": {"custom_message": "<b>Thanks</b> for staying with us"}}
    done = {**ACTIVE, "status": "canceled", "canceled_at": 1767225600, "actions": []}
    page = opened(session, (200, {"flow": flow("subscription_cancel", after, subscription=ACTIVE["id"], retention=None),
                                  "return_url": None, "locale": None}), scheme=scheme,
                  **{"POST /api/subscriptions/sub_active_usd/cancel": [(200, {"subscription": done}, {})]})
    dialog = page.locator("#cancel-dialog")
    expect(dialog).to_be_visible()
    assert page.evaluate("location.hash") == "" and "session" not in page.url
    assert page.session.sent("POST /api/login/session")[0]["body"] == json.dumps({"token": TOKEN, "framed": False}, separators=(",", ":"))
    expect(page.locator("#content")).to_be_hidden()
    expect(page.locator("#cancel-confirm-title")).to_be_focused()
    found = violations(page, "cancel flow")
    dialog.get_by_role("button", name="Cancel subscription").click()
    expect(page.locator("#flow-done-title")).to_have_text("Your subscription has ended.")
    expect(page.locator("#flow-done-title")).to_be_focused()
    expect(page.locator("#flow-done-text")).to_have_text("<b>Thanks</b> for staying with us")
    assert page.evaluate("sessionStorage.length") == 0
    found += violations(page, "hosted confirmation")
    assert found == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_used_link_says_so_and_offers_the_sign_in_by_email(session: Callable[..., Session], scheme: str) -> None:
    page = opened(session, (401, refusal("portal_link_invalid", "The link has expired or was already used.")), scheme=scheme)
    expect(page.locator("#failure-text")).to_have_text(
        "This link to your billing portal has expired or was already used. Ask for a new link, or sign in with your email.")
    expect(page.locator("#failure")).to_be_visible()
    expect(page.get_by_role("link", name="Sign in with your email")).to_have_attribute("href", "/login/")
    expect(page.locator("#retry")).to_be_hidden()
    assert page.evaluate("location.hash") == ""
    assert page.session.sent("GET /api/portal") == []
    assert violations(page, "link refused") == []


def test_closing_a_flow_with_nowhere_to_return_shows_the_portal(session: Callable[..., Session]) -> None:
    page = opened(session, (200, {"flow": flow("subscription_update", subscription=ACTIVE["id"]), "return_url": None,
                                  "locale": None}), **{"GET /api/plans": [(200, {"plans": []}, {})]})
    expect(page.locator("#plan-dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#content")).to_be_visible()
    expect(page.locator("#title")).to_be_focused()
    expect(page.locator("#back")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0


def test_only_a_portal_link_loads_the_flows_script_and_only_editing_loads_the_editors_file(
        session: Callable[..., Session]) -> None:
    s = session({"GET /api/portal": [(200, SELF_SERVICE, {})]})
    page = s.open("/portal/")
    expect(page.locator("#content")).to_be_visible()
    assert not [path for path in s.paths if "/flows." in path or "/details." in path]
    page.get_by_role("button", name="Edit details").click()
    expect(page.locator("#details-dialog")).to_be_visible()
    # Its file names the countries: Germany is offered by name once it has come.
    expect(page.locator("#address-country option[value=DE]")).to_have_text("Germany")
    assert len([path for path in s.paths if "/details." in path]) == 1
    assert not [path for path in s.paths if "/flows." in path]

    linked = opened(session, (200, {"flow": None, "return_url": None, "locale": None}))
    expect(linked.locator("#content")).to_be_visible()
    assert [path for path in linked.session.paths if "/flows." in path]


def test_the_dialogs_load_only_when_one_is_about_to_open_and_open_from_the_keyboard(session: Callable[..., Session]) -> None:
    s = session({"GET /api/portal": [(200, SELF_SERVICE, {})], "GET /api/plans": [(200, PLANS, {})]})
    page = s.open("/portal/")
    expect(page.locator("#content")).to_be_visible()
    assert not [path for path in s.paths if "/dialogs." in path] and page.locator("dialog").count() == 0
    # Focus on a button of the sections fetches their markup and their code, once.
    page.get_by_role("button", name="Change plan, Plan usd").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Change plan")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("radio", name=re.compile("Monthly"))).to_be_focused()  # the current plan, once listed
    assert sorted(path.rpartition(".")[2] for path in s.paths if "/dialogs." in path) == ["js", "json"]
    page.keyboard.press("Escape")
    expect(page.get_by_role("button", name="Change plan, Plan usd")).to_be_focused()
    page.get_by_role("button", name="Cancel subscription, Plan usd").click()
    expect(page.get_by_role("dialog", name="Cancel subscription")).to_be_visible()
    assert len([path for path in s.paths if "/dialogs." in path]) == 2


# Against the real backend: the merchant's app creates the session over HTTP with its key.


@pytest.fixture(name="settings")
def keyed_settings(settings: Any) -> Any:
    """The add-card signing key the sample config names, for the flow that adds a payment method."""
    return replace(settings, named_secrets={"PORCH_ADD_CARD_SECRET": "k" * 32})


@pytest.fixture
def tab(browser: Any) -> Iterator[Any]:
    """A tab in UTC and US English; the merchant's site answers every visit with a plain page."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="UTC", locale="en-US")
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: page.problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.route("https://acme.example/**", lambda route: route.fulfill(status=200, content_type="text/html",
                                                                      body="<title>Acme</title>"))
    yield page
    assert page.problems == [], "no script errors and no CSP violations"
    context.close()


class Merchant:
    """The merchant's app: creates portal sessions with its secret key, as Stripe's SDKs send it."""

    def __init__(self, server: Any, key: str):
        self.server, self.key = server, key

    def link(self, **params: Any) -> str:
        """A new session's url, on the test server in place of login_link.url's host."""
        answer = httpx.post(f"{self.server.url}/v1/billing_portal/sessions", json={"customer": "cus_jenny", **params},
                            headers={"Authorization": f"Bearer {self.key}"})
        assert answer.status_code == 200, answer.text
        url = urlsplit(answer.json()["url"])
        assert url.fragment.startswith("session=")
        return f"{self.server.url}{url.path}{'?' + url.query if url.query else ''}#{url.fragment}"


@pytest.fixture
def merchant(live_server_with: Any, db: Any) -> Callable[..., Merchant]:
    key = db.run(api_keys.create, SECRET, "tests", NOW)[1]
    return lambda config=None: Merchant(live_server_with(config), key)


def after(kind: str, **detail: Any) -> dict[str, Any]:
    return {"type": kind, **({kind: detail} if detail else {})}


def arrive(tab: Any, url: str) -> Any:
    """Open a session's link; the token is gone from the address bar once the page is there."""
    tab.goto(url)
    expect(tab.locator("#status")).to_be_empty()
    assert "#" not in tab.url and "session=" not in tab.url
    return tab


def test_a_cancel_flow_asks_why_offers_to_stay_and_confirms_with_the_merchants_message(tab, merchant) -> None:
    link = merchant().link(flow_data={"type": "subscription_cancel", "subscription_cancel": {
        "subscription": "sub_jenny_pro"}, "after_completion": after("hosted_confirmation", custom_message=(
            "We're sorry to see you go. <b>Your data stays with us for 30 days.</b>"))})
    page = arrive(tab, link)
    dialog = page.get_by_role("dialog", name="Why are you leaving?")
    expect(dialog).to_be_visible()
    expect(page.locator("#cancel-reason-title")).to_be_focused()
    expect(page.locator("#content")).to_be_hidden()
    found = violations(page, "cancel flow")
    dialog.get_by_role("radio", name="I don't use it enough").check()
    dialog.get_by_role("button", name="Continue").click()
    page.get_by_role("dialog", name="Before you go").get_by_role("button", name="No thanks, continue").click()
    page.get_by_role("dialog", name="Cancel subscription").get_by_role("button", name="Cancel subscription").click()
    title = page.locator("#flow-done-title")
    expect(title).to_have_text(f"Your subscription will end on {JENNY_END}.")
    expect(title).to_be_focused()
    expect(page.locator("#flow-done-text")).to_have_text(
        "We're sorry to see you go. <b>Your data stays with us for 30 days.</b>")
    expect(page.locator("#flow-done").get_by_role("link", name="Back to Acme")).to_have_attribute("href", HOME)
    expect(page.locator("#content")).to_be_hidden()
    found += violations(page, "hosted confirmation")
    assert found == []
    page.reload()  # the flow is over: the portal as usual
    expect(page.locator("#content")).to_be_visible()
    expect(page.locator("#subscriptions")).to_contain_text(f"Ends on {JENNY_END}")


def test_an_update_flow_changes_the_plan_and_redirects_to_the_merchant(tab, merchant) -> None:
    link = merchant().link(return_url="https://acme.example/app", flow_data={
        "type": "subscription_update", "subscription_update": {"subscription": "sub_jenny_pro"},
        "after_completion": after("redirect", return_url="https://acme.example/app/changed?plan=1")})
    page = arrive(tab, link)
    dialog = page.get_by_role("dialog", name="Change plan")
    expect(dialog.get_by_role("radio", name=re.compile("Pro monthly"))).to_be_focused()
    expect(page.locator("#back a")).to_have_attribute("href", "https://acme.example/app")
    dialog.get_by_role("radio", name=re.compile("Pro yearly")).check()
    expect(dialog.locator("#plan-preview")).to_contain_text("Unused time on Pro monthly")
    dialog.get_by_role("button", name="Confirm").click()
    page.wait_for_url("https://acme.example/app/changed?plan=1")


def test_a_confirm_flow_shows_the_change_and_its_price_then_the_portal(tab, merchant) -> None:
    link = merchant().link(flow_data={"type": "subscription_update_confirm", "subscription_update_confirm": {
        "subscription": "sub_jenny_pro", "items": [{"id": "si_jenny_pro", "price": "price_pro_yearly"}]}})
    page = arrive(tab, link)
    dialog = page.get_by_role("dialog", name="Change plan")
    expect(dialog.get_by_role("radio", name=re.compile("Pro yearly"))).to_be_checked()
    expect(dialog.get_by_role("button", name="Confirm")).to_be_focused()
    expect(dialog.locator("#plan-preview")).to_contain_text("Unused time on Pro monthly")
    assert violations(page, "confirm flow") == []
    dialog.get_by_role("button", name="Confirm").click()
    expect(page.locator("#status")).to_have_text("Your plan now renews as Pro yearly.")
    expect(page.locator("#content")).to_be_visible()
    expect(page.locator("#title")).to_be_focused()
    expect(page.locator("#subscriptions")).to_contain_text("$290.00 per year")


def test_closing_the_flows_dialog_goes_back_to_the_merchant(tab, merchant) -> None:
    link = merchant().link(return_url="https://acme.example/app?from=portal", flow_data={
        "type": "subscription_cancel", "subscription_cancel": {"subscription": "sub_jenny_pro"}})
    page = arrive(tab, link)
    expect(page.get_by_role("dialog", name="Why are you leaving?")).to_be_visible()
    page.reload()  # the tab keeps the flow: it opens again, the spent token long gone
    expect(page.get_by_role("dialog", name="Why are you leaving?")).to_be_visible()
    expect(page.locator("#cancel-reason-title")).to_be_focused()
    page.keyboard.press("Escape")
    page.wait_for_url("https://acme.example/app?from=portal")


def test_a_payment_method_flow_goes_to_the_add_page_and_comes_back_done(tab, merchant) -> None:
    shop = merchant(ADDING)
    link = shop.link(flow_data={"type": "payment_method_update", "after_completion": after(
        "hosted_confirmation", custom_message="Thanks, your card is on file.")})

    def processor(route: Any) -> None:
        back = urlsplit(parse_qs(urlsplit(route.request.url).query)["return_url"][0])
        route.fulfill(status=303, headers={"Location": f"{shop.server.url}{back.path}?{back.query}"})

    tab.route("https://pay.acme.example/**", processor)
    page = arrive(tab, link)
    add = page.get_by_role("button", name="Add a payment method")
    expect(add).to_be_focused()
    for hidden in ("subscriptions-title", "details-title", "invoices-title"):
        expect(page.locator("#" + hidden)).to_be_hidden()
    assert violations(page, "payment method flow") == []
    add.click()
    page.wait_for_url(f"{shop.server.url}/portal/")
    expect(page.locator("#flow-done-title")).to_have_text(
        "Your new payment method will appear here as soon as it is confirmed.")
    expect(page.locator("#flow-done-text")).to_have_text("Thanks, your card is on file.")
    expect(page.locator("#content")).to_be_hidden()


@pytest.mark.parametrize("spoil", ["used", "expired", "tampered"])
def test_a_link_that_cannot_open_says_so_in_the_customers_language(tab, merchant, clock, spoil) -> None:
    link = merchant().link(locale="de")
    if spoil == "used":
        arrive(tab.context.new_page(), link)
    elif spoil == "expired":
        clock.advance(portal_sessions.LIFETIME + 1)
    else:
        link = link[:-2] + ("AA" if not link.endswith("AA") else "BB")
    page = arrive(tab, link)
    failure = page.locator("#failure-text")
    said = json.loads(page.locator("#porch-strings").text_content())["portal_link_invalid"]
    expect(failure).to_have_text(said)
    assert page.locator("html").get_attribute("lang") == "de"
    sign_in = translations("de", ROOT / "site/locales").gettext("Sign in with your email")
    expect(page.get_by_role("link", name=sign_in)).to_have_attribute("href", "/de/login/")
    expect(page.locator("#retry")).to_be_hidden()
    assert violations(page, f"{spoil} link") == []


def test_a_link_in_the_default_language_keeps_it_whatever_the_browser_speaks(browser, merchant) -> None:
    context = browser.new_context(locale="de-DE", timezone_id="UTC")
    page = context.new_page()
    page.goto(merchant().link(locale="en"))
    expect(page.locator("#content")).to_be_visible()
    assert page.locator("html").get_attribute("lang") == "en"
    assert urlsplit(page.url).path == "/portal/" and "session=" not in page.url and "locale=" not in page.url
    context.close()


@pytest.mark.parametrize("locale, direction", [("ar", "rtl"), ("he", "rtl"), ("ja", "ltr")])
def test_flows_in_other_languages_and_right_to_left(tab, merchant, locale, direction) -> None:
    link = merchant().link(locale=locale, flow_data={"type": "subscription_update_confirm", "subscription_update_confirm": {
        "subscription": "sub_jenny_pro", "items": [{"id": "si_jenny_pro", "price": "price_pro_yearly"}]}})
    page = arrive(tab, link)
    assert (page.locator("html").get_attribute("lang"), page.locator("html").get_attribute("dir")) == (locale, direction)
    dialog = page.locator("#plan-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#plan-confirm")).to_be_focused()
    expect(dialog.locator("#plan-preview .preview-lines")).to_be_visible()
    assert violations(page, f"{locale} confirm flow") == []

