"""The paper broker's Market Data API v2: latest quotes and trades, and bars paged as Alpaca pages them (the
latest bars, snapshots and historical quotes and trades are registered from ``market_extra_routes.py``).

Why a module of its own: market-data requests can be slow (a year of 1-minute bars builds hundreds of
intraday paths) and must never delay trading calls, which alpaca-py sends with no timeout. So these handlers
run on their own thread pool, never on the one FastAPI gives the trading routes, and never take the engine's
lock: the simulated market is a pure function of (data, calendar, config, time), read at the engine's ``now``.

Bars come in every timeframe Alpaca accepts (``timeframes.py``) and are built only as far as the page needs
(``limit``, default 1000, at most 10000); a page ends with a ``next_page_token`` when more remain
(``paging.py``), so a request over years costs one page's work per round trip.
Parameters are checked as Alpaca checks them (400 with a message naming the parameter); ``adjustment``
``dividend``/``all`` scales prices before each later ex-date by ``1 - dividend / previous close``, from the
data's dividend column. ``split`` changes nothing: the bundled prices are all on one split basis, the basis
the simulated market trades on, so no split happens inside the simulated world.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import Depends, FastAPI, Response

from bot.paper_broker.engine import PaperBrokerEngine
from bot.paper_broker.market_extra_routes import extra_market_data_routes
from bot.paper_broker.paging import SeriesQuery, page
from bot.paper_broker.params import LATEST_FEEDS, check_feed_and_currency, symbols_param
from bot.paper_broker.params import adjustment as adjust
from bot.paper_broker.ticks import quote_json, trade_json
from bot.paper_broker.timeframes import Timeframe, bar_rows, parse_timeframe

MARKET_DATA_THREADS = 4


def market_data_routes(app: FastAPI, engine: PaperBrokerEngine, current: Any) -> ThreadPoolExecutor:
    """Register the routes; returns the executor they run on (shut down with the server)."""
    pool = ThreadPoolExecutor(MARKET_DATA_THREADS, thread_name_prefix="paper-market-data")

    async def off_loop(work: Callable[..., dict], *args: Any) -> Response:
        """Run ``work`` on the pool and encode its answer there too: FastAPI would encode a returned dict
        on the event loop, where 10,000 bars take long enough to hold up every other request."""

        def encoded() -> bytes:
            return json.dumps(work(*args), separators=(",", ":")).encode()

        body = await asyncio.get_running_loop().run_in_executor(pool, encoded)
        return Response(body, media_type="application/json")

    @app.get("/v2/stocks/quotes/latest")
    async def latest_quotes(
        symbols: str, account: Any = current, feed: str | None = None, currency: str | None = None
    ) -> Response:
        check_feed_and_currency(feed, LATEST_FEEDS, currency)
        return await off_loop(_latest_quotes, engine, symbols_param(symbols))

    @app.get("/v2/stocks/trades/latest")
    async def latest_trades(
        symbols: str, account: Any = current, feed: str | None = None, currency: str | None = None
    ) -> Response:
        check_feed_and_currency(feed, LATEST_FEEDS, currency)
        return await off_loop(_latest_trades, engine, symbols_param(symbols))

    @app.get("/v2/stocks/bars")
    async def bars(
        symbols: str,
        account: Any = current,
        request: _BarsRequest = Depends(_bars_query),
    ) -> Response:
        return await off_loop(_bars, engine, symbols_param(symbols), request)

    @app.get("/v2/stocks/{symbol}/bars")
    async def bars_single(
        symbol: str,
        account: Any = current,
        request: _BarsRequest = Depends(_bars_query),
    ) -> Response:
        return await off_loop(_single_symbol_bars, engine, symbol.upper(), request)

    extra_market_data_routes(app, engine, current, off_loop)
    return pool


# -- parameters ------------------------------------------------------------------------------------
class _BarsRequest:
    """A bars request's parameters, validated: the timeframe, the adjustment and the paging query."""

    def __init__(self, frame: Timeframe, dividends: bool, query: SeriesQuery) -> None:
        self.frame, self.dividends, self.query = frame, dividends, query


def _bars_query(
    timeframe: str,
    start: str | None = None,
    end: str | None = None,
    limit: int = 1000,
    page_token: str | None = None,
    sort: str = "asc",
    feed: str | None = None,
    adjustment: str | None = None,
    asof: str | None = None,
    currency: str | None = None,
) -> _BarsRequest:
    """The bars query parameters both bars routes take (one symbol in the path, or many in the query), read
    and checked once as a FastAPI dependency."""
    return _BarsRequest(
        parse_timeframe(timeframe),
        "dividend" in adjust(adjustment),
        SeriesQuery.parse(start, end, limit, page_token, sort, feed, asof, currency),
    )


# -- latest ----------------------------------------------------------------------------------------
def _latest_quotes(engine: PaperBrokerEngine, symbols: list[str]) -> dict:
    market, now, quotes = engine.market, engine.now, {}
    for symbol in symbols:
        quote = market.quote(symbol, now) if symbol in market.data.symbols else None
        if quote is not None:
            quotes[symbol] = quote_json(quote)
    return {"quotes": quotes}


def _latest_trades(engine: PaperBrokerEngine, symbols: list[str]) -> dict:
    market, now, trades = engine.market, engine.now, {}
    for symbol in symbols:
        trade = market.trade(symbol, now) if symbol in market.data.symbols else None
        if trade is not None:
            trades[symbol] = trade_json(trade)
    return {"trades": trades}


# -- bars ------------------------------------------------------------------------------------------
def _bars(engine: PaperBrokerEngine, symbols: list[str], request: _BarsRequest) -> dict:
    """Bars of several symbols, symbol by symbol then by time, ``limit`` bars per page in all."""
    now, query = engine.now, request.query
    fetch = bar_rows(engine.market, now, request.frame, query.sort, request.dividends)
    bars, token = page(symbols, query, now, fetch)
    return {"bars": bars, "next_page_token": token}


def _single_symbol_bars(engine: PaperBrokerEngine, symbol: str, request: _BarsRequest) -> dict:
    result = _bars(engine, [symbol], request)
    return {
        "symbol": symbol,
        "bars": result["bars"].get(symbol, []),
        "next_page_token": result["next_page_token"],
    }
