"""The bot's durable memory: runs, plans, orders, fills, approvals, flags, audit events and the tax ledger's
inputs, in SQLite (a file in the state directory: the embedded default) or PostgreSQL (for fleets).

It is what makes the bot crash-safe. Every order gets an *intent* row (its deterministic client_order_id)
before it is submitted, so a restarted bot looks the order up at the broker instead of sending it again; every
plan is stored with the content hash a person approves, and an approval only counts for that exact hash.

:class:`StateStore` opens the database (:class:`bot.state.db.Database`: engine, write lock, SQLite pragmas),
brings its schema up to date with Alembic (:mod:`bot.state.migrate`) and hands out one repository per
aggregate, on SQLAlchemy Core (tables in :mod:`bot.state.schema`):

* ``runs_and_plans`` (:class:`~bot.state.runs.RunsAndPlans`),
* ``orders_and_executions`` (:class:`~bot.state.orders.OrdersAndExecutions`),
* ``approvals_and_audit`` (:class:`~bot.state.approvals.ApprovalsAndAudit`, flags and links included),
* ``tax_ledger`` (:class:`~bot.state.tax_ledger.TaxLedger`).

For now every repository method is also a method of the store (``store.save_plan(...)`` is
``store.runs_and_plans.save_plan(...)``), so the bot's modules and tests keep calling the store; the crash
test wraps those store methods to kill the bot at each state write. Money and quantities come back as
:class:`~decimal.Decimal` (stored as exact text); times as tz-aware UTC datetimes (a naive datetime passed in
is taken as UTC).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.exc import OperationalError

from bot.state.approvals import APPROVAL_STATUSES, ApprovalRecord, ApprovalsAndAudit, AuditRecord
from bot.state.db import BUSY_TIMEOUT_MS, Database
from bot.state.errors import ApprovalError, InvalidTransition, StateError, UnknownRecord
from bot.state.migrate import upgrade
from bot.state.order_records import (
    FINAL_ORDER_STATUSES,
    INTENT,
    SIDES,
    ExecChildRecord,
    ExecParentRecord,
    ExecutionReportRecord,
    FillRecord,
    OrderRecord,
)
from bot.state.orders import OrdersAndExecutions
from bot.state.runs import (
    PLAN_STATUSES,
    PLAN_TRANSITIONS,
    TERMINAL_PLAN_STATUSES,
    UNFINISHED_PLAN_STATUSES,
    PlanRecord,
    RunRecord,
    RunsAndPlans,
)
from bot.state.tax_ledger import TaxBlockRecord, TaxFillRecord, TaxLedger, WashSaleRecord

__all__ = [
    "APPROVAL_STATUSES",
    "BUSY_TIMEOUT_MS",
    "FINAL_ORDER_STATUSES",
    "INTENT",
    "PLAN_STATUSES",
    "PLAN_TRANSITIONS",
    "SIDES",
    "TERMINAL_PLAN_STATUSES",
    "UNFINISHED_PLAN_STATUSES",
    "ApprovalError",
    "ApprovalRecord",
    "AuditRecord",
    "ExecChildRecord",
    "ExecParentRecord",
    "ExecutionReportRecord",
    "FillRecord",
    "InvalidTransition",
    "OrderRecord",
    "PlanRecord",
    "RunRecord",
    "StateError",
    "StateStore",
    "TaxBlockRecord",
    "TaxFillRecord",
    "UnknownRecord",
    "WashSaleRecord",
]

T = TypeVar("T")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _via(repository: str, method: Callable[..., T]) -> Callable[..., T]:
    """A store method that calls the same method of one of its repositories (same signature and docs)."""
    name = method.__name__

    @functools.wraps(method)
    def delegate(self: StateStore, *args: Any, **kwargs: Any) -> T:
        return getattr(getattr(self, repository), name)(*args, **kwargs)

    return delegate


class StateStore:
    """The state database. ``target``: the SQLite file (a path), None for an in-memory scratch store (dry
    runs, tests), or a SQLAlchemy URL (``postgresql+psycopg://...``, ``sqlite:///...``).

    ``now`` is the wall clock used for bookkeeping times (run start, updated_at, audit); times that matter to
    trading rules (plan creation, order submission) are passed in by the caller on the broker's clock.
    """

    def __init__(self, target: Path | str | None, *, now: Callable[[], datetime] = _utcnow) -> None:
        self.db = Database(target)
        self.path = self.db.path
        try:
            self.schema_version = upgrade(self.db)
        except OperationalError as exc:  # the server is down, refuses us, the file is unreadable...
            self.db.close()
            reason = str(exc.orig or exc).strip().splitlines()[0]
            raise StateError(f"cannot open the state database {self.db.describe()}: {reason}") from exc
        except BaseException:
            self.db.close()
            raise
        self.runs_and_plans = RunsAndPlans(self.db, now)
        self.orders_and_executions = OrdersAndExecutions(self.db, now)
        self.approvals_and_audit = ApprovalsAndAudit(self.db, now)
        self.tax_ledger = TaxLedger(self.db, now)

    def close(self) -> None:
        self.db.close()

    def unit(self) -> AbstractContextManager[object]:
        """A block whose writes, through any repository, commit together or not at all (one transaction,
        one write lock): for steps that must not be separated by a crash, such as a plan held and its
        approval requested."""
        return self.db.write()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def pragma(self, name: str) -> Any:
        """The value of a SQLite PRAGMA (``journal_mode``, ``synchronous``...), for checks."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"not a pragma name: {name!r}")
        if not self.db.is_sqlite:
            raise StateError(f"PRAGMA {name}: the state database is {self.db.dialect}, not SQLite")
        with self.db.read() as conn:
            return conn.exec_driver_sql(f"PRAGMA {name}").scalar()

    # -- runs and plans --------------------------------------------------------------------------------------
    start_run = _via("runs_and_plans", RunsAndPlans.start_run)
    finish_run = _via("runs_and_plans", RunsAndPlans.finish_run)
    get_run = _via("runs_and_plans", RunsAndPlans.get_run)
    last_run = _via("runs_and_plans", RunsAndPlans.last_run)
    runs = _via("runs_and_plans", RunsAndPlans.runs)
    save_plan = _via("runs_and_plans", RunsAndPlans.save_plan)
    set_plan_status = _via("runs_and_plans", RunsAndPlans.set_plan_status)
    get_plan = _via("runs_and_plans", RunsAndPlans.get_plan)
    plans = _via("runs_and_plans", RunsAndPlans.plans)
    unfinished_plans = _via("runs_and_plans", RunsAndPlans.unfinished_plans)

    # -- orders, fills and executions ------------------------------------------------------------------------
    record_order = _via("orders_and_executions", OrdersAndExecutions.record_order)
    update_order = _via("orders_and_executions", OrdersAndExecutions.update_order)
    get_order = _via("orders_and_executions", OrdersAndExecutions.get_order)
    get_order_by_broker_id = _via("orders_and_executions", OrdersAndExecutions.get_order_by_broker_id)
    orders = _via("orders_and_executions", OrdersAndExecutions.orders)
    submitted_notional_on = _via("orders_and_executions", OrdersAndExecutions.submitted_notional_on)
    record_fill = _via("orders_and_executions", OrdersAndExecutions.record_fill)
    fills = _via("orders_and_executions", OrdersAndExecutions.fills)
    start_parent = _via("orders_and_executions", OrdersAndExecutions.start_parent)
    exec_parent = _via("orders_and_executions", OrdersAndExecutions.exec_parent)
    exec_parents = _via("orders_and_executions", OrdersAndExecutions.exec_parents)
    finish_parent = _via("orders_and_executions", OrdersAndExecutions.finish_parent)
    exec_children = _via("orders_and_executions", OrdersAndExecutions.exec_children)
    children_recorded = _via("orders_and_executions", OrdersAndExecutions.children_recorded)
    record_child_order = _via("orders_and_executions", OrdersAndExecutions.record_child_order)
    set_child_status = _via("orders_and_executions", OrdersAndExecutions.set_child_status)
    settle_order_notional = _via("orders_and_executions", OrdersAndExecutions.settle_order_notional)
    save_execution_report = _via("orders_and_executions", OrdersAndExecutions.save_execution_report)
    execution_reports = _via("orders_and_executions", OrdersAndExecutions.execution_reports)

    # -- approvals, links, flags and audit -------------------------------------------------------------------
    request_approval = _via("approvals_and_audit", ApprovalsAndAudit.request_approval)
    decide_approval = _via("approvals_and_audit", ApprovalsAndAudit.decide_approval)
    expire_approval = _via("approvals_and_audit", ApprovalsAndAudit.expire_approval)
    pending_approvals = _via("approvals_and_audit", ApprovalsAndAudit.pending_approvals)
    get_approval = _via("approvals_and_audit", ApprovalsAndAudit.get_approval)
    use_link = _via("approvals_and_audit", ApprovalsAndAudit.use_link)
    link_used = _via("approvals_and_audit", ApprovalsAndAudit.link_used)
    set_flag = _via("approvals_and_audit", ApprovalsAndAudit.set_flag)
    get_flag = _via("approvals_and_audit", ApprovalsAndAudit.get_flag)
    flags = _via("approvals_and_audit", ApprovalsAndAudit.flags)
    audit = _via("approvals_and_audit", ApprovalsAndAudit.audit)
    audit_trail = _via("approvals_and_audit", ApprovalsAndAudit.audit_trail)

    # -- the tax ledger's inputs -----------------------------------------------------------------------------
    add_tax_fills = _via("tax_ledger", TaxLedger.add_tax_fills)
    replace_imported_lots = _via("tax_ledger", TaxLedger.replace_imported_lots)
    tax_fills = _via("tax_ledger", TaxLedger.tax_fills)
    last_tax_fill_time = _via("tax_ledger", TaxLedger.last_tax_fill_time)
    set_tax_block = _via("tax_ledger", TaxLedger.set_tax_block)
    clear_tax_block = _via("tax_ledger", TaxLedger.clear_tax_block)
    tax_blocks = _via("tax_ledger", TaxLedger.tax_blocks)
    record_wash_sale = _via("tax_ledger", TaxLedger.record_wash_sale)
    wash_sales = _via("tax_ledger", TaxLedger.wash_sales)
