"""The demo's data: customers, cards, subscriptions in several states and invoices,
dated relative to now so that the portal always looks current. Tests seed from it too."""

from __future__ import annotations

from typing import Any

DAY = 86400
PRODUCTS = [
    {"id": "prod_starter", "object": "product", "name": "Starter", "description": "For one person getting going"},
    {"id": "prod_pro", "object": "product", "name": "Pro", "description": "Everything a growing business needs"},
    {"id": "prod_team", "object": "product", "name": "Team", "description": "Per-seat plan for teams"},
]
PRICES = [
    ("price_starter_monthly", "prod_starter", 900, "month", "Starter monthly"),
    ("price_pro_monthly", "prod_pro", 2900, "month", "Pro monthly"),
    ("price_pro_yearly", "prod_pro", 29000, "year", "Pro yearly"),
    ("price_team_monthly", "prod_team", 1200, "month", "Team, per seat"),
]
DEMO_EMAIL = "jenny@example.com"


def _price(price_id: str) -> dict[str, Any]:
    pid, product, amount, interval, nickname = next(p for p in PRICES if p[0] == price_id)
    return {
        "id": pid, "object": "price", "product": product, "currency": "usd", "unit_amount": amount,
        "nickname": nickname, "type": "recurring", "recurring": {"interval": interval, "interval_count": 1},
        "active": True, "created": 1_600_000_000,
    }


def _customer(cid: str, email: str | None, name: str, created: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": cid, "object": "customer", "email": email, "name": name, "created": created, "phone": None,
        "address": None, "shipping": None, "tax_ids": {"object": "list", "data": []},
        "invoice_settings": {"default_payment_method": None}, "metadata": {"crm_id": f"internal-{cid}"}, **extra,
    }


def _card(pid: str, customer: str, brand: str, last4: str, month: int, year: int, created: int,
          wallet: str | None = None) -> dict[str, Any]:
    return {
        "id": pid, "object": "payment_method", "type": "card", "customer": customer, "created": created,
        "card": {"brand": brand, "last4": last4, "exp_month": month, "exp_year": year,
                 "wallet": {"type": wallet, "dynamic_last4": None} if wallet else None},
        "billing_details": {"name": None, "email": None},
    }


def _sepa_debit(pid: str, customer: str, bank_code: str, last4: str, created: int) -> dict[str, Any]:
    """A bank account in the SEPA area, as Stripe keeps it: the bank's code and the IBAN's last four digits."""
    return {
        "id": pid, "object": "payment_method", "type": "sepa_debit", "customer": customer, "created": created,
        "sepa_debit": {"bank_code": bank_code, "branch_code": "", "country": "DE", "last4": last4,
                       "fingerprint": f"fp_{pid}", "generated_from": {"charge": None, "setup_attempt": None}},
        "billing_details": {"name": None, "email": None},
    }


def _subscription(sid: str, customer: str, price: str, status: str, start: int, period_end: int,
                  quantity: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "id": sid, "object": "subscription", "customer": customer, "status": status, "created": start,
        "start_date": start, "current_period_start": period_end - (365 if "yearly" in price else 30) * DAY,
        "current_period_end": period_end, "cancel_at_period_end": False, "cancel_at": None, "canceled_at": None,
        "ended_at": None, "trial_start": None, "trial_end": None, "currency": "usd",
        "items": {"object": "list", "data": [
            {"id": "si_" + sid[4:], "object": "subscription_item", "quantity": quantity, "price": price}
        ]},
        "metadata": {}, **extra,
    }


def _invoices(prefix: str, customer: str, subscription: str, price: str, last: int, count: int,
              status: str = "paid", every: int = 30, pay_url: str | None = None) -> list[dict[str, Any]]:
    """`count` invoices, the newest in `status`, the others paid; `pay_url`: the newest's hosted page, where
    the customer pays it."""
    amount, description = next((p[2], p[4]) for p in PRICES if p[0] == price)
    found = []
    for n in range(count):
        created = last - n * every * DAY
        number = f"{prefix.upper()}-{count - n:04d}"
        paid = status == "paid" or n > 0
        found.append({
            "id": f"in_{prefix}_{count - n:04d}", "object": "invoice", "customer": customer, "number": number,
            "subscription": subscription, "created": created, "period_start": created - every * DAY,
            "period_end": created, "currency": "usd", "subtotal": amount, "tax": 0, "total": amount,
            "amount_due": amount, "amount_paid": amount if paid else 0,
            "amount_remaining": 0 if paid else amount, "status": "paid" if paid else status,
            "hosted_invoice_url": None if paid else pay_url, "invoice_pdf": None,
            "lines": {"object": "list", "data": [{
                "id": f"il_{prefix}_{count - n:04d}", "object": "line_item", "description": description,
                "amount": amount, "currency": "usd", "quantity": 1, "price": price,
                "period": {"start": created - every * DAY, "end": created},
            }]},
        })
    return found


