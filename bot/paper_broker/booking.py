"""Booking an execution: the account's cash and position, the order's progress, and the activity log.

Why a module of its own: every way an order trades (minute matching in ``matching.py``, the auctions, the
extended hours, a starting lot) ends in the same bookkeeping, and what it records is what the API shows
(positions, ``/v2/account/activities``, trade_updates). Keeping it in one place keeps those in step; it
decides nothing about whether or at what price an order trades. Functions of the engine, called under its
lock inside its store transaction, as ``dividends.py``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from bot.paper_broker.equity_history import fill_value
from bot.paper_broker.models import Account, Activity, Order, Position

if TYPE_CHECKING:  # pragma: no cover - import for type hints only (the engine imports this module)
    from bot.paper_broker.engine import PaperBrokerEngine

QTY_STEP = Decimal("1e-9")


def apply_fill(
    engine: PaperBrokerEngine, account: Account, order: Order, qty: Decimal, price: Decimal, when: datetime
) -> None:
    """Book one execution: cash, position, the order's progress and a FILL activity; then tell the
    trade_updates hook and the order's group (``order_groups.py``)."""
    value = fill_value(qty, price)  # the same rounding equity_history undoes
    position = account.positions.setdefault(order.symbol, Position(order.symbol))
    if order.side == "buy":
        account.cash -= value
        account.bought_today += value
        position.qty += qty
        position.cost_basis += value
    else:
        account.cash += value
        account.bought_today = max(Decimal(0), account.bought_today - value)
        basis_sold = (position.cost_basis * qty / position.qty) if position.qty else Decimal(0)
        position.qty -= qty
        position.cost_basis = (position.cost_basis - basis_sold) if position.qty else Decimal(0)
    order.filled_qty += qty
    order.filled_value += qty * price
    order.updated_at = when
    done = is_complete(order, price)
    if done:
        order.status = "filled"
        order.filled_at = when
        order.reserved = Decimal(0)
    else:
        order.status = "partially_filled"
        if order.side == "buy":
            order.reserved = max(Decimal(0), order.reserved - value)
    engine.stats.fills += 1
    add_activity(
        engine,
        account,
        "FILL",
        when,
        {
            "type": "fill" if done else "partial_fill",
            "price": price,
            "qty": qty,
            "side": order.side,
            "symbol": order.symbol,
            "leaves_qty": Decimal(0) if done else order.remaining_qty(price),
            "order_id": order.id,
            "cum_qty": order.filled_qty,
            "order_status": order.status,
        },
    )
    engine.store.save_position(account.id, position)
    if position.qty == 0:
        account.positions.pop(order.symbol, None)
    engine._index(order)  # noqa: SLF001 - the engine's lookups follow the order's status
    engine.store.save_order(order)
    engine.store.save_account(account)
    engine.publish("fill" if done else "partial_fill", order, price=price, qty=qty, position_qty=position.qty)
    engine.groups.after_fill(order)


def is_complete(order: Order, price: Decimal) -> bool:
    """Filled: its qty reached, or (notional) nothing left to buy but less than the price of 1e-8 share."""
    if order.qty is not None:
        return order.filled_qty >= order.qty
    assert order.notional is not None
    return order.remaining_qty(price) <= 0 or order.notional - order.filled_value < price * QTY_STEP * 10


def add_activity(
    engine: PaperBrokerEngine, account: Account, kind: str, when: datetime, fields: dict
) -> None:
    """Append an activity (FILL, DIV) to the account's log, with Alpaca's time-ordered id."""
    stamp = when.strftime("%Y%m%d%H%M%S") + f"{when.microsecond // 1000:03d}"
    activity = Activity(
        id=f"{stamp}::{uuid.uuid4()}", account_id=account.id, activity_type=kind, time=when, fields=fields
    )
    engine.record_activity(activity)
    engine.store.add_activity(activity)
