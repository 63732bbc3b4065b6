"""Limit-price collars for child orders: pure arithmetic on a quote.

A buy child is priced at most ``mid + k`` half-spreads, a sell child at least ``mid - k`` half-spreads
(``k = 1`` is the far touch: the ask for a buy, the bid for a sell; ``k = 0`` the mid). The price is then
rounded as Alpaca accepts it (cents at or above $1, 1/100 cent below) in the direction that never makes it
worse than the collar: buys round down, sells round up (``bot.broker.rounding.round_limit_price``).
"""

from __future__ import annotations

from decimal import Decimal

from bot.broker.rounding import round_limit_price

TWO = Decimal(2)


class NoQuote(ValueError):
    """The quote is not two-sided (a zero side or a crossed market): no collar can be computed."""


def collar_price(side: str, bid: Decimal, ask: Decimal, half_spreads: Decimal) -> Decimal:
    """The limit price of a child: ``mid +/- half_spreads * (ask - bid) / 2``, rounded for Alpaca."""
    if half_spreads < 0:
        raise ValueError("half_spreads must be >= 0")
    if bid <= 0 or ask <= 0 or ask < bid:
        raise NoQuote(f"no two-sided quote (bid {bid}, ask {ask})")
    mid = (bid + ask) / TWO
    half = (ask - bid) / TWO
    raw = mid + half_spreads * half if side == "buy" else mid - half_spreads * half
    if raw <= 0:
        raise NoQuote(f"collar below zero (mid {mid}, half-spread {half}, k {half_spreads})")
    return round_limit_price(raw, side)
