"""What `python -m backend check` says of the Stripe settings, and how the commands word Stripe's refusals.

The key is tried with one call the portal needs anyway: listing one customer. A restricted key given
the permissions Porch needs (Customers: Write among them) can make it, so a key that passes here is
not refused later for this reason; Balance or Account, which the portal never reads, would fail
such a key for nothing."""

from __future__ import annotations

import re

import stripe

from backend import stripe_api
from backend.settings import Settings

WEBHOOK_SECRET_PREFIX = "whsec_"
# Stripe names the permission a restricted key lacks in its message, such as 'rak_customer_read'.
PERMISSION = re.compile(r"'(rak_[a-z_]+)'")
PERMISSIONS_HELP = "Give the restricted key the permissions listed in the README's \"Connect Stripe\"."


def problem(exc: stripe.StripeError, settings: Settings, doing: str) -> str:
    """Stripe's error, `doing` something, as one sentence naming the setting to fix."""
    if isinstance(exc, stripe.AuthenticationError):
        return ("PORCH_STRIPE_SECRET_KEY was refused by Stripe (401): it is not a secret (sk_) or restricted (rk_) "
                "key of an account, or it was rolled. Copy it again from https://dashboard.stripe.com/apikeys")
    if isinstance(exc, stripe.PermissionError):
        named = PERMISSION.search(str(exc.user_message or exc))
        refused = f"403, it lacks {named.group(1)}" if named else f"403: {str(exc.user_message or exc).rstrip('.')}"
        return (f"PORCH_STRIPE_SECRET_KEY lacks a permission Porch needs: Stripe refused {doing} ({refused}). "
                + PERMISSIONS_HELP)
    if isinstance(exc, stripe.APIConnectionError):
        return (f"cannot reach Stripe at {settings.stripe_api_base} (PORCH_STRIPE_API_BASE) {doing}: the "
                "connection failed. Check the address and this machine's network")
    return f"Stripe answered {exc.http_status or 'an error'} {doing}: {exc.user_message or exc}. Try again later"


def problems(settings: Settings, client: stripe.StripeClient | None = None) -> list[str]:
    """Everything missing or refused in the Stripe settings; an empty list when Stripe accepts them. The
    client is the settings' own unless one is given."""
    found = []
    try:
        client = client or stripe_api.client(settings, retries=0)
        client.v1.customers.list({"limit": 1})
    except stripe_api.NotConfigured as exc:
        found.append(str(exc))
    except stripe.StripeError as exc:
        found.append(problem(exc, settings, "to list customers"))
    secret = settings.stripe_webhook_secret
    if not secret:
        found.append("PORCH_STRIPE_WEBHOOK_SECRET is unset: billing.engine is stripe, and Porch checks Stripe's "
                     "webhooks with it. `python -m backend stripe webhook --url https://YOUR-PORTAL/api/stripe/webhook` "
                     "registers the endpoint and prints it")
    elif not secret.startswith(WEBHOOK_SECRET_PREFIX):
        found.append("PORCH_STRIPE_WEBHOOK_SECRET does not start with whsec_: set it to the webhook endpoint's "
                     "signing secret, not an API key")
    return found
