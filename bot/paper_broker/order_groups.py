"""The life of bracket, oco and oto orders: legs held, armed, triggered, and one exit canceling the other.

Alpaca's semantics (``docs.alpaca.markets/us/docs/orders-at-alpaca`` and what Alpaca users observe):

* All the orders of a group share a ``group_id``; each has a ``group_role`` (entry, take_profit,
  stop_loss). The legs are nested under the top-level order's ``legs`` when asked with ``nested=true``.
* The exit legs are ``held`` until the entry is completely filled. Then the take-profit limit order works
  (``new``) and the stop-loss stays ``held``, armed: it is released to the market (``new``) once a minute
  trades at or through its stop price (the minute's low for a sell stop, its high for a buy stop), and fills
  from the next minute on, as a market order (stop) or a limit order (stop-limit).
* When an exit leg fills, the other is canceled; when it fills partly, the other is cut to what is left.
* "If any one of the orders is canceled, any remaining open order in the group is canceled"; day legs
  expire with their group at the close.
* Alpaca does not document what happens to the legs when a day entry expires partly filled; here they are
  cut to the filled quantity and start working, so a position is never left without its exits.

Every end of an order goes through the engine's ``_finish``, so the status changes here are seen by whatever
watches that one place (the trade_updates stream).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from bot.paper_broker import errors
from bot.paper_broker.group_requests import GroupRequest, check_base_price
from bot.paper_broker.models import Account, Order
from bot.paper_broker.order_validation import OrderRequest

if TYPE_CHECKING:  # pragma: no cover - import for type hints only (the engine imports this module)
    from bot.paper_broker.engine import PaperBrokerEngine
    from bot.paper_broker.market import Bar


def stop_reached(side: str, stop_price: Decimal, bar: Bar) -> bool:
    """Whether a minute traded at or through a stop: at or below it for a sell stop, at or above for a buy.

    The one trigger rule of stop-loss legs; standalone stop orders (``triggers.py``) follow the same rule,
    and the two can share one function."""
    if side == "sell":
        return Decimal(str(bar.low)) <= stop_price
    return Decimal(str(bar.high)) >= stop_price


class OrderGroups:
    """The engine's bracket, oco and oto bookkeeping; called by the engine under its lock."""

    def __init__(self, engine: PaperBrokerEngine) -> None:
        self.engine = engine
        self._legs: dict[str, list[str]] | None = None
        """Leg ids per top-level order id, built from the orders on first use (orders load at start-up)."""

    # -- submission -------------------------------------------------------------------------------------
    def check(self, account: Account, group: GroupRequest) -> None:
        """Alpaca's rules that need the account and the market: a bracket or oto opens a position, an oco
        closes one, and the exit prices sit on the right side of the base price."""
        position = account.positions.get(group.top.symbol)
        holding = position is not None and position.qty > 0
        if group.order_class == "oco":
            if group.top.side != "sell" or not holding:
                raise errors.BrokerError(422, 42210000, "oco orders must be exit orders")
        elif group.top.side == "sell" and holding:
            raise errors.BrokerError(422, 42210000, f"{group.order_class} orders must be entry orders")
        check_base_price(group, self.base_price(group))

    def base_price(self, group: GroupRequest) -> Decimal:
        """Alpaca's base price of a group: see ``group_requests.check_base_price``."""
        if group.order_class == "oco":
            assert group.take_profit is not None
            return group.take_profit
        if group.top.limit_price is not None:
            return group.top.limit_price
        return self.engine.price(group.top.symbol)

    def attach_legs(self, account: Account, top: Order, group: GroupRequest) -> None:
        """Make ``top`` the head of a new group and book its exit legs, ``held``."""
        top.order_class = group.order_class
        top.group_id = str(uuid.uuid4())
        top.group_role = "take_profit" if group.order_class == "oco" else "entry"
        self.engine.store.save_order(top)
        if group.take_profit is not None and group.order_class != "oco":
            self._book_leg(account, top, group, "take_profit", "limit", group.take_profit, None)
        if group.stop_price is not None:
            kind = "stop_limit" if group.stop_limit is not None else "stop"
            self._book_leg(account, top, group, "stop_loss", kind, group.stop_limit, group.stop_price)

    def _book_leg(
        self,
        account: Account,
        top: Order,
        group: GroupRequest,
        role: str,
        kind: str,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
    ) -> Order:
        request = OrderRequest(
            symbol=top.symbol,
            side=group.exit_side,
            type=kind,
            time_in_force=top.time_in_force,
            qty=top.qty,
            notional=None,
            limit_price=limit_price,
            client_order_id=None,
            extended_hours=False,
        )
        legs = self._index().setdefault(top.id, [])  # built before the leg exists, so it is added once
        leg = self.engine._new_order(account, request, self.engine.now)  # noqa: SLF001
        leg.stop_price = stop_price
        leg.status = "held"
        leg.order_class, leg.group_id, leg.group_role, leg.parent_id = (
            group.order_class,
            top.group_id,
            role,
            top.id,
        )
        self.engine._index(leg)  # noqa: SLF001
        self.engine.store.save_order(leg)
        legs.append(leg.id)
        return leg

    # -- lookups ----------------------------------------------------------------------------------------
    def _index(self) -> dict[str, list[str]]:
        if self._legs is None:
            self._legs = {}
            ordered = sorted(self.engine.orders.values(), key=lambda o: (o.created_at, o.sequence))
            for order in ordered:
                if order.parent_id is not None:
                    self._legs.setdefault(order.parent_id, []).append(order.id)
        return self._legs

    def legs_of(self, order: Order) -> list[Order]:
        """The legs Alpaca nests under ``order`` (none for a leg or a simple order); replaced legs give way
        to the orders that replaced them."""
        legs = (self.engine.orders[i] for i in self._index().get(order.id, ()))
        return [leg for leg in legs if leg.status != "replaced"]

    def top_of(self, order: Order) -> Order:
        """The order a leg is nested under (an order that is no leg is its own top)."""
        parent = self.engine.orders.get(order.parent_id) if order.parent_id else None
        return parent or order

    def members(self, order: Order) -> list[Order]:
        """Every current order of ``order``'s group, its top-level order first."""
        if order.group_id is None:
            return [order]
        top = self.top_of(order)
        return [top, *self.legs_of(top)]

    def holds_shares(self, order: Order) -> bool:
        """Whether an open sell order holds shares of the position: not a leg waiting for its entry, and an
        exit pair holds them once (through its take-profit), as Alpaca counts ``held_for_orders``."""
        if order.group_id is None or order.group_role == "entry":
            return True
        top = self.engine.orders.get(order.parent_id) if order.parent_id else None
        if top is not None and top.group_role == "entry" and top.is_open:
            return False
        if order.group_role == "stop_loss":
            return not any(m.group_role == "take_profit" and m.is_open for m in self.members(order))
        return True

    # -- stop-loss legs ---------------------------------------------------------------------------------
    def armed_at(self, order: Order) -> datetime | None:
        """When a held stop-loss leg started watching the market (None: not armed)."""
        if order.status != "held" or order.group_role != "stop_loss":
            return None
        top = self.engine.orders.get(order.parent_id or "")
        if top is None or top.group_role != "entry":
            return order.submitted_at
        if top.is_open or top.filled_qty <= 0:
            return None
        return top.filled_at or top.updated_at

    def has_armed_stops(self) -> bool:
        return any(self.armed_at(o) is not None for o in self.engine._open.values())  # noqa: SLF001

    def trigger_stops(self, minute_start: datetime) -> None:
        """After a minute is matched: release the armed stop-loss legs it traded through (they fill from the
        next minute, at the price then, never at a price seen before the trigger)."""
        for order in list(self.engine._open.values()):  # noqa: SLF001 - the engine's index of open orders
            armed = self.armed_at(order)
            if armed is None or armed > minute_start or order.stop_price is None:
                continue
            bar = self.engine.market.minute(order.symbol, minute_start)
            if bar is not None and stop_reached(order.side, order.stop_price, bar):
                order.triggered_at = minute_start + timedelta(minutes=1)  # elected (``triggers``)
                self._set_status(order, "new")

    # -- what a fill or an end does to the rest of the group ----------------------------------------------
    def after_fill(self, order: Order) -> None:
        if order.group_id is None:
            return
        if order.group_role == "entry":
            if order.status == "filled":
                self._activate(order, order.filled_qty)
            return
        others = [m for m in self.members(order) if m is not order and m.group_role != "entry" and m.is_open]
        for other in others:
            if order.status == "filled":
                self.engine._finish(other, "canceled")  # noqa: SLF001
            else:  # Alpaca: the other exit is adjusted to the quantity still open
                other.qty = other.filled_qty + order.remaining_qty(order.filled_avg_price or Decimal(1))
                other.updated_at = self.engine.now
                self.engine.store.save_order(other)

    def after_finish(self, order: Order) -> None:
        """A group member ended: the rest of the group ends with it (a replaced member lives on in its
        replacement; a day entry that expired partly filled hands its shares to its exits)."""
        if order.group_id is None or order.status == "replaced":
            return
        if order.status == "expired" and order.group_role == "entry" and order.filled_qty > 0:
            self._activate(order, order.filled_qty)
            return
        status = "expired" if order.status == "expired" else "canceled"
        for member in self.members(order):
            if member is not order and member.is_open:
                self.engine._finish(member, status)  # noqa: SLF001

    def _activate(self, entry: Order, qty: Decimal | None) -> None:
        """The entry is done: the exits cover what it bought; the take-profit works, the stop is armed."""
        for leg in self.legs_of(entry):
            if leg.status != "held":
                continue
            leg.qty = qty
            self._set_status(leg, "new" if leg.group_role == "take_profit" else "held")

    def _set_status(self, order: Order, status: str) -> None:
        """Move a leg between held and working; a leg that starts working is a ``new`` trade update."""
        order.status = status
        order.updated_at = self.engine.now
        self.engine._index(order)  # noqa: SLF001
        self.engine.store.save_order(order)
        if status == "new":
            self.engine.publish("new", order)

    # -- replacement ------------------------------------------------------------------------------------
    def hand_over(self, old: Order, new: Order) -> None:
        """``new`` replaces ``old`` in its group: same class, group and role; a new top-level order takes
        over the legs."""
        index = self._index()  # built before ``new`` joins the group, so it is added once
        new.order_class, new.group_id, new.group_role, new.parent_id = (
            old.order_class,
            old.group_id,
            old.group_role,
            old.parent_id,
        )
        if new.parent_id is not None:
            index.setdefault(new.parent_id, []).append(new.id)
        legs = index.pop(old.id, [])
        if legs:
            index[new.id] = legs
            for leg in (self.engine.orders[i] for i in legs):
                leg.parent_id = new.id
                self.engine.store.save_order(leg)

    def group_request(self, order: Order) -> GroupRequest:
        """The group ``order`` belongs to, as the request that would create it today (a replacement's prices
        are checked by the same rules as a new group's)."""
        members = self.members(order)
        stop = next((m for m in members if m.group_role == "stop_loss"), None)
        return GroupRequest(
            order_class=order.order_class,
            top=request_of(members[0]),
            take_profit=next((m.limit_price for m in members if m.group_role == "take_profit"), None),
            stop_price=stop.stop_price if stop else None,
            stop_limit=stop.limit_price if stop else None,
        )


def request_of(order: Order) -> OrderRequest:
    """The request an order stands for (its remaining fields, as Alpaca's replace reads them)."""
    return OrderRequest(
        symbol=order.symbol,
        side=order.side,
        type=order.type,
        time_in_force=order.time_in_force,
        qty=order.qty,
        notional=order.notional,
        limit_price=order.limit_price,
        client_order_id=order.client_order_id,
        extended_hours=order.extended_hours,
    )
