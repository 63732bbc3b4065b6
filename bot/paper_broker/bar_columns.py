"""A bar as Alpaca reports it, and many bars as parallel arrays.

Why a module of its own: the market builds bars and the market-data pages encode them, and both sides need
the one definition; it also keeps ``market.py`` about paths and point-in-time views.

`BarColumns.rows` is the JSON of a page of the market's own bars (1Min, 1Day) as Alpaca sends it, the same
rows ``timeframes.bar_json`` makes of single `Bar` objects (the snapshots' and aggregated timeframes').
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import numpy as np

from bot.paper_broker.calendar import from_ns, to_ns

__all__ = ["Bar", "BarColumns"]


@dataclass(frozen=True)
class Bar:
    """An OHLCV bar as Alpaca reports it; ``t`` is the bar's start (UTC; midnight ET for daily bars)."""

    symbol: str
    t: dt.datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    trade_count: int
    vwap: float


@dataclass(frozen=True, eq=False)
class BarColumns:
    """Bars as parallel arrays, oldest first: what a page of market data is built and encoded from.

    Why not a list of `Bar`: a page of 10,000 minute bars made one object at a time spent most of its time
    creating objects; sliced from the paths' arrays it costs a few array operations.
    """

    t: np.ndarray  # int64 epoch nanoseconds of each bar's start
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    trade_count: np.ndarray  # int64
    vwap: np.ndarray

    def __len__(self) -> int:
        return int(self.t.size)

    def __getitem__(self, rows: slice) -> BarColumns:
        return BarColumns(*(column[rows] for column in self._columns()))

    def _columns(self) -> tuple[np.ndarray, ...]:
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self))

    @classmethod
    def concat(cls, parts: list[BarColumns]) -> BarColumns:
        if not parts:
            return cls.from_bars([])
        return cls(*(np.concatenate(columns) for columns in zip(*(p._columns() for p in parts), strict=True)))

    @classmethod
    def from_bars(cls, bars: list[Bar]) -> BarColumns:
        floats = {k: np.array([getattr(b, k) for b in bars], dtype=float) for k in _FLOAT_COLUMNS}
        return cls(
            t=np.array([to_ns(b.t) for b in bars], dtype=np.int64),
            trade_count=np.array([b.trade_count for b in bars], dtype=np.int64),
            **floats,
        )

    def rows(self, factors: list[float] | None = None) -> list[dict]:
        """Alpaca's bar objects, oldest first: stamps ``YYYY-MM-DDTHH:MM:SSZ``, prices times ``factors`` (each
        bar's dividend adjustment, None for none) rounded to 4 decimals where a factor is not 1."""
        stamps = np.datetime_as_string(self.t.astype("datetime64[ns]"), unit="s", timezone="UTC").tolist()
        prices = [self.open, self.high, self.low, self.close, self.vwap]
        if factors is None:
            o, h, lo, c, vw = (column.tolist() for column in prices)
        else:
            o, h, lo, c, vw = (
                [v if f == 1.0 else round(v * f, 4) for v, f in zip(column.tolist(), factors, strict=True)]
                for column in prices
            )
        volumes, counts = self.volume.astype(np.int64).tolist(), self.trade_count.tolist()
        return [
            {"t": t, "o": o_, "h": h_, "l": l_, "c": c_, "v": v, "n": n, "vw": w}
            for t, o_, h_, l_, c_, v, n, w in zip(stamps, o, h, lo, c, volumes, counts, vw, strict=True)
        ]

    def to_bars(self, symbol: str) -> list[Bar]:
        floats = [getattr(self, k).tolist() for k in _FLOAT_COLUMNS]
        counts = self.trade_count.tolist()
        return [
            Bar(symbol, from_ns(t), o, h, lo, c, v, n, vw)
            for t, o, h, lo, c, v, vw, n in zip(self.t.tolist(), *floats, counts, strict=True)
        ]


_FLOAT_COLUMNS = ("open", "high", "low", "close", "volume", "vwap")
