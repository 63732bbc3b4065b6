"""Orders and their execution: the write-ahead order rows (deterministic client_order_id, recorded BEFORE the
submit, so a restarted bot looks an order up instead of sending it again), fills, and for each planned order
how it is executed (policy, child schedule of a sliced order) and its execution report.

Crash-safety lives in the constraints: ``client_order_id`` is the primary key and ``(plan_id, seq)`` unique,
so one planned order can never get two ids nor one id two contents; a fill is recorded once per activity id;
a final order status is never replaced by a non-final one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, Text, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.state.db import Database, find, insert_row, record, update_rows
from bot.state.errors import StateError, UnknownRecord
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
from bot.state.schema import exec_children, exec_parents, execution_reports, fills, orders, plans
from bot.state.types import decimal_text

_CHUNK = 500
"""Ids per ``IN (...)`` lookup: well under SQLite's limit of bound parameters."""


class OrdersAndExecutions:
    """The orders and executions aggregate. ``now`` is the wall clock for bookkeeping times."""

    def __init__(self, db: Database, now: Callable[[], datetime]) -> None:
        self.db = db
        self._now = now

    # -- orders ----------------------------------------------------------------------------------------------
    def record_order(
        self,
        client_order_id: str,
        plan_id: str,
        account: str,
        seq: int,
        symbol: str,
        side: str,
        qty: Decimal | None,
        notional: Decimal | None,
        order_type: str,
        limit_price: Decimal | None,
        status: str = INTENT,
        *,
        est_notional: Decimal,
        created_at: datetime | None = None,
    ) -> OrderRecord:
        """Write the order's row BEFORE it is submitted (the write-ahead record); returns it.

        ``est_notional`` (qty x estimated price, or the notional) is what the daily limit adds up.
        ``created_at`` should be the broker's time (it dates an intent whose submit outcome is unknown); the
        wall clock by default. Recording the same id again with the same content is a no-op that returns the
        stored row (whose status may have moved on); different content raises :class:`StateError`.
        """
        if side not in SIDES:
            raise ValueError(f"side must be buy or sell, not {side!r}")
        values = {
            "plan_id": plan_id,
            "account": account,
            "seq": int(seq),
            "symbol": symbol,
            "side": side,
            "qty": _exact(qty),
            "notional": _exact(notional),
            "order_type": order_type,
            "limit_price": _exact(limit_price),
            "est_notional": _exact(est_notional),
        }
        with self.db.write() as conn:
            existing = _order_row(conn, client_order_id)
            if existing is not None:
                if all(existing._mapping[key] == value for key, value in values.items()):
                    return _order(existing)
                raise StateError(f"order {client_order_id!r} already recorded with different content")
            stamp = self._now()
            try:
                insert_row(
                    conn,
                    orders,
                    dict(
                        client_order_id=client_order_id,
                        **values,
                        status=status,
                        created_at=created_at or stamp,
                        updated_at=stamp,
                        final_at=stamp if status in FINAL_ORDER_STATUSES else None,
                    ),
                )
            except IntegrityError as exc:
                raise StateError(f"cannot record order {client_order_id!r}: {exc.orig}") from exc
            return _order(_order_row(conn, client_order_id))

    def update_order(
        self,
        client_order_id: str,
        *,
        broker_id: str | None = None,
        status: str | None = None,
        filled_qty: Decimal | None = None,
        filled_avg_price: Decimal | None = None,
        submitted_at: datetime | None = None,
        final_at: datetime | None = None,
    ) -> OrderRecord:
        """Update what is given (None leaves a column alone); returns the updated record.

        A final status (filled, canceled, expired, rejected, replaced) is never replaced by a non-final one: a
        late, stale report cannot reopen an order.
        """
        with self.db.write() as conn:
            row = _order_row(conn, client_order_id)
            if row is None:
                raise UnknownRecord(f"no order {client_order_id!r}")
            current = row._mapping
            if current["status"] in FINAL_ORDER_STATUSES and status not in FINAL_ORDER_STATUSES:
                status = None  # never reopen a final order
            changes: dict[str, Any] = {
                "broker_id": broker_id,
                "status": status,
                "filled_qty": _exact(filled_qty),
                "filled_avg_price": _exact(filled_avg_price),
                "submitted_at": submitted_at,
                "final_at": final_at,
            }
            changes = {key: value for key, value in changes.items() if value is not None}
            if status in FINAL_ORDER_STATUSES and current["final_at"] is None and "final_at" not in changes:
                changes["final_at"] = self._now()
            changes["updated_at"] = self._now()
            update_rows(conn, orders, {"client_order_id": client_order_id}, changes)
            return _order(_order_row(conn, client_order_id))

    def get_order(self, client_order_id: str) -> OrderRecord | None:
        with self.db.read() as conn:
            row = _order_row(conn, client_order_id)
        return _order(row) if row else None

    def get_order_by_broker_id(self, broker_id: str) -> OrderRecord | None:
        with self.db.read() as conn:
            found = find(conn, orders, broker_id=broker_id)
        return _order(found[0]) if found else None

    def orders(
        self,
        plan_id: str | None = None,
        account: str | tuple[str, ...] | None = None,
        open_only: bool = False,
        limit: int = 200,
    ) -> list[OrderRecord]:
        """For one plan: in plan order (seq). Otherwise newest first. ``open_only``: not final (intents
        included: they may be live at the broker)."""
        order_by = ("seq",) if plan_id is not None else ("created_at desc", "plan_id desc", "seq desc")
        conditions = (_OPEN,) if open_only else ()
        with self.db.read() as conn:
            found = find(conn, orders, order_by, *conditions, limit=limit, plan_id=plan_id, account=account)
        return [_order(row) for row in found]

    def submitted_notional_on(self, account: str, day: date) -> Decimal:
        """Sum of ``est_notional`` of the account's orders submitted on ``day`` (UTC date): the daily limit.

        Counted: orders whose ``submitted_at`` falls on ``day``, and - erring on the safe side - intents not
        known to be submitted or refused yet (a submit with an unknown outcome) created that day or belonging
        to a plan created that day. Not counted: orders refused before reaching the market (no submitted_at).
        """
        day_text = day.isoformat()

        def on_day(column: Any) -> Any:  # the UTC date part of an ISO time stored as text
            return func.substr(column, 1, 10, type_=Text) == day_text

        query = (
            select(orders.c.est_notional)
            .join(plans, plans.c.plan_id == orders.c.plan_id)
            .where(
                orders.c.account == account,
                or_(
                    on_day(orders.c.submitted_at),
                    and_(
                        orders.c.submitted_at.is_(None),
                        orders.c.status == INTENT,
                        or_(on_day(orders.c.created_at), on_day(plans.c.created_at)),
                    ),
                ),
            )
        )
        with self.db.read() as conn:
            return sum(conn.execute(query).scalars(), Decimal(0))

    # -- fills -----------------------------------------------------------------------------------------------
    def record_fill(
        self, client_order_id: str, activity_id: str, qty: Decimal, price: Decimal, at: datetime
    ) -> bool:
        """Record one fill activity; True when new, False when that activity_id was already recorded."""
        row = dict(
            activity_id=activity_id,
            client_order_id=client_order_id,
            qty=qty,
            price=price,
            at=at,
            recorded_at=self._now(),
        )
        try:
            with self.db.write() as conn:
                return conn.execute(self.db.upsert(fills, ("activity_id",)), row).rowcount == 1
        except IntegrityError as exc:
            raise UnknownRecord(f"fill {activity_id!r}: no order {client_order_id!r}") from exc

    def fills(self, client_order_id: str | None = None, limit: int = 1000) -> list[FillRecord]:
        """Oldest first."""
        with self.db.read() as conn:
            found = find(conn, fills, ("at", "activity_id"), limit=limit, client_order_id=client_order_id)
        return [record(FillRecord, row) for row in found]

    # -- execution: parents, child schedules, reports (order slicing) ---------------------------------------
    def start_parent(
        self,
        parent: ExecParentRecord,
        children: Collection[tuple[str, int, datetime, Decimal]] = (),
    ) -> ExecParentRecord:
        """Record how a planned order is executed and, for a sliced one, its schedule (``children``: client
        order id, k, planned time, planned shares), in one transaction. The first decision stands: starting
        the same parent again returns the stored record."""
        with self.db.write() as conn:
            row = _parent_row(conn, parent.parent_id)
            if row is not None:
                return record(ExecParentRecord, row)
            stamp = self._now()
            values = {name: getattr(parent, name) for name in _PARENT_COLUMNS}
            values["started_at"] = parent.started_at or stamp
            conn.execute(insert(exec_parents).values(**values, updated_at=stamp))
            if children:
                conn.execute(
                    insert(exec_children),
                    [
                        {
                            "client_order_id": cid,
                            "parent_id": parent.parent_id,
                            "k": int(k),
                            "kind": "slice",
                            "planned_at": planned_at,
                            "planned_qty": qty,
                            "status": "planned",
                            "updated_at": stamp,
                        }
                        for cid, k, planned_at, qty in children
                    ],
                )
            return record(ExecParentRecord, _parent_row(conn, parent.parent_id))

    def exec_parent(self, parent_id: str) -> ExecParentRecord | None:
        with self.db.read() as conn:
            row = _parent_row(conn, parent_id)
        return record(ExecParentRecord, row) if row else None

    def exec_parents(self, plan_id: str | None = None, account: str | None = None) -> list[ExecParentRecord]:
        """In plan order for one plan, else newest first."""
        order_by = ("seq",) if plan_id is not None else ("started_at desc", "plan_id desc", "seq")
        with self.db.read() as conn:
            found = find(conn, exec_parents, order_by, plan_id=plan_id, account=account)
        return [record(ExecParentRecord, row) for row in found]

    def finish_parent(
        self, parent_id: str, status: str, reason: str, finished_at: datetime
    ) -> ExecParentRecord:
        """Close a working parent (a finished one keeps its first outcome); returns the record."""
        if status == "working":
            raise ValueError("finish_parent needs a final status")
        with self.db.write() as conn:
            row = _parent_row(conn, parent_id)
            if row is None:
                raise UnknownRecord(f"no parent order {parent_id!r}")
            if row._mapping["status"] == "working":
                conn.execute(
                    update(exec_parents)
                    .where(exec_parents.c.parent_id == parent_id)
                    .values(
                        status=status, status_reason=reason, finished_at=finished_at, updated_at=self._now()
                    )
                )
            return record(ExecParentRecord, _parent_row(conn, parent_id))

    def exec_children(self, parent_id: str) -> list[ExecChildRecord]:
        """The parent's children in order (k), each with its order row once it has one."""
        with self.db.read() as conn:
            rows = find(conn, exec_children, ("k",), parent_id=parent_id)
            found = _orders_by_id(conn, [row._mapping["client_order_id"] for row in rows])
        by_id = {order.client_order_id: order for order in found}
        return [
            record(ExecChildRecord, row, order=by_id.get(row._mapping["client_order_id"])) for row in rows
        ]

    def children_recorded(self, parent_id: str) -> int:
        """How many of the parent's children have been recorded as orders (sent or about to be)."""
        query = (
            select(func.count())
            .select_from(exec_children)
            .join(orders, orders.c.client_order_id == exec_children.c.client_order_id)
            .where(exec_children.c.parent_id == parent_id)
        )
        with self.db.read() as conn:
            return int(conn.execute(query).scalar_one())

    def record_child_order(
        self,
        child: ExecChildRecord,
        *,
        plan_id: str,
        account: str,
        seq: int,
        symbol: str,
        side: str,
        qty: Decimal | None,
        notional: Decimal | None,
        order_type: str,
        limit_price: Decimal | None,
        est_notional: Decimal,
        created_at: datetime,
        replaces: Collection[str] = (),
    ) -> OrderRecord:
        """The write-ahead record of a child, in one transaction: its schedule row (added for an extra child)
        marked ``sent``, the children it re-prices marked ``repriced``, and its order row as an intent.
        Recording the same child again is a no-op returning the stored order."""
        with self.db.write() as conn:
            existing = _order_row(conn, child.client_order_id)
            if existing is not None:
                return _order(existing)
            stamp = self._now()
            schedule = self.db.insert(exec_children).values(
                client_order_id=child.client_order_id,
                parent_id=child.parent_id,
                k=child.k,
                kind=child.kind,
                planned_at=child.planned_at,
                planned_qty=child.planned_qty,
                status="sent",
                interval_volume=child.interval_volume,
                note=child.note,
                updated_at=stamp,
            )
            conn.execute(
                schedule.on_conflict_do_update(
                    index_elements=["client_order_id"],
                    set_={
                        "status": "sent",
                        "interval_volume": schedule.excluded.interval_volume,
                        "note": schedule.excluded.note,
                        "updated_at": schedule.excluded.updated_at,
                    },
                )
            )
            for cid in replaces:
                conn.execute(
                    update(exec_children)
                    .where(exec_children.c.client_order_id == cid)
                    .values(status="repriced", updated_at=stamp)
                )
            try:
                insert_row(
                    conn,
                    orders,
                    dict(
                        client_order_id=child.client_order_id,
                        plan_id=plan_id,
                        account=account,
                        seq=int(seq),
                        symbol=symbol,
                        side=side,
                        qty=qty,
                        notional=notional,
                        order_type=order_type,
                        limit_price=limit_price,
                        est_notional=est_notional,
                        status=INTENT,
                        created_at=created_at,
                        updated_at=stamp,
                    ),
                )
            except IntegrityError as exc:
                raise StateError(f"cannot record child {child.client_order_id!r}: {exc.orig}") from exc
            return _order(_order_row(conn, child.client_order_id))

    def set_child_status(self, client_order_id: str, status: str, note: str | None = None) -> None:
        """Change a child's schedule status (skipped, repricing, deadline...); a note replaces the old one."""
        changes: dict[str, Any] = {"status": status, "updated_at": self._now()}
        if note is not None:
            changes["note"] = note
        with self.db.write() as conn:
            result = conn.execute(
                update(exec_children)
                .where(exec_children.c.client_order_id == client_order_id)
                .values(**changes)
            )
            if result.rowcount == 0:
                raise UnknownRecord(f"no child order {client_order_id!r}")

    def settle_order_notional(self, client_order_id: str, est_notional: Decimal) -> None:
        """Set a FINAL order's ``est_notional`` to what it actually traded, so the daily limit counts a
        re-priced or canceled child's unfilled part once (in the child that re-sends it), not twice."""
        with self.db.write() as conn:
            row = _order_row(conn, client_order_id)
            if row is None:
                raise UnknownRecord(f"no order {client_order_id!r}")
            if row._mapping["status"] not in FINAL_ORDER_STATUSES:
                raise StateError(f"order {client_order_id!r} is not final")
            conn.execute(
                update(orders)
                .where(orders.c.client_order_id == client_order_id)
                .values(est_notional=est_notional, updated_at=self._now())
            )

    def save_execution_report(self, report: ExecutionReportRecord) -> None:
        """Store (or replace) the execution report of one planned order."""
        values = {column.name: getattr(report, column.name) for column in execution_reports.columns}
        statement = self.db.insert(execution_reports).values(**values)
        replace = {name: statement.excluded[name] for name in values if name != "parent_id"}
        with self.db.write() as conn:
            conn.execute(statement.on_conflict_do_update(index_elements=["parent_id"], set_=replace))

    def execution_reports(
        self,
        plan_id: str | None = None,
        account: str | None = None,
        symbol: str | None = None,
        limit: int = 10_000,
    ) -> list[ExecutionReportRecord]:
        """Newest first."""
        filters = {"plan_id": plan_id, "account": account, "symbol": symbol}
        newest = ("finished_at desc", "parent_id")
        with self.db.read() as conn:
            found = find(conn, execution_reports, newest, limit=limit, **filters)
        return [record(ExecutionReportRecord, row) for row in found]


_PARENT_COLUMNS = tuple(column.name for column in exec_parents.columns if column.name not in ("updated_at",))


def _exact(value: Decimal | int | str | float | None) -> Decimal | None:
    """The decimal as it will be stored (a float through its shortest repr), to compare with a stored one."""
    text = decimal_text(value)
    return None if text is None else Decimal(text)


_OPEN = orders.c.status.not_in(sorted(FINAL_ORDER_STATUSES))
"""Not final: intents included (they may be live at the broker)."""


def _order_row(conn: Connection, client_order_id: str) -> Row[Any] | None:
    found = find(conn, orders, client_order_id=client_order_id)
    return found[0] if found else None


def _parent_row(conn: Connection, parent_id: str) -> Row[Any] | None:
    found = find(conn, exec_parents, parent_id=parent_id)
    return found[0] if found else None


def _orders_by_id(conn: Connection, cids: list[str]) -> list[OrderRecord]:
    out: list[OrderRecord] = []
    for i in range(0, len(cids), _CHUNK):
        out += [_order(row) for row in find(conn, orders, client_order_id=tuple(cids[i : i + _CHUNK]))]
    return out


def _order(row: Row[Any] | None) -> OrderRecord:
    return record(OrderRecord, row)  # type: ignore[arg-type]
