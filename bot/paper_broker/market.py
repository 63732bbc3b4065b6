"""The simulated market: quotes, trades and bars of real symbols as of any instant of the simulated clock.

Daily bars are real; what happens inside a session is not recorded for most days, so each (symbol, session)
gets a deterministic intraday path of one point per minute:

* if real 1-minute bars cover the session they are used, conformed to the daily bar (same split basis,
  first open = daily open, last close = daily close, extremes = daily high/low, volumes summing to the daily
  volume), so that the intraday view and the daily view of the same day never disagree;
* otherwise a path is synthesised: it opens at the daily open, touches the daily high and the daily low at
  random interior minutes (in random order), closes at the daily close, with Brownian-bridge pieces between
  these anchors reflected back inside [low, high]; volume follows a noisy U-shaped profile.

Randomness is seeded from (symbol, date, config.seed) with a stable hash, so a backtest is reproducible
across processes and machines, and a path does not depend on which other days or symbols were asked for.

Point-in-time rules (the whole point of this module): a quote or trade "at t" reflects only the path up to
the start of the minute containing t, bars are returned only once complete (a day's bar is built from the
minutes completed by ``as_of`` while its session is running), and nothing here reads the wall clock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from bot.cost_table import calibrated_spread
from bot.paper_broker.bar_columns import Bar, BarColumns
from bot.paper_broker.calendar import EXCHANGE_TZ, NS_PER_MINUTE, Session, TradingCalendar, from_ns, to_ns
from bot.paper_broker.marketdata import DailyBar, MarketData, MarketDataError
from bot.paper_broker.quoting import (
    QUOTE_DEPTH_FRACTION,
    TRADE_SIZE_FRACTION,
    floor_tick,
    lots,
    nbbo,
)

__all__ = ["Bar", "BarColumns", "IntradayPath", "MarketConfig", "Quote", "SimMarket", "Trade", "build_path"]

# Synthetic path shape. The bridge noise is a fraction of the day's range so that the anchors (open, high,
# low, close), not the noise, dominate the day. On top comes minute-level white noise (bid-ask bounce and
# other mean-reverting jitter) of about 0.75 bp of price, as the bundled real minute bars show (SPY moves
# ~4 cents a minute on quiet and busy days alike), capped at a fraction of a narrow day's range. Wicks are
# a fraction of the per-minute noise.
BRIDGE_NOISE = 0.35
JITTER_BPS = 0.75
JITTER_MAX_RANGE_FRACTION = 0.05
WICK_NOISE = 0.5
VOLUME_U_DEPTH = 3.0  # first/last minute weight relative to midday: 1 + depth
VOLUME_NOISE = 0.3  # lognormal sigma of per-minute volume noise

# Real minute bars are used only when they cover the session well: from near the open to near the close and
# most of the minutes in between (the bundled Yahoo set has some sessions starting at 11:00 or ending 10:59).
REAL_EDGE_MINUTES = 15
REAL_MIN_COVERAGE = 0.5
REAL_MAX_DRIFT = 0.02  # conforming may move prices by at most 2%; more means the data disagree
SPLIT_BASIS_TOLERANCE = 0.2  # minute/daily price ratio beyond 1 +- this is a different split basis

AVG_TRADE_SIZE = 100  # shares per print, to derive trade_count from volume
PRICE_DECIMALS = 6  # cleans float noise off prices that are sums of grid values


@dataclass(frozen=True)
class Quote:
    """The national best bid and offer at ``t`` (sizes in shares)."""

    symbol: str
    t: dt.datetime
    bid: float
    ask: float
    bid_size: float
    ask_size: float

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2


@dataclass(frozen=True)
class Trade:
    """The last sale at or before the time asked about."""

    symbol: str
    t: dt.datetime
    price: float
    size: float


@dataclass(frozen=True)
class MarketConfig:
    """Knobs of the simulated microstructure. Spreads are full bid-ask widths in basis points of the mid.

    A symbol's spread is its entry in ``spread_bps`` if any, else ``default_spread_bps`` if set, else the
    calibrated table shared with the backtester and the bot's decision (``bot/cost_table.py``: estimated
    from real bars, 0.3 bp for SPY).
    """

    default_spread_bps: float | None = None
    spread_bps: Mapping[str, float] = field(default_factory=dict)
    seed: int = 0
    use_real_minutes: bool = True
    path_cache_size: int = 1024  # ~20 KB per path

    def __post_init__(self) -> None:
        spreads = MappingProxyType(dict(self.spread_bps))
        object.__setattr__(self, "spread_bps", spreads)
        if (self.default_spread_bps or 0) < 0 or any(v < 0 for v in spreads.values()):
            raise ValueError("spreads must be >= 0 bps")
        if self.seed < 0:
            raise ValueError("seed must be >= 0")
        if self.path_cache_size < 1:
            raise ValueError("path_cache_size must be >= 1")

    def __reduce__(self) -> tuple:
        """Picklable (a read-only mapping is not): the market-data worker process gets a copy."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return (MarketConfig, tuple({**values, "spread_bps": dict(self.spread_bps)}.values()))

    def spread_for(self, symbol: str) -> float:
        if symbol in self.spread_bps:
            return float(self.spread_bps[symbol])
        if self.default_spread_bps is not None:
            return float(self.default_spread_bps)
        return calibrated_spread(symbol)


