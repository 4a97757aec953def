"""Portal sessions in Debian's Chromium: the merchant's app creates a session over HTTP with its key,
the customer opens its one-time link, and the flow it names opens straight away, ends where its
after_completion says, and leaves no token in the address bar. A used, expired or altered link says
so in the customer's language and offers the sign-in by email. The flow views pass axe-core, in a
left-to-right and a right-to-left language."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from routed import ACTIVE, FEATURES, PLANS, SELF_SERVICE, Session, refusal, session, site  # noqa: F401

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

AXE = Axe()
RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}}
TOKEN = "tok_" + "a" * 43


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


def opened(session: Callable[..., Session], redeemed: tuple[int, Any], path: str = "/portal/", **replies: Any) -> Any:
    s = session({"POST /api/login/session": [(*redeemed, {})],
                 "GET /api/portal": [(200, {**SELF_SERVICE, "return_url": None}, {})], **replies})
    page = s.open(f"{path}#session={TOKEN}")
    page.session = s
    return page


def test_a_cancel_flow_opens_its_dialog_alone_and_shows_the_merchants_confirmation_as_text(
        session: Callable[..., Session]) -> None:  # noqa: F811
    after = {"type": "hosted_confirmation", "redirect": None,
             "hosted_confirmation": {"custom_message": "<b>Thanks</b> for staying with us"}}
    done = {**ACTIVE, "status": "canceled", "canceled_at": 1767225600, "actions": []}
    page = opened(session, (200, {"flow": flow("subscription_cancel", after, subscription=ACTIVE["id"], retention=None),
                                  "return_url": None, "locale": None}),
                  **{"POST /api/subscriptions/sub_active_usd/cancel": [(200, {"subscription": done}, {})]})
    dialog = page.locator("#cancel-dialog")
    expect(dialog).to_be_visible()
    assert page.evaluate("location.hash") == "" and "session" not in page.url
    assert page.session.sent("POST /api/login/session")[0]["body"] == '{"token":"%s"}' % TOKEN
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


def test_a_used_link_says_so_and_offers_the_sign_in_by_email(session: Callable[..., Session]) -> None:  # noqa: F811
    page = opened(session, (401, refusal("portal_link_invalid", "The link has expired or was already used.")))
    expect(page.locator("#failure")).to_be_visible()
    expect(page.get_by_role("link", name="Sign in with your email")).to_have_attribute("href", "/login/")
    expect(page.locator("#retry")).to_be_hidden()
    assert page.evaluate("location.hash") == ""
    assert page.session.sent("GET /api/portal") == []
    assert violations(page, "link refused") == []
