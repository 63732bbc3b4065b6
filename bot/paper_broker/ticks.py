"""Historical quotes and trades, synthesised from the minute bars: the bundled data has no tick data.

What they are, honestly: one quote and one trade per minute of each session, plus one at the open, built
from the simulated market's minute bars (real where bundled, else the synthetic path, ``market.py``) and
nothing else:

* at the open, at the daily open price; then at the end of each minute bar, at that bar's close (the last
  one, at the session's close, is the daily close);
* the quote is that price -/+ half the symbol's calibrated spread (``bot/paper_broker/data/costs.json`` via
  ``bot/cost_table.py``, or the configured one), widened outward to the cent, with about 2% of the minute's
  volume shown in round lots, split between bid and ask by a per-minute draw (``quoting.py``);
* the trade prints at that price for about 0.1% of the minute's volume (round lots, at least 100 shares),
  every minute, even one the real data shows without volume.

So they carry the minute path and the spread, not real tick-by-tick prices, sizes, venues or conditions:
exchange ``V`` (IEX), tape ``B``, conditions ``R`` (quote) and ``@`` (regular sale) throughout, timestamps
on whole minutes, and the trade ``i`` is the epoch second of its print. The latest quote and trade
(``SimMarket.quote``/``trade``, what the engine fills against) are by construction the last of these at or
before the simulated time: the same points, the same model. Nothing is shown after the simulated ``now``.
Pure functions of (market, now, request), so the routes may run them on any thread or process.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bot.paper_broker.calendar import EXCHANGE_TZ, NS_PER_MINUTE, Session, to_ns
from bot.paper_broker.market import Quote, SimMarket, Trade
from bot.paper_broker.paging import Fetch
from bot.paper_broker.quoting import QUOTE_DEPTH_FRACTION, TRADE_SIZE_FRACTION, lots, nbbo
from bot.paper_broker.serialize import ts

__all__ = ["quote_json", "quote_rows", "trade_json", "trade_rows"]

EXCHANGE = "V"  # IEX: the feed alpaca-py's free tier reads
TAPE = "B"  # the tape of NYSE Arca-listed ETFs
QUOTE_CONDITIONS = ("R",)  # regular two-sided quote
TRADE_CONDITIONS = ("@",)  # regular sale


@dataclass(frozen=True)
class _Points:
    """A session's tick points: the open and each minute's end, with the quote and trade model's inputs."""

    stamps: np.ndarray  # epoch ns
    price: np.ndarray
    depth: np.ndarray  # shares shown across both sides of the quote
    u: np.ndarray  # the bid/ask split draw
    trade_size: np.ndarray


def _points(market: SimMarket, symbol: str, session: Session) -> _Points | None:
    """Point k (0..minutes) is at open + k minutes, priced at the path's mark there; its sizes come from the
    minute that starts there, the last point's (the close) from the day's average minute, as the latest
    quote's do (``SimMarket.quote``)."""
    path = market.path(symbol, session.date)
    day = market.data.daily_bar(symbol, session.date)
    if path is None or day is None:
        return None
    volume = np.append(path.volume, day.volume)
    depth = np.append(path.volume, day.volume / path.minutes) * QUOTE_DEPTH_FRACTION
    return _Points(
        stamps=to_ns(session.open) + NS_PER_MINUTE * np.arange(path.minutes + 1, dtype=np.int64),
        price=path.points(),
        depth=depth,
        u=np.append(path.size_u, 0.5),
        trade_size=lots(volume * TRADE_SIZE_FRACTION),
    )


def _walk(
    market: SimMarket, now: dt.datetime, sort: str, rows: Callable[[str, _Points, np.ndarray], list[dict]]
) -> Fetch:
    """A fetch for ``paging.page``: the rows of the points in [lo, hi] (and at or before ``now``), session by
    session in the query's order, only as many sessions as ``wanted`` needs."""
    done = to_ns(now)

    def fetch(symbol: str, lo: dt.datetime, hi: dt.datetime, wanted: int) -> list[dict]:
        if symbol not in market.data.symbols:
            return []
        first = max(lo.astimezone(EXCHANGE_TZ).date(), market.calendar.start)
        last = min(min(hi, now).astimezone(EXCHANGE_TZ).date(), market.calendar.end)
        sessions = market.calendar.sessions_between(first, last)
        lo_ns, hi_ns = to_ns(lo), min(to_ns(hi), done)
        out: list[dict] = []
        for session in reversed(sessions) if sort == "desc" else sessions:
            points = _points(market, symbol, session)
            if points is None:
                continue
            chosen = np.flatnonzero((points.stamps >= lo_ns) & (points.stamps <= hi_ns))
            if sort == "desc":
                chosen = chosen[::-1]
            out.extend(rows(symbol, points, chosen[: wanted - len(out)]))
            if len(out) >= wanted:
                break
        return out

    return fetch


def quote_rows(market: SimMarket, now: dt.datetime, sort: str) -> Fetch:
    """The historical quotes fetch (see the module docstring for what they are)."""

    def rows(symbol: str, points: _Points, chosen: np.ndarray) -> list[dict]:
        price, depth, u = points.price[chosen], points.depth[chosen], points.u[chosen]
        bid, ask, bid_size, ask_size = nbbo(price, market.spread_bps(symbol), depth, u)
        stamps = points.stamps[chosen].tolist()
        return [
            _quote_row(_stamp(t), b, a, bs, as_)
            for t, b, a, bs, as_ in zip(
                stamps, bid.tolist(), ask.tolist(), bid_size.tolist(), ask_size.tolist(), strict=True
            )
        ]

    return _walk(market, now, sort, rows)


def trade_rows(market: SimMarket, now: dt.datetime, sort: str) -> Fetch:
    """The historical trades fetch (see the module docstring for what they are)."""

    def rows(symbol: str, points: _Points, chosen: np.ndarray) -> list[dict]:
        stamps = points.stamps[chosen].tolist()
        prices, sizes = points.price[chosen].tolist(), points.trade_size[chosen].tolist()
        return [
            _trade_row(_stamp(t), t // 10**9, p, s) for t, p, s in zip(stamps, prices, sizes, strict=True)
        ]

    return _walk(market, now, sort, rows)


def quote_json(quote: Quote) -> dict:
    """The latest quote in Alpaca's shape, the same as a historical one."""
    return _quote_row(ts(quote.t), quote.bid, quote.ask, quote.bid_size, quote.ask_size)


def trade_json(trade: Trade) -> dict:
    """The latest trade in Alpaca's shape, the same as a historical one."""
    return _trade_row(ts(trade.t), int(trade.t.timestamp()), trade.price, trade.size)


def _quote_row(stamp: str, bid: float, ask: float, bid_size: float, ask_size: float) -> dict:
    return {
        "ap": ask,
        "as": int(ask_size),
        "ax": EXCHANGE,
        "bp": bid,
        "bs": int(bid_size),
        "bx": EXCHANGE,
        "c": list(QUOTE_CONDITIONS),
        "t": stamp,
        "z": TAPE,
    }


def _trade_row(stamp: str, trade_id: int, price: float, size: float) -> dict:
    return {
        "p": price,
        "s": int(size),
        "t": stamp,
        "x": EXCHANGE,
        "i": int(trade_id),
        "c": list(TRADE_CONDITIONS),
        "z": TAPE,
    }


def _stamp(ns: int) -> str:
    """Epoch ns as ``serialize.ts`` writes it (``...T14:30:00.000000Z``), the latest quote's format."""
    return ts(dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ns // 1000))
