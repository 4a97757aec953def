"""The embed snippet pasted into a page of another site, in a real Chromium: the button wears the
merchant's colours, shows keyboard focus, reads to axe-core, and it and the link open the sign-in page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from backend.config import parse_config
from backend.pages import build_site

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
CONFIG = """
login_link: {url: "https://billing.acme.example"}
branding: {brand_color: "#0a2540", accent_color: "#5e56f2"}
locales: {available: [en], default: en}
"""
SIGN_IN = "https://billing.acme.example/login/"


@pytest.fixture
def snippet(tmp_path: Path) -> str:
    config, _ = parse_config(CONFIG)
    build_site(config, ROOT, ROOT / "site", tmp_path / "public")
    return (tmp_path / "public" / "embed.html").read_text(encoding="utf-8")


def shop(page: Any, snippet: str) -> list[str]:
    """The merchant's page with the snippet pasted in; the addresses the browser asks Porch for."""
    asked: list[str] = []

    def sign_in(route: Any) -> None:
        asked.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<!doctype html><title>Sign in</title>")

    page.goto("about:blank")
    page.route("https://billing.acme.example/**", sign_in)
    page.set_content(f'<!doctype html><html lang="en"><title>Acme</title><main><h1>Your account</h1>{snippet}</main></html>')
    return asked


def test_the_button_wears_the_merchants_colours_and_shows_keyboard_focus(page: Any, snippet: str) -> None:
    asked = shop(page, snippet)
    button = page.locator(".porch-manage-billing button")
    look = button.evaluate("b => { const s = getComputedStyle(b); return [s.backgroundColor, s.color, s.fontWeight] }")
    assert look == ["rgb(10, 37, 64)", "rgb(255, 255, 255)", "600"]
    assert button.evaluate("b => getComputedStyle(b).outlineStyle") == "none"
    page.keyboard.press("Tab")
    ring = button.evaluate("b => { const s = getComputedStyle(b); return [s.outlineStyle, s.outlineColor, s.outlineWidth] }")
    assert ring == ["solid", "rgb(94, 86, 242)", "3px"]
    assert Axe().run(page).response["violations"] == []
    assert asked == []  # nothing is loaded from Porch until the customer asks
    with page.expect_navigation(url=SIGN_IN + "?prefilled_email="):
        page.keyboard.press("Enter")
    assert asked == [SIGN_IN + "?prefilled_email="]
    assert page.problems == []


def test_the_button_and_the_link_carry_the_email_the_merchant_fills_in(page: Any, snippet: str) -> None:
    filled = snippet.replace('value=""', 'value="jenny@example.com"').replace("?prefilled_email=", "?prefilled_email=jenny%40example.com")
    shop(page, filled)
    with page.expect_navigation(url=SIGN_IN + "?prefilled_email=jenny%40example.com"):
        page.get_by_role("button", name="Manage billing").click()
    asked = shop(page, filled)
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName") == "A"
    with page.expect_navigation(url=SIGN_IN + "?prefilled_email=jenny%40example.com"):
        page.keyboard.press("Enter")
    assert asked == [SIGN_IN + "?prefilled_email=jenny%40example.com"]
