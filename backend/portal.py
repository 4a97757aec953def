"""The billing JSON a signed-in customer sees. Every object sent to a browser, and every object
inside one, has its own list of the fields the portal shows: the merchant's metadata, card
fingerprints and whatever field Stripe adds next stay on the server, however deep they sit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from backend import addresses, availability
from backend.config import DEFAULT_CONFIGURATION, Config, Features
from backend.markup import headline_html


class Value:
    """A JSON string, number, boolean or null; an object or a list where one was expected is dropped."""


class Id:
    """An object's id: Stripe gives an id or, expanded, the whole object, of which only the id is shown."""


class Https:
    """A link the page puts in an href: an absolute https:// URL, or null."""


@dataclass(frozen=True)
class Each:
    """A JSON array whose entries all have one shape."""

    shape: Shape


@dataclass(frozen=True)
class Listed:
    """A Stripe list object ({"object": "list", "data": [...], "has_more"?}), or a bare array of the same entries."""

    shape: Shape


Shape = type[Value] | type[Id] | type[Https] | Each | Listed | dict[str, "Shape"]


def fields(names: str, **nested: Shape) -> dict[str, Shape]:
    """An object's shape: the plain values it shows, by name, and the shape of each nested field."""
    return dict.fromkeys(names.split(), Value) | nested


ADDRESS = fields("line1 line2 city state postal_code country")
TAX_ID = fields("id object type value country", verification=fields("status"))
CUSTOMER = fields(
    "id object name email phone currency created balance",
    address=ADDRESS, shipping=fields("name phone", address=ADDRESS), tax_ids=Listed(TAX_ID),
    invoice_settings=fields("", default_payment_method=Id), preferred_locales=Each(Value),
)
PRODUCT = fields("id object name description")
PRICE = fields("id object currency unit_amount nickname type", recurring=fields("interval interval_count"),
               product=PRODUCT)
COUPON = fields("id object name percent_off amount_off currency duration duration_in_months")
DISCOUNT = fields("id object start end", coupon=COUPON)
ITEM = fields("id object quantity current_period_start current_period_end", price=PRICE)
SUBSCRIPTION = fields(
    "id object status cancel_at_period_end cancel_at canceled_at ended_at current_period_start current_period_end "
    "trial_start trial_end start_date currency created",
    items=Listed(ITEM),
    default_payment_method=Id, cancellation_details=fields("reason feedback comment"),
    discounts=Each(DISCOUNT), latest_invoice=Id,
    # Stripe's pause of collection: invoices are made but not charged, until resumes_at when given.
    pause_collection=fields("behavior resumes_at"),
    # Porch's own pending change ({price, quantity, effective_at}), or Stripe's subscription schedule by id.
    schedule=fields("id quantity effective_at", price=Id),
)
INVOICE_LINE = fields(
    "id object type description quantity amount amount_excluding_tax unit_amount_excluding_tax currency proration",
    period=fields("start end"), price=PRICE,
    discount_amounts=Each(fields("amount", discount=Id)), discounts=Each(DISCOUNT),
    tax_amounts=Each(fields("amount inclusive taxable_amount taxability_reason", tax_rate=Id)),
    pricing=fields("type unit_amount_decimal", price_details=fields("", price=Id, product=Id)),
)
INVOICE_LINKS = ("hosted_invoice_url", "invoice_pdf")
# One tax as the receipt names it ("VAT 19%, included"): the reader's canonical row of total_taxes.
INVOICE_TAX = fields("amount inclusive taxable_amount display_name percentage", tax_rate=Id)
INVOICE = fields(
    "id object number created currency total subtotal tax amount_due amount_paid amount_remaining status "
    "period_start period_end due_date",
    lines=Listed(INVOICE_LINE), subscription=Id, **dict.fromkeys(INVOICE_LINKS, Https),
    total_taxes=Each(INVOICE_TAX), total_discount_amounts=Each(fields("amount", discount=Id)),
    # Expanded, a discount names its coupon on the receipt; by id it is only an id.
    discounts=Each(DISCOUNT),
)
# What a customer knows each kind of payment method by, for every type in Stripe's PaymentMethod
# reference: the card's brand, last four digits and expiry, the wallet it sits in; the bank's name, or
# the code that names the bank where Stripe gives no name (SEPA bank code, UK sort code, BSB), with the
# account's last four digits; the email or handle of a wallet account. Never a fingerprint, a full
# account or routing number, a mandate, a buyer id, a tax id or a date of birth. A type not listed
# (iDEAL, Klarna, ...) is shown by its name alone.
CARD = fields("brand display_brand last4 exp_month exp_year", wallet=fields("type"))
PRESENT_CARD = fields("brand last4 exp_month exp_year", wallet=fields("type"))
METHOD_DETAILS: dict[str, Shape] = {
    "card": CARD, "card_present": PRESENT_CARD, "interac_present": PRESENT_CARD, "kr_card": fields("last4"),
    "sepa_debit": fields("bank_code last4"), "bacs_debit": fields("sort_code last4"),
    "au_becs_debit": fields("bsb_number last4"), "payto": fields("bsb_number last4"),
    "us_bank_account": fields("bank_name last4"), "acss_debit": fields("bank_name last4"),
    "nz_bank_account": fields("bank_name last4"),
    "link": fields("email"), "paypal": fields("payer_email"), "cashapp": fields("cashtag"), "upi": fields("vpa"),
    "custom": fields("display_name"),
}
PAYMENT_METHOD = fields(
    "id object type created", billing_details=fields("name email phone", address=ADDRESS), **METHOD_DETAILS,
)
# Another customer with the signed-in email address, in the menu of accounts (backend/accounts.py).
ACCOUNT = fields("id name created", subscriptions=Each(fields("status plan")))
# Who a receipt is for: the invoice's snapshot of the customer, or the customer as now.
RECEIPT_CUSTOMER = fields("name email", address=ADDRESS, tax_ids=Each(fields("type value")))

