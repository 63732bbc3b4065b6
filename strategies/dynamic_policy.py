"""The dynamic rebalancing policy as data: a small spec, and the one builder that turns it into a trigger.

Both the live bot (``policy:`` in the config, ``bot.config.PolicyConfig``) and the backtester (the
``dynamic`` policy of ``bot.backtest.policies``) build their trigger here, so the policy measured in
``BENCHMARKS.md`` is the policy the bot runs. The composition (``kind: dynamic``)::

    AllOf(
        CostBenefitGate(                        # only when the trade is worth its cost
            AnyOf(
                VolatilityAdaptiveBands(bands)  # the configured bands, x forecast/usual volatility
                  | CostOptimalBands(bands)     # or the cube-root band from each asset's cost
                  | BandTrigger(bands),         # or the bands as configured
                CalendarBackstop(backstop),     # never more than ``backstop_days`` without a rebalance
            ),
            settings,
        ),
        Cooldown(cooldown),                     # and never twice within ``cooldown_days``
    )

checked at every close (backtest) or every cycle (live), trading to ``trade_to``. Parts are switched off with
``cost_benefit: false``, ``backstop_days: 0``, ``cooldown_days: 0``. ``kind: bands`` is the plain band
trigger (what the bot did before dynamic triggers).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal

from strategies.bands import BandPolicy
from strategies.dynamic_triggers import (
    CalendarBackstop,
    Cooldown,
    CostBenefitGate,
    CostOptimalBands,
    VolatilityAdaptiveBands,
)
from strategies.market_state import Ewma, Window
from strategies.planner import PlannerSettings, TradeTo
from strategies.triggers import AllOf, AnyOf, BandTrigger, Trigger

BAND_MODELS = ("volatility", "cost_optimal", "fixed")


@dataclass(frozen=True)
class DynamicPolicySpec:
    """Everything that defines the dynamic policy except the bands themselves (those are the config's)."""

    kind: str = "dynamic"
    """``dynamic`` (the composition above) or ``bands`` (the plain configured band trigger)."""
    band_model: str = "volatility"
    """``volatility`` (VolatilityAdaptiveBands), ``cost_optimal`` (CostOptimalBands) or ``fixed``."""
    trade_to: TradeTo = TradeTo.BAND_EDGE
    partial_fraction: Decimal = Decimal("0.5")
    vol_halflife: float = 20.0
    """Forecast volatility: EWMA half-life in sessions."""
    vol_reference: int = 252
    """Usual volatility: equal-weight window in sessions."""
    min_scale: Decimal = Decimal("0.5")
    max_scale: Decimal = Decimal("2")
    gamma: float = 3.0
    """Tracking-error aversion of the cost/benefit gate and of cost-optimal bands."""
    cost_benefit: bool = True
    horizon_years: float = 1.0
    risk_halflife: float = 60.0
    backstop_days: int = 0
    """0: no calendar backstop (the chosen default: to target, it added turnover for no TE gain)."""
    cooldown_days: int = 5
    lookback: int = 252
    """Sessions of trailing daily returns the trigger needs (``TriggerContext.market``)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "trade_to", TradeTo(self.trade_to))
        for name in ("partial_fraction", "min_scale", "max_scale"):
            object.__setattr__(self, name, Decimal(str(getattr(self, name))))
        if self.kind not in ("dynamic", "bands"):
            raise ValueError(f"kind must be dynamic or bands, got {self.kind!r}")
        if self.band_model not in BAND_MODELS:
            raise ValueError(f"band_model must be one of {', '.join(BAND_MODELS)}, got {self.band_model!r}")
        if self.backstop_days < 0 or self.cooldown_days < 0 or self.lookback < 0:
            raise ValueError("backstop_days, cooldown_days and lookback must not be negative")

    @property
    def market_lookback(self) -> int:
        """Sessions of history to hand the trigger (0 when it needs none)."""
        needs_market = self.kind == "dynamic" and (self.cost_benefit or self.band_model != "fixed")
        return self.lookback if needs_market else 0

    def settings(self, execution: PlannerSettings) -> PlannerSettings:
        """The planner settings: the execution ones, with this policy's ``trade_to``."""
        return replace(execution, trade_to=self.trade_to, partial_fraction=self.partial_fraction)


def build_trigger(spec: DynamicPolicySpec, bands: BandPolicy, settings: PlannerSettings) -> Trigger:
    """The trigger ``spec`` describes around ``bands``; ``settings`` must be the planner settings the plan
    will be made with (``spec.settings(...)``), since the cost/benefit gate plans the same rebalance."""
    floor = settings.cash_buffer
    if spec.kind == "bands":
        return BandTrigger(bands, cash_floor=floor)
    if spec.band_model == "volatility":
        band_trigger: Trigger = VolatilityAdaptiveBands(
            bands,
            forecast=Ewma(spec.vol_halflife),
            reference=Window(spec.vol_reference),
            min_scale=spec.min_scale,
            max_scale=spec.max_scale,
            cash_floor=floor,
        )
    elif spec.band_model == "cost_optimal":
        band_trigger = CostOptimalBands(bands, gamma=spec.gamma, cash_floor=floor)
    else:
        band_trigger = BandTrigger(bands, cash_floor=floor)
    trigger: Trigger = band_trigger
    if spec.backstop_days:
        trigger = AnyOf((band_trigger, CalendarBackstop(timedelta(days=spec.backstop_days))))
    if spec.cost_benefit:
        trigger = CostBenefitGate(
            trigger,
            settings,
            gamma=spec.gamma,
            horizon_years=spec.horizon_years,
            risk=Ewma(spec.risk_halflife),
        )
    if spec.cooldown_days:
        trigger = AllOf((trigger, Cooldown(timedelta(days=spec.cooldown_days))))
    return trigger
