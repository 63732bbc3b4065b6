"""The objective as a trigger: one decision (trade or wait, which assets, how far) from the portfolio, the
market's returns and costs, and the user's tracking target.

It plugs in where every other trigger does (``strategies.triggers.Trigger``), so the live bot, ``plan`` and
the backtester all call it the same way. Unlike a band trigger it also says where each asset should end:
every row of its decision carries a ``goal`` weight, and the planner trades exactly to those goals (rounding
to shares and cents, the cash buffer, ``min_trade_notional`` and open orders still apply there).

Missing data never stops the bot: without enough return history for a risk forecast the decision is the
configured band trigger's, and the reason says so.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np

from strategies.costs import half_spread_fraction
from strategies.market_state import AssetCosts, MarketState
from strategies.objective.calibrate import FitCache, TrackingTarget, fit_risk_aversion, refit_period
from strategies.objective.explain import explain
from strategies.objective.problem import (
    DEFAULT_CASH_DRAG,
    TRADE_EPSILON,
    Decision,
    DecisionInputs,
    idle_cash_goal,
)
from strategies.objective.risk import RiskModel
from strategies.objective.tax_aware import decide_with_tax
from strategies.portfolio import PortfolioSnapshot, apply_open_orders, open_sides, total_equity
from strategies.simulation.path import SimCosts
from strategies.targets import CASH, ZERO, TargetAllocation
from strategies.tax.marginal import WASH_BLOCKED
from strategies.triggers import NO_CONTEXT, AssetCheck, Trigger, TriggerContext, TriggerDecision

MARKET_ZONE = ZoneInfo("America/New_York")
GOAL_STEP = Decimal("0.000000001")
"""Goal weights are rounded to 1e-9 of equity: far below a cent on any account."""


@dataclass(frozen=True)
class ObjectiveSpec:
    """What the user chose: how closely to track (a :class:`TrackingTarget`, or an expert's fixed
    ``risk_aversion``), and the model's settings."""

    tracking: TrackingTarget | None = field(default_factory=lambda: TrackingTarget.preset("balanced"))
    risk_aversion: float | None = None
    """Fixed ``gamma`` (no refit); overrides ``tracking``."""
    risk: RiskModel = field(default_factory=RiskModel)
    cash_drag: float = DEFAULT_CASH_DRAG
    tax_weight: float = 1.0
    """Share of a sale's estimated tax counted as its cost (1: all of it)."""
    tax_horizon: date | None = None
    """The day the investor expects to sell everything (None: no such day). Realising a gain ``n`` years
    before it only pays the tax ``n`` years early, so a sale's tax counts at most ``1 - (1 + r) ** -n`` of
    it (``r``: ``tax_discount_rate``): near the horizon, deferring a gain saves almost nothing."""
    tax_discount_rate: float = 0.05
    decide_at: int | None = 600
    """Minutes after midnight, New York time: the objective decides once a session, at the first check at or
    after this time (10:00 by default: after the opening auction's noise, with the day left for an approval
    and the slices). Every simulation of the objective decides once a session; deciding at every 5-minute
    check instead traded a few dollars back to the region's edge at almost every check, each trade worth
    nothing. None: decide at every check."""

    def tax_share(self, day: date | None) -> float:
        """The share of a sale's tax counted on ``day``: ``tax_weight``, capped by the time value of paying it
        before ``tax_horizon`` rather than at it (see ``tax_horizon``)."""
        if self.tax_horizon is None or day is None:
            return self.tax_weight
        years = max((self.tax_horizon - day).days, 0) / 365.25
        return min(self.tax_weight, 1.0 - (1.0 + self.tax_discount_rate) ** -years)

    def __post_init__(self) -> None:
        if self.tracking is None and self.risk_aversion is None:
            raise ValueError("give a tracking target or a risk_aversion")
        if self.risk_aversion is not None and not self.risk_aversion > 0:
            raise ValueError(f"risk_aversion must be > 0, got {self.risk_aversion}")
        if self.cash_drag < 0 or not 0 <= self.tax_weight <= 1:
            raise ValueError("cash_drag must be >= 0 and tax_weight in [0, 1]")
        if self.decide_at is not None and not 0 <= self.decide_at < 24 * 60:
            raise ValueError(f"decide_at must be minutes after midnight (0..1439), got {self.decide_at}")

    @property
    def lookback(self) -> int:
        """Sessions of daily returns a decision wants: the risk window, plus the refit window before it."""
        if self.risk_aversion is not None or self.tracking is None:
            return self.risk.window
        return self.risk.window + self.tracking.window

    def describe(self) -> str:
        if self.risk_aversion is not None:
            return f"objective, risk aversion {self.risk_aversion:g}"
        assert self.tracking is not None
        return f"objective, {self.tracking.describe()}"


