"""Framing in a real Chromium: a page of a site not in `allowed_origins`, served by its own
HTTP server, cannot show Porch's pages in a frame, however it spells their path."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

pytestmark = pytest.mark.browser
SPELLINGS = ["/login/", "//login/", "/login//", "//de/portal/", "/%2Flogin/", "/./portal/", "/login"]


@pytest.fixture
def stranger(live_server: Any) -> Iterator[str]:
    """Another origin (localhost rather than 127.0.0.1) whose page frames the backend at the path it is asked for."""

    class Framer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f'<!doctype html><iframe id="f" src="{live_server.url}{self.path[len("/frame"):]}"></iframe>'.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Framer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}/frame"
    server.shutdown()
    server.server_close()


def test_a_foreign_site_cannot_frame_a_page_by_any_spelling(page: Any, stranger: str) -> None:
    def committed(frame: Any) -> bool:
        return frame.parent_frame is not None and frame.url not in ("", "about:blank")

    for spelling in SPELLINGS:
        # The outer page's load does not wait for a refused frame to commit its error page: wait for the frame.
        with page.expect_event("framenavigated", predicate=committed) as navigated:
            page.goto(stranger + spelling)
        assert navigated.value.url == "chrome-error://chromewebdata/", spelling
        assert page.frame_locator("#f").locator("form, main").count() == 0, spelling
