"""The stripe engine: every change is made in the merchant's Stripe account first (see backend.engine).

Each action makes its Stripe calls inside stripe_api.refusals(), so that a Stripe error leaves as the
portal's APIError and nothing is stored; every POST carries an idempotency key derived from the portal
request's and the step, so that a repeated request changes nothing twice. Stripe's answers go through
backend.stripe_objects: what an action returns is in the store's one shape, whatever the account's
API version (and localstripe's 2017 shapes)."""

from __future__ import annotations

from typing import Any

import stripe
from stripe.params import (
    InvoiceCreatePreviewParamsSubscriptionDetails,
    SubscriptionCancelParams,
    SubscriptionScheduleUpdateParamsPhase,
    SubscriptionUpdateParams,
)

from backend import stripe_api
from backend.billing_types import Customer, Invoice, Price, Subscription, ref
from backend.config import Config, RetentionOffer
from backend.engine import Call, Changed, Payment, Preview
from backend.errors import APIError
from backend.stripe_customers import CustomerActions
from backend.stripe_objects import Found, normalise

# The retention offer's coupon: one per offer, named after its terms, so that every cancellation
# flow shares it, a changed offer in config.yaml makes a new one, and the merchant recognises it.
RETENTION_COUPON = "porch_retention_{percent}_off_{months}m"


def _read_all(answer: Any) -> Found:
    return normalise(stripe_api.as_dict(answer))


def _read(answer: Any) -> dict[str, Any]:
    return _read_all(answer)[0][1]


def _options(call: Call, step: str) -> stripe.RequestOptions:
    return {"idempotency_key": stripe_api.idempotency_key(call.key, step)}


def _details(details: dict[str, Any]) -> Any:
    """Stripe's cancellation_details, with only what the customer gave (Stripe refuses an empty feedback)."""
    return {key: details[key] for key in ("feedback", "comment") if details.get(key)}


def _reused(discount: dict[str, Any]) -> Any:
    """A schedule phase's discount as a phase takes it again: by one of its references (Stripe refuses two)."""
    for key in ("discount", "coupon", "promotion_code"):
        if discount.get(key):
            return {key: str(ref(discount[key]))}
    return {}


def _only_item(sub: Subscription) -> str:
    """The item a change replaces: the portal changes subscriptions of one item (Stripe's own portal does too)."""
    if len(sub.items) != 1 or not sub.items[0].id:
        raise APIError(409, "billing_refused", "This subscription has several items; it cannot be changed here.")
    return sub.items[0].id


def preview_line(line: dict[str, Any]) -> dict[str, Any]:
    """An invoice line (normalised) as the portal's preview shows it (backend.plans LINE).

    Whether it is a proration: on the line before 2025-03-31.basil, under `parent` since."""
    parent = line.get("parent") or {}
    details = parent.get("subscription_item_details") or parent.get("invoice_item_details") or {}
    proration = line["proration"] if "proration" in line else details.get("proration")
    price = line.get("price")
    period = line.get("period") or {}
    return {
        "description": line.get("description") or "",
        "amount": int(line.get("amount") or 0),
        "proration": proration is True,
        "period": {"start": period.get("start"), "end": period.get("end")},
        "price": price.get("id") if isinstance(price, dict) else price,
        "quantity": 1 if line.get("quantity") is None else int(line["quantity"]),
    }


