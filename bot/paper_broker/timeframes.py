"""Bars in every timeframe Alpaca serves, aggregated from the simulated market's minute and daily bars.

Alpaca's ``timeframe`` (Market Data API spec): ``[1-59]Min`` (or ``T``), ``[1-23]Hour`` (or ``H``), ``1Day``
(``D``), ``1Week`` (``W``) and ``[1,2,3,4,6,12]Month`` (``M``); anything else is a 400. ``1Min`` and ``1Day``
are the market's own bars (``SimMarket.bar_columns``, sliced column-wise from the paths); the others are
aggregated as Alpaca aggregates: open = first open, high = max, low = min, close = last close, volume and
trade count summed, VWAP volume-weighted.

* Minute and hour bars are built from the session's 1-minute bars in buckets of N minutes counted from
  midnight UTC, as Alpaca's are ("4H bars always start at 4 * n hour, 00:00, 04:00, 08:00 UTC", Alpaca's
  forum); an hour bar of the regular session is stamped 14:00Z and holds 14:30-14:59 in winter. There are
  no extended-hours bars, so a bucket holds the regular-session minutes it overlaps.
* Week and month bars are built from the daily bars: weeks stamped on their Monday, months on their 1st
  (N-month bars on the first month of each N-month block of the year), at midnight New York time, which is
  how Alpaca stamps them (``2021-01-04T05:00:00Z`` for a week, ``2021-04-01T04:00:00Z`` for a month).

A bar is returned when its stamp lies in ``[start, end]``; it holds the minutes (or days) of its bucket that
are complete by the simulated ``now``, so the bucket in progress is a partial bar, as today's daily bar is,
and nothing comes from the simulated future. ``adjustment=dividend`` scales each minute or day before it is
aggregated (a week with an ex-date mixes two factors, as the adjusted daily series does). Everything here is
a pure function of (market, now, request): the routes may run it on any thread or process.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bot.paper_broker.bar_columns import BarColumns
from bot.paper_broker.calendar import EXCHANGE_TZ, NS_PER_MINUTE, to_ns
from bot.paper_broker.market import Bar, IntradayPath, SimMarket, et_midnight
from bot.paper_broker.paging import Fetch
from bot.paper_broker.params import market_data_error

__all__ = ["Timeframe", "bar_json", "bar_rows", "parse_timeframe"]

NS_PER_DAY = 24 * 60 * NS_PER_MINUTE
EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
AVG_TRADE_SIZE = 100  # as market.py: a minute's trade count is its volume in 100-share prints
UNITS = {"Min": "Min", "T": "Min", "Hour": "Hour", "H": "Hour", "Day": "Day", "D": "Day"}
UNITS |= {"Week": "Week", "W": "Week", "Month": "Month", "M": "Month"}
AMOUNTS = {
    "Min": range(1, 60),
    "Hour": range(1, 24),
    "Day": (1,),
    "Week": (1,),
    "Month": (1, 2, 3, 4, 6, 12),
}
TIMEFRAME_TEXT = re.compile(r"^(?P<amount>\d{1,2})(?P<unit>Min|T|Hour|H|Day|D|Week|W|Month|M)$")
DESC_WINDOW = {"Min": dt.timedelta(days=10), "Day": dt.timedelta(days=366 * 30)}
"""How far back one step of a newest-first walk of native bars reaches: about a page of minute bars, all
daily bars."""
INVALID = (
    "invalid timeframe {!r}: use [1-59]Min or [1-59]T, [1-23]Hour or [1-23]H, 1Day or 1D, 1Week or 1W, "
    "[1,2,3,4,6,12]Month or [1,2,3,4,6,12]M"
)

Adjust = Callable[[np.ndarray], np.ndarray]
"""Price factor of each day (``date.toordinal()``): 1.0 unless dividend adjustment is asked for."""


@dataclass(frozen=True)
class Timeframe:
    amount: int
    unit: str  # Min, Hour, Day, Week or Month

    @property
    def minutes(self) -> int:
        """Length of an intraday bar in minutes."""
        return self.amount * (60 if self.unit == "Hour" else 1)

    @property
    def native(self) -> bool:
        """Served by the market itself (1Min, 1Day) rather than aggregated here."""
        return self.amount == 1 and self.unit in ("Min", "Day")


def parse_timeframe(text: str) -> Timeframe:
    """Alpaca's ``timeframe`` parameter; its 400 when the spec does not allow it."""
    match = TIMEFRAME_TEXT.match(text.strip())
    unit = UNITS[match["unit"]] if match else None
    if match is None or unit is None or int(match["amount"]) not in AMOUNTS[unit]:
        raise market_data_error(INVALID.format(text))
    return Timeframe(int(match["amount"]), unit)


