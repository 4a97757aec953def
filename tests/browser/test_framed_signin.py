"""Sign-in inside a frame on another site, in a real Chromium: the merchant's page is served from
http://localhost:PORT and frames the backend on http://127.0.0.1:PORT, two sites, as a shop on
acme.example framing billing.example would be. The code comes from the backend's real mail."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from helpers import CHROMIUM, CHROMIUM_ARGS, NOW, ROOT, SECRET, OtherSite

from backend import api_keys
from backend.sessions import FRAMED_COOKIE
from backend.store import billing

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect
# As tests/browser/test_accessibility.py: WCAG 2.0 to 2.2 at A and AA, and axe's best practices.
RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}}
SAMPLE = (ROOT / "config.yaml").read_text(encoding="utf-8")
JENNY = "jenny@example.com"


class Merchant(OtherSite):
    """The merchant's site: its one page frames `framed`, an address on the backend."""

    def __init__(self) -> None:
        self.framed = ""
        super().__init__(lambda path: '<!doctype html><title>Acme</title><iframe id="f" title="Billing" width="1000" '
                                      f'height="800" src="{self.framed}"></iframe>')


@pytest.fixture(scope="module")
def merchant() -> Iterator[Merchant]:
    """For the whole module: its port is in the config, and one config is one build of the site."""
    with Merchant() as shop:
        yield shop


@pytest.fixture
def framed_server(live_server_with: Any, merchant: Merchant) -> Any:
    """The backend with the merchant's origin in allowed_origins, its sign-in page framed by the merchant."""
    server = live_server_with(SAMPLE.replace(
        "allowed_origins:\n  - https://acme.example", f"allowed_origins:\n  - https://acme.example\n  - {merchant.origin}"))
    merchant.framed = f"{server.url}/login/?prefilled_email={JENNY.replace('@', '%40')}"
    return server


def session_cookies(context: Any) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in context.cookies() if "porch" in c["name"]}


def test_a_customer_signs_in_inside_a_frame_on_another_site_and_cancels_there(
        page: Any, framed_server: Any, merchant: Merchant, db: Any) -> None:
    fetch_sites: dict[str, str | None] = {}
    page.on("requestfinished", lambda r: fetch_sites.setdefault(
        r.method + " " + urlsplit(r.url).path, r.all_headers().get("sec-fetch-site")) if "/api/" in r.url else None)
    page.goto(merchant.origin + "/")
    frame = page.frame_locator("#f")
    expect(frame.locator("#email")).to_have_value(JENNY)
    frame.get_by_role("button", name="Continue").click()
    frame.locator("#code").fill(framed_server.next_code())
    frame.get_by_role("button", name="Sign in").click()
    expect(frame.locator("#subscriptions")).to_contain_text("Pro")
    assert page.url == merchant.origin + "/", "the portal opens inside the frame, the merchant's page stays"

    # The one cookie Chromium keeps in a frame on another site: partitioned by the merchant's site. Playwright's
    # contexts block third-party cookies as a private window does, and spare this one.
    cookies = session_cookies(page.context)
    assert set(cookies) == {FRAMED_COOKIE}
    assert cookies[FRAMED_COOKIE]["partitionKey"] == "http://localhost"
    assert (cookies[FRAMED_COOKIE]["sameSite"], cookies[FRAMED_COOKIE]["secure"], cookies[FRAMED_COOKIE]["httpOnly"]) \
        == ("None", True, True)
    # The framed page's calls to its own backend are same-origin whatever the top level: the guard's rules hold.
    assert fetch_sites["POST /api/login/verify"] == "same-origin"
    assert fetch_sites["GET /api/portal"] == "same-origin"

    frame.get_by_role("button", name="Cancel subscription").click()
    frame.get_by_role("button", name="Continue").click()
    frame.get_by_role("dialog", name="Before you go").get_by_role("button", name="No thanks, continue").click()
    frame.get_by_role("dialog", name="Cancel subscription").get_by_role("button", name="Cancel subscription").click()
    expect(frame.get_by_role("button", name="Don't cancel")).to_be_visible()
    assert db.run(lambda conn: billing.get(conn, "subscriptions", "sub_jenny_pro"))["cancel_at_period_end"] is True

    frame.get_by_role("button", name="Sign out").click()
    expect(frame.get_by_role("button", name="Continue")).to_be_visible()
    assert session_cookies(page.context) == {}
    assert page.problems == []