class StripeEngine(CustomerActions):
    name = "stripe"

    def __init__(self, client: stripe.StripeClient, config: Config):
        self.client = client
        self.config = config

    # Subscriptions.

    def _changed(self, sub: Subscription, answer: Any, customer: dict[str, Any] | None = None) -> Changed:
        """The subscription Stripe answered with, and the invoice it made now: its latest invoice,
        expanded, when that is not the one the subscription had before."""
        (_, subscription), *carried = _read_all(answer)
        made = [obj for kind, obj in carried
                if kind == "invoices" and obj["id"] == subscription.get("latest_invoice")
                and obj["id"] != sub.data.get("latest_invoice")]
        return Changed(subscription=subscription, invoice=made[0] if made else None, customer=customer)

    def cancel(self, call: Call, sub: Subscription, *, at_period_end: bool, prorate: bool,
               details: dict[str, Any]) -> Changed:
        reason = _details(details)
        with stripe_api.refusals():
            if at_period_end:
                params: SubscriptionUpdateParams = {"cancel_at_period_end": True}
                if reason:
                    params["cancellation_details"] = reason
                return self._changed(sub, self.client.v1.subscriptions.update(
                    sub.id, params, _options(call, "cancel")))
            # Cancelling now with proration credits the unused time to the customer's balance, and
            # invoice_now settles what is pending on a final invoice at once.
            now: SubscriptionCancelParams = {"prorate": prorate, "invoice_now": prorate, "expand": ["latest_invoice"]}
            if reason:
                now["cancellation_details"] = reason
            # A DELETE: Stripe takes idempotency keys on POSTs only; a repeated portal request is answered
            # from the portal's own idempotency record, and Stripe refuses to cancel a cancelled subscription.
            answer = self.client.v1.subscriptions.cancel(sub.id, now)
            customer = _read(self.client.v1.customers.retrieve(sub.customer)) if prorate else None
            return self._changed(sub, answer, customer)

    def resume(self, call: Call, sub: Subscription) -> Changed:
        # Undoing a cancel at period end; subscriptions.resume is for paused subscriptions.
        with stripe_api.refusals():
            return self._changed(sub, self.client.v1.subscriptions.update(
                sub.id, {"cancel_at_period_end": False}, _options(call, "resume")))

    def _retention_coupon(self, call: Call, offer: RetentionOffer) -> str:
        coupon = RETENTION_COUPON.format(percent=offer.percent_off, months=offer.duration_in_months)
        try:
            self.client.v1.coupons.retrieve(coupon)
        except stripe.InvalidRequestError as exc:
            if exc.http_status != 404:
                raise
            self.client.v1.coupons.create({
                "id": coupon, "duration": "repeating", "duration_in_months": offer.duration_in_months,
                "percent_off": offer.percent_off,
                "name": f"{offer.percent_off}% off for {offer.duration_in_months} months",
            }, _options(call, "retention-coupon"))
        return coupon

    def apply_retention(self, call: Call, sub: Subscription, offer: RetentionOffer) -> Changed:
        with stripe_api.refusals():
            coupon = self._retention_coupon(call, offer)
            return self._changed(sub, self.client.v1.subscriptions.update(
                sub.id, {"discounts": [{"coupon": coupon}]}, _options(call, "retention")))

    def preview_change(self, call: Call, sub: Subscription, price: Price, quantity: int,
                       proration_behavior: str) -> Preview:
        details: InvoiceCreatePreviewParamsSubscriptionDetails = {
            "items": [{"id": _only_item(sub), "price": price.id, "quantity": quantity}],
            "proration_behavior": proration_behavior,
        }
        if proration_behavior != "none":
            # The preview's prorations are computed for the moment the customer asked, as the change will
            # be; Stripe refuses a proration date without prorations.
            details["proration_date"] = call.actor.now
        with stripe_api.refusals():
            answer = stripe_api.as_dict(self.client.v1.invoices.create_preview({
                "customer": sub.customer, "subscription": sub.id, "subscription_details": details,
            }, _options(call, "preview")))
        # A preview is no invoice yet: Stripe gives it an id only in newer API versions.
        invoice = _read(answer | {"id": answer.get("id") or "upcoming"})
        lines = [preview_line(line) for line in invoice["lines"]["data"]]
        return Preview(amount_due=int(invoice.get("amount_due") or 0),
                       currency=str(invoice.get("currency") or sub.currency).lower(), lines=lines)

    def change(self, call: Call, sub: Subscription, price: Price, quantity: int, proration_behavior: str) -> Changed:
        params: SubscriptionUpdateParams = {
            "items": [{"id": _only_item(sub), "price": price.id, "quantity": quantity}],
            "proration_behavior": proration_behavior, "expand": ["latest_invoice"],
        }
        if proration_behavior == "always_invoice":
            # The prorations are invoiced and charged now: when the charge fails (declined, or the card
            # needs the customer's authentication) Stripe refuses the change and nothing changes.
            params["payment_behavior"] = "error_if_incomplete"
        with stripe_api.refusals():
            return self._changed(sub, self.client.v1.subscriptions.update(
                sub.id, params, _options(call, "change")))

    def schedule_change(self, call: Call, sub: Subscription, price: Price, quantity: int, at: int) -> Changed:
        with stripe_api.refusals():
            schedule = stripe_api.as_dict(
                self.client.v1.subscription_schedules.retrieve(str(ref(sub.schedule))) if sub.schedule else
                self.client.v1.subscription_schedules.create({"from_subscription": sub.id},
                                                             _options(call, "schedule")))
            # The phase running now (a schedule made for an earlier change may have begun long ago);
            # the phases given replace the schedule's from it on.
            started = (schedule.get("current_phase") or {}).get("start_date")
            current = next((phase for phase in schedule["phases"] if phase["start_date"] == started),
                           schedule["phases"][0])
            # Discounts of the current phase (a retention coupon) stay through both phases.
            discounts = [reused for discount in current.get("discounts") or [] if (reused := _reused(discount))]
            following: SubscriptionScheduleUpdateParamsPhase = {"items": [{"price": price.id, "quantity": quantity}]}
            if price.recurring:
                # One period of the new price; then the schedule lets go and the subscription goes on as it is.
                following["duration"] = {"interval": price.recurring["interval"],
                                         "interval_count": price.recurring.get("interval_count") or 1}
            phases: list[SubscriptionScheduleUpdateParamsPhase] = [
                {"items": [{"price": str(ref(item["price"])), "quantity": item.get("quantity") or 1}
                           for item in current["items"]],
                 "start_date": current["start_date"], "end_date": at},
                following,
            ]
            if discounts:
                for phase in phases:
                    phase["discounts"] = discounts
            self.client.v1.subscription_schedules.update(schedule["id"], {
                "phases": phases, "end_behavior": "release",
            }, _options(call, "schedule-phases"))
            # Stripe names the schedule on the subscription: read it back so that the store has it.
            return self._changed(sub, self.client.v1.subscriptions.retrieve(sub.id))

    def drop_scheduled_change(self, call: Call, sub: Subscription) -> Changed:
        if not sub.schedule:
            return Changed(subscription=sub.data)
        with stripe_api.refusals():
            # Released, the subscription stays as it is now and the scheduled phase is forgotten.
            self.client.v1.subscription_schedules.release(str(ref(sub.schedule)), options=_options(call, "release"))
            return self._changed(sub, self.client.v1.subscriptions.retrieve(sub.id))

    # Invoices.

    def pay_invoice(self, call: Call, invoice: Invoice) -> Payment:
        with stripe_api.refusals():
            customer = Customer.of(_read(self.client.v1.customers.retrieve(invoice.customer or "")))
            if customer.default_payment_method is None:
                return self._pay_on_page(invoice)
            try:
                paid = self.client.v1.invoices.pay(invoice.id, options=_options(call, "pay"))
            except stripe.StripeError as exc:
                # Declined, or the bank wants the customer to authenticate: on Stripe's page they can.
                if exc.http_status != 402:
                    raise
                return self._pay_on_page(invoice, exc)
            return Payment(invoice=_read(paid), subscription=self._after_payment(invoice))

    def _after_payment(self, invoice: Invoice) -> dict[str, Any] | None:
        """The invoice's subscription re-read once it is paid. The payment stands whatever happens here,
        so a failed read answers nothing: the subscription's webhook brings it later."""
        if invoice.subscription is None:
            return None
        try:
            return _read(self.client.v1.subscriptions.retrieve(invoice.subscription))
        except stripe.StripeError as exc:
            stripe_api.log.warning("Paid %s; its subscription could not be read: %s", invoice.id, exc)
            return None

    def _pay_on_page(self, invoice: Invoice, declined: stripe.StripeError | None = None) -> Payment:
        """Stripe's hosted invoice page, where the customer pays with a card of their choice and
        authenticates; read afresh, since the page exists only once the invoice is finalised."""
        url = Invoice.of(_read(self.client.v1.invoices.retrieve(invoice.id))).hosted_invoice_url
        if url:
            return Payment(url=url)
        if declined is not None:
            raise APIError(402, "card_declined", "The card was declined.") from declined
        raise APIError(409, "billing_refused", "This invoice cannot be paid here.")
