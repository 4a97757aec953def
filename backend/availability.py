"""Which actions the server accepts now, for one subscription or one payment method.

One rule, two uses: the portal's answer lists each object's `actions` from these functions, and
the handlers refuse by calling the same ones, so the page never offers what the server would
refuse, and the server never refuses what the page offered. Each `*_refusal` function returns the
error the server answers with, or None when the action is accepted.

Statuses follow Stripe's meanings:
- canceled, incomplete_expired: ended; nothing can be done.
- incomplete: the first payment has not gone through; Stripe lets only the payment method and
  metadata change, so it can be neither canceled nor changed (it expires if not paid in 23 hours).
- past_due, unpaid: a payment failed; the customer may cancel, but changes plan only once the
  open invoice is settled.
- paused: no invoices are made (a trial ended without a payment method, or the merchant paused
  it); it can be canceled, and then ends at once: there is no running period to wait for.
- active with `pause_collection`: invoices are made but not collected; all actions as active."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from backend import proration, retention
from backend.config import Config, SubscriptionUpdate, UpdatableProduct
from backend.credit import period_of
from backend.errors import APIError
from backend.store.billing import ref

ENDED = ("canceled", "incomplete_expired")
# Plans change only while they are paid up or in trial: a failed payment is settled first.
UPDATABLE = ("active", "trialing")
# Stripe lets an incomplete subscription change only its payment method and metadata.
NOT_CANCELABLE = ENDED + ("incomplete",)
# A subscription in one of these states still charges, so it needs a payment method to stay.
CHARGING = ("active", "trialing", "past_due", "unpaid")
SUBSCRIPTION_ACTIONS = ("cancel", "resume", "update", "retention")
PAYMENT_METHOD_ACTIONS = ("make_default", "remove")


def pending_cancel(sub: dict[str, Any]) -> bool:
    return bool(sub.get("cancel_at_period_end") or sub.get("cancel_at"))


def ends_at_once(config: Config, sub: dict[str, Any]) -> bool:
    """Whether a cancellation ends the subscription now rather than at its period's end."""
    return config.features.subscription_cancel.mode == "immediately" or sub.get("status") == "paused"


# Features: each endpoint of the table names one of these (backend/pipeline.py), and the pipeline
# refuses with its answer before it reads the body.


def login_feature(config: Config) -> APIError | None:
    if not config.login_link.enabled:
        return APIError(404, "login_disabled", "Sign-in is switched off for this portal.")
    return None


def customer_update_feature(config: Config) -> APIError | None:
    if not config.features.customer_update.enabled:
        return APIError(403, "feature_disabled", "Updating billing details is switched off.")
    return None


def invoice_history_feature(config: Config) -> APIError | None:
    if not config.features.invoice_history.enabled:
        return APIError(403, "feature_disabled", "Invoice history is switched off.")
    return None


# Subscriptions


def cancel_feature(config: Config) -> APIError | None:
    if not config.features.subscription_cancel.enabled:
        return APIError(403, "feature_disabled", "Canceling subscriptions is switched off.")
    return None


def cancel_refusal(config: Config, sub: dict[str, Any]) -> APIError | None:
    if refused := cancel_feature(config):
        return refused
    status = sub.get("status")
    if status in ENDED:
        return APIError(409, "not_cancelable", "This subscription has already ended.")
    if status in NOT_CANCELABLE:
        return APIError(409, "not_cancelable", "Pay the first invoice, or let it expire: an incomplete subscription "
                        "cannot be canceled.")
    if pending_cancel(sub):
        return APIError(409, "not_cancelable", "This subscription is already set to cancel.")
    return None


def resume_refusal(sub: dict[str, Any]) -> APIError | None:
    """Undoing a cancellation at the period's end is never switched off: keeping a customer always is."""
    if sub.get("status") in ENDED or not pending_cancel(sub):
        return APIError(409, "not_resumable", "This subscription is not set to cancel.")
    return None


def retention_feature(config: Config) -> APIError | None:
    feature = config.features.subscription_cancel
    if not feature.enabled or not feature.retention.enabled:
        return APIError(403, "feature_disabled", "There is no offer for staying.")
    return None


def retention_refusal(config: Config, sub: dict[str, Any], taken: bool) -> APIError | None:
    """The offer is made on the way to a cancellation, so only where a cancellation would be accepted."""
    if refused := retention_feature(config):
        return refused
    if cancel_refusal(config, sub):
        return APIError(409, "not_cancelable", "The offer is for subscriptions that can be canceled and are not "
                        "set to end.")
    if not retention.open_to(config, sub, taken):
        return APIError(409, "offer_used", "This subscription has had the offer already." if taken
                        else "This subscription already has a discount.")
    return None


def update_feature(config: Config) -> APIError | None:
    if not config.features.subscription_update.enabled:
        return APIError(403, "feature_disabled", "Changing plans is switched off.")
    return None


