"""The turn around one owner's plan, as a pipeline of small named stages.

A fresh plan goes through :meth:`PlanPipeline.gate`:

1. ``wait_for_approved``  a plan a person approved meanwhile goes first;
2. ``held_stands``        a held plan stands unless the fresh one differs materially (or is stale);
3. ``rejection_stands``   a rejected plan is not asked again until the drift changes;
4. ``approval_reasons``   the approval policy (mode, first plan, size, tax, harvest, swap) plus the reask;
5. ``store``              the plan row (its id from its content hash), the held plan it replaces superseded;
6. ``hard_limits``        a plan over a hard limit is refused (status, audit, alert once);
7. ``hold`` or ``start``  held for a person (request, audit, prompt), or executing at once.

An approved plan goes through :meth:`PlanPipeline.start_approved`: a start cut short is resumed, a lapsed
approval expires, the plan is re-checked on fresh quotes and either starts or is voided and replaced (at
most ``approval.max_reasks_per_day`` times a day). What differs between the account and the household
bot comes in through :mod:`bot.pipeline.protocols`; everything else is an explicit input (store, clock,
notices, the config's approval and limits), so a fleet worker can run one pipeline per owner.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import structlog

from bot.approval import reask_cap
from bot.approval.lifecycle import expiry_time
from bot.approval.policy import approval_required
from bot.approval.reask_cap import void_approved
from bot.broker.models import BrokerClock
from bot.clock import Clock
from bot.config import ApprovalConfig, LimitsConfig
from bot.guards import check_limits
from bot.limit_refusal import clear_limits, refusal_line, refuse_on_limits
from bot.pipeline import stages
from bot.pipeline.notices import Notices
from bot.pipeline.outcome import CycleOutcome
from bot.pipeline.protocols import Advancing, ApprovedStart, Assessment, Proposal
from bot.state.store import PlanRecord, StateStore
from bot.tradable import clear_untradable, refuse_untradable
from strategies.approval_recheck import order_changes

NEW_YORK = ZoneInfo("America/New_York")
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PlanPipeline:
    """One owner's (an account's or a household's) turn around a plan. Holds no state of its own: each
    stage reads and writes the store, so a pipeline can be built per owner, per turn."""

    owner: str
    """The name the owner's plans are stored under."""
    id_prefix: str
    """Plan ids start with it (``rb`` for an account, ``hh`` for a household)."""
    noun: str
    """What the log calls the plan (``plan``, ``household plan``)."""
    members: tuple[str, ...]
    """The accounts whose orders count toward the daily hard limit."""
    manual: bool
    """Every plan waits for a person (a manual account, or a household with one)."""
    store: StateStore
    clock: Clock
    notices: Notices
    approval: ApprovalConfig
    limits: LimitsConfig
    executor: Advancing
    next_close: Callable[[], datetime]
    """The broker's next close, when a held plan's request lapses by default (asked only on a hold)."""

    def trade_date(self) -> date:
        """Today on the New York calendar (the trading day re-asks and tax law count in)."""
        return self.clock.now().astimezone(NEW_YORK).date()

    # -- before a plan is made -------------------------------------------------------------------------------
    def holding(self) -> CycleOutcome | None:
        """The owner holds for the rest of the day once the re-asks are used up (:mod:`reask_cap`)."""
        held = reask_cap.holding(self.store, self.owner, self.trade_date())
        return None if held is None else CycleOutcome("holding: re-ask cap reached", detail=held)

    def untradable(self, problems: Mapping[str, str]) -> CycleOutcome | None:
        """Refuse to plan on targets the broker cannot trade (symbol -> why); else clear that refusal."""
        if problems:
            return CycleOutcome(
                "refused", detail=refuse_untradable(self.store, self.owner, problems, self.notices.alert)
            )
        clear_untradable(self.store, self.owner)
        return None

    def nothing_to_trade(self, action: str, why: str) -> CycleOutcome:
        """No plan this cycle: a hard-limit refusal no longer stands either."""
        clear_limits(self.store, self.owner)
        return CycleOutcome(action, detail=why)

    # -- a fresh plan ----------------------------------------------------------------------------------------
    def gate(self, proposal: Proposal, run_id: str, reask: str | None = None) -> CycleOutcome:
        """Store the plan, refuse it on a hard limit, hold it for approval or start it. ``reask``: the plan
        replaces an approved one that no longer stands (what moved), and is asked again whatever the policy
        says; nothing held or rejected stops it."""
        now = self.clock.now()
        if reask is None:
            waiting = self.wait_for_approved()
            if waiting is not None:
                return waiting
        pending = stages.pending_plan(self.store, self.owner)
        if reask is None:
            standing = self.held_stands(proposal, pending) or self.rejection_stands(proposal)
            if standing is not None:
                return standing
        assessment = proposal.assess()
        reasons = self.approval_reasons(assessment, reask)
        plan_id = self.store_plan(proposal, assessment, reasons, pending, run_id, now)
        refused = self.hard_limits(assessment, plan_id, run_id, now)
        if refused is not None:
            return refused
        if reasons:
            return self.hold(proposal, assessment, plan_id, reasons, run_id, now)
        return self.start(proposal, assessment, plan_id, run_id)

    def wait_for_approved(self) -> CycleOutcome | None:
        started = stages.approved_meanwhile(self.store, self.owner)
        if started is None:
            return None
        return CycleOutcome("a plan was approved meanwhile; it goes first", started.plan_id)

    def held_stands(self, proposal: Proposal, pending: PlanRecord | None) -> CycleOutcome | None:
        """Prices move every minute, so a plan made five minutes later never has the same version; asking a
        person again each time would mean nothing could ever be approved. A held plan stands until the set
        of trades changes (a symbol or side appears or disappears) or a trade's size moves by more than
        ``approval.change_tolerance`` of the gross, or the bot says it is stale."""
        if pending is None or proposal.stale(pending):
            return None
        if order_changes(pending.details["orders"], proposal.orders, self.approval.change_tolerance):
            return None
        return CycleOutcome("held, waiting for approval", pending.plan_id)

    def rejection_stands(self, proposal: Proposal) -> CycleOutcome | None:
        rejected = stages.standing_rejection(
            self.store, self.owner, proposal.drift, self.approval.reask_drift_change
        )
        if rejected is None:
            return None
        return CycleOutcome(
            "rejected; not asking again until the drift changes", rejected.plan_id, rejected.status_reason
        )

    def approval_reasons(self, assessment: Assessment, reask: str | None) -> list[str]:
        """Every reason a person must decide first (none: the plan starts at once)."""
        facts = dataclasses.replace(
            assessment.facts, manual_account=self.manual, first_plan=stages.first_plan(self.store, self.owner)
        )
        verdict = approval_required(assessment.sized, self.approval, facts)  # type: ignore[arg-type]
        return [*([reask] if reask else []), *verdict.reasons, *assessment.safety_reasons]

    def store_plan(
        self,
        proposal: Proposal,
        assessment: Assessment,
        reasons: Sequence[str],
        pending: PlanRecord | None,
        run_id: str,
        now: datetime,
    ) -> str:
        """The plan row, ``planned``; the held plan it replaces is superseded (its request closed)."""
        plan_id = stages.new_plan_id(self.store, self.id_prefix, self.owner, proposal.version, now)
        details = {**assessment.details, "approval_reasons": list(reasons)}
        self.store.save_plan(
            plan_id, run_id, self.owner, proposal.version, "planned", assessment.explanation, details, now
        )
        proposal.saved(plan_id, run_id, now)
        if pending is not None:
            with self.store.unit():  # the plan and its request closed together
                self.store.set_plan_status(pending.plan_id, "superseded", f"superseded by {plan_id}")
                self.store.expire_approval(pending.plan_id, status="superseded")
        return plan_id

    def hard_limits(
        self, assessment: Assessment, plan_id: str, run_id: str, now: datetime
    ) -> CycleOutcome | None:
        """Refuse a plan over a hard limit, approved or not: status, audit, log, one alert per cause."""
        traded = stages.traded_today(self.store, self.members, now.date())
        verdict = check_limits(assessment.sized, self.limits, traded)  # type: ignore[arg-type]
        if verdict.allowed:
            clear_limits(self.store, self.owner)
            return None
        reasons = list(verdict.reasons)
        with self.store.unit():
            self.store.set_plan_status(plan_id, "refused", refusal_line(self.limits, verdict))
            self.store.audit(
                "plan_refused", run_id=run_id, account=self.owner, plan_id=plan_id, reasons=reasons
            )
        log.warning(f"{self.noun} refused by a hard limit", plan_id=plan_id, reasons=reasons)
        line = refuse_on_limits(self.store, self.owner, self.limits, verdict, self.notices.alert)
        return CycleOutcome("refused", plan_id, line)

    def hold(
        self,
        proposal: Proposal,
        assessment: Assessment,
        plan_id: str,
        reasons: Sequence[str],
        run_id: str,
        now: datetime,
    ) -> CycleOutcome:
        """Hold the plan for a person: a request that lapses (at the close by default), audit, prompt."""
        expires = expiry_time(now, self.next_close(), self.approval.expiry)
        why = "; ".join(reasons)
        with self.store.unit():  # held, requested and audited together, or not at all
            self.store.set_plan_status(plan_id, "held", why)
            self.store.request_approval(plan_id, proposal.version, expires)
            self.store.audit(
                "approval_requested",
                run_id=run_id,
                account=self.owner,
                plan_id=plan_id,
                reasons=list(reasons),
                content_hash=proposal.version,
                expires_at=expires,
            )
        tax = assessment.facts.estimated_tax
        log.warning(
            f"{self.noun} held for approval",
            plan_id=plan_id,
            reasons=list(reasons),
            gross_notional=str(assessment.sized.gross_notional),
            estimated_tax=None if tax is None else str(tax),
            expires_at=expires.isoformat(),
        )
        self.notices.held(plan_id)
        return CycleOutcome("held for approval", plan_id, why)

    def start(self, proposal: Proposal, assessment: Assessment, plan_id: str, run_id: str) -> CycleOutcome:
        """No approval needed: the plan executes now, its first round of orders in this tick."""
        record = self.store.get_plan(plan_id)
        assert record is not None
        log.info(f"{self.noun} executing", plan_id=plan_id, explanation=assessment.explanation)
        proposal.start(record, run_id)
        status = self.executor.advance(self.store.get_plan(plan_id) or record)
        return CycleOutcome(f"plan {status}", plan_id)

    # -- a plan in flight -----------------------------------------------------------------------------------
    def in_flight(self) -> PlanRecord | None:
        return stages.in_flight(self.store, self.owner)

    def expire_held(self, clock: BrokerClock) -> None:
        stages.expire_held(self.store, self.owner, clock.timestamp)

    def start_approved(
        self, plan: PlanRecord, clock: BrokerClock, run_id: str, bot: ApprovedStart
    ) -> CycleOutcome | None:
        """Start a plan a person approved, re-checked on fresh quotes first. None: it stands and now
        executes (as approved, never above the approved amounts); else what happened instead (expired, or
        voided and replaced by a fresh plan that is asked again, or the day's re-asks are used up)."""
        if bot.resume_start(plan, run_id):
            return None
        expired = stages.expired_before_start(self.store, self.owner, plan, clock.timestamp)
        if expired is not None:
            return expired
        check, replace = bot.recheck(plan, run_id)
        if not check.stands:  # superseded, saying what moved; asked again unless the re-asks are used up
            cap = self.approval.max_reasks_per_day
            holding = void_approved(
                self.store, self.owner, plan, check, run_id, self.trade_date(), cap, self.notices.alert
            )
            return holding or replace()
        bot.start_approved(plan, run_id, check)
        return None
