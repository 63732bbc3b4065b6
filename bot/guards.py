"""Hard limits and the approval policy: what may be sent, and what must wait for a person.

Limits hold whatever the plan says: a plan whose orders break the per-order, per-plan or per-day notional
limit is refused outright (approved or not). The approval policy decides which plans wait for a human.
Both are pure functions of the plan, the config and a few numbers, so they are tested without a broker.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.config import ApprovalConfig, LimitsConfig
from strategies.plan import RebalancePlan


@dataclass(frozen=True)
class GuardVerdict:
    allowed: bool
    reasons: tuple[str, ...] = ()


def check_limits(plan: RebalancePlan, limits: LimitsConfig, traded_today: Decimal) -> GuardVerdict:
    """Refuse a plan that breaks any hard limit; name every limit it breaks."""
    reasons = []
    for order in plan.orders:
        if order.est_notional > limits.max_order_notional:
            reasons.append(
                f"order {order.side.value} {order.symbol} ~${order.est_notional:,.2f} exceeds "
                f"limits.max_order_notional ${limits.max_order_notional:,.2f}"
            )
    if plan.gross_notional > limits.max_plan_notional:
        reasons.append(
            f"plan ~${plan.gross_notional:,.2f} exceeds limits.max_plan_notional "
            f"${limits.max_plan_notional:,.2f}"
        )
    if traded_today + plan.gross_notional > limits.max_daily_notional:
        reasons.append(
            f"plan ~${plan.gross_notional:,.2f} on top of ${traded_today:,.2f} already traded today exceeds "
            f"limits.max_daily_notional ${limits.max_daily_notional:,.2f}"
        )
    return GuardVerdict(not reasons, tuple(reasons))


def needs_approval(
    plan: RebalancePlan, approval: ApprovalConfig, manual_account: bool = False
) -> GuardVerdict:
    """Whether a person must approve the plan first (``allowed`` = True means: it waits)."""
    if approval.mode == "never" and not manual_account:
        return GuardVerdict(False)
    if approval.mode == "always":
        return GuardVerdict(True, ("approval.mode is always",))
    reasons = []
    if manual_account:
        reasons.append("the account is marked manual")
    if approval.max_plan_notional is not None and plan.gross_notional > approval.max_plan_notional:
        reasons.append(
            f"plan ~${plan.gross_notional:,.2f} exceeds approval.max_plan_notional "
            f"${approval.max_plan_notional:,.2f}"
        )
    if approval.max_plan_fraction is not None and plan.equity > 0:
        share = plan.gross_notional / plan.equity
        if share > approval.max_plan_fraction:
            reasons.append(
                f"plan is {share:.1%} of the portfolio, above approval.max_plan_fraction "
                f"{approval.max_plan_fraction:.1%}"
            )
    return GuardVerdict(bool(reasons), tuple(reasons))
