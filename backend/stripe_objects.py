"""One reader for Stripe's objects, whatever API version they were written in.

Stripe still answers accounts pinned to older API versions in the shapes of those versions, and
an export holds whatever the account speaks. Everything that enters the store comes through here
(the import file now; webhooks and sync next), so the rest of Porch reads one shape only:

- a reference to another object (`customer`, a price's `product`, `default_payment_method`, an
  invoice's `subscription`, `latest_invoice`, ...) is stored as its id; an object found expanded
  there is also returned to be stored as an object of its own kind. A subscription item's price
  stays expanded (the portal shows it), and is stored as a price as well;
- a legacy `plan` becomes a price (on items, on invoice lines, and a plan object itself);
- `discount` (older) is moved into `discounts` (current); a discount's `source.coupon`
  (2025-09-30.clover) is moved to `coupon`;
- the current period sits on the subscription and on each of its items (2025-03-31.basil moved it
  to the items); an invoice's subscription is read from `parent` where basil moved it; its taxes
  from `total_taxes` (basil) or `total_tax_amounts` (older) into one list, and `tax` is their sum
  where it is missing; a line's price from `pricing.price_details` (basil) or its `plan`.

A value the store or the pages rely on that is not what Stripe would send is refused, naming the
object and the field; everything else Stripe sends is kept as it came. Normalising a normalised
object changes nothing, so stored rows can be read again (migration 0005)."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from backend import portal

Obj = dict[str, Any]

# Stripe's "object" value -> the store's kind. A plan is the older form of a recurring price.
KIND_OF = {
    "product": "products", "price": "prices", "plan": "prices", "customer": "customers",
    "payment_method": "payment_methods", "subscription": "subscriptions", "invoice": "invoices",
}
# The store's kinds, in the order an import writes them, each with its singular name.
SINGULAR = {
    "products": "product", "prices": "price", "customers": "customer", "payment_methods": "payment_method",
    "subscriptions": "subscription", "invoices": "invoice",
}
# The keys of an import file, and the "object" of what each holds.
FILE_KEYS = SINGULAR | {"plans": "plan"}
SUBSCRIPTION_STATUSES = (
    "active", "trialing", "past_due", "unpaid", "incomplete", "incomplete_expired", "canceled", "paused",
)
INVOICE_STATUSES = ("draft", "open", "paid", "uncollectible", "void")
TIMES = {
    "subscriptions": ("created", "current_period_start", "current_period_end", "cancel_at", "canceled_at", "ended_at",
                      "trial_start", "trial_end", "start_date", "billing_cycle_anchor"),
    "invoices": ("created", "period_start", "period_end", "due_date"),
}
PERIOD = ("current_period_start", "current_period_end")
PAGES_HELP = (
    "Export every page: with the Stripe CLI, run `stripe {name} list --limit 100`, then again with "
    "`--starting-after` set to the id of the last object, until \"has_more\" is false, and put every page's "
    "\"data\" in one list; or use auto-pagination in Stripe's SDK, such as Python's "
    "`stripe.{sdk}.list(limit=100).auto_paging_iter()`."
)
SDK_NAMES = {"products": "Product", "prices": "Price", "plans": "Plan", "customers": "Customer",
             "payment_methods": "PaymentMethod", "subscriptions": "Subscription", "invoices": "Invoice"}


class ObjectError(ValueError):
    """An object cannot be stored as it is; the message names the object and the field, and `at` where
    the object sits in what was read (customers[3]), when it is known."""

    def __init__(self, message: str, at: str = ""):
        super().__init__(message)
        self.at = at


Found = list[tuple[str, Obj]]


def is_deleted(obj: Obj) -> bool:
    """Stripe's answer for a deleted object: {"id", "object", "deleted": true}."""
    return obj.get("deleted") is True


def _name(kind: str, obj: Obj) -> str:
    return f"{SINGULAR[kind]} {obj['id']}"


