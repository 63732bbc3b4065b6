"""The records of orders and their execution, as the state hands them out (frozen: a record is a reading of
the database at one moment, changed only through :class:`bot.state.orders.OrdersAndExecutions`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

FINAL_ORDER_STATUSES = frozenset({"filled", "canceled", "expired", "rejected", "replaced"})
"""Alpaca order statuses after which nothing more happens to an order (same set as ``bot.broker.models``)."""
INTENT = "intent"
"""Status of an order row written before its submit: the broker may or may not have it."""
SIDES = ("buy", "sell")


@dataclass(frozen=True)
class OrderRecord:
    client_order_id: str
    plan_id: str
    account: str
    seq: int
    symbol: str
    side: str
    qty: Decimal | None
    notional: Decimal | None
    order_type: str
    limit_price: Decimal | None
    est_notional: Decimal
    status: str
    broker_id: str | None
    filled_qty: Decimal | None
    filled_avg_price: Decimal | None
    created_at: datetime
    submitted_at: datetime | None
    final_at: datetime | None
    updated_at: datetime

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_ORDER_STATUSES

    @property
    def is_intent(self) -> bool:
        return self.status == INTENT


@dataclass(frozen=True)
class FillRecord:
    activity_id: str
    client_order_id: str
    qty: Decimal
    price: Decimal
    at: datetime
    recorded_at: datetime


@dataclass(frozen=True)
class ExecParentRecord:
    """A planned order as the executor runs it: the policy chosen, the arrival price, the deadline."""

    parent_id: str
    """The planned order's client_order_id (``<plan_id>-<seq>``); sliced children derive theirs from it."""
    plan_id: str
    account: str
    seq: int
    symbol: str
    side: str
    policy: str
    """``single`` (one order, sent under ``parent_id``) or ``twap`` (children ``<parent_id>-c<k>``)."""
    policy_config: dict = field(hash=False)
    policy_reason: str = ""
    qty: Decimal | None = None
    """Approved shares (qty orders)."""
    notional: Decimal | None = None
    """Approved USD (notional orders)."""
    arrival_mid: Decimal | None = None
    """Mid quote when the executor first took the plan up: the decision ("arrival") price."""
    decision_price: Decimal | None = None
    """The planner's estimate (its price when the plan was made)."""
    adv: Decimal | None = None
    deadline: datetime | None = None
    status: str = "working"
    """``working``, then ``filled``, ``expired`` (deadline), ``failed`` or ``done`` (single orders)."""
    status_reason: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def is_final(self) -> bool:
        return self.status != "working"


@dataclass(frozen=True)
class ExecChildRecord:
    """One child of a sliced parent: its place in the schedule and, once recorded, its order's state."""

    client_order_id: str
    parent_id: str
    k: int
    kind: str
    """``slice`` (a scheduled slot), ``reprice``, ``catchup`` or ``remainder``."""
    planned_at: datetime
    planned_qty: Decimal | None
    status: str
    """Schedule status: ``planned``, ``sent``, ``skipped``, ``repricing``, ``repriced``, ``deadline``."""
    interval_volume: Decimal | None
    """Market volume of the interval the child was sized on (for the participation it achieved)."""
    note: str
    order: OrderRecord | None
    """The child's order row (None until the child is recorded as an intent)."""


@dataclass(frozen=True)
class ExecutionReportRecord:
    """How one planned order was executed: implementation shortfall against the arrival mid."""

    parent_id: str
    plan_id: str
    account: str
    symbol: str
    side: str
    policy: str
    arrival_mid: Decimal | None
    decision_price: Decimal | None
    planned_qty: Decimal | None
    planned_notional: Decimal | None
    filled_qty: Decimal
    avg_price: Decimal | None
    filled_notional: Decimal
    shortfall_bp: float | None
    """(avg fill - arrival mid) / arrival mid in basis points, positive = a cost (sign flipped for sells)."""
    participation: float | None
    """Filled shares / market volume from the first order to the last fill."""
    max_child_participation: float | None
    """Largest child / market volume of the interval it was sized on (sliced orders)."""
    market_volume: Decimal | None
    children: int
    status: str
    started_at: datetime
    finished_at: datetime

    @property
    def fill_ratio(self) -> float | None:
        if self.planned_qty:
            return float(self.filled_qty / self.planned_qty)
        if self.planned_notional:
            return float(self.filled_notional / self.planned_notional)
        return None