# Where each kind holds postal addresses; a browser gets each one's lines in its country's order too.
POSTAL = {"customer": (("address",), ("shipping", "address")), "payment_method": (("billing_details", "address"),),
          "receipt_customer": (("address",),)}

FIELDS: dict[str, dict[str, Shape]] = {
    "customer": CUSTOMER, "subscription": SUBSCRIPTION, "item": ITEM, "price": PRICE, "product": PRODUCT, "invoice": INVOICE,
    "payment_method": PAYMENT_METHOD, "receipt_customer": RECEIPT_CUSTOMER, "account": ACCOUNT,
}
_DROP = object()


def https_url(value: Any) -> bool:
    """Whether a link is an absolute https:// URL with a host: no javascript:, data: or plain http."""
    if not isinstance(value, str) or value != value.strip():
        return False
    parts = urlsplit(value)
    return parts.scheme == "https" and bool(parts.hostname)


SCALARS = (str, int, float, bool)
Shown = Callable[[Any], Any]


def _shown(shape: Shape) -> Shown:
    """The function that gives what of a value a browser may see, or _DROP when nothing of it fits
    the shape. Made once per shape: every object of the portal's answer, at every depth, passes one,
    and walking the shape's description for each value cost the portal a fifth of its time."""
    if shape is Value:
        return lambda value: value if value is None or isinstance(value, SCALARS) else _DROP
    if shape is Id:
        def an_id(value: Any) -> Any:
            found = value.get("id") if isinstance(value, dict) else value
            return found if value is None or isinstance(found, str) else _DROP
        return an_id
    if shape is Https:
        return lambda value: value if https_url(value) else None
    if isinstance(shape, Each):
        return _each(_shown(shape.shape))
    if isinstance(shape, Listed):
        entries = _each(_shown(shape.shape))

        def listed(value: Any) -> Any:
            if value is None:
                return None
            data = entries((value.get("data") if isinstance(value, dict) else value) or [])
            if data is _DROP:
                return _DROP
            more = {"has_more": value["has_more"] is True} if isinstance(value, dict) and "has_more" in value else {}
            return {"object": "list", "data": data} | more
        return listed
    assert isinstance(shape, dict)
    # A plain value's check is written out here: a call for each of an object's fields would cost more than the check.
    inner = [(key, None if each is Value else _shown(each)) for key, each in shape.items()]

    def an_object(value: Any) -> Any:
        if not isinstance(value, dict):
            return value if value is None or isinstance(value, str) else _DROP  # a string: an object not expanded, its id
        out = {}
        for key, show in inner:
            if key in value:
                found = value[key]
                if show is None:
                    if found is None or isinstance(found, SCALARS):
                        out[key] = found
                elif (found := show(found)) is not _DROP:
                    out[key] = found
        return out
    return an_object


def _each(show: Shown) -> Shown:
    def each(value: Any) -> Any:
        if value is None:
            return None
        return [shown for v in value if (shown := show(v)) is not _DROP] if isinstance(value, list) else _DROP
    return each


SHOWN = {kind: _shown(shape) for kind, shape in FIELDS.items()}


def pick(kind: str, obj: dict[str, Any], lines: bool = True) -> dict[str, Any]:
    """A stored object as a browser may see it: the fields of FIELDS[kind], at every depth, and
    with `lines` each postal address's `lines` ("10117 Berlin"), which the page shows as they come.
    Events leave them out (lines=False): their objects keep Stripe's fields only."""
    shown: dict[str, Any] = SHOWN[kind](obj)
    for path in POSTAL.get(kind, ()) if lines else ():
        *parents, last = path
        holder: Any = shown
        for key in parents:
            holder = holder.get(key) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and isinstance(holder.get(last), dict):
            found = addresses.lines(holder[last])
            if found:
                holder[last] = holder[last] | {"lines": found}
    return shown