@dataclass(frozen=True)
class ObjectiveTrigger:
    """Decides by minimising drift risk plus trading cost and tax (``strategies.objective.problem``)."""

    spec: ObjectiveSpec
    fallback: Trigger
    """The configured bands: used while there is no risk forecast."""
    cash_floor: Decimal = ZERO
    """The planner's cash buffer (fraction of equity)."""
    fits: FitCache = field(default_factory=FitCache, compare=False, repr=False)
    sessions: SessionsDecided = field(default_factory=lambda: SessionsDecided(), compare=False, repr=False)

    def evaluate(
        self, snapshot: PortfolioSnapshot, targets: TargetAllocation, context: TriggerContext = NO_CONTEXT
    ) -> TriggerDecision:
        held = None if context.recheck else self.sessions.hold(context.now, self.spec.decide_at)
        if held is not None:
            return TriggerDecision("objective", False, held)
        projected = apply_open_orders(snapshot)
        equity = total_equity(projected)
        if equity <= 0:
            return TriggerDecision("objective", False, "portfolio has no equity; nothing to rebalance")
        symbols = _symbols(projected, targets)
        market = context.market or MarketState()
        returns = market.matrix(symbols)
        if returns is None or market.sessions < self.spec.risk.min_sessions:
            return self._fall_back(snapshot, targets, context, symbols, market)
        covariance = self.spec.risk.covariance(returns)
        assert covariance is not None  # enough sessions, checked above
        day = context.now.date() if context.now is not None else None
        inputs = self._inputs(projected, targets, symbols, covariance, market, equity, day)
        gamma, fit_note = self._gamma(returns, inputs, context.now)
        taxed = decide_with_tax(inputs, gamma)
        decision = taxed.decision
        text = explain(inputs, decision, taxed.gamma, symbols, fit_note + taxed.describe(), covariance)
        return _as_trigger_decision(projected, targets, symbols, inputs, decision, text, equity)

    # -- inputs ------------------------------------------------------------------------------------------
    def _inputs(
        self,
        projected: PortfolioSnapshot,
        targets: TargetAllocation,
        symbols: list[str],
        covariance: np.ndarray,
        market: MarketState,
        equity: Decimal,
        day: date | None = None,
    ) -> DecisionInputs:
        risk = self.spec.risk
        target = np.array([float(targets.weight(s)) for s in symbols])
        weights = np.array([float(_value(projected, s) / equity) for s in symbols])
        costs = [market.costs.get(s, AssetCosts()) for s in symbols]
        prices = [float(projected.prices.get(s, ZERO)) for s in symbols]
        busy = open_sides(projected)
        cash = max(float(projected.cash / equity), 0.0)
        buffer = float(self.cash_floor)
        return DecisionInputs(
            weights=weights,
            targets=target,
            covariance=risk.scaled(covariance, target),
            half_spread=np.array([half_spread_fraction(c.spread_bps) for c in costs]),
            impact=np.array([_impact(c, p, float(equity)) for c, p in zip(costs, prices, strict=True)]),
            sell_tax=np.array([_sell_tax(c.tax_fraction, self.spec.tax_share(day)) for c in costs]),
            cash_min=min(buffer, cash),
            frozen=np.array([s in busy or p <= 0 for s, p in zip(symbols, prices, strict=True)]),
            cash_goal=idle_cash_goal(float(targets.cash), buffer),
            cash_drag=self.spec.cash_drag,
        )

    def _gamma(self, returns: np.ndarray, inputs: DecisionInputs, now: datetime | None) -> tuple[float, str]:
        """The risk aversion: the expert's, or fitted to the tracking target (once per refit period)."""
        spec = self.spec
        if spec.risk_aversion is not None:
            return spec.risk_aversion, f"risk aversion {spec.risk_aversion:g} (fixed)"
        assert spec.tracking is not None
        # one fit per refit period (a trigger serves one account, or one backtest path: the backtester builds
        # a trigger per run)
        key = None if now is None else (*refit_period(now.date(), spec.tracking), inputs.targets.tobytes())
        fit = self.fits.get(key) if key is not None else None
        if fit is None:
            costs = SimCosts(inputs.half_spread, inputs.impact, float(self.cash_floor))
            fit = fit_risk_aversion(returns, inputs.targets, costs, spec.risk, spec.tracking)
            if key is not None:
                self.fits.put(key, fit)
        return fit.gamma, f"{spec.tracking.describe()}; {fit.describe()}"

    def _fall_back(
        self,
        snapshot: PortfolioSnapshot,
        targets: TargetAllocation,
        context: TriggerContext,
        symbols: list[str],
        market: MarketState,
    ) -> TriggerDecision:
        missing = [s for s in symbols if s not in market.symbols]
        why = (
            f"no return history for {', '.join(missing)}"
            if missing
            else f"{market.sessions} sessions of returns, a risk forecast needs {self.spec.risk.min_sessions}"
        )
        decision = self.fallback.evaluate(snapshot, targets, context)
        reason = f"objective: {why}; deciding by the configured bands until then: {decision.reason}"
        return replace(decision, trigger=f"objective (fallback: {decision.trigger})", reason=reason)


