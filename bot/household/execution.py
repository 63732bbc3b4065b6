"""Carrying out an approved household plan: one child plan per account, each run by that account's executor.

The household row moves ``approved`` (or ``planned``, when no approval was needed) -> ``executing`` ->
``done``/``failed``. Starting it saves every child first (``<plan id>-<account>``, status ``executing``) and
only then marks the household executing, so a crash in between finds an approved household whose children
exist: saving them again is a no-op (same id, same content hash), and nothing is planned or sent twice.

Each child then belongs to its account's :class:`~bot.execution.PlanExecutor`, built on that account's own
broker client: its orders' client_order_ids are ``<plan id>-<account>-<seq>``, written ahead as intents and
looked up at the broker before any resend; sells go before buys; a buy never spends more than the cash the
account's sells actually freed (``cash_buffer`` is 0 here: the household's per-account ``cash_reserve`` is
already inside the plan). Accounts' cash never moves: each child trades only its own account.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal

import structlog

from bot.broker.alpaca import AlpacaBroker
from bot.clock import Clock
from bot.config import BotConfig
from bot.execution import ExecutionSettings, PlanExecutor
from bot.household.record import child_details, child_hash, child_plan_id
from bot.plan_outcome import final_reason
from bot.state.store import PlanRecord, StateStore

log = structlog.get_logger(__name__)

FINAL_CHILD = frozenset({"done", "failed"})


class HouseholdExecutor:
    """Fans a household plan out to per-account child plans and drives them to the end."""

    def __init__(
        self, config: BotConfig, brokers: Mapping[str, AlpacaBroker], store: StateStore, clock: Clock
    ) -> None:
        self.store = store
        self.clock = clock
        settings = ExecutionSettings(
            order_timeout=timedelta(minutes=config.execution.order_timeout_minutes),
            cash_buffer=Decimal(0),
            slicing=config.execution.slicing,
        )
        self.executors = {name: PlanExecutor(name, brokers[name], store, clock, settings) for name in brokers}

    def children(self, plan: PlanRecord) -> dict[str, PlanRecord | None]:
        """Each account of the plan with its child plan row (None: not saved yet)."""
        return {
            name: self.store.get_plan(child_plan_id(plan.plan_id, name))
            for name in sorted(plan.details["accounts"])
            if plan.details["accounts"][name]["orders"]
        }

    def start(self, plan: PlanRecord, run_id: str, expected: str) -> None:
        """Save every child (idempotent), then mark the household plan executing."""
        self.save_children(plan, run_id)
        self.store.set_plan_status(
            plan.plan_id,
            "executing",
            f"{plan.status_reason or 'within the approval policy'}; orders go out per account",
            expected=expected,
        )
        self.store.audit("household_plan_started", run_id=run_id, account=plan.account, plan_id=plan.plan_id)
        log.info("household plan executing", plan_id=plan.plan_id, accounts=list(self.children(plan)))

    def save_children(self, plan: PlanRecord, run_id: str | None) -> None:
        """One child plan row per account with orders; saving an existing child again is a no-op."""
        now = self.clock.now()
        for name in self.children(plan):
            details = child_details(plan.details, plan.plan_id, name)
            lines = [
                f"  {o['side'].upper()} {o['symbol']} "
                + (f"{o['qty']} sh" if o["qty"] is not None else f"${o['notional']}")
                for o in details["orders"]
            ]
            self.store.save_plan(
                child_plan_id(plan.plan_id, name),
                run_id,
                name,
                child_hash(details),
                "executing",
                "\n".join([f"{name}'s part of household plan {plan.plan_id}:", *lines]),
                details,
                now,
            )

    def advance(self, plan: PlanRecord, halted: bool = False) -> str:
        """One round of work on every unfinished child; the household ends when every child has."""
        statuses: dict[str, str] = {}
        for name, child in self.children(plan).items():
            if child is None:  # died between the household row and its children: save them now
                self.save_children(plan, plan.run_id)
                child = self.store.get_plan(child_plan_id(plan.plan_id, name))
                assert child is not None
            if child.status == "executing":
                structlog.contextvars.bind_contextvars(account=name)
                try:
                    statuses[name] = self.executors[name].advance(child, halted=halted)
                finally:
                    structlog.contextvars.unbind_contextvars("account")
            else:
                statuses[name] = child.status
        if halted or not all(s in FINAL_CHILD for s in statuses.values()):
            return "executing"
        failed = sorted(n for n, s in statuses.items() if s == "failed")
        status = "failed" if failed else "done"
        reason = self.final_reason(plan, failed)
        self.store.set_plan_status(plan.plan_id, status, reason, expected="executing")
        self.store.audit("household_plan_finished", account=plan.account, plan_id=plan.plan_id, status=status)
        log.info("household plan finished", plan_id=plan.plan_id, status=status, outcome=reason)
        return status

    def final_reason(self, plan: PlanRecord, failed: list[str]) -> str:
        """What the household traded, in the words of an account plan (:mod:`bot.plan_outcome`): over every
        account's orders, ``5 of 5 filled`` or ``expired after 3 of 5 (partly filled: $X of $Y)``, then each
        account that ended short with its own line, so a person sees where the money is missing."""
        specs, parents, reports, short = [], [], [], []
        for name, child in self.children(plan).items():
            child_id = child_plan_id(plan.plan_id, name)
            specs += child.details["orders"] if child is not None else []
            parents += self.store.exec_parents(plan_id=child_id)
            reports += self.store.execution_reports(plan_id=child_id)
            if child is not None and child.status_reason and not child.status_reason.endswith(" filled"):
                short.append(f"{name}: {child.status_reason}")
            elif child is not None and child.status == "failed":
                short.append(f"{name}: failed")
        reason = f"{final_reason(specs, parents, reports)} in {len(self.children(plan))} accounts"
        if failed:
            reason = f"children failed: {', '.join(failed)}; {reason}"
        return "; ".join([reason, *short])
