"""Price history for backtests: the bundled real data, any CSV directory in the same layout, or Alpaca's bars.

**CSV layout** (the paper broker's, see ``bot/paper_broker/data/PROVENANCE.md``): one file per ticker named
``TICKER.csv``, ``daily_TICKER.csv`` or either with ``.gz``, columns ``date,open,high,low,close,volume`` and
optionally ``adj_close`` and ``dividend``:

* ``date``: ``YYYY-MM-DD``, one row per session; ``close`` split-adjusted but NOT dividend-adjusted;
* ``adj_close``: split- and dividend-adjusted close, the total-return price (defaults to ``close``);
* ``volume``: shares traded (for ADV, hence the impact estimate); ``dividend``: cash per share on the ex-date.

Files are validated by the paper broker's own parser (a bad row fails loudly, naming the file and line).

**Alpaca**: :func:`fetch_alpaca_bars` downloads daily bars twice (split-adjusted for ``close``/``volume``,
fully adjusted for ``adj_close``), infers the cash dividend of each ex-date from the two, and writes the
result in the layout above to a cache directory, which is then read like any other; a symbol whose cached
range covers the request is not fetched again.

The backtest calendar is the sessions on which *every* symbol has a real bar between ``start`` and ``end``
(the bundled ETFs agree on every session). A dividend whose ex-date falls on a session dropped from that
calendar is paid on the next kept session. Volatility and ADV for the impact model come from the paper
broker's own point-in-time estimators (``MarketData.sigma_daily`` / ``adv``: the 20 sessions strictly before
the day), so a backtest and the paper broker charge the same impact for the same order on the same day.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bot.paper_broker.marketdata import (
    BUNDLED_DATA_DIR,
    MarketData,
    MarketDataError,
    discover_files,
    parse_daily,
)

__all__ = [
    "DividendMode",
    "MarketDataError",
    "PriceHistory",
    "fetch_alpaca_bars",
    "load_history",
]


class DividendMode(StrEnum):
    """How dividends reach the portfolio.

    ``reinvest``: positions are valued and traded at ``adj_close`` (the total-return price), which is the same
    as reinvesting every dividend in its own asset at the ex-date close, free of cost.
    ``cash``: positions are valued and traded at ``close`` and each dividend is paid into cash on its ex-date
    (as the paper broker does); the policy decides when that cash is invested.
    """

    REINVEST = "reinvest"
    CASH = "cash"


@dataclass(frozen=True, eq=False)
class PriceHistory:
    """Aligned daily arrays (sessions x symbols) of the backtest universe."""

    days: tuple[dt.date, ...]
    symbols: tuple[str, ...]
    close: np.ndarray
    """Split-adjusted close (the traded price when dividends are paid in cash)."""
    adj_close: np.ndarray
    """Total-return price (the traded price when dividends are reinvested)."""
    dividend: np.ndarray
    """Cash per share with an ex-date after the previous session, up to and including this one (row 0: 0)."""
    volume: np.ndarray
    market: MarketData | None = None
    """Source of ``sigma_daily`` / ``adv``; None: no volume history, so no impact is estimated."""
    source: str = ""
    data_dir: Path | None = None
    """The directory the prices were read from (None: built in memory). Anything else the run prices, e.g. the
    tax backtest's substitutes, is read from here too, so one run never mixes two data sources."""
    _impact_memo: dict[tuple[int, int], tuple[float, float]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        shape = (len(self.days), len(self.symbols))
        for name in ("close", "adj_close", "dividend", "volume"):
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, expected {shape}")
        if len(self.days) < 2:
            raise MarketDataError(f"{self.source or 'price history'}: fewer than two common sessions")
        for name in ("close", "adj_close"):
            values = getattr(self, name)
            if not (np.isfinite(values).all() and (values > 0).all()):
                raise MarketDataError(f"{self.source}: {name} has missing or non-positive prices")

    @property
    def start(self) -> dt.date:
        return self.days[0]

    @property
    def end(self) -> dt.date:
        return self.days[-1]

    def prices(self, dividends: DividendMode) -> np.ndarray:
        """The price positions are valued and traded at under ``dividends``."""
        return self.adj_close if DividendMode(dividends) is DividendMode.REINVEST else self.close

    def cash_dividends(self, dividends: DividendMode) -> np.ndarray:
        """Dividends paid into cash: the real ones under ``cash``; none under ``reinvest`` (in the price)."""
        if DividendMode(dividends) is DividendMode.CASH:
            return self.dividend
        return np.zeros_like(self.dividend)

    def total_returns(self) -> np.ndarray:
        """Daily total returns (sessions-1 x symbols) from ``adj_close``."""
        return self.adj_close[1:] / self.adj_close[:-1] - 1.0

    def impact_inputs(self, symbol_index: int, day_index: int) -> tuple[float, float]:
        """``(sigma_daily, adv)`` of a symbol on a session, point in time; ``(0, 0)`` without a market."""
        key = (symbol_index, day_index)
        if key not in self._impact_memo:
            if self.market is None:
                self._impact_memo[key] = (0.0, 0.0)
            else:
                symbol, day = self.symbols[symbol_index], self.days[day_index]
                self._impact_memo[key] = (self.market.sigma_daily(symbol, day), self.market.adv(symbol, day))
        return self._impact_memo[key]

    def since(self, first: int) -> PriceHistory:
        """The same history from session index ``first`` on (the market data, for cost inputs, is shared)."""
        if not 0 <= first < len(self.days) - 1:
            raise MarketDataError(f"{self.source}: need at least two sessions from index {first}")
        return replace(
            self,
            days=self.days[first:],
            close=self.close[first:],
            adj_close=self.adj_close[first:],
            dividend=self.dividend[first:],
            volume=self.volume[first:],
            _impact_memo={},
        )

    def first_on_or_after(self, day: dt.date) -> int:
        """Index of the first session on or after ``day``."""
        for i, session in enumerate(self.days):
            if session >= day:
                return i
        raise MarketDataError(f"{self.source}: no session on or after {day} (the data ends {self.end})")

    def frame(self, dividends: DividendMode = DividendMode.REINVEST) -> pd.DataFrame:
        """Prices under ``dividends`` as a DataFrame indexed by session (what e.g. ``bt`` takes)."""
        index = pd.DatetimeIndex(pd.to_datetime(list(self.days)), name="date")
        return pd.DataFrame(self.prices(dividends), index=index, columns=list(self.symbols))


def load_history(
    symbols: Iterable[str],
    start: dt.date | None = None,
    end: dt.date | None = None,
    data_dir: Path | str | None = None,
) -> PriceHistory:
    """Read the daily files of ``symbols`` (bundled data by default) and align them on common sessions.

    ``start`` defaults to the first session on which every symbol has a bar, ``end`` to the last; a ``start``
    before a symbol's first bar is an error that names the symbol and the earliest possible start.
    """
    wanted = sorted({s.upper() for s in symbols})
    if not wanted:
        raise MarketDataError("no symbols to load")
    path = Path(data_dir) if data_dir is not None else BUNDLED_DATA_DIR
    files, _ = discover_files(path)
    missing = [s for s in wanted if s not in files]
    if missing:
        raise MarketDataError(f"{path}: no daily file for {', '.join(missing)}")
    series = {s: parse_daily(_read_csv(files[s]), str(files[s])) for s in wanted}
    market = MarketData(series)
    return _align(series, market, start, end, str(path), path)


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, skipinitialspace=True)
    except (OSError, ValueError, EOFError, UnicodeDecodeError) as exc:
        raise MarketDataError(f"{path}: cannot read CSV ({exc})") from exc