def bar_rows(market: SimMarket, now: dt.datetime, frame: Timeframe, sort: str, dividends: bool) -> Fetch:
    """The fetch ``paging.page`` calls: at most ``wanted`` bars of a symbol stamped in ``[lo, hi]``, as JSON,
    oldest first (newest first for ``sort=desc``), dividend-adjusted if asked."""
    adjust = _dividend_adjuster(market, now) if dividends else None

    def fetch(symbol: str, lo: dt.datetime, hi: dt.datetime, wanted: int) -> list[dict]:
        if symbol not in market.data.symbols:
            return []
        factor = adjust(symbol) if adjust is not None else None
        if frame.native:
            series = _native(market, symbol, frame.unit, (lo, hi), now, wanted, sort)
            adjusted = factor is not None and len(series) > 0
            return series.rows(factor(_et_days(series.t)).tolist() if adjusted else None)
        if frame.unit in ("Min", "Hour"):
            bars = _intraday(market, symbol, frame.minutes, (lo, hi), now, wanted, sort, factor)
        else:
            bars = _calendar_periods(market, symbol, frame, (lo, hi), now, wanted, sort, factor)
        return [bar_json(bar) for bar in bars]

    return fetch


# -- native bars -----------------------------------------------------------------------------------
def _native(
    market: SimMarket,
    symbol: str,
    unit: str,
    span: tuple[dt.datetime, dt.datetime],
    now: dt.datetime,
    wanted: int,
    sort: str,
) -> BarColumns:
    """At most ``wanted`` of the market's own bars in the span, building only the paths they need; as arrays,
    sliced from the paths (a page of 10,000 minute bars built as `Bar` objects spent most of its time creating
    them)."""
    frame, (lo, hi) = f"1{unit}", span
    if sort != "desc":
        return market.bar_columns(symbol, frame, lo, hi, as_of=now, limit=wanted)
    parts: list[BarColumns] = []
    count, window_end = 0, hi
    while count < wanted and window_end >= lo:
        window_start = max(lo, window_end - DESC_WINDOW[unit])
        chunk = market.bar_columns(symbol, frame, window_start, window_end, as_of=now)[::-1]
        parts.append(chunk)
        count += len(chunk)
        window_end = window_start - dt.timedelta(microseconds=1)
    return BarColumns.concat(parts)[:wanted]


# -- minute and hour bars --------------------------------------------------------------------------
def _intraday(  # noqa: PLR0913 - the request, unpacked
    market: SimMarket,
    symbol: str,
    minutes: int,
    span: tuple[dt.datetime, dt.datetime],
    now: dt.datetime,
    wanted: int,
    sort: str,
    factor: Adjust | None,
) -> list[Bar]:
    """N-minute bars of the sessions overlapping the span, session by session, only as far as ``wanted``."""
    lo, hi = (to_ns(t) for t in span)
    done = to_ns(now)
    last_minute = min(hi + minutes * NS_PER_MINUTE, done)
    sessions = _sessions(market, span[0], last_minute)
    out: list[Bar] = []
    for session in reversed(sessions) if sort == "desc" else sessions:
        path = market.path(symbol, session.date)
        if path is None:
            continue
        bars = _buckets(symbol, path, minutes, (lo, hi), done)
        if factor is not None and bars:
            bars = [_scaled(bar, float(factor(np.array([session.date.toordinal()]))[0])) for bar in bars]
        out.extend(reversed(bars) if sort == "desc" else bars)
        if len(out) >= wanted:
            break
    return out[:wanted]


