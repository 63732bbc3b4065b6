"""The risk model of the rebalancing objective: a forecast covariance, scaled to the target's own risk.

**Estimator.** RiskMetrics-style EWMA: the covariance of the trailing ``window`` daily returns, a return
``halflife`` sessions old weighing half as much as today's, zero-mean (daily means are noise next to daily
moves), annualised by 252. Optionally Ledoit-Wolf shrinkage (scikit-learn's ``ledoit_wolf`` on the
EWMA-weighted returns), for many assets and short histories. A volatility or correlation regime change
enters the forecast within weeks, and moves the no-trade region with it.

**Scaling** (``scale="relative"``, the default). The tracking variance of a drift ``d`` is ``d' S d``. In a
market-wide storm every asset's variance rises together, so ``d' S d`` rises and an unscaled objective
trades more, exactly when trading is dearest and the drift is mostly noise that the storm may undo. The
objective instead prices tracking variance *relative to the target portfolio's own forecast variance*
(``S / (w*' S w*)``): what matters is how far the portfolio's risk departs from the risk the investor chose,
not the level of the market's. Correlation changes still move the region (a diversifier that stops
diversifying makes its drift matter more); a uniform rise in volatility does not. ``scale="absolute"``
prices raw tracking variance (the cube-root rule's convention).

**Shape** (``shape=0.5``, the default). A one-period objective ``gamma d' S d + h |z|`` lets drift go
``h / (2 gamma lambda)`` along an eigen-direction of variance ``lambda``: a region stretched far along the
quiet directions and thin along the loud ones. Over many periods that is the wrong shape. Drift moves along
a direction about as fast as that direction's own volatility (both come from the same returns), and for a
drift reflected at the region's edge the optimal half-width is ``(3 h sigma_drift^2 / (2 gamma
lambda))^(1/3)`` (Whalley-Wilmott), nearly the same along every direction. The objective therefore prices
drift with ``S^shape``: eigenvalues raised to ``shape``, eigenvectors kept. ``shape=1`` is the one-period
region, ``shape -> 0`` the isotropic limit that ignores correlations (a plain band). Half-way kept the
correlation structure and, on the bundled histories, cut the turnover-plus-cost at equal tracking error by
9-33% on mixes with quiet sleeves (the permanent portfolio, the seven-asset mix) against ``shape=1``, and
changed two-asset mixes little (``scripts/bench_objective.py``, BENCHMARKS.md).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

TRADING_DAYS = 252
SCALES = ("relative", "absolute")
SHRINKAGE = ("none", "ledoit_wolf")
MIN_TARGET_VARIANCE = 1e-8
"""Floor of ``w*' S w*`` in relative scaling (an all-cash target has no risk to be relative to)."""


@dataclass(frozen=True)
class RiskModel:
    """How the objective forecasts risk; frozen config, shared by the live bot and the backtester."""

    halflife: float = 126.0
    """EWMA half-life in sessions (about six months)."""
    window: int = 504
    """Trailing sessions used (about two years)."""
    min_sessions: int = 63
    """Fewer returns than this: no forecast (the objective falls back, and says so)."""
    scale: str = "relative"
    shrinkage: str = "none"
    shape: float = 0.5
    """Exponent applied to the scaled covariance's eigenvalues (1: the covariance as forecast). Below 1 the
    no-trade region is less elongated than a one-period objective makes it (see the module docstring)."""

    def __post_init__(self) -> None:
        if self.halflife <= 0:
            raise ValueError(f"risk halflife must be > 0, got {self.halflife}")
        if self.window < 2 or self.min_sessions < 2 or self.min_sessions > self.window:
            raise ValueError("risk window and min_sessions must be >= 2, min_sessions <= window")
        if self.scale not in SCALES:
            raise ValueError(f"risk scale must be one of {', '.join(SCALES)}, got {self.scale!r}")
        if not 0 < self.shape <= 1:
            raise ValueError(f"risk shape must be in (0, 1], got {self.shape}")
        if self.shrinkage not in SHRINKAGE:
            raise ValueError(f"shrinkage must be one of {', '.join(SHRINKAGE)}, got {self.shrinkage!r}")

    def covariance(self, returns: np.ndarray) -> np.ndarray | None:
        """Annualised forecast covariance from daily returns (sessions x assets, oldest first); None with
        fewer than ``min_sessions`` rows."""
        recent = np.asarray(returns, dtype=float)[-self.window :]
        if recent.shape[0] < self.min_sessions:
            return None
        weights = _ewma_weights(self.halflife, recent.shape[0])
        if self.shrinkage == "ledoit_wolf":
            from sklearn.covariance import ledoit_wolf

            scaled = recent * np.sqrt(weights * recent.shape[0])[:, None]
            daily = ledoit_wolf(scaled, assume_centered=True)[0]
        else:
            daily = (recent * weights[:, None]).T @ recent
        return daily * TRADING_DAYS

    def scaled(self, covariance: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """The covariance the objective prices drift with (see the module docstring)."""
        if self.scale == "absolute":
            scaled = covariance
        else:
            scaled = covariance / max(float(targets @ covariance @ targets), MIN_TARGET_VARIANCE)
        if self.shape == 1.0:
            return scaled
        values, vectors = np.linalg.eigh((scaled + scaled.T) / 2.0)
        return (vectors * np.maximum(values, 0.0) ** self.shape) @ vectors.T

    def describe(self) -> str:
        shrink = ", Ledoit-Wolf shrinkage" if self.shrinkage == "ledoit_wolf" else ""
        return (
            f"EWMA covariance, half-life {self.halflife:g}d over {self.window}d{shrink}, {self.scale} scale"
        )


@functools.lru_cache(maxsize=64)
def _ewma_weights(halflife: float, n: int) -> np.ndarray:
    """Normalised weights, oldest first; cached (a backtest asks for the same ones every session), so the
    array is read-only."""
    decay = 0.5 ** (np.arange(n)[::-1] / halflife)
    weights = decay / decay.sum()
    weights.flags.writeable = False
    return weights


def tracking_error(deviation: np.ndarray, covariance: np.ndarray) -> float:
    """Forecast annual tracking error of holding ``deviation`` from target: ``sqrt(d' S d)``."""
    return float(np.sqrt(max(float(deviation @ covariance @ deviation), 0.0)))
