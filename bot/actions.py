"""Business actions a person takes, in one place: approve, reject, halt, resume.

The CLI, the demo (and later the web dashboard and chat prompts) are thin front-ends over these functions, so
every channel goes through the same checks and leaves the same audit trail.
"""

from __future__ import annotations

import structlog

from bot.state.store import StateError, StateStore

log = structlog.get_logger(__name__)


class ActionError(Exception):
    """The action cannot be taken; the message says why (unknown plan, not pending, ...)."""


def approve_plan(
    store: StateStore, plan_id: str, who: str, channel: str, content_hash: str | None = None
) -> None:
    """Approve a held plan. ``content_hash`` binds the decision to the plan a person saw (defaults to the
    stored one for channels that show the plan from the database, like the CLI)."""
    plan = _held_plan(store, plan_id)
    try:
        store.decide_approval(
            plan_id, "approved", who, channel, content_hash=content_hash or plan.content_hash
        )
    except StateError as exc:
        raise ActionError(str(exc)) from exc
    store.set_plan_status(plan_id, "approved", f"approved by {who} via {channel}")
    store.audit("plan_approved", account=plan.account, plan_id=plan_id, who=who, channel=channel)
    log.info("plan approved", plan_id=plan_id, who=who, channel=channel)


def reject_plan(store: StateStore, plan_id: str, who: str, channel: str, reason: str = "") -> None:
    plan = _held_plan(store, plan_id)
    try:
        store.decide_approval(
            plan_id, "rejected", who, channel, reason=reason, content_hash=plan.content_hash
        )
    except StateError as exc:
        raise ActionError(str(exc)) from exc
    store.set_plan_status(plan_id, "rejected", reason or f"rejected by {who}")
    store.audit(
        "plan_rejected", account=plan.account, plan_id=plan_id, who=who, channel=channel, reason=reason
    )
    log.info("plan rejected", plan_id=plan_id, who=who, channel=channel, reason=reason)


def halt(store: StateStore, who: str, reason: str = "") -> None:
    """Stop all sending; the running bot cancels its open orders on its next tick."""
    store.set_flag("halted", reason or "halted")
    store.audit("halted", who=who, reason=reason)
    log.warning("bot halted", who=who, reason=reason)


def resume(store: StateStore, who: str) -> None:
    store.set_flag("halted", None)
    store.audit("resumed", who=who)
    log.info("bot resumed", who=who)


def _held_plan(store: StateStore, plan_id: str):  # noqa: ANN202 - PlanRecord
    plan = store.get_plan(plan_id)
    if plan is None:
        raise ActionError(f"no plan {plan_id!r}")
    if plan.status != "held":
        raise ActionError(f"plan {plan_id} is {plan.status}, not waiting for approval")
    return plan
