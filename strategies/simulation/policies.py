"""The policies the weight-space simulation runs: the objective (a batch of risk aversions) and the
built-in baselines (calendar rebalancing and band rules, a batch of band widths).

The baselines follow the live planner's arithmetic (``strategies.planner``) on floats: breaching assets go
to target, to just inside the band edge or part-way back; cash above its goal goes to the most underweight
assets first (the planner's water-filling); buys that cash and the breaching sells cannot pay for are
funded by selling the most overweight assets still inside their bands, most overweight first; buys are
scaled down when cash above the buffer is short. ``tests/strategies/simulation`` checks each against the
backtester, which runs the real planner.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from strategies.objective.problem import (
    DEFAULT_CASH_DRAG,
    DecisionInputs,
    idle_cash_goal,
    trade_many,
    waits_many,
)
from strategies.planner import BAND_EDGE_INSET, TradeTo
from strategies.schedules import EverySession, Schedule
from strategies.simulation.path import SimContext


def check_mask(schedule: Schedule, days: Sequence[date], sessions: int) -> np.ndarray:
    """Sessions on which ``schedule`` looks, as a boolean mask over ``sessions``."""
    mask = np.zeros(sessions, dtype=bool)
    mask[list(schedule.check_indices(list(days)[:sessions]))] = True
    return mask


@dataclass(frozen=True)
class ObjectivePolicy:
    """The objective decision at every session, one portfolio per risk aversion in ``gammas``."""

    gammas: tuple[float, ...]
    cash_drag: float = DEFAULT_CASH_DRAG

    @property
    def size(self) -> int:
        return len(self.gammas)

    def checks(self, sessions: int) -> np.ndarray:
        return np.ones(sessions, dtype=bool)

    def decide(self, t: int, weights: np.ndarray, cash: np.ndarray, context: SimContext) -> np.ndarray:
        covariance = context.covariance(t)
        if covariance is None:  # no forecast yet: hold (the live bot falls back to its bands)
            return weights
        costs = context.costs
        cash_min = np.minimum(costs.cash_buffer, cash)
        cash_goal = idle_cash_goal(context.cash_target, costs.cash_buffer)
        n = weights.shape[1]
        gammas = np.asarray(self.gammas)
        wait = waits_many(
            weights,
            cash,
            gammas,
            context.targets,
            covariance,
            costs.half_spread,
            np.zeros(n),
            cash_min,
            np.zeros(n, dtype=bool),
            cash_goal,
            self.cash_drag,
        )
        if wait.all():
            return weights.copy()
        shared = DecisionInputs(
            weights[0],
            context.targets,
            covariance,
            costs.half_spread,
            costs.impact,
            cash_goal=cash_goal,
            cash_drag=self.cash_drag,
        )
        return trade_many(weights, np.flatnonzero(~wait), gammas, shared, cash_min)


@dataclass(frozen=True)
class CalendarPolicy:
    """Back to target on the schedule's sessions (monthly, quarterly, annual), as the planner does it:
    every asset goes to target, but buys never spend the cash buffer, so when the cash target is below
    the buffer the buys are scaled down (the underweight assets end short of target by the buffer) and a
    session on which every asset is underweight and cash sits at the buffer trades nothing."""

    schedule: Schedule
    days: tuple[date, ...]

    @property
    def size(self) -> int:
        return 1

    def checks(self, sessions: int) -> np.ndarray:
        return check_mask(self.schedule, self.days, sessions)

    def decide(self, t: int, weights: np.ndarray, cash: np.ndarray, context: SimContext) -> np.ndarray:
        buffer = context.costs.cash_buffer
        cash_goal = max(context.cash_target, buffer)
        out = weights.copy()
        for row in range(weights.shape[0]):
            w, c = weights[row], float(cash[row])
            goals = _deploy_excess_cash(context.targets.copy(), w, c, cash_goal, context.targets)
            out[row] = _scale_buys(goals, w, c, buffer)
        return out


@dataclass(frozen=True)
class BandPolicy:
    """Band rules, one portfolio per width: an asset breaches when its drift exceeds
    ``min(absolute, relative * target)`` (either may be None), checked on ``schedule``'s sessions."""

    absolute: tuple[float | None, ...]
    relative: tuple[float | None, ...]
    trade_to: TradeTo = TradeTo.TARGET
    partial_fraction: float = 0.5
    schedule: Schedule = EverySession()
    days: tuple[date, ...] = ()

    def __post_init__(self) -> None:
        if len(self.absolute) != len(self.relative):
            raise ValueError("absolute and relative widths must pair up")

    @property
    def size(self) -> int:
        return len(self.absolute)

    def checks(self, sessions: int) -> np.ndarray:
        if isinstance(self.schedule, EverySession):
            return np.ones(sessions, dtype=bool)
        return check_mask(self.schedule, self.days, sessions)

    def widths(self, targets: np.ndarray) -> np.ndarray:
        """Half-widths (rows x assets, then cash as the last column); read-only, kept per targets (a path
        asks for the same ones every session)."""
        return _band_widths(self.absolute, self.relative, tuple(targets.tolist()))

    def decide(self, t: int, weights: np.ndarray, cash: np.ndarray, context: SimContext) -> np.ndarray:
        targets = context.targets
        widths = self.widths(targets)
        cash_goal = max(context.cash_target, context.costs.cash_buffer)
        # on most sessions nothing breaches: find the rows that do, and plan only those (``_plan``'s test)
        breached = (np.abs(weights - targets) > widths[:, :-1]).any(axis=1) | (
            cash - cash_goal > widths[:, -1]
        )
        out = weights.copy()
        for row in np.flatnonzero(breached):
            out[row] = self._plan(weights[row], float(cash[row]), widths[row], context)
        return out

    def _plan(self, w: np.ndarray, cash: float, width: np.ndarray, context: SimContext) -> np.ndarray:
        """``strategies.planner.plan_rebalance`` on floats (steps 1, 2, 2b and 4)."""
        targets, buffer = context.targets, context.costs.cash_buffer
        cash_target = context.cash_target
        drift = w - targets
        breached = np.abs(drift) > width[:-1]
        cash_breached = cash - max(cash_target, buffer) > width[-1]
        if not (breached.any() or cash_breached):
            return w
        goals = w.copy()
        goals[breached] = self._goal(w[breached], targets[breached], width[:-1][breached])
        cash_goal = max(self._goal(cash, cash_target, width[-1]) if cash_breached else cash_target, buffer)
        goals = _deploy_excess_cash(goals, w, cash, cash_goal, targets)
        goals = _fund_from_overweight(goals, w, cash, targets, breached, buffer)
        return _scale_buys(goals, w, cash, buffer)

    def _goal(self, weight, target, width):  # noqa: ANN001, ANN202 - floats or arrays alike
        if self.trade_to is TradeTo.PARTIAL:
            return weight + self.partial_fraction * (target - weight)
        if self.trade_to is TradeTo.BAND_EDGE:
            inside = np.maximum(width - float(BAND_EDGE_INSET), 0.0)
            return np.maximum(np.where(weight > target, target + inside, target - inside), 0.0)
        return target + 0.0 * weight


