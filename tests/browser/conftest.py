"""The browser tests' fixtures: `site` and `session`, a tab on the built site whose API answers are
scripted (routed.py), `tab`, a tab on the live backend (live.py), and `scheme`,
light and dark."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from routed import Reply, Session


@pytest.fixture(scope="module")
def site(built_site: Callable[[str | None], tuple[Any, Path]]) -> tuple[Any, Path]:
    return built_site(None)


@pytest.fixture
def session(browser: Any, site: tuple[Any, Path]):
    made: list[Session] = []

    def make(replies: dict[str, list[Reply]], **context: Any) -> Session:
        made.append(Session(browser, site, replies, **context))
        return made[-1]

    yield make
    for s in made:
        assert s.problems == [], f"no script errors and no CSP violations: {s.problems}"
        assert s.hosts == {"porch.test"}, "no third-party request"
        s.context.close()


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


@pytest.fixture(params=["light", "dark"])
def scheme(request: pytest.FixtureRequest) -> str:
    """Each test that takes it runs in the light and the dark colour scheme."""
    return request.param  # type: ignore[no-any-return]
