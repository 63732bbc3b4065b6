"""WHEN a policy looks at the portfolio, and the calendar rule that rebalances whenever it looks.

A rebalancing policy is a schedule of check dates + a trigger evaluated on them + planner settings. The
bot's own policy looks at every poll (:class:`EverySession` in a daily backtest) with a band trigger; the
textbook baselines (``research/NOTES.md`` section 1) look less often:

* calendar monthly / quarterly / annual: :class:`Periodic` + :class:`CalendarTrigger` (always fires);
* a 5 pp band checked monthly (Vanguard): :class:`Periodic` + ``BandTrigger``;
* a 20% relative band checked every two weeks, trading half-way back (Daryanani):
  ``Periodic(WEEK, every=2)`` + ``BandTrigger`` + ``TradeTo.PARTIAL``.

Schedules are pure functions of dates: ``is_due(day, last_check)`` answers one day at a time (what a live
scheduler would ask), and ``check_indices(sessions)`` answers for a whole list of sessions at once (what a
backtest asks); both agree. The first session of a list is never a check: a backtest invests on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol, runtime_checkable

from strategies.portfolio import PortfolioSnapshot, apply_open_orders, drift, total_equity
from strategies.targets import CASH, TargetAllocation
from strategies.triggers import NO_CONTEXT, AssetCheck, TriggerContext, TriggerDecision


@runtime_checkable
class Schedule(Protocol):
    """Which sessions a policy checks the portfolio on."""

    def is_due(self, day: date, last_check: date | None) -> bool:
        """Whether ``day`` is a check date, given the previous check (None: the first session seen)."""
        ...

    def check_indices(self, sessions: Sequence[date]) -> tuple[int, ...]:
        """Indices into ``sessions`` (ascending, trading days) of the check dates; never 0."""
        ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class EverySession:
    """Check at every session (the live bot polls all day; a daily backtest looks at each close)."""

    def is_due(self, day: date, last_check: date | None) -> bool:
        return last_check is None or day > last_check

    def check_indices(self, sessions: Sequence[date]) -> tuple[int, ...]:
        return tuple(range(1, len(sessions)))

    def describe(self) -> str:
        return "every session"


@dataclass(frozen=True)
class NoChecks:
    """Never look again after the start ("buy and hold", the never-rebalance baseline)."""

    def is_due(self, day: date, last_check: date | None) -> bool:
        return False

    def check_indices(self, sessions: Sequence[date]) -> tuple[int, ...]:
        return ()

    def describe(self) -> str:
        return "never"


class Period(StrEnum):
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


def period_index(day: date, period: Period) -> int:
    """A running number of the calendar period ``day`` falls in (weeks start on Monday)."""
    if period is Period.WEEK:
        return (day.toordinal() - 1) // 7  # ordinal 1 (0001-01-01) is a Monday
    if period is Period.MONTH:
        return day.year * 12 + day.month - 1
    if period is Period.QUARTER:
        return day.year * 4 + (day.month - 1) // 3
    return day.year


@dataclass(frozen=True)
class Periodic:
    """Check on the first session of every ``every``-th calendar period, counted from the start's period.

    ``Periodic(MONTH)`` is the first trading day of each month (the convention of ``bt``'s ``RunMonthly``);
    ``Periodic(WEEK, every=2)`` is the first trading day of every other week.
    """

    period: Period
    every: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "period", Period(self.period))
        if self.every < 1:
            raise ValueError(f"every must be >= 1, got {self.every}")

    def is_due(self, day: date, last_check: date | None) -> bool:
        if last_check is None:
            return True
        return period_index(day, self.period) - period_index(last_check, self.period) >= self.every

    def check_indices(self, sessions: Sequence[date]) -> tuple[int, ...]:
        if not sessions:
            return ()
        indices: list[int] = []
        last = period_index(sessions[0], self.period)
        for i in range(1, len(sessions)):
            current = period_index(sessions[i], self.period)
            if current - last >= self.every:
                indices.append(i)
                last = current
        return tuple(indices)

    def describe(self) -> str:
        unit = {Period.WEEK: "week", Period.MONTH: "month", Period.QUARTER: "quarter", Period.YEAR: "year"}
        noun = unit[self.period]
        return f"first session of every {noun}" if self.every == 1 else f"every {self.every} {noun}s"


@dataclass(frozen=True)
class CalendarTrigger:
    """Fires whenever it is evaluated: on a calendar date every asset is traded back (no band is consulted).

    Every targeted or held asset is marked breached, and cash too when it is above its target, so the planner
    moves each of them to its goal (by ``trade_to``) and invests any excess cash. Pair it with a schedule.
    """

    name: str = "calendar"

    def evaluate(
        self, snapshot: PortfolioSnapshot, targets: TargetAllocation, context: TriggerContext = NO_CONTEXT
    ) -> TriggerDecision:
        projected = apply_open_orders(snapshot)
        if total_equity(projected) <= 0:
            return TriggerDecision(self.name, False, "portfolio has no equity; nothing to rebalance")
        rows = tuple(
            AssetCheck(
                symbol,
                row.weight,
                row.target,
                row.absolute,
                row.relative,
                None,
                symbol != CASH or row.absolute > 0,
            )
            for symbol, row in drift(projected, targets).items()
        )
        when = f" of {context.now:%Y-%m-%d}" if context.now is not None else ""
        return TriggerDecision(
            self.name, True, f"scheduled rebalance{when}: every asset back to its goal", rows
        )
