"""Historical market data for the paper broker: loading, validation and point-in-time look-ups.

Everything the simulated market knows about prices comes from here. The data is read once, validated
strictly (a broken file must fail loudly at start-up, not produce odd fills weeks into a backtest) and
kept as plain numpy arrays so that look-ups by date are cheap and side-effect free.

Daily files hold one row per session: ``date,open,high,low,close,volume`` plus the optional
``adj_close`` (split- and dividend-adjusted close; defaults to ``close``) and ``dividend`` (cash per share
on the ex-date; defaults to 0). A row without all of open/high/low/close or without a positive volume is
kept for its dividend/adj_close but is "no bar": the symbol did not trade that day.

Minute files (optional) hold real 1-minute bars ``datetime,open,high,low,close,volume``; timestamps carry
their UTC offset (naive ones are read as US/Eastern, the exchange's zone).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np
import pandas as pd

__all__ = ["DailyBar", "MarketData", "MarketDataError", "BUNDLED_DATA_DIR"]

BUNDLED_DATA_DIR = Path(__file__).resolve().parent / "data"
EXCHANGE_TZ = "America/New_York"  # for pandas

TRAILING_SESSIONS = 20
# Used when there is too little history to estimate volatility (a symbol's first sessions): 1%/day is a
# middle-of-the-road figure for an ETF, and a floor keeps a near-constant series (e.g. a T-bill fund over a
# quiet month) from implying a zero-risk, zero-cost trade.
SIGMA_FALLBACK = 0.01
SIGMA_FLOOR = 1e-4
MIN_RETURNS_FOR_SIGMA = 2

_DAILY_REQUIRED = ("date", "open", "high", "low", "close", "volume")
_MINUTE_REQUIRED = ("datetime", "open", "high", "low", "close", "volume")
_PRICE_COLUMNS = ("open", "high", "low", "close")
_MISSING_TOKENS = frozenset({"", "nan", "na", "n/a", "null", "none"})
_DAILY_NAME = re.compile(r"^(?:daily_)?(?P<symbol>[A-Za-z0-9][A-Za-z0-9.\-]*)\.csv(?:\.gz)?$")
_MINUTE_NAME = re.compile(r"^minute_(?P<symbol>[A-Za-z0-9][A-Za-z0-9.\-]*)\.csv(?:\.gz)?$")
_OFFSET_SUFFIX = re.compile(r"(?:[+-]\d{2}:?\d{2}|Z)$")
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


class MarketDataError(ValueError):
    """The market data is missing or malformed; the message names the file (or source) and the problem."""


@dataclass(frozen=True)
class DailyBar:
    """One real daily bar: split-adjusted OHLC (not dividend-adjusted), volume in shares, cash dividend."""

    date: dt.date
    open: float
    high: float
    low: float
    close: float
    volume: float
    dividend: float


@dataclass(frozen=True)
class _DailySeries:
    """A symbol's daily rows as parallel arrays; ``valid`` marks the rows that are real bars."""

    days: np.ndarray  # int64 proleptic ordinals (date.toordinal()), strictly increasing
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    adj_close: np.ndarray
    volume: np.ndarray
    dividend: np.ndarray
    valid: np.ndarray
    bar_days: np.ndarray  # ordinals of the valid rows only, for "last N sessions before" look-ups
    bar_rows: np.ndarray  # row index of each valid row


# --------------------------------------------------------------------------------------------- parsing


def _read_csv(path: Path) -> pd.DataFrame:
    """Read a CSV; a column holding anything unparsable stays text and is diagnosed by `_numeric`."""
    try:
        return pd.read_csv(path, skipinitialspace=True)
    except (OSError, ValueError, EOFError, UnicodeDecodeError) as exc:
        raise MarketDataError(f"{path}: cannot read CSV ({exc})") from exc


def _require_columns(frame: pd.DataFrame, required: Iterable[str], source: str) -> pd.DataFrame:
    frame = frame.rename(columns=lambda c: str(c).strip().lower())
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise MarketDataError(f"{source}: missing column(s) {', '.join(missing)}")
    if frame.empty:
        raise MarketDataError(f"{source}: no data rows")
    return frame


