"""The simulation loop: replay daily closes through the live bot's decision code.

Conventions (the README's "Backtesting" section says the same):

* **Time.** One step per session, at the close. Everything that happens on a session happens at its close
  price: dividends with that ex-date are credited (``cash`` mode), then the scheduled deposit or withdrawal,
  then, on a check date, the policy's decision and its trades. Trades fill at that same close (see
  ``bot/backtest/costs.py`` for what they cost). The first session invests the starting cash at target.
* **Decisions.** Every order comes from ``strategies.planner.plan_rebalance``, given a ``PortfolioSnapshot``
  built as ``bot/snapshot.build_snapshot`` builds it from the broker (mid prices from bid/ask quotes, share
  quantities and cash as ``Decimal``), and the policy's trigger evaluated on that snapshot. Cash flows are
  planned by ``strategies.cashflows.plan_cash_flow``, the one cash-flow allocator (most underweight bought
  first, most overweight sold first).
* **Vectorised in between.** Holdings only change on event sessions (the start, check dates, flow dates), so
  the path between two events (values, cash dividends) is computed with array arithmetic, and triggers run
  only on check dates.
* **Money.** Positions and cash are floats here; each plan is converted to ``Decimal`` on the way in, exactly
  as the live bot converts the broker's numbers, and its orders back to floats on the way out. Fractional
  buys are notional orders (the dollars are spent, the shares follow from the fill price), sells and
  whole-share buys are quantities. A buy that would spend more cash than there is (costs the planner did not
  foresee, with no cash buffer) is cut down to the cash available, as a broker would refuse it otherwise.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from datetime import time as clock_time
from enum import StrEnum
from zoneinfo import ZoneInfo

import numpy as np

from bot.backtest.costs import CostModel, Fill, fill
from bot.backtest.data import DividendMode, PriceHistory
from bot.backtest.policies import Policy
from strategies.cashflows import plan_cash_flow
from strategies.money import as_decimal
from strategies.plan import RebalancePlan
from strategies.planner import TradeTo, plan_rebalance
from strategies.portfolio import PortfolioSnapshot, Side
from strategies.schedules import CalendarTrigger, Period, Periodic, Schedule
from strategies.targets import TargetAllocation
from strategies.triggers import TriggerContext

NEW_YORK = ZoneInfo("America/New_York")
CLOSE = clock_time(16, 0)
CLIP_REPORT_THRESHOLD = 0.01
"""A buy cut down by more than a cent counts as clipped in the report (less is rounding of estimates)."""


class FlowsTo(StrEnum):
    """Where a deposit goes (and where a withdrawal comes from).

    ``underweight``: straight away into the most underweight assets first (out of the most overweight ones
    for a withdrawal), by the cash-flow allocator ``strategies.cashflows``. ``cash``: into cash, left for
    the policy's own trigger to invest (a withdrawal is taken from cash, and assets are sold only when cash
    runs out).
    """

    UNDERWEIGHT = "underweight"
    CASH = "cash"


@dataclass(frozen=True)
class CashFlows:
    """A scheduled deposit (positive ``amount``) or withdrawal (negative), e.g. $1,000 on each month's first
    session."""

    amount: float
    schedule: Schedule = Periodic(Period.MONTH)
    to: FlowsTo = FlowsTo.UNDERWEIGHT

    def __post_init__(self) -> None:
        object.__setattr__(self, "to", FlowsTo(self.to))
        if not math.isfinite(self.amount):
            raise ValueError("cash flow amount must be finite")


@dataclass(frozen=True)
class SimOptions:
    capital: float = 100_000.0
    dividends: DividendMode = DividendMode.REINVEST
    costs: CostModel = CostModel()
    flows: CashFlows | None = None
    keep_plans: bool = False
    """Keep every plan of every check date (default: only plans that traded)."""
    start: date | None = None
    """Invest and measure from the first session on or after this day; the sessions before it are history
    the policy may read (risk forecasts, a tracking target's refit), never traded or scored. None: from
    the history's first session, with no history before it."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "dividends", DividendMode(self.dividends))
        if not self.capital > 0:
            raise ValueError(f"capital must be positive, got {self.capital}")


class TradeKind(StrEnum):
    INITIAL = "initial"
    REBALANCE = "rebalance"
    FLOW = "flow"


@dataclass(frozen=True)
class Trade:
    day_index: int
    symbol: str
    side: Side
    qty: float
    price: float
    mid: float
    spread_cost: float
    impact_cost: float
    commission: float
    kind: TradeKind
    clipped: bool = False

    @property
    def notional(self) -> float:
        return self.qty * self.price

    @property
    def cost(self) -> float:
        return self.spread_cost + self.impact_cost + self.commission


@dataclass(frozen=True)
class PlanRecord:
    day_index: int
    kind: TradeKind
    plan: RebalancePlan
    snapshot: PortfolioSnapshot


@dataclass(eq=False)
class PolicyRun:
    """A policy's path: holdings at each close (after trades and before its rebalance), flows, costs."""

    policy: Policy
    history: PriceHistory
    targets: TargetAllocation
    options: SimOptions
    prices: np.ndarray
    positions: np.ndarray
    cash: np.ndarray
    pre_positions: np.ndarray
    pre_cash: np.ndarray
    flows: np.ndarray
    dividends: np.ndarray
    costs: np.ndarray
    trades: list[Trade] = field(default_factory=list)
    plans: list[PlanRecord] = field(default_factory=list)
    checks: int = 0
    fired: int = 0
    rebalance_days: list[int] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def name(self) -> str:
        return self.policy.name

    @property
    def equity(self) -> np.ndarray:
        """Cash plus positions at the close, after the session's trades."""
        return (self.positions * self.prices).sum(axis=1) + self.cash

    @property
    def pre_equity(self) -> np.ndarray:
        """The same before the policy's own trades (after the dividends, the cash flow and its trades)."""
        return (self.pre_positions * self.prices).sum(axis=1) + self.pre_cash

    def weights(self, pre: bool = False) -> np.ndarray:
        """Asset weights (sessions x symbols) in equity, before or after each session's trades."""
        positions, equity = (self.pre_positions, self.pre_equity) if pre else (self.positions, self.equity)
        return positions * self.prices / equity[:, None]

    def plan_on(self, day_index: int, kind: TradeKind = TradeKind.REBALANCE) -> PlanRecord | None:
        return next((p for p in self.plans if p.day_index == day_index and p.kind is kind), None)


def simulate(
    history: PriceHistory,
    targets: TargetAllocation,
    policy: Policy,
    options: SimOptions = SimOptions(),
    watch: Callable[[int], None] | None = None,
) -> PolicyRun:
    """Run one policy over ``history``; every decision goes through ``plan_rebalance``. ``watch`` is told
    the sessions replayed so far after each session the policy decides on (for a progress bar)."""
    missing = sorted(set(targets.weights) - set(history.symbols))
    if missing:
        raise ValueError(f"no price history for target symbols {', '.join(missing)}")
    started = time.perf_counter()
    run = _Simulation(history, targets, policy, options).run(watch)
    run.elapsed = time.perf_counter() - started
    return run


class _Simulation:
    def __init__(
        self, history: PriceHistory, targets: TargetAllocation, policy: Policy, options: SimOptions
    ) -> None:
        first = history.first_on_or_after(options.start) if options.start is not None else 0
        self.market_returns = history.total_returns()  # row j: the return into close j + 1, whole history
        self.offset = first
        history = history.since(first) if first else history
        self.history = history
        self.targets = targets
        self.policy = policy
        self.options = options
        self.costs = options.costs
        self.symbols = history.symbols
        self.index = {s: i for i, s in enumerate(self.symbols)}
        self.prices = history.prices(options.dividends)
        self.cash_dividends = history.cash_dividends(options.dividends)
        self.half = np.array([self.costs.half_spread(s) for s in self.symbols])
        self.fractional = {s: policy.settings.fractional for s in self.symbols}
        n_days, n_assets = self.prices.shape
        self.q = np.zeros(n_assets)
        self.c = float(options.capital)
        self.last_rebalance: datetime | None = None
        self.run_state = PolicyRun(
            policy=policy,
            history=history,
            targets=targets,
            options=options,
            prices=self.prices,
            positions=np.zeros((n_days, n_assets)),
            cash=np.zeros(n_days),
            pre_positions=np.zeros((n_days, n_assets)),
            pre_cash=np.zeros(n_days),
            flows=np.zeros(n_days),
            dividends=np.zeros(n_days),
            costs=np.zeros(n_days),
        )

    # -- the loop ------------------------------------------------------------------------------------------
    def run(self, watch: Callable[[int], None] | None = None) -> PolicyRun:
        days = self.history.days
        checks = set(self.policy.schedule.check_indices(days))
        flows = self.options.flows
        flow_days = set(flows.schedule.check_indices(days)) if flows is not None and flows.amount else set()
        events = sorted({0} | checks | flow_days)
        out = self.run_state
        n_days = len(days)
        for n, k in enumerate(events):
            out.pre_positions[k], out.pre_cash[k] = self.q, self.c
            if k == 0:
                self._fund()
            else:
                # the scheduled flow first, so that a check on the same day sees it
                if k in flow_days:
                    self._flow(k)
                    out.pre_positions[k], out.pre_cash[k] = self.q, self.c
                if k in checks:
                    self._check(k)
            out.positions[k], out.cash[k] = self.q, self.c
            following = events[n + 1] if n + 1 < len(events) else n_days
            self._carry(k, following)
            if watch is not None:
                watch(following)
        return out

    def _carry(self, k: int, following: int) -> None:
        """Hold from session ``k`` to the next event: values move with prices, cash gains dividends."""
        out = self.run_state
        last = min(following, len(self.history.days) - 1)
        if last <= k:
            return
        paid = self.cash_dividends[k + 1 : last + 1] @ self.q
        out.dividends[k + 1 : last + 1] = paid
        cumulative = self.c + np.cumsum(paid)
        between = slice(k + 1, following)  # sessions strictly before the next event
        count = following - (k + 1)
        out.positions[between] = self.q
        out.pre_positions[between] = self.q
        out.cash[between] = cumulative[:count]
        out.pre_cash[between] = cumulative[:count]
        self.c = float(cumulative[-1])

    # -- decisions -----------------------------------------------------------------------------------------
    def _fund(self) -> None:
        """Invest the starting cash at target on the first session."""
        snapshot = self._snapshot(0)
        decision = CalendarTrigger("initial").evaluate(snapshot, self.targets, self._context(0))
        settings = replace(self.policy.settings, trade_to=TradeTo.TARGET)
        plan = plan_rebalance(snapshot, self.targets, self.policy.bands, settings, decision)
        self._execute(0, plan, snapshot, TradeKind.INITIAL)

    def _flow(self, k: int) -> None:
        flows = self.options.flows
        assert flows is not None
        amount = flows.amount
        if amount < 0:
            equity = float(self.q @ self.prices[k]) + self.c
            amount = max(amount, -equity)
        self.c += amount
        self.run_state.flows[k] += amount
        if flows.to is FlowsTo.UNDERWEIGHT or self.c < 0:
            snapshot = self._snapshot(k)
            plan = plan_cash_flow(snapshot, self.targets, self.policy.settings)
            self._execute(k, plan, snapshot, TradeKind.FLOW)

    def _check(self, k: int) -> None:
        out = self.run_state
        out.checks += 1
        snapshot = self._snapshot(k)
        policy = self.policy
        if policy.trigger is None:  # the live bot's own path (AccountBot.make_plan)
            plan = plan_rebalance(snapshot, self.targets, policy.bands, policy.settings)
        else:
            decision = policy.trigger.evaluate(snapshot, self.targets, self._context(k))
            plan = plan_rebalance(snapshot, self.targets, policy.bands, policy.settings, decision)
        if plan.decision.fired:
            out.fired += 1
        if plan.orders:
            out.rebalance_days.append(k)
            self.last_rebalance = self._close(k)
        if plan.orders or self.options.keep_plans:
            self._execute(k, plan, snapshot, TradeKind.REBALANCE)

    def _context(self, k: int) -> TriggerContext:
        if self.policy.market_lookback > 0:
            market = self._market(k, self.policy.market_lookback)
            return TriggerContext(now=self._close(k), last_rebalance_at=self.last_rebalance, market=market)
        return TriggerContext(now=self._close(k), last_rebalance_at=self.last_rebalance)

    def _market(self, k: int, lookback: int):  # noqa: ANN202 - strategies.market_state.MarketState
        """Trailing daily total returns up to this close (never a later one) and today's cost inputs."""
        from strategies.market_state import AssetCosts, MarketState

        end = k + self.offset  # returns into closes up to this one, earlier history included
        returns = self.market_returns[max(0, end - lookback) : end]
        costs = {}
        for i, symbol in enumerate(self.symbols):
            sigma, adv = self.history.impact_inputs(i, k)
            costs[symbol] = AssetCosts(
                spread_bps=self.costs.spread_for(symbol),
                adv=adv,
                sigma_daily=sigma,
                impact_coefficient=self.costs.impact_coefficient,
            )
        return MarketState(self.symbols, returns, costs)

    def _close(self, k: int) -> datetime:
        return datetime.combine(self.history.days[k], CLOSE, NEW_YORK)

    def _snapshot(self, k: int) -> PortfolioSnapshot:
        """What ``bot.snapshot.build_snapshot`` would make of this account and these quotes."""
        prices, bids, asks = {}, {}, {}
        for i, symbol in enumerate(self.symbols):
            mid, h = float(self.prices[k, i]), float(self.half[i])
            if h > 0:
                bid, ask = as_decimal(mid * (1 - h)), as_decimal(mid * (1 + h))
                bids[symbol], asks[symbol] = bid, ask
                prices[symbol] = (bid + ask) / 2  # QuoteState.mid
            else:
                prices[symbol] = as_decimal(mid)
        positions = {s: as_decimal(float(q)) for s, q in zip(self.symbols, self.q, strict=True) if q > 0}
        return PortfolioSnapshot(
            cash=as_decimal(self.c),
            positions=positions,
            prices=prices,
            bids=bids,
            asks=asks,
            fractionable=self.fractional,
        )

    # -- execution -----------------------------------------------------------------------------------------
    def _execute(self, k: int, plan: RebalancePlan, snapshot: PortfolioSnapshot, kind: TradeKind) -> None:
        out = self.run_state
        if plan.orders or self.options.keep_plans:
            out.plans.append(PlanRecord(k, kind, plan, snapshot))
        for order in plan.orders:  # sells first: the planner orders them so
            i = self.index[order.symbol]
            if order.side is Side.SELL:
                result = self._sell(k, i, float(order.qty or 0))
            else:
                result = self._buy(k, i, order.qty, order.notional)
            if result is None:
                continue
            done, clipped = result
            out.costs[k] += done.cost
            out.trades.append(
                Trade(
                    k,
                    order.symbol,
                    order.side,
                    done.qty,
                    done.price,
                    float(self.prices[k, i]),
                    done.spread_cost,
                    done.impact_cost,
                    done.commission,
                    kind,
                    clipped,
                )
            )

    def _fill(
        self, k: int, i: int, buy: bool, qty: float | None = None, notional: float | None = None
    ) -> Fill:
        sigma, adv = (0.0, 0.0)
        if self.costs.impact_coefficient > 0:
            sigma, adv = self.history.impact_inputs(i, k)
        return fill(
            self.costs,
            self.symbols[i],
            buy,
            float(self.prices[k, i]),
            float(self.history.close[k, i]),
            sigma,
            adv,
            qty=qty,
            notional=notional,
        )

    def _sell(self, k: int, i: int, qty: float) -> tuple[Fill, bool] | None:
        held = float(self.q[i])
        qty = min(qty, held)
        if qty <= 0:
            return None
        done = self._fill(k, i, False, qty=qty)
        self.q[i] = 0.0 if qty >= held else held - qty
        self.c += done.qty * done.price - done.commission
        return done, False

    def _buy(self, k: int, i: int, qty, notional) -> tuple[Fill, bool] | None:  # noqa: ANN001 - Decimal | None
        if notional is not None:
            wanted = float(notional)
            done = self._fill(k, i, True, notional=wanted)
            if done.notional + done.commission > self.c:
                spend = self.c - done.commission
                if spend <= 0:
                    return None
                done = self._fill(k, i, True, notional=spend)
            clipped = wanted - done.notional > CLIP_REPORT_THRESHOLD
        else:
            wanted_qty = float(qty)
            done = self._fill(k, i, True, qty=wanted_qty)
            if done.notional + done.commission > self.c:
                affordable = math.floor((self.c - done.commission) / done.price)
                if affordable <= 0:
                    return None
                done = self._fill(k, i, True, qty=float(affordable))
            clipped = done.qty < wanted_qty
        self.q[i] += done.qty
        self.c -= done.qty * done.price + done.commission
        return done, clipped


__all__ = [
    "CashFlows",
    "FlowsTo",
    "PlanRecord",
    "PolicyRun",
    "SimOptions",
    "Trade",
    "TradeKind",
    "simulate",
]