@functools.lru_cache(maxsize=256)
def _band_widths(
    absolute: tuple[float | None, ...], relative: tuple[float | None, ...], targets: tuple[float, ...]
) -> np.ndarray:
    """:meth:`BandPolicy.widths` for one band set and one set of targets."""
    weights = np.array(targets)
    with_cash = np.append(weights, 1.0 - weights.sum())
    rows = []
    for width, share in zip(absolute, relative, strict=True):
        parts = [np.full(with_cash.size, np.inf)]
        if width is not None:
            parts.append(np.full(with_cash.size, width))
        if share is not None:
            parts.append(share * with_cash)
        row = np.min(parts, axis=0)
        if share is not None and with_cash[-1] <= 0:  # cash: relative only for a positive target
            row[-1] = width if width is not None else np.inf
        rows.append(row)
    widths = np.array(rows)
    widths.flags.writeable = False
    return widths


def water_fill(gaps: np.ndarray, budget: float) -> np.ndarray:
    """``strategies.planner.water_fill`` on floats: ``budget`` to the largest positive gaps first, leaving
    every funded one at the same remaining gap."""
    positive = np.maximum(gaps, 0.0)
    total = float(positive.sum())
    if budget <= 0 or total <= 0:
        return np.zeros_like(positive)
    if budget >= total:
        return positive
    ordered = np.sort(positive)[::-1]
    levels = (np.cumsum(ordered) - budget) / np.arange(1, len(ordered) + 1)
    following = np.append(ordered[1:], 0.0)
    level = levels[int(np.argmax(levels >= following))]
    return np.maximum(positive - level, 0.0)


def _deploy_excess_cash(
    goals: np.ndarray, w: np.ndarray, cash: float, cash_goal: float, targets: np.ndarray
) -> np.ndarray:
    """Cash above its goal goes to the assets below target, most underweight first."""
    excess = cash + float((w - goals).sum()) - cash_goal
    return goals + water_fill(targets - goals, excess)


def _fund_from_overweight(
    goals: np.ndarray, w: np.ndarray, cash: float, targets: np.ndarray, breached: np.ndarray, buffer: float
) -> np.ndarray:
    """Buys that cash and the sells cannot pay for are funded by the untouched assets, most overweight
    first."""
    need = float(np.maximum(goals - w, 0.0).sum())
    freed = float(np.maximum(w - goals, 0.0).sum())
    short = need - (cash + freed - buffer)
    if short <= 0:
        return goals
    untouched = ~breached & (goals == w)
    return goals - water_fill(np.where(untouched, w - targets, 0.0), short)


def _scale_buys(goals: np.ndarray, w: np.ndarray, cash: float, buffer: float) -> np.ndarray:
    """Buys share the cash above the buffer (plus what the sells free), pro rata when it is short."""
    buys = np.maximum(goals - w, 0.0)
    sells = np.maximum(w - goals, 0.0)
    spendable = cash + float(sells.sum()) - buffer
    total = float(buys.sum())
    scale = 1.0 if total <= spendable or total == 0 else max(spendable, 0.0) / total
    return w - sells + buys * scale
