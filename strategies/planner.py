"""Turn a trigger decision into concrete orders: the rebalancing arithmetic, and nothing else.

The plan is built in four steps, each a small function:

1. **Goals** for breaching assets: the market value each should end at, by ``trade_to`` (all the way to
   target, to just inside the band edge it breached, or a fraction of the way back).
2. **Excess cash** above the cash goal (the cash target, or cash's own band goal when cash breached; never
   below the cash buffer) is invested in the most underweight assets first (:func:`water_fill`, the rule of
   the cash-flow allocator ``strategies.cashflows``), so that sale proceeds and deposits are invested
   rather than left idle, and the worst drift is fixed first.
3. **Sells** are sized first (whole shares or 9-decimal quantities, never more than is held and free), because
   their estimated proceeds are what the buys may spend.
4. **Buys** share the cash above the buffer; when it is short, every buy is scaled down pro rata. Fractional
   assets are bought by notional, others in whole shares (rounded down).

Trades below ``min_trade_notional`` and trades against a working order on the same symbol are skipped with
the reason recorded. Decisions are taken on the snapshot with open orders applied, so an order already
working counts as done. Everything is ``Decimal``; there is no I/O and no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from strategies.bands import BandPolicy
from strategies.formatting import pct, usd
from strategies.money import as_decimal, floor_cents, floor_quantity, to_cents
from strategies.plan import PlannedOrder, RebalancePlan, SkippedTrade
from strategies.portfolio import (
    PortfolioSnapshot,
    Side,
    apply_open_orders,
    current_weights,
    open_sides,
    order_price,
    sellable_quantity,
    total_equity,
)
from strategies.targets import CASH, ONE, ZERO, TargetAllocation
from strategies.triggers import AssetCheck, BandTrigger, TriggerDecision

BAND_EDGE_INSET = Decimal("0.0001")
"""``band_edge`` aims this far (1 basis point of weight) inside the edge, so rounding to cents and shares
cannot leave the asset a hair outside its band and make the trigger fire again on the next poll."""


class TradeTo(StrEnum):
    """How far a breaching asset is traded back."""

    TARGET = "target"
    BAND_EDGE = "band_edge"
    PARTIAL = "partial"


@dataclass(frozen=True)
class PlannerSettings:
    """Execution-side knobs of the planner (the bot builds this from ``bands`` and ``execution`` config)."""

    trade_to: TradeTo = TradeTo.TARGET
    partial_fraction: Decimal = Decimal("0.5")
    min_trade_notional: Decimal = Decimal("10")
    cash_buffer: Decimal = Decimal("0.005")
    """Fraction of equity that always stays in cash: buys never spend it."""
    fractional: bool = True
    """Allow fractional orders at all (each symbol must also be fractionable in the snapshot)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "trade_to", TradeTo(self.trade_to))
        for name in ("partial_fraction", "min_trade_notional", "cash_buffer"):
            object.__setattr__(self, name, as_decimal(getattr(self, name)))
        if not ZERO < self.partial_fraction <= ONE:
            raise ValueError(f"partial_fraction must be in (0, 1], got {self.partial_fraction}")
        if self.min_trade_notional < 0:
            raise ValueError(f"min_trade_notional must not be negative, got {self.min_trade_notional}")
        if not ZERO <= self.cash_buffer < ONE:
            raise ValueError(f"cash_buffer must be in [0, 1), got {self.cash_buffer}")


@dataclass(frozen=True)
class Fill:
    """A water-filling: how much each asset gets and the common gap ``level`` the filled ones are left at."""

    amounts: Mapping[str, Decimal]
    level: Decimal


def water_fill(gaps: Mapping[str, Decimal], budget: Decimal) -> Fill:
    """Spend ``budget`` on the largest positive gaps first, leaving every funded one at the same gap.

    The allocation rule of every cash flow (``strategies.cashflows``) and of the cash a rebalance leaves:
    with gaps to target (shortfalls for money in, excesses for money out), the most-off assets move first.
    With the gaps sorted largest first, funding the top ``k`` to a common level ``L`` costs
    ``sum(top k) - k L``; the right ``k`` is the first whose ``L`` is not below the next gap. A budget above
    the sum of the gaps closes them all (level 0) and the rest is left over.
    """
    positive = sorted(((g, s) for s, g in gaps.items() if g > 0), reverse=True)
    total = sum((g for g, _ in positive), start=ZERO)
    if budget <= 0 or not positive:
        return Fill({}, max(positive[0][0], ZERO) if positive else ZERO)
    if budget >= total:
        return Fill({s: g for g, s in positive}, ZERO)
    running = ZERO
    level = ZERO
    for k, (gap, _) in enumerate(positive, start=1):
        running += gap
        level = (running - budget) / k
        following = positive[k][0] if k < len(positive) else ZERO
        if level >= following:
            break
    return Fill({s: g - level for g, s in positive if g > level}, level)


