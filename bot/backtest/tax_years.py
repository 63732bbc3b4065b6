"""A tax year of the tax backtest (Schedule D, dividends, the $3,000 offset) and the investor's return.

Kept apart from the simulation (``bot.backtest.tax``): the yearly arithmetic is hand-checkable on its own,
and the simulation only feeds it each year's realised short- and long-term gains and dividends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from scipy.optimize import brentq

from strategies.money import to_cents
from strategies.tax.lots import ZERO

ORDINARY_OFFSET = Decimal(3000)


@dataclass(frozen=True)
class YearTax:
    """One year's Schedule D result: what was realised, the tax (negative: a saving), the carry-forward."""

    year: int
    short_term: Decimal
    long_term: Decimal
    tax: Decimal
    offset_used: Decimal = ZERO
    carry_short: Decimal = ZERO
    carry_long: Decimal = ZERO
    harvested: Decimal = ZERO
    """Losses realised by harvests this year (positive)."""
    dividends: Decimal = ZERO
    """Dividends received in cash this year (qualified: taxed at the long-term rate, included in ``tax``)."""


def year_tax(
    year: int,
    short_term: Decimal,
    long_term: Decimal,
    rates_short: Decimal,
    rates_long: Decimal,
    carry_short: Decimal = ZERO,
    carry_long: Decimal = ZERO,
    ordinary_offset: Decimal = ORDINARY_OFFSET,
    dividends: Decimal = ZERO,
) -> YearTax:
    """Net one year's gains with the carry-forwards (negative amounts) and tax what is left.

    Losses net against gains of their own term, then across terms (what is left keeps the character of the
    larger side). A net loss deducts up to ``ordinary_offset`` from ordinary income (saving the short-term
    rate), short-term losses first; the rest is carried forward. Qualified ``dividends`` are taxed at the
    long-term rate on their own: a capital loss reaches them only through the ordinary-income offset.
    """
    dividend_tax = dividends * rates_long
    st, lt = short_term + carry_short, long_term + carry_long
    if st < 0 < lt or lt < 0 < st:
        net = st + lt
        if net >= 0:
            st, lt = (ZERO, net) if lt > 0 else (net, ZERO)
        else:
            st, lt = (net, ZERO) if st < 0 else (ZERO, net)
    if st <= 0 and lt <= 0:
        loss = -(st + lt)
        used = min(ordinary_offset, loss)
        from_short = min(used, -st)
        st += from_short
        lt += used - from_short
        tax = to_cents(dividend_tax - used * rates_short)
        return YearTax(year, short_term, long_term, tax, used, st, lt, dividends=dividends)
    tax = max(st, ZERO) * rates_short + max(lt, ZERO) * rates_long + dividend_tax
    return YearTax(
        year, short_term, long_term, to_cents(tax), ZERO, min(st, ZERO), min(lt, ZERO), dividends=dividends
    )


def money_weighted_return(flows: Sequence[tuple[date, float]], end: date, final_value: float) -> float:
    """The annual rate (IRR) at which ``flows`` (money put in, positive, on each date) grow to ``final_value``
    at ``end``: the return of an investor who adds money over time, where a CAGR of the first deposit would
    credit the strategy with the contributions."""

    def surplus(rate: float) -> float:
        grown = sum(amount * (1 + rate) ** ((end - day).days / 365.25) for day, amount in flows)
        return final_value - grown

    return float(brentq(surplus, -0.99, 1.0, xtol=1e-10))


__all__ = ["ORDINARY_OFFSET", "YearTax", "money_weighted_return", "year_tax"]