def _sessions(market: SimMarket, start: dt.datetime, last_ns: int) -> list:
    first = max(start.astimezone(EXCHANGE_TZ).date(), market.calendar.start)
    end = dt.datetime.fromtimestamp(last_ns / 1e9, dt.UTC).astimezone(EXCHANGE_TZ).date()
    return market.calendar.sessions_between(first, min(end, market.calendar.end))


def _buckets(symbol: str, path: IntradayPath, minutes: int, span: tuple[int, int], done: int) -> list[Bar]:
    """The session's complete minutes in N-minute buckets from midnight UTC, those stamped in the span."""
    opened = to_ns(path.session.open)
    starts = opened + NS_PER_MINUTE * np.arange(path.minutes, dtype=np.int64)
    midnight = opened - opened % NS_PER_DAY
    width = minutes * NS_PER_MINUTE
    stamps = midnight + (starts - midnight) // width * width
    keep = np.flatnonzero((starts + NS_PER_MINUTE <= done) & (stamps >= span[0]) & (stamps <= span[1]))
    if keep.size == 0:
        return []
    h, low, c, v = (x[keep] for x in (path.high, path.low, path.close, path.volume))
    vwap = np.round((h + low + c) / 3, 4)  # each minute bar's own VWAP, as the 1Min bars show it
    counts = np.where(v > 0, np.ceil(v / AVG_TRADE_SIZE), 0)
    return _reduce(symbol, stamps[keep], path.open[keep], h, low, c, v, counts, vwap)


# -- week and month bars ---------------------------------------------------------------------------
def _calendar_periods(  # noqa: PLR0913 - the request, unpacked
    market: SimMarket,
    symbol: str,
    frame: Timeframe,
    span: tuple[dt.datetime, dt.datetime],
    now: dt.datetime,
    wanted: int,
    sort: str,
    factor: Adjust | None,
) -> list[Bar]:
    """Week or N-month bars from the daily bars (today's partial one included), stamped in the span."""
    lo, hi = span
    reach = dt.timedelta(days=7) if frame.unit == "Week" else dt.timedelta(days=31 * frame.amount)
    days = market.bars(symbol, "1Day", lo, min(hi + reach, now), as_of=now)
    if not days:
        return []
    ordinals = np.array([_et_day(bar.t) for bar in days], dtype=np.int64)
    periods = np.array([_period_start(d, frame) for d in ordinals], dtype=np.int64)
    stamps = np.array([to_ns(et_midnight(dt.date.fromordinal(int(p)))) for p in periods], dtype=np.int64)
    keep = np.flatnonzero((stamps >= to_ns(lo)) & (stamps <= to_ns(hi)))
    if keep.size == 0:
        return []
    columns = (
        np.array([getattr(days[i], name) for i in keep], dtype=float)
        for name in ("open", "high", "low", "close", "volume", "trade_count", "vwap")
    )
    o, h, low, c, v, n, vw = columns
    if factor is not None:
        scale = factor(ordinals[keep])
        o, h, low, c, vw = (np.round(x * scale, 4) for x in (o, h, low, c, vw))
    bars = _reduce(symbol, stamps[keep], o, h, low, c, v, n, vw)
    return (list(reversed(bars)) if sort == "desc" else bars)[:wanted]


def _period_start(ordinal: int, frame: Timeframe) -> int:
    day = dt.date.fromordinal(int(ordinal))
    if frame.unit == "Week":
        return ordinal - day.weekday()
    month = (day.month - 1) // frame.amount * frame.amount + 1
    return dt.date(day.year, month, 1).toordinal()


