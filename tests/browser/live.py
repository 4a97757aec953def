"""A tab on the live server (the real backend), signed in by a real code: shared by the browser
tests that act as a customer and look at what the page asked the server. A test module imports
`live_tab` for its fixture `tab`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

expect = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture(name="tab")
def live_tab(browser: Any) -> Iterator[Any]:
    """A tab in UTC and US English, so dates read the same on every machine, that records its
    state-changing requests (`sent`)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="UTC", locale="en-US")
    page = context.new_page()
    page.problems = []
    page.changes = []
    page.on("console", lambda m: page.problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.on("request", lambda r: page.changes.append(r) if r.method in ("POST", "PATCH", "DELETE") else None)
    yield page
    assert page.problems == [], "no script errors and no CSP violations"
    context.close()


def sign_in(page: Any, server: Any, address: str = "jenny@example.com") -> Any:
    page.goto(f"{server.url}/login/?prefilled_email={address.replace('@', '%40')}")
    page.get_by_role("button", name="Continue").click()
    page.locator("#code").fill(server.next_code())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/portal/")
    expect(page.locator("#content")).to_be_visible()
    return page


def sent(page: Any, path: str) -> list[Any]:
    """The state-changing requests to an API path, in order."""
    return [r for r in page.changes if urlsplit(r.url).path == "/api/" + path]