@dataclass(frozen=True, eq=False)
class IntradayPath:
    """A session's minute bars for one symbol. Arrays have one entry per session minute and are read-only.

    ``mark(k)`` is the price at the start of minute k: the daily open for k=0, else the previous close;
    ``mark(minutes)`` is the daily close. Quotes and trades are taken from marks, never from the minute
    being asked about, so they cannot leak the rest of that minute.
    """

    symbol: str
    session: Session
    source: str  # "real" or "synthetic"
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    size_u: np.ndarray  # uniform(0, 1) per minute: splits quote depth between bid and ask

    @property
    def minutes(self) -> int:
        return int(self.open.size)

    def mark(self, k: int) -> float:
        return float(self.open[0] if k == 0 else self.close[k - 1])

    def points(self) -> np.ndarray:
        """The path itself: ``minutes + 1`` prices at open, open + 1 min, ..., close."""
        return np.concatenate([self.open[:1], self.close])


# ------------------------------------------------------------------------------------ path construction


def path_tick(bar: DailyBar) -> float:
    """Grid for intraday prices: cents when the day's prices are in cents, else 1/100 cent.

    Split-adjusted history (e.g. 12.6867 for SCHB in 2019) is not on a cent grid; rounding its path to cents
    would make it jump off its own anchors, so such days use the finer grid.
    """
    prices = np.array([bar.open, bar.high, bar.low, bar.close])
    in_cents = np.abs(prices * 100 - np.round(prices * 100)) < 1e-6
    return 0.01 if bar.low >= 1.0 and bool(in_cents.all()) else 0.0001


def _on_grid(x: np.ndarray, tick: float) -> np.ndarray:
    return np.round(np.round(x / tick) * tick, PRICE_DECIMALS)


def _rng(symbol: str, day: dt.date, seed: int) -> np.random.Generator:
    """A generator that depends only on (symbol, day, seed): crc32 is stable across runs, hash() is not."""
    return np.random.default_rng([zlib.crc32(symbol.encode()), day.toordinal(), seed])


