"""A tab on the built site with every request answered by the test: files from the built
folder with the headers the backend would send (so the strict CSP is enforced), and /api/
calls from the test's table of replies. Shared by the browser tests that need no backend."""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from backend.i18n import LOCALES
from backend.pages import PAGE_CACHE, PAGES, asset_headers, security_headers

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "https://porch.test"
T = 1767225600  # 2026-01-01 00:00 UTC
HTML_PAGES = {"/" + path.removesuffix("index.html"): name for name, path in PAGES.items()}


def page_of(path: str) -> str | None:
    """The page a path shows, in any locale's folder: "/de/login/" -> "login"."""
    first, _, rest = path.lstrip("/").partition("/")
    return HTML_PAGES.get(path) or (HTML_PAGES.get("/" + rest) if first in LOCALES else None)


def sub(status: str, amount: int, currency: str, interval: str = "month", count: int = 1, quantity: int = 1,
        actions: list[str] | None = None, **extra: Any):
    """`actions`: what the server accepts now (backend/availability.py), which is all the page offers;
    by default what it accepts with every feature on."""
    ending = extra.get("cancel_at_period_end")
    return {
        "id": f"sub_{status}_{currency}", "status": status, "cancel_at_period_end": False,
        "current_period_end": T + 20 * 86400, "cancel_at": None, "canceled_at": None, "ended_at": None, "trial_end": None,
        "actions": (["resume"] if ending else ["cancel", "update", "retention"]) if actions is None else actions,
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
        # No feature is on here: undoing a cancellation is all the server accepts.
        sub("active", 2900, "usd", actions=[]),
        sub("trialing", 1200, "eur", quantity=3, actions=[], trial_end=T + 5 * 86400),
        sub("active", 12000, "jpy", count=3, cancel_at_period_end=True),
    ],
    "invoices": [
        {"id": "in_1", "number": "ACME-1", "created": T, "currency": "usd", "total": 2900, "amount_due": 0, "amount_paid": 2900,
         "status": "paid", "hosted_invoice_url": "https://pay.example/in_1", "invoice_pdf": "javascript:alert(1)"},
    ],
    "payment_methods": [
        {"id": "pm_1", "type": "card", "card": {"brand": "mastercard", "last4": "4444", "exp_month": 1, "exp_year": 2020},
         "actions": []},
        {"id": "pm_2", "type": "card", "card": {"brand": "visa", "last4": "4242", "exp_month": 8, "exp_year": 2030},
         "actions": []},
    ],
    "features": {"invoice_history": {"enabled": True}},
    "business": {"name": "Acme"},
}


FEATURES = {
    "invoice_history": {"enabled": True},
    "customer_update": {"enabled": True, "allowed_updates": ["name", "address", "shipping", "phone", "tax_id"]},
    "payment_method_update": {"enabled": True, "can_add": False},
    "subscription_cancel": {
        "enabled": True, "mode": "immediately",
        "cancellation_reason": {"enabled": False, "options": []},
        "retention": {"enabled": False, "percent_off": 20, "duration_in_months": 3},
    },
    "subscription_update": {"enabled": True, "products": [{"product": "prod_1"}]},
}
ACTIVE = sub("active", 2900, "usd")
METHODS = [PORTAL["payment_methods"][0] | {"actions": ["make_default", "remove"]},
           PORTAL["payment_methods"][1] | {"actions": ["remove"]}]
SELF_SERVICE = {**PORTAL, "subscriptions": [ACTIVE], "payment_methods": METHODS, "features": FEATURES}
PLANS = {"plans": [{
    "product": {"id": "prod_1", "name": "Plan usd", "description": "The plan"},
    "prices": [ACTIVE["items"]["data"][0]["price"] | {"product": "prod_1", "nickname": "Monthly"},
               {"id": "price_2", "currency": "usd", "unit_amount": 29000, "nickname": "Yearly",
                "recurring": {"interval": "year", "interval_count": 1}, "product": "prod_1"}],
    "adjustable_quantity": {"enabled": True, "minimum": 1, "maximum": 10},
}]}


def refusal(code: str, message: str = "refused", param: str | None = None, example: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message} | ({"param": param} if param else {})
            | ({"example": example} if example else {})}


Reply = tuple[int, Any, dict[str, str]]


class Session:
    """One browser tab on the built site; `replies` maps "METHOD /api/path" to a list of replies, used in turn."""

    def __init__(self, browser: Any, site: tuple[Any, Path], replies: dict[str, list[Reply]], **context: Any):
        self.config, self.out = site
        self.replies = replies
        self.calls: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self.hosts: set[str] = set()
        self.paths: list[str] = []
        options = {"viewport": {"width": 390, "height": 800}, "timezone_id": "UTC", "locale": "en-US", **context}
        self.context = browser.new_context(**options)
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
        self.paths.append(parts.path)
        if parts.path.startswith("/api/"):
            key = f"{request.method} {parts.path}"
            self.calls.append({"key": key, "body": request.post_data, "headers": request.headers})
            status, body, headers = self.replies[key].pop(0) if len(self.replies.get(key, [])) > 1 else self.replies[key][0]
            if status == 0:  # the connection drops: the page cannot tell whether the change was made
                route.abort("connectionreset")
                return
            route.fulfill(status=status, body="" if body is None else json.dumps(body),
                          headers={"Content-Type": "application/json", **headers})
            return
        file = self.out / parts.path.lstrip("/")
        if file.is_dir():
            file = file / "index.html"
        if not file.is_file():
            route.fulfill(status=404, body="not found")
            return
        page = page_of(parts.path)
        headers = asset_headers() if parts.path.startswith("/assets/") else {
            "Cache-Control": PAGE_CACHE, **security_headers(self.config, page or "index")}
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        route.fulfill(status=200, body=file.read_bytes(), headers={"Content-Type": content_type, **headers})

    def open(self, path: str) -> Any:
        self.page.goto(ORIGIN + path)
        return self.page

    def sent(self, key: str) -> list[dict[str, Any]]:
        return [call for call in self.calls if call["key"] == key]
def paste(page: Any, selector: str, text: str) -> None:
    page.eval_on_selector(selector, """(el, text) => {
        const data = new DataTransfer();
        data.setData('text', text);
        el.focus();
        el.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));
    }""", text)
