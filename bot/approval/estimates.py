"""What a plan is expected to cost: half the bid-ask spread on every order, and the tax its sells realise.

Pure arithmetic on the plan and the account as read in the same cycle. Without a ``tax`` section the tax
estimate takes the position's average cost as the basis (the broker's ``avg_entry_price``) and a flat rate
on gains; losses are reported (a sale at a loss realises one) but do not offset the tax here. With one, the
cycle stores the tax-aware planner's own per-lot estimate instead (``bot.tax.annotate``). Either way it is
saved with the plan, and everything showing a plan's tax reads it back with :meth:`PlanEstimates.stored`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from strategies.plan import RebalancePlan
from strategies.portfolio import Side

ZERO = Decimal(0)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class PlanEstimates:
    spread_cost: Decimal
    """USD: half the quoted spread on every order's estimated size."""
    realised_gain: Decimal
    """USD of gains the sells realise at their estimated prices (above the average cost)."""
    realised_loss: Decimal
    """USD of losses the sells realise (positive number)."""
    tax: Decimal
    """``realised_gain`` times the tax rate."""

    def as_dict(self) -> dict[str, str]:
        return {
            "spread_cost": str(self.spread_cost),
            "realised_gain": str(self.realised_gain),
            "realised_loss": str(self.realised_loss),
            "tax": str(self.tax),
        }

    @classmethod
    def stored(cls, details: Mapping) -> PlanEstimates | None:
        """The estimates saved with a plan (``details['estimates']``), or None for a plan without them.

        Everything that shows a stored plan's cost or tax (the prompt, the dashboard, ``approvals``,
        ``rebalance-bot taxes``) reads them here: one figure per plan, the one the approval policy judged
        and, with a ``tax`` section, the tax-aware planner's own estimate."""
        saved = details.get("estimates") or {}
        if "tax" not in saved:
            return None
        return cls(
            spread_cost=Decimal(saved.get("spread_cost", "0")),
            realised_gain=Decimal(saved.get("realised_gain", "0")),
            realised_loss=Decimal(saved.get("realised_loss", "0")),
            tax=Decimal(saved["tax"]),
        )


def estimate(
    plan: RebalancePlan,
    avg_costs: Mapping[str, Decimal],
    spreads: Mapping[str, tuple[Decimal, Decimal]],
    tax_rate: Decimal,
) -> PlanEstimates:
    """``avg_costs``: average cost per share by symbol; ``spreads``: (bid, ask) by symbol."""
    cost = gain = loss = ZERO
    for order in plan.orders:
        bid, ask = spreads.get(order.symbol, (ZERO, ZERO))
        if bid > 0 and ask > bid:
            mid = (bid + ask) / 2
            cost += order.est_notional * (ask - bid) / 2 / mid
        if order.side is Side.SELL and order.symbol in avg_costs and order.est_price > 0:
            qty = order.qty if order.qty is not None else (order.notional or ZERO) / order.est_price
            result = qty * (order.est_price - avg_costs[order.symbol])
            if result > 0:
                gain += result
            else:
                loss -= result
    return PlanEstimates(
        spread_cost=cost.quantize(CENT),
        realised_gain=gain.quantize(CENT),
        realised_loss=loss.quantize(CENT),
        tax=(gain * tax_rate).quantize(CENT),
    )
