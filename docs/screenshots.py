"""Take the README's pictures: each page of the demo at phone and desktop width, in English
(left to right) and Arabic (right to left), plus dark mode, the demo's past-due and paused
customers, and the portal of a customer with a bank account as well as a card, into docs/screenshots/.

    python docs/screenshots.py

Runs `python -m backend demo` in a scratch folder, signs in as the demo customer with the
code from the demo's outbox, and drives Debian's Chromium (apt-get install chromium).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from email import message_from_bytes
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
DEMO_EMAIL = "jenny@example.com"
# Her subscription is charged to a SEPA Direct Debit account, beside her card.
BANK_EMAIL = "kim@example.com"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"the demo did not answer at {url}") from None
            time.sleep(0.2)


def latest_code(outbox: Path, after: float) -> str:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        mails = sorted((p for p in outbox.glob("*.eml") if p.stat().st_mtime >= after), key=lambda p: p.stat().st_mtime)
        if mails:
            subject = message_from_bytes(mails[-1].read_bytes())["Subject"]
            return re.search(r"\b(\d{6})\b", subject).group(1)  # type: ignore[union-attr]
        time.sleep(0.1)
    raise SystemExit(f"no sign-in mail arrived in {outbox}")


def shoot(page: Page, name: str, whole: bool = True) -> None:
    """A picture of the whole page, or (for a dialog, which stays on screen) of what the screen shows."""
    page.wait_for_timeout(250)  # let the focus ring and the dialog's opening settle before the picture
    page.screenshot(path=OUT / f"{name}.png", full_page=whole)
    print("wrote", (OUT / f"{name}.png").relative_to(ROOT))


def sign_in(page: Page, base: str, prefix: str, outbox: Path, email: str = DEMO_EMAIL) -> None:
    page.goto(f"{base}{prefix}login/?prefilled_email={email.replace('@', '%40')}")
    asked = time.time() - 1
    page.locator("#email-form button[type=submit]").click()
    page.locator("#code").wait_for()
    page.locator("#code").fill(latest_code(outbox, asked))
    page.locator("#code-form button[type=submit]").click()
    page.wait_for_url(f"{base}{prefix}portal/")
    page.locator("#content").wait_for()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        port = free_port()
        outbox = Path(scratch) / "outbox"
        demo = subprocess.Popen(
            [sys.executable, "-m", "backend", "demo", "--port", str(port)],
            cwd=scratch, env={**os.environ, "PYTHONPATH": str(ROOT), "PORCH_OUTBOX_DIR": str(outbox)},
            stdout=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(base + "/api/health")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                # One tab for every picture: a code can be asked for once a minute, and the session
                # cookie serves every locale's pages.
                page = browser.new_context(locale="en-US", timezone_id="UTC").new_page()
                sign_in(page, base, "/", outbox)
                for locale, prefix in (("en", "/"), ("ar", "/ar/")):
                    for width, viewport in WIDTHS.items():
                        page.set_viewport_size(viewport)
                        page.goto(f"{base}{prefix}login/?prefilled_email={DEMO_EMAIL.replace('@', '%40')}")
                        shoot(page, f"login-{locale}-{width}")
                        page.goto(f"{base}{prefix}portal/")
                        page.locator("#content").wait_for()
                        shoot(page, f"portal-{locale}-{width}")
                        page.locator("#subscriptions button").first.click()
                        page.locator("#plan-dialog input[type=radio]").nth(2).check()
                        page.locator("#plan-preview").filter(has_text=re.compile(r"\S")).wait_for()
                        shoot(page, f"switch-plan-{locale}-{width}", whole=False)
                        page.keyboard.press("Escape")
                        page.locator("#invoices a").first.click()
                        page.locator("#lines tr").first.wait_for()
                        shoot(page, f"receipt-{locale}-{width}")
                page.set_viewport_size(WIDTHS["phone"])
                page.emulate_media(color_scheme="dark")
                page.goto(f"{base}/portal/")
                page.locator("#content").wait_for()
                shoot(page, "portal-en-phone-dark")
                page.locator("#subscriptions button").nth(1).click()
                page.locator("#cancel-reason button[type=submit]").click()
                page.locator("#cancel-offer-text").filter(has_text=re.compile(r"\S")).wait_for()
                shoot(page, "cancel-offer-en-phone-dark", whole=False)
                # Statuses: Alex's renewal failed (past due, with an invoice to pay); Robin's collection
                # is paused until a date; Pat's trial ended without a card (paused).
                for email, name, widths in (("alex@example.com", "past-due", WIDTHS),
                                            ("robin@example.com", "paused", {"desktop": WIDTHS["desktop"]}),
                                            ("pat@example.com", "paused-trial", {"desktop": WIDTHS["desktop"]})):
                    other = browser.new_context(locale="en-US", timezone_id="UTC").new_page()
                    sign_in(other, base, "/", outbox, email)
                    for width, viewport in widths.items():
                        other.set_viewport_size(viewport)
                        other.reload()
                        other.locator("#content").wait_for()
                        shoot(other, f"portal-{name}-en-{width}")
                page = browser.new_context(locale="en-US", timezone_id="UTC").new_page()
                sign_in(page, base, "/", outbox, BANK_EMAIL)
                for locale, prefix, width in (("en", "/", "desktop"), ("ar", "/ar/", "phone")):
                    page.set_viewport_size(WIDTHS[width])
                    page.goto(f"{base}{prefix}portal/")
                    page.locator("#content").wait_for()
                    shoot(page, f"payment-methods-{locale}-{width}")
                browser.close()
        finally:
            demo.terminate()
            demo.wait(timeout=15)


if __name__ == "__main__":
    main()
