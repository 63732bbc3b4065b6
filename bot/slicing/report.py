"""Execution reports: what an order cost against the price when it was decided (implementation shortfall).

For each planned order (a *parent*, sliced or not) the executor stores, when it ends:

* the arrival mid (the mid quote when the executor took the plan up: the decision price of Perold's
  implementation shortfall) and the planner's own price estimate;
* the average fill price and the shortfall in basis points, ``(avg - arrival) / arrival * 10_000`` for buys
  and the opposite for sells, so a positive number is always a cost;
* the participation achieved: shares filled over the market volume from the first order to the last fill,
  and for sliced orders the largest child over the volume of the interval it was sized on.

:func:`execution_costs` turns the stored reports into realised costs per symbol, which the backtester's cost
model can use in place of its own assumptions (:func:`realised_spread_overrides`).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.backtest.costs import CostModel
    from bot.state.store import ExecutionReportRecord, StateStore

BP = Decimal(10_000)


def shortfall_bp(side: str, avg_price: Decimal | None, arrival_mid: Decimal | None) -> float | None:
    """Implementation shortfall of the filled part, in basis points of the arrival mid; positive = cost."""
    if avg_price is None or arrival_mid is None or arrival_mid <= 0:
        return None
    sign = 1 if side == "buy" else -1
    return float(sign * (avg_price - arrival_mid) / arrival_mid * BP)


def average_price(fills: Iterable[tuple[Decimal, Decimal | None]]) -> tuple[Decimal, Decimal | None]:
    """Total shares and their average price over ``(qty, avg price)`` pairs (pairs without fills ignored)."""
    qty = Decimal(0)
    value = Decimal(0)
    for q, price in fills:
        if q and price is not None:
            qty += q
            value += q * price
    return qty, (value / qty if qty else None)


def plan_shortfall_bp(reports: Iterable[ExecutionReportRecord]) -> float | None:
    """Notional-weighted shortfall of a plan's orders (the plan's implementation shortfall in bp)."""
    weighted = 0.0
    total = 0.0
    for report in reports:
        if report.shortfall_bp is None or not report.filled_notional:
            continue
        weight = float(report.filled_notional)
        weighted += report.shortfall_bp * weight
        total += weight
    return weighted / total if total else None


@dataclass(frozen=True)
class ShortfallStats:
    """Realised execution costs of one symbol over the stored reports."""

    symbol: str
    orders: int
    filled_notional: float
    mean_bp: float
    median_bp: float
    weighted_bp: float
    """Notional-weighted mean: the cost of a dollar traded."""
    mean_participation: float | None

    @property
    def effective_spread_bps(self) -> float:
        """Twice the weighted shortfall: the full spread a market order at the mid would have to cross to
        cost what these orders cost (the "effective spread")."""
        return 2 * max(self.weighted_bp, 0.0)


def execution_costs(
    store: StateStore, account: str | None = None, min_orders: int = 1
) -> dict[str, ShortfallStats]:
    """Realised implementation shortfall per symbol from the execution reports in ``store``.

    Only orders with fills count. ``min_orders``: leave out symbols with fewer reports (too few to trust).
    """
    by_symbol: dict[str, list[ExecutionReportRecord]] = {}
    for report in store.execution_reports(account=account):
        if report.shortfall_bp is None or report.filled_qty <= 0:
            continue
        by_symbol.setdefault(report.symbol, []).append(report)
    out: dict[str, ShortfallStats] = {}
    for symbol, reports in sorted(by_symbol.items()):
        if len(reports) < min_orders:
            continue
        bps = [r.shortfall_bp for r in reports if r.shortfall_bp is not None]
        notional = sum(float(r.filled_notional) for r in reports)
        participation = [r.participation for r in reports if r.participation is not None]
        out[symbol] = ShortfallStats(
            symbol=symbol,
            orders=len(reports),
            filled_notional=notional,
            mean_bp=statistics.fmean(bps),
            median_bp=statistics.median(bps),
            weighted_bp=plan_shortfall_bp(reports) or 0.0,
            mean_participation=statistics.fmean(participation) if participation else None,
        )
    return out


def realised_spread_overrides(stats: dict[str, ShortfallStats]) -> dict[str, float]:
    """Per-symbol spreads (bps, full width) for ``bot.backtest.costs.CostModel.spread_overrides`` that make a
    backtest charge what the bot's orders actually cost."""
    return {symbol: s.effective_spread_bps for symbol, s in stats.items()}


def realised_cost_model(
    store: StateStore, base: CostModel | None = None, account: str | None = None
) -> CostModel:
    """The backtester's cost model charging each traded symbol its realised shortfall.

    The realised shortfall already contains the spread and the impact the orders met, so for symbols with
    reports the model's own impact term would count impact twice: the returned model keeps ``base``'s spread
    for symbols without history and sets the impact coefficient to zero. Pass ``base`` to keep its commission.
    """
    from bot.backtest.costs import CostModel

    base = base or CostModel()
    overrides = {**dict(base.spread_overrides), **realised_spread_overrides(execution_costs(store, account))}
    return CostModel(
        spread_bps=base.spread_bps,
        spread_overrides=overrides,
        impact_coefficient=0.0,
        commission=base.commission,
    )
