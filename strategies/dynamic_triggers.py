"""Dynamic triggers: bands that move with volatility and cost, regime shifts, a cost/benefit gate, and time.

Each trigger is a small frozen config object satisfying :class:`strategies.triggers.Trigger`, so they compose
with ``AnyOf`` / ``AllOf`` and the planner trades whatever the final decision marks breached:

* band-like triggers (:class:`SidedBandTrigger`, :class:`VolatilityAdaptiveBands`, :class:`CostOptimalBands`)
  work out each asset's band for this evaluation and hand it to :class:`BandTrigger`, so cash, open orders
  and the explanation behave exactly as for fixed bands, and the reported band is the one that applied (the
  planner's ``band_edge`` then trades to the edge of THAT band, on the side the asset drifted);
* :class:`RegimeTrigger` and :class:`CalendarBackstop` mark every asset away from target (a calendar date);
* :class:`Cooldown` reports no assets: it only gates, through ``AllOf``;
* :class:`CostBenefitGate` wraps a trigger and lets it fire only when the rebalance it would cause is worth
  its cost.

Data comes in ``TriggerContext`` (``now``, ``last_rebalance_at``, ``market``), never from a clock or a
feed. Missing market data never stops the bot: an asset without history or costs falls back to its
configured band (or the gate follows the trigger it wraps), and the reason says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from types import MappingProxyType

from strategies.bands import Band, BandPolicy
from strategies.formatting import pct, pp, usd
from strategies.market_state import (
    TRADING_DAYS,
    AssetCosts,
    Ewma,
    MarketState,
    Series,
    VolatilityModel,
    WeightedEstimator,
    Window,
    active_returns,
    correlation,
)
from strategies.money import as_decimal, to_cents
from strategies.plan import PlannedOrder, RebalancePlan
from strategies.planner import PlannerSettings, plan_rebalance
from strategies.portfolio import Drift, PortfolioSnapshot, Side, apply_open_orders, drift, total_equity
from strategies.targets import CASH, ONE, ZERO, TargetAllocation
from strategies.triggers import NO_CONTEXT, AssetCheck, BandTrigger, Trigger, TriggerContext, TriggerDecision

EMPTY_MARKET = MarketState()
WIDTH_STEP = Decimal("0.0000001")
"""Computed band widths are rounded to 1e-7 of weight (0.00001pp): exact enough, and readable in logs."""


# -- asymmetric bands ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SidedBand:
    """Different bands above and below target, e.g. a tighter ``upper`` for a risky asset (overweight risk
    is what the investor did not sign up for) and a looser ``lower``."""

    upper: Band
    """Applies when the asset is overweight (drift > 0)."""
    lower: Band
    """Applies when the asset is underweight (drift <= 0)."""

    def for_drift(self, asset_drift: Decimal) -> Band:
        return self.upper if asset_drift > 0 else self.lower


@dataclass(frozen=True)
class SidedBandPolicy:
    """Like :class:`BandPolicy`, but the default and each override may be a :class:`SidedBand`."""

    default: Band | SidedBand
    overrides: Mapping[str, Band | SidedBand] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "overrides", MappingProxyType(dict(self.overrides)))

    def band_for(self, symbol: str, asset_drift: Decimal) -> Band:
        band = self.overrides.get(symbol, self.default)
        return band.for_drift(asset_drift) if isinstance(band, SidedBand) else band


AnyBandPolicy = BandPolicy | SidedBandPolicy


def band_for(policy: AnyBandPolicy, symbol: str, asset_drift: Decimal) -> Band:
    """The band that applies to ``symbol`` drifted by ``asset_drift`` under either kind of policy."""
    if isinstance(policy, SidedBandPolicy):
        return policy.band_for(symbol, asset_drift)
    return policy.band_for(symbol)


@dataclass(frozen=True)
class SidedBandTrigger:
    """The band trigger with per-asset, per-side bands (absolute and/or relative on each side)."""

    bands: AnyBandPolicy
    cash_floor: Decimal = ZERO

    def evaluate(
        self, snapshot: PortfolioSnapshot, targets: TargetAllocation, context: TriggerContext = NO_CONTEXT
    ) -> TriggerDecision:
        rows = _projected_drift(snapshot, targets)
        if rows is None:
            return _no_equity("sided_bands")
        chosen = {s: band_for(self.bands, s, d.absolute) for s, d in rows.items()}
        return _evaluate_bands("sided_bands", snapshot, targets, chosen, self.cash_floor, [])


# -- volatility-adaptive bands -------------------------------------------------------------------------------


@dataclass(frozen=True)
class VolatilityAdaptiveBands:
    """Bands scaled by forecast volatility over reference volatility: wider in turbulent regimes.

    A given drift is less informative when prices swing hard (it may reverse tomorrow) and trading then is
    dearer (spreads and impact grow with volatility), so each asset's base band is multiplied by
    ``forecast_vol / reference_vol``, clipped to ``[min_scale, max_scale]``. Cash keeps its base band; an
    asset without history keeps its base band (scale 1).
    """

    bands: AnyBandPolicy
    forecast: VolatilityModel = Ewma(20)
    reference: VolatilityModel = Window(252)
    min_scale: Decimal = Decimal("0.5")
    max_scale: Decimal = Decimal("2")
    cash_floor: Decimal = ZERO

    def __post_init__(self) -> None:
        for name in ("min_scale", "max_scale", "cash_floor"):
            object.__setattr__(self, name, as_decimal(getattr(self, name)))
        if not ZERO < self.min_scale <= self.max_scale:
            raise ValueError(f"need 0 < min_scale <= max_scale, got {self.min_scale}, {self.max_scale}")

    def evaluate(
        self, snapshot: PortfolioSnapshot, targets: TargetAllocation, context: TriggerContext = NO_CONTEXT
    ) -> TriggerDecision:
        rows = _projected_drift(snapshot, targets)
        if rows is None:
            return _no_equity("volatility_bands")
        market = context.market or EMPTY_MARKET
        chosen: dict[str, Band] = {}
        notes: list[str] = []
        for symbol, row in rows.items():
            base = band_for(self.bands, symbol, row.absolute)
            if symbol == CASH:
                chosen[symbol] = base
                continue
            scale, note = self.scale(market, symbol)
            chosen[symbol] = scale_band(base, scale)
            notes.append(note)
        return _evaluate_bands("volatility_bands", snapshot, targets, chosen, self.cash_floor, notes)

    def scale(self, market: MarketState, symbol: str) -> tuple[Decimal, str]:
        """The band multiplier for ``symbol`` and the sentence explaining it."""
        series = market.series(symbol)
        if series is None:
            return ONE, f"{symbol}: no return history, base band"
        now = math.sqrt(self.forecast.daily_variance(series))
        usual = math.sqrt(self.reference.daily_variance(series))
        if usual == 0:
            return ONE, f"{symbol}: no reference volatility, base band"
        raw = _decimal(now / usual, Decimal("0.000001"))
        scale = min(max(raw, self.min_scale), self.max_scale)
        clipped = "" if scale == raw else f", clipped to x{scale:.2f}"
        return scale, (
            f"{symbol}: vol {_annual(now):.1%}/yr ({self.forecast.describe()}) vs {_annual(usual):.1%}/yr "
            f"({self.reference.describe()}) -> band x{raw:.2f}{clipped}"
        )


def scale_band(band: Band, scale: Decimal) -> Band:
    """``band`` with both its absolute and relative parts multiplied by ``scale`` (> 0)."""
    absolute = band.absolute * scale if band.absolute is not None else None
    relative = band.relative * scale if band.relative is not None else None
    return Band(absolute, relative)


# -- cost-optimal (cube-root) bands --------------------------------------------------------------------------


def cube_root_half_width(cost: float, weight_vol: float, penalty: float) -> float:
    """The no-trade half-width ``(3 c sigma_w^2 / (4 lambda)) ** (1/3)`` (NOTES.md section 1).

    ``cost`` is the one-way cost per unit of weight traded (a fraction), ``weight_vol`` the annual volatility
    of the asset's weight and ``penalty`` the annual cost of a squared weight deviation (``lambda x^2``).
    """
    return (3.0 * cost * weight_vol**2 / (4.0 * penalty)) ** (1.0 / 3.0)


def tracking_error_half_width(cost: float, target: float, gamma: float) -> float:
    """The cube-root band when the penalty is tracking error with aversion ``gamma``.

    A weight ``t`` moves with ``r_asset - r_rest`` scaled by ``t(1-t)``, so ``sigma_w = t(1-t) sigma_a``; a
    deviation ``x`` adds tracking-error variance ``x^2 sigma_a^2``, priced at ``gamma / 2`` (mean-variance
    utility), so ``lambda = gamma sigma_a^2 / 2``. The relative volatility ``sigma_a`` cancels:
    ``h = (3 c t^2 (1-t)^2 / (2 gamma)) ** (1/3)``. It reproduces NOTES.md's 60/40 figures with gamma = 3
    (10bp -> 3.06pp, 50bp -> 5.24pp, 300bp -> 9.52pp); volatility still widens the band through ``c``,
    whose impact term grows with ``sigma_daily``.
    """
    if cost <= 0 or not 0 < target < 1:
        return 0.0
    return (3.0 * cost * (target * (1.0 - target)) ** 2 / (2.0 * gamma)) ** (1.0 / 3.0)


@dataclass(frozen=True)
class CostOptimalBands:
    """Each asset's band from its own trading cost: the cube-root no-trade band (Leland; NOTES.md §1).

    The cost ``c`` is the asset's one-way all-in cost (half-spread + square-root impact + estimated tax,
    ``AssetCosts``) of trading its current drift back to target, so a larger drift on a thin asset costs more
    per dollar and earns a slightly wider band. Assets without cost inputs, assets with a zero target, and
    cash use ``fallback``. No band is narrower than ``min_width``: a free asset must not trade on noise.
    """

    fallback: AnyBandPolicy
    gamma: float = 3.0
    min_width: Decimal = Decimal("0.001")
    cash_floor: Decimal = ZERO

    def __post_init__(self) -> None:
        for name in ("min_width", "cash_floor"):
            object.__setattr__(self, name, as_decimal(getattr(self, name)))
        if self.gamma <= 0 or self.min_width <= 0:
            raise ValueError(f"gamma and min_width must be > 0, got {self.gamma}, {self.min_width}")

    def evaluate(
        self, snapshot: PortfolioSnapshot, targets: TargetAllocation, context: TriggerContext = NO_CONTEXT
    ) -> TriggerDecision:
        projected = apply_open_orders(snapshot)
        equity = total_equity(projected)
        if equity <= 0:
            return _no_equity("cost_optimal_bands")
        market = context.market or EMPTY_MARKET
        chosen: dict[str, Band] = {}
        notes: list[str] = []
        for symbol, row in drift(projected, targets).items():
            costs = market.costs.get(symbol)
            price = projected.prices.get(symbol)
            if symbol == CASH or costs is None or price is None or not ZERO < row.target < ONE:
                chosen[symbol] = band_for(self.fallback, symbol, row.absolute)
                if symbol != CASH and costs is None:
                    notes.append(f"{symbol}: no cost inputs, fallback band")
                continue
            width, note = self.width(symbol, row, costs, equity, price)
            chosen[symbol] = Band(absolute=width)
            notes.append(note)
        return _evaluate_bands("cost_optimal_bands", snapshot, targets, chosen, self.cash_floor, notes)

    def width(
        self, symbol: str, row: Drift, costs: AssetCosts, equity: Decimal, price: Decimal
    ) -> tuple[Decimal, str]:
        """The band of one asset and the sentence with the numbers behind it."""
        trade = abs(row.absolute) * equity
        shares = float(trade / price)
        cost = costs.one_way(shares, taxed=True)
        raw = _decimal(tracking_error_half_width(cost, float(row.target), self.gamma), WIDTH_STEP)
        width = max(raw, self.min_width)
        floor = "" if width == raw else f", raised to the {pp(self.min_width)} minimum"
        return width, (
            f"{symbol}: cost {cost * 1e4:.1f}bp ({costs.describe(shares, taxed=True)}) on a {usd(trade)} "
            f"trade, target {pct(row.target)}, gamma {self.gamma:g} -> band {pp(raw)}{floor}"
        )


# -- regime --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegimeTrigger:
    """Fires on a regime shift: the stock's volatility jumps, or the stock-bond correlation does.

    Short-window volatility over long-window volatility above ``vol_ratio`` (a crash), or a move of the
    short-window correlation away from the long-window one by more than ``correlation_jump`` (e.g. 2022, when
    stocks and bonds fell together), means yesterday's drift tolerances were set for a different market.
    With ``mark_all`` it marks every asset away from target, like a calendar date; without, it reports no
    assets and gates others through ``AllOf`` (e.g. "in a new regime, use tight bands").
    """

    stock: str
    bond: str
    short: WeightedEstimator = Ewma(10)
    long: WeightedEstimator = Ewma(120)
    vol_ratio: float = 1.5
    correlation_jump: float = 0.3
    mark_all: bool = True

    def evaluate(
        self, snapshot: PortfolioSnapshot, targets: TargetAllocation, context: TriggerContext = NO_CONTEXT
    ) -> TriggerDecision:
        pair = (context.market or EMPTY_MARKET).columns([self.stock, self.bond])
        if pair is None:
            missing = f"no return history for {self.stock}/{self.bond}; no regime call"
            return TriggerDecision("regime", False, missing)
        stock, bond = pair
        vol_shift, vol_text = self._volatility(stock)
        corr_shift, corr_text = self._correlation(stock, bond)
        fired = vol_shift or corr_shift
        verdict = "regime shift" if fired else "no regime shift"
        reason = f"{verdict}: {vol_text}; {corr_text}"
        rows = _all_assets(snapshot, targets, fired) if self.mark_all else ()
        return TriggerDecision("regime", fired, reason, rows)

    def _volatility(self, stock: Series) -> tuple[bool, str]:
        short = math.sqrt(self.short.daily_variance(stock))
        long = math.sqrt(self.long.daily_variance(stock))
        head = (
            f"{self.stock} vol {_annual(short):.1%}/yr ({self.short.describe()}) vs "
            f"{_annual(long):.1%}/yr ({self.long.describe()})"
        )
        if long == 0:
            return False, f"{head}, no long-run volatility to compare"
        ratio = short / long
        shifted = ratio > self.vol_ratio
        return shifted, f"{head} = x{ratio:.2f} {'>' if shifted else '<='} x{self.vol_ratio:g}"

    def _correlation(self, stock: Series, bond: Series) -> tuple[bool, str]:
        short, long = correlation(self.short, stock, bond), correlation(self.long, stock, bond)
        name = f"{self.stock}/{self.bond} correlation"
        if short is None or long is None:
            return False, f"{name} undefined (no variance)"
        jump = short - long
        shifted = abs(jump) > self.correlation_jump
        return shifted, (
            f"{name} {_signed(short)} ({self.short.describe()}) vs {_signed(long)} ({self.long.describe()}), "
            f"change {_signed(jump)} {'>' if shifted else '<='} {self.correlation_jump:g}"
        )


# -- time: backstop and cooldown -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarBackstop:
    """Fires when the portfolio has gone ``max_interval`` without a rebalance: every asset back to its goal.

    Bands alone can leave a portfolio a little off target for years; the backstop bounds that. With no
    rebalance on record it fires (the time since is unknown, so assume it is long).
    """

    max_interval: timedelta

    def evaluate(
        self, snapshot: PortfolioSnapshot, targets: TargetAllocation, context: TriggerContext = NO_CONTEXT
    ) -> TriggerDecision:
        elapsed = _since_last_rebalance(context, "backstop")
        if elapsed is None:
            fired, reason = True, "no rebalance on record: backstop rebalance"
        else:
            fired = elapsed >= self.max_interval
            relation = ">=" if fired else "<"
            verdict = "backstop rebalance" if fired else "backstop not due"
            reason = (
                f"{verdict}: {_days(elapsed)} since the last rebalance "
                f"({context.last_rebalance_at:%Y-%m-%d}) {relation} {_days(self.max_interval)}"
            )
        return TriggerDecision("backstop", fired, reason, _all_assets(snapshot, targets, fired))


@dataclass(frozen=True)
class Cooldown:
    """A gate: quiet within ``min_interval`` of the last rebalance, fired after it. Reports no assets.

    Use it through ``AllOf((bands, Cooldown(...)))``. To let nothing (not even a backstop) trade during the
    cooldown, put it outermost: ``AllOf((AnyOf((bands, backstop)), cooldown))``.
    """

    min_interval: timedelta

    def evaluate(
        self, snapshot: PortfolioSnapshot, targets: TargetAllocation, context: TriggerContext = NO_CONTEXT
    ) -> TriggerDecision:
        elapsed = _since_last_rebalance(context, "cooldown")
        if elapsed is None:
            return TriggerDecision("cooldown", True, "no rebalance on record: no cooldown")
        last = context.last_rebalance_at
        assert last is not None
        if elapsed < self.min_interval:
            return TriggerDecision(
                "cooldown",
                False,
                f"cooling down: last rebalance {_days(elapsed)} ago ({last:%Y-%m-%d %H:%M}) < "
                f"{_days(self.min_interval)}; next allowed from {last + self.min_interval:%Y-%m-%d %H:%M}",
            )
        over = f"cooldown over: last rebalance {_days(elapsed)} ago >= {_days(self.min_interval)}"
        return TriggerDecision("cooldown", True, over)


# -- cost/benefit gate ---------------------------------------------------------------------------------------

_UNUSED_BANDS = BandPolicy(Band(absolute=ONE))
"""``plan_rebalance`` reads its bands only when it is given no decision; the gate always gives one."""


@dataclass(frozen=True)
class CostBenefitGate:
    """Lets ``trigger`` fire only when the rebalance it causes is worth its cost; otherwise it waits.

    The gate plans the rebalance exactly as the planner will (same ``settings``: they must be the bot's) and
    compares:

    * expected cost: every order's notional times its one-way cost (half-spread + square-root impact, plus
      the estimated tax on sells), from ``AssetCosts``;
    * expected benefit: the cut in tracking-error variance ``x' Sigma x`` (``x`` the weight deviations from
      target before and after, ``Sigma`` the annualised covariance of returns under ``risk``, computed as the
      variance of the active return ``sum_i x_i r_i``), priced at
      ``gamma / 2`` of equity per year (mean-variance utility) over ``horizon_years``.

    It fires when benefit >= cost. Assets without cost inputs are costed at 0 and named; without return
    history for every asset involved there is no benefit estimate and the gate follows ``trigger``.
    """

    trigger: Trigger
    settings: PlannerSettings = PlannerSettings()
    gamma: float = 3.0
    horizon_years: float = 1.0
    risk: WeightedEstimator = Ewma(60)

    def evaluate(
        self, snapshot: PortfolioSnapshot, targets: TargetAllocation, context: TriggerContext = NO_CONTEXT
    ) -> TriggerDecision:
        inner = self.trigger.evaluate(snapshot, targets, context)
        name = f"cost_benefit({inner.trigger})"
        if not inner.fired:
            return replace(inner, trigger=name, reason=f"nothing to weigh: {inner.reason}")
        market = context.market or EMPTY_MARKET
        plan = plan_rebalance(snapshot, targets, _UNUSED_BANDS, self.settings, inner)
        cost, cost_text = self._cost(plan, market)
        benefit = self._benefit(plan, market)
        if benefit is None:
            reason = f"fired: no return history to value the benefit, following the trigger ({cost_text})"
            return replace(inner, trigger=name, reason=f"{reason}; {inner.reason}")
        value, benefit_text = benefit
        fired = value >= cost
        verdict = (
            f"fired: expected benefit {usd(value)} >= expected cost {usd(cost)}"
            if fired
            else f"waited: expected cost {usd(cost)} > expected benefit {usd(value)}"
        )
        reason = f"{verdict} ({benefit_text}; {cost_text}); {inner.reason}"
        return replace(inner, trigger=name, fired=fired, reason=reason)

    def _cost(self, plan: RebalancePlan, market: MarketState) -> tuple[Decimal, str]:
        total, parts, unknown = ZERO, [], []
        for order in plan.orders:
            costs = market.costs.get(order.symbol)
            if costs is None:
                unknown.append(order.symbol)
                continue
            fraction = costs.one_way(float(_shares(order)), taxed=order.side is Side.SELL)
            total += order.est_notional * as_decimal(fraction)
            amount = usd(order.est_notional)
            parts.append(f"{order.side.value} {order.symbol} {amount} at {fraction * 1e4:.1f}bp")
        text = "cost: " + (", ".join(parts) if parts else "no orders")
        if unknown:
            text += f"; no cost inputs for {', '.join(unknown)} (costed at 0)"
        return to_cents(total), text

    def _benefit(self, plan: RebalancePlan, market: MarketState) -> tuple[Decimal, str] | None:
        rows = [r for r in plan.decision.assets if r.symbol != CASH]
        before = [float(plan.weights_before.get(r.symbol, ZERO) - r.target) for r in rows]
        after = [float(plan.weights_after.get(r.symbol, ZERO) - r.target) for r in rows]
        involved = [i for i in range(len(rows)) if before[i] != 0 or after[i] != 0]
        columns = market.columns([rows[i].symbol for i in involved])
        if columns is None:
            return None
        te_before = self._tracking_variance(columns, [before[i] for i in involved])
        te_after = self._tracking_variance(columns, [after[i] for i in involved])
        cut = te_before - te_after
        value = to_cents(plan.equity * as_decimal(self.gamma / 2 * cut * self.horizon_years))
        return value, (
            f"benefit: equity {usd(plan.equity)} x gamma/2 {self.gamma / 2:g} x tracking-error variance cut "
            f"{cut:.3g} (TE {math.sqrt(te_before):.2%} -> {math.sqrt(max(te_after, 0.0)):.2%}/yr, "
            f"{self.risk.describe()}) x {self.horizon_years:g}y"
        )

    def _tracking_variance(self, columns: list[Series], deviations: list[float]) -> float:
        """Annual tracking-error variance ``x' Sigma x``: the variance of the active return series."""
        if not columns:
            return 0.0
        active = active_returns(columns, deviations)
        return self.risk.daily_variance(active) * TRADING_DAYS


