"""Calibrating the objective on one config's own assets: the work behind ``rebalance-bot tune``.

The config's targets are run, walk-forward, on real history (:mod:`bot.backtest.frontier`): every built-in
baseline, the objective at a range of fixed risk aversions (the frontier), and then the recommended setting
as the live bot runs it (its risk aversion refitted every quarter on the trailing window), so the user sees
what the setting they write will do, not only the fixed point it was read from.

**Window.** The scored window ends at ``end`` (default: the last session of the data) and starts
:data:`DEFAULT_YEARS` before it, but never before :attr:`Window.warmup` sessions of history: the risk
forecast of the first scored decision needs the risk model's whole window of returns before it (two years
by default). Nothing in a run is chosen with returns from the session it decides on or later. At least
:data:`MIN_SESSIONS` scored sessions (a year) are required: a shorter window says little about a policy
that may trade a few times a year.

**Costs** are the paper broker's (spread and square-root impact for ``capital`` dollars) and the config's
cash buffer, the same in every policy; the objective uses the config's risk model and cash drag.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from bot.backtest.data import MarketDataError, PriceHistory, load_history
from bot.backtest.frontier import (
    ACCOUNT,
    Cell,
    Recommendation,
    Watch,
    beaten_by,
    daily_returns,
    gammas,
    recommend,
    run_baselines,
    run_frontier,
    run_tracking,
    sim_costs,
    target_volatility,
)
from bot.backtest.progress import Progress
from bot.config import BotConfig
from strategies.objective.trigger import ObjectiveSpec
from strategies.simulation.path import Outcome, SimContext
from strategies.targets import TargetAllocation

DEFAULT_YEARS = 10
"""Scored window by default: long enough to hold calm and stormy markets, short enough that a run for a
2-4 asset config takes about a minute on two cores (most of it the quarterly refits of the last run)."""
DEFAULT_POINTS = 10
"""Risk aversions on the frontier by default."""
MIN_SESSIONS = 252
"""Fewest scored sessions accepted."""


class TuneError(Exception):
    """The inputs cannot be tuned on; the message names the problem and what to do."""


@dataclass(frozen=True)
class Window:
    """The history a run reads and the sessions it scores."""

    history: PriceHistory
    start: int
    """Index of the session invested at target; scoring starts after it."""
    end: int
    warmup: int
    """Sessions of history required before ``start`` (the risk model's window)."""

    @property
    def first_day(self) -> date:
        return self.history.days[self.start]

    @property
    def last_day(self) -> date:
        return self.history.days[self.end]

    @property
    def sessions(self) -> int:
        return self.end - self.start

    def label(self) -> str:
        return f"{self.first_day} to {self.last_day}"


def load_window(
    allocation: TargetAllocation,
    warmup: int,
    start: date | None = None,
    end: date | None = None,
    data_dir: Path | None = None,
    years: int = DEFAULT_YEARS,
) -> Window:
    """Read the targets' history (to ``end``) and place the scored window in it; :class:`TuneError` when
    the data cannot hold it."""
    if start is not None and end is not None and start >= end:
        raise TuneError(f"--start {start} is not before --end {end}")
    try:
        history = load_history(allocation.symbols, None, end, data_dir)
    except MarketDataError as exc:
        raise TuneError(_data_problem(str(exc), data_dir)) from exc
    last = len(history.days) - 1
    if end is not None and history.end < end and (end - history.end).days > 7:
        raise TuneError(
            f"the data ends {history.end}, before --end {end}: give an earlier --end, or --data with newer "
            "history (or --alpaca)"
        )
    wanted = start if start is not None else _years_before(history.days[last], years)
    try:
        first = history.first_on_or_after(wanted)
    except MarketDataError as exc:
        raise TuneError(f"{exc}: give an earlier --start") from exc
    if start is None:
        first = max(first, warmup)
    if first < warmup:
        earliest = history.days[min(warmup, last)]
        raise TuneError(
            f"only {first} sessions of history before {history.days[first]} (the data for "
            f"{', '.join(history.symbols)} starts {history.start}); the risk forecasts need {warmup} "
            f"before the first scored session: give --start on or after {earliest}, or --data with longer "
            "history"
        )
    if last - first < MIN_SESSIONS:
        raise TuneError(
            f"too little history: {last - first} sessions from {history.days[min(first, last)]} to "
            f"{history.end}, after the {warmup}-session warm-up from {history.start}; tuning needs at "
            f"least {MIN_SESSIONS} (a year): give an earlier --start or a later --end, or --data with longer "
            "history"
        )
    return Window(history, first, last, warmup)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _data_problem(message: str, data_dir: Path | None) -> str:
    """The data layer's message, with what to do about it."""
    if "no daily file for" in message:
        where = f"--data {data_dir}" if data_dir else "the bundled data"
        return (
            f"{message}: {where} has no prices for that symbol; give --data DIR with a daily_SYMBOL.csv for "
            "every target (see bot/backtest/data.py for the layout) or --alpaca"
        )
    if "not a directory" in message:
        return f"{message}: --data must be a directory of daily CSV files (daily_SPY.csv, ...)"
    return message


@dataclass(frozen=True)
class TuneResult:
    """Everything ``tune`` found: the frontier and baselines (``cell``), the recommendation, and the
    recommended setting run as the bot runs it."""

    cell: Cell
    recommendation: Recommendation
    checked: Outcome
    """The recommended setting, refitted every quarter as the live bot does, over the same window."""
    window: Window
    capital: float
    seconds: float
    weights: dict[str, float]
    """The targets, cash included."""

    @property
    def checked_beaten_by(self) -> list[str]:
        return beaten_by(self.checked, self.cell.baselines)


def tune(
    config: BotConfig,
    window: Window,
    points: int = 10,
    capital: float = ACCOUNT,
    progress: Progress | None = None,
    label: str = "config",
) -> TuneResult:
    """Run the baselines, the frontier and the recommended setting on ``window``; recommend a setting."""
    started = time.perf_counter()
    progress = progress or Progress()
    spec: ObjectiveSpec = config.objective_spec()
    history = window.history
    allocation = config.targets.to_allocation()
    targets = np.array([float(allocation.weight(s)) for s in history.symbols])
    returns = daily_returns(history)
    costs = sim_costs(history, returns, capital, cash_buffer=float(config.execution.cash_buffer))
    context = SimContext(returns, targets, costs, spec.risk)
    start, end = window.start, window.end
    progress.phase("baselines", 6)
    baselines = run_baselines(context, history.days, start, end, done=lambda _: progress.step())
    risk_aversions = gammas(points)
    progress.phase(f"objective at {points} risk aversions", window.sessions)
    frontier = run_frontier(context, risk_aversions, start, end, spec.cash_drag, _each_session(progress))
    volatility = target_volatility(returns, targets, start, end)
    cell = Cell(label, window.label(), targets.size, baselines, frontier, None, volatility, risk_aversions)
    recommendation = recommend(cell)
    progress.phase("recommended setting, refitted quarterly", window.sessions)
    checked = run_tracking(
        context, recommendation.target, history.days, start, end, spec.cash_drag, _each_session(progress)
    )
    cell = Cell(label, window.label(), targets.size, baselines, frontier, checked, volatility, risk_aversions)
    weights = {s: float(allocation.weight(s)) for s in history.symbols}
    if allocation.cash:
        weights["cash"] = float(allocation.cash)
    seconds = time.perf_counter() - started
    return TuneResult(cell, recommendation, checked, window, capital, seconds, weights)


def _each_session(progress: Progress) -> Watch:
    return lambda _t: progress.step()