def invoice_taxes(invoice: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per tax the invoice charged or included: the reader stores them as `total_taxes`
    whatever shape they came in. An invoice that gives only its `tax` total shows that as one unnamed row."""
    rows = invoice.get("total_taxes")
    if not isinstance(rows, list) or not rows:
        tax = invoice.get("tax")
        return [{"amount": tax, "inclusive": False}] if isinstance(tax, int) and tax else []
    return [{"display_name": None, "percentage": None} | row for row in rows if isinstance(row, dict)]


def invoice_actions(shown: dict[str, Any], engine: str) -> list[str]:
    """What the customer can do with an invoice as shown: pay what is still due of an open one. The
    Stripe engine charges the card on file or names Stripe's page for it, so every such invoice; the
    local engine only sends the customer to the invoice's hosted page, so only when the data has that
    page (shown only as an https link)."""
    remaining = shown.get("amount_remaining")
    due = shown.get("status") == "open" and isinstance(remaining, int) and remaining > 0
    return ["pay"] if due and (engine == "stripe" or shown.get("hosted_invoice_url")) else []


def invoice_object(obj: dict[str, Any]) -> dict[str, Any]:
    """An invoice's fields as they leave the server: its lines carry only what a receipt shows, its
    links only https, its taxes as rows whatever shape they came in."""
    return pick("invoice", obj | {"total_taxes": invoice_taxes(obj)})


def invoice(obj: dict[str, Any], engine: str) -> dict[str, Any]:
    """An invoice as the customer sees it, with the actions open to them (events carry no actions)."""
    shown = invoice_object(obj)
    return shown | {"actions": invoice_actions(shown, engine)}


def subscription(sub: dict[str, Any]) -> dict[str, Any]:
    out = pick("subscription", sub)
    out.setdefault("items", {"object": "list", "data": []})
    return out


def business(config: Config) -> dict[str, Any]:
    return {
        "name": config.business.name,
        "headline_html": headline_html(config.business.headline_in(config.locales.default, config.locales.default)),
        "privacy_policy_url": config.business.privacy_policy_url,
        "terms_of_service_url": config.business.terms_of_service_url,
        "support_email": config.business.support_email,
        "default_return_url": config.default_return_url,
    }


def features(found: Features) -> dict[str, Any]:
    """What the page needs to draw each feature's buttons and dialogs. Where adding a card happens and
    the name of the key that signs it stay on the server: the page asks for a signed link when it needs one."""
    cancel = found.subscription_cancel
    return {
        "customer_update": {"enabled": found.customer_update.enabled,
                            "allowed_updates": list(found.customer_update.allowed_updates)},
        "invoice_history": {"enabled": found.invoice_history.enabled},
        "payment_method_update": {"enabled": found.payment_method_update.enabled,
                                  "can_add": found.payment_method_update.add_url is not None},
        "subscription_cancel": {
            "enabled": cancel.enabled, "mode": cancel.mode,
            "cancellation_reason": {"enabled": cancel.cancellation_reason.enabled,
                                    "options": list(cancel.cancellation_reason.options)},
            "retention": {"enabled": cancel.retention.enabled, "percent_off": cancel.retention.percent_off,
                          "duration_in_months": cancel.retention.duration_in_months},
        },
        "subscription_update": {"enabled": found.subscription_update.enabled,
                                "products": [{"product": p.product} for p in found.subscription_update.products]},
    }


def shared(config: Config) -> dict[str, Any]:
    """The part of the portal's answer that is the same for every customer: made once per app."""
    return {"features": features(config.features), "business": business(config)}


def shared_by_configuration(config: Config) -> dict[str, dict[str, Any]]:
    """The same part for each configuration, by name: a session sees its configuration's."""
    return {name: shared(config.configuration(name)) for name in (DEFAULT_CONFIGURATION, *config.configurations)}


def payment_methods(config: Config, customer: dict[str, Any], methods: list[dict[str, Any]],
                    subscriptions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The customer's payment methods, each with the actions the server accepts for it now."""
    return [pick("payment_method", m) | {"actions": availability.payment_method_actions(
        config, m, customer, methods, subscriptions)} for m in methods]


def view(config: Config, data: dict[str, Any], same_for_all: dict[str, Any] | None = None) -> dict[str, Any]:
    taken = {offer["subscription"] for offer in data.get("retention_offers", [])}
    subscriptions = data["subscriptions"]
    return {
        "customer": pick("customer", data["customer"]),
        # What the page may offer is the server's own rule, told per subscription and per payment method.
        "subscriptions": [subscription(s) | {"actions": availability.subscription_actions(config, s, s["id"] in taken)}
                          for s in subscriptions],
        "invoices": [invoice(i, config.billing.engine) for i in data["invoices"]],
        "payment_methods": payment_methods(config, data["customer"], data["payment_methods"], subscriptions),
    } | (same_for_all or shared(config))
