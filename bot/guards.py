"""Hard limits and the approval policy: what may be sent, and what must wait for a person.

Limits hold whatever the plan says: a plan whose orders break the per-order, per-plan or per-day notional
limit is refused outright (approved or not). The approval policy decides which plans wait for a human.
Both are pure functions of the plan, the config and a few numbers, so they are tested without a broker.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.approval.policy import PlanFacts, approval_required
from bot.config import ApprovalConfig, LimitsConfig
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


def needs_approval(
    plan: RebalancePlan, approval: ApprovalConfig, manual_account: bool = False
) -> GuardVerdict:
    """Whether a person must approve the plan first (``allowed`` = True means: it waits). The size and
    manual-account rules only; the bot uses :func:`bot.approval.policy.approval_required` with all facts."""
    verdict = approval_required(plan, approval, PlanFacts(manual_account=manual_account))
    return GuardVerdict(verdict.required, verdict.reasons)
