"""One scheduler turn, shared by the account bot and the household bot.

Both own plans in the state database under one name (an account, or a household) and take the same turn: a
plan already in flight is driven first (an approved plan is re-checked and started, an executing one
advanced, nothing while the market is closed); otherwise held plans may expire and, when a cycle is due on the
broker's clock, a new cycle runs. What happens to a plan (stored, gated, held, started, expired) is the shared
pipeline's (:mod:`bot.pipeline`); only what differs, the cycle itself, the re-check on approval, what a halt
cancels, lives in :class:`bot.cycle.AccountBot` and :class:`bot.household.HouseholdBot`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import structlog

from bot.approval.recheck import Recheck
from bot.broker.models import BrokerClock
from bot.config import ScheduleConfig
from bot.pipeline import CycleOutcome, PlanPipeline, Replacement
from bot.pipeline.protocols import Advancing
from bot.state.store import PlanRecord, StateStore

NEW_YORK = ZoneInfo("America/New_York")
log = structlog.get_logger(__name__)

__all__ = ["NEW_YORK", "CycleOutcome", "PlanningTurn", "cycle_due", "session_open"]


class PlanningTurn:
    """Base of the account and household bots: the turn; subclasses supply the owner, their pipeline
    (:class:`bot.pipeline.PlanPipeline`, which owns the plan's lifecycle) and the hooks."""

    store: StateStore
    executor: Advancing
    pipeline: PlanPipeline
    _last_cycle: datetime | None
    log_key = "account"
    """The structlog context key naming the owner in every line of the turn."""

    @property
    def owner(self) -> str:
        """The name the owner's plans are stored under."""
        return self.pipeline.owner

    @property
    def schedule(self) -> ScheduleConfig:
        raise NotImplementedError

    def trade_date(self) -> date:
        """Today on the New York calendar (the trade date tax law and the re-ask cap count in)."""
        return self.pipeline.trade_date()

    def tick(self, broker_clock: BrokerClock, run_id: str) -> CycleOutcome:
        structlog.contextvars.bind_contextvars(**{self.log_key: self.owner, "run_id": run_id})
        try:
            halted = self.store.get_flag("halted")
            if halted:  # the outcome carries the reason a person gave, like status and the alert
                outcome = self._halted()
                return replace(outcome, detail=f"halted ({halted}): {outcome.detail}")
            in_flight = self.pipeline.in_flight()
            if in_flight is not None:
                if not broker_clock.is_open:
                    return CycleOutcome("waiting for the open", in_flight.plan_id)
                if in_flight.status == "approved":
                    outcome = self.pipeline.start_approved(in_flight, broker_clock, run_id, self)
                    if outcome is not None:
                        return outcome
                    in_flight = self.store.get_plan(in_flight.plan_id) or in_flight
                status = self.executor.advance(in_flight)
                return CycleOutcome(f"plan {status}", in_flight.plan_id)
            self.pipeline.expire_held(broker_clock)
            if self._paused() or not cycle_due(self.schedule, broker_clock, self._last_cycle):
                return CycleOutcome("idle")
            self._last_cycle = broker_clock.timestamp
            return self.run_cycle(run_id)
        finally:
            structlog.contextvars.unbind_contextvars(self.log_key, "run_id")

    def _paused(self) -> bool:
        """True when the owner must not plan on its own (a manual account)."""
        return False

    # -- hooks -----------------------------------------------------------------------------------------------
    def _halted(self) -> CycleOutcome:
        raise NotImplementedError

    def run_cycle(self, run_id: str) -> CycleOutcome:
        raise NotImplementedError

    # the approved plan's start (bot.pipeline.protocols.ApprovedStart)
    def resume_start(self, plan: PlanRecord, run_id: str) -> bool:
        """True when a crash cut the plan's start short and it is now finished; by default there is none."""
        return False

    def recheck(self, plan: PlanRecord, run_id: str) -> tuple[Recheck, Replacement]:
        raise NotImplementedError

    def start_approved(self, plan: PlanRecord, run_id: str, check: Recheck) -> None:
        raise NotImplementedError


def session_open(clock: BrokerClock) -> datetime:
    """The current session's open: the broker reports only the next one, so take it from the calendar rule
    that regular sessions open at 09:30 New York time."""
    local = clock.timestamp.astimezone(NEW_YORK)
    return local.replace(hour=9, minute=30, second=0, microsecond=0)


def cycle_due(schedule: ScheduleConfig, clock: BrokerClock, last_cycle: datetime | None) -> bool:
    """Whether a new cycle may run now: inside the trading window the schedule allows (after the opening
    minutes it skips, before the minutes it leaves before the close), one interval after the last."""
    if schedule.only_when_open and not clock.is_open:
        return False
    if clock.is_open:
        if clock.timestamp < session_open(clock) + timedelta(minutes=schedule.skip_first_minutes):
            return False
        if clock.timestamp > clock.next_close - timedelta(minutes=schedule.stop_before_close_minutes):
            return False
    if last_cycle is None:
        return True
    return clock.timestamp - last_cycle >= timedelta(minutes=schedule.interval_minutes)
