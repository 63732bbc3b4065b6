"""Reads a bracket, oco or oto order request and checks it the way Alpaca does, before any order exists.

Alpaca's advanced order classes (``docs.alpaca.markets/us/docs/orders-at-alpaca``):

* ``bracket``: an entry order plus two exit legs, a take-profit limit order and a stop-loss stop (or
  stop-limit, when ``stop_loss.limit_price`` is given) order on the other side;
* ``oto``: an entry order plus one of those two exit legs;
* ``oco``: the two exit legs alone, for a position already held; the request's ``type`` must be ``limit``
  and the top-level order is the take-profit (its limit price is ``take_profit.limit_price``).

The rejections below carry the statuses, codes and messages Alpaca answers (observed on a paper account and
quoted in ``research`` notes of other Alpaca users, e.g. ``oto orders require stop_loss.stop_price``,
``fractional orders must be simple orders``, ``stop_loss.stop_price must be <= base_price - 0.01`` with a
``base_price`` field). Where Alpaca's wording is unknown (an oto request with both legs or none) the message
says what to send instead. Rules that need the account or the market (entry or exit, base price) are in
``order_groups.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.paper_broker import errors
from bot.paper_broker.order_validation import OrderRequest, decimal_field, parse_order_request

GROUP_CLASSES = ("bracket", "oco", "oto")
GROUP_TIF = ("day", "gtc")
PENNY = Decimal("0.01")


@dataclass(frozen=True)
class GroupRequest:
    """A syntactically valid bracket, oco or oto request: its top-level order and its exit legs' prices."""

    order_class: str
    top: OrderRequest
    """The entry (bracket, oto) or the take-profit (oco)."""
    take_profit: Decimal | None
    """``take_profit.limit_price``: the take-profit leg's limit price (None: no take-profit leg)."""
    stop_price: Decimal | None
    """``stop_loss.stop_price`` (None: no stop-loss leg)."""
    stop_limit: Decimal | None
    """``stop_loss.limit_price``: makes the stop-loss leg a stop-limit order."""

    @property
    def exit_side(self) -> str:
        """The side of the exit legs: the entry's opposite, or the oco's own side."""
        if self.order_class == "oco":
            return self.top.side
        return "sell" if self.top.side == "buy" else "buy"


def is_group_request(body: Any) -> bool:
    """Whether ``body`` asks for one of the advanced order classes this module reads."""
    if not isinstance(body, dict) or not isinstance(body.get("order_class"), str):
        return False
    return body["order_class"].strip().lower() in GROUP_CLASSES


def parse_group_request(body: dict) -> GroupRequest:
    """Validate a bracket, oco or oto body; raise the ``BrokerError`` Alpaca would answer."""
    order_class = body["order_class"].strip().lower()
    take_profit = _leg_object(body, "take_profit")
    stop_loss = _leg_object(body, "stop_loss")
    take_profit_price = _leg_price(take_profit, "take_profit", "limit_price")
    stop_price = _leg_price(stop_loss, "stop_loss", "stop_price")
    stop_limit = _leg_price(stop_loss, "stop_loss", "limit_price")
    _check_legs_present(order_class, take_profit, stop_loss, take_profit_price, stop_price)
    simple = {k: v for k, v in body.items() if k not in ("order_class", "take_profit", "stop_loss")}
    if order_class == "oco":
        if str(body.get("type") or "").strip().lower() != "limit":
            raise errors.invalid_request("oco orders must be limit orders")
        simple["limit_price"] = str(take_profit_price)  # the top-level order is the take-profit
    top = parse_order_request(simple)
    _check_class_rules(order_class, top)
    return GroupRequest(order_class, top, take_profit_price, stop_price, stop_limit)


def _leg_object(body: dict, key: str) -> dict | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise errors.invalid_request(f"{key} must be an object")
    return value


