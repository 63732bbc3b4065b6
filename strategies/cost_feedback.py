"""Realised costs feed back into the decision: a calibrated prior blended with what the bot's fills cost.

Pure arithmetic (no I/O); ``bot/cost_estimates.py`` feeds it the execution reports from the state store.

Units: the one-way cost of an order in bp of the arrival mid, i.e. what the decision charges per side of a
small trade. The prior is half the calibrated spread (``bot/paper_broker/data/costs.json``); a measurement
is one order's implementation shortfall against its arrival mid (``bot.slicing.report.shortfall_bp``),
which holds the half-spread the order crossed and the little impact it met at the bot's own size.

The blend is the posterior mean of a normal prior with normal measurement noise (shrinkage)::

    using = (k * prior + n * mean(measured)) / (k + n)

with the prior counted as ``k = PRIOR_WEIGHT`` pseudo-orders. ``k`` is the ratio of the variances:
one order's shortfall is noisy, mostly the price moving while it fills (a minute of an ETF's move and the
bounce, ~1.5 bp), against the prior's own uncertainty of about a tick (~0.5 bp), so ``k = (1.5 / 0.5)^2
~ 10``: ten orders move the estimate half way to what they measured, a single unlucky fill barely moves it,
and after a hundred the measurement dominates. A negative blend (fills that beat the mid on average) is
held at zero: the decision never treats trading as free money.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["PRIOR_WEIGHT", "CostEstimate", "blend"]

PRIOR_WEIGHT = 10.0
"""Pseudo-orders the calibrated prior counts as (see the module docstring for why 10)."""


@dataclass(frozen=True)
class CostEstimate:
    """The one-way cost (bp of the mid) the decision uses for ``symbol``, and where it came from."""

    symbol: str
    prior_bp: float
    measured_bp: float | None
    """Mean shortfall of the measured orders (None without any)."""
    orders: int
    using_bp: float

    @property
    def spread_bps(self) -> float:
        """The full spread a market order at the mid would cross to pay ``using_bp`` (what ``AssetCosts``
        takes): twice the one-way cost."""
        return 2 * self.using_bp

    def describe(self) -> str:
        """E.g. ``cost estimate for VTI: prior 0.31 bp, measured 0.70 bp over 12 fills, using 0.52 bp``."""
        if self.measured_bp is None:
            return f"cost estimate for {self.symbol}: prior {self.prior_bp:.2f} bp, no fills yet, using it"
        return (
            f"cost estimate for {self.symbol}: prior {self.prior_bp:.2f} bp, "
            f"measured {self.measured_bp:.2f} bp"
            f" over {self.orders} fill{'s' if self.orders != 1 else ''}, using {self.using_bp:.2f} bp"
        )


def blend(
    symbol: str, prior_bp: float, measured_bp: Sequence[float], k: float = PRIOR_WEIGHT
) -> CostEstimate:
    """The shrinkage average of ``prior_bp`` (worth ``k`` orders) and each measured order's cost."""
    if prior_bp < 0:
        raise ValueError(f"prior cost must be >= 0 bp, got {prior_bp}")
    if k <= 0:
        raise ValueError(f"prior weight must be > 0, got {k}")
    if not measured_bp:
        return CostEstimate(symbol, prior_bp, None, 0, prior_bp)
    n = len(measured_bp)
    mean = statistics.fmean(measured_bp)
    using = max((k * prior_bp + n * mean) / (k + n), 0.0)
    return CostEstimate(symbol, prior_bp, mean, n, using)