def _align(
    series: dict[str, Any],
    market: MarketData,
    start: dt.date | None,
    end: dt.date | None,
    source: str,
    data_dir: Path | None = None,
) -> PriceHistory:
    symbols = tuple(sorted(series))
    firsts = {}
    for symbol in symbols:
        if not series[symbol].bar_days.size:
            raise MarketDataError(f"{source}: {symbol} has no valid bar")
        firsts[symbol] = int(series[symbol].bar_days[0])
    earliest = max(firsts.values())
    if start is not None and start.toordinal() < earliest:
        late = [s for s in symbols if firsts[s] > start.toordinal()]
        first_day = dt.date.fromordinal(earliest)
        raise MarketDataError(
            f"{', '.join(late)} {'has' if len(late) == 1 else 'have'} no data on {start}: "
            f"start on or after {first_day} (the first session every asset has a bar)"
        )
    lo = start.toordinal() if start is not None else earliest
    hi = end.toordinal() if end is not None else min(int(series[s].bar_days[-1]) for s in symbols)
    common: np.ndarray | None = None
    for symbol in symbols:
        days = series[symbol].bar_days
        days = days[(days >= lo) & (days <= hi)]
        common = days if common is None else np.intersect1d(common, days, assume_unique=True)
    assert common is not None
    if common.size < 2:
        raise MarketDataError(f"{source}: fewer than two sessions with every symbol between the dates given")
    columns: dict[str, list[np.ndarray]] = {"close": [], "adj_close": [], "dividend": [], "volume": []}
    for symbol in symbols:
        s = series[symbol]
        rows = s.bar_rows[np.searchsorted(s.bar_days, common)]
        columns["close"].append(s.close[rows])
        columns["adj_close"].append(s.adj_close[rows])
        columns["volume"].append(s.volume[rows])
        paid = np.concatenate([[0.0], np.cumsum(s.dividend)])  # paid[k] = dividends of rows < k
        upto = paid[np.searchsorted(s.days, common, side="right")]
        dividend = np.diff(upto, prepend=upto[0])
        columns["dividend"].append(dividend)
    arrays = {k: np.column_stack(v).astype(float) for k, v in columns.items()}
    days = tuple(dt.date.fromordinal(int(d)) for d in common)
    return PriceHistory(days, symbols, market=market, source=source, data_dir=data_dir, **arrays)