def _leg_price(leg: dict | None, leg_name: str, key: str) -> Decimal | None:
    """A price inside ``take_profit`` or ``stop_loss``, checked like an order's own limit price."""
    if leg is None:
        return None
    name = f"{leg_name}.{key}"
    price = decimal_field({name: leg.get(key)}, name)
    return None if price is None else check_price(name, price)


def check_price(name: str, price: Decimal) -> Decimal:
    """A price must be positive and on the tick grid: cents from $1, hundredths of a cent below."""
    if price <= 0:
        raise errors.invalid_request(f"{name} must be > 0")
    allowed = 2 if price >= 1 else 4
    if -price.as_tuple().exponent > allowed:
        raise errors.invalid_request(
            f"invalid {name}. sub-penny increment does not fulfill minimum pricing criteria"
        )
    return price


def _check_legs_present(
    order_class: str,
    take_profit: dict | None,
    stop_loss: dict | None,
    take_profit_price: Decimal | None,
    stop_price: Decimal | None,
) -> None:
    """Alpaca's ``<class> orders require take_profit.limit_price`` / ``... stop_loss.stop_price`` (422)."""
    if stop_loss is not None and stop_price is None:
        raise errors.invalid_request(f"{order_class} orders require stop_loss.stop_price")
    if take_profit is not None and take_profit_price is None:
        raise errors.invalid_request(f"{order_class} orders require take_profit.limit_price")
    if order_class in ("bracket", "oco"):
        if take_profit_price is None:
            raise errors.invalid_request(f"{order_class} orders require take_profit.limit_price")
        if stop_price is None:
            raise errors.invalid_request(f"{order_class} orders require stop_loss.stop_price")
    elif take_profit is None and stop_loss is None:
        raise errors.invalid_request(
            "oto orders require take_profit.limit_price or stop_loss.stop_price (one exit leg)"
        )
    elif take_profit is not None and stop_loss is not None:
        raise errors.invalid_request(
            "oto orders take one exit leg: send take_profit or stop_loss, or use order_class bracket for both"
        )


def _check_class_rules(order_class: str, top: OrderRequest) -> None:
    """Time in force day or gtc, no extended hours, whole shares: Alpaca's rules for every order group."""
    if top.time_in_force not in GROUP_TIF:
        raise errors.invalid_request(f'{order_class} orders support only "day" or "gtc" time_in_force')
    if top.extended_hours:
        raise errors.BrokerError(403, 40310000, f"{order_class} orders do not support extended hours trading")
    if top.is_fractional:
        raise errors.BrokerError(422, 42210000, "fractional orders must be simple orders")


def check_base_price(group: GroupRequest, base_price: Decimal) -> None:
    """The exit legs must sit at least a cent on the right side of Alpaca's "base price".

    Alpaca's rule: the base price is the take-profit's limit price for an oco order, the entry's limit price
    for a bracket or oto order with a limit entry, else the current market price. A long exit (sell legs)
    needs ``take_profit.limit_price >= base + 0.01`` and ``stop_loss.stop_price <= base - 0.01``; a short
    exit the mirror image. The answer is 422 code 42210000 with the ``base_price`` Alpaca used.
    """
    selling = group.exit_side == "sell"
    if group.take_profit is not None and group.order_class != "oco":
        if selling and group.take_profit < base_price + PENNY:
            raise _base_price_error("take_profit.limit_price must be >= base_price + 0.01", base_price)
        if not selling and group.take_profit > base_price - PENNY:
            raise _base_price_error("take_profit.limit_price must be <= base_price - 0.01", base_price)
    if group.stop_price is not None:
        if selling and group.stop_price > base_price - PENNY:
            raise _base_price_error("stop_loss.stop_price must be <= base_price - 0.01", base_price)
        if not selling and group.stop_price < base_price + PENNY:
            raise _base_price_error("stop_loss.stop_price must be >= base_price + 0.01", base_price)


def _base_price_error(message: str, base_price: Decimal) -> errors.BrokerError:
    return errors.BrokerError(422, 42210000, message, {"base_price": format(base_price.normalize(), "f")})
