"""The paper broker's Market Data API v2: latest quotes and trades, and bars paged as Alpaca pages them.

Why a module of its own: market-data requests can be slow (a year of 1-minute bars builds hundreds of
intraday paths) and must never delay trading calls, which alpaca-py sends with no timeout. So these handlers
never take the engine's lock (the simulated market is a pure function of data, calendar, config and time,
read at the engine's ``now``) and run on `MarketDataPool`: its threads, or for a large page of bars its
worker process, never the event loop or the threads FastAPI gives the trading routes.

Here the parameters are checked as Alpaca checks them (400 with a message naming the parameter); the pages
themselves are built by ``bar_pages``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, Response

from bot.paper_broker import bar_pages, errors
from bot.paper_broker.bar_pages import BarsQuery
from bot.paper_broker.engine import PaperBrokerEngine
from bot.paper_broker.market_data_pool import PROCESS_PAGE_BARS, MarketDataPool
from bot.paper_broker.params import (
    DIRECTIONS,
    HISTORICAL_FEEDS,
    LATEST_FEEDS,
    adjustment,
    choice,
    date_param,
    time_param,
)
from bot.paper_broker.serialize import ts

TIMEFRAMES = {"1Min": "1Min", "1T": "1Min", "1Day": "1Day", "1D": "1Day"}


def market_data_routes(app: FastAPI, engine: PaperBrokerEngine, current: Any) -> MarketDataPool:
    """Register the routes; returns the pool they run on (shut down with the server)."""
    pool = MarketDataPool(engine.market)

    async def off_loop(work: Callable[..., dict], *args: Any) -> Response:
        """Run ``work`` on the pool and encode its answer there too: FastAPI would encode a returned dict
        on the event loop."""

        def encoded() -> bytes:
            return json.dumps(work(*args), separators=(",", ":")).encode()

        return Response(await pool.in_thread(encoded), media_type="application/json")

    async def page(work: Callable[..., bytes], symbols: list[str], query: BarsQuery, *args: Any) -> Response:
        """A page of bars at the engine's ``now``; in the worker process when it is a large one."""
        now = engine.now
        large = bar_pages.estimated_bars(engine.market, now, symbols, query) >= PROCESS_PAGE_BARS
        body = await pool.page(work, now, *args, query, large=large)
        return Response(body, media_type="application/json")

    @app.get("/v2/stocks/quotes/latest")
    async def latest_quotes(
        symbols: str, account: Any = current, feed: str | None = None, currency: str | None = None
    ) -> Response:
        _check_common(feed, LATEST_FEEDS, currency)
        return await off_loop(_latest_quotes, engine, _symbols(symbols))

    @app.get("/v2/stocks/trades/latest")
    async def latest_trades(
        symbols: str, account: Any = current, feed: str | None = None, currency: str | None = None
    ) -> Response:
        _check_common(feed, LATEST_FEEDS, currency)
        return await off_loop(_latest_trades, engine, _symbols(symbols))

    @app.get("/v2/stocks/bars")
    async def bars(
        symbols: str,
        account: Any = current,
        query: BarsQuery = Depends(_bars_query),
    ) -> Response:
        wanted = _symbols(symbols)
        return await page(bar_pages.bars_page, wanted, query, wanted)

    @app.get("/v2/stocks/{symbol}/bars")
    async def bars_single(
        symbol: str,
        account: Any = current,
        query: BarsQuery = Depends(_bars_query),
    ) -> Response:
        symbol = symbol.upper()
        return await page(bar_pages.symbol_bars_page, [symbol], query, symbol)

    return pool


# -- parameters ------------------------------------------------------------------------------------
def _bad(message: str) -> errors.BrokerError:
    return errors.BrokerError(400, 40010000, message)


def _check_common(feed: str | None, feeds: tuple[str, ...], currency: str | None) -> None:
    choice(feed, "feed", feeds, market_data=True)
    if currency not in (None, "", "USD"):
        raise _bad(f"invalid currency: {currency!r}, the paper broker quotes USD only")


def _symbols(text: str) -> list[str]:
    symbols = [s.strip().upper() for s in text.split(",") if s.strip()]
    if not symbols:
        raise _bad("symbols is required")
    return symbols


class _BarsRequest:
    """Reads a bars request's parameters as Alpaca does."""

    @classmethod
    def parse(  # noqa: PLR0913 - Alpaca's parameters, one by one
        cls,
        timeframe: str,
        start: str | None,
        end: str | None,
        limit: int,
        page_token: str | None,
        sort: str,
        feed: str | None,
        adjust: str | None,
        asof: str | None,
        currency: str | None,
    ) -> BarsQuery:
        frame = TIMEFRAMES.get(timeframe)
        if frame is None:
            raise _bad(f"invalid timeframe {timeframe!r}: the paper broker serves 1Min and 1Day")
        if not 1 <= limit <= 10000:
            raise _bad("limit must be between 1 and 10000")
        choice(sort, "sort", DIRECTIONS, market_data=True)
        _check_common(feed, HISTORICAL_FEEDS, currency)
        try:
            date_param(asof, "asof")
        except errors.BrokerError as exc:
            raise _bad(exc.message) from None
        return BarsQuery(
            frame=frame,
            start=time_param(start, "start"),
            end=time_param(end, "end"),
            limit=limit,
            resume=bar_pages.decode_page_token(page_token),
            sort=sort,
            adjustment=adjustment(adjust),
        )


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
) -> BarsQuery:
    """The bars query parameters both bars routes take (one symbol in the path, or many in the query), read
    and checked once as a FastAPI dependency."""
    return _BarsRequest.parse(
        timeframe, start, end, limit, page_token, sort, feed, adjustment, asof, currency
    )


# -- latest ----------------------------------------------------------------------------------------
def _latest_quotes(engine: PaperBrokerEngine, symbols: list[str]) -> dict:
    now, quotes = engine.now, {}
    for symbol in symbols:
        quote = engine.market.quote(symbol, now) if symbol in engine.market.data.symbols else None
        if quote is not None:
            quotes[symbol] = {
                "ap": quote.ask,
                "as": int(quote.ask_size),
                "ax": "V",
                "bp": quote.bid,
                "bs": int(quote.bid_size),
                "bx": "V",
                "c": ["R"],
                "t": ts(quote.t),
                "z": "B",
            }
    return {"quotes": quotes}


def _latest_trades(engine: PaperBrokerEngine, symbols: list[str]) -> dict:
    now, trades = engine.now, {}
    for symbol in symbols:
        trade = engine.market.trade(symbol, now) if symbol in engine.market.data.symbols else None
        if trade is not None:
            trades[symbol] = {
                "p": trade.price,
                "s": int(trade.size),
                "t": ts(trade.t),
                "x": "V",
                "i": int(trade.t.timestamp()),
                "c": ["@"],
                "z": "B",
            }
    return {"trades": trades}
