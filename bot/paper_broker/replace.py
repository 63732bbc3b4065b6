"""Alpaca's order replace, ``PATCH /v2/orders/{order_id}``: a new order takes an open order's place.

What Alpaca does (its Trading API reference and what its users report):

* The patch may give ``qty``, ``time_in_force``, ``limit_price``, ``stop_price``, ``trail`` and
  ``client_order_id``; every other attribute stays the old order's. The answer is a NEW order (new ``id``,
  a generated ``client_order_id`` unless one is given) whose ``replaces`` is the old id; the old order ends
  ``replaced`` with ``replaced_by`` and ``replaced_at``.
* Only an open order that reached the market can be replaced: ``accepted`` (sent while closed) is refused as
  "order isn't sent to exchange yet", an ended order as "order is not open"; notional orders cannot be
  replaced at all; ``qty`` is whole shares and must stay above what already filled ("qty must be >
  filled_qty").
* The new ``qty`` is the chain's total: what the old order filled counts in it, so the new order trades only
  the rest. Here the new order carries the old one's fills (``filled_qty``, average price), as a FIX
  cancel/replace carries the chain's cumulative quantity, so no share is traded twice.
* In a bracket, oco or oto group only ``limit_price`` and ``stop_price`` can change, and the group's prices
  must still pass Alpaca's base-price rule; the new order takes the old one's place in the group.

A patch that changes nothing is refused (the broker's own wording: Alpaca's is not documented).
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import TYPE_CHECKING, Any

from bot.paper_broker import errors
from bot.paper_broker.group_requests import check_base_price, check_price
from bot.paper_broker.models import Account, Order
from bot.paper_broker.order_groups import request_of
from bot.paper_broker.order_validation import (
    KNOWN_TIF,
    OrderRequest,
    choice_field,
    client_order_id_field,
    could_cross,
    decimal_field,
    parse_order_request,
)

if TYPE_CHECKING:  # pragma: no cover - type hints only
    from bot.paper_broker.engine import PaperBrokerEngine

NOT_SENT = frozenset({"accepted", "pending_new"})
GROUP_FIELDS_ONLY = (
    "unable to replace order, only limit_price and stop_price of a bracket, oco or oto order can change"
)


@dataclass(frozen=True)
class Patch:
    """The fields of a replace request; None means "keep the old order's"."""

    qty: Decimal | None
    time_in_force: str | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    trail: Decimal | None
    client_order_id: str | None


def parse_patch(body: Any) -> Patch:
    """Read ``PatchOrderRequest``; a malformed field is refused with Alpaca's 422 naming it."""
    if not isinstance(body, dict):
        raise errors.malformed_body()
    tif = body.get("time_in_force")
    return Patch(
        qty=decimal_field(body, "qty"),
        time_in_force=choice_field(body, "time_in_force", KNOWN_TIF) if tif not in (None, "") else None,
        limit_price=_price(body, "limit_price"),
        stop_price=_price(body, "stop_price"),
        trail=decimal_field(body, "trail"),
        client_order_id=client_order_id_field(body),
    )


def _price(body: dict, key: str) -> Decimal | None:
    value = decimal_field(body, key)
    return None if value is None else check_price(key, value)


def replace_order(engine: PaperBrokerEngine, account: Account, order_id: str, body: Any) -> Order:
    """Replace an open order of ``account`` as Alpaca does; return the new order."""
    patch = parse_patch(body)
    with engine.lock, engine.store.transaction(), localcontext() as context:
        context.prec = 60
        old = engine.get_order(account, order_id)
        _check_replaceable(old)
        request = _new_request(engine, old, patch)
        _check_account(engine, account, old, request, patch)
        return _book(engine, account, old, request, patch)


def _check_replaceable(old: Order) -> None:
    if old.status in NOT_SENT:
        raise errors.invalid_request("unable to replace order, order isn't sent to exchange yet")
    if not old.is_open:
        raise errors.BrokerError(422, 42210000, "unable to replace order, order is not open")
    if old.notional is not None:
        raise errors.invalid_request(
            "unable to replace order, notional orders cannot be replaced: cancel it and submit a new one"
        )


def _new_request(engine: PaperBrokerEngine, old: Order, patch: Patch) -> OrderRequest:
    """The replacing order's fields, checked by the rules a new order of its kind must pass."""
    if patch.trail is not None:
        raise errors.invalid_request("unable to replace order, trail is only for trailing_stop orders")
    if patch.limit_price is not None and old.type not in ("limit", "stop_limit"):
        raise errors.invalid_request(f"unable to replace order, a {old.type} order has no limit_price")
    if patch.stop_price is not None and old.type not in ("stop", "stop_limit"):
        raise errors.invalid_request(f"unable to replace order, a {old.type} order has no stop_price")
    request = dataclasses.replace(
        request_of(old),
        qty=old.qty if patch.qty is None else patch.qty,
        time_in_force=patch.time_in_force or old.time_in_force,
        limit_price=old.limit_price if patch.limit_price is None else patch.limit_price,
        client_order_id=patch.client_order_id,
    )
    stop_price = old.stop_price if patch.stop_price is None else patch.stop_price
    if (request.qty, request.time_in_force, request.limit_price, stop_price) == (
        old.qty,
        old.time_in_force,
        old.limit_price,
        old.stop_price,
    ):
        raise errors.invalid_request(
            "unable to replace order, nothing to change: give a new qty, time_in_force, limit_price "
            "or stop_price"
        )
    if old.group_id is not None:
        _check_group_patch(engine, old, request, stop_price)
        return request
    _check_qty(old, request.qty)
    return parse_order_request(_body_of(request))  # the rules of a new simple order, same messages