@dataclass(frozen=True)
class _Goal:
    """The market value a symbol should end at, and the human reason for it."""

    value: Decimal
    reason: str


def plan_rebalance(
    snapshot: PortfolioSnapshot,
    targets: TargetAllocation,
    bands: BandPolicy,
    settings: PlannerSettings = PlannerSettings(),
    decision: TriggerDecision | None = None,
) -> RebalancePlan:
    """Plan the orders that bring the portfolio back inside its bands.

    ``decision`` is the trigger decision to act on; when omitted, the band trigger is evaluated with
    ``bands`` (and ``settings.cash_buffer`` as the cash floor). A decision that did not fire gives an empty
    plan. Pass the decision of a composite trigger to trade the assets it marked as breached.
    """
    if decision is None:
        decision = BandTrigger(bands, cash_floor=settings.cash_buffer).evaluate(snapshot, targets)
    projected = apply_open_orders(snapshot)
    equity = total_equity(projected)
    if equity <= 0:
        return RebalancePlan(decision, equity, cash_after=projected.cash)
    before = current_weights(projected)
    if not decision.fired:
        return RebalancePlan(
            decision, equity, weights_before=before, weights_after=before, cash_after=projected.cash
        )

    values = _market_values(projected, decision)
    goals = _breach_goals(decision, equity, settings)
    if not _decides_goals(decision):  # the objective already placed cash and funding in its goals
        goals = _deploy_excess_cash(goals, decision, values, projected.cash, equity, settings)
        goals = _fund_buys_from_overweight(goals, decision, values, projected.cash, equity, settings)
    sells, sell_skips = _size_sells(snapshot, goals, values, settings)
    proceeds = sum((o.est_notional for o in sells), start=ZERO)
    spendable = projected.cash + proceeds - settings.cash_buffer * equity
    buys, buy_skips = _size_buys(snapshot, goals, values, spendable, settings)
    cash_after = projected.cash + proceeds - sum((o.est_notional for o in buys), start=ZERO)
    orders = (*sells, *buys)
    return RebalancePlan(
        decision=decision,
        equity=equity,
        orders=orders,
        skipped=(*sell_skips, *buy_skips),
        weights_before=before,
        weights_after=weights_after(projected, orders, cash_after),
        cash_after=cash_after,
    )


def _market_values(projected: PortfolioSnapshot, decision: TriggerDecision) -> dict[str, Decimal]:
    """Current value of every asset in the decision (0 for targeted assets not held)."""
    values = {}
    for row in decision.assets:
        if row.symbol != CASH:
            price = projected.prices.get(row.symbol, ZERO)
            values[row.symbol] = projected.quantity(row.symbol) * price
    return values


def _decides_goals(decision: TriggerDecision) -> bool:
    """True when the trigger said where each asset should end (the objective), not only which breached."""
    return any(row.goal is not None for row in decision.assets)


def _goal_weight(row: AssetCheck, settings: PlannerSettings) -> Decimal:
    """The weight a breaching row is traded back to: the trigger's goal when it gave one, else by
    ``trade_to``."""
    if row.goal is not None:
        return row.goal
    if settings.trade_to is TradeTo.PARTIAL:
        return row.weight + settings.partial_fraction * (row.target - row.weight)
    if settings.trade_to is TradeTo.BAND_EDGE and row.band is not None:
        inside = max(row.band - BAND_EDGE_INSET, ZERO)
        edge = row.target + inside if row.drift > 0 else row.target - inside
        return max(edge, ZERO)
    return row.target


def _goal_phrase(settings: PlannerSettings, row: AssetCheck) -> str:
    if row.goal is not None:
        return f"trade to {pct(row.goal)}, where the objective is lowest"
    if settings.trade_to is TradeTo.PARTIAL:
        return f"trade {pct(settings.partial_fraction)} of the way back to target"
    if settings.trade_to is TradeTo.BAND_EDGE:
        return "trade back to just inside the band edge"
    return "trade back to target"


def _breach_goals(decision: TriggerDecision, equity: Decimal, settings: PlannerSettings) -> dict[str, _Goal]:
    """Step 1: the value each breaching (non-cash) asset should end at."""
    return {
        row.symbol: _Goal(
            _goal_weight(row, settings) * equity, f"{row.describe()}: {_goal_phrase(settings, row)}"
        )
        for row in decision.breached
        if row.symbol != CASH
    }