def demo_objects(now: int) -> dict[str, list[dict[str, Any]]]:
    """The demo data set, as an import file would hold it."""
    address = {"line1": "Friedrichstraße 12", "line2": None, "city": "Berlin", "state": None,
               "postal_code": "10117", "country": "DE"}
    customers = [
        _customer("cus_jenny", DEMO_EMAIL, "Jenny Rosen", now - 400 * DAY, phone="+49 30 1234567",
                  address=address,
                  shipping={"name": "Jenny Rosen", "phone": None, "address": address},
                  tax_ids={"object": "list", "data": [{"id": "txi_jenny", "object": "tax_id", "type": "eu_vat",
                                                       "value": "DE123456789"}]},
                  invoice_settings={"default_payment_method": "pm_jenny_visa"}),
        # Two more customers share Jenny's address, in other cases: the older one's plan
        # has ended and the newest has none, so sign-in picks cus_jenny, the one with an active plan.
        _customer("cus_jenny_old", "Jenny@Example.com", "Jenny Rosen", now - 900 * DAY),
        _customer("cus_jenny_new", "JENNY@example.com", "Jenny Rosen (new)", now - 10 * DAY),
        _customer("cus_sam", "sam@example.com", "Sam Lee", now - 20 * DAY,
                  invoice_settings={"default_payment_method": "pm_sam_mc"}),
        _customer("cus_alex", "alex@example.com", "Alex Kim", now - 500 * DAY,
                  invoice_settings={"default_payment_method": "pm_alex_amex"}),
        _customer("cus_kim", "kim@example.com", "Kim Moreau", now - 200 * DAY,
                  invoice_settings={"default_payment_method": "pm_kim_visa"}),
        _customer("cus_noemail", None, "No Email Ltd", now - 100 * DAY),
        # Pat's trial ended without a payment method, so Stripe paused the subscription (status paused);
        # Robin asked for a break, so collection is paused (status active, pause_collection) until a date.
        _customer("cus_pat", "pat@example.com", "Pat Okafor", now - 40 * DAY),
        _customer("cus_robin", "robin@example.com", "Robin Dubois", now - 300 * DAY,
                  invoice_settings={"default_payment_method": "pm_robin_visa"}),
    ]
    payment_methods = [
        _card("pm_jenny_visa", "cus_jenny", "visa", "4242", 12, 2028, now - 400 * DAY),
        _card("pm_jenny_mc", "cus_jenny", "mastercard", "4444", 3, 2027, now - 100 * DAY, wallet="apple_pay"),
        _card("pm_sam_mc", "cus_sam", "mastercard", "5100", 8, 2029, now - 20 * DAY),
        _card("pm_alex_amex", "cus_alex", "amex", "0005", 1, 2026, now - 500 * DAY),
        _card("pm_kim_visa", "cus_kim", "visa", "1881", 6, 2030, now - 200 * DAY),
        _card("pm_robin_visa", "cus_robin", "visa", "0077", 9, 2029, now - 300 * DAY),
        # Stripe's test IBAN DE89 3704 0044 0532 0130 00, which her subscription is charged to.
        _sepa_debit("pm_kim_sepa", "cus_kim", "37040044", "3000", now - 190 * DAY),
    ]
    subscriptions = [
        _subscription("sub_jenny_pro", "cus_jenny", "price_pro_monthly", "active", now - 390 * DAY, now + 12 * DAY),
        _subscription("sub_jenny_old", "cus_jenny_old", "price_starter_monthly", "canceled", now - 890 * DAY,
                      now - 500 * DAY, canceled_at=now - 500 * DAY, ended_at=now - 500 * DAY),
        _subscription("sub_sam_team", "cus_sam", "price_team_monthly", "trialing", now - 5 * DAY, now + 9 * DAY,
                      quantity=5, trial_start=now - 5 * DAY, trial_end=now + 9 * DAY),
        # The renewal failed: its invoice is open, with Stripe's hosted page to pay it.
        _subscription("sub_alex_pro", "cus_alex", "price_pro_yearly", "past_due", now - 400 * DAY, now + 330 * DAY,
                      latest_invoice="in_alex_0002"),
        _subscription("sub_kim_pro", "cus_kim", "price_pro_monthly", "active", now - 190 * DAY, now + 20 * DAY,
                      cancel_at_period_end=True, cancel_at=now + 20 * DAY, default_payment_method="pm_kim_sepa"),
        _subscription("sub_noemail", "cus_noemail", "price_starter_monthly", "active", now - 90 * DAY, now + 3 * DAY),
        _subscription("sub_pat_starter", "cus_pat", "price_starter_monthly", "paused", now - 40 * DAY, now - 10 * DAY,
                      trial_start=now - 40 * DAY, trial_end=now - 10 * DAY),
        _subscription("sub_robin_pro", "cus_robin", "price_pro_monthly", "active", now - 290 * DAY, now + 15 * DAY,
                      pause_collection={"behavior": "void", "resumes_at": now + 45 * DAY}),
    ]
    invoices = (
        _invoices("jenny", "cus_jenny", "sub_jenny_pro", "price_pro_monthly", now - 18 * DAY, 13)
        + _invoices("jold", "cus_jenny_old", "sub_jenny_old", "price_starter_monthly", now - 500 * DAY, 4)
        + _invoices("alex", "cus_alex", "sub_alex_pro", "price_pro_yearly", now - 35 * DAY, 2, status="open", every=365,
                    pay_url="https://invoice.example.com/i/in_alex_0002")
        + _invoices("kim", "cus_kim", "sub_kim_pro", "price_pro_monthly", now - 10 * DAY, 6)
    )
    return {
        "products": [dict(p, created=1_600_000_000) for p in PRODUCTS],
        "prices": [_price(p[0]) for p in PRICES],
        "customers": customers,
        "payment_methods": payment_methods,
        "subscriptions": subscriptions,
        "invoices": invoices,
    }
