"""Rounding to Alpaca's accepted precision, always in the direction that never exceeds the plan."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from bot.broker.rounding import MIN_NOTIONAL, round_limit_price, round_notional, round_qty, wire


@pytest.mark.parametrize(
    ("qty", "fractionable", "expected"),
    [
        (D("10"), False, D("10")),
        (D("10.999"), False, D("10")),  # whole shares, rounded down
        (D("0.7"), False, D("0")),
        (D("3"), True, D("3")),
        (D("1.123456789"), True, D("1.123456789")),
        (D("1.1234567899"), True, D("1.123456789")),  # at most 9 decimals, rounded down
        (D("0.0000000009"), True, D("0")),
        (D("2.5"), True, D("2.5")),
    ],
)
def test_round_qty(qty: D, fractionable: bool, expected: D) -> None:
    assert round_qty(qty, fractionable) == expected
    assert -round_qty(qty, fractionable).as_tuple().exponent <= 9


@pytest.mark.parametrize(
    ("notional", "expected"),
    [(D("100"), D("100.00")), (D("10.999"), D("10.99")), (D("1.005"), D("1.00")), (D("0.999"), D("0.99"))],
)
def test_round_notional_rounds_down_to_cents(notional: D, expected: D) -> None:
    assert round_notional(notional) == expected
    assert D("1") == MIN_NOTIONAL


@pytest.mark.parametrize(
    ("price", "side", "expected"),
    [
        (D("312.457"), "buy", D("312.45")),  # cents at or above $1; buys round down
        (D("312.451"), "sell", D("312.46")),  # sells round up
        (D("312.45"), "buy", D("312.45")),
        (D("312.45"), "sell", D("312.45")),
        (D("1.00"), "buy", D("1.00")),
        (D("0.123456"), "buy", D("0.1234")),  # sub-penny below $1: 4 decimals
        (D("0.123401"), "sell", D("0.1235")),
        (D("0.99999"), "buy", D("0.9999")),
        (D("0.99999"), "sell", D("1.00")),  # rounded up to $1: cents apply
        (D("1.001"), "sell", D("1.01")),
    ],
)
def test_round_limit_price_never_worse_than_asked(price: D, side: str, expected: D) -> None:
    rounded = round_limit_price(price, side)
    assert rounded == expected
    assert rounded <= price if side == "buy" else rounded >= price
    assert -rounded.as_tuple().exponent <= (2 if rounded >= 1 else 4)


def test_round_limit_price_wants_a_side() -> None:
    with pytest.raises(ValueError):
        round_limit_price(D("10"), "short")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("1.500000000"), "1.5"),
        (D("100"), "100"),
        (D("1E+2"), "100"),
        (D("0.0001"), "0.0001"),
        (D("2.00"), "2"),
    ],
)
def test_wire_format_is_plain_and_short(value: D, text: str) -> None:
    assert wire(value) == text
