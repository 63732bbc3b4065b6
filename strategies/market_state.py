"""Market data the dynamic triggers decide on, and the pure estimators that turn it into risk numbers.

Strategies never fetch anything, so whatever a trigger needs beyond the portfolio arrives as data in a
frozen :class:`MarketState`: a trailing matrix of daily returns (one column per symbol, oldest row first)
and per-asset cost inputs. The engine or backtester builds it once per decision and passes it in
``TriggerContext.market``; every trigger in a composite tree sees the same one.

Each trigger brings its own estimator config (how much history, how fast to forget) instead of reading a
precomputed number, so two triggers can look at the same history through different windows (a regime
trigger compares a short window with a long one). Estimators:

* :class:`Ewma`: RiskMetrics-style exponentially weighted moments, weights ``0.5 ** (age / halflife)``
  normalised to sum to 1 over the history given. Zero-mean: daily means are noise next to daily moves.
* :class:`Window`: equal weights over the last ``length`` returns (all of them when None).
* :class:`Garch11`: a variance-targeted GARCH(1,1) filter (``omega`` from the sample variance, so only
  ``alpha`` and ``beta`` are configured): a one-day-ahead variance forecast that reacts to shocks and then
  mean-reverts. Fitting ``alpha``/``beta`` is left to whoever configures it.

The band triggers' math is plain float arithmetic on tuples (:meth:`MarketState.series`); the objective
reads the same returns as a numpy array. Any float sequence, numpy arrays included, is accepted as input.
The triggers convert what they report to ``Decimal``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Protocol, runtime_checkable

import numpy as np

from strategies.costs import (
    DEFAULT_IMPACT_COEFFICIENT,
    DEFAULT_SPREAD_BPS,
    half_spread_fraction,
    impact_fraction,
)

TRADING_DAYS = 252
"""Sessions per year, to annualise daily variances."""

Series = tuple[float, ...]
"""Daily simple returns of one asset, oldest first."""


@runtime_checkable
class VolatilityModel(Protocol):
    """A one-day-ahead variance forecast from a history of daily returns (oldest first)."""

    def daily_variance(self, returns: Sequence[float]) -> float: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class Ewma:
    """Exponentially weighted moments: a return ``halflife`` sessions old counts half as much as today's."""

    halflife: float

    def __post_init__(self) -> None:
        if self.halflife <= 0:
            raise ValueError(f"halflife must be > 0, got {self.halflife}")

    def weights(self, n: int) -> Series:
        """Normalised weights for ``n`` observations, oldest first."""
        return _ewma_weights(self.halflife, n)

    def daily_variance(self, returns: Sequence[float]) -> float:
        return weighted_variance(returns, self.weights(len(returns)))

    def describe(self) -> str:
        return f"EWMA half-life {self.halflife:g}d"


@dataclass(frozen=True)
class Window:
    """Equal weights over the last ``length`` returns (the whole history when None)."""

    length: int | None = None

    def __post_init__(self) -> None:
        if self.length is not None and self.length < 1:
            raise ValueError(f"window length must be >= 1, got {self.length}")

    def weights(self, n: int) -> Series:
        used = n if self.length is None else min(self.length, n)
        return (0.0,) * (n - used) + (1.0 / used,) * used

    def daily_variance(self, returns: Sequence[float]) -> float:
        return weighted_variance(returns, self.weights(len(returns)))

    def describe(self) -> str:
        return "all history" if self.length is None else f"last {self.length}d"


@dataclass(frozen=True)
class Garch11:
    """Variance-targeted GARCH(1,1): ``s2[t+1] = (1-a-b)*V + a*r[t]**2 + b*s2[t]``, ``s2[0] = V``.

    ``V`` is the zero-mean sample variance of the history, so the forecast reverts to it. After a shock the
    forecast jumps by ``alpha * r**2`` and decays by ``alpha + beta`` a day: it is the "turbulence now"
    measure that EWMA approximates with a single decay.
    """

    alpha: float = 0.05
    beta: float = 0.90

    def __post_init__(self) -> None:
        if self.alpha < 0 or self.beta < 0 or self.alpha + self.beta >= 1:
            raise ValueError(f"need alpha, beta >= 0 and alpha + beta < 1, got {self.alpha}, {self.beta}")

    def daily_variance(self, returns: Sequence[float]) -> float:
        long_run = sum(float(r) * float(r) for r in returns) / len(returns)
        omega = (1.0 - self.alpha - self.beta) * long_run
        variance = long_run
        for r in returns:
            variance = omega + self.alpha * float(r) * float(r) + self.beta * variance
        return variance

    def describe(self) -> str:
        return f"GARCH(1,1) alpha {self.alpha:g} beta {self.beta:g}"


