"""What a backtest trade costs: the paper broker's model (``strategies/costs.py``, spreads from the calibrated
table ``bot/cost_table.py``) applied to one fill.

A market order fills at the close of its session (the backtest's decision price, the "mid"):

* buys at ``mid * (1 + h) * (1 + impact)``, sells at ``mid * (1 - h) * (1 - impact)``, ``h`` half the spread;
* ``impact = 0.7 * sigma_daily * sqrt(Q / ADV)`` with ``Q`` the order's size in *real* shares (its value at
  the mid over the day's split-adjusted close: under dividend reinvestment the traded price is ``adj_close``,
  whose "shares" are not the ones ADV counts);
* plus the commission schedule (zero by default, as at Alpaca).

Deliberately left out of the paper broker's model: rounding quotes and fills to the tick (backtest prices
may be total-return prices, which have no tick), the 30-minute decay of recent same-side volume (a backtest
order is one order at one close), and partial fills across minutes (a daily backtest fills the whole order
at the close). Every cost is kept apart (spread, impact, commission) so the report can show where money went.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from bot.cost_table import calibrated_spread
from strategies.costs import (
    DEFAULT_IMPACT_COEFFICIENT,
    Commission,
    fill_price,
    half_spread_fraction,
    impact_fraction,
)


@dataclass(frozen=True)
class CostModel:
    """Spread (full width, bps of the mid, per symbol), impact coefficient and commission schedule.

    A symbol's spread is its ``spread_overrides`` entry, else ``spread_bps`` if set, else the calibrated
    table the paper broker quotes (``bot/cost_table.py``), so a default backtest charges what the paper
    broker would.
    """

    spread_bps: float | None = None
    spread_overrides: Mapping[str, float] = field(default_factory=dict)
    impact_coefficient: float = DEFAULT_IMPACT_COEFFICIENT
    commission: Commission = Commission()

    def __post_init__(self) -> None:
        object.__setattr__(self, "spread_overrides", MappingProxyType(dict(self.spread_overrides)))
        if (self.spread_bps or 0) < 0 or any(v < 0 for v in self.spread_overrides.values()):
            raise ValueError("spreads must be >= 0 bps")
        if self.impact_coefficient < 0:
            raise ValueError("impact_coefficient must be >= 0")

    def spread_for(self, symbol: str) -> float:
        """Full bid-ask spread of ``symbol`` in basis points."""
        if symbol in self.spread_overrides:
            return float(self.spread_overrides[symbol])
        return float(self.spread_bps) if self.spread_bps is not None else calibrated_spread(symbol)

    def half_spread(self, symbol: str) -> float:
        return half_spread_fraction(self.spread_for(symbol))

    def describe(self) -> str:
        spread = f"spread {self.spread_bps:g} bps" if self.spread_bps is not None else "calibrated spreads"
        parts = [spread, f"impact {self.impact_coefficient:g}*sigma*sqrt(Q/ADV)"]
        c = self.commission
        if not c.is_zero:
            parts.append(f"commission {c.per_order:g}/order + {c.per_share:g}/share + {c.bps:g} bps")
        else:
            parts.append("no commission")
        return ", ".join(parts)


FREE = CostModel(spread_bps=0.0, impact_coefficient=0.0)
"""Trading at the mid with nothing charged (``--no-costs``, and the ``bt`` validation)."""


@dataclass(frozen=True)
class Fill:
    """One executed order: shares (positive), price, and what it cost beyond the mid."""

    qty: float
    price: float
    spread_cost: float
    impact_cost: float
    commission: float

    @property
    def notional(self) -> float:
        return self.qty * self.price

    @property
    def cost(self) -> float:
        return self.spread_cost + self.impact_cost + self.commission


def fill(
    model: CostModel,
    symbol: str,
    buy: bool,
    mid: float,
    real_close: float,
    sigma: float,
    adv: float,
    *,
    qty: float | None = None,
    notional: float | None = None,
) -> Fill:
    """Fill an order of ``qty`` shares, or (buys only) one spending ``notional`` dollars, at the close.

    As in the paper broker, a notional order's size for the impact estimate is ``notional / mid``.
    """
    if (qty is None) == (notional is None):
        raise ValueError("give exactly one of qty or notional")
    h = model.half_spread(symbol)
    value_at_mid = qty * mid if qty is not None else notional or 0.0
    impact = impact_fraction(value_at_mid / real_close, adv, sigma, model.impact_coefficient)
    price = fill_price(mid, buy, h, impact)
    shares = qty if qty is not None else (notional or 0.0) / price
    spread_cost = shares * mid * h
    slippage = shares * (price - mid) if buy else shares * (mid - price)
    commission = model.commission.amount(shares, shares * price)
    return Fill(shares, price, spread_cost, slippage - spread_cost, commission)
