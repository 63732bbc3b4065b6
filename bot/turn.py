"""One scheduler turn, shared by the account bot and the household bot.

Both own plans in the state database under one name (an account, or a household) and take the same turn: a
plan already in flight is driven first (an approved plan is re-checked and started, an executing one
advanced, nothing while the market is closed); otherwise held plans may expire and, when a cycle is due on the
broker's clock, a new cycle runs. Only what differs, the cycle itself, the re-check on approval, what a halt
cancels, lives in :class:`bot.cycle.AccountBot` and :class:`bot.household.HouseholdBot`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import structlog

from bot.approval.lifecycle import lapsed
from bot.broker.models import BrokerClock
from bot.config import ScheduleConfig
from bot.pipeline.outcome import CycleOutcome
from bot.state.store import PlanRecord, StateStore

NEW_YORK = ZoneInfo("America/New_York")
log = structlog.get_logger(__name__)


class Advancing(Protocol):
    def advance(self, plan: PlanRecord) -> str: ...


class PlanningTurn:
    """Base of the account and household bots: the turn; subclasses supply the owner and the hooks."""

    store: StateStore
    executor: Advancing
    _last_cycle: datetime | None
    log_key = "account"
    """The structlog context key naming the owner in every line of the turn."""

    @property
    def owner(self) -> str:
        """The name the owner's plans are stored under."""
        raise NotImplementedError

    @property
    def schedule(self) -> ScheduleConfig:
        raise NotImplementedError

    def tick(self, broker_clock: BrokerClock, run_id: str) -> CycleOutcome:
        structlog.contextvars.bind_contextvars(**{self.log_key: self.owner, "run_id": run_id})
        try:
            halted = self.store.get_flag("halted")
            if halted:  # the outcome carries the reason a person gave, like status and the alert
                outcome = self._halted()
                return replace(outcome, detail=f"halted ({halted}): {outcome.detail}")
            in_flight = self._in_flight()
            if in_flight is not None:
                if not broker_clock.is_open:
                    return CycleOutcome("waiting for the open", in_flight.plan_id)
                if in_flight.status == "approved":
                    outcome = self._start_approved(in_flight, broker_clock, run_id)
                    if outcome is not None:
                        return outcome
                    in_flight = self.store.get_plan(in_flight.plan_id) or in_flight
                status = self.executor.advance(in_flight)
                return CycleOutcome(f"plan {status}", in_flight.plan_id)
            self._expire_held(broker_clock)
            if self._paused() or not cycle_due(self.schedule, broker_clock, self._last_cycle):
                return CycleOutcome("idle")
            self._last_cycle = broker_clock.timestamp
            return self.run_cycle(run_id)
        finally:
            structlog.contextvars.unbind_contextvars(self.log_key, "run_id")

    def _in_flight(self) -> PlanRecord | None:
        for plan in self.store.unfinished_plans(self.owner):
            if plan.status in ("approved", "executing"):
                return plan
            if plan.status == "planned":  # stored, then the process died before it was gated
                self.store.set_plan_status(plan.plan_id, "superseded", "interrupted before the approval gate")
        return None

    def _paused(self) -> bool:
        """True when the owner must not plan on its own (a manual account)."""
        return False

    # -- hooks -----------------------------------------------------------------------------------------------
    def _halted(self) -> CycleOutcome:
        raise NotImplementedError

    def _start_approved(self, plan: PlanRecord, clock: BrokerClock, run_id: str) -> CycleOutcome | None:
        raise NotImplementedError

    def _expire_held(self, clock: BrokerClock) -> None:
        """Held plans of this owner whose approval request lapsed (by default at the close) expire."""
        for approval in self.store.pending_approvals():
            plan = self.store.get_plan(approval.plan_id)
            if plan is None or plan.account != self.owner:
                continue
            if lapsed(approval.expires_at, clock.timestamp):
                self.store.set_plan_status(
                    plan.plan_id, "expired", "no decision before the request expired", expected="held"
                )
                self.store.expire_approval(plan.plan_id)
                self.store.audit("approval_expired", account=self.owner, plan_id=plan.plan_id, state="held")
                log.info("held plan expired without a decision", plan_id=plan.plan_id)

    def _expired_before_start(self, plan: PlanRecord, clock: BrokerClock) -> CycleOutcome | None:
        """An approved plan whose approval lapsed before it could start (the close came) expires instead."""
        approval = self.store.get_approval(plan.plan_id)
        if approval is None or not lapsed(approval.expires_at, clock.timestamp):
            return None
        self.store.set_plan_status(
            plan.plan_id,
            "expired",
            "approved, but the market closed before it could start",
            expected="approved",
        )
        self.store.audit("approval_expired", account=self.owner, plan_id=plan.plan_id, state="approved")
        log.warning("approved plan expired before it could start", plan_id=plan.plan_id)
        return CycleOutcome("approval expired", plan.plan_id)

    def run_cycle(self, run_id: str) -> CycleOutcome:
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
