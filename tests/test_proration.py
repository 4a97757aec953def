"""The money arithmetic of subscription changes: exact integers, one rounding, calendar intervals."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

import pytest

from backend import proration

DAY = 86400
MONTHLY = {"interval": "month", "interval_count": 1}
YEARLY = {"interval": "year", "interval_count": 1}


def at(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(("value", "nearest"), [
    (Fraction(5, 2), 3), (Fraction(-5, 2), -3), (Fraction(3, 2), 2), (Fraction(1, 2), 1),
    (Fraction(49, 100), 0), (Fraction(-49, 100), 0), (Fraction(151, 100), 2), (Fraction(7), 7), (Fraction(0), 0),
])
def test_halves_round_away_from_zero_not_to_even(value, nearest):
    assert proration.round_half_away(value) == nearest


def test_prorate_is_exact_and_rounds_once():
    assert proration.prorate(2900, 12 * DAY, 30 * DAY) == 1160
    assert proration.prorate(2900, 12 * DAY - 3600, 30 * DAY) == 1156  # 1155.97...
    assert proration.prorate(29000, 12 * DAY, 365 * DAY) == 953  # 953.42...
    assert proration.prorate(1, 1, 2) == 1 and proration.prorate(-1, 1, 2) == -1
    assert proration.prorate(10**15, 1, 3) == 333_333_333_333_333  # no floating point on the way


def test_prorate_takes_a_discount_before_rounding():
    assert proration.prorate(2900, 12 * DAY, 30 * DAY, percent_off=50) == 580
    assert proration.prorate(2900, 12 * DAY, 30 * DAY, percent_off=20) == 928
    assert proration.prorate(999, 1, 1, percent_off=33) == 669  # 669.33
    assert proration.prorate(2900, 1, 1, percent_off=100) == 0


def test_a_period_must_last():
    with pytest.raises(ValueError):
        proration.prorate(100, 0, 0)


@pytest.mark.parametrize(("now", "left"), [
    (100, 900), (0, 1000), (-50, 1000), (1000, 0), (1500, 0), (999, 1),
])
def test_remaining_stays_within_the_period(now, left):
    assert proration.remaining(now, 0, 1000) == left


@pytest.mark.parametrize(("start", "months", "end"), [
    ((2026, 9, 21, 14, 13, 20), 3, (2026, 12, 21, 14, 13, 20)),
    ((2026, 1, 31), 1, (2026, 2, 28)),
    ((2028, 1, 31), 1, (2028, 2, 29)),
    ((2026, 12, 15), 1, (2027, 1, 15)),
    ((2026, 11, 30), 3, (2027, 2, 28)),
    ((2026, 8, 31), 36, (2029, 8, 31)),
    ((2026, 3, 31), 0, (2026, 3, 31)),
])
def test_add_months_counts_calendar_months(start, months, end):
    assert proration.add_months(at(*start), months) == at(*end)


def test_interval_end_for_each_interval():
    start = at(2026, 9, 3, 14, 13, 20)
    assert proration.interval_end(start, {"interval": "day", "interval_count": 3}) == start + 3 * DAY
    assert proration.interval_end(start, {"interval": "week"}) == start + 7 * DAY
    assert proration.interval_end(start, MONTHLY) == at(2026, 10, 3, 14, 13, 20)
    assert proration.interval_end(start, {"interval": "month", "interval_count": 6}) == at(2027, 3, 3, 14, 13, 20)
    assert proration.interval_end(start, YEARLY) == at(2027, 9, 3, 14, 13, 20)
    assert proration.interval_seconds(start, YEARLY) == 365 * DAY
    assert proration.interval_seconds(at(2027, 9, 3), YEARLY) == 366 * DAY  # over 29 February 2028
    with pytest.raises(ValueError):
        proration.interval_end(start, {"interval": "fortnight"})


@pytest.mark.parametrize(("new", "old", "is_shorter"), [
    (MONTHLY, YEARLY, True),
    (YEARLY, MONTHLY, False),
    (MONTHLY, MONTHLY, False),
    ({"interval": "month", "interval_count": 12}, YEARLY, False),
    (YEARLY, {"interval": "month", "interval_count": 12}, False),
    ({"interval": "month", "interval_count": 11}, YEARLY, True),
    ({"interval": "week", "interval_count": 4}, MONTHLY, True),
    ({"interval": "week", "interval_count": 5}, MONTHLY, False),
    ({"interval": "day", "interval_count": 30}, MONTHLY, True),
    ({"interval": "day", "interval_count": 31}, MONTHLY, False),
])
def test_shorter_compares_interval_lengths(new, old, is_shorter):
    assert proration.shorter(new, old) is is_shorter


def test_unused_charges_by_the_rate_of_the_price_over_its_own_interval():
    start = at(2026, 9, 3, 14, 13, 20)
    end = start + 30 * DAY
    now = start + 18 * DAY
    assert proration.unused(2900, now, start, end, MONTHLY) == 1160
    assert proration.unused(29000, now, start, end, YEARLY) == 953
    assert proration.unused(2900, end, start, end, MONTHLY) == 0
    assert proration.unused(2900, start, start, end, MONTHLY) == 2900
