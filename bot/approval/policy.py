"""Which plans wait for a person, and why: a pure function of the plan, the config and a few facts.

Modes: ``never`` (nothing waits, except on a manual account), ``always`` (everything waits) and ``policy``:
a plan waits when ANY rule below applies, and every rule that applies is named, so the prompt and the log can
say why a person is asked.

- the plan's buys plus sells exceed ``max_plan_notional``, or ``max_plan_fraction`` of the portfolio;
- one order exceeds ``max_order_notional``;
- the estimated tax its sells would realise exceeds ``max_estimated_tax``;
- it harvests losses (``on_harvest``) or swaps one security for another (``on_swap``);
- the account is marked manual;
- it would be the account's first executed plan (``first_plan``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.config import ApprovalConfig
from strategies.plan import RebalancePlan


@dataclass(frozen=True)
class PlanFacts:
    """What the policy needs to know beyond the plan and the config (the caller looks it up)."""

    manual_account: bool = False
    first_plan: bool = False
    """No plan of this account has ever been executed."""
    estimated_tax: Decimal | None = None
    """USD of tax the plan's sells would realise (None: unknown)."""
    harvests_losses: bool = False
    swaps_securities: bool = False


@dataclass(frozen=True)
class ApprovalVerdict:
    required: bool
    reasons: tuple[str, ...] = ()


def approval_required(
    plan: RebalancePlan, config: ApprovalConfig, facts: PlanFacts = PlanFacts()
) -> ApprovalVerdict:
    """Whether a person must approve ``plan`` before anything is sent, with every reason that applies."""
    if config.mode == "never":
        if facts.manual_account:
            return ApprovalVerdict(True, ("the account is marked manual",))
        return ApprovalVerdict(False)
    if config.mode == "always":
        return ApprovalVerdict(True, ("approval.mode is always",))
    reasons: list[str] = []
    if facts.manual_account:
        reasons.append("the account is marked manual")
    if config.first_plan and facts.first_plan:
        reasons.append("it is the account's first plan (approval.first_plan)")
    if config.max_plan_notional is not None and plan.gross_notional > config.max_plan_notional:
        reasons.append(
            f"plan ~${plan.gross_notional:,.2f} exceeds approval.max_plan_notional "
            f"${config.max_plan_notional:,.2f}"
        )
    if config.max_plan_fraction is not None and plan.equity > 0:
        share = plan.gross_notional / plan.equity
        if share > config.max_plan_fraction:
            reasons.append(
                f"plan is {share:.1%} of the portfolio, above approval.max_plan_fraction "
                f"{config.max_plan_fraction:.1%}"
            )
    if config.max_order_notional is not None:
        for order in plan.orders:
            if order.est_notional > config.max_order_notional:
                reasons.append(
                    f"order {order.side.value} {order.symbol} ~${order.est_notional:,.2f} exceeds "
                    f"approval.max_order_notional ${config.max_order_notional:,.2f}"
                )
    if (
        config.max_estimated_tax is not None
        and facts.estimated_tax is not None
        and facts.estimated_tax > config.max_estimated_tax
    ):
        reasons.append(
            f"estimated tax ~${facts.estimated_tax:,.2f} exceeds approval.max_estimated_tax "
            f"${config.max_estimated_tax:,.2f}"
        )
    if config.on_harvest and facts.harvests_losses:
        reasons.append("the plan harvests losses (approval.on_harvest)")
    if config.on_swap and facts.swaps_securities:
        reasons.append("the plan swaps securities (approval.on_swap)")
    return ApprovalVerdict(bool(reasons), tuple(reasons))
