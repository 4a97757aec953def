"""The one way Porch talks to Stripe: a client built from the settings, Stripe's answers as plain
dicts, Stripe's errors as Porch's errors, and idempotency keys derived from the portal request's.

Everything above this module sees Stripe objects as dicts read by backend.stripe_objects, and
refusals as APIError; nothing else imports `stripe`'s error classes."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from backend.errors import APIError
from backend.settings import Settings

if TYPE_CHECKING:
    import stripe

log = logging.getLogger("porch.stripe")

# The API version Porch reads and writes, pinned so that an account's default version, or a newer
# SDK's, never changes the shapes Porch is given. The normalising reader also takes older shapes
# (webhooks of endpoints created long ago, exported files).
API_VERSION = "2026-10-28.endive"
# The SDK retries connection failures, 409s and 5xx answers with backoff, reusing the idempotency key,
# so that a retried create is never applied twice.
NETWORK_RETRIES = 2
# A customer is waiting on the page: a slow Stripe answers 503 rather than hanging the request.
TIMEOUT_SECONDS = 20


class NotConfigured(Exception):
    """billing.engine is stripe and a setting it needs is missing."""


def client(settings: Settings, timeout: float = TIMEOUT_SECONDS, retries: int = NETWORK_RETRIES) -> stripe.StripeClient:
    # Stripe's SDK loads here, not at start: with billing.engine local it is never needed (70 ms and 10 MB).
    import stripe

    key = settings.stripe_secret_key
    if not key:
        raise NotConfigured(
            "PORCH_STRIPE_SECRET_KEY is unset: billing.engine is stripe. Set it to a secret key (sk_live_... or "
            "sk_test_...) or a restricted key (rk_...) from https://dashboard.stripe.com/apikeys")
    return stripe.StripeClient(
        key,
        stripe_version=API_VERSION,
        base_addresses={"api": settings.stripe_api_base},
        max_network_retries=retries,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


def as_dict(obj: Any) -> dict[str, Any]:
    """A Stripe answer as plain JSON data, as backend.stripe_objects reads it. for_json keeps decimal
    fields (a price's unit_amount_decimal) as the strings Stripe sent: the SDK's Decimal would not
    serialise when stored."""
    return obj.to_dict(for_json=True) if hasattr(obj, "to_dict") else dict(obj)


def idempotency_key(request_key: str, step: str) -> str:
    """The key of one Stripe call made for one portal request: the same portal request (repeated with
    its Idempotency-Key) makes the same calls with the same keys, so Stripe applies each once; the
    step tells apart the several calls one action makes."""
    return "porch-" + hashlib.sha256(f"{request_key}\0{step}".encode()).hexdigest()[:48]


def refusal(exc: stripe.StripeError) -> APIError:
    """Stripe's error as the portal's answer. The codes are listed in backend.errors and the pages
    word them in the customer's language; the message stays English, for logs and scripts."""
    import stripe

    if isinstance(exc, stripe.CardError):
        return APIError(402, "card_declined", "The card was declined.")
    if isinstance(exc, stripe.InvalidRequestError) and (exc.http_status or 0) < 500:
        if exc.http_status == 404:
            return APIError(404, "not_found", "Stripe has no such object.")
        return APIError(409, "billing_refused", "This change is no longer possible.")
    # Connection failures, timeouts, Stripe's 5xx and rate limits, and a key Stripe refuses: nothing
    # changed, and trying again later may work; the merchant sees the cause in the log.
    return APIError(503, "billing_unavailable", "Billing is unavailable right now; nothing was changed. Try again later.",
                    headers={"Retry-After": "30"})


@contextmanager
def refusals() -> Iterator[None]:
    """Run Stripe calls; a Stripe error leaves as the APIError the portal answers with (and the
    transaction around it rolls back), its cause logged for the merchant."""
    import stripe

    try:
        yield
    except stripe.StripeError as exc:
        log.warning("Stripe refused or failed: %s (%s, request %s)", exc.user_message or str(exc),
                    type(exc).__name__, exc.request_id)
        raise refusal(exc) from exc
