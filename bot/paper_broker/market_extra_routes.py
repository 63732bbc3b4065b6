"""The paper broker's other Market Data API v2 routes: latest bars, snapshots, historical quotes and trades.

Registered by ``market_routes.market_data_routes`` and run on its thread pool (``off_loop``), like the bars:
each handler only validates its parameters (Alpaca's 400 naming a bad one) and hands a pure function of
(market, now, request) to the pool; the functions live in ``snapshots.py`` and ``ticks.py``. The historical
quotes and trades are synthesised from the minute bars (the data has no ticks; ``ticks.py`` says how) and
page exactly as the bars do (``paging.py``). A single-symbol route for a symbol with no data answers 404.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, FastAPI, Response

from bot.paper_broker import errors
from bot.paper_broker.engine import PaperBrokerEngine
from bot.paper_broker.paging import Fetch, SeriesQuery, page
from bot.paper_broker.params import LATEST_FEEDS, check_feed_and_currency, symbols_param
from bot.paper_broker.snapshots import latest_bar, snapshot
from bot.paper_broker.ticks import quote_json, quote_rows, trade_json, trade_rows
from bot.paper_broker.timeframes import bar_json

OffLoop = Callable[..., Awaitable[Response]]


def _series_query(
    start: str | None = None,
    end: str | None = None,
    limit: int = 1000,
    page_token: str | None = None,
    sort: str = "asc",
    feed: str | None = None,
    asof: str | None = None,
    currency: str | None = None,
) -> SeriesQuery:
    """The historical quotes/trades parameters, read and checked once as a FastAPI dependency."""
    return SeriesQuery.parse(start, end, limit, page_token, sort, feed, asof, currency)


def _latest_params(feed: str | None = None, currency: str | None = None) -> None:
    check_feed_and_currency(feed, LATEST_FEEDS, currency)


def extra_market_data_routes(
    app: FastAPI, engine: PaperBrokerEngine, current: Any, off_loop: OffLoop
) -> None:
    """Register the routes on ``app``; ``current`` authenticates, ``off_loop`` runs work on the pool."""
    latest = Depends(_latest_params)
    history = Depends(_series_query)

    @app.get("/v2/stocks/bars/latest")
    async def latest_bars(symbols: str, account: Any = current, _: None = latest) -> Response:
        return await off_loop(_latest_bars, engine, symbols_param(symbols))

    @app.get("/v2/stocks/{symbol}/bars/latest")
    async def latest_bar_single(symbol: str, account: Any = current, _: None = latest) -> Response:
        return await off_loop(_latest_bar_single, engine, symbol.upper())

    @app.get("/v2/stocks/{symbol}/quotes/latest")
    async def latest_quote_single(symbol: str, account: Any = current, _: None = latest) -> Response:
        return await off_loop(_latest_single, engine, symbol.upper(), "quote")

    @app.get("/v2/stocks/{symbol}/trades/latest")
    async def latest_trade_single(symbol: str, account: Any = current, _: None = latest) -> Response:
        return await off_loop(_latest_single, engine, symbol.upper(), "trade")

    @app.get("/v2/stocks/snapshots")
    async def snapshots(symbols: str, account: Any = current, _: None = latest) -> Response:
        return await off_loop(_snapshots, engine, symbols_param(symbols))

    @app.get("/v2/stocks/{symbol}/snapshot")
    async def snapshot_single(symbol: str, account: Any = current, _: None = latest) -> Response:
        return await off_loop(_snapshot_single, engine, symbol.upper())

    for kind, rows in (("quotes", quote_rows), ("trades", trade_rows)):
        _history_routes(app, engine, current, off_loop, history, kind, rows)


def _history_routes(  # noqa: PLR0913 - one registration, two kinds
    app: FastAPI,
    engine: PaperBrokerEngine,
    current: Any,
    off_loop: OffLoop,
    history: Any,
    kind: str,
    rows: Callable[..., Fetch],
) -> None:
    """``GET /v2/stocks/{kind}`` (many symbols) and ``/v2/stocks/{symbol}/{kind}`` (one), paged."""

    async def many(symbols: str, account: Any = current, query: SeriesQuery = history) -> Response:
        return await off_loop(_history, engine, symbols_param(symbols), query, kind, rows)

    async def one(symbol: str, account: Any = current, query: SeriesQuery = history) -> Response:
        return await off_loop(_history_single, engine, symbol.upper(), query, kind, rows)

    app.get(f"/v2/stocks/{kind}")(many)
    app.get(f"/v2/stocks/{{symbol}}/{kind}")(one)


# -- the work, on the pool -------------------------------------------------------------------------
def _not_found(what: str, symbol: str) -> errors.BrokerError:
    return errors.BrokerError(404, 40410000, f"no {what} found for {symbol}")


def _latest_bars(engine: PaperBrokerEngine, symbols: list[str]) -> dict:
    now, bars = engine.now, {}
    for symbol in symbols:
        if (bar := latest_bar(engine.market, symbol, now)) is not None:
            bars[symbol] = bar_json(bar)
    return {"bars": bars}


def _latest_bar_single(engine: PaperBrokerEngine, symbol: str) -> dict:
    bar = latest_bar(engine.market, symbol, engine.now)
    if bar is None:
        raise _not_found("bar", symbol)
    return {"symbol": symbol, "bar": bar_json(bar)}


def _latest_single(engine: PaperBrokerEngine, symbol: str, kind: str) -> dict:
    """The latest quote or trade of one symbol, as the multi-symbol latest routes give it."""
    market, now = engine.market, engine.now
    known = symbol in market.data.symbols
    if kind == "quote":
        quote = market.quote(symbol, now) if known else None
        if quote is None:
            raise _not_found("quote", symbol)
        return {"symbol": symbol, "quote": quote_json(quote)}
    trade = market.trade(symbol, now) if known else None
    if trade is None:
        raise _not_found("trade", symbol)
    return {"symbol": symbol, "trade": trade_json(trade)}


def _snapshots(engine: PaperBrokerEngine, symbols: list[str]) -> dict:
    now, out = engine.now, {}
    for symbol in symbols:
        if (found := snapshot(engine.market, symbol, now)) is not None:
            out[symbol] = found
    return out


def _snapshot_single(engine: PaperBrokerEngine, symbol: str) -> dict:
    found = snapshot(engine.market, symbol, engine.now)
    if found is None:
        raise _not_found("snapshot", symbol)
    return {"symbol": symbol, **found}


def _history(
    engine: PaperBrokerEngine,
    symbols: list[str],
    query: SeriesQuery,
    kind: str,
    rows: Callable[..., Fetch],
) -> dict:
    now = engine.now
    found, token = page(symbols, query, now, rows(engine.market, now, query.sort))
    return {kind: found, "next_page_token": token}


def _history_single(
    engine: PaperBrokerEngine, symbol: str, query: SeriesQuery, kind: str, rows: Callable[..., Fetch]
) -> dict:
    result = _history(engine, [symbol], query, kind, rows)
    found = result[kind].get(symbol, [])
    return {"symbol": symbol, kind: found, "next_page_token": result["next_page_token"]}
