"""What the rest of a subscription's current period is worth, counted in money paid, never in prices.

A credit for unused time (a cancellation now, the "unused time" line of a plan change) is the
unused part of what the period was actually charged:

- the subscription's paid invoices created in the period, each paying for the time from its
  creation (or the period's start) to the period's end;
- the prorations Porch recorded for the period: charges and credits waiting for the next invoice
  (create_prorations), and credits already put on the balance, which count against what is left.

A plan change made with `proration_behavior: none` charges nothing, so it adds nothing to what can
be credited; an unpaid invoice adds nothing until it is paid. Money put back on the balance never
exceeds the unused part of what was paid, however many changes and cancellations come first."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import sqlalchemy as sa

from backend import jsonio, proration
from backend.store import billing, tables

PENDING = "pending"  # a proration waiting for the next invoice
BALANCE = "balance"  # a credit put on the customer's balance, negative


def period_of(sub: dict[str, Any]) -> tuple[int | None, int | None]:
    """The current period (the reader copies it from the items where newer API versions keep it)."""
    return sub.get("current_period_start"), sub.get("current_period_end")


def subscription_of(invoice: dict[str, Any]) -> str | None:
    """The subscription an invoice bills (the reader moves it out of `parent` where newer API versions keep it)."""
    return billing.ref(invoice.get("subscription"))


def paid(invoice: dict[str, Any]) -> int:
    """What an invoice collected: all of it once paid (from a card or from the balance), else what came in so far."""
    return int(invoice.get("total") or 0) if invoice.get("status") == "paid" else int(invoice.get("amount_paid") or 0)


def _unused(entries: Iterable[tuple[int, int]], now: int, start: int, end: int) -> Fraction:
    """The part of each (amount, since) still to come at `now`: each covers the period from `since` to its end."""
    total = Fraction(0)
    for amount, since in entries:
        begins = max(since, start)
        if begins < end:
            total += Fraction(amount * proration.remaining(now, begins, end), end - begins)
    return total


def creditable(conn: sa.Connection, sub: dict[str, Any], now: int, pending: bool = False) -> int:
    """What the unused rest of the period is worth, in the currency's minor unit, 0 when nothing was paid.

    `pending`: the credit itself waits for the next invoice (create_prorations), together with the
    charges already waiting there, so those count too; otherwise it is money given back now, and
    never more than the unused part of what was paid, less what was given back already."""
    start, end = period_of(sub)
    if not start or not end or end <= start:
        return 0
    invoices = tables.invoices
    rows = conn.execute(sa.select(invoices.c.data).where(
        invoices.c.customer == billing.ref(sub.get("customer")), invoices.c.created >= start,
        invoices.c.created < end))
    found = [jsonio.loads(row.data) for row in rows]
    bought = _unused(((paid(i), int(i["created"])) for i in found if subscription_of(i) == sub["id"]), now, start, end)
    recorded = conn.execute(sa.select(tables.prorations.c.amount, tables.prorations.c.at, tables.prorations.c.kind).where(
        tables.prorations.c.subscription == sub["id"], tables.prorations.c.at >= start, tables.prorations.c.at < end))
    kinds: dict[str, list[tuple[int, int]]] = {PENDING: [], BALANCE: []}
    for amount, at, kind in recorded:
        kinds[kind].append((amount, at))
    given = _unused(kinds[BALANCE], now, start, end)
    worth = bought + given + _unused(kinds[PENDING], now, start, end)
    value = worth if pending else min(worth, bought + given)
    return max(0, proration.round_half_away(value))


def record(conn: sa.Connection, sub: dict[str, Any], now: int, amount: int, kind: str) -> None:
    """Note an amount charged (positive) or credited (negative) against the period from `now` on."""
    conn.execute(tables.prorations.insert(), {"subscription": sub["id"], "at": now, "amount": amount, "kind": kind})
