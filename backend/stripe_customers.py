"""The stripe engine's changes to customers and their payment methods (see backend.engine).

Each change is made in Stripe and answered with the objects as Stripe now has them, read through
backend.stripe_objects. Adding a card happens on a Stripe Checkout page in setup mode: Porch never
sees card numbers, and Stripe shows whatever payment methods the merchant enabled."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import stripe
from stripe.params import CustomerUpdateParams

from backend import stripe_api, stripe_objects
from backend.billing_types import Customer, PaymentMethod, ref
from backend.config import Config
from backend.engine import Call
from backend.errors import APIError

# Stripe answers a customer without its tax ids unless asked (since 2020-08-27); a customer stored
# without them would lose the ones the store has.
WITH_TAX_IDS = ["tax_ids"]
# Checkout puts the session's id here on the way back (Stripe's own placeholder, written as is).
SESSION_ID = "session_id={CHECKOUT_SESSION_ID}"
# The locales Checkout is shown in (checkout.sessions.create `locale`, API 2026-10-28).
CHECKOUT_LOCALES = (
    "bg", "cs", "da", "de", "el", "en", "en-GB", "es", "es-419", "et", "fi", "fil", "fr", "fr-CA", "hi-IN", "hr",
    "hu", "id", "it", "ja", "ko", "lt", "lv", "ms", "mt", "nb", "nl", "pl", "pt", "pt-BR", "ro", "ru", "sk", "sl",
    "sv", "th", "tr", "vi", "zh", "zh-HK", "zh-TW",
)
# Englishes that write dates day first and spell as Britain does: Checkout's en-GB, not its (American) en.
NEAREST_LOCALE = {"en-au": "en-GB", "en-ie": "en-GB", "en-in": "en-GB", "en-nz": "en-GB", "en-sg": "en-GB"}
INVALID_TAX_ID = "This tax ID is not valid. Check it and try again."


def checkout_locale(locale: str) -> str:
    """Porch's locale (such as pt_BR) as Checkout's (pt-BR): the same, else its language's, else
    "auto" (the customer's browser's, for a language Checkout does not have)."""
    known = {name.lower(): name for name in CHECKOUT_LOCALES}
    tag = locale.replace("_", "-").lower()
    for candidate in (tag, tag.split("-")[0]):
        if candidate in NEAREST_LOCALE:
            return NEAREST_LOCALE[candidate]
        if candidate in known:
            return known[candidate]
    return "auto"


def with_session_id(return_url: str) -> str:
    """The return URL with Checkout's session id added to its query (any query it has is kept)."""
    parts = urlsplit(return_url)
    return urlunsplit(parts._replace(query=f"{parts.query}&{SESSION_ID}" if parts.query else SESSION_ID))


