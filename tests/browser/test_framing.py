"""Framing in a real Chromium: a page of a site not in `allowed_origins`, served by its own
HTTP server, cannot show Porch's pages in a frame, however it spells their path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from helpers import OtherSite

pytestmark = pytest.mark.browser
SPELLINGS = ["/login/", "//login/", "/login//", "//de/portal/", "/%2Flogin/", "/./portal/", "/login"]


@pytest.fixture
def stranger(live_server: Any) -> Iterator[str]:
    """Another origin (localhost rather than 127.0.0.1) whose page frames the backend at the path it is asked for."""

    def page(path: str) -> str:
        return f'<!doctype html><iframe id="f" src="{live_server.url}{path[len("/frame"):]}"></iframe>'

    with OtherSite(page) as site:
        yield site.origin + "/frame"


def test_a_foreign_site_cannot_frame_a_page_by_any_spelling(page: Any, stranger: str) -> None:
    def committed(frame: Any) -> bool:
        return frame.parent_frame is not None and frame.url not in ("", "about:blank")

    for spelling in SPELLINGS:
        # The outer page's load does not wait for a refused frame to commit its error page: wait for the frame.
        with page.expect_event("framenavigated", predicate=committed) as navigated:
            page.goto(stranger + spelling)
        assert navigated.value.url == "chrome-error://chromewebdata/", spelling
        assert page.frame_locator("#f").locator("form, main").count() == 0, spelling
