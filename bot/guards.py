"""Hard limits: what may be sent at all.

Limits hold whatever the plan says: a plan whose orders break the per-order, per-plan or per-day notional
limit is refused outright (approved or not). Which plans wait for a person is the approval policy's
(:mod:`bot.approval.policy`). A pure function of the plan, the config and a few numbers, tested without a
broker.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.config import LimitsConfig
from strategies.plan import RebalancePlan


@dataclass(frozen=True)
class GuardVerdict:
    allowed: bool
    reasons: tuple[str, ...] = ()
    needed: tuple[tuple[str, Decimal], ...] = ()
    """For a refusal by hard limits: (setting, the least value that would let the plan through), so the
    person can be told which setting to change and to what."""


def check_limits(plan: RebalancePlan, limits: LimitsConfig, traded_today: Decimal) -> GuardVerdict:
    """Refuse a plan that breaks any hard limit; name every limit it breaks."""
    reasons = []
    needed: list[tuple[str, Decimal]] = []
    for order in plan.orders:
        if order.est_notional > limits.max_order_notional:
            reasons.append(
                f"order {order.side.value} {order.symbol} ~${order.est_notional:,.2f} exceeds "
                f"limits.max_order_notional ${limits.max_order_notional:,.2f}"
            )
    largest = max((o.est_notional for o in plan.orders), default=Decimal(0))
    if largest > limits.max_order_notional:
        needed.append(("limits.max_order_notional", largest))
    if plan.gross_notional > limits.max_plan_notional:
        reasons.append(
            f"plan ~${plan.gross_notional:,.2f} exceeds limits.max_plan_notional "
            f"${limits.max_plan_notional:,.2f}"
        )
        needed.append(("limits.max_plan_notional", plan.gross_notional))
    if traded_today + plan.gross_notional > limits.max_daily_notional:
        reasons.append(
            f"plan ~${plan.gross_notional:,.2f} on top of ${traded_today:,.2f} already traded today exceeds "
            f"limits.max_daily_notional ${limits.max_daily_notional:,.2f}"
        )
        needed.append(("limits.max_daily_notional", traded_today + plan.gross_notional))
    return GuardVerdict(not reasons, tuple(reasons), tuple(needed))
