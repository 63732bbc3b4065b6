"""Amounts rounded to the precision Alpaca accepts, always in the direction that never exceeds the plan.

* quantities: whole shares for assets that are not fractionable, else at most 9 decimals; always rounded down;
* notionals: cents, rounded down (never spend more than planned); Alpaca's $1 minimum is the caller's check;
* limit prices: cents at or above $1, 4 decimals below (Alpaca's sub-penny rule); buys round down and sells
  round up, so the limit sent is never worse than the one asked for.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_UP, Decimal

MIN_NOTIONAL = Decimal("1")
QTY_STEP = Decimal("1e-9")
WHOLE = Decimal("1")
CENT = Decimal("0.01")
SUB_PENNY = Decimal("0.0001")


def round_qty(qty: Decimal, fractionable: bool) -> Decimal:
    return qty.quantize(QTY_STEP if fractionable else WHOLE, rounding=ROUND_DOWN)


def round_notional(n: Decimal) -> Decimal:
    return n.quantize(CENT, rounding=ROUND_DOWN)


def round_limit_price(price: Decimal, side: str) -> Decimal:
    if side not in ("buy", "sell"):
        raise ValueError(f"side must be buy or sell, not {side!r}")
    rounding = ROUND_DOWN if side == "buy" else ROUND_UP
    step = CENT if price >= 1 else SUB_PENNY
    rounded = price.quantize(step, rounding=rounding)
    if rounded >= 1 and step == SUB_PENNY:  # a sell just under $1 rounded up to $1.0000: cents now apply
        rounded = rounded.quantize(CENT, rounding=rounding)
    return rounded


def wire(value: Decimal) -> str:
    """A Decimal as Alpaca wants it: plain notation, no trailing zeros ("1.5", "100", "0.0001")."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