def _unset_as_empty(value: Any) -> Any:
    """None as Stripe's way to clear a field, the empty string (the SDK leaves None out of a request)."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return {key: _unset_as_empty(inner) for key, inner in value.items()}
    return value


def _stored(answer: Any) -> dict[str, Any]:
    """Stripe's answer in the store's one shape."""
    (_, obj), *_ = stripe_objects.normalise(stripe_api.as_dict(answer))
    return obj


def _not_added() -> APIError:
    return APIError(404, "not_found", "No payment method was added.")


class CustomerActions:
    client: stripe.StripeClient
    config: Config

    def _key(self, call: Call, step: str) -> stripe.RequestOptions:
        return {"idempotency_key": stripe_api.idempotency_key(call.key, step)}

    def update_customer(self, call: Call, customer: Customer, changes: dict[str, Any]) -> dict[str, Any]:
        """Tax ids first: a refused one (the likeliest refusal) then stops the change before the
        billing details are. The answer carries the customer's tax ids as Stripe lists them."""
        fields = {name: _unset_as_empty(value) for name, value in changes.items() if name != "tax_ids"}
        if "tax_ids" in changes:
            self._replace_tax_ids(call, customer, changes["tax_ids"] or [])
        with stripe_api.refusals():
            if fields:
                params = cast(CustomerUpdateParams, fields | {"expand": WITH_TAX_IDS})
                return _stored(self.client.v1.customers.update(customer.id, params, self._key(call, "customer")))
            return _stored(self.client.v1.customers.retrieve(customer.id, {"expand": WITH_TAX_IDS}))

    def _replace_tax_ids(self, call: Call, customer: Customer, wanted: list[dict[str, Any]]) -> None:
        """Create the entries without an id, delete those the customer had and no longer lists. What
        the customer had is the list they edited, the store's: a tax id added in Stripe since then
        and not yet synced is not theirs to remove unseen."""
        kept = {entry["id"] for entry in wanted if entry.get("id")}
        for n, entry in enumerate(wanted):
            if entry.get("id"):
                continue
            try:
                with stripe_api.refusals():
                    self.client.v1.customers.tax_ids.create(
                        customer.id, {"type": entry["type"], "value": entry["value"]},
                        self._key(call, f"tax_id {entry['type']} {entry['value']}"))
            except APIError as refused:
                # Stripe checks the number against its type and, for some, against the issuing
                # country's register; Porch's own check let it through.
                if refused.code != "billing_refused":
                    raise
                raise APIError(400, "invalid_tax_id", INVALID_TAX_ID, param=f"tax_ids[{n}].value") from refused
        on_file = (customer.data.get("tax_ids") or {}).get("data", [])
        for old in on_file:
            if old["id"] in kept:
                continue
            try:
                with stripe_api.refusals():
                    # A DELETE takes no idempotency key: a repeat answers 404, handled below.
                    self.client.v1.customers.tax_ids.delete(customer.id, old["id"])
            except APIError as refused:
                # Already gone (a repeated request, or removed in Stripe's Dashboard): as asked.
                if refused.code != "not_found":
                    raise

    def set_default_payment_method(self, call: Call, customer: Customer, method: PaymentMethod) -> dict[str, Any]:
        with stripe_api.refusals():
            return _stored(self.client.v1.customers.update(
                customer.id, {"invoice_settings": {"default_payment_method": method.id}, "expand": WITH_TAX_IDS},
                self._key(call, "default payment method")))

    def detach_payment_method(self, call: Call, method: PaymentMethod) -> None:
        with stripe_api.refusals():
            self.client.v1.payment_methods.detach(method.id, None, self._key(call, "detach"))

    def add_payment_method_url(self, call: Call, customer: Customer, return_url: str) -> str:
        """A Checkout Session in setup mode. Its currency is required when Stripe chooses the payment
        methods to offer (the merchant's settings, not a fixed list): the customer's own (the one
        Stripe bills their subscriptions in), else the account's default."""
        with stripe_api.refusals():
            # Every Stripe account has a default currency (its country's); only a connected
            # account may lack one, and Porch acts for the account itself.
            currency = cast(str, customer.data.get("currency")
                            or self.client.v1.accounts.retrieve_current().default_currency)
            session = self.client.v1.checkout.sessions.create({
                "mode": "setup", "customer": customer.id, "currency": currency,
                # Back without a card, the customer lands on the portal itself: the return URL's query
                # says a card was added, which would end a payment-method flow as if one had been.
                "success_url": with_session_id(return_url), "cancel_url": urlunsplit(urlsplit(return_url)._replace(query="")),
                "locale": checkout_locale(call.locale),
            }, self._key(call, "checkout session"))
        if not session.url:
            raise APIError(503, "billing_unavailable", "Stripe gave no page to add a payment method. Try again later.")
        return session.url

    def payment_method_added(self, call: Call, customer: Customer, session: str) -> list[dict[str, Any]]:
        """The payment method the customer's completed Checkout Session saved, read from Stripe on
        their return. A customer who had no default payment method gets the new one as their
        default, as Stripe's own customer portal does, so that their next invoice is paid with it;
        the customer as Stripe then answers is returned too, so the page shows the new default at once.
        Someone else's session, or one not completed, is refused as not found."""
        if not session.startswith("cs_"):
            raise _not_added()
        with stripe_api.refusals():
            found = stripe_api.as_dict(self.client.v1.checkout.sessions.retrieve(
                session, {"expand": ["setup_intent.payment_method"]}))
        # Expanded as asked: null until the customer has been through Checkout.
        intent = found.get("setup_intent") or {}
        method = intent.get("payment_method")
        if (not isinstance(method, dict) or ref(found.get("customer")) != customer.id or found.get("mode") != "setup"
                or found.get("status") != "complete" or intent.get("status") != "succeeded"):
            raise _not_added()
        if customer.default_payment_method is None:
            return [_stored(method), self.set_default_payment_method(call, customer, PaymentMethod.of(method))]
        return [_stored(method)]
