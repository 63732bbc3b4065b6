"""One page of the paper broker's bars, as the JSON bytes Alpaca would send: a pure function of the market.

Why a module of its own, apart from the routes: a page is built from nothing but the simulated market, the
simulated ``now`` and the validated query, and answered as bytes, so the same code runs on a thread of the
broker's process or in a worker process holding its own copy of the market (see ``market_data_pool``). It
imports no web framework and no engine, which keeps that worker's start-up short.

Bars are built only as far as the page needs (``limit``, at most 10,000), column by column from the
intraday paths' arrays, and a page ends with a ``next_page_token`` when more remain: a request over years
costs one page's work per round trip. ``adjustment`` ``dividend``/``all`` scales prices before each later
ex-date by ``1 - dividend / previous close``, from the data's dividend column. ``split`` changes nothing: the
bundled prices are all on one split basis, the basis the simulated market trades on.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import numpy as np
import orjson
import pandas as pd

from bot.paper_broker import errors
from bot.paper_broker.bar_columns import BarColumns
from bot.paper_broker.calendar import EXCHANGE_TZ
from bot.paper_broker.market import SimMarket

DESC_WINDOW = {"1Min": timedelta(days=10), "1Day": timedelta(days=366 * 30)}
"""How far back one step of a newest-first walk reaches: about a page of minute bars, all daily bars."""
BARS_PER_SESSION = {"1Min": 390, "1Day": 1}
_NS_PER_DAY = 86_400 * 10**9
_EPOCH_ORDINAL = datetime(1970, 1, 1).toordinal()


@dataclass(frozen=True)
class BarsQuery:
    """A bars request's parameters, already validated by the route (and small enough to send to a worker)."""

    frame: str  # "1Min" or "1Day"
    start: datetime | None
    end: datetime | None
    limit: int
    resume: tuple[str, str] | None  # (symbol, bar stamp) of the last bar of the previous page
    sort: str  # "asc" or "desc"
    adjustment: frozenset[str]


def bars_page(market: SimMarket, now: datetime, symbols: list[str], query: BarsQuery) -> bytes:
    """``GET /v2/stocks/bars``: several symbols, symbol by symbol then by time, ``limit`` bars in all."""
    bars, token = _page(market, now, symbols, query)
    return _encode({"bars": bars, "next_page_token": token})


def symbol_bars_page(market: SimMarket, now: datetime, symbol: str, query: BarsQuery) -> bytes:
    """``GET /v2/stocks/{symbol}/bars``."""
    bars, token = _page(market, now, [symbol], query)
    return _encode({"symbol": symbol, "bars": bars.get(symbol, []), "next_page_token": token})


def estimated_bars(market: SimMarket, now: datetime, symbols: list[str], query: BarsQuery) -> int:
    """An upper bound of the page's size, from the sessions its window spans: cheap (two binary searches),
    so the route can decide where to build the page before building it."""
    start, end = _window(query, now)
    if start > end:
        return 0
    first = max(start.astimezone(EXCHANGE_TZ).date(), market.calendar.start)
    last = min(end.astimezone(EXCHANGE_TZ).date(), market.calendar.end)
    if first > last:
        return 0
    sessions = len(market.calendar.sessions_between(first, last))
    known = len({s for s in symbols if s in market.data.symbols})
    return min(query.limit, known * sessions * BARS_PER_SESSION[query.frame])


def _encode(body: dict) -> bytes:
    """orjson: the same bytes as ``json.dumps`` with compact separators (floats in their shortest form) in a
    fifteenth of the time; the standard encoder was over half of a 10,000-bar page's work."""
    return orjson.dumps(body)


def _window(query: BarsQuery, now: datetime) -> tuple[datetime, datetime]:
    """[start, end] as Alpaca reads them: start defaults to today's midnight New York time, end to now, and
    nothing later than now exists yet."""
    start = query.start or datetime.combine(now.astimezone(EXCHANGE_TZ).date(), time(), EXCHANGE_TZ)
    return start, min(query.end or now, now)