def entry_of(feature: SubscriptionUpdate, product: str | None) -> UpdatableProduct | None:
    """The configured entry of a product: the first one, when it is listed twice."""
    return next((entry for entry in feature.products if entry.product == product), None)


def adjustable(feature: SubscriptionUpdate, entry: UpdatableProduct | None) -> bool:
    return entry is not None and entry.adjustable_quantity.enabled and "quantity" in feature.default_allowed_updates


def update_refusal(config: Config, sub: dict[str, Any]) -> APIError | None:
    """Whether the subscription may change plan or quantity at all; `sub` with its items' prices expanded.
    Which plan or quantity it may change to is the catalogue's to say (backend/plans.py)."""
    if refused := update_feature(config):
        return refused
    status = sub.get("status")
    if status in ENDED or pending_cancel(sub):
        return APIError(409, "not_updatable", "A subscription that is ending cannot change plans.")
    if status not in UPDATABLE:
        return APIError(409, "not_updatable", "Settle the open invoice before changing plans.")
    items = list((sub.get("items") or {}).get("data") or [])
    if len(items) != 1:
        return APIError(409, "not_updatable", "Only a subscription with one plan can be changed here.")
    price = items[0].get("price")
    price = price if isinstance(price, dict) else {}
    recurring = price.get("recurring")
    start, end = period_of(sub)
    if not start or not end or end <= start or not isinstance(recurring, dict) or recurring.get(
            "interval") not in proration.DAYS:
        return APIError(409, "not_updatable", "This subscription's plan cannot be changed here.")
    feature = config.features.subscription_update
    entry = entry_of(feature, ref(price.get("product")))
    if entry is None or ("price" not in feature.default_allowed_updates and not adjustable(feature, entry)):
        return APIError(409, "not_updatable", "This subscription's plan is not one that can be changed here.")
    return None


def subscription_actions(config: Config, sub: dict[str, Any], taken: bool) -> list[str]:
    """What the server accepts now for this subscription (its items' prices expanded; `taken`: the
    retention offer was accepted before)."""
    refusals = {
        "cancel": cancel_refusal(config, sub), "resume": resume_refusal(sub), "update": update_refusal(config, sub),
        "retention": retention_refusal(config, sub, taken),
    }
    return [action for action in SUBSCRIPTION_ACTIONS if refusals[action] is None]


# Payment methods


def payment_method_feature(config: Config) -> APIError | None:
    if not config.features.payment_method_update.enabled:
        return APIError(403, "feature_disabled", "Changing payment methods is switched off.")
    return None


def add_refusal(config: Config) -> APIError | None:
    """Whether the customer can be sent to add a payment method: with the local engine, to the
    merchant's add_url; with either, back to the portal's address, login_link.url."""
    if refused := payment_method_feature(config):
        return refused
    if config.billing.engine == "local" and not config.features.payment_method_update.add_url:
        return APIError(403, "feature_disabled",
                        "Adding a payment method is not set up: features.payment_method_update.add_url is unset.")
    if not config.login_link.url:
        return APIError(403, "feature_disabled", "Adding a payment method is not set up: login_link.url is unset.")
    return None


def default_of(customer: dict[str, Any]) -> str | None:
    """The customer's default payment method, by id whether Stripe gave the id or the expanded object."""
    return ref((customer.get("invoice_settings") or {}).get("default_payment_method"))


def make_default_refusal(config: Config, method_id: str, customer: dict[str, Any]) -> APIError | None:
    if refused := payment_method_feature(config):
        return refused
    if default_of(customer) == method_id:
        return APIError(409, "already_default", "This is already the default payment method.")
    return None


def charging(subscriptions: Iterable[dict[str, Any]]) -> bool:
    return any(sub.get("status") in CHARGING for sub in subscriptions)


def remove_refusal(config: Config, method_id: str, methods: Iterable[dict[str, Any]],
                   subscriptions: Iterable[dict[str, Any]]) -> APIError | None:
    """`methods`: all the customer's payment methods; `subscriptions`: all their subscriptions."""
    if refused := payment_method_feature(config):
        return refused
    if not any(m["id"] != method_id for m in methods) and charging(subscriptions):
        return APIError(409, "last_payment_method",
                        "Add another payment method before removing this one: your subscription needs one to renew.")
    return None


def payment_method_actions(config: Config, method: dict[str, Any], customer: dict[str, Any],
                           methods: list[dict[str, Any]], subscriptions: list[dict[str, Any]]) -> list[str]:
    refusals = {
        "make_default": make_default_refusal(config, method["id"], customer),
        "remove": remove_refusal(config, method["id"], methods, subscriptions),
    }
    return [action for action in PAYMENT_METHOD_ACTIONS if refusals[action] is None]