def _numeric(frame: pd.DataFrame, column: str, source: str) -> np.ndarray:
    """Parse a column to float; empty cells become NaN, anything else unparsable is an error."""
    raw = frame[column]
    if raw.dtype.kind in "fiu":
        return raw.to_numpy(dtype=float)
    text = raw.astype(str).str.strip()
    missing = raw.isna().to_numpy() | text.str.lower().isin(_MISSING_TOKENS).to_numpy()
    values = pd.to_numeric(text.where(~missing, None), errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(np.isnan(values) & ~missing)
    if bad.size:
        _fail_row(source, frame, bad[0], f"unparsable {column} {text.iloc[bad[0]]!r}")
    bad = np.flatnonzero(np.isinf(values))
    if bad.size:
        _fail_row(source, frame, bad[0], f"infinite {column}")
    return values


def _fail_row(source: str, frame: pd.DataFrame, position: int, problem: str) -> NoReturn:
    """Raise naming the CSV line (header is line 1) so the user can go straight to it."""
    label = frame.index[position]
    line = f"line {label + 2}" if isinstance(label, int | np.integer) else f"row {label}"
    raise MarketDataError(f"{source}: {line}: {problem}")


def _check_ohlc(frame: pd.DataFrame, prices: dict[str, np.ndarray], rows: np.ndarray, source: str) -> None:
    """On the given rows require positive prices and open/close within [low, high]."""
    o, h, lo, c = (prices[k][rows] for k in _PRICE_COLUMNS)
    checks = (
        ((o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0), "non-positive price"),
        (h < lo, "high < low"),
        ((o > h) | (o < lo), "open outside [low, high]"),
        ((c > h) | (c < lo), "close outside [low, high]"),
    )
    for mask, problem in checks:
        bad = np.flatnonzero(mask)
        if bad.size:
            _fail_row(source, frame, int(rows[bad[0]]), problem)


def parse_daily(frame: pd.DataFrame, source: str) -> _DailySeries:
    """Validate a daily frame (columns as in the module docstring) and turn it into arrays."""
    frame = _require_columns(frame, _DAILY_REQUIRED, source).reset_index(drop=True)
    days = _parse_days(frame, source)
    prices = {k: _numeric(frame, k, source) for k in _PRICE_COLUMNS}
    volume = _numeric(frame, "volume", source)
    adj_close = _numeric(frame, "adj_close", source) if "adj_close" in frame.columns else prices["close"]
    dividend = _numeric(frame, "dividend", source) if "dividend" in frame.columns else np.zeros(len(frame))
    dividend = np.nan_to_num(dividend, nan=0.0)
    _check_misc(frame, volume, dividend, source)
    valid = np.isfinite(np.column_stack(list(prices.values()))).all(axis=1) & (np.nan_to_num(volume) > 0)
    _check_ohlc(frame, prices, np.flatnonzero(valid), source)
    order = np.argsort(days, kind="stable")
    dupes = np.flatnonzero(np.diff(days[order]) == 0)
    if dupes.size:
        day = dt.date.fromordinal(int(days[order[dupes[0]]]))
        _fail_row(source, frame, int(order[dupes[0] + 1]), f"duplicate date {day}")
    columns = {"days": days, **prices, "adj_close": adj_close, "volume": volume, "dividend": dividend}
    return _series({k: v[order] for k, v in columns.items()}, valid[order])


def _parse_days(frame: pd.DataFrame, source: str) -> np.ndarray:
    """Dates (``YYYY-MM-DD`` text or datetime values) as int64 ordinals."""
    raw = frame["date"]
    if pd.api.types.is_datetime64_any_dtype(raw):
        dates = raw.dt.tz_localize(None) if raw.dt.tz is not None else raw
    else:
        dates = pd.to_datetime(raw.astype(str).str.strip(), format="%Y-%m-%d", errors="coerce")
    bad = np.flatnonzero(dates.isna().to_numpy())
    if bad.size:
        _fail_row(source, frame, bad[0], f"unparsable date {raw.iloc[bad[0]]!r}")
    epoch_days = dates.to_numpy().astype("datetime64[D]").astype(np.int64)
    return epoch_days + _EPOCH_ORDINAL


def _check_misc(frame: pd.DataFrame, volume: np.ndarray, dividend: np.ndarray, source: str) -> None:
    for values, name in ((volume, "volume"), (dividend, "dividend")):
        bad = np.flatnonzero(np.nan_to_num(values) < 0)
        if bad.size:
            _fail_row(source, frame, bad[0], f"negative {name}")


def _series(columns: dict[str, np.ndarray], valid: np.ndarray) -> _DailySeries:
    """Freeze the sorted columns (callers get views of them) and index the valid rows."""
    rows = np.flatnonzero(valid)
    bar_days = columns["days"][rows]
    for array in (*columns.values(), valid, rows, bar_days):
        array.setflags(write=False)
    return _DailySeries(**columns, valid=valid, bar_days=bar_days, bar_rows=rows)


def parse_minutes(frame: pd.DataFrame, source: str) -> dict[dt.date, pd.DataFrame]:
    """Validate a 1-minute frame and split it by exchange date into frames indexed by UTC bar start."""
    frame = _require_columns(frame, _MINUTE_REQUIRED, source).reset_index(drop=True)
    stamps = _parse_stamps(frame, source)
    prices = {k: _numeric(frame, k, source) for k in _PRICE_COLUMNS}
    volume = np.nan_to_num(_numeric(frame, "volume", source), nan=0.0)
    present = np.isfinite(np.column_stack(list(prices.values())))
    partial = np.flatnonzero(present.any(axis=1) & ~present.all(axis=1))
    if partial.size:
        _fail_row(source, frame, partial[0], "some but not all of open/high/low/close are missing")
    keep = np.flatnonzero(present.all(axis=1))  # an all-empty row is a minute without trades: no bar
    _check_ohlc(frame, prices, keep, source)
    _check_misc(frame, volume, np.zeros(1), source)
    dupes = np.flatnonzero(stamps.iloc[keep].duplicated().to_numpy())
    if dupes.size:
        _fail_row(source, frame, int(keep[dupes[0]]), f"duplicate timestamp {stamps.iloc[keep[dupes[0]]]}")
    columns = {k: v[keep] for k, v in {**prices, "volume": volume}.items()}
    bars = pd.DataFrame(columns, index=pd.DatetimeIndex(stamps.iloc[keep], name="t")).sort_index()
    local_dates = bars.index.tz_convert(EXCHANGE_TZ).date
    return {day: group for day, group in bars.groupby(local_dates)}


def _parse_stamps(frame: pd.DataFrame, source: str) -> pd.Series:
    """Parse minute timestamps to UTC; all must carry an offset, or none (then they are US/Eastern)."""
    raw = frame["datetime"]
    if pd.api.types.is_datetime64_any_dtype(raw):
        aware = raw.dt.tz_localize(EXCHANGE_TZ) if raw.dt.tz is None else raw
        return aware.dt.tz_convert("UTC").dt.as_unit("ns")
    text = raw.astype(str).str.strip()
    has_offset = text.str.contains(_OFFSET_SUFFIX).to_numpy()
    if has_offset.any() and not has_offset.all():
        _fail_row(source, frame, int(np.flatnonzero(~has_offset)[0]), "timestamp without UTC offset")
    if has_offset.all():
        stamps = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    else:
        naive = pd.to_datetime(text, format="ISO8601", errors="coerce")
        stamps = naive.dt.tz_localize(EXCHANGE_TZ, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    bad = np.flatnonzero(stamps.isna().to_numpy())
    if bad.size:
        _fail_row(source, frame, bad[0], f"unparsable datetime {text.iloc[bad[0]]!r}")
    return stamps.dt.as_unit("ns")


def discover_files(path: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """Map symbols to their daily and minute files in a directory (see `MarketData.from_dir`)."""
    if not path.is_dir():
        raise MarketDataError(f"{path}: not a directory")
    daily: dict[str, Path] = {}
    minute: dict[str, Path] = {}
    for file in sorted(path.iterdir()):
        if not file.is_file():
            continue
        match, target = _MINUTE_NAME.match(file.name), minute
        if match is None:
            match, target = _DAILY_NAME.match(file.name), daily
        if match is None:
            continue
        symbol = match["symbol"].upper()
        if symbol in target:
            raise MarketDataError(f"{path}: two files for {symbol}: {target[symbol].name} and {file.name}")
        target[symbol] = file
    return daily, minute


# ------------------------------------------------------------------------------------------- the store


class MarketData:
    """Read-only daily (and optional real minute) data for a set of symbols.

    Every query takes the date it is asked "as of" so callers cannot accidentally look ahead: statistics
    such as `sigma_daily` and `adv` use only sessions strictly before the given day.
    """

    def __init__(
        self,
        daily: Mapping[str, _DailySeries],
        minutes: Mapping[str, Mapping[dt.date, pd.DataFrame]] | None = None,
    ) -> None:
        """Prefer the `bundled`, `from_dir` and `from_frames` constructors, which validate their input."""
        if not daily:
            raise MarketDataError("no symbols loaded")
        self._daily = dict(sorted(daily.items()))
        self._minutes = {s: dict(m) for s, m in (minutes or {}).items() if s in self._daily}
        self.symbols: tuple[str, ...] = tuple(self._daily)
        bars = [s.bar_days for s in self._daily.values() if s.bar_days.size]
        if not bars:
            raise MarketDataError("no symbol has a single valid bar")
        self._first = dt.date.fromordinal(int(min(b[0] for b in bars)))
        self._last = dt.date.fromordinal(int(max(b[-1] for b in bars)))

    # -- constructors

    @classmethod
    def bundled(cls, symbols: Iterable[str] | None = None) -> MarketData:
        """The real ETF data shipped with the package (see data/PROVENANCE.md).

        Read once per process and set of symbols: the files never change while it runs and a
        ``MarketData`` is read-only, so ``check-config``'s date check, every embedded broker a process
        starts (``plan`` starts one per call) and the tests share one copy instead of parsing ~0.7 s of CSV
        each time."""
        key = None if symbols is None else tuple(sorted({s.upper() for s in symbols}))
        return _bundled(key) if cls is MarketData else cls.from_dir(BUNDLED_DATA_DIR, key)

    @classmethod
    def from_dir(cls, path: Path, symbols: Iterable[str] | None = None) -> MarketData:
        """Load ``<T>.csv[.gz]`` or ``daily_<T>.csv[.gz]`` daily files and optional ``minute_<T>.csv[.gz]``.

        With ``symbols`` only those are read (and each must exist); otherwise every daily file is.
        """
        path = Path(path)
        daily_files, minute_files = discover_files(path)
        wanted = _wanted(symbols, daily_files, path)
        orphans = sorted(set(minute_files) - set(daily_files))
        if symbols is None and orphans:
            raise MarketDataError(f"{path}: minute file(s) without a daily file: {', '.join(orphans)}")
        daily = {s: parse_daily(_read_csv(daily_files[s]), str(daily_files[s])) for s in wanted}
        minutes = {
            s: parse_minutes(_read_csv(minute_files[s]), str(minute_files[s]))
            for s in wanted
            if s in minute_files
        }
        return cls(daily, minutes)

    @classmethod
    def from_frames(
        cls, daily: Mapping[str, pd.DataFrame], minutes: Mapping[str, pd.DataFrame] | None = None
    ) -> MarketData:
        """Build from in-memory frames in the file layouts (handy for tests and notebooks)."""
        parsed = {s.upper(): parse_daily(f, f"<{s} daily>") for s, f in daily.items()}
        minute = {s.upper(): parse_minutes(f, f"<{s} minute>") for s, f in (minutes or {}).items()}
        return cls(parsed, minute)

    # -- basic facts

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._daily

    def first_day(self) -> dt.date:
        """The earliest date on which any symbol has a real bar."""
        return self._first

    def last_day(self) -> dt.date:
        """The latest date on which any symbol has a real bar."""
        return self._last

    def first_bar_day(self, symbol: str) -> dt.date | None:
        """The symbol's first real bar date (None if it never trades)."""
        days = self._series(symbol).bar_days
        return dt.date.fromordinal(int(days[0])) if days.size else None

    def bar_days(self, symbol: str) -> np.ndarray:
        """Read-only int64 array of the ``date.toordinal()`` of the symbol's real bars, ascending."""
        return self._series(symbol).bar_days

    # -- bars

    def daily_bar(self, symbol: str, day: dt.date) -> DailyBar | None:
        """The real bar of ``day``, or None when the symbol did not trade then (or has no row)."""
        series = self._series(symbol)
        i = int(np.searchsorted(series.days, day.toordinal()))
        if i < series.days.size and series.days[i] == day.toordinal() and series.valid[i]:
            return _bar(series, i)
        return None

    def last_bar_on_or_before(self, symbol: str, day: dt.date) -> DailyBar | None:
        """The most recent real bar dated ``day`` or earlier: what a stale quote is built from."""
        series = self._series(symbol)
        k = int(np.searchsorted(series.bar_days, day.toordinal(), side="right"))
        return _bar(series, int(series.bar_rows[k - 1])) if k else None

    def daily_bars(self, symbol: str, start: dt.date, end: dt.date) -> list[DailyBar]:
        """Real bars with ``start <= date <= end``, oldest first."""
        series = self._series(symbol)
        lo = int(np.searchsorted(series.bar_days, start.toordinal(), side="left"))
        hi = int(np.searchsorted(series.bar_days, end.toordinal(), side="right"))
        return [_bar(series, int(r)) for r in series.bar_rows[lo:hi]]

    def minute_bars(self, symbol: str, day: dt.date) -> pd.DataFrame | None:
        """The real 1-minute bars of ``day`` (exchange date) as loaded, indexed by UTC bar start; or None.

        Returned as a copy: these are the raw vendor bars, not the conformed path the market uses.
        """
        self._series(symbol)
        frame = self._minutes.get(symbol, {}).get(day)
        return None if frame is None else frame.copy()

    # -- point-in-time statistics

    def sigma_daily(self, symbol: str, day: dt.date) -> float:
        """Stdev of the last 20 close-to-close log returns strictly before ``day``.

        Uses ``adj_close`` so ex-dividend drops do not read as volatility. Falls back to `SIGMA_FALLBACK`
        with fewer than two returns of history and never goes below `SIGMA_FLOOR`.
        """
        series = self._series(symbol)
        rows = self._trailing_rows(series, day, TRAILING_SESSIONS + 1)
        closes = series.adj_close[rows]
        closes = closes[np.isfinite(closes) & (closes > 0)]
        if closes.size < MIN_RETURNS_FOR_SIGMA + 1:
            return SIGMA_FALLBACK
        sigma = float(np.std(np.diff(np.log(closes)), ddof=1))
        return max(sigma, SIGMA_FLOOR) if math.isfinite(sigma) else SIGMA_FALLBACK

    def adv(self, symbol: str, day: dt.date) -> float:
        """Mean volume (shares) of the last 20 real bars strictly before ``day``; 0.0 with no history."""
        series = self._series(symbol)
        rows = self._trailing_rows(series, day, TRAILING_SESSIONS)
        return float(series.volume[rows].mean()) if rows.size else 0.0

    def dividends_on(self, day: dt.date) -> dict[str, float]:
        """Cash dividend per share of every symbol whose ex-date is ``day`` (only non-zero ones)."""
        out: dict[str, float] = {}
        for symbol, series in self._daily.items():
            i = int(np.searchsorted(series.days, day.toordinal()))
            if i < series.days.size and series.days[i] == day.toordinal() and series.dividend[i] > 0:
                out[symbol] = float(series.dividend[i])
        return out

    def dividend_factors(self, symbol: str) -> tuple[np.ndarray, np.ndarray]:
        """Day ordinals of the symbol's rows and, for each, the factor that adjusts its prices for every cash
        dividend paid after it: the product over later ex-dates of ``1 - dividend / previous close`` (the
        CRSP/Alpaca convention), from the ``dividend`` column and the (split-adjusted) closes."""
        series = self._series(symbol)
        close = np.where(np.isfinite(series.close), series.close, series.adj_close)
        previous = np.concatenate([[np.nan], close[:-1]])
        step = np.where(
            (series.dividend > 0) & np.isfinite(previous) & (previous > 0),
            1 - series.dividend / previous,
            1.0,
        )
        # a row's factor multiplies the steps of the ex-dates strictly after it
        after = np.concatenate([np.cumprod(step[::-1])[::-1][1:], [1.0]])
        return series.days, after

    # -- internals

    def _series(self, symbol: str) -> _DailySeries:
        try:
            return self._daily[symbol]
        except KeyError:
            raise KeyError(f"unknown symbol {symbol!r}") from None

    @staticmethod
    def _trailing_rows(series: _DailySeries, day: dt.date, count: int) -> np.ndarray:
        k = int(np.searchsorted(series.bar_days, day.toordinal(), side="left"))
        return series.bar_rows[max(0, k - count) : k]


@functools.lru_cache(maxsize=8)
def _bundled(symbols: tuple[str, ...] | None) -> MarketData:
    return MarketData.from_dir(BUNDLED_DATA_DIR, symbols)


def _wanted(symbols: Iterable[str] | None, files: Mapping[str, Path], path: Path) -> list[str]:
    if symbols is None:
        if not files:
            raise MarketDataError(f"{path}: no daily CSV files found")
        return sorted(files)
    wanted = sorted({s.upper() for s in symbols})
    missing = [s for s in wanted if s not in files]
    if missing:
        raise MarketDataError(f"{path}: no daily file for {', '.join(missing)}")
    return wanted


def _bar(series: _DailySeries, i: int) -> DailyBar:
    return DailyBar(
        date=dt.date.fromordinal(int(series.days[i])),
        open=float(series.open[i]),
        high=float(series.high[i]),
        low=float(series.low[i]),
        close=float(series.close[i]),
        volume=float(series.volume[i]),
        dividend=float(series.dividend[i]),
    )