def _page(
    market: SimMarket, now: datetime, symbols: list[str], query: BarsQuery
) -> tuple[dict[str, list[dict]], str | None]:
    start, end = _window(query, now)
    out: dict[str, list[dict]] = {}
    count, last = 0, None
    for symbol in sorted(set(symbols)):
        if symbol not in market.data.symbols or (query.resume and symbol < query.resume[0]):
            continue
        lo, hi = start, end
        if query.resume and symbol == query.resume[0]:
            lo, hi = _after_token(query.resume[1], query.sort, lo, hi)
        room = query.limit - count
        series = _series(market, symbol, query.frame, lo, hi, now, room + 1, query.sort)  # one more: next?
        if not len(series):
            continue
        if room == 0:
            return out, encode_page_token(*last)
        rows = _rows(series[:room], _price_factors(market, symbol, series[:room], query.adjustment, now))
        out[symbol] = rows
        count, last = count + len(rows), (symbol, rows[-1]["t"])
        if len(series) > room:
            return out, encode_page_token(*last)
    return out, None


def _series(
    market: SimMarket,
    symbol: str,
    frame: str,
    lo: datetime,
    hi: datetime,
    now: datetime,
    wanted: int,
    sort: str,
) -> BarColumns:
    """At most ``wanted`` bars in [lo, hi], oldest first for ``asc``, newest first for ``desc``; only the
    intraday paths those bars need are built."""
    if sort != "desc":
        return market.bar_columns(symbol, frame, lo, hi, as_of=now, limit=wanted)
    parts: list[BarColumns] = []
    count, window_end = 0, hi
    while count < wanted and window_end >= lo:
        window_start = max(lo, window_end - DESC_WINDOW[frame])
        chunk = market.bar_columns(symbol, frame, window_start, window_end, as_of=now)[::-1]
        parts.append(chunk)
        count += len(chunk)
        window_end = window_start - timedelta(microseconds=1)
    return BarColumns.concat(parts)[:wanted]


def _price_factors(
    market: SimMarket, symbol: str, series: BarColumns, kinds: frozenset[str], now: datetime
) -> list[float] | None:
    """Each bar's dividend adjustment (None when not asked for), for the dividends gone ex by ``now`` only:
    a later dividend is not known yet in the simulated world."""
    if "dividend" not in kinds or not len(series):
        return None
    days, factors = market.data.dividend_factors(symbol)
    local = pd.to_datetime(series.t, unit="ns", utc=True).tz_convert(EXCHANGE_TZ).tz_localize(None)
    ordinals = local.as_unit("ns").asi8 // _NS_PER_DAY + _EPOCH_ORDINAL
    today = now.astimezone(EXCHANGE_TZ).date().toordinal()
    index = np.clip(np.searchsorted(days, np.append(ordinals, today), side="right") - 1, 0, days.size - 1)
    return (factors[index[:-1]] / factors[index[-1]]).tolist()


def _rows(series: BarColumns, factors: list[float] | None) -> list[dict]:
    """Alpaca's bar objects; stamps ``YYYY-MM-DDTHH:MM:SSZ``, adjusted prices rounded to 4 decimals."""
    stamps = np.datetime_as_string(series.t.astype("datetime64[ns]"), unit="s", timezone="UTC").tolist()
    prices = [series.open, series.high, series.low, series.close, series.vwap]
    if factors is None:
        o, h, lo, c, vw = (column.tolist() for column in prices)
    else:
        o, h, lo, c, vw = (
            [v if f == 1.0 else round(v * f, 4) for v, f in zip(column.tolist(), factors, strict=True)]
            for column in prices
        )
    volumes, counts = series.volume.astype(np.int64).tolist(), series.trade_count.tolist()
    return [
        {"t": t, "o": o_, "h": h_, "l": l_, "c": c_, "v": v, "n": n, "vw": w}
        for t, o_, h_, l_, c_, v, n, w in zip(stamps, o, h, lo, c, volumes, counts, vw, strict=True)
    ]


def _after_token(stamp: str, sort: str, lo: datetime, hi: datetime) -> tuple[datetime, datetime]:
    """The interval left after the bar a page token names: strictly later (asc) or earlier (desc)."""
    at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    step = timedelta(microseconds=1)
    return (max(lo, at + step), hi) if sort != "desc" else (lo, min(hi, at - step))


def encode_page_token(symbol: str, stamp: str) -> str:
    return base64.urlsafe_b64encode(f"{symbol}|{stamp}".encode()).decode()


def decode_page_token(token: str | None) -> tuple[str, str] | None:
    """The (symbol, stamp) a page token names; Alpaca's 400 when it is not one of ours."""
    if not token:
        return None
    try:
        symbol, stamp = base64.urlsafe_b64decode(token.encode()).decode().split("|", 1)
        datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except (ValueError, UnicodeDecodeError):
        raise errors.BrokerError(400, 40010000, "invalid page_token") from None
    return symbol, stamp