@functools.lru_cache(maxsize=256)
def _ewma_weights(halflife: float, n: int) -> Series:
    """Cached: a backtest asks for the same weights at every session."""
    decay = 0.5 ** (1.0 / halflife)
    raw = [decay ** (n - 1 - i) for i in range(n)]
    total = sum(raw)
    return tuple(w / total for w in raw)


class WeightedEstimator(Protocol):
    """An estimator that weights observations, so that correlations can use it too (Ewma, Window)."""

    def weights(self, n: int) -> Series: ...

    def daily_variance(self, returns: Sequence[float]) -> float: ...

    def describe(self) -> str: ...


def weighted_variance(returns: Sequence[float], weights: Sequence[float]) -> float:
    """Zero-mean weighted variance ``sum_t w_t r_t^2`` of one return series; weights sum to 1."""
    return sum(w * float(r) * float(r) for w, r in zip(weights, returns, strict=True))


def active_returns(columns: Sequence[Sequence[float]], exposures: Sequence[float]) -> Series:
    """The daily return of a long-short position ``exposures`` (one per column): ``sum_i x_i r_ti``.

    Its variance is the quadratic form ``x' Sigma x`` without building ``Sigma``: O(sessions x assets).
    """
    return tuple(
        sum(x * r for x, r in zip(exposures, row, strict=True)) for row in zip(*columns, strict=True)
    )


def _weighted_product(a: Sequence[float], b: Sequence[float], weights: Sequence[float]) -> float:
    return sum(w * float(x) * float(y) for w, x, y in zip(weights, a, b, strict=True))


def ewma_volatility(returns: Sequence[float], halflife: float) -> float:
    """Daily EWMA volatility of a return series (oldest first)."""
    return math.sqrt(Ewma(halflife).daily_variance(returns))


def ewma_correlation(a: Sequence[float], b: Sequence[float], halflife: float) -> float | None:
    """EWMA correlation of two aligned return series; None when either has no variance."""
    return correlation(Ewma(halflife), a, b)


def correlation(estimator: WeightedEstimator, a: Sequence[float], b: Sequence[float]) -> float | None:
    """Correlation of two aligned series under ``estimator``'s weights; None without variance."""
    weights = estimator.weights(len(a))
    denominator = math.sqrt(weighted_variance(a, weights) * weighted_variance(b, weights))
    return None if denominator == 0 else _weighted_product(a, b, weights) / denominator


def returns_from_prices(prices: Sequence[float]) -> Series:
    """Simple daily returns ``p[t] / p[t-1] - 1`` of a price series (oldest first)."""
    return tuple(float(now) / float(before) - 1.0 for before, now in zip(prices, prices[1:], strict=False))


@dataclass(frozen=True)
class AssetCosts:
    """What trading one asset costs, in the units of ``strategies.costs`` (shared with the backtester).

    ``spread_bps`` is the full bid-ask width (a market order pays half of it); ``adv`` the average daily
    volume in shares and ``sigma_daily`` the daily volatility for the square-root impact (``adv = 0``: no
    impact estimate); ``tax_fraction`` the estimated tax on a sale as a fraction of its notional (0 without
    a ``tax`` section; :func:`strategies.tax.marginal.sell_tax_fractions` supplies it).
    """

    spread_bps: float = DEFAULT_SPREAD_BPS
    adv: float = 0.0
    sigma_daily: float = 0.0
    impact_coefficient: float = DEFAULT_IMPACT_COEFFICIENT
    tax_fraction: float = 0.0

    def one_way(self, shares: float, *, taxed: bool) -> float:
        """All-in cost of trading ``shares`` as a fraction of notional: half-spread + impact (+ tax)."""
        cost = half_spread_fraction(self.spread_bps)
        cost += impact_fraction(shares, self.adv, self.sigma_daily, self.impact_coefficient)
        return cost + (self.tax_fraction if taxed else 0.0)

    def describe(self, shares: float, *, taxed: bool) -> str:
        """E.g. ``10.0bp spread + 10.5bp impact + 0.0bp tax``."""
        spread = half_spread_fraction(self.spread_bps) * 1e4
        impact = impact_fraction(shares, self.adv, self.sigma_daily, self.impact_coefficient) * 1e4
        tax = self.tax_fraction * 1e4 if taxed else 0.0
        return f"{spread:.1f}bp spread + {impact:.1f}bp impact + {tax:.1f}bp tax"


