"""Approvals, single-use links, flags and the audit trail: what people decided, and the record of it.

An approval is bound to the content hash of the plan it was requested for: a decision counts only for that
exact hash, only while pending, only while the plan is held (and, given the broker's time, only before it
expires); the plan moves to ``approved``/``rejected`` in the same transaction. Links are single-use whatever
the outcome of their first use. Audit events are appended, never updated or deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select

from bot.state.db import Database, find, insert_row, record, update_rows
from bot.state.errors import ApprovalError
from bot.state.schema import approvals, audit, flags, plans, used_links
from bot.state.types import utc_text

APPROVAL_STATUSES = frozenset({"pending", "approved", "rejected", "expired", "superseded", "canceled"})


@dataclass(frozen=True)
class ApprovalRecord:
    plan_id: str
    content_hash: str
    status: str
    requested_at: datetime
    expires_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    channel: str | None
    reason: str


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
    event: str
    run_id: str | None
    account: str | None
    plan_id: str | None
    client_order_id: str | None
    fields: dict = field(hash=False)


class ApprovalsAndAudit:
    """The approvals and audit aggregate. ``now`` is the wall clock for bookkeeping times."""

    def __init__(self, db: Database, now: Callable[[], datetime]) -> None:
        self.db = db
        self._now = now

    # -- approvals -------------------------------------------------------------------------------------------
    def request_approval(
        self, plan_id: str, content_hash: str, expires_at: datetime | None
    ) -> ApprovalRecord:
        """Open a pending approval bound to ``content_hash`` (which must be the plan's). Asking again for the
        same pending plan and hash returns the existing request."""
        with self.db.write() as conn:
            stored_hash = conn.execute(
                select(plans.c.content_hash).where(plans.c.plan_id == plan_id)
            ).scalar()
            if stored_hash is None:
                raise ApprovalError(f"no plan {plan_id!r}")
            if stored_hash != content_hash:
                raise ApprovalError(f"plan {plan_id}: content hash does not match the stored plan")
            existing = _approval_row(conn, plan_id)
            if existing is not None:
                if existing.status == "pending" and existing.content_hash == content_hash:
                    return existing
                raise ApprovalError(f"plan {plan_id} already has an approval ({existing.status})")
            insert_row(
                conn,
                approvals,
                dict(
                    plan_id=plan_id,
                    content_hash=content_hash,
                    status="pending",
                    requested_at=self._now(),
                    expires_at=expires_at,
                ),
            )
            return _approval_row(conn, plan_id)  # type: ignore[return-value]

    def decide_approval(
        self,
        plan_id: str,
        decision: str,
        who: str,
        channel: str,
        reason: str = "",
        *,
        content_hash: str,
        now: datetime | None = None,
    ) -> ApprovalRecord:
        """Approve or reject a pending approval; refuses (:class:`ApprovalError`) unless the approval is
        pending, the plan is held and ``content_hash`` is the hash the approval was requested for (the
        plan's).

        In the same transaction the plan moves from ``held`` to ``approved``/``rejected``. ``now`` (the
        broker's time) also refuses a decision at or after ``expires_at``; without it expiry is left to the
        bot.
        """
        if decision not in ("approved", "rejected"):
            raise ValueError(f"decision must be approved or rejected, not {decision!r}")
        with self.db.write() as conn:
            approval = _approval_row(conn, plan_id)
            plan = conn.execute(
                select(plans.c.content_hash, plans.c.status).where(plans.c.plan_id == plan_id)
            ).first()
            if approval is None or plan is None:
                raise ApprovalError(f"no approval requested for plan {plan_id!r}")
            if approval.status != "pending":
                raise ApprovalError(f"plan {plan_id}: approval is {approval.status}, not pending")
            if content_hash != approval.content_hash or content_hash != plan.content_hash:
                raise ApprovalError(f"plan {plan_id}: content hash does not match the plan awaiting approval")
            if plan.status != "held":
                raise ApprovalError(f"plan {plan_id} is {plan.status}, not held")
            expires_at = approval.expires_at
            if now is not None and expires_at is not None and utc_text(now) >= utc_text(expires_at):  # type: ignore[operator]
                raise ApprovalError(f"plan {plan_id}: approval expired at {expires_at:%Y-%m-%d %H:%M} UTC")
            update_rows(
                conn,
                approvals,
                {"plan_id": plan_id},
                dict(
                    status=decision,
                    decided_at=now if now is not None else self._now(),
                    decided_by=who,
                    channel=channel,
                    reason=reason,
                ),
            )
            update_rows(
                conn,
                plans,
                {"plan_id": plan_id},
                dict(
                    status=decision,
                    status_reason=reason or f"{decision} by {who} via {channel}",
                    updated_at=self._now(),
                ),
            )
            return _approval_row(conn, plan_id)  # type: ignore[return-value]

    def expire_approval(self, plan_id: str, status: str = "expired", reason: str = "") -> bool:
        """Close a pending approval without a decision (expired, superseded, canceled); True if one was
        pending. Idempotent: closing an approval that is no longer pending does nothing."""
        if status not in ("expired", "superseded", "canceled"):
            raise ValueError(f"status must be expired, superseded or canceled, not {status!r}")
        with self.db.write() as conn:
            pending = {"plan_id": plan_id, "status": "pending"}
            result = update_rows(
                conn, approvals, pending, dict(status=status, decided_at=self._now(), reason=reason)
            )
            return result.rowcount == 1

    def pending_approvals(self) -> list[ApprovalRecord]:
        """Oldest request first."""
        with self.db.read() as conn:
            found = find(conn, approvals, ("requested_at", "plan_id"), status="pending")
        return [record(ApprovalRecord, row) for row in found]

    def get_approval(self, plan_id: str) -> ApprovalRecord | None:
        with self.db.read() as conn:
            return _approval_row(conn, plan_id)

    def use_link(self, nonce: str, plan_id: str, action: str) -> bool:
        """Record that a signed link was used; False if that link (nonce) was used before: links are
        single-use, whatever the outcome of their first use."""
        row = {"nonce": nonce, "plan_id": plan_id, "action": action, "used_at": self._now()}
        with self.db.write() as conn:
            return conn.execute(self.db.upsert(used_links, ("nonce",)), row).rowcount == 1

    def link_used(self, nonce: str) -> bool:
        with self.db.read() as conn:
            return bool(find(conn, used_links, nonce=nonce))

    # -- flags -----------------------------------------------------------------------------------------------
    def set_flag(self, name: str, value: str | None) -> None:
        """Set a flag (e.g. ``halted`` with the reason as value); None clears it."""
        with self.db.write() as conn:
            if value is None:
                conn.execute(delete(flags).where(flags.c.name == name))
                return
            row = {"name": name, "value": str(value), "updated_at": self._now()}
            conn.execute(self.db.upsert(flags, ("name",), ("value", "updated_at")), row)

    def get_flag(self, name: str) -> str | None:
        with self.db.read() as conn:
            found = find(conn, flags, name=name)
        return found[0].value if found else None

    def flags(self) -> dict[str, str]:
        with self.db.read() as conn:
            return {row.name: row.value for row in find(conn, flags, ("name",))}

    # -- audit -----------------------------------------------------------------------------------------------
    def audit(
        self,
        event: str,
        run_id: str | None = None,
        account: str | None = None,
        client_order_id: str | None = None,
        *,
        plan_id: str | None = None,
        **fields: Any,
    ) -> int:
        """Append an audit event (never updated or deleted); returns its id. Extra fields are stored as JSON
        (Decimal and datetime as text)."""
        with self.db.write() as conn:
            result = insert_row(
                conn,
                audit,
                dict(
                    at=self._now(),
                    event=event,
                    run_id=run_id,
                    account=account,
                    plan_id=plan_id,
                    client_order_id=client_order_id,
                    fields=fields,
                ),
            )
            return int(result.inserted_primary_key[0] or 0)  # type: ignore[index]

    def audit_trail(
        self,
        limit: int = 100,
        event: str | None = None,
        *,
        account: str | tuple[str, ...] | None = None,
        plan_id: str | None = None,
    ) -> list[AuditRecord]:
        """Newest first; ``account`` may be one account or a tuple of them."""
        with self.db.read() as conn:
            found = find(
                conn, audit, ("id desc",), limit=limit, event=event, account=account, plan_id=plan_id
            )
        return [record(AuditRecord, row) for row in found]


def _approval_row(conn: Connection, plan_id: str) -> ApprovalRecord | None:
    found = find(conn, approvals, plan_id=plan_id)
    return record(ApprovalRecord, found[0]) if found else None
