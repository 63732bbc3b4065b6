"""Triggers decide WHETHER to rebalance, and which assets are out of line.

Every trigger is a small frozen config object with ``evaluate(snapshot, targets, context)`` returning a
:class:`TriggerDecision`. The decision carries the per-asset numbers (weight, target, drift, band, breached)
so the planner can act on them and a human can read why the bot traded. Triggers compose with
:class:`AnyOf` / :class:`AllOf`, so later triggers (volatility-adaptive bands, cost-optimal, regime, calendar
backstop, cooldown) slot in beside :class:`BandTrigger`: a calendar backstop would mark every asset
breached, a cooldown would report no assets and gate the rest through ``AllOf``.

Triggers see the snapshot with open orders applied (what the account will be once they fill), so a
rebalance already in flight does not fire again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from strategies.bands import Band, BandPolicy
from strategies.formatting import pct, pp, signed_pp
from strategies.portfolio import Drift, PortfolioSnapshot, apply_open_orders, drift, total_equity
from strategies.targets import CASH, ZERO, TargetAllocation

if TYPE_CHECKING:
    from strategies.market_state import MarketState


@dataclass(frozen=True)
class TriggerContext:
    """Facts a trigger may need beyond the snapshot; strategies never read a clock, so time comes in here.

    Later triggers add fields (with defaults) for what they need, e.g. price history for volatility bands.
    """

    now: datetime | None = None
    last_rebalance_at: datetime | None = None
    market: MarketState | None = None
    """Returns history and cost inputs for the dynamic triggers (``strategies.dynamic_triggers``)."""
    recheck: bool = False
    """Re-planning a plan a person already approved, on fresh quotes: a trigger that decides on a schedule
    (the objective's once a session) decides now, and does not count it as its scheduled decision."""


NO_CONTEXT = TriggerContext()


@dataclass(frozen=True)
class AssetCheck:
    """One row of a decision: an asset's (or cash's) position against its band."""

    symbol: str
    weight: Decimal
    target: Decimal
    drift: Decimal
    """``weight - target`` in weight units (0.01 = 1 percentage point)."""
    relative_drift: Decimal | None
    band: Decimal | None
    """Effective band half-width in weight units; None when no band applies (cash without a usable band)."""
    breached: bool
    goal: Decimal | None = None
    """The weight the decision wants the asset to end at, when the trigger decides that too (the
    objective); None: the planner's ``trade_to`` decides."""

    def describe(self) -> str:
        """E.g. ``SPY 70.00% vs 60.00% (+10.00pp, band 5.00pp)``."""
        band = f", band {pp(self.band)}" if self.band is not None else ""
        return f"{self.symbol} {pct(self.weight)} vs {pct(self.target)} ({signed_pp(self.drift)}{band})"


@dataclass(frozen=True)
class TriggerDecision:
    """Whether a trigger fired, the per-asset rows behind it and a one-line human reason."""

    trigger: str
    fired: bool
    reason: str
    assets: tuple[AssetCheck, ...] = ()

    def asset(self, symbol: str) -> AssetCheck | None:
        return next((row for row in self.assets if row.symbol == symbol), None)

    @property
    def breached(self) -> tuple[AssetCheck, ...]:
        return tuple(row for row in self.assets if row.breached)


@runtime_checkable
class Trigger(Protocol):
    """Anything that can decide, from data alone, whether the portfolio should be rebalanced now."""

    def evaluate(
        self, snapshot: PortfolioSnapshot, targets: TargetAllocation, context: TriggerContext = NO_CONTEXT
    ) -> TriggerDecision: ...


@dataclass(frozen=True)
class BandTrigger:
    """Fires when any asset drifts outside its absolute/relative band (the "5/25" rule).

    Cash is a row too, but only breaches on the high side (money waiting to be invested, e.g. after a
    deposit); low cash is fixed by the overweight assets, which breach on their own. Cash up to
    ``cash_floor`` (the planner's cash buffer) never counts as excess, and a relative band means nothing
    for a zero cash target, so neither can make the trigger fire forever on cash the planner must keep.
    """

    bands: BandPolicy
    cash_floor: Decimal = ZERO

    def evaluate(
        self, snapshot: PortfolioSnapshot, targets: TargetAllocation, context: TriggerContext = NO_CONTEXT
    ) -> TriggerDecision:
        projected = apply_open_orders(snapshot)
        if total_equity(projected) <= 0:
            return TriggerDecision("bands", False, "portfolio has no equity; nothing to rebalance")
        rows = tuple(
            self._check(symbol, asset_drift) for symbol, asset_drift in drift(projected, targets).items()
        )
        return TriggerDecision("bands", any(r.breached for r in rows), _band_reason(rows), rows)

    def _check(self, symbol: str, asset_drift: Drift) -> AssetCheck:
        band = self.bands.band_for(symbol)
        weight, target = asset_drift.weight, asset_drift.target
        if symbol == CASH:
            width = _cash_width(band, target)
            breached = width is not None and weight - max(target, self.cash_floor) > width
        else:
            width = band.width(target)
            breached = abs(asset_drift.absolute) > width
        return AssetCheck(symbol, weight, target, asset_drift.absolute, asset_drift.relative, width, breached)


def _cash_width(band: Band, target: Decimal) -> Decimal | None:
    """Cash band: the relative part only applies to a positive cash target."""
    relative = band.relative if target > 0 else None
    if band.absolute is None and relative is None:
        return None
    return Band(band.absolute, relative).width(target)


def _band_reason(rows: tuple[AssetCheck, ...]) -> str:
    breached = [r for r in rows if r.breached]
    if breached:
        return "outside band: " + "; ".join(r.describe() for r in breached)
    banded = [r for r in rows if r.band is not None and r.symbol != CASH]
    if not banded:
        return "all assets inside their bands"
    closest = max(banded, key=lambda r: (abs(r.drift) / r.band) if r.band else Decimal(0))
    return f"all assets inside their bands (closest: {closest.describe()})"


@dataclass(frozen=True)
class AnyOf:
    """Fires when any child fires; an asset counts as breached if any fired child says so."""

    triggers: tuple[Trigger, ...]

    def evaluate(
        self, snapshot: PortfolioSnapshot, targets: TargetAllocation, context: TriggerContext = NO_CONTEXT
    ) -> TriggerDecision:
        decisions = [t.evaluate(snapshot, targets, context) for t in self.triggers]
        return _combine("any", any(d.fired for d in decisions), decisions)


@dataclass(frozen=True)
class AllOf:
    """Fires only when every child fires (e.g. bands AND cooldown elapsed)."""

    triggers: tuple[Trigger, ...]

    def evaluate(
        self, snapshot: PortfolioSnapshot, targets: TargetAllocation, context: TriggerContext = NO_CONTEXT
    ) -> TriggerDecision:
        decisions = [t.evaluate(snapshot, targets, context) for t in self.triggers]
        return _combine("all", bool(decisions) and all(d.fired for d in decisions), decisions)


def _combine(kind: str, fired: bool, decisions: list[TriggerDecision]) -> TriggerDecision:
    """Merge rows: numbers from the first child reporting an asset; breached if a FIRED child says so."""
    rows: dict[str, AssetCheck] = {}
    breached: set[str] = set()
    for decision in decisions:
        for row in decision.assets:
            rows.setdefault(row.symbol, row)
            if decision.fired and row.breached:
                breached.add(row.symbol)
    merged = tuple(_with_breached(row, row.symbol in breached) for row in rows.values())
    reason = "; ".join(f"[{d.trigger}: {'fired' if d.fired else 'quiet'}] {d.reason}" for d in decisions)
    name = f"{kind}({', '.join(d.trigger for d in decisions)})"
    return TriggerDecision(name, fired, reason, merged)


def _with_breached(row: AssetCheck, breached: bool) -> AssetCheck:
    return row if row.breached == breached else replace(row, breached=breached)
