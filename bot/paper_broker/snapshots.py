"""Latest bars and snapshots as of the simulated clock, as Alpaca's ``bars/latest`` and ``snapshots`` are.

* latest bar: the last complete 1-minute bar (while a session runs, the minute before the current one; when
  closed, the last minute of the symbol's last session);
* snapshot: ``latestTrade`` and ``latestQuote`` (``SimMarket.trade``/``quote``, what the engine fills
  against), ``minuteBar`` (the latest bar), ``dailyBar`` (today's bar so far while the session runs, else the
  last session's) and ``prevDailyBar`` (the one before it).

Every part is as of the simulated ``now``: a bar appears only once complete (today's daily bar only from the
minutes already complete), so a snapshot never shows the simulated future, and it moves as the clock moves.
A field with no data (before the symbol's first bar) is left out, as the spec's optional fields allow.
Pure functions of (market, now, symbol), so the routes may run them on any thread or process.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from bot.paper_broker.calendar import EXCHANGE_TZ, NS_PER_MINUTE, to_ns
from bot.paper_broker.market import Bar, SimMarket, et_midnight
from bot.paper_broker.ticks import quote_json, trade_json
from bot.paper_broker.timeframes import bar_json

__all__ = ["daily_bars", "latest_bar", "snapshot"]

MINUTE = dt.timedelta(minutes=1)


def latest_bar(market: SimMarket, symbol: str, now: dt.datetime) -> Bar | None:
    """The symbol's last 1-minute bar complete by ``now`` (None before its first session, or unknown)."""
    if symbol not in market.data.symbols:
        return None
    session = market.calendar.session_at(now)
    if session is not None:
        done = (to_ns(now) - to_ns(session.open)) // NS_PER_MINUTE  # minutes complete today
        if done >= 1 and market.path(symbol, session.date) is not None:
            return market.minute(symbol, session.open + (done - 1) * MINUTE)
    closed = market.calendar.last_closed_session(now)
    day = market.data.last_bar_on_or_before(symbol, closed.date) if closed is not None else None
    last = market.calendar.session(day.date) if day is not None else None
    return market.minute(symbol, last.close - MINUTE) if last is not None else None


def daily_bars(market: SimMarket, symbol: str, now: dt.datetime) -> tuple[Bar | None, Bar | None]:
    """The latest daily bar as of ``now`` (today's partial one while the session runs) and the one before."""
    days = market.data.bar_days(symbol)
    k = int(np.searchsorted(days, now.astimezone(EXCHANGE_TZ).date().toordinal(), side="right"))
    if k == 0:
        return None, None
    first = dt.date.fromordinal(int(days[max(0, k - 3)]))  # today's bar may not have begun yet: one more
    bars = market.bars(symbol, "1Day", et_midnight(first), now, as_of=now)
    latest = bars[-1] if bars else None
    previous = bars[-2] if len(bars) > 1 else None
    return latest, previous


def snapshot(market: SimMarket, symbol: str, now: dt.datetime) -> dict | None:
    """The symbol's snapshot in Alpaca's shape; None for an unknown symbol or one with no data yet."""
    if symbol not in market.data.symbols:
        return None
    trade, quote = market.trade(symbol, now), market.quote(symbol, now)
    minute = latest_bar(market, symbol, now)
    daily, previous = daily_bars(market, symbol, now)
    parts = {
        "latestTrade": trade_json(trade) if trade is not None else None,
        "latestQuote": quote_json(quote) if quote is not None else None,
        "minuteBar": bar_json(minute) if minute is not None else None,
        "dailyBar": bar_json(daily) if daily is not None else None,
        "prevDailyBar": bar_json(previous) if previous is not None else None,
    }
    found = {key: value for key, value in parts.items() if value is not None}
    return found or None