def test_a_portal_link_with_a_flow_opens_in_the_frame(page: Any, framed_server: Any, merchant: Merchant, db: Any) -> None:
    # Chromium denies storage to this frame (Playwright's contexts block third-party cookies, partitioned ones
    # excepted): the flow must run without it.
    key = db.run(api_keys.create, SECRET, "tests", NOW)[1]
    made = httpx.post(f"{framed_server.url}/v1/billing_portal/sessions", headers={"Authorization": f"Bearer {key}"},
                      json={"customer": "cus_jenny", "flow_data": {
                          "type": "subscription_cancel", "subscription_cancel": {"subscription": "sub_jenny_pro"},
                          "after_completion": {"type": "hosted_confirmation"}}})
    assert made.status_code == 200, made.text
    merchant.framed = framed_server.url + urlsplit(made.json()["url"])._replace(scheme="", netloc="").geturl()
    page.goto(merchant.origin + "/")
    frame = page.frame_locator("#f")
    frame.get_by_role("dialog", name="Why are you leaving?").get_by_role("button", name="Continue").click()
    frame.get_by_role("dialog", name="Before you go").get_by_role("button", name="No thanks, continue").click()
    frame.get_by_role("dialog", name="Cancel subscription").get_by_role("button", name="Cancel subscription").click()
    expect(frame.locator("#flow-done-title")).to_be_focused()
    assert set(session_cookies(page.context)) == {FRAMED_COOKIE}
    assert page.problems == []


@pytest.fixture
def blocking_context(browser: Any, merchant: Merchant) -> Iterator[Any]:
    """A Chromium profile that refuses every cookie of the backend's site under the merchant's, partitioned
    ones too, as Safari and Firefox's strictest setting do (Chromium's own third-party blocking keeps
    partitioned cookies): a cookie exception for 127.0.0.1 as a third party under localhost."""
    with tempfile.TemporaryDirectory() as profile:
        (Path(profile) / "Default").mkdir()
        blocked = {"http://127.0.0.1:*,http://localhost:*": {"setting": 2}}
        (Path(profile) / "Default" / "Preferences").write_text(
            json.dumps({"profile": {"content_settings": {"exceptions": {"cookies": blocked}}}}))
        context = browser.browser_type.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
        yield context
        context.close()


def test_where_the_browser_refuses_the_framed_cookie_the_page_offers_a_new_tab(
        blocking_context: Any, framed_server: Any, merchant: Merchant, clock: Any) -> None:
    page = blocking_context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(merchant.origin + "/")
    frame = page.frame_locator("#f")
    frame.get_by_role("button", name="Continue").click()
    frame.locator("#code").fill(framed_server.next_code())
    frame.get_by_role("button", name="Sign in").click()

    offer = frame.get_by_role("link", name="Continue in a new tab")
    expect(offer).to_be_focused()
    expect(offer).to_have_attribute("target", "_blank")
    expect(offer).to_have_accessible_description(
        "Your browser does not keep you signed in inside another site's page. "
        "Continue in a new tab; you will need a new code there.")
    expect(frame.locator("#email")).to_be_hidden()
    assert session_cookies(blocking_context) == {}
    (porch,) = [each for each in page.frames if each.parent_frame]
    found = Axe().run(porch, options=RULES).response["violations"]
    assert [f"{v['id']}: {v['help']}" for v in found] == []

    # The new tab is first-party: the sign-in completes there, with the address already filled in.
    with blocking_context.expect_page() as opened:
        offer.click()
    tab = opened.value
    expect(tab.locator("#email")).to_have_value(JENNY)
    clock.advance(60)  # one code a minute for an address from one client
    tab.get_by_role("button", name="Continue").click()
    tab.locator("#code").fill(framed_server.next_code())
    tab.get_by_role("button", name="Sign in").click()
    expect(tab.locator("#subscriptions")).to_contain_text("Pro")
    assert problems == []
