"""What a bot hands the pipeline: the part that differs between the account bot and the household bot.

The pipeline (:class:`bot.pipeline.PlanPipeline`) owns the turn around a plan; a bot owns how it reads and
decides. They meet in two small protocols:

- :class:`Proposal`: one fresh plan, described the way the shared rules read it (its version, its orders,
  the drift it was made on) and, lazily, what the gate and the store need (:class:`Assessment`): computed
  only when the plan is actually stored, not when a held plan stands or a rejection stands;
- :class:`ApprovedStart`: what the bot does with a plan a person approved: resume a start a crash cut short,
  re-check it on fresh quotes (and how to replace it if it no longer stands), and start it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from bot.approval.policy import PlanFacts
from bot.approval.recheck import Recheck
from bot.pipeline.outcome import CycleOutcome
from bot.state.store import PlanRecord
from strategies.portfolio import Side


class SizedOrder(Protocol):
    @property
    def symbol(self) -> str: ...
    @property
    def side(self) -> Side: ...
    @property
    def est_notional(self) -> Decimal: ...


class Sized(Protocol):
    """What the approval policy and the hard limits read of a plan (a ``RebalancePlan``, or a household's
    total, :class:`bot.household.record.PlanView`)."""

    @property
    def orders(self) -> Sequence[SizedOrder]: ...
    @property
    def gross_notional(self) -> Decimal: ...
    @property
    def equity(self) -> Decimal: ...


@dataclass(frozen=True)
class Assessment:
    """A fresh plan as the gate weighs it and the store keeps it."""

    sized: Sized
    facts: PlanFacts
    """The plan's own facts for the approval policy (tax, harvest, swap); the pipeline adds the owner's
    (manual, first plan)."""
    details: Mapping[str, Any]
    """The stored details, without ``approval_reasons`` (the pipeline adds them)."""
    explanation: str
    safety_reasons: tuple[str, ...] = field(default=())
    """Reasons to ask a person whatever ``approval.mode`` says (the account's wash-sale guard)."""


class Proposal(Protocol):
    """One fresh plan of a bot, described for the pipeline."""

    @property
    def version(self) -> str:
        """The content hash an approval binds: owner, orders, prices (:mod:`bot.approval.version`)."""
        ...

    @property
    def orders(self) -> Sequence[Mapping[str, Any]]:
        """The orders as stored order dicts, compared with a held plan's (is it materially different?)."""
        ...

    @property
    def drift(self) -> Mapping[str, Decimal]:
        """The drift the plan was made on, compared with a rejected plan's (may it be asked again?)."""
        ...

    def stale(self, pending: PlanRecord) -> bool:
        """Whether the held ``pending`` plan no longer stands for a reason beyond its orders."""
        ...

    def assess(self) -> Assessment: ...

    def saved(self, plan_id: str, run_id: str, now: datetime) -> None:
        """Called once the plan row exists, before anything else is decided on it."""
        ...

    def start(self, record: PlanRecord, run_id: str) -> None:
        """Move the stored plan (status ``planned``, needing no approval) to ``executing``."""
        ...


Replacement = Callable[[], CycleOutcome]
"""What replaces an approved plan the re-check voided (a fresh plan, asked again)."""


class ApprovedStart(Protocol):
    """What a bot does with its plan a person approved."""

    def resume_start(self, plan: PlanRecord, run_id: str) -> bool:
        """True when a crash cut the plan's start short and it is now finished (nothing is re-checked)."""
        ...

    def recheck(self, plan: PlanRecord, run_id: str) -> tuple[Recheck, Replacement]:
        """The plan re-checked on fresh quotes, and what replaces it if it no longer stands."""
        ...

    def start_approved(self, plan: PlanRecord, run_id: str, check: Recheck) -> None:
        """Move the approved plan, which stands, to ``executing``."""
        ...


class Advancing(Protocol):
    def advance(self, plan: PlanRecord) -> str: ...
