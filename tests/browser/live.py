"""A tab on the live server (the real backend), signed in by a real code: shared by the browser
tests that act as a customer and look at what the page asked the server."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

expect = pytest.importorskip("playwright.sync_api").expect


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