def _check_qty(old: Order, qty: Decimal | None) -> None:
    assert qty is not None  # notional orders were refused
    if qty <= 0:
        raise errors.invalid_request("qty must be > 0")
    if qty != qty.to_integral_value():
        raise errors.invalid_request("unable to replace order, qty must be whole shares")
    if qty <= old.filled_qty:
        raise errors.invalid_request("unable to replace order, qty must be > filled_qty")


def _check_group_patch(
    engine: PaperBrokerEngine, old: Order, request: OrderRequest, stop_price: Decimal | None
) -> None:
    """Only prices change in a group, and the group's prices must still pass the base-price rule."""
    if request.qty != old.qty or request.time_in_force != old.time_in_force:
        raise errors.invalid_request(GROUP_FIELDS_ONLY)
    group = engine.groups.group_request(old)
    if old.parent_id is None:  # the entry, or an oco's take-profit
        group = dataclasses.replace(group, top=request)
    if old.group_role == "take_profit":
        group = dataclasses.replace(group, take_profit=request.limit_price)
    elif old.group_role == "stop_loss":
        group = dataclasses.replace(group, stop_price=stop_price, stop_limit=request.limit_price)
    check_base_price(group, engine.groups.base_price(group))


def _body_of(request: OrderRequest) -> dict:
    fields = ("symbol", "side", "type", "time_in_force", "qty", "limit_price", "extended_hours")
    body = {f: getattr(request, f) for f in fields}
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in body.items() if v is not None}


def _check_account(
    engine: PaperBrokerEngine, account: Account, old: Order, request: OrderRequest, patch: Patch
) -> None:
    """Unique client_order_id, no wash trade, and the account can carry the new order in place of the old."""
    if patch.client_order_id is not None and (account.id, patch.client_order_id) in engine._by_client_id:  # noqa: SLF001
        raise errors.duplicate_client_order_id()
    group = {m.id for m in engine.groups.members(old)}
    others = [o for o in engine.open_orders(account) if o.id not in group and o.symbol == old.symbol]
    if any(could_cross(request, o.side, o.type, o.limit_price) for o in others):
        raise errors.wash_trade()
    remaining = (request.qty or Decimal(0)) - old.filled_qty
    if old.side == "buy":
        cost = _cost(engine, request, remaining)
        available = engine.buying_power(account) + old.reserved
        if cost > available:
            raise errors.insufficient_buying_power(str(available), str(cost))
    elif remaining > (old.qty or Decimal(0)) - old.filled_qty:  # a bigger sell needs the shares free
        _check_shares(engine, account, old, remaining)


def _check_shares(engine: PaperBrokerEngine, account: Account, old: Order, remaining: Decimal) -> None:
    position = account.positions.get(old.symbol)
    existing = position.qty if position else Decimal(0)
    held = engine.held_for_orders(account, old.symbol) - (old.qty or Decimal(0)) + old.filled_qty
    if remaining > existing - held:
        free = existing - held
        raise errors.insufficient_qty(old.symbol, str(remaining), str(free), str(held), str(existing))


def _cost(engine: PaperBrokerEngine, request: OrderRequest, remaining: Decimal) -> Decimal:
    """What the rest of a buy would cost, as a new order of that size is reserved."""
    if request.type == "limit" and request.limit_price is not None:
        return (remaining * request.limit_price).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return engine._estimated_cost(dataclasses.replace(request, qty=remaining, type="market"))  # noqa: SLF001


def _book(
    engine: PaperBrokerEngine, account: Account, old: Order, request: OrderRequest, patch: Patch
) -> Order:
    """Book the new order, hand it the old one's place (and fills), and end the old one ``replaced``."""
    client_order_id = patch.client_order_id or str(uuid.uuid4())
    new = engine._new_order(account, request, engine.now, client_order_id=client_order_id)  # noqa: SLF001
    new.stop_price = old.stop_price if patch.stop_price is None else patch.stop_price
    new.replaces = old.id
    new.filled_qty, new.filled_value = old.filled_qty, old.filled_value
    if old.status == "held":
        new.status = "held"
    else:
        new.status = "partially_filled" if new.filled_qty else "new"
    if old.group_id is not None:
        engine.groups.hand_over(old, new)
    old.replaced_by = new.id
    engine._finish(old, "replaced")  # noqa: SLF001 - the one place an order ends (trade_updates watch it)
    if new.side == "buy":
        new.reserved = _cost(engine, request, (new.qty or Decimal(0)) - new.filled_qty)
    engine._index(new)  # noqa: SLF001
    engine.store.save_order(new)
    engine.store.save_account(account)
    return new
