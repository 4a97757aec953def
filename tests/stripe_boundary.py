"""Tests at the SDK boundary: Stripe's official SDK, unchanged, with its HTTP answered from a script.

For what the emulator (localstripe) cannot do, these tests check the requests the SDK makes (method,
path, form parameters, idempotency key) and feed it Stripe's published example objects
(tests/stripe_examples.json, from Stripe's OpenAPI fixtures) as answers. Test names that use this
say so ("..._at_the_sdk_boundary")."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe

EXAMPLES = json.loads((Path(__file__).parent / "stripe_examples.json").read_text())


def example(kind: str, **changes: Any) -> dict[str, Any]:
    """A copy of Stripe's published example of `kind` (such as "subscription"), with `changes` applied."""
    found = copy.deepcopy(EXAMPLES[kind])
    found.update(changes)
    return found


def completed(customer: str, **changes: Any) -> dict[str, Any]:
    """Stripe's example Checkout Session, as it is when the customer has saved a card through it."""
    method = example("payment_method", customer=customer)
    intent = example("setup_intent", customer=customer, status="succeeded", payment_method=method)
    return example("checkout.session", **{"mode": "setup", "status": "complete", "customer": customer,
                                          "setup_intent": intent, "payment_intent": None} | changes)


@dataclass
class Sent:
    method: str
    path: str
    params: dict[str, str]
    headers: Mapping[str, str]


@dataclass
class Scripted(stripe.HTTPClient):
    """Answers each request with the next (status, body) of `answers`, and records what was sent."""

    answers: list[tuple[int, dict[str, Any]]]
    sent: list[Sent] = field(default_factory=list)
    name = "scripted"

    def __post_init__(self) -> None:
        super().__init__()

    def request(self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None,
                *, _usage: Any = None) -> tuple[str, int, Mapping[str, str]]:
        parts = urlsplit(url)
        body = post_data.decode() if isinstance(post_data, bytes) else post_data or ""
        params = dict(parse_qsl(parts.query, keep_blank_values=True)) | dict(parse_qsl(body, keep_blank_values=True))
        self.sent.append(Sent(method.upper(), parts.path, params, dict(headers or {})))
        if not self.answers:
            raise AssertionError(f"unexpected Stripe request: {method.upper()} {parts.path} {params}")
        status, answer = self.answers.pop(0)
        return json.dumps(answer), status, {"request-id": "req_scripted"}

    def close(self) -> None:
        pass


def scripted_client(*answers: tuple[int, dict[str, Any]]) -> tuple[stripe.StripeClient, Scripted]:
    http = Scripted(list(answers))
    return stripe.StripeClient("sk_test_scripted", stripe_version="2026-10-28.endive", http_client=http,
                               max_network_retries=0), http
