"""At most ``approval.max_reasks_per_day`` re-asks a day: then hold, say why once, ask the next session.

An approved plan voided by the re-check on fresh prices is planned and asked again (a re-ask). On a day when
prices keep moving, that loop asked one person 13 times. Each re-ask is counted in the audit trail under the
owner's trading day; once the day's count reaches the cap, the next voided approval is not asked again: the
bot holds (no new plan for that owner that day), sets a state flag ``status`` shows, logs it and sends one
alert. On the first cycle of a later session the flag is cleared and the bot plans and asks as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

import structlog

from bot.approval.recheck import Recheck
from bot.pipeline.outcome import CycleOutcome
from bot.state.store import PlanRecord, StateStore

log = structlog.get_logger(__name__)

EVENT = "approval_reasked"
FLAG = "reasks:{owner}"
"""The state flag ``status`` shows while an owner holds after reaching the cap; its value starts with the
trading day (ISO) it was set on."""


def reasks_on(store: StateStore, owner: str, day: date) -> int:
    """How many times ``owner``'s approved plans were re-asked on trading day ``day``."""
    return sum(
        1
        for event in store.audit_trail(limit=500, event=EVENT, account=owner)
        if event.fields.get("day") == day.isoformat()
    )


def record_reask(store: StateStore, owner: str, day: date, plan_id: str, run_id: str | None) -> None:
    store.audit(EVENT, run_id=run_id, account=owner, plan_id=plan_id, day=day.isoformat())


def holding(store: StateStore, owner: str, day: date) -> str | None:
    """The reason ``owner`` holds today (None: it does not). A hold from an earlier day is lifted."""
    flag = FLAG.format(owner=owner)
    value = store.get_flag(flag)
    if value is None:
        return None
    if value.startswith(day.isoformat()):
        return value
    store.set_flag(flag, None)
    log.info("re-ask cap: a new session, asking again", owner=owner)
    return None


def start_holding(
    store: StateStore,
    owner: str,
    day: date,
    cap: int,
    why: Sequence[str],
    alert: Callable[[str, Sequence[str], str], None],
) -> str:
    """Hold ``owner`` for the rest of ``day``: flag it for ``status``, log, alert once; returns the line."""
    line = (
        f"{day.isoformat()}: holding until the next session - an approved plan was voided again on fresh "
        f"prices after {cap} re-asks today (approval.max_reasks_per_day {cap}): " + "; ".join(why)
    )
    flag = FLAG.format(owner=owner)
    first = store.get_flag(flag) is None
    store.set_flag(flag, line)
    log.warning("re-ask cap reached; holding until the next session", owner=owner, reasons=list(why))
    if first:
        store.audit("reask_cap_reached", account=owner, day=day.isoformat(), reasons=list(why))
        alert(
            f"{owner}: holding until the next session (approval.max_reasks_per_day {cap})",
            [
                f"Prices kept moving: approved plans were planned and asked again {cap} times today, and the "
                "latest approval was voided too:",
                *[f"- {reason}" for reason in why],
                "Nothing is traded today. The bot plans and asks again in the next session. To allow more, "
                "raise approval.max_reasks_per_day or approval.volatility_multiple.",
            ],
            "approval",
        )
    return line


def void_approved(
    store: StateStore,
    owner: str,
    plan: PlanRecord,
    check: Recheck,
    run_id: str,
    day: date,
    cap: int,
    alert: Callable[[str, Sequence[str], str], None],
) -> CycleOutcome | None:
    """Supersede an approved ``plan`` the re-check voided, saying what moved (status, audit, log). None: the
    caller plans and asks again (counted as one of the day's re-asks); else the bot holds for the day."""
    why = check.reasons()
    store.set_plan_status(
        plan.plan_id, "superseded", "re-checked on approval: " + "; ".join(why), expected="approved"
    )
    store.audit("approved_plan_superseded", run_id=run_id, account=owner, plan_id=plan.plan_id, reasons=why)
    log.warning("approved plan no longer stands on fresh quotes", plan_id=plan.plan_id, reasons=why)
    if check.nothing_left:
        return None
    if reasks_on(store, owner, day) >= cap:
        line = start_holding(store, owner, day, cap, why, alert)
        return CycleOutcome("holding: re-ask cap reached", plan.plan_id, line)
    record_reask(store, owner, day, plan.plan_id, run_id)
    return None