@dataclass(eq=False)
class SessionsDecided:
    """The session the objective last decided in (one trigger serves one account), so it decides once a
    session at ``decide_at``. Kept in memory: after a restart it decides once more, which is harmless."""

    last: date | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hold(self, now: datetime | None, decide_at: int | None) -> str | None:
        """Why this check does not decide, or None (and the session is marked decided)."""
        if now is None or decide_at is None:
            return None
        local = now.astimezone(MARKET_ZONE) if now.tzinfo is not None else now
        minutes = local.hour * 60 + local.minute
        at = f"{decide_at // 60:02d}:{decide_at % 60:02d} New York time"
        with self._lock:
            if self.last == local.date():
                return f"objective: decided once this session already; next decision at {at} next session"
            if minutes < decide_at:
                return f"objective: decides once a session, at the first check from {at}"
            self.last = local.date()
        return None


def _sell_tax(fraction: float, share: float) -> float:
    """The tax the objective counts per dollar sold: the estimate times its present-value share, except a
    sale the wash-sale rule blocks now, which counts in full (``strategies.tax.marginal.WASH_BLOCKED``)."""
    return fraction if fraction >= WASH_BLOCKED else fraction * share


def _symbols(projected: PortfolioSnapshot, targets: TargetAllocation) -> list[str]:
    """Targeted assets, then anything held that is not targeted (its target is zero: it is sold)."""
    held = sorted(s for s, q in projected.positions.items() if q > 0 and s not in targets.weights)
    return [s for s in targets.symbols if s != CASH] + held


def _value(projected: PortfolioSnapshot, symbol: str) -> Decimal:
    return projected.quantity(symbol) * projected.prices.get(symbol, ZERO)


def _impact(costs: AssetCosts, price: float, equity: float) -> float:
    """``k`` of the square-root law for this account: trading ``z`` of equity costs ``k * z ** 1.5``."""
    if costs.adv <= 0 or price <= 0 or costs.sigma_daily <= 0:
        return 0.0
    return costs.impact_coefficient * costs.sigma_daily * math.sqrt(equity / (price * costs.adv))


def _as_trigger_decision(
    projected: PortfolioSnapshot,
    targets: TargetAllocation,
    symbols: list[str],
    inputs: DecisionInputs,
    decision: Decision,
    text: str,
    equity: Decimal,
) -> TriggerDecision:
    """Rows for every asset and cash, each with the weight the decision wants (``goal``)."""
    rows = []
    for i, symbol in enumerate(symbols):
        weight, target = Decimal(str(inputs.weights[i])), targets.weight(symbol)
        goal = Decimal(str(decision.weights[i])).quantize(GOAL_STEP)
        traded = bool(abs(decision.trades[i]) > TRADE_EPSILON)  # a plain bool: plans are stored as JSON
        relative = (weight - target) / target if target > 0 else None
        rows.append(AssetCheck(symbol, weight, target, weight - target, relative, None, traded, goal))
    cash = projected.cash / equity
    cash_goal = Decimal(str(1.0 - float(decision.weights.sum()))).quantize(GOAL_STEP)
    rows.append(AssetCheck(CASH, cash, targets.cash, cash - targets.cash, None, None, False, cash_goal))
    return TriggerDecision("objective", decision.trades_anything, text, tuple(rows))
