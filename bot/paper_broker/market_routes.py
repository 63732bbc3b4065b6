"""The paper broker's Market Data API v2: latest quotes and trades, and bars paged as Alpaca pages them.

Why a module of its own: market-data requests can be slow (a year of 1-minute bars builds hundreds of
intraday paths) and must never delay trading calls, which alpaca-py sends with no timeout. So these handlers
run on their own thread pool, never on the one FastAPI gives the trading routes, and never take the engine's
lock: the simulated market is a pure function of (data, calendar, config, time), read at the engine's ``now``.

Bars are built only as far as the page needs (``limit``, default 1000, at most 10000), and a page ends with a
``next_page_token`` when more remain, so a request over years costs one page's work per round trip.
Parameters are checked as Alpaca checks them (400 with a message naming the parameter); ``adjustment``
``dividend``/``all`` scales prices before each later ex-date by ``1 - dividend / previous close``, from the
data's dividend column. ``split`` changes nothing: the bundled prices are all on one split basis, the basis
the simulated market trades on, so no split happens inside the simulated world.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta
from typing import Any

import numpy as np
from fastapi import Depends, FastAPI, Response

from bot.paper_broker import errors
from bot.paper_broker.engine import PaperBrokerEngine
from bot.paper_broker.market import Bar
from bot.paper_broker.params import (
    DIRECTIONS,
    HISTORICAL_FEEDS,
    LATEST_FEEDS,
    adjustment,
    choice,
    date_param,
    time_param,
)
from bot.paper_broker.serialize import NEW_YORK, ts

TIMEFRAMES = {"1Min": "1Min", "1T": "1Min", "1Day": "1Day", "1D": "1Day"}
DESC_WINDOW = {"1Min": timedelta(days=10), "1Day": timedelta(days=366 * 30)}
"""How far back one step of a newest-first walk reaches: about a page of minute bars, all daily bars."""
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
        request: _BarsRequest = Depends(_bars_query),
    ) -> Response:
        return await off_loop(_bars, engine, _symbols(symbols), request)

    @app.get("/v2/stocks/{symbol}/bars")
    async def bars_single(
        symbol: str,
        account: Any = current,
        request: _BarsRequest = Depends(_bars_query),
    ) -> Response:
        return await off_loop(_single_symbol_bars, engine, symbol.upper(), request)

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
    """A bars request's parameters, validated."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

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
    ) -> _BarsRequest:
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
        return cls(
            frame=frame,
            start=time_param(start, "start"),
            end=time_param(end, "end"),
            limit=limit,
            resume=_decode_page_token(page_token),
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
) -> _BarsRequest:
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


# -- bars ------------------------------------------------------------------------------------------
def _bars(engine: PaperBrokerEngine, symbols: list[str], request: _BarsRequest) -> dict:
    """Bars of several symbols, symbol by symbol then by time, ``limit`` bars per page in all."""
    now = engine.now
    start = request.start or datetime.combine(now.astimezone(NEW_YORK).date(), time(), NEW_YORK)
    end = min(request.end or now, now)
    out: dict[str, list[dict]] = {}
    count, last = 0, None
    for symbol in sorted(set(symbols)):
        if symbol not in engine.market.data.symbols or (request.resume and symbol < request.resume[0]):
            continue
        lo, hi = start, end
        if request.resume and symbol == request.resume[0]:
            lo, hi = _after_token(request.resume[1], request.sort, lo, hi)
        wanted = request.limit - count + 1  # one more than fits: is there a next page?
        series = _series(engine, symbol, request.frame, lo, hi, now, wanted, request.sort)
        if series and count == request.limit:
            return {"bars": out, "next_page_token": _encode_page_token(*last)}
        factors = _price_factors(engine, symbol, series, request.adjustment, now)
        for bar, factor in zip(series, factors, strict=True):
            if count == request.limit:
                return {"bars": out, "next_page_token": _encode_page_token(*last)}
            row = _bar_json(bar, factor)
            out.setdefault(symbol, []).append(row)
            count, last = count + 1, (symbol, row["t"])
    return {"bars": out, "next_page_token": None}


def _single_symbol_bars(engine: PaperBrokerEngine, symbol: str, request: _BarsRequest) -> dict:
    result = _bars(engine, [symbol], request)
    return {
        "symbol": symbol,
        "bars": result["bars"].get(symbol, []),
        "next_page_token": result["next_page_token"],
    }


def _series(
    engine: PaperBrokerEngine,
    symbol: str,
    frame: str,
    lo: datetime,
    hi: datetime,
    now: datetime,
    wanted: int,
    sort: str,
) -> list[Bar]:
    """At most ``wanted`` bars in [lo, hi], oldest first for ``asc``, newest first for ``desc``; only the
    intraday paths those bars need are built."""
    market = engine.market
    if sort != "desc":
        return market.bars(symbol, frame, lo, hi, as_of=now, limit=wanted)
    out: list[Bar] = []
    window_end = hi
    while len(out) < wanted and window_end >= lo:
        window_start = max(lo, window_end - DESC_WINDOW[frame])
        chunk = market.bars(symbol, frame, window_start, window_end, as_of=now)
        out.extend(reversed(chunk))
        window_end = window_start - timedelta(microseconds=1)
    return out[:wanted]


def _price_factors(
    engine: PaperBrokerEngine, symbol: str, series: list[Bar], kinds: frozenset[str], now: datetime
) -> list:
    """Each bar's dividend adjustment (1.0 when not asked for), for the dividends gone ex by ``now`` only:
    a later dividend is not known yet in the simulated world."""
    if "dividend" not in kinds or not series:
        return [1.0] * len(series)
    days, factors = engine.market.data.dividend_factors(symbol)
    ordinals = np.array([bar.t.astimezone(NEW_YORK).date().toordinal() for bar in series])
    today = now.astimezone(NEW_YORK).date().toordinal()
    index = np.clip(np.searchsorted(days, np.append(ordinals, today), side="right") - 1, 0, days.size - 1)
    return [float(f) for f in factors[index[:-1]] / factors[index[-1]]]


def _after_token(stamp: str, sort: str, lo: datetime, hi: datetime) -> tuple[datetime, datetime]:
    """The interval left after the bar a page token names: strictly later (asc) or earlier (desc)."""
    at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    step = timedelta(microseconds=1)
    return (max(lo, at + step), hi) if sort != "desc" else (lo, min(hi, at - step))


def _bar_stamp(bar: Bar) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (isoformat: several times faster than strftime, which showed in profiles)."""
    return bar.t.astimezone(UTC).isoformat(timespec="seconds")[:19] + "Z"


def _bar_json(bar: Bar, factor: float = 1.0) -> dict:
    def price(value: float) -> float:
        return value if factor == 1.0 else round(value * factor, 4)

    return {
        "t": _bar_stamp(bar),
        "o": price(bar.open),
        "h": price(bar.high),
        "l": price(bar.low),
        "c": price(bar.close),
        "v": int(bar.volume),
        "n": int(bar.trade_count),
        "vw": price(bar.vwap),
    }


def _encode_page_token(symbol: str, stamp: str) -> str:
    return base64.urlsafe_b64encode(f"{symbol}|{stamp}".encode()).decode()


def _decode_page_token(token: str | None) -> tuple[str, str] | None:
    if not token:
        return None
    try:
        symbol, stamp = base64.urlsafe_b64decode(token.encode()).decode().split("|", 1)
        datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except (ValueError, UnicodeDecodeError):
        raise _bad("invalid page_token") from None
    return symbol, stamp