def _cash_goal_weight(decision: TriggerDecision, settings: PlannerSettings) -> Decimal:
    """Cash to keep: its band goal when cash itself breached, else its target; never below the buffer."""
    row = decision.asset(CASH)
    if row is None:
        return settings.cash_buffer
    goal = _goal_weight(row, settings) if row.breached else row.target
    return max(goal, settings.cash_buffer)


def _deploy_excess_cash(
    goals: dict[str, _Goal],
    decision: TriggerDecision,
    values: Mapping[str, Decimal],
    cash: Decimal,
    equity: Decimal,
    settings: PlannerSettings,
) -> dict[str, _Goal]:
    """Step 2: invest cash above the cash goal in the most underweight assets first (:func:`water_fill`)."""
    cash_after_goals = cash + sum((values[s] - g.value for s, g in goals.items()), start=ZERO)
    excess = cash_after_goals - _cash_goal_weight(decision, settings) * equity
    if excess <= 0:
        return goals
    rows = {row.symbol: row for row in decision.assets}
    current = {s: goals[s].value if s in goals else v for s, v in values.items()}
    shortfalls = {
        row.symbol: row.target * equity - current[row.symbol] for row in decision.assets if row.symbol != CASH
    }
    deployed = dict(goals)
    for symbol, amount in water_fill(shortfalls, excess).amounts.items():
        note = f"invest {usd(amount)} of excess cash toward target, most underweight first"
        reason = (
            f"{goals[symbol].reason}; {note}" if symbol in goals else f"{rows[symbol].describe()}: {note}"
        )
        deployed[symbol] = _Goal(current[symbol] + amount, reason)
    return deployed


def _fund_buys_from_overweight(
    goals: dict[str, _Goal],
    decision: TriggerDecision,
    values: Mapping[str, Decimal],
    cash: Decimal,
    equity: Decimal,
    settings: PlannerSettings,
) -> dict[str, _Goal]:
    """Step 2b: when cash and the breaching sells cannot pay for the breaching buys, sell assets that are
    overweight but still inside their bands, most overweight first (:func:`water_fill`), at most down to
    their targets.

    Without it a 60/40 portfolio whose bonds breach low while stocks are 4.9 pp high (inside a 5 pp band)
    could never be fixed: nothing is sold, so nothing can be bought, and the drift stays.
    """
    need = sum((g.value - values[s] for s, g in goals.items() if g.value > values[s]), start=ZERO)
    freed = sum((values[s] - g.value for s, g in goals.items() if g.value < values[s]), start=ZERO)
    shortfall = need - (cash + freed - settings.cash_buffer * equity)
    if shortfall <= 0:
        return goals
    rows = {row.symbol: row for row in decision.assets}
    excess = {
        row.symbol: values[row.symbol] - row.target * equity
        for row in decision.assets
        if row.symbol != CASH and row.symbol not in goals
    }
    funded = dict(goals)
    for symbol, take in water_fill(excess, shortfall).amounts.items():
        note = f"overweight inside its band; sell {usd(take)} toward target to fund the breaching buys"
        funded[symbol] = _Goal(values[symbol] - take, f"{rows[symbol].describe()}: {note}")
    return funded


def _size_sells(
    snapshot: PortfolioSnapshot,
    goals: Mapping[str, _Goal],
    values: Mapping[str, Decimal],
    settings: PlannerSettings,
) -> tuple[list[PlannedOrder], list[SkippedTrade]]:
    """Step 3: one sell per symbol whose goal is below its value, sized in shares."""
    orders: list[PlannedOrder] = []
    skipped: list[SkippedTrade] = []
    for symbol in sorted(goals):
        amount = values[symbol] - goals[symbol].value
        if amount > 0:
            result = _size_sell(snapshot, symbol, amount, goals[symbol], settings)
            (orders if isinstance(result, PlannedOrder) else skipped).append(result)
    return orders, skipped


