"""A household plan as it is put to the shared pipeline (:mod:`bot.pipeline`): one plan, one decision.

The pipeline's rules read the household's total: its version binds the household, every account's orders
and their prices (:func:`bot.household.record.content_hash`); the approval policy and the hard limits read
the total of every account's orders (:class:`bot.household.record.PlanView`); a held plan is compared order
by order, each naming its account; a rejection stands on the aggregate drift. Starting it fans it out into
one child plan per account (:class:`bot.household.execution.HouseholdExecutor`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from bot.approval.lifecycle import drift_of
from bot.approval.policy import PlanFacts
from bot.household.execution import HouseholdExecutor
from bot.household.record import AggregateCheck, PlanView, content_hash, explanation, plan_details
from bot.pipeline import Assessment
from bot.state.store import PlanRecord
from strategies.household import HouseholdPlan


@dataclass(frozen=True)
class HouseholdProposal:
    """A household's fresh plan, for the pipeline (:class:`bot.pipeline.Proposal`)."""

    household: str
    plan: HouseholdPlan
    check: AggregateCheck
    notes: tuple[str, ...]
    executor: HouseholdExecutor

    @cached_property
    def version(self) -> str:
        return content_hash(self.plan, self.household)

    @cached_property
    def details(self) -> dict[str, Any]:
        return plan_details(self.plan, self.check, self.notes)

    @property
    def orders(self) -> list[dict[str, Any]]:
        return self.details["orders"]

    @property
    def drift(self) -> dict[str, Decimal]:
        return drift_of(self.details)

    def stale(self, pending: PlanRecord) -> bool:
        return False  # a held household plan stands on its orders alone

    def assess(self) -> Assessment:
        return Assessment(
            PlanView.of(self.details),
            PlanFacts(estimated_tax=self.plan.tax_payable),
            self.details,
            explanation(self.plan, self.check, self.notes),
        )

    def saved(self, plan_id: str, run_id: str, now: datetime) -> None:
        return None

    def start(self, record: PlanRecord, run_id: str) -> None:
        """Save every account's child plan, then mark the household plan executing."""
        self.executor.start(record, run_id, expected="planned")
