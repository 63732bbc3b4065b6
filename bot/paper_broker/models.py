"""The paper broker's state: accounts, positions, orders and account activities.

Plain mutable dataclasses owned by the engine (which holds one lock around every change) and written through
to SQLite by ``store.py``. Money and quantities are ``Decimal``, as Alpaca sends them (as JSON strings).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

OPEN_STATUSES = frozenset(
    {"new", "accepted", "partially_filled", "pending_new", "accepted_for_bidding", "pending_cancel", "held"}
)
"""Statuses in which an order may still fill: Alpaca's ``status=open`` filter."""

ASSET_NAMESPACE = uuid.UUID("5d4f1c0e-7c52-4e8a-9c54-6f1f7b9a2c11")


def asset_id(symbol: str) -> str:
    """A stable asset id per symbol, so ids survive restarts and match across accounts."""
    return str(uuid.uuid5(ASSET_NAMESPACE, symbol))


def find_symbol(symbols: Iterable[str], symbol_or_id: str) -> str | None:
    """The symbol a path's ``{symbol_or_asset_id}`` names (any case, or its ``asset_id``), None if unknown."""
    wanted = symbol_or_id.upper()
    for symbol in symbols:
        if symbol == wanted or asset_id(symbol) == symbol_or_id:
            return symbol
    return None


@dataclass
class Position:
    symbol: str
    qty: Decimal = Decimal(0)
    cost_basis: Decimal = Decimal(0)
    """Total cost of the shares held (average-cost, as Alpaca reports ``avg_entry_price``)."""

    @property
    def avg_entry_price(self) -> Decimal:
        return self.cost_basis / self.qty if self.qty else Decimal(0)


@dataclass
class Order:
    id: str
    client_order_id: str
    account_id: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    qty: Decimal | None
    notional: Decimal | None
    limit_price: Decimal | None
    status: str
    created_at: datetime
    extended_hours: bool = False
    updated_at: datetime | None = None
    submitted_at: datetime | None = None
    filled_at: datetime | None = None
    expired_at: datetime | None = None
    canceled_at: datetime | None = None
    failed_at: datetime | None = None
    filled_qty: Decimal = Decimal(0)
    filled_value: Decimal = Decimal(0)
    """Sum of qty x price over fills, to compute ``filled_avg_price`` and a notional order's remainder."""
    reserved: Decimal = Decimal(0)
    """Buying power an open buy order holds; released as it fills, is canceled or expires."""
    sequence: int = 0
    """Submission order within the account: ties in timestamps are broken by it."""
    # Conditional orders (``triggers.py``): Alpaca's stop_price, trail_price, trail_percent and hwm fields.
    stop_price: Decimal | None = None
    trail_price: Decimal | None = None
    trail_percent: Decimal | None = None
    hwm: Decimal | None = None
    """A trailing stop's high-water mark: the best price seen since submission (highest for a sell)."""
    triggered_at: datetime | None = None
    """When the stop was elected; from then on the order works as a market (stop) or limit (stop_limit)."""
    order_class: str = ""
    """Alpaca's order class: "" for a simple order, else bracket, oco or oto (``order_groups.py``)."""
    group_id: str | None = None
    """Shared by every order of one bracket, oco or oto order, as Alpaca's ``group_id``."""
    group_role: str | None = None
    """entry, take_profit or stop_loss within the group (Alpaca's ``group_role``)."""
    parent_id: str | None = None
    """For a leg, the group's top-level order, under whose ``legs`` Alpaca nests it."""
    replaces: str | None = None
    replaced_by: str | None = None
    replaced_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def filled_avg_price(self) -> Decimal | None:
        return self.filled_value / self.filled_qty if self.filled_qty else None

    def remaining_qty(self, price: Decimal) -> Decimal:
        """Shares still to trade; for a notional order, what the unfilled dollars buy at ``price``."""
        if self.qty is not None:
            return self.qty - self.filled_qty
        assert self.notional is not None
        left = self.notional - self.filled_value
        return (left / price).quantize(Decimal("1e-9"), rounding="ROUND_DOWN") if left > 0 else Decimal(0)


@dataclass
class Activity:
    """A FILL (trade) or DIV (non-trade) account activity, in Alpaca's shape."""

    id: str
    account_id: str
    activity_type: str
    time: datetime
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class Account:
    id: str
    name: str
    key_id: str
    secret_key: str = field(repr=False)
    account_number: str
    created_at: datetime
    cash: Decimal
    settings: dict[str, Any]
    positions: dict[str, Position] = field(default_factory=dict)
    last_equity: Decimal = Decimal(0)
    last_equity_date: date | None = None
    order_sequence: int = 0
    last_maintenance_margin: Decimal = Decimal(0)
    """Maintenance margin at the previous close (a pattern day trader's day-trading power is based on it)."""
    bought_today: Decimal = Decimal(0)
    """Net cost of today's purchases, which uses up a pattern day trader's day-trading buying power."""


@dataclass
class Watchlist:
    """A named, ordered list of symbols an account keeps (Alpaca's watchlists); names are unique per account
    (the store enforces it too)."""

    id: str
    account_id: str
    name: str
    created_at: datetime
    updated_at: datetime
    symbols: list[str] = field(default_factory=list)


def to_record(obj: Any) -> dict[str, Any]:
    """Serialise a dataclass to JSON-safe primitives (Decimals and datetimes as strings)."""
    return {k: _encode(v) for k, v in dataclasses.asdict(obj).items()}


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$d": str(value)}
    if isinstance(value, datetime):
        return {"$t": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    """Inverse of ``to_record`` for one value."""
    if isinstance(value, dict):
        if "$d" in value:
            return Decimal(value["$d"])
        if "$t" in value:
            return datetime.fromisoformat(value["$t"])
        if "$date" in value:
            return date.fromisoformat(value["$date"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value
