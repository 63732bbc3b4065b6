"""The pipeline's stages that read and write the state database, one rule each, for any owner.

An owner is an account or a household: its plans are stored under its name, so every rule here is a
function of the store and that name (and of explicit numbers: a clock's time, a tolerance), shared by the
account and the household bot, and by a fleet worker that runs many owners against one store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

import structlog

from bot.approval.lifecycle import drift_changed, drift_of, lapsed
from bot.pipeline.outcome import CycleOutcome
from bot.state.store import PlanRecord, StateStore

log = structlog.get_logger(__name__)

UNDECIDED = ("planned", "held", "refused", "expired", "superseded")
"""Plan statuses a person never decided on: they say nothing about what a person wants."""
EXECUTED = ("executing", "done", "failed")
"""Plan statuses that mean orders went (or were about to go) out."""


class Cancelling(Protocol):
    def cancel(self, order_id: str) -> object: ...


# -- what is in flight ---------------------------------------------------------------------------------------
def in_flight(store: StateStore, owner: str) -> PlanRecord | None:
    """The owner's approved or executing plan, driven before anything new is planned. A plan still
    ``planned`` was stored and then the process died before it was gated: it is superseded, never sent."""
    for plan in store.unfinished_plans(owner):
        if plan.status in ("approved", "executing"):
            return plan
        if plan.status == "planned":
            store.set_plan_status(plan.plan_id, "superseded", "interrupted before the approval gate")
    return None


def approved_meanwhile(store: StateStore, owner: str) -> PlanRecord | None:
    """A plan a person approved (dashboard, CLI) while this cycle ran: it goes first and the next cycle plans
    on top of it; else a second plan could be held beside the approved one."""
    started = [p for p in store.unfinished_plans(owner) if p.status != "planned"]
    return started[0] if started else None


def pending_plan(store: StateStore, owner: str) -> PlanRecord | None:
    """The owner's plan held for a person's decision, if any."""
    held = store.plans(account=owner, status="held", limit=1)
    return held[0] if held else None


def standing_rejection(
    store: StateStore, owner: str, drift: Mapping[str, Decimal], threshold: Decimal
) -> PlanRecord | None:
    """The latest decided plan, if a person rejected it and the drift (``drift``: the fresh plan's) has not
    moved by more than ``threshold`` since: a rejection stands until the reason for the plan changes."""
    for earlier in store.plans(account=owner, limit=50):
        if earlier.status in UNDECIDED:
            continue
        if earlier.status != "rejected":
            return None  # a later plan was approved or ran: the rejection is history
        if drift_changed(drift_of(earlier.details), drift, threshold):
            return None
        return earlier
    return None


def first_plan(store: StateStore, owner: str) -> bool:
    """Whether no plan of the owner was ever executed (the ``approval.first_plan`` rule, issue 16)."""
    return not store.plans(account=owner, status=EXECUTED, limit=1)


def traded_today(store: StateStore, members: Iterable[str], day: date) -> Decimal:
    """What the owner's accounts already sent on ``day``, which the daily hard limit counts on top of."""
    return sum((store.submitted_notional_on(name, day) for name in members), start=Decimal(0))


def new_plan_id(store: StateStore, prefix: str, owner: str, version: str, now: datetime) -> str:
    """``<prefix>-<owner>-<minute>-<version[:8]>``: readable, stable for one plan at one minute, and made
    unique with ``-2``, ``-3``... when that id is taken (its orders' client_order_ids derive from it)."""
    base = f"{prefix}-{owner}-{now:%Y%m%d%H%M}-{version[:8]}"
    plan_id, n = base, 1
    while store.get_plan(plan_id) is not None:
        n += 1
        plan_id = f"{base}-{n}"
    return plan_id


# -- approval requests that lapse ----------------------------------------------------------------------------
def expire_held(store: StateStore, owner: str, now: datetime) -> None:
    """Held plans of the owner whose approval request lapsed (by default at the close) expire."""
    # the owner's held plans, not every pending approval: a fleet's households share one database, and
    # reading each household's requests on every visit made a visit cost in proportion to the fleet
    for plan in store.plans(account=owner, status="held", limit=1000):
        approval = store.get_approval(plan.plan_id)
        if approval is None or approval.status != "pending":
            continue
        if lapsed(approval.expires_at, now):
            store.set_plan_status(
                plan.plan_id, "expired", "no decision before the request expired", expected="held"
            )
            store.expire_approval(plan.plan_id)
            store.audit("approval_expired", account=owner, plan_id=plan.plan_id, state="held")
            log.info("held plan expired without a decision", plan_id=plan.plan_id)


def expired_before_start(
    store: StateStore, owner: str, plan: PlanRecord, now: datetime
) -> CycleOutcome | None:
    """An approved plan whose approval lapsed before it could start (the close came) expires instead."""
    approval = store.get_approval(plan.plan_id)
    if approval is None or not lapsed(approval.expires_at, now):
        return None
    store.set_plan_status(
        plan.plan_id, "expired", "approved, but the market closed before it could start", expected="approved"
    )
    store.audit("approval_expired", account=owner, plan_id=plan.plan_id, state="approved")
    log.warning("approved plan expired before it could start", plan_id=plan.plan_id)
    return CycleOutcome("approval expired", plan.plan_id)


# -- a halt --------------------------------------------------------------------------------------------------
def cancel_open_orders(store: StateStore, brokers: Mapping[str, Cancelling]) -> int:
    """Cancel the bot's own open orders in each account (name -> its broker client); returns how many."""
    canceled = 0
    for name, broker in brokers.items():
        for record in store.orders(account=name, open_only=True):
            if record.broker_id:
                broker.cancel(record.broker_id)
                canceled += 1
    if canceled:
        log.warning("halted: canceled the bot's open orders", canceled=canceled)
    return canceled
