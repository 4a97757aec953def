"""The built pages in a real Chromium, with the API answered by the test.

Every request goes through Playwright's router: files come from the built folder
with the headers the backend would send (so the strict CSP is enforced), and
/api/ calls are answered from each test's table of replies.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import pytest

from backend.config import load_config
from backend.pages import PAGE_CACHE, asset_headers, build_site, security_headers

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "https://porch.test"
T = 1767225600  # 2026-01-01 00:00 UTC
HTML_PAGES = {"/": "index", "/login/": "login", "/portal/": "portal", "/embed.html": "embed"}


def sub(status: str, amount: int, currency: str, interval: str = "month", count: int = 1, quantity: int = 1, **extra: Any):
    return {
        "id": f"sub_{status}_{currency}", "status": status, "cancel_at_period_end": False,
        "current_period_end": T + 20 * 86400, "cancel_at": None, "canceled_at": None, "ended_at": None, "trial_end": None,
        "items": {"object": "list", "data": [{"id": "si_1", "quantity": quantity, "price": {
            "id": "price_1", "currency": currency, "unit_amount": amount, "nickname": None,
            "recurring": {"interval": interval, "interval_count": count},
            "product": {"id": "prod_1", "name": f"Plan {currency}", "description": None}}}]},
        **extra,
    }


PORTAL = {
    "customer": {
        "id": "cus_1", "name": "<img src=x onerror=alert(1)>Jenny", "email": "jenny@example.com", "phone": None,
        "address": {"line1": "1 Main St", "line2": None, "city": "Springfield", "state": "OR", "postal_code": "97477", "country": "US"},
        "shipping": None, "tax_ids": {"object": "list", "data": [{"type": "eu_vat", "value": "DE123"}]},
        "invoice_settings": {"default_payment_method": "pm_2"},
    },
    "subscriptions": [
        sub("active", 2900, "usd"),
        sub("trialing", 1200, "eur", quantity=3, trial_end=T + 5 * 86400),
        sub("active", 12000, "jpy", count=3, cancel_at_period_end=True),
    ],
    "invoices": [
        {"id": "in_1", "number": "ACME-1", "created": T, "currency": "usd", "total": 2900, "amount_due": 0, "amount_paid": 2900,
         "status": "paid", "hosted_invoice_url": "https://pay.example/in_1", "invoice_pdf": "javascript:alert(1)"},
    ],
    "payment_methods": [
        {"id": "pm_1", "type": "card", "card": {"brand": "mastercard", "last4": "4444", "exp_month": 1, "exp_year": 2020}},
        {"id": "pm_2", "type": "card", "card": {"brand": "visa", "last4": "4242", "exp_month": 8, "exp_year": 2030}},
    ],
    "features": {"invoice_history": {"enabled": True}},
    "business": {"name": "Acme"},
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    config, _ = load_config(ROOT / "config.yaml")
    out = tmp_path_factory.mktemp("site") / "public"
    build_site(config, ROOT, ROOT / "site", out)
    return config, out


Reply = tuple[int, Any, dict[str, str]]


class Session:
    """One browser tab on the built site; `replies` maps "METHOD /api/path" to a list of replies, used in turn."""

    def __init__(self, browser: Any, site: tuple[Any, Path], replies: dict[str, list[Reply]]):
        self.config, self.out = site
        self.replies = replies
        self.calls: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self.hosts: set[str] = set()
        self.context = browser.new_context(viewport={"width": 390, "height": 800}, timezone_id="UTC", locale="en-US")
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self._console(m.type, m.text))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.route("**/*", self._route)

    def _console(self, kind: str, text: str) -> None:
        if (kind == "error" and "Failed to load resource" not in text) or "Content Security Policy" in text:
            self.problems.append(text)

    def _route(self, route: Any) -> None:
        request = route.request
        parts = urlsplit(request.url)
        self.hosts.add(parts.netloc)
        if parts.path.startswith("/api/"):
            key = f"{request.method} {parts.path}"
            self.calls.append({"key": key, "body": request.post_data, "headers": request.headers})
            status, body, headers = self.replies[key].pop(0) if len(self.replies.get(key, [])) > 1 else self.replies[key][0]
            route.fulfill(status=status, body="" if body is None else json.dumps(body),
                          headers={"Content-Type": "application/json", **headers})
            return
        file = self.out / parts.path.lstrip("/")
        if file.is_dir():
            file = file / "index.html"
        if not file.is_file():
            route.fulfill(status=404, body="not found")
            return
        page = HTML_PAGES.get(parts.path)
        headers = asset_headers() if parts.path.startswith("/assets/") else {
            "Cache-Control": PAGE_CACHE, **security_headers(self.config, page or "index")}
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        route.fulfill(status=200, body=file.read_bytes(), headers={"Content-Type": content_type, **headers})

    def open(self, path: str) -> Any:
        self.page.goto(ORIGIN + path)
        return self.page

    def sent(self, key: str) -> list[dict[str, Any]]:
        return [call for call in self.calls if call["key"] == key]


@pytest.fixture
def session(browser: Any, site: tuple[Any, Path]):
    made: list[Session] = []

    def make(replies: dict[str, list[Reply]]) -> Session:
        made.append(Session(browser, site, replies))
        return made[-1]

    yield make
    for s in made:
        assert s.problems == [], "no script errors and no CSP violations"
        assert s.hosts == {"porch.test"}, "no third-party request"
        s.context.close()


def paste(page: Any, selector: str, text: str) -> None:
    page.eval_on_selector(selector, """(el, text) => {
        const data = new DataTransfer();
        data.setData('text', text);
        el.focus();
        el.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));
    }""", text)


def test_sign_in_journey(session: Callable[..., Session]) -> None:
    s = session({
        "POST /api/login/code": [(202, {"challenge": "ch_1"}, {}), (202, {"challenge": "ch_2"}, {})],
        "POST /api/login/verify": [(401, {"error": {"code": "invalid_code", "message": "no"}}, {}), (200, {"customer": {}}, {})],
        "GET /api/portal": [(200, PORTAL, {})],
    })
    page = s.open("/login/?prefilled_email=jenny+tag%40example.com")
    expect(page.locator("#email")).to_have_value("jenny+tag@example.com")
    assert page.url == ORIGIN + "/login/"  # the address is not left in the address bar
    page.locator("#email").fill("jenny@example.com")
    page.get_by_role("button", name="Continue").click()

    expect(page.locator("#code-help")).to_have_text(
        "If jenny@example.com matches an account, we sent it a 6-digit code. It is valid for 10 minutes.")
    expect(page.locator("#code")).to_be_focused()
    expect(page.locator("#step-email")).to_be_hidden()
    (call,) = s.sent("POST /api/login/code")
    assert json.loads(call["body"]) == {"email": "jenny@example.com"}
    assert call["headers"]["content-type"] == "application/json"

    paste(page, "#code", " 123 456 ")
    expect(page.locator("#code")).to_have_value("123456")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#code-error")).to_have_text("That code is not right or has expired.")
    expect(page.locator("#code")).to_have_value("")
    assert json.loads(s.sent("POST /api/login/verify")[0]["body"]) == {"challenge": "ch_1", "code": "123456"}

    page.get_by_role("button", name="Send a new code").click()
    expect(page.locator("#status")).to_have_text("We sent a new code. Only the newest code works.")
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    assert "ch_" not in page.evaluate("document.cookie") and "ch_" not in page.url

    page.locator("#code").fill("654321")
    page.locator("#code").press("Enter")
    page.wait_for_url(ORIGIN + "/portal/")
    assert json.loads(s.sent("POST /api/login/verify")[1]["body"]) == {"challenge": "ch_2", "code": "654321"}


def test_sign_in_explains_refusals(session: Callable[..., Session]) -> None:
    s = session({"POST /api/login/code": [
        (429, {"error": {"code": "rate_limited", "message": "slow down"}}, {"Retry-After": "30"}),
        (404, {"error": {"code": "login_disabled", "message": "off"}}, {}),
        (400, {"error": {"code": "invalid_request", "message": "bad"}}, {}),
        (202, {"challenge": "ch_1"}, {}),
    ]})
    page = s.open("/login/?signed_out=1")
    expect(page.locator("#status")).to_have_text("You are signed out.")
    page.locator("#email").fill("jenny@example.com")
    for expected in ("Too many attempts. Please try again in 30 seconds.",
                     "Sign-in is switched off at the moment.",
                     "That email address does not look right. Please check it."):
        page.get_by_role("button", name="Continue").click()
        expect(page.locator("#email-error")).to_have_text(expected)
        expect(page.locator("#email")).to_be_focused()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Use a different email").click()
    expect(page.locator("#email")).to_be_focused()
    expect(page.locator("#step-code")).to_be_hidden()


def test_portal_shows_billing_data_as_text(session: Callable[..., Session]) -> None:
    s = session({"GET /api/portal": [(200, PORTAL, {})], "POST /api/logout": [(204, None, {})]})
    page = s.open("/portal/")
    subscriptions = page.locator("#subscriptions > li")
    expect(subscriptions).to_have_count(3)
    expect(subscriptions.nth(0)).to_contain_text("$29.00 per month")
    expect(subscriptions.nth(0)).to_contain_text("Renews on Jan 21, 2026")
    expect(subscriptions.nth(0).locator(".badge")).to_have_text("Active")
    expect(subscriptions.nth(1)).to_contain_text("¥12,000 every 3 months")  # JPY has no minor unit
    expect(subscriptions.nth(1)).to_contain_text("Ends on Jan 21, 2026")
    expect(subscriptions.nth(2)).to_contain_text("€36.00 per month")
    expect(subscriptions.nth(2)).to_contain_text("3 × €12.00")
    expect(subscriptions.nth(2)).to_contain_text("Trial ends Jan 6, 2026")

    methods = page.locator("#payment-methods > li")
    expect(methods.nth(0)).to_contain_text("Visa •••• 4242")
    expect(methods.nth(0)).to_contain_text("Expires 08/2030")
    expect(methods.nth(0).locator("[data-field=badge]")).to_have_text("Default")
    expect(methods.nth(1)).to_contain_text("Expired")

    details = page.locator("#details")
    expect(details).to_contain_text("<img src=x onerror=alert(1)>Jenny")  # shown as text, not markup
    assert page.locator("#details img").count() == 0
    expect(details).to_contain_text("Your email address cannot be changed here.")
    expect(details).to_contain_text("EU VAT DE123")

    links = page.locator("#invoices a")
    expect(links).to_have_count(1)  # the javascript: PDF link is dropped
    expect(links).to_have_attribute("href", "https://pay.example/in_1")
    expect(page.locator("#invoices")).to_contain_text("ACME-1")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(ORIGIN + "/login/")
    expect(page.locator("#status")).to_have_text("You are signed out.")
    (call,) = s.sent("POST /api/logout")
    assert call["body"] == "{}" and call["headers"]["content-type"] == "application/json"


def test_portal_without_session_goes_to_sign_in(session: Callable[..., Session]) -> None:
    s = session({"GET /api/portal": [(401, {"error": {"code": "unauthenticated", "message": "sign in"}}, {})]})
    page = s.open("/portal/")
    page.wait_for_url(ORIGIN + "/login/")


def test_portal_failure_offers_a_retry(session: Callable[..., Session]) -> None:
    empty = {**PORTAL, "subscriptions": [], "invoices": [], "payment_methods": []}
    s = session({"GET /api/portal": [(503, {"error": {"code": "unavailable", "message": "down"}}, {}), (200, empty, {})]})
    page = s.open("/portal/")
    expect(page.get_by_role("alert").filter(has_text="We could not load")).to_have_text(
        "We could not load your billing details. Something went wrong. Please try again.")
    expect(page.locator("#content")).to_be_hidden()
    page.get_by_role("button", name="Try again").click()
    expect(page.locator("#subscriptions-empty")).to_have_text("You have no subscriptions.")
    expect(page.locator("#payment-methods-empty")).to_be_visible()
    expect(page.locator("#invoices-empty")).to_be_visible()
    expect(page.locator("#title")).to_be_focused()