# -- shared helpers ------------------------------------------------------------------------------------------


def _projected_drift(snapshot: PortfolioSnapshot, targets: TargetAllocation) -> dict[str, Drift] | None:
    projected = apply_open_orders(snapshot)
    return drift(projected, targets) if total_equity(projected) > 0 else None


def _no_equity(name: str) -> TriggerDecision:
    return TriggerDecision(name, False, "portfolio has no equity; nothing to rebalance")


def _evaluate_bands(
    name: str,
    snapshot: PortfolioSnapshot,
    targets: TargetAllocation,
    chosen: Mapping[str, Band],
    cash_floor: Decimal,
    notes: list[str],
) -> TriggerDecision:
    """Run :class:`BandTrigger` with this evaluation's band for every row, then add the notes behind them."""
    policy = BandPolicy(chosen[CASH], chosen)  # every row has its own entry: the default is never consulted
    decision = BandTrigger(policy, cash_floor).evaluate(snapshot, targets)
    return replace(decision, trigger=name, reason="; ".join([decision.reason, *notes]))


def _all_assets(
    snapshot: PortfolioSnapshot, targets: TargetAllocation, breached: bool
) -> tuple[AssetCheck, ...]:
    """Every row, breached (when ``breached``) if away from target; cash only when above its target."""
    rows = _projected_drift(snapshot, targets) or {}
    return tuple(
        AssetCheck(
            symbol,
            row.weight,
            row.target,
            row.absolute,
            row.relative,
            None,
            breached and (row.absolute > 0 if symbol == CASH else row.absolute != 0),
        )
        for symbol, row in rows.items()
    )


def _since_last_rebalance(context: TriggerContext, name: str) -> timedelta | None:
    if context.now is None:
        raise ValueError(f"{name} needs TriggerContext.now: strategies never read the clock")
    if context.last_rebalance_at is None:
        return None
    return context.now - context.last_rebalance_at


def _shares(order: PlannedOrder) -> Decimal:
    return order.qty if order.qty is not None else (order.notional or ZERO) / order.est_price


def _annual(daily_vol: float) -> float:
    return daily_vol * math.sqrt(TRADING_DAYS)


def _signed(value: float) -> str:
    """Two decimals with a sign, and no "-0.00" from rounding noise."""
    return f"{round(value, 2) + 0.0:+.2f}"


def _days(interval: timedelta) -> str:
    return f"{interval.total_seconds() / 86_400:g} days"


def _decimal(value: float, step: Decimal) -> Decimal:
    return as_decimal(value).quantize(step)
