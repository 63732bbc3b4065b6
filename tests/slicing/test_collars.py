"""Limit collars: mid +/- k half-spreads, rounded the way Alpaca accepts and never beyond the collar."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from bot.slicing.collars import NoQuote, collar_price


@pytest.mark.parametrize(
    "side, bid, ask, k, price",
    [
        ("buy", "100.00", "100.04", "2", "100.06"),  # mid 100.02 + 2 x 0.02
        ("sell", "100.00", "100.04", "2", "99.98"),
        ("buy", "100.00", "100.04", "1", "100.04"),  # k = 1: the far touch
        ("sell", "100.00", "100.04", "1", "100.00"),
        ("buy", "100.00", "100.04", "0", "100.02"),  # k = 0: the mid
        ("buy", "50.00", "50.03", "1.5", "50.03"),  # 50.0375 rounds DOWN for a buy
        ("sell", "50.00", "50.03", "1.5", "50.00"),  # 49.9925 rounds UP for a sell
        ("buy", "0.5010", "0.5030", "2", "0.5040"),  # below $1: 1/100 cent
        ("sell", "0.5010", "0.5030", "2", "0.5000"),
        ("sell", "0.9990", "1.0010", "1", "0.9990"),
    ],
)
def test_collar_by_hand(side, bid, ask, k, price):
    assert collar_price(side, D(bid), D(ask), D(k)) == D(price)


@pytest.mark.parametrize("bid, ask", [("0", "10.00"), ("10.00", "0"), ("10.02", "10.00")])
def test_no_collar_without_a_two_sided_quote(bid, ask):
    with pytest.raises(NoQuote):
        collar_price("buy", D(bid), D(ask), D(2))