@dataclass(frozen=True)
class MarketState:
    """Trailing daily returns (rows = sessions oldest first, columns = ``symbols``) and per-asset costs.

    ``returns`` is kept as a read-only float array (sessions x symbols): the objective reads a thousand
    sessions at every decision, so it is never copied into Python floats; :meth:`series` gives the tuples
    the band triggers loop over.

    Every column covers the same sessions, and they end BEFORE the decision (no look-ahead: a backtest
    deciding at a close may include the return into that close, never a later one). ``returns`` may be any
    (sessions x symbols) table of floats, a numpy array included; it is stored as tuples. A symbol without a
    column or without costs is simply unknown; each trigger says what it does then. Per-symbol series:
    :meth:`from_series`; closes: :meth:`from_prices`.
    """

    symbols: tuple[str, ...] = ()
    returns: Sequence[Sequence[float]] = ()
    costs: Mapping[str, AssetCosts] = field(default_factory=dict)
    _columns: dict[str, Series] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        symbols = tuple(self.symbols)
        problem = f"every row of returns needs one value per symbol ({len(symbols)})"
        try:
            matrix = np.array(self.returns, dtype=float)
        except ValueError:
            raise ValueError(problem) from None
        if matrix.size == 0:
            matrix = np.zeros((0, len(symbols)))
        if matrix.ndim != 2 or matrix.shape[1] != len(symbols):
            raise ValueError(problem)
        if not np.isfinite(matrix).all():
            raise ValueError("returns must be finite: align the series and drop missing sessions first")
        matrix.flags.writeable = False
        object.__setattr__(self, "symbols", symbols)
        object.__setattr__(self, "returns", matrix)
        object.__setattr__(self, "costs", MappingProxyType(dict(self.costs)))
        object.__setattr__(self, "_columns", {})

    @classmethod
    def from_series(
        cls, returns: Mapping[str, Sequence[float]], costs: Mapping[str, AssetCosts] | None = None
    ) -> MarketState:
        """From per-symbol return series covering the same sessions (oldest first)."""
        lengths = {len(series) for series in returns.values()}
        if len(lengths) > 1:
            raise ValueError(f"return series must cover the same sessions, got lengths {sorted(lengths)}")
        rows = list(zip(*returns.values(), strict=True))
        return cls(tuple(returns), rows, costs or {})

    @classmethod
    def from_prices(
        cls, closes: Mapping[str, Sequence[float]], costs: Mapping[str, AssetCosts] | None = None
    ) -> MarketState:
        """From per-symbol aligned daily closes (oldest first); returns are simple close-to-close."""
        return cls.from_series({s: returns_from_prices(p) for s, p in closes.items()}, costs)

    def with_tax(self, fractions: Mapping[str, float]) -> MarketState:
        """The same market with each symbol's ``tax_fraction`` set (a symbol without costs gets defaults)."""
        costs = dict(self.costs)
        for symbol, fraction in fractions.items():
            costs[symbol] = replace(costs.get(symbol, AssetCosts()), tax_fraction=fraction)
        return MarketState(self.symbols, self.returns, costs)

    @property
    def sessions(self) -> int:
        return int(self.returns.shape[0])

    def series(self, symbol: str) -> Series | None:
        """Daily returns of ``symbol``, or None when it has no column or fewer than two sessions."""
        if self.sessions < 2 or symbol not in self.symbols:
            return None
        if symbol not in self._columns:
            self._columns[symbol] = tuple(self.returns[:, self.symbols.index(symbol)].tolist())
        return self._columns[symbol]

    def matrix(self, symbols: Sequence[str]) -> np.ndarray | None:
        """Returns of ``symbols`` as a (sessions x symbols) read-only array, or None when any is unknown."""
        if any(s not in self.symbols for s in symbols):
            return None
        return self.returns[:, [self.symbols.index(s) for s in symbols]]

    def columns(self, symbols: Sequence[str]) -> list[Series] | None:
        """The series of ``symbols`` in that order, or None when any of them is unknown."""
        found = [self.series(s) for s in symbols]
        return None if any(c is None for c in found) else [c for c in found if c is not None]
