"""The paper broker's Market Data API v2: latest quotes and trades, and bars paged as Alpaca pages them (the
latest bars, snapshots and historical quotes and trades are registered from ``market_extra_routes.py``).

Why a module of its own: market-data requests can be slow (a year of 1-minute bars builds hundreds of
intraday paths) and must never delay trading calls, which alpaca-py sends with no timeout. So these handlers
never take the engine's lock (the simulated market is a pure function of data, calendar, config and time,
read at the engine's ``now``) and run on `MarketDataPool`: its threads, or for a large page of the market's
own 1Min or 1Day bars its worker process, never the event loop or the threads FastAPI gives the trading
routes.

Here the parameters are checked as Alpaca checks them (400 with a message naming the parameter): the
timeframe (``timeframes.py``: every one Alpaca accepts), the paging parameters (``paging.py``) and
``adjustment``, whose ``dividend``/``all`` scales prices before each later ex-date by
``1 - dividend / previous close``, from the data's dividend column. ``split`` changes nothing: the bundled
prices are all on one split basis, the basis the simulated market trades on, so no split happens inside the
simulated world. The pages themselves are built by ``bar_pages.py``, wherever they run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, Response

from bot.paper_broker import bar_pages
from bot.paper_broker.bar_pages import BarsRequest
from bot.paper_broker.engine import PaperBrokerEngine
from bot.paper_broker.market_data_pool import PROCESS_PAGE_BARS, MarketDataPool
from bot.paper_broker.market_extra_routes import extra_market_data_routes
from bot.paper_broker.paging import SeriesQuery
from bot.paper_broker.params import LATEST_FEEDS, check_feed_and_currency, symbols_param
from bot.paper_broker.params import adjustment as adjust
from bot.paper_broker.ticks import quote_json, trade_json
from bot.paper_broker.timeframes import parse_timeframe


def market_data_routes(app: FastAPI, engine: PaperBrokerEngine, current: Any) -> MarketDataPool:
    """Register the routes; returns the pool they run on (shut down with the server)."""
    pool = MarketDataPool(engine.market)

    async def off_loop(work: Callable[..., dict], *args: Any) -> Response:
        """Run ``work`` on the pool's threads and encode its answer there too: FastAPI would encode a
        returned dict on the event loop."""

        def encoded() -> bytes:
            return json.dumps(work(*args), separators=(",", ":")).encode()

        return Response(await pool.in_thread(encoded), media_type="application/json")

    async def page(
        work: Callable[..., bytes], symbols: list[str], request: BarsRequest, *args: Any
    ) -> Response:
        """A page of bars at the engine's ``now``; in the worker process when it is a large one."""
        now = engine.now
        large = bar_pages.estimated_bars(engine.market, now, symbols, request) >= PROCESS_PAGE_BARS
        body = await pool.page(work, now, *args, request, large=large)
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
        request: BarsRequest = Depends(bars_query),
    ) -> Response:
        wanted = symbols_param(symbols)
        return await page(bar_pages.bars_page, wanted, request, wanted)

    @app.get("/v2/stocks/{symbol}/bars")
    async def bars_single(
        symbol: str,
        account: Any = current,
        request: BarsRequest = Depends(bars_query),
    ) -> Response:
        symbol = symbol.upper()
        return await page(bar_pages.symbol_bars_page, [symbol], request, symbol)

    extra_market_data_routes(app, engine, current, off_loop)
    return pool


# -- parameters ------------------------------------------------------------------------------------
def bars_query(
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
) -> BarsRequest:
    """The bars query parameters both bars routes take (one symbol in the path, or many in the query), read
    and checked once as a FastAPI dependency (and by scripts that page bars in process)."""
    return BarsRequest(
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
