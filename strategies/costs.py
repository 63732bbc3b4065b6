"""Trading-cost formulas shared by the paper broker, the backtester and the decision: pure arithmetic.

One model, used in both places so that a backtest costs what the paper broker would charge:

* **Half-spread**: a market order fills at the ask (buy) or the bid (sell), i.e. ``mid * (1 +/- h)`` with
  ``h = spread_bps / 20_000`` (the spread is the full bid-ask width in basis points of the mid).
* **Temporary impact** (the square-root law; its coefficient and sources: ``DEFAULT_IMPACT_COEFFICIENT``):
  the fill moves a further ``coefficient * sigma_daily * sqrt(Q / ADV)`` of the price against the order,
  with ``Q`` the order's size in shares, ``ADV`` the average daily volume in shares and ``sigma_daily`` the
  daily volatility of returns.
* **Spreads** per symbol come from the calibrated table (``bot/cost_table.py``), read by the paper broker,
  the backtester and the live decision alike; ``DEFAULT_SPREAD_BPS`` only for symbols it does not know.
* **Commission**: per order, per share and/or basis points of the notional, with an optional minimum per
  order. Alpaca charges none on US equities and ETFs, so the default is zero.

Prices and amounts are floats here (fractions of price, dollars): this is a cost *model*, not order sizing,
which stays in ``Decimal`` in the planner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_SPREAD_BPS = 2.0
"""Full bid-ask width in basis points of the mid for a symbol the calibrated table does not know.

Known symbols get their own spread, estimated from real bars (``bot/paper_broker/data/costs.json``, built by
``scripts/calibrate_costs.py``; 0.3 bp for SPY, 1-2 bp for most bond and international ETFs). 2 bp is about
the widest of the calibrated minute-bar estimates outside the small-price funds, a cautious guess for an
unknown fund."""
DEFAULT_IMPACT_COEFFICIENT = 0.7
"""``Y`` of the square-root law ``impact = Y * sigma_daily * sqrt(Q / ADV)`` (the paper broker's
``MatchingConfig.impact_coefficient``), taken from the literature, not fitted to anything here:

* Toth, Lemperiere, Deremble, de Lataillade, Kockelkoren & Bouchaud (2011), "Anomalous price impact and the
  critical nature of liquidity in financial markets", *Physical Review X* 1, 021006: the square-root law with
  ``Y`` "of order unity" over a large set of metaorders;
* Almgren, Thum, Hauptmann & Li (2005), "Direct estimation of equity market impact", *Risk* 18(7): on US
  large-cap metaorders, temporary impact ``0.142 sigma (participation)^0.6`` plus half the permanent
  ``0.314 sigma (Q / ADV)``, i.e. ~0.3 sigma sqrt(Q/ADV) at 5-10% of ADV in square-root terms;
* Frazzini, Israel & Moskowitz (2018), "Trading Costs", working paper (AQR's own executions): realised
  impact of a large institution lower than the earlier models predict.

0.7 is inside that range (order one; the project's reference notes use it too) and on the cautious side of
the equity estimates: for ETFs, whose creation/redemption keeps prices near their holdings, it more likely
overstates than understates impact, and a decision that overstates costs trades a little less."""
IMPACT_SOURCE = (
    "square-root law Y*sigma_daily*sqrt(Q/ADV), Y=0.7: order one per Toth et al. "
    "(2011, Phys. Rev. X 1, 021006); "
    "Almgren et al. (2005, Risk 18(7)) imply ~0.3 for US large caps, Frazzini-Israel-Moskowitz (2018) lower "
    "still for a large institution; 0.7 is the cautious end for ETFs"
)
"""One line for provenance files and reports."""


def half_spread_fraction(spread_bps: float) -> float:
    """Half of a bid-ask spread given in basis points, as a fraction of the mid: 2 bps -> 0.0001."""
    if spread_bps < 0:
        raise ValueError(f"spread must be >= 0 bps, got {spread_bps}")
    return spread_bps / 20_000


def impact_fraction(
    qty: float, adv: float, sigma_daily: float, coefficient: float = DEFAULT_IMPACT_COEFFICIENT
) -> float:
    """Temporary impact as a fraction of price: ``coefficient * sigma_daily * sqrt(qty / adv)``.

    ``qty`` and ``adv`` are in the same unit (shares). No volume history (``adv <= 0``) means no estimate,
    and then no impact is charged; a negative quantity counts as zero.
    """
    if adv <= 0:
        return 0.0
    return coefficient * sigma_daily * math.sqrt(max(qty, 0.0) / adv)


def fill_price(mid: float, buy: bool, half_spread: float, impact: float) -> float:
    """Where a market order fills: the ask moved up by the impact (buys), the bid moved down (sells)."""
    if buy:
        return mid * (1 + half_spread) * (1 + impact)
    return mid * (1 - half_spread) * (1 - impact)


@dataclass(frozen=True)
class Commission:
    """Broker commission of one order: ``per_order + per_share * qty + bps * notional``, at least ``minimum``.

    A zero schedule (the default, as at Alpaca) charges nothing, not even the minimum.
    """

    per_order: float = 0.0
    per_share: float = 0.0
    bps: float = 0.0
    minimum: float = 0.0

    def __post_init__(self) -> None:
        for name in ("per_order", "per_share", "bps", "minimum"):
            if getattr(self, name) < 0:
                raise ValueError(f"commission {name} must be >= 0, got {getattr(self, name)}")

    @property
    def is_zero(self) -> bool:
        return self.per_order == self.per_share == self.bps == 0

    def amount(self, qty: float, notional: float) -> float:
        """Commission of one order of ``qty`` shares worth ``notional`` dollars."""
        if self.is_zero:
            return 0.0
        fee = self.per_order + self.per_share * abs(qty) + self.bps / 10_000 * abs(notional)
        return max(fee, self.minimum)
