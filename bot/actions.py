"""Business actions a person takes, in one place: approve, reject, halt, resume.

The CLI, the demo, the web dashboard, signed links in prompts, the JSON API and the Telegram chat
(:mod:`bot.chat`) are thin front-ends over these functions, so every channel goes through the same checks
and leaves the same audit trail: who decided, through which channel, when, and on which plan version (the
content hash), in the state database (the ``approvals`` row and an ``audit`` event) and in the log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog

from bot.state.store import StateError, StateStore

log = structlog.get_logger(__name__)

CHANNELS = ("cli", "dashboard", "link", "api", "demo", "telegram")


class ActionError(Exception):
    """The action cannot be taken; the message says why (unknown plan, not pending, ...)."""


def approve_plan(
    store: StateStore,
    plan_id: str,
    who: str,
    channel: str,
    content_hash: str | None = None,
    *,
    now: datetime | None = None,
    **context: Any,
) -> None:
    """Approve a held plan. ``content_hash`` binds the decision to the plan a person saw (defaults to the
    stored one for channels that show the plan from the database, like the CLI); ``now`` (the broker's time)
    refuses a request that has expired even if the bot has not closed it yet. ``context`` (e.g. the client
    address) goes into the audit event."""
    _decide(store, plan_id, "approved", who, channel, content_hash, now, "", context)


def reject_plan(
    store: StateStore,
    plan_id: str,
    who: str,
    channel: str,
    reason: str = "",
    content_hash: str | None = None,
    *,
    now: datetime | None = None,
    **context: Any,
) -> None:
    """Reject a held plan: nothing of it is sent, and it is not asked again until the drift changes."""
    _decide(store, plan_id, "rejected", who, channel, content_hash, now, reason, context)


def _decide(
    store: StateStore,
    plan_id: str,
    decision: str,
    who: str,
    channel: str,
    content_hash: str | None,
    now: datetime | None,
    reason: str,
    context: dict[str, Any],
) -> None:
    plan = _held_plan(store, plan_id)
    version = content_hash or plan.content_hash
    try:
        store.decide_approval(plan_id, decision, who, channel, reason=reason, content_hash=version, now=now)
    except StateError as exc:
        store.audit(
            "decision_refused",
            account=plan.account,
            plan_id=plan_id,
            decision=decision,
            who=who,
            channel=channel,
            content_hash=version,
            error=str(exc),
            **context,
        )
        log.warning("decision refused", plan_id=plan_id, who=who, channel=channel, error=str(exc))
        raise ActionError(str(exc)) from exc
    event = "plan_approved" if decision == "approved" else "plan_rejected"
    store.audit(
        event,
        account=plan.account,
        plan_id=plan_id,
        who=who,
        channel=channel,
        content_hash=version,
        reason=reason,
        **context,
    )
    log.info(
        f"plan {decision}",
        plan_id=plan_id,
        who=who,
        channel=channel,
        content_hash=version[:12],
        reason=reason,
    )


def halt(store: StateStore, who: str, reason: str = "", channel: str = "cli", **context: Any) -> None:
    """Stop all sending; the running bot cancels its open orders on its next tick. ``context`` (e.g. the
    client address) goes into the audit event."""
    store.set_flag("halted", reason or "halted")
    store.audit("halted", who=who, reason=reason, channel=channel, **context)
    log.warning("bot halted", who=who, reason=reason, channel=channel)


def resume(store: StateStore, who: str, channel: str = "cli", **context: Any) -> None:
    store.set_flag("halted", None)
    store.audit("resumed", who=who, channel=channel, **context)
    log.info("bot resumed", who=who, channel=channel)


def _held_plan(store: StateStore, plan_id: str):  # noqa: ANN202 - PlanRecord
    plan = store.get_plan(plan_id)
    if plan is None:
        raise ActionError(f"no plan {plan_id!r}")
    if plan.status != "held":
        raise ActionError(f"plan {plan_id} is {plan.status}, not waiting for approval")
    return plan