# -- aggregation -----------------------------------------------------------------------------------
def _reduce(  # noqa: PLR0913 - the columns of a bar
    symbol: str,
    stamps: np.ndarray,
    o: np.ndarray,
    h: np.ndarray,
    low: np.ndarray,
    c: np.ndarray,
    v: np.ndarray,
    n: np.ndarray,
    vw: np.ndarray,
) -> list[Bar]:
    """Consecutive rows with the same stamp as one bar each: first open, max high, min low, last close,
    summed volume and trade count, volume-weighted VWAP (the plain mean when no volume traded)."""
    first = np.concatenate([[0], np.flatnonzero(np.diff(stamps)) + 1])
    last = np.concatenate([first[1:] - 1, [stamps.size - 1]])
    volume = np.add.reduceat(v, first)
    weighted = np.add.reduceat(vw * v, first)
    mean = np.add.reduceat(vw, first) / (last - first + 1)
    vwap = np.where(volume > 0, weighted / np.where(volume > 0, volume, 1), mean)
    rows = zip(
        stamps[first].tolist(),
        o[first].tolist(),
        np.maximum.reduceat(h, first).tolist(),
        np.minimum.reduceat(low, first).tolist(),
        c[last].tolist(),
        volume.tolist(),
        np.add.reduceat(n, first).tolist(),
        np.round(vwap, 4).tolist(),
        strict=True,
    )
    return [
        Bar(symbol, _from_ns(t), op, hi, lo, cl, vol, int(count), avg)
        for t, op, hi, lo, cl, vol, count, avg in rows
    ]


def _scaled(bar: Bar, factor: float) -> Bar:
    if factor == 1.0:
        return bar
    prices = {k: round(getattr(bar, k) * factor, 4) for k in ("open", "high", "low", "close", "vwap")}
    return Bar(bar.symbol, bar.t, **prices, volume=bar.volume, trade_count=bar.trade_count)


# -- dividends -------------------------------------------------------------------------------------
def _dividend_adjuster(market: SimMarket, now: dt.datetime) -> Callable[[str], Adjust]:
    """Per symbol, the factor of each day for the dividends gone ex by ``now`` only: a later dividend is not
    known yet in the simulated world. Each factor is ``1 - dividend / previous close`` per later ex-date."""
    today = now.astimezone(EXCHANGE_TZ).date().toordinal()

    def for_symbol(symbol: str) -> Adjust:
        days, factors = market.data.dividend_factors(symbol)

        def factor(ordinals: np.ndarray) -> np.ndarray:
            index = np.searchsorted(days, np.append(ordinals, today), side="right") - 1
            index = np.clip(index, 0, days.size - 1)
            return factors[index[:-1]] / factors[index[-1]]

        return factor

    return for_symbol


# -- JSON ------------------------------------------------------------------------------------------
def bar_json(bar: Bar) -> dict:
    """A bar as Alpaca sends it (`BarColumns.rows` makes the same rows of many bars at once)."""
    return {
        "t": _stamp(bar.t),
        "o": bar.open,
        "h": bar.high,
        "l": bar.low,
        "c": bar.close,
        "v": int(bar.volume),
        "n": int(bar.trade_count),
        "vw": bar.vwap,
    }


def _stamp(t: dt.datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (isoformat: several times faster than strftime, which showed in profiles)."""
    return t.astimezone(dt.UTC).isoformat(timespec="seconds")[:19] + "Z"


def _et_day(t: dt.datetime) -> int:
    return t.astimezone(EXCHANGE_TZ).date().toordinal()


def _et_days(ns: np.ndarray) -> np.ndarray:
    """`_et_day` of many epoch-nanosecond stamps at once."""
    local = pd.to_datetime(ns, unit="ns", utc=True).tz_convert(EXCHANGE_TZ).tz_localize(None)
    return local.as_unit("ns").asi8 // NS_PER_DAY + EPOCH_ORDINAL


def _from_ns(ns: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ns // 1000)
