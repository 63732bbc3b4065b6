"""Stop, stop-limit and trailing-stop orders: when the market elects them, as Alpaca's do.

Why a module of its own: the engine matches orders that already work (market, limit); this decides, minute by
minute, whether a conditional order has started to work, and at what price, without the engine knowing
the order types.

Model (documented in README "The paper broker"):
* A stop waits until the intraday path touches its ``stop_price`` (a sell at or below it, a buy at or above
  it), then works as a market order (``stop``) or as a limit order at ``limit_price`` (``stop_limit``).
* The path inside a minute is its bar walked open, low, high, close when the bar closes up (open, high, low,
  close when it closes down), the usual convention when only OHLC is known. The stop triggers at the first
  point that touches it: at the stop price itself when the path runs through it, at the minute's open when
  the price gapped past it. The fill in that minute is priced from the trigger price with the broker's
  usual spread and impact (``matching.py``), against what is left of the minute after the trigger,
  so a stop never fills at a price the path had left before it triggered.
* A trailing stop keeps its high-water mark (``hwm``): the last trade when it is sent, then the best price
  the path reaches (highest for a sell, lowest for a buy), and ``stop_price`` = hwm - trail_price, or
  hwm x (1 - trail_percent/100) for a sell (+ for a buy), to the tick. It triggers like a stop, on the
  retrace; it never triggers outside the regular session (the engine matches only then).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from bot.paper_broker.market import Bar, Quote
from bot.paper_broker.models import Order
from bot.paper_broker.order_validation import CONDITIONAL_TYPES, OrderRequest

HUNDRED = Decimal(100)


def start(order: Order, last_trade: Decimal) -> None:
    """Arm a trailing stop when it is accepted: its hwm is the last trade, its stop trails it."""
    if order.type == "trailing_stop" and last_trade > 0:
        order.hwm = last_trade
        order.stop_price = trailing_stop_price(order.side, last_trade, order.trail_price, order.trail_percent)


def pending(order: Order) -> bool:
    """True while a conditional order waits for its trigger (it must not trade yet)."""
    return order.type in CONDITIONAL_TYPES and order.triggered_at is None


def elect(order: Order, quote: Quote, bar: Bar, minute_end: datetime) -> tuple[Quote, Bar] | None:
    """Walk one elapsed minute of the path for a waiting stop: move a trailing stop's hwm and stop_price,
    and if the stop is touched mark the order triggered and return the quote at the trigger price and the
    part of the minute's bar from the trigger on (what the now working order can trade against); else None.
    """
    points = [_price(p) for p in walk(bar)]
    for i, point in enumerate(points):
        assert order.stop_price is not None
        if _touches(order.side, point, order.stop_price):
            trigger = point if i == 0 else order.stop_price  # a gap at the open, else the path runs through
            order.triggered_at = minute_end
            return _quote_at(quote, float(trigger)), _rest_of_bar(bar, float(trigger), points[i + 1 :])
        if order.type == "trailing_stop":
            _follow(order, point)
    return None


def walk(bar: Bar) -> tuple[float, float, float, float]:
    """The minute's path through its OHLC: the low first in a bar that closes up, the high first otherwise."""
    if bar.close >= bar.open:
        return bar.open, bar.low, bar.high, bar.close
    return bar.open, bar.high, bar.low, bar.close


def trailing_stop_price(
    side: str, hwm: Decimal, trail_price: Decimal | None, trail_percent: Decimal | None
) -> Decimal:
    """The stop a trailing order holds at high-water mark ``hwm``, to the tick."""
    sign = -1 if side == "sell" else 1
    if trail_price is not None:
        return hwm + sign * trail_price
    assert trail_percent is not None
    stop = hwm * (1 + sign * trail_percent / HUNDRED)
    return stop.quantize(Decimal("0.01") if stop >= 1 else Decimal("0.0001"), ROUND_HALF_UP)


def initial_stop(request: OrderRequest, last_trade: Decimal) -> Decimal | None:
    """The price a buy stop would trigger at if sent now (its stop, or its trail off the last trade), so
    that buying power is checked at no less than what the order may pay; None for other orders."""
    if request.type in ("stop", "stop_limit"):
        return request.stop_price
    if request.type == "trailing_stop":
        return trailing_stop_price(request.side, last_trade, request.trail_price, request.trail_percent)
    return None


def _follow(order: Order, point: Decimal) -> None:
    """Raise a sell trailing stop's hwm (lower a buy's) to ``point`` when the price moved its way."""
    assert order.hwm is not None
    better = point > order.hwm if order.side == "sell" else point < order.hwm
    if better:
        order.hwm = point
        order.stop_price = trailing_stop_price(order.side, point, order.trail_price, order.trail_percent)


def _touches(side: str, price: Decimal, stop: Decimal) -> bool:
    return price <= stop if side == "sell" else price >= stop


def _price(value: float) -> Decimal:
    return Decimal(str(round(value, 4)))


def _quote_at(quote: Quote, price: float) -> Quote:
    """The quote around the trigger price, with the spread of the minute's own quote."""
    half = (quote.ask - quote.bid) / 2
    return dataclasses.replace(quote, bid=price - half, ask=price + half)


def _rest_of_bar(bar: Bar, trigger: float, rest: list[Decimal]) -> Bar:
    later = [trigger, *(float(p) for p in rest)]
    return dataclasses.replace(bar, open=trigger, high=max(later), low=min(later))
