"""One page of the paper broker's bars, as the JSON bytes Alpaca would send: a pure function of the market.

Why a module of its own, apart from the routes: a page is built from nothing but the simulated market, the
simulated ``now`` and the validated request, and answered as bytes, so the same code runs on a thread of the
broker's process or in a worker process holding its own copy of the market (see ``market_data_pool``), and
the two answer byte for byte alike: a client following ``next_page_token`` cannot tell where each page was
built. It imports no web framework and no engine, which keeps that worker's start-up short.

The rows come from ``timeframes.bar_rows`` (every timeframe Alpaca accepts; the market's own 1Min and 1Day
bars sliced column-wise from the paths) and are paged by ``paging.page`` (the one paging loop and page token
of every historical endpoint); the page is encoded with orjson.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import orjson

from bot.paper_broker.calendar import EXCHANGE_TZ
from bot.paper_broker.market import SimMarket
from bot.paper_broker.paging import SeriesQuery, page, window
from bot.paper_broker.timeframes import Timeframe, bar_rows

BARS_PER_SESSION = {"Min": 390, "Day": 1}
"""At most this many of the market's own bars per session, by unit (a regular session is 390 minutes)."""


@dataclass(frozen=True)
class BarsRequest:
    """A bars request's parameters, validated by the route (and small enough to send to a worker)."""

    frame: Timeframe
    dividends: bool  # adjustment=dividend or all
    query: SeriesQuery


def bars_page(market: SimMarket, now: datetime, symbols: list[str], request: BarsRequest) -> bytes:
    """``GET /v2/stocks/bars``: several symbols, symbol by symbol then by time, ``limit`` bars in all."""
    bars, token = _page(market, now, symbols, request)
    return _encode({"bars": bars, "next_page_token": token})


def symbol_bars_page(market: SimMarket, now: datetime, symbol: str, request: BarsRequest) -> bytes:
    """``GET /v2/stocks/{symbol}/bars``."""
    bars, token = _page(market, now, [symbol], request)
    return _encode({"symbol": symbol, "bars": bars.get(symbol, []), "next_page_token": token})


def estimated_bars(market: SimMarket, now: datetime, symbols: list[str], request: BarsRequest) -> int:
    """An upper bound of the page's size when it holds the market's own bars (1Min, 1Day), from the sessions
    its window spans: cheap (two binary searches), so the route can decide where to build the page before
    building it. 0 for an aggregated timeframe: those pages are built on the broker's threads."""
    per_session = BARS_PER_SESSION.get(request.frame.unit) if request.frame.native else None
    start, end = window(request.query, now)
    if per_session is None or start > end:
        return 0
    first = max(start.astimezone(EXCHANGE_TZ).date(), market.calendar.start)
    last = min(end.astimezone(EXCHANGE_TZ).date(), market.calendar.end)
    if first > last:
        return 0
    sessions = len(market.calendar.sessions_between(first, last))
    known = len({s for s in symbols if s in market.data.symbols})
    return min(request.query.limit, known * sessions * per_session)


def _page(
    market: SimMarket, now: datetime, symbols: list[str], request: BarsRequest
) -> tuple[dict[str, list[dict]], str | None]:
    fetch = bar_rows(market, now, request.frame, request.query.sort, request.dividends)
    return page(symbols, request.query, now, fetch)


def _encode(body: dict) -> bytes:
    """orjson: the same bytes as ``json.dumps`` with compact separators (floats in their shortest form) in a
    fifteenth of the time; the standard encoder was over half of a 10,000-bar page's work."""
    return orjson.dumps(body)
