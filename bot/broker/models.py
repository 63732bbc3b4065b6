"""What the bot knows about its broker: frozen values with Decimal money and tz-aware UTC datetimes.

These types are the only thing the rest of the bot sees of Alpaca; ``alpaca.py`` builds them from the JSON the
API answers (Decimal fields travel as strings there, so no float ever touches an amount).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

OPEN_STATUSES = frozenset(
    {
        "new",
        "accepted",
        "partially_filled",
        "pending_new",
        "accepted_for_bidding",
        "pending_cancel",
        "pending_replace",
        "held",
        "calculated",
        "done_for_day",
        "stopped",
        "suspended",
        "pending_review",  # alpaca-py knows it; not final, so treated as open
    }
)
FINAL_STATUSES = frozenset({"filled", "canceled", "expired", "rejected", "replaced"})
SIDES = ("buy", "sell")


@dataclass(frozen=True)
class BrokerClock:
    timestamp: datetime
    is_open: bool
    next_open: datetime
    next_close: datetime


@dataclass(frozen=True)
class AccountState:
    cash: Decimal
    equity: Decimal
    buying_power: Decimal
    status: str
    last_equity: Decimal | None = None
    """Equity at the previous session's close (Alpaca's ``last_equity``): today's P&L is measured from it."""


@dataclass(frozen=True)
class PositionState:
    symbol: str
    qty: Decimal
    market_value: Decimal
    avg_entry_price: Decimal
    current_price: Decimal
    unrealized_pl: Decimal | None = None
    """Market value minus cost basis (None when the broker did not say)."""
    unrealized_intraday_pl: Decimal | None = None
    """Today's change in value of the shares held (from the previous close or the buy today)."""


@dataclass(frozen=True)
class QuoteState:
    symbol: str
    bid: Decimal
    ask: Decimal
    timestamp: datetime | None

    @property
    def mid(self) -> Decimal:
        """(bid + ask) / 2. Meaningful only when both sides are positive (see ``is_two_sided``)."""
        return (self.bid + self.ask) / 2

    @property
    def is_two_sided(self) -> bool:
        return self.bid > 0 and self.ask > 0 and self.ask >= self.bid


@dataclass(frozen=True)
class BarState:
    """An OHLCV bar; ``t`` is the bar's start (UTC). Volumes are shares."""

    symbol: str
    t: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@dataclass(frozen=True)
class AssetInfo:
    symbol: str
    tradable: bool
    fractionable: bool
    status: str = "active"
    """Alpaca's asset status ("active"/"inactive"); "not_found" when the broker does not know the symbol."""


@dataclass(frozen=True)
class OrderState:
    id: str
    client_order_id: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    qty: Decimal | None
    notional: Decimal | None
    limit_price: Decimal | None
    filled_qty: Decimal
    filled_avg_price: Decimal | None
    status: str
    submitted_at: datetime | None
    updated_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True)
class OrderIntent:
    """An order the bot wants placed. ``client_order_id`` is mandatory: it is what makes a resend safe."""

    client_order_id: str
    symbol: str
    side: str
    qty: Decimal | None = None
    notional: Decimal | None = None
    type: str = "market"
    time_in_force: str = "day"
    limit_price: Decimal | None = None

    def __post_init__(self) -> None:
        if not self.client_order_id or len(self.client_order_id) > 128:
            raise ValueError("client_order_id is required and at most 128 characters")
        if self.side not in SIDES:
            raise ValueError(f"side must be buy or sell, not {self.side!r}")
        if (self.qty is None) == (self.notional is None):
            raise ValueError("give exactly one of qty and notional")
        if self.type == "limit" and self.limit_price is None:
            raise ValueError("a limit order needs limit_price")
        if self.type != "limit" and self.limit_price is not None:
            raise ValueError("limit_price is only for limit orders")


class BrokerError(Exception):
    """A definite refusal (a 4xx answer other than 429): the request had no effect. Never retried."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class OrderNotSent(BrokerError):
    """An order refused before sending (e.g. its quantity rounds to zero); answered like Alpaca's 422."""

    def __init__(self, message: str) -> None:
        super().__init__(422, None, message)


class BrokerUnavailable(Exception):
    """No definite answer after the retries (connection errors, timeouts, 5xx, 429)."""


class SubmitOutcomeUnknown(Exception):
    """A submit whose fate could not be determined.

    Do NOT send a new order for the same purpose: the order may exist. Resolve it later by client_order_id.
    """

    def __init__(self, client_order_id: str, message: str) -> None:
        super().__init__(f"{client_order_id}: {message}")
        self.client_order_id = client_order_id


def cash_for_buys(account: AccountState, open_orders: Iterable[OrderState] = ()) -> Decimal:
    """What new buys may spend without borrowing: the buying power, but never more than the cash that open
    buy orders have not already spoken for.

    On a cash account Alpaca's ``buying_power`` is that cash already; on a margin account (Alpaca paper's
    kind from $2,000 of equity) it is about twice the equity, and spending it would borrow. A market buy
    by quantity that has not filled yet has no price to count and is left out: it fills within a minute.
    """
    spoken_for = sum((_outstanding_cost(o) for o in open_orders if o.side == "buy" and o.is_open), Decimal(0))
    return min(account.buying_power, account.cash - spoken_for)


def _outstanding_cost(order: OrderState) -> Decimal:
    filled_value = order.filled_qty * (order.filled_avg_price or Decimal(0))
    if order.notional is not None:
        return max(order.notional - filled_value, Decimal(0))
    price = order.limit_price or order.filled_avg_price or Decimal(0)
    return max((order.qty or Decimal(0)) - order.filled_qty, Decimal(0)) * price
