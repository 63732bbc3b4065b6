"""Deposits and withdrawals: invest new cash where the targets need it, raise cash where they have too much.

After a deposit, cash sits above its goal (its target, never below the planner's cash buffer); after a
withdrawal it may sit below. :class:`CashFlowTrigger` marks what has to move and :func:`plan_cash_flow` turns
it into a plan with the ordinary planner, so a cash flow is sized, rounded and explained like any rebalance:

* cash above its goal: cash is the breached row and nothing else is; the planner spreads the excess over the
  underweight assets in proportion to their shortfall, and sells nothing;
* cash below its goal: the overweight assets are the breached rows, and each sells the same fraction of its
  excess over target, the fraction that raises exactly the missing cash (all of the excess at most), so a
  withdrawal comes out of what is overweight and nothing is bought. The planner rounds share quantities
  down; when that leaves the withdrawal short (whole shares), sells are rounded up, most overweight first,
  until it is covered: a withdrawal must be paid.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, Decimal

from strategies.bands import BandPolicy
from strategies.formatting import pct
from strategies.money import CENT, QTY_STEP, WHOLE, to_cents
from strategies.plan import PlannedOrder, RebalancePlan
from strategies.planner import PlannerSettings, TradeTo, plan_rebalance
from strategies.portfolio import (
    PortfolioSnapshot,
    Side,
    apply_open_orders,
    drift,
    open_sides,
    order_price,
    sellable_quantity,
    total_equity,
)
from strategies.targets import CASH, ONE, ZERO, TargetAllocation
from strategies.triggers import NO_CONTEXT, AssetCheck, TriggerContext, TriggerDecision


@dataclass(frozen=True)
class CashFlowTrigger:
    """Fires when cash is away from its goal, ``max(target cash, cash_floor)``; see the module docstring."""

    cash_floor: Decimal = ZERO

    def evaluate(
        self, snapshot: PortfolioSnapshot, targets: TargetAllocation, context: TriggerContext = NO_CONTEXT
    ) -> TriggerDecision:
        projected = apply_open_orders(snapshot)
        if total_equity(projected) <= 0:
            return TriggerDecision("cash flow", False, "portfolio has no equity; nothing to invest")
        rows = drift(projected, targets)
        goal = max(targets.cash, self.cash_floor)
        gap = rows[CASH].weight - goal
        if gap > 0:
            breached = {CASH}
            reason = (
                f"cash {pct(rows[CASH].weight)} above its goal {pct(goal)}: invest it in underweight assets"
            )
        elif gap < 0:
            breached = {s for s, row in rows.items() if s != CASH and row.absolute > 0}
            reason = (
                f"cash {pct(rows[CASH].weight)} below its goal {pct(goal)}: raise it from overweight assets"
            )
        else:
            breached = set()
            reason = f"cash is at its goal {pct(goal)}"
        checks = tuple(
            AssetCheck(s, r.weight, r.target, r.absolute, r.relative, None, s in breached)
            for s, r in rows.items()
        )
        return TriggerDecision("cash flow", bool(breached), reason, checks)


def cash_flow_settings(decision: TriggerDecision, settings: PlannerSettings) -> PlannerSettings:
    """Planner settings that move exactly the cash in ``decision``: all of an excess to target, or the share
    of every overweight asset's excess that covers a shortfall (``TradeTo.PARTIAL`` with that fraction)."""
    cash = decision.asset(CASH)
    if cash is None or not decision.fired or cash.breached:
        return replace(settings, trade_to=TradeTo.TARGET)
    overweight = sum((row.drift for row in decision.breached if row.symbol != CASH), start=ZERO)
    missing = max(cash.target, settings.cash_buffer) - cash.weight
    if overweight <= 0 or missing <= 0:
        return replace(settings, trade_to=TradeTo.TARGET)
    return replace(settings, trade_to=TradeTo.PARTIAL, partial_fraction=min(ONE, missing / overweight))


def plan_cash_flow(
    snapshot: PortfolioSnapshot,
    targets: TargetAllocation,
    bands: BandPolicy,
    settings: PlannerSettings = PlannerSettings(),
    context: TriggerContext = NO_CONTEXT,
) -> RebalancePlan:
    """The plan that brings cash back to its goal after a deposit or withdrawal (empty when it is there)."""
    decision = CashFlowTrigger(cash_floor=settings.cash_buffer).evaluate(snapshot, targets, context)
    plan = plan_rebalance(snapshot, targets, bands, cash_flow_settings(decision, settings), decision)
    return _cover_withdrawal(plan, snapshot, settings)


def _cover_withdrawal(
    plan: RebalancePlan, snapshot: PortfolioSnapshot, settings: PlannerSettings
) -> RebalancePlan:
    """Round sells up (most overweight first) when rounding down left the plan's cash below zero."""
    short = -plan.cash_after
    if short < CENT or not plan.decision.fired or any(o.side is Side.BUY for o in plan.orders):
        return plan
    orders = {o.symbol: o for o in plan.orders}
    for row in sorted(plan.decision.breached, key=lambda r: r.drift, reverse=True):
        symbol = row.symbol
        if short <= 0 or symbol == CASH or Side.BUY in open_sides(snapshot).get(symbol, frozenset()):
            continue
        planned = orders.get(symbol)
        held = planned.qty if planned is not None and planned.qty is not None else ZERO
        price = order_price(snapshot, symbol, Side.SELL)
        step = QTY_STEP if settings.fractional and snapshot.is_fractionable(symbol) else WHOLE
        extra = min(
            (short / price / step).to_integral_value(ROUND_CEILING) * step,
            sellable_quantity(snapshot, symbol) - held,
        )
        if extra <= 0:
            continue
        qty = held + extra
        reason = planned.reason if planned is not None else row.describe()
        orders[symbol] = PlannedOrder(
            symbol,
            Side.SELL,
            qty,
            None,
            price,
            to_cents(qty * price),
            f"{reason}; rounded up to cover the withdrawal",
        )
        short -= to_cents(qty * price) - (planned.est_notional if planned is not None else ZERO)
    sells = tuple(orders[s] for s in sorted(orders))
    proceeds = sum((o.est_notional for o in sells), start=ZERO) - plan.sell_notional
    cash_after = plan.cash_after + proceeds
    projected = apply_open_orders(snapshot)
    values = {s: projected.quantity(s) * projected.prices[s] for s in projected.held_symbols()}
    for order in sells:
        values[order.symbol] = (
            values.get(order.symbol, ZERO) - (order.qty or ZERO) * projected.prices[order.symbol]
        )
    equity = cash_after + sum(values.values(), start=ZERO)
    weights = {s: v / equity for s, v in sorted(values.items()) if v > 0}
    weights[CASH] = cash_after / equity
    skipped = tuple(s for s in plan.skipped if s.symbol not in orders)
    return replace(plan, orders=sells, skipped=skipped, weights_after=weights, cash_after=cash_after)