def _size_sell(
    snapshot: PortfolioSnapshot, symbol: str, amount: Decimal, goal: _Goal, settings: PlannerSettings
) -> PlannedOrder | SkippedTrade:
    if Side.BUY in open_sides(snapshot).get(symbol, frozenset()):
        return SkippedTrade(
            symbol,
            f"sell of ~{usd(amount)} wanted, but a buy order on {symbol} is still open; "
            "never trading against an open order",
        )
    sellable = sellable_quantity(snapshot, symbol)
    if sellable <= 0:
        return SkippedTrade(
            symbol, f"sell of ~{usd(amount)} wanted, but all shares are committed to open orders"
        )
    price = order_price(snapshot, symbol, Side.SELL)
    reason = goal.reason
    if goal.value <= 0:
        qty, reason = sellable, f"{reason}; sell the whole position"
    else:
        qty = min(
            floor_quantity(amount / price, fractional=_fractional(snapshot, symbol, settings)), sellable
        )
    if qty <= 0:
        return SkippedTrade(
            symbol,
            f"sell of ~{usd(amount)} is less than one share at {usd(price)} "
            f"and {symbol} is traded in whole shares only",
        )
    est = to_cents(qty * price)
    if est < settings.min_trade_notional:
        return SkippedTrade(
            symbol, f"sell of ~{usd(est)} is below min_trade_notional {usd(settings.min_trade_notional)}"
        )
    return PlannedOrder(symbol, Side.SELL, qty, None, price, est, reason)


def _size_buys(
    snapshot: PortfolioSnapshot,
    goals: Mapping[str, _Goal],
    values: Mapping[str, Decimal],
    spendable: Decimal,
    settings: PlannerSettings,
) -> tuple[list[PlannedOrder], list[SkippedTrade]]:
    """Step 4: buys for symbols whose goal is above their value, scaled pro rata if cash is short."""
    skipped: list[SkippedTrade] = []
    wanted: dict[str, Decimal] = {}
    for symbol in sorted(goals):
        amount = goals[symbol].value - values[symbol]
        if amount <= 0:
            continue
        if Side.SELL in open_sides(snapshot).get(symbol, frozenset()):
            skipped.append(
                SkippedTrade(
                    symbol,
                    f"buy of ~{usd(amount)} wanted, but a sell order on {symbol} is "
                    "still open; never trading against an open order",
                )
            )
        elif symbol not in snapshot.prices:
            skipped.append(
                SkippedTrade(symbol, f"buy of ~{usd(amount)} wanted, but there is no price for {symbol}")
            )
        else:
            wanted[symbol] = amount
    total = sum(wanted.values(), start=ZERO)
    scale = ONE if total == ZERO or total <= spendable else max(spendable, ZERO) / total
    orders: list[PlannedOrder] = []
    for symbol, amount in wanted.items():
        reason = goals[symbol].reason
        if scale < ONE:
            reason += f"; scaled to {pct(scale)} of {usd(amount)} because cash above the buffer is short"
        result = _size_buy(snapshot, symbol, amount * scale, reason, settings)
        (orders if isinstance(result, PlannedOrder) else skipped).append(result)
    return orders, skipped


def _size_buy(
    snapshot: PortfolioSnapshot, symbol: str, spend: Decimal, reason: str, settings: PlannerSettings
) -> PlannedOrder | SkippedTrade:
    price = order_price(snapshot, symbol, Side.BUY)
    if _fractional(snapshot, symbol, settings):
        notional = floor_cents(spend)
        order = PlannedOrder(symbol, Side.BUY, None, notional, price, notional, reason)
    else:
        qty = floor_quantity(spend / price, fractional=False)
        if qty <= 0:
            return SkippedTrade(
                symbol,
                f"buy of ~{usd(spend)} is less than one share at {usd(price)} "
                f"and {symbol} is traded in whole shares only",
            )
        order = PlannedOrder(symbol, Side.BUY, qty, None, price, to_cents(qty * price), reason)
    if order.est_notional < settings.min_trade_notional:
        return SkippedTrade(
            symbol,
            f"buy of ~{usd(order.est_notional)} is below min_trade_notional "
            f"{usd(settings.min_trade_notional)}; {reason}",
        )
    return order


def _fractional(snapshot: PortfolioSnapshot, symbol: str, settings: PlannerSettings) -> bool:
    return settings.fractional and snapshot.is_fractionable(symbol)


def weights_after(
    projected: PortfolioSnapshot, orders: Sequence[PlannedOrder], cash_after: Decimal
) -> dict[str, Decimal]:
    """Expected weights (at mid prices) once every order fills at its estimated price: the one definition
    of a plan's ``weights_after`` (the planner, the cash-flow plan and the tax-aware plan)."""
    quantities = dict(projected.positions)
    for order in orders:
        qty = order.qty if order.qty is not None else (order.notional or ZERO) / order.est_price
        signed = qty if order.side is Side.BUY else -qty
        quantities[order.symbol] = quantities.get(order.symbol, ZERO) + signed
    values = {s: q * projected.prices[s] for s, q in quantities.items() if q > 0}
    equity = cash_after + sum(values.values(), start=ZERO)
    weights = {s: v / equity for s, v in sorted(values.items())}
    weights[CASH] = cash_after / equity
    return weights