def _id(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _just_a_reference(value: Obj) -> bool:
    # {"id", "object"} (or a deleted object) says which object, not what it holds: storing it
    # would replace the object the store has with an empty one.
    return is_deleted(value) or set(value) <= {"id", "object"}


def _seconds(kind: str, obj: Obj, name: str, value: Any) -> None:
    if value is not None and (type(value) is not int or not -(2**63) <= value < 2**63):
        raise ObjectError(f"{_name(kind, obj)} needs \"{name}\" as Unix seconds, such as 1700000000")


def _times(kind: str, obj: Obj, holder: Obj, names: tuple[str, ...], prefix: str = "") -> None:
    for name in names:
        _seconds(kind, obj, prefix + name, holder.get(name))


def _reference(kind: str, obj: Obj, holder: Obj, name: str, found: Found, shown: str | None = None) -> None:
    """Store `holder[name]` as an id; an expanded object there goes to `found`, to be stored as its own kind."""
    value = holder.get(name)
    if value is None or _id(value):
        return
    if not isinstance(value, dict) or not _id(value.get("id")):
        raise ObjectError(f"{_name(kind, obj)} needs \"{shown or name}\" as an id, or an object with an \"id\"")
    holder[name] = value["id"]
    if value.get("object") in KIND_OF and not _just_a_reference(value):
        try:
            found.extend(_normalised(value))
        except ObjectError as exc:
            raise ObjectError(f"{_name(kind, obj)}, in \"{shown or name}\": {exc}") from None


def _list(value: Any) -> Obj:
    """A Stripe list object, from one or from a bare array."""
    if isinstance(value, list):
        return {"object": "list", "data": value, "has_more": False}
    value.setdefault("has_more", False)
    return value


def _list_of(kind: str, obj: Obj, name: str) -> list[Any]:
    value = obj.get(name)
    if value is None:
        value = obj[name] = {"object": "list", "data": [], "has_more": False}
    if isinstance(value, list) or (isinstance(value, dict) and isinstance(value.get("data"), list)):
        listed = obj[name] = _list(value)
        return list(listed["data"])
    raise ObjectError(f"{_name(kind, obj)} needs \"{name}\" as a list")


def _checked(value: Any, where: str) -> tuple[str, Obj]:
    """The kind of a standalone object, after the checks every object passes."""
    if not isinstance(value, dict) or not _id(value.get("id")):
        raise ObjectError(f"{where}each object needs a string \"id\"")
    stated = value.get("object")
    if stated not in KIND_OF:
        named = f"\"object\": {json.dumps(stated)}" if stated is not None else "no \"object\""
        raise ObjectError(
            f"{where}{value['id']} has {named}; Porch imports these: {', '.join(KIND_OF)}"
        )
    return KIND_OF[stated], value


def price_from_plan(plan: Obj) -> Obj:
    """A legacy plan as the price Stripe made of it: same id, `amount` as `unit_amount`, the interval as `recurring`."""
    recurring = {key: plan[key] for key in ("interval", "interval_count", "usage_type", "aggregate_usage",
                                            "trial_period_days") if key in plan}
    kept = {key: value for key, value in plan.items()
            if key not in recurring and key not in ("amount", "amount_decimal", "object")}
    return kept | {
        "object": "price", "unit_amount": plan.get("amount"), "unit_amount_decimal": plan.get("amount_decimal"),
        "recurring": recurring or None, "type": "recurring",
    }


def _price(price: Obj, found: Found) -> Obj:
    if price.get("object") == "plan":
        price = price_from_plan(price)
    for key in ("currency", "unit_amount", "nickname", "product", "recurring"):
        price.setdefault(key, None)
    price.setdefault("active", True)
    if not isinstance(price["recurring"], dict):
        price["recurring"] = None
    _reference("prices", price, price, "product", found)
    _seconds("prices", price, "created", price.get("created"))
    return price


def _carried_price(kind: str, obj: Obj, holder: Obj, found: Found, shown: str) -> None:
    """A price an item or line carries: an id, or expanded (kept expanded, and stored as a price too)."""
    value = holder.get("price")
    if value is None or _id(value):
        return
    if not isinstance(value, dict) or not _id(value.get("id")):
        raise ObjectError(f"{_name(kind, obj)} needs \"{shown}.price\" as an id, or an object with an \"id\"")
    if _just_a_reference(value):
        holder["price"] = value["id"]
        return
    try:
        holder["price"] = price = _price(value, found)
    except ObjectError as exc:
        raise ObjectError(f"{_name(kind, obj)}, in \"{shown}.price\": {exc}") from None
    found.append(("prices", copy.deepcopy(price)))


def _plan_as_price(kind: str, obj: Obj, holder: Obj, shown: str) -> None:
    """Older API versions name an item's or a line's price only as its `plan`."""
    plan = holder.get("plan")
    if holder.get("price") is not None or plan is None:
        return
    if _id(plan):
        holder["price"] = plan
    elif isinstance(plan, dict) and _id(plan.get("id")):
        holder["price"] = price_from_plan(plan)
    else:
        raise ObjectError(f"{_name(kind, obj)} needs \"{shown}.plan\" as an id, or an object with an \"id\"")


def _discount(discount: Any) -> Any:
    """A discount as an id, or expanded with its coupon in `coupon` (2025-09-30.clover moved it to `source.coupon`)."""
    if not isinstance(discount, dict):
        return discount
    source = discount.get("source")
    if discount.get("coupon") is None and isinstance(source, dict) and source.get("coupon") is not None:
        discount["coupon"] = source["coupon"]
    if _id(discount.get("coupon")):
        discount["coupon"] = {"id": discount["coupon"], "object": "coupon"}
    return discount


def _discounts(kind: str, obj: Obj) -> None:
    listed = obj.get("discounts")
    if listed is None:
        listed = []
    if not isinstance(listed, list):
        raise ObjectError(f"{_name(kind, obj)} needs \"discounts\" as a list")
    legacy = obj.pop("discount", None)
    if isinstance(legacy, dict):
        ids = {d.get("id") if isinstance(d, dict) else d for d in listed}
        if legacy.get("id") is None or legacy.get("id") not in ids:
            listed = [legacy, *listed]
    for discount in listed:
        if not _id(discount) and not isinstance(discount, dict):
            raise ObjectError(f"{_name(kind, obj)} needs each of \"discounts\" as an id, or a discount object")
        if isinstance(discount, dict):
            _times(kind, obj, discount, ("start", "end"), "discounts[].")
    obj["discounts"] = [_discount(d) for d in listed]


def _subscription(sub: Obj, found: Found) -> Obj:
    if sub.get("status") not in SUBSCRIPTION_STATUSES:
        if not isinstance(sub.get("status"), str):
            raise ObjectError(f"{_name('subscriptions', sub)} needs a \"status\"")
        raise ObjectError(f"{_name('subscriptions', sub)} has \"status\": {json.dumps(sub['status'])}; Stripe's are "
                          + ", ".join(SUBSCRIPTION_STATUSES))
    for name in ("customer", "default_payment_method", "latest_invoice"):
        _reference("subscriptions", sub, sub, name, found)
    _discounts("subscriptions", sub)
    items = _list_of("subscriptions", sub, "items")
    for item in items:
        if not isinstance(item, dict):
            raise ObjectError(f"{_name('subscriptions', sub)} needs each of \"items\" as an object")
        _plan_as_price("subscriptions", sub, item, "items[]")
        _carried_price("subscriptions", sub, item, found, "items[]")
        _times("subscriptions", sub, item, PERIOD, "items[].")
    # The period on the subscription (before 2025-03-31.basil) or on its items (since): both, here.
    first = items[0] if items else {}
    for key in PERIOD:
        if sub.get(key) is None and first.get(key) is not None:
            sub[key] = first[key]
        for item in items:
            if item.get(key) is None and sub.get(key) is not None:
                item[key] = sub[key]
    _times("subscriptions", sub, sub, TIMES["subscriptions"])
    pause = sub.get("pause_collection")
    if pause is not None and not isinstance(pause, dict):
        raise ObjectError(f"{_name('subscriptions', sub)} needs \"pause_collection\" as an object with "
                          "\"behavior\", or null")
    if pause is not None:
        _seconds("subscriptions", sub, "pause_collection.resumes_at", pause.get("resumes_at"))
        pause = {"behavior": pause.get("behavior"), "resumes_at": pause.get("resumes_at")}
    sub["pause_collection"] = pause
    return sub


def _tax_rows(invoice: Obj) -> list[Obj] | None:
    """The invoice's taxes, from `total_taxes` (2025-03-31.basil) or `total_tax_amounts` (older), in one shape."""
    given = invoice.get("total_taxes")
    if given is None:
        given = invoice.get("total_tax_amounts")
    if given is None:
        return None
    if not isinstance(given, list) or not all(isinstance(row, dict) for row in given):
        raise ObjectError(f"{_name('invoices', invoice)} needs \"total_taxes\" as a list of objects")
    rows = []
    for row in given:
        details = row.get("tax_rate_details") if isinstance(row.get("tax_rate_details"), dict) else {}
        rate = row.get("tax_rate") if "tax_rate" in row else details.get("tax_rate")
        amount = row.get("amount")
        if type(amount) is not int:
            raise ObjectError(f"{_name('invoices', invoice)} needs each tax's \"amount\" as an integer")
        inclusive = row["inclusive"] if "inclusive" in row else row.get("tax_behavior") == "inclusive"
        out = {"amount": amount, "inclusive": inclusive is True, "taxable_amount": row.get("taxable_amount"),
               "tax_rate": rate.get("id") if isinstance(rate, dict) else rate}
        named = rate if isinstance(rate, dict) else row
        out |= {key: named[key] for key in ("display_name", "percentage") if named.get(key) is not None}
        rows.append(out)
    return rows


def _invoice(invoice: Obj, found: Found) -> Obj:
    status = invoice.get("status")
    if status is not None and status not in INVOICE_STATUSES:
        raise ObjectError(f"{_name('invoices', invoice)} has \"status\": {json.dumps(status)}; Stripe's are "
                          + ", ".join(INVOICE_STATUSES))
    if invoice.get("subscription") is None:
        # 2025-03-31.basil moved it under `parent`.
        parent = invoice.get("parent")
        details = parent.get("subscription_details") if isinstance(parent, dict) else None
        invoice["subscription"] = details.get("subscription") if isinstance(details, dict) else None
    for name in ("customer", "subscription", "default_payment_method"):
        _reference("invoices", invoice, invoice, name, found)
    for name in portal.INVOICE_LINKS:
        if invoice.get(name) is not None and not portal.https_url(invoice[name]):
            # The portal's pages link to these; a javascript: or data: link could run script there.
            raise ObjectError(f"{_name('invoices', invoice)} needs \"{name}\" as an https:// URL, or null")
    due, paid = invoice.get("amount_due"), invoice.get("amount_paid")
    if invoice.get("amount_remaining") is None and isinstance(due, int) and isinstance(paid, int):
        # Older API versions and some expansions leave it out; without it no Pay would show.
        invoice["amount_remaining"] = max(due - paid, 0)
    taxes = _tax_rows(invoice)
    if taxes is not None:
        invoice["total_taxes"] = taxes
    if invoice.get("tax") is None:
        invoice["tax"] = None if taxes is None else sum(row["amount"] for row in taxes)
    amounts = invoice.get("total_discount_amounts") or []
    if not isinstance(amounts, list) or not all(isinstance(row, dict) for row in amounts):
        raise ObjectError(f"{_name('invoices', invoice)} needs \"total_discount_amounts\" as a list of objects")
    for row in amounts:
        _reference("invoices", invoice, row, "discount", [], "total_discount_amounts[].discount")
    invoice["total_discount_amounts"] = amounts
    if isinstance(invoice.get("discounts"), list):
        invoice["discounts"] = [_discount(d) for d in invoice["discounts"]]
    for line in _list_of("invoices", invoice, "lines"):
        if not isinstance(line, dict):
            raise ObjectError(f"{_name('invoices', invoice)} needs each of \"lines\" as an object")
        if line.get("price") is None:
            pricing = line.get("pricing")
            details = pricing.get("price_details") if isinstance(pricing, dict) else None
            if isinstance(details, dict) and details.get("price") is not None:
                line["price"] = details["price"]
        _plan_as_price("invoices", invoice, line, "lines[]")
        _carried_price("invoices", invoice, line, found, "lines[]")
        line.setdefault("price", None)
    _times("invoices", invoice, invoice, TIMES["invoices"])
    return invoice


def _customer(customer: Obj, found: Found) -> Obj:
    settings = customer.get("invoice_settings")
    if isinstance(settings, dict):
        _reference("customers", customer, settings, "default_payment_method", found,
                   "invoice_settings.default_payment_method")
    _list_of("customers", customer, "tax_ids")
    return customer


def _normalised(value: Obj) -> Found:
    kind, obj = _checked(value, "")
    obj = copy.deepcopy(obj)
    if is_deleted(obj):
        return [(kind, {"id": obj["id"], "object": SINGULAR[kind], "deleted": True})]
    found: Found = []
    _seconds(kind, obj, "created", obj.get("created"))
    if kind == "prices":
        obj = _price(obj, found)
    elif kind == "products":
        _reference(kind, obj, obj, "default_price", found)
    elif kind == "customers":
        obj = _customer(obj, found)
    elif kind == "payment_methods":
        _reference(kind, obj, obj, "customer", found)
    elif kind == "subscriptions":
        obj = _subscription(obj, found)
    elif kind == "invoices":
        obj = _invoice(obj, found)
    return [(kind, obj), *found]


def normalise(value: Any) -> Found:
    """A Stripe object in the canonical shape, first, then each object it carried expanded, as
    (kind, object) pairs; a deleted object comes back as {"id", "object", "deleted": true}.
    Raises ObjectError naming the object and the field when it cannot be stored."""
    return _normalised(value)


@dataclass
class Batch:
    """What an import file holds: objects to store by kind and id, and ids to remove."""

    objects: dict[str, dict[str, Obj]] = field(default_factory=lambda: {kind: {} for kind in SINGULAR})
    deleted: dict[str, dict[str, Obj]] = field(default_factory=lambda: {kind: {} for kind in SINGULAR})
    # Copies found expanded inside other objects: stored unless the file lists the object itself.
    carried: dict[str, dict[str, Obj]] = field(default_factory=lambda: {kind: {} for kind in SINGULAR})

    def add(self, value: Any, where: str, key: str | None = None) -> None:
        try:
            self._add(value, where, key)
        except ObjectError as exc:
            raise ObjectError(str(exc), at=where.removesuffix(": ")) from None

    def _add(self, value: Any, where: str, key: str | None) -> None:
        if key is not None and isinstance(value, dict) and "object" not in value:
            value = value | {"object": FILE_KEYS[key]}  # a keyed file may leave "object" out
        kind, obj = _checked(value, where)
        if key is not None and kind != KIND_OF[FILE_KEYS[key]]:
            raise ObjectError(f"{where}{obj['object']} {obj['id']} does not belong under \"{key}\"; "
                              f"list it under \"{kind}\"")
        try:
            (kind, main), *carried = _normalised(obj)
        except ObjectError as exc:
            raise ObjectError(f"{where}{exc}") from None
        # An id listed twice (overlapping export pages) is one object: the later copy wins,
        # and a deletion counts as a copy.
        self.objects[kind].pop(main["id"], None)
        self.deleted[kind].pop(main["id"], None)
        (self.deleted if is_deleted(main) else self.objects)[kind][main["id"]] = main
        for inner_kind, inner in carried:
            self.carried[inner_kind][inner["id"]] = inner

    def finished(self) -> Batch:
        for kind, found in self.carried.items():
            for object_id, obj in found.items():
                if object_id not in self.objects[kind] and object_id not in self.deleted[kind]:
                    self.objects[kind][object_id] = obj
        self.carried = {kind: {} for kind in SINGULAR}
        return self


def _entries(value: Any, where: str, key: str | None) -> list[Any]:
    """The objects of a list: a bare array, a Stripe list object or a search result, all pages of it."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and value.get("object") in ("list", "search_result") and isinstance(value.get("data"), list):
        if value.get("has_more") is True:
            name = key or "customers"
            raise ObjectError(f"{where}this list is one page of many (\"has_more\": true). "
                              + PAGES_HELP.format(name=name, sdk=SDK_NAMES.get(name, "Customer")))
        return list(value["data"])
    raise ObjectError(f"{where}expected a list of objects")


def read_file(data: Any) -> Batch:
    """An import file's objects. It may be Porch's keyed file ({"customers": [...], ...}, each a bare array
    or a Stripe list), Stripe's own list or search result of mixed objects, a bare array, or one object.
    Objects are routed by their `object` field; one that contradicts the key it sits under is refused."""
    batch = Batch()
    if isinstance(data, list) or (isinstance(data, dict) and data.get("object") in ("list", "search_result")):
        prefix = "" if isinstance(data, list) else "data"
        for index, value in enumerate(_entries(data, "", None)):
            batch.add(value, f"{prefix}[{index}]: ")
        return batch.finished()
    if isinstance(data, dict) and "object" in data:
        batch.add(data, "")
        return batch.finished()
    if not isinstance(data, dict):
        raise ObjectError(f"expected a JSON object with keys such as \"customers\", or a list of Stripe objects, "
                          f"found {type(data).__name__}")
    unknown = sorted(set(data) - set(FILE_KEYS))
    if unknown:
        raise ObjectError(f"unknown key {unknown[0]!r}; use any of: {', '.join(FILE_KEYS)}")
    for key, value in data.items():
        for index, entry in enumerate(_entries(value, f"{key}: ", key)):
            batch.add(entry, f"{key}[{index}]: ", key)
    return batch.finished()
