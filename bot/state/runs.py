"""Runs and plans: each start of the bot, and every rebalance plan with its status and the hash a person
approves. Plan status changes follow :data:`PLAN_TRANSITIONS`; leaving ``held`` closes a pending approval in
the same transaction, and only a decision (:meth:`bot.state.approvals.ApprovalsAndAudit.decide_approval`)
moves a plan to ``approved`` or ``rejected``."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, select, update

from bot.state.db import Database, find, insert_row, record, update_rows
from bot.state.errors import ApprovalError, InvalidTransition, StateError, UnknownRecord
from bot.state.schema import approvals, plans, runs

PLAN_STATUSES = frozenset(
    {
        "planned",
        "held",
        "approved",
        "rejected",
        "refused",
        "executing",
        "done",
        "failed",
        "superseded",
        "expired",
    }  # fmt: skip
)
UNFINISHED_PLAN_STATUSES = ("planned", "approved", "executing")
"""What a restarted bot must pick up again (``held`` waits for a person, not for the bot)."""
TERMINAL_PLAN_STATUSES = frozenset({"rejected", "refused", "done", "failed", "superseded", "expired"})
PLAN_TRANSITIONS: Mapping[str, frozenset[str]] = {
    "planned": frozenset({"held", "refused", "executing", "superseded", "failed", "expired"}),
    "held": frozenset({"approved", "rejected", "superseded", "expired", "failed"}),
    "approved": frozenset({"executing", "superseded", "expired", "failed"}),
    "executing": frozenset({"done", "failed"}),
    **{status: frozenset() for status in TERMINAL_PLAN_STATUSES},
}
"""Allowed plan status changes (setting the current status again is always allowed and updates the reason).
Terminal statuses never change, so a finished plan cannot be executed again."""


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    kind: str
    config_hash: str
    status: str
    """``running`` until finished; ``interrupted`` when a later run started while it was still running."""
    started_at: datetime
    finished_at: datetime | None
    summary: dict = field(hash=False)
    pid: int | None
    host: str | None


@dataclass(frozen=True)
class PlanRecord:
    plan_id: str
    run_id: str | None
    account: str
    content_hash: str
    status: str
    status_reason: str
    explanation: str
    details: dict = field(hash=False)
    created_at: datetime
    updated_at: datetime


def statuses(status: str | Collection[str] | None) -> tuple[str, ...] | None:
    if status is None:
        return None
    return (status,) if isinstance(status, str) else tuple(status)


def check_plan_status(status: str) -> None:
    if status not in PLAN_STATUSES:
        raise ValueError(f"unknown plan status {status!r} (one of {', '.join(sorted(PLAN_STATUSES))})")


class RunsAndPlans:
    """The runs and plans aggregate. ``now`` is the wall clock for bookkeeping times (run start, updated_at);
    plan creation times are passed in on the broker's clock."""

    def __init__(self, db: Database, now: Callable[[], datetime]) -> None:
        self.db = db
        self._now = now
        self._last_run_stamp: datetime | None = None

    # -- runs ------------------------------------------------------------------------------------------------
    def start_run(self, kind: str, config_hash: str) -> str:
        """Record the start of a bot run; returns its id (time-based, so ids sort in start order).

        Runs still marked ``running`` are marked ``interrupted``: only one bot runs per state (see
        :class:`bot.state.lock.StateLock`), so such a run ended without finishing (crash, SIGKILL).
        """
        with self.db.write() as conn:
            started = self._now().astimezone(UTC)
            if self._last_run_stamp is not None and started <= self._last_run_stamp:
                started = self._last_run_stamp + timedelta(microseconds=1)
            self._last_run_stamp = started
            run_id = f"{started:%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}"
            conn.execute(
                update(runs)
                .where(runs.c.status == "running")
                .values(status="interrupted", finished_at=started)
            )
            insert_row(
                conn,
                runs,
                dict(
                    run_id=run_id,
                    kind=kind,
                    config_hash=config_hash,
                    status="running",
                    started_at=started,
                    pid=os.getpid(),
                    host=socket.gethostname(),
                ),
            )
        return run_id

    def finish_run(self, run_id: str, status: str, summary: Mapping[str, Any] | None = None) -> None:
        with self.db.write() as conn:
            result = conn.execute(
                update(runs)
                .where(runs.c.run_id == run_id)
                .values(status=status, finished_at=self._now(), summary=dict(summary or {}))
            )
            if result.rowcount == 0:
                raise UnknownRecord(f"no run {run_id!r}")

    def get_run(self, run_id: str) -> RunRecord | None:
        with self.db.read() as conn:
            found = find(conn, runs, run_id=run_id)
        return _run(found[0]) if found else None

    def last_run(self) -> RunRecord | None:
        found = self.runs(1)
        return found[0] if found else None

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """Newest first."""
        with self.db.read() as conn:
            return [_run(row) for row in find(conn, runs, ("started_at desc", "run_id desc"), limit=limit)]

    # -- plans -----------------------------------------------------------------------------------------------
    def save_plan(
        self,
        plan_id: str,
        run_id: str | None,
        account: str,
        content_hash: str,
        status: str,
        explanation: str,
        details: Mapping[str, Any],
        created_at: datetime,
    ) -> None:
        """Store a new plan. Saving the same plan id again with the same account and hash is a no-op (a
        retry); with different content it raises :class:`StateError`."""
        check_plan_status(status)
        with self.db.write() as conn:
            existing = conn.execute(
                select(plans.c.account, plans.c.content_hash).where(plans.c.plan_id == plan_id)
            ).first()
            if existing is not None:
                if tuple(existing) == (account, content_hash):
                    return
                raise StateError(f"plan {plan_id!r} already exists with different content")
            insert_row(
                conn,
                plans,
                dict(
                    plan_id=plan_id,
                    run_id=run_id,
                    account=account,
                    content_hash=content_hash,
                    status=status,
                    status_reason="",
                    explanation=explanation,
                    details=dict(details),
                    created_at=created_at,
                    updated_at=self._now(),
                ),
            )

    def set_plan_status(
        self, plan_id: str, status: str, reason: str = "", *, expected: str | Collection[str] | None = None
    ) -> PlanRecord:
        """Move a plan to ``status`` (see :data:`PLAN_TRANSITIONS`); returns the updated record.

        ``expected`` makes it a compare-and-set: the change happens only if the plan is currently in one of
        those statuses (else :class:`InvalidTransition`). ``approved``/``rejected`` can only follow a matching
        decision (which already sets them). Leaving ``held`` for any other status closes a pending approval
        in the same transaction (as ``superseded``, ``expired`` or ``canceled``).
        """
        check_plan_status(status)
        allowed_from = statuses(expected)
        with self.db.write() as conn:
            current = conn.execute(select(plans.c.status).where(plans.c.plan_id == plan_id)).scalar()
            if current is None:
                raise UnknownRecord(f"no plan {plan_id!r}")
            if allowed_from is not None and current not in allowed_from:
                raise InvalidTransition(
                    f"plan {plan_id} is {current}, expected {' or '.join(allowed_from)}; not set to {status}"
                )
            if status != current and status not in PLAN_TRANSITIONS[current]:
                raise InvalidTransition(f"plan {plan_id} cannot go from {current} to {status}")
            approval = conn.execute(select(approvals.c.status).where(approvals.c.plan_id == plan_id)).scalar()
            if status in ("approved", "rejected") and approval != status:
                raise ApprovalError(f"plan {plan_id} can only be {status} through decide_approval")
            if approval == "pending" and status != "held":
                closed = status if status in ("superseded", "expired") else "canceled"
                why = f"plan became {status}" + (f": {reason}" if reason else "")
                closing = dict(status=closed, decided_at=self._now(), reason=why)
                update_rows(conn, approvals, {"plan_id": plan_id}, closing)
            changes = dict(status=status, status_reason=reason, updated_at=self._now())
            update_rows(conn, plans, {"plan_id": plan_id}, changes)
            return _plan(conn.execute(select(plans).where(plans.c.plan_id == plan_id)).one())

    def get_plan(self, plan_id: str) -> PlanRecord | None:
        with self.db.read() as conn:
            found = find(conn, plans, plan_id=plan_id)
        return _plan(found[0]) if found else None

    def plans(
        self,
        account: str | tuple[str, ...] | None = None,
        status: str | Collection[str] | None = None,
        limit: int = 50,
    ) -> list[PlanRecord]:
        """Newest first (by ``created_at``); ``status`` may be one status or several, ``account`` one
        owner or a tuple of them."""
        newest = ("created_at desc", "plan_id desc")
        with self.db.read() as conn:
            found = find(conn, plans, newest, limit=limit, account=account, status=statuses(status))
        return [_plan(row) for row in found]

    def unfinished_plans(self, account: str) -> list[PlanRecord]:
        """Plans a restarted bot must carry on with (planned, approved, executing), oldest first."""
        oldest = ("created_at", "plan_id")
        with self.db.read() as conn:
            found = find(conn, plans, oldest, account=account, status=UNFINISHED_PLAN_STATUSES)
        return [_plan(row) for row in found]


def _run(row: Row[Any]) -> RunRecord:
    return record(RunRecord, row)


def _plan(row: Row[Any]) -> PlanRecord:
    return record(PlanRecord, row)