# --------------------------------------------------------------------------------------------- Alpaca

_CACHE_INDEX = "alpaca-cache.json"
_LOOKBACK_DAYS = 45
"""Calendar days fetched before ``start`` so that the 20-session volatility and ADV exist from day one."""
_DIVIDEND_NOISE = 1e-4
"""Inferred dividends below this fraction of the previous close are rounding noise of the two series."""


def fetch_alpaca_bars(
    symbols: Sequence[str],
    start: dt.date,
    end: dt.date,
    cache_dir: Path | str,
    client: Any,
) -> Path:
    """Make sure ``cache_dir`` holds daily files of ``symbols`` covering ``start..end``; return ``cache_dir``.

    ``client`` is an alpaca-py ``StockHistoricalDataClient`` (built by the caller from the configured keys).
    Only symbols whose cached range does not cover the request are downloaded (one request per adjustment for
    all of them); the cache index records the range each file covers.
    """
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    index_path = cache / _CACHE_INDEX
    index: dict[str, dict[str, str]] = json.loads(index_path.read_text()) if index_path.exists() else {}
    fetch_from = start - dt.timedelta(days=_LOOKBACK_DAYS)
    stale = [
        s
        for s in sorted({s.upper() for s in symbols})
        if s not in index
        or dt.date.fromisoformat(index[s]["start"]) > fetch_from
        or dt.date.fromisoformat(index[s]["end"]) < end
    ]
    if not stale:
        return cache
    split = _alpaca_daily(client, stale, fetch_from, end, "split")
    total = _alpaca_daily(client, stale, fetch_from, end, "all")
    for symbol in stale:
        frame = _cache_frame(split.get(symbol), total.get(symbol))
        if frame is None:
            raise MarketDataError(
                f"Alpaca returned no daily bars for {symbol} between {fetch_from} and {end}"
            )
        frame.to_csv(cache / f"daily_{symbol}.csv.gz", index=False)
        index[symbol] = {"start": fetch_from.isoformat(), "end": end.isoformat()}
    index_path.write_text(json.dumps(index, indent=2, sort_keys=True))
    return cache


def _alpaca_daily(
    client: Any, symbols: list[str], start: dt.date, end: dt.date, adjustment: str
) -> dict[str, pd.DataFrame]:
    from alpaca.data.enums import Adjustment
    from alpaca.data.requests import StockBarsRequest
    from alpaca.data.timeframe import TimeFrame

    request = StockBarsRequest(
        symbol_or_symbols=symbols,
        timeframe=TimeFrame.Day,
        start=dt.datetime.combine(start, dt.time(), dt.UTC),
        end=dt.datetime.combine(end, dt.time(23, 59), dt.UTC),
        adjustment=Adjustment(adjustment),
    )
    barset = client.get_stock_bars(request)
    out: dict[str, pd.DataFrame] = {}
    for symbol, bars in barset.data.items():
        rows = [
            {
                "date": pd.Timestamp(b.timestamp).tz_convert("America/New_York").date().isoformat(),
                "open": b.open,
                "high": b.high,
                "low": b.low,
                "close": b.close,
                "volume": b.volume,
            }
            for b in bars
        ]
        if rows:
            out[symbol] = pd.DataFrame(rows).drop_duplicates("date").set_index("date")
    return out


def _cache_frame(split: pd.DataFrame | None, total: pd.DataFrame | None) -> pd.DataFrame | None:
    """The cache layout from split-adjusted and fully adjusted bars; dividends from the ratio of the two.

    With the usual backward adjustment, ``adj[t-1] / adj[t] = (close[t-1] - dividend[t]) / close[t]``, so
    ``dividend[t] = close[t-1] - close[t] * adj[t-1] / adj[t]``.
    """
    if split is None or split.empty:
        return None
    frame = split.copy()
    adj = total["close"].reindex(frame.index) if total is not None else frame["close"]
    frame["adj_close"] = adj.fillna(frame["close"])
    close, adj_close = frame["close"].to_numpy(float), frame["adj_close"].to_numpy(float)
    dividend = np.zeros(len(frame))
    if len(frame) > 1:
        inferred = close[:-1] - close[1:] * adj_close[:-1] / adj_close[1:]
        dividend[1:] = np.where(inferred > _DIVIDEND_NOISE * close[:-1], inferred, 0.0)
    frame["dividend"] = np.round(dividend, 6)
    frame = frame.rename_axis("date").reset_index()
    return frame[["date", "open", "high", "low", "close", "adj_close", "volume", "dividend"]]
