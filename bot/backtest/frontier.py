"""The objective's risk/cost frontier against every built-in baseline, walk-forward, and a setting from it.

Shared by ``rebalance-bot tune`` (one portfolio, the config's, on its own history) and
``scripts/bench_objective.py`` (a library of portfolios, real and resampled histories), so the command a user
runs and the evaluation in ``BENCHMARKS.md`` are the same code.

* **Baselines**: monthly, quarterly and annual rebalancing; the 5 pp band checked monthly; a 20% relative
  band traded part-way every two weeks; absolute bands of 2 to 8 pp and a 20% relative band traded to the
  edge, checked every session (:data:`BASELINES`).
* **Frontier**: the objective at fixed risk aversions (:data:`GAMMAS`), one portfolio per risk aversion.
* **Walk-forward**: every run invests at target at the close of ``start`` and is scored from there; the
  risk forecast of a decision uses only returns up to that session, so the history before ``start`` is the
  warm-up and nothing is chosen with returns it is scored on.
* **Dominates**: lower tracking error *and* lower turnover-plus-cost (``Outcome.dominates``).
* **Recommendation** (:func:`recommend`): among the frontier points no baseline dominates, the one that
  dominates the most baselines, and of those the one that trades least; said in the user's words, the
  nearest ``tracking`` preset when its tracking error is within 25% of one, else an explicit
  ``relative_tracking_error``.

The simulation is ``strategies.simulation`` (weight space, the live planner's decisions on floats).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from bot.backtest.costs import CostModel
from bot.backtest.data import PriceHistory
from strategies.bands import DEFAULT_BAND
from strategies.objective.calibrate import PRESETS, TrackingPolicy, TrackingTarget
from strategies.objective.problem import DEFAULT_CASH_DRAG
from strategies.objective.risk import TRADING_DAYS, RiskModel
from strategies.planner import TradeTo
from strategies.schedules import EverySession, Period, Periodic
from strategies.simulation.path import Outcome, SimContext, SimCosts, impact_coefficients, simulate
from strategies.simulation.policies import BandPolicy, CalendarPolicy, ObjectivePolicy

GAMMA_RANGE = (-4.2, -1.4)
"""log10 of the smallest and largest risk aversion of the frontier (relative scale): tracking errors from
about 2% to 0.1% a year on the bundled mixes (wide enough to reach the 2 pp edge band)."""
GAMMAS = tuple(float(g) for g in 10.0 ** np.linspace(*GAMMA_RANGE, 12))
CALENDARS = ("monthly", "quarterly", "annual")
EDGE_BANDS = ("edge-2pp", "edge-3pp", "edge-4pp", "edge-5pp", "edge-6pp", "edge-8pp", "edge-20pct")
BASELINES = (*CALENDARS, "band-5pp-monthly", "opportunistic-20pct", *EDGE_BANDS)
ACCOUNT = 100_000.0
"""Equity the impact estimate assumes, in dollars."""
PRESET_TOLERANCE = 1.25
"""A frontier point within this factor of a preset's relative tracking error is called by the preset's name
(the issue's "within 25% of the preset's target")."""

Watch = Callable[[int], None]
"""Called with the session index each time a watched policy decides (for a progress bar)."""


def gammas(points: int) -> tuple[float, ...]:
    """``points`` risk aversions spread evenly (in log) over :data:`GAMMA_RANGE`."""
    if points < 2:
        raise ValueError(f"a frontier needs at least 2 risk aversions, got {points}")
    return tuple(float(g) for g in 10.0 ** np.linspace(*GAMMA_RANGE, points))


@dataclass(frozen=True)
class Cell:
    """One portfolio on one history: every baseline, the frontier, and optionally a tracking target run as
    the live bot runs it (refitted every quarter)."""

    portfolio: str
    history: str
    assets: int
    baselines: dict[str, Outcome]
    frontier: list[Outcome]
    default: Outcome | None = None
    volatility: float = 0.0
    """Of the target held exactly, over the scored sessions."""
    gammas: tuple[float, ...] = GAMMAS
    """The frontier's risk aversions, one per point."""


# -- inputs -------------------------------------------------------------------------------------------------


def daily_returns(history: PriceHistory) -> np.ndarray:
    """Total returns, sessions x assets, row ``t`` into the close of session ``t`` (row 0: zero)."""
    return np.vstack([np.zeros(len(history.symbols)), history.total_returns()])


def sim_costs(
    history: PriceHistory,
    returns: np.ndarray,
    account: float = ACCOUNT,
    model: CostModel | None = None,
    cash_buffer: float = 0.005,
) -> SimCosts:
    """The paper broker's cost model in weight space: its half-spread per symbol and a square-root impact
    from each asset's daily volatility and median dollar volume over the history, for ``account`` dollars."""
    model = model or CostModel()
    half = np.array([model.half_spread(s) for s in history.symbols])
    sigma = np.std(returns[1:], axis=0)
    dollar_volume = np.median(history.volume * history.close, axis=0)
    impact = impact_coefficients(account, sigma, dollar_volume, model.impact_coefficient)
    return SimCosts(half, impact, cash_buffer)


def baseline_policies(days: tuple[date, ...]) -> dict[str, Any]:
    """The built-in baselines in weight space; the edge bands run as one batch (key ``edge``)."""
    edge = BandPolicy(
        (0.02, 0.03, 0.04, 0.05, 0.06, 0.08, None),
        (None,) * 6 + (0.20,),
        TradeTo.BAND_EDGE,
        schedule=EverySession(),
    )
    return {
        "monthly": CalendarPolicy(Periodic(Period.MONTH), days),
        "quarterly": CalendarPolicy(Periodic(Period.QUARTER), days),
        "annual": CalendarPolicy(Periodic(Period.YEAR), days),
        "band-5pp-monthly": BandPolicy(
            (0.05,), (None,), TradeTo.TARGET, schedule=Periodic(Period.MONTH), days=days
        ),
        "opportunistic-20pct": BandPolicy(
            (None,), (0.20,), TradeTo.PARTIAL, schedule=Periodic(Period.WEEK, every=2), days=days
        ),
        "edge": edge,
    }


def reference_widths(targets: np.ndarray) -> np.ndarray:
    """The config's default band (5 pp or 25% of target, whichever is tighter), for cycle speed."""
    return np.minimum(float(DEFAULT_BAND.absolute), float(DEFAULT_BAND.relative) * targets)


# -- runs ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Watched:
    """A policy that reports every session it decides on, so a long run can show its progress."""

    policy: Any
    watch: Watch

    @property
    def size(self) -> int:
        return int(self.policy.size)

    def checks(self, sessions: int) -> np.ndarray:
        return self.policy.checks(sessions)

    def decide(self, t: int, weights: np.ndarray, cash: np.ndarray, context: SimContext) -> np.ndarray:
        self.watch(t)
        return self.policy.decide(t, weights, cash, context)


def run_baselines(
    context: SimContext,
    days: tuple[date, ...],
    start: int,
    end: int,
    done: Callable[[str], None] | None = None,
) -> dict[str, Outcome]:
    """Every baseline of :data:`BASELINES` from ``start`` to ``end``; ``done(name)`` after each run."""
    widths = reference_widths(context.targets)
    outcomes: dict[str, Outcome] = {}
    for key, policy in baseline_policies(days).items():
        result = simulate(
            policy,
            context.returns,
            context.targets,
            context.costs,
            start,
            end,
            context=context,
            reference_widths=widths,
        )
        if key == "edge":
            outcomes.update(dict(zip(EDGE_BANDS, result, strict=True)))
        else:
            outcomes[key] = result[0]
        if done is not None:
            done(key)
    return outcomes


def run_frontier(
    context: SimContext,
    risk_aversions: Sequence[float],
    start: int,
    end: int,
    cash_drag: float = DEFAULT_CASH_DRAG,
    watch: Watch | None = None,
) -> list[Outcome]:
    """The objective at each fixed risk aversion, one outcome per point, in the order given."""
    policy: Any = ObjectivePolicy(tuple(risk_aversions), cash_drag)
    if watch is not None:
        policy = Watched(policy, watch)
    return simulate(policy, context.returns, context.targets, context.costs, start, end, context=context)


def run_tracking(
    context: SimContext,
    target: TrackingTarget,
    days: tuple[date, ...],
    start: int,
    end: int,
    cash_drag: float = DEFAULT_CASH_DRAG,
    watch: Watch | None = None,
) -> Outcome:
    """A tracking target as the live bot runs it: its risk aversion refitted every quarter on the trailing
    window (``strategies.objective.calibrate.TrackingPolicy``)."""
    policy: Any = TrackingPolicy(target, days, cash_drag)
    if watch is not None:
        policy = Watched(policy, watch)
    widths = reference_widths(context.targets)
    return simulate(
        policy,
        context.returns,
        context.targets,
        context.costs,
        start,
        end,
        context=context,
        reference_widths=widths,
    )[0]


def target_volatility(returns: np.ndarray, targets: np.ndarray, start: int, end: int) -> float:
    """Yearly volatility of the target held exactly over the sessions after ``start`` up to ``end``."""
    return float(np.std(returns[start + 1 : end + 1] @ targets, ddof=1) * math.sqrt(TRADING_DAYS))


def run_cell(
    name: str,
    label: str,
    returns: np.ndarray,
    days: tuple[date, ...],
    targets: np.ndarray,
    costs: SimCosts,
    start: int,
    end: int,
    default: TrackingTarget | None = None,
    risk_aversions: Sequence[float] = GAMMAS,
    risk: RiskModel | None = None,
) -> Cell:
    """Every baseline, the frontier and (with ``default``) a tracking target, on one path."""
    context = SimContext(returns, targets, costs, risk or RiskModel())
    outcomes = run_baselines(context, days, start, end)
    frontier = run_frontier(context, risk_aversions, start, end)
    checked = run_tracking(context, default, days, start, end) if default is not None else None
    volatility = target_volatility(returns, targets, start, end)
    return Cell(name, label, targets.size, outcomes, frontier, checked, volatility, tuple(risk_aversions))


# -- verdicts -----------------------------------------------------------------------------------------------


def frontier_dominates(frontier: list[Outcome], baseline: Outcome) -> bool:
    """Some risk aversion has lower tracking error and lower turnover-plus-cost than ``baseline``."""
    return any(point.dominates(baseline) for point in frontier)


def beaten_by(point: Outcome, baselines: dict[str, Outcome]) -> list[str]:
    """The baselines with both lower tracking error and lower turnover-plus-cost than ``point``."""
    return [k for k, b in baselines.items() if b.dominates(point)]


def beats(point: Outcome, baselines: dict[str, Outcome]) -> list[str]:
    """The baselines ``point`` has both lower tracking error and lower turnover-plus-cost than."""
    return [k for k, b in baselines.items() if point.dominates(b)]


def burden_at(frontier: list[Outcome], tracking_error: float) -> float | None:
    """The frontier's turnover-plus-cost at ``tracking_error`` (log-log interpolation), None outside it."""
    points = sorted((p.tracking_error, p.burden) for p in frontier if p.burden > 0)
    if len(points) < 2:
        return None
    te = np.log([p[0] for p in points])
    burden = np.log([p[1] for p in points])
    x = np.log(tracking_error)
    if not te[0] <= x <= te[-1]:
        return None
    return float(np.exp(np.interp(x, te, burden)))


def two_asset_ratio(cell: Cell) -> float | None:
    """Worst ratio over the edge bands of the frontier's burden at the band's tracking error to the band's."""
    ratios = []
    for key in EDGE_BANDS:
        band = cell.baselines[key]
        ours = burden_at(cell.frontier, band.tracking_error)
        if ours is not None and band.burden > 0:
            ratios.append(ours / band.burden)
    return max(ratios) if ratios else None


def dominated_by(cell: Cell) -> list[str]:
    """The baselines that dominate the cell's tracking-target run."""
    assert cell.default is not None
    return beaten_by(cell.default, cell.baselines)


# -- the recommendation -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recommendation:
    """The frontier point chosen, why, and the setting that asks the bot for it."""

    index: int
    """Position of the point on the frontier (``Cell.frontier`` / ``Cell.gammas``)."""
    gamma: float
    point: Outcome
    volatility: float
    beats: tuple[str, ...]
    beaten_by: tuple[str, ...]
    preset: str | None
    """The ``tracking`` preset whose target is within :data:`PRESET_TOLERANCE` of the point, if any."""

    @property
    def relative_tracking_error(self) -> float:
        """The point's tracking error as a share of the target portfolio's volatility (the presets' unit)."""
        return self.point.tracking_error / self.volatility if self.volatility > 0 else math.nan

    @property
    def target(self) -> TrackingTarget:
        """The tracking target the bot would run for this point."""
        if self.preset is not None:
            return TrackingTarget.preset(self.preset)
        return TrackingTarget(_rounded(self.relative_tracking_error), True, "relative_tracking_error")

    def policy_keys(self) -> dict[str, Any]:
        """The ``policy:`` keys that ask for this setting (the others of the section are left alone)."""
        if self.preset is not None:
            return {"kind": "objective", "tracking": self.preset}
        return {"kind": "objective", "relative_tracking_error": self.target.value}

    def setting(self) -> str:
        """The setting as it reads in the config."""
        return ", ".join(f"{k}: {v}" for k, v in self.policy_keys().items() if k != "kind")

    def reasons(self) -> list[str]:
        """Why this point, in numbers."""
        p = self.point
        lines = [
            f"At risk aversion {self.gamma:.2g} the objective tracked the target within "
            f"{p.tracking_error:.2%} a year ({self.relative_tracking_error:.1%} of the portfolio's "
            f"{self.volatility:.1%} volatility) for {p.turnover:.2%} turnover and {p.cost_bps:.1f} bp of "
            f"costs a year.",
        ]
        if self.beats:
            lines.append(
                f"It beats {len(self.beats)} baseline(s) on both tracking error and turnover-plus-cost: "
                f"{', '.join(self.beats)}."
            )
        else:
            lines.append("No frontier point beats a baseline on both axes in this window.")
        if self.beaten_by:
            lines.append(
                f"WARNING: every frontier point is beaten on both axes by some baseline; this one only by "
                f"{', '.join(self.beaten_by)}. Consider a band policy (policy: kind: bands)."
            )
        else:
            lines.append(
                "No baseline beats it on both; of the points that beat as many baselines, it trades least."
            )
        if self.preset is not None:
            lines.append(
                f"That is within 25% of the {self.preset!r} preset "
                f"({PRESETS[self.preset]:.0%} of the portfolio's volatility)."
            )
        else:
            nearest = min(PRESETS, key=lambda k: abs(math.log(PRESETS[k] / self.relative_tracking_error)))
            lines.append(
                f"No preset is within 25% of it (nearest: {nearest}, {PRESETS[nearest]:.0%}), so it is given "
                f"as an explicit relative tracking error."
            )
        return lines


def recommend(cell: Cell) -> Recommendation:
    """The frontier point to recommend: not dominated by any baseline if such a point exists, then the one
    that dominates the most baselines, then the one with the least turnover-plus-cost."""
    ranked = []
    for i, point in enumerate(cell.frontier):
        wins, losses = beats(point, cell.baselines), beaten_by(point, cell.baselines)
        ranked.append((len(losses), -len(wins), point.burden, i, wins, losses))
    _, _, _, index, wins, losses = min(ranked)
    point = cell.frontier[index]
    relative = point.tracking_error / cell.volatility if cell.volatility > 0 else math.nan
    return Recommendation(
        index=index,
        gamma=cell.gammas[index],
        point=point,
        volatility=cell.volatility,
        beats=tuple(wins),
        beaten_by=tuple(losses),
        preset=nearest_preset(relative),
    )


def nearest_preset(relative: float) -> str | None:
    """The preset within :data:`PRESET_TOLERANCE` of ``relative`` (the closest in ratio), if any."""
    if not relative > 0:
        return None
    name = min(PRESETS, key=lambda k: abs(math.log(PRESETS[k] / relative)))
    return name if abs(math.log(PRESETS[name] / relative)) <= math.log(PRESET_TOLERANCE) else None


def _rounded(value: float) -> float:
    """Two significant digits: a knob a user can read, not a fitted number."""
    return min(max(float(f"{value:.2g}"), 0.001), 0.99)
