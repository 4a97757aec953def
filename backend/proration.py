"""Money and time arithmetic for subscription changes: exact integers in the currency's
minor unit, each amount rounded once, halves away from zero; times in Unix seconds (UTC).

A price is charged at a steady rate: its amount per one interval of the price, measured
in calendar days from the start of the current period. For a period that is exactly one
interval long (as Stripe's are) that is the period's own length in seconds."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

DAY = 86400
# For comparing intervals only: a month is a twelfth of a 365.25-day year, so 12 months equal a year.
DAYS = {"day": Fraction(1), "week": Fraction(7), "month": Fraction(1461, 48), "year": Fraction(1461, 4)}


def round_half_away(value: Fraction) -> int:
    """The nearest integer; an exact half goes away from zero (2.5 -> 3, -2.5 -> -3), not to even."""
    nearest = int(abs(value) + Fraction(1, 2))
    return nearest if value >= 0 else -nearest


def prorate(amount: int, part: int, whole: int, percent_off: int = 0) -> int:
    """`amount` x `part` / `whole`, less `percent_off` percent, to the nearest minor unit."""
    if whole <= 0:
        raise ValueError("a period lasts at least one second")
    return round_half_away(Fraction(amount * part * (100 - percent_off), whole * 100))


def remaining(now: int, start: int, end: int) -> int:
    """Seconds of the period from `start` to `end` still to come at `now`: never below 0 nor above its length."""
    return max(0, min(end - now, end - start))


def add_months(moment: int, months: int) -> int:
    """The same day and time of day `months` calendar months later; a day the month lacks becomes its last."""
    at = datetime.fromtimestamp(moment, UTC)
    index = at.month - 1 + months
    year, month = at.year + index // 12, index % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return int(at.replace(year=year, month=month, day=day).timestamp())


def interval_end(start: int, recurring: dict[str, Any]) -> int:
    """When one interval of a recurring price that starts at `start` ends."""
    interval, count = recurring.get("interval"), int(recurring.get("interval_count") or 1)
    if interval == "day":
        return start + count * DAY
    if interval == "week":
        return start + count * 7 * DAY
    if interval == "month":
        return add_months(start, count)
    if interval == "year":
        return add_months(start, 12 * count)
    raise ValueError(f"unknown interval {interval!r}")


def interval_seconds(start: int, recurring: dict[str, Any]) -> int:
    """The length of one interval of a recurring price from `start`: what its amount pays for."""
    return interval_end(start, recurring) - start


def shorter(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Whether the new recurring interval is shorter than the old one (yearly -> monthly is)."""
    return DAYS[new["interval"]] * int(new.get("interval_count") or 1) < DAYS[old["interval"]] * int(
        old.get("interval_count") or 1
    )


def unused(amount: int, now: int, start: int, end: int, recurring: dict[str, Any], percent_off: int = 0) -> int:
    """What `amount` per interval pays for the rest of the period from `now` to `end`."""
    return prorate(amount, remaining(now, start, end), interval_seconds(start, recurring), percent_off)