def _reflect(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Fold values back into [lo, hi] like a path bouncing off the walls (keeps texture, unlike clipping)."""
    width = hi - lo
    if width <= 0:
        return np.full_like(x, (lo + hi) / 2)
    y = np.mod(x - lo, 2 * width)
    return lo + width - np.abs(y - width)


def _allocate(total: float, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` in proportion to ``weights``; whole shares summing exactly to an integral total."""
    weights = np.clip(np.nan_to_num(weights), 0, None)
    if weights.sum() <= 0:
        weights = np.ones_like(weights)
    raw = total * weights / weights.sum()
    if total != math.floor(total):
        return raw
    base = np.floor(raw)
    remainder = int(round(total - base.sum()))
    if remainder > 0:
        base[np.argsort(base - raw, kind="stable")[:remainder]] += 1
    return base


def _u_profile(n: int, rng: np.random.Generator) -> np.ndarray:
    x = (np.arange(n) + 0.5) / n
    noise = np.exp(VOLUME_NOISE * rng.standard_normal(n) - VOLUME_NOISE**2 / 2)
    return (1.0 + VOLUME_U_DEPTH * (2 * x - 1) ** 2) * noise


def _anchors(bar: DailyBar, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Knot positions (0..n) and prices: open, close, and the high/low unless the open or close is one."""
    interior = rng.choice(np.arange(1, n), size=2, replace=False)  # always drawn: keeps the stream stable
    hi_pos = 0 if bar.open == bar.high else n if bar.close == bar.high else int(interior[0])
    lo_pos = 0 if bar.open == bar.low else n if bar.close == bar.low else int(interior[1])
    knots = {0: bar.open, n: bar.close}
    knots.setdefault(hi_pos, bar.high)
    knots.setdefault(lo_pos, bar.low)
    positions = np.array(sorted(knots), dtype=np.int64)
    return positions, np.array([knots[int(p)] for p in positions])


def _bridge_points(bar: DailyBar, n: int, rng: np.random.Generator, tick: float) -> np.ndarray:
    """n + 1 path points through the anchors, Brownian bridges in between, inside [low, high]."""
    positions, values = _anchors(bar, n, rng)
    step, jitter = _noise_scales(bar, n)
    walk = np.concatenate([[0.0], np.cumsum(rng.standard_normal(n) * step)])
    k = np.arange(n + 1)
    seg = np.clip(np.searchsorted(positions, k, side="right") - 1, 0, positions.size - 2)
    a, b = positions[seg], positions[seg + 1]
    frac = (k - a) / (b - a)
    base = values[seg] + frac * (values[seg + 1] - values[seg])
    points = base + walk - walk[a] - frac * (walk[b] - walk[a]) + rng.standard_normal(n + 1) * jitter
    inset = min(tick, (bar.high - bar.low) / 4)  # keep non-anchors off the extremes: touched once
    points = _reflect(points, bar.low + inset, bar.high - inset)
    points = np.clip(_on_grid(points, tick), bar.low, bar.high)
    points[positions] = values
    return points


def _noise_scales(bar: DailyBar, n: int) -> tuple[float, float]:
    """Per-minute stdev of the bridge's steps and of the white jitter around it."""
    day_range = bar.high - bar.low
    jitter = min(JITTER_BPS * 1e-4 * bar.close, JITTER_MAX_RANGE_FRACTION * day_range)
    return BRIDGE_NOISE * day_range / math.sqrt(n), jitter


def _wicks(
    o: np.ndarray, c: np.ndarray, bar: DailyBar, rng: np.random.Generator, tick: float
) -> tuple[np.ndarray, np.ndarray]:
    """Minute highs/lows a little beyond the body, but strictly inside the day's range unless at an anchor."""
    scale = WICK_NOISE * math.hypot(*_noise_scales(bar, o.size))
    z = np.abs(rng.standard_normal((2, o.size))) * scale
    top, bottom = np.maximum(o, c), np.minimum(o, c)
    up = floor_tick(np.minimum(z[0], (bar.high - top) / 2), tick)
    down = floor_tick(np.minimum(z[1], (bottom - bar.low) / 2), tick)
    return np.round(top + up, PRICE_DECIMALS), np.round(bottom - down, PRICE_DECIMALS)


def synthesize(bar: DailyBar, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Minute OHLCV arrays for a session of ``n`` minutes consistent with the daily ``bar``."""
    if n < 3:
        raise ValueError(f"a session needs at least 3 minutes, got {n}")
    tick = path_tick(bar)
    if bar.high > bar.low:
        points = _bridge_points(bar, n, rng, tick)
        o, c = points[:-1], points[1:]
        h, lo = _wicks(o, c, bar, rng, tick)
    else:
        o = c = h = lo = np.full(n, bar.open)
    volume = _allocate(bar.volume, _u_profile(n, rng))
    return {"open": o, "high": h, "low": lo, "close": c, "volume": volume}


def _dense_minutes(real: Mapping[str, np.ndarray], n: int) -> dict[str, np.ndarray] | None:
    """Real bars on the session's minute grid, gaps forward-filled (flat, no volume); None if sparse."""
    idx = real["minute"]
    if idx.size < REAL_MIN_COVERAGE * n or idx[0] > REAL_EDGE_MINUTES or idx[-1] < n - 1 - REAL_EDGE_MINUTES:
        return None
    present = np.zeros(n, dtype=bool)
    present[idx] = True
    rank = np.cumsum(present) - 1  # index in the real arrays of the latest real bar (-1: none yet)
    latest = rank.clip(0)
    carried = np.where(rank < 0, real["open"][0], real["close"][latest])  # gap: flat at the last price
    dense = {key: np.where(present, real[key][latest], carried) for key in ("open", "high", "low", "close")}
    dense["volume"] = np.where(present, real["volume"][latest], 0.0)
    return dense


def conform(bar: DailyBar, real: Mapping[str, np.ndarray], n: int) -> dict[str, np.ndarray] | None:
    """Real minute bars made consistent with the daily bar, or None when they do not cover or agree with it.

    The vendor's minute and daily series can differ in split basis (bundled IAU and SCHB do) and by a few
    cents at the ends (the closing auction is not a minute bar); the first is rescaled, the second spread
    linearly over the day, then prices are clipped to the day's range and the extremes pinned to it.
    """
    dense = _dense_minutes(real, n)
    if dense is None:
        return None
    o, h, lo, c = (dense[k] for k in ("open", "high", "low", "close"))
    ratio = float(np.median([bar.open / o[0], bar.high / h.max(), bar.low / lo.min(), bar.close / c[-1]]))
    if abs(ratio - 1) > SPLIT_BASIS_TOLERANCE:
        o, h, lo, c = (x * ratio for x in (o, h, lo, c))
    d_open, d_close = bar.open - o[0], bar.close - c[-1]
    if max(abs(d_open), abs(d_close)) > REAL_MAX_DRIFT * bar.close:
        return None
    t = np.arange(n)
    tick = path_tick(bar)
    o, h, lo, c = (  # shift each price by the open/close gaps, interpolated at its time within the day
        np.clip(_on_grid(x + d_open + (d_close - d_open) * (t + offset) / n, tick), bar.low, bar.high)
        for x, offset in ((o, 0.0), (h, 0.5), (lo, 0.5), (c, 1.0))
    )
    o[0], c[-1] = bar.open, bar.close
    h, lo = np.maximum.reduce([h, o, c]), np.minimum.reduce([lo, o, c])
    h[int(np.argmax(h))], lo[int(np.argmin(lo))] = bar.high, bar.low
    volume = _allocate(bar.volume, dense["volume"])
    return {"open": o, "high": h, "low": lo, "close": c, "volume": volume}


def real_minutes_on_grid(frame: pd.DataFrame, session: Session) -> dict[str, np.ndarray]:
    """Real bars of a session (as loaded) with their minute index; bars off the session grid are dropped."""
    starts = frame.index.as_unit("ns").asi8 - to_ns(session.open)
    keep = (starts >= 0) & (starts % NS_PER_MINUTE == 0) & (starts < session.minutes * NS_PER_MINUTE)
    out = {k: frame[k].to_numpy(dtype=float)[keep] for k in ("open", "high", "low", "close", "volume")}
    out["minute"] = (starts[keep] // NS_PER_MINUTE).astype(np.int64)
    return out


def build_path(
    symbol: str, session: Session, bar: DailyBar, real: Mapping[str, np.ndarray] | None, seed: int
) -> IntradayPath:
    """The intraday path of ``symbol`` on ``session`` given its daily bar and (optional) real minutes."""
    n = session.minutes
    rng = _rng(symbol, session.date, seed)
    arrays = conform(bar, real, n) if real is not None else None
    source = "real"
    if arrays is None:
        arrays, source = synthesize(bar, n, rng), "synthetic"
    size_u = rng.random(n)
    for array in (*arrays.values(), size_u):
        array.setflags(write=False)
    return IntradayPath(symbol=symbol, session=session, source=source, size_u=size_u, **arrays)


# ------------------------------------------------------------------------------------------- the market


def _lots(shares: float) -> float:
    return float(lots(shares))


def _trade_count(volume: float) -> int:
    return int(math.ceil(volume / AVG_TRADE_SIZE)) if volume > 0 else 0


def _typical(high: float, low: float, close: float) -> float:
    return round((high + low + close) / 3, 4)


def et_midnight(day: dt.date) -> dt.datetime:
    """Midnight US/Eastern of ``day`` in UTC: the timestamp Alpaca gives a daily bar (04:00Z or 05:00Z)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=EXCHANGE_TZ).astimezone(dt.UTC)


_Window = tuple[int, int, int, float]  # start, end, as_of (epoch ns) and the bar limit (inf: none)


class SimMarket:
    """Quotes, trades and bars as of a simulated instant: a pure function of (data, calendar, config, t).

    Unknown symbols raise KeyError (except `is_tradable`, which answers False). Datetimes must be aware.
    """

    def __init__(
        self, data: MarketData, calendar: TradingCalendar, config: MarketConfig = MarketConfig()
    ) -> None:
        self.data = data
        self.calendar = calendar
        self.config = config
        _check_coverage(data, calendar)
        self._path = functools.lru_cache(maxsize=config.path_cache_size)(self._build_path)

    def __reduce__(self) -> tuple:
        """Pickled as its inputs (the market is a pure function of them): the market-data worker process
        rebuilds it, with a path cache of its own."""
        return (SimMarket, (self.data, self.calendar, self.config))

    # -- paths

    def path(self, symbol: str, day: dt.date) -> IntradayPath | None:
        """The (cached) intraday path of ``symbol`` on ``day``; None if no session or no bar that day."""
        self._require(symbol)
        return self._path(symbol, day)

    def _build_path(self, symbol: str, day: dt.date) -> IntradayPath | None:
        session = self.calendar.session(day)
        bar = self.data.daily_bar(symbol, day) if session is not None else None
        if session is None or bar is None:
            return None
        real = None
        if self.config.use_real_minutes and (frame := self.data.minute_bars(symbol, day)) is not None:
            real = real_minutes_on_grid(frame, session)
        return build_path(symbol, session, bar, real, self.config.seed)

    def _locate(self, symbol: str, t: dt.datetime) -> tuple[IntradayPath, int] | None:
        """The path and minute index containing ``t`` while the session runs and the symbol trades."""
        session = self.calendar.session_at(t)
        path = self.path(symbol, session.date) if session is not None else None
        if path is None:
            return None
        return path, (to_ns(t) - to_ns(session.open)) // NS_PER_MINUTE

    def _last_close(self, symbol: str, t: dt.datetime) -> tuple[DailyBar, Session] | None:
        """The symbol's latest real bar whose session closed at or before ``t``, with that session."""
        closed = self.calendar.last_closed_session(t)
        bar = self.data.last_bar_on_or_before(symbol, closed.date) if closed is not None else None
        return (bar, self.calendar.session(bar.date)) if bar is not None else None

    # -- point-in-time views

    def quote(self, symbol: str, t: dt.datetime) -> Quote | None:
        """Latest quote at ``t``: the path's mark at the start of t's minute while the symbol trades, else
        the closing quote of its last session (timestamped at that close); None before its first bar."""
        self._require(symbol)
        if (loc := self._locate(symbol, t)) is not None:
            path, k = loc
            depth = float(path.volume[k]) * QUOTE_DEPTH_FRACTION
            return self._quote(symbol, _minute_start(path, k), path.mark(k), depth, float(path.size_u[k]))
        if (last := self._last_close(symbol, t)) is None:
            return None
        bar, session = last
        depth = bar.volume / session.minutes * QUOTE_DEPTH_FRACTION
        return self._quote(symbol, session.close, bar.close, depth)

    def trade(self, symbol: str, t: dt.datetime) -> Trade | None:
        """Last trade at ``t``: the path's mark at the start of t's minute, else the last closing print."""
        self._require(symbol)
        if (loc := self._locate(symbol, t)) is not None:
            path, k = loc
            size = _lots(float(path.volume[k]) * TRADE_SIZE_FRACTION)
            return Trade(symbol, _minute_start(path, k), path.mark(k), size)
        if (last := self._last_close(symbol, t)) is None:
            return None
        bar, session = last
        return Trade(symbol, session.close, bar.close, _lots(bar.volume * TRADE_SIZE_FRACTION))

    def minute(self, symbol: str, t: dt.datetime) -> Bar | None:
        """The 1-minute bar of the session minute containing ``t`` (None when closed or not trading).

        This bar runs to its minute's end, i.e. past ``t``: use it for minutes that have elapsed (the engine
        deciding whether a resting order was crossed), never to price something at ``t`` itself.
        """
        self._require(symbol)
        if (loc := self._locate(symbol, t)) is None:
            return None
        path, k = loc
        return _minute_bar(path, k)

    def bars(
        self,
        symbol: str,
        timeframe: str,
        start: dt.datetime,
        end: dt.datetime,
        as_of: dt.datetime,
        *,
        limit: int | None = None,
    ) -> list[Bar]:
        """Bars with ``start <= t <= end`` (bar start times), complete by ``as_of``; oldest first.

        "1Min": minute bars that ended by ``as_of``. "1Day": one bar per traded session, stamped at
        midnight ET; a finished session's bar is its CSV row, a running one is built from its minutes
        completed by ``as_of`` (absent until the first minute completes). ``limit`` stops after that
        many bars (the oldest), which saves building paths a paginated request will not show.
        """
        return self.bar_columns(symbol, timeframe, start, end, as_of, limit=limit).to_bars(symbol)

    def bar_columns(
        self,
        symbol: str,
        timeframe: str,
        start: dt.datetime,
        end: dt.datetime,
        as_of: dt.datetime,
        *,
        limit: int | None = None,
    ) -> BarColumns:
        """`bars` as parallel arrays (the same bars): what the market-data routes page and encode."""
        self._require(symbol)
        frame = timeframe.strip().lower()
        if frame not in ("1min", "1day"):
            raise ValueError(f"unsupported timeframe {timeframe!r}: use '1Min' or '1Day'")
        lo, hi, done = to_ns(start), to_ns(end), to_ns(as_of)
        days = self._days_in(start, min(end, as_of, key=to_ns))
        if days is None or (limit is not None and limit <= 0):
            return BarColumns.from_bars([])
        window = (lo, hi, done, limit if limit is not None else math.inf)
        if frame == "1min":
            return self._minute_bars(symbol, days, window)
        return BarColumns.from_bars(self._daily_bars(symbol, days, window))

    def is_tradable(self, symbol: str, t_or_day: dt.datetime | dt.date) -> bool:
        """True if the symbol has a real bar in the session at that instant (or on that date)."""
        if symbol not in self.data:
            return False
        if isinstance(t_or_day, dt.datetime):
            session = self.calendar.session_at(t_or_day)
        else:
            session = self.calendar.session(t_or_day)
        return session is not None and self.data.daily_bar(symbol, session.date) is not None

    def spread_bps(self, symbol: str) -> float:
        return self.config.spread_for(symbol)

    # -- internals

    def _require(self, symbol: str) -> None:
        if symbol not in self.data:
            raise KeyError(f"unknown symbol {symbol!r}")

    def _quote(self, symbol: str, t: dt.datetime, mid: float, depth: float, u: float = 0.5) -> Quote:
        """Bid/ask around ``mid`` by the one quote model (``quoting.nbbo``) the historical quotes share."""
        arrays = nbbo(np.array([mid]), self.config.spread_for(symbol), np.array([depth]), np.array([u]))
        bid, ask, bid_size, ask_size = (float(x[0]) for x in arrays)
        return Quote(symbol, t, bid, ask, bid_size, ask_size)

    def _days_in(self, start: dt.datetime, end: dt.datetime) -> tuple[dt.date, dt.date] | None:
        """ET dates spanned by [start, end], clamped to the calendar; None if the range is empty."""
        if to_ns(start) > to_ns(end):  # to_ns also refuses naive datetimes
            return None
        first = max(start.astimezone(EXCHANGE_TZ).date(), self.calendar.start)
        last = min(end.astimezone(EXCHANGE_TZ).date(), self.calendar.end)
        return (first, last) if first <= last else None

    def _minute_bars(self, symbol: str, days: tuple[dt.date, dt.date], window: _Window) -> BarColumns:
        lo, hi, done, limit = window
        parts: list[BarColumns] = []
        count = 0
        for session in self.calendar.sessions_between(*days):
            path = self.path(symbol, session.date)
            if path is None:
                continue
            starts = to_ns(session.open) + NS_PER_MINUTE * np.arange(path.minutes, dtype=np.int64)
            wanted = np.flatnonzero((starts >= lo) & (starts <= hi) & (starts + NS_PER_MINUTE <= done))
            if wanted.size > limit - count:
                wanted = wanted[: int(limit - count)]
            parts.append(_minute_columns(path, starts, wanted))
            count += wanted.size
            if count >= limit:
                break
        return BarColumns.concat(parts)

    def _daily_bars(self, symbol: str, days: tuple[dt.date, dt.date], window: _Window) -> list[Bar]:
        lo, hi, done, limit = window
        out: list[Bar] = []
        for bar in self.data.daily_bars(symbol, *days):
            if len(out) >= limit:
                break
            stamp = et_midnight(bar.date)
            session = self.calendar.session(bar.date)
            if not lo <= to_ns(stamp) <= hi or session is None or to_ns(session.open) >= done:
                continue
            if to_ns(session.close) <= done:
                out.append(_daily_bar(symbol, stamp, bar))
            elif (partial := self._partial_day(symbol, stamp, session, done)) is not None:
                out.append(partial)
        return out

    def _partial_day(self, symbol: str, stamp: dt.datetime, session: Session, done: int) -> Bar | None:
        """Today's bar so far: the aggregate of the minutes completed by ``done`` (None before the first)."""
        k = (done - to_ns(session.open)) // NS_PER_MINUTE
        path = self.path(symbol, session.date)
        if path is None or k < 1:
            return None
        h, lo, c, v = path.high[:k], path.low[:k], path.close[:k], path.volume[:k]
        typical = (h + lo + c) / 3
        vwap = float((typical * v).sum() / v.sum()) if v.sum() > 0 else float(typical.mean())
        return Bar(
            symbol=symbol,
            t=stamp,
            open=float(path.open[0]),
            high=float(h.max()),
            low=float(lo.min()),
            close=float(c[-1]),
            volume=float(v.sum()),
            trade_count=int(np.ceil(v / AVG_TRADE_SIZE).sum()),
            vwap=round(vwap, 4),
        )


def _minute_start(path: IntradayPath, k: int) -> dt.datetime:
    return from_ns(to_ns(path.session.open) + k * NS_PER_MINUTE)


def _minute_bar(path: IntradayPath, k: int) -> Bar:
    o, h, lo, c = (float(x[k]) for x in (path.open, path.high, path.low, path.close))
    v = float(path.volume[k])
    return Bar(path.symbol, _minute_start(path, k), o, h, lo, c, v, _trade_count(v), _typical(h, lo, c))


def _minute_columns(path: IntradayPath, starts: np.ndarray, minutes: np.ndarray) -> BarColumns:
    """``_minute_bar`` for many minutes at once, as arrays: the same values (VWAP rounded by Python's
    ``round``, as ``_typical`` does, so the two never differ in the last digit)."""
    h, lo, c, v = (column[minutes] for column in (path.high, path.low, path.close, path.volume))
    vwap = np.array([round(x, 4) for x in ((h + lo + c) / 3).tolist()], dtype=float)
    counts = np.where(v > 0, np.ceil(v / AVG_TRADE_SIZE), 0).astype(np.int64)
    return BarColumns(starts[minutes], path.open[minutes], h, lo, c, v, counts, vwap)


def _daily_bar(symbol: str, stamp: dt.datetime, bar: DailyBar) -> Bar:
    """A finished session's bar: the CSV row itself (VWAP approximated by the typical price)."""
    vwap = _typical(bar.high, bar.low, bar.close)
    ohlc = {"open": bar.open, "high": bar.high, "low": bar.low, "close": bar.close}
    return Bar(symbol, stamp, **ohlc, volume=bar.volume, trade_count=_trade_count(bar.volume), vwap=vwap)


def _check_coverage(data: MarketData, calendar: TradingCalendar) -> None:
    """Every real bar must fall on a calendar session, or the market could not place it in time."""
    if data.first_day() < calendar.start or data.last_day() > calendar.end:
        raise MarketDataError(
            f"data spans {data.first_day()}..{data.last_day()} but the calendar only "
            f"{calendar.start}..{calendar.end}"
        )
    sessions = calendar.session_ordinals()
    for symbol in data.symbols:
        days = data.bar_days(symbol)
        stray = days[~np.isin(days, sessions)]
        if stray.size:
            listed = ", ".join(str(dt.date.fromordinal(int(d))) for d in stray[:5])
            raise MarketDataError(f"{symbol}: bars on non-trading days ({stray.size}): {listed}")
