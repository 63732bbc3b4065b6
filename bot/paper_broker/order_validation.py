"""Checks an order request the way Alpaca does, before the engine looks at cash or holdings.

Each rule answers with Alpaca's status and code (``errors.py``), so a client meets here the same rejections it
will meet on a real account: malformed JSON or fields, qty and notional together, fractional orders that are
not market/day, sub-penny limit or stop prices, a stop order without its stop_price, a trailing stop without
exactly one of trail_price and trail_percent, a time in force the order type does not take (stops: day/gtc;
opg/cls: market/limit), an unknown symbol. When an opg/cls order may be sent is a question of the clock,
answered in ``auctions.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.paper_broker import errors
from bot.paper_broker.models import Order

KNOWN_TYPES = ("market", "limit", "stop", "stop_limit", "trailing_stop")
KNOWN_TIF = ("day", "gtc", "opg", "cls", "ioc", "fok")
LIMIT_TYPES = ("limit", "stop_limit")
STOP_TYPES = ("stop", "stop_limit")
CONDITIONAL_TYPES = ("stop", "stop_limit", "trailing_stop")
AUCTION_TIF = ("opg", "cls")
MAX_QTY_DECIMALS = 9
MIN_NOTIONAL = Decimal(1)
MAX_DIGITS_BEFORE_POINT = 15
"""Amounts of 10^15 or more are refused as invalid: far beyond any account, and beyond exact Decimal maths."""


@dataclass(frozen=True)
class OrderRequest:
    """A syntactically valid order request."""

    symbol: str
    side: str
    type: str
    time_in_force: str
    qty: Decimal | None
    notional: Decimal | None
    limit_price: Decimal | None
    client_order_id: str | None
    extended_hours: bool
    stop_price: Decimal | None = None
    trail_price: Decimal | None = None
    trail_percent: Decimal | None = None

    @classmethod
    def of(cls, order: Order) -> OrderRequest:
        """The request an accepted order stands for (to re-estimate what it costs)."""
        return cls(
            order.symbol,
            order.side,
            order.type,
            order.time_in_force,
            order.qty,
            order.notional,
            order.limit_price,
            order.client_order_id,
            order.extended_hours,
            order.stop_price,
            order.trail_price,
            order.trail_percent,
        )

    @property
    def is_fractional(self) -> bool:
        """Alpaca's 'fractional order': a notional order or a qty that is not a whole number of shares."""
        return self.notional is not None or (
            self.qty is not None and self.qty != self.qty.to_integral_value()
        )


def parse_order_request(body: Any) -> OrderRequest:
    """Validate the JSON body of ``POST /v2/orders``; raise ``BrokerError`` naming the first problem."""
    if not isinstance(body, dict):
        raise errors.malformed_body()
    symbol = _required_str(body, "symbol").upper()
    side = choice_field(body, "side", ("buy", "sell"))
    order_type = choice_field(body, "type", KNOWN_TYPES)
    tif = choice_field(body, "time_in_force", KNOWN_TIF)
    if body.get("order_class") not in (None, "", "simple"):
        raise errors.invalid_request(
            f"order_class {body['order_class']} is not supported by the paper broker"
        )
    qty = decimal_field(body, "qty")
    notional = decimal_field(body, "notional")
    limit_price = decimal_field(body, "limit_price")
    request = OrderRequest(
        symbol=symbol,
        side=side,
        type=order_type,
        time_in_force=tif,
        qty=qty,
        notional=notional,
        limit_price=limit_price,
        client_order_id=client_order_id_field(body),
        extended_hours=_bool(body, "extended_hours"),
        stop_price=decimal_field(body, "stop_price"),
        trail_price=decimal_field(body, "trail_price"),
        trail_percent=decimal_field(body, "trail_percent"),
    )
    _check_amounts(request)
    _check_prices(request)
    _check_trail(request)
    _check_time_in_force(request)
    return request


def _check_amounts(request: OrderRequest) -> None:
    if request.qty is not None and request.notional is not None:
        raise errors.invalid_request("qty and notional cannot both be specified")
    if request.qty is None and request.notional is None:
        raise errors.invalid_request("qty or notional is required")
    if request.qty is not None:
        if request.qty <= 0:
            raise errors.invalid_request("qty must be > 0")
        if -request.qty.as_tuple().exponent > MAX_QTY_DECIMALS:
            raise errors.invalid_request(f"qty must have at most {MAX_QTY_DECIMALS} decimal places")
    if request.notional is not None:
        if request.notional < MIN_NOTIONAL:
            raise errors.invalid_request("cost basis must be >= 1")
        if -request.notional.as_tuple().exponent > 2:
            raise errors.invalid_request("notional must be limited to 2 decimal places")
    if request.is_fractional:
        if request.type != "market":
            raise errors.invalid_request("fractional orders must be market orders")
        if request.time_in_force != "day":
            raise errors.invalid_request("fractional orders must be DAY orders")


def _check_prices(request: OrderRequest) -> None:
    _check_price(request, "limit_price", request.limit_price, LIMIT_TYPES)
    _check_price(request, "stop_price", request.stop_price, STOP_TYPES)
    if request.extended_hours and not (request.type == "limit" and request.time_in_force == "day"):
        raise errors.invalid_request("extended hours order must be DAY limit orders")


def _check_price(request: OrderRequest, name: str, price: Decimal | None, types: tuple[str, ...]) -> None:
    """A price the order type needs is present, positive and on the tick grid; one it does not is absent."""
    if request.type not in types:
        if price is not None:
            raise errors.invalid_request(f"{name} is only allowed for {' and '.join(types)} orders")
        return
    if price is None:
        raise errors.invalid_request(f"{name} is required for {request.type} orders")
    if price <= 0:
        raise errors.invalid_request(f"{name} must be > 0")
    allowed = 2 if price >= 1 else 4
    if -price.as_tuple().exponent > allowed:
        raise errors.invalid_request(
            f"invalid {name}. sub-penny increment does not fulfill minimum pricing criteria"
        )


def _check_trail(request: OrderRequest) -> None:
    """A trailing stop trails by exactly one of a dollar amount and a percent of its high-water mark."""
    trail_price, trail_percent = request.trail_price, request.trail_percent
    if request.type != "trailing_stop":
        for name, value in (("trail_price", trail_price), ("trail_percent", trail_percent)):
            if value is not None:
                raise errors.invalid_request(f"{name} is only allowed for trailing_stop orders")
        return
    if trail_price is not None and trail_percent is not None:
        raise errors.invalid_request("trail_price and trail_percent cannot both be specified")
    if trail_price is None and trail_percent is None:
        raise errors.invalid_request("trail_price or trail_percent is required for trailing_stop orders")
    if trail_price is not None and (trail_price <= 0 or -trail_price.as_tuple().exponent > 2):
        raise errors.invalid_request("trail_price must be > 0 with at most 2 decimal places")
    if trail_percent is not None and not 0 < trail_percent < 100:
        raise errors.invalid_request("trail_percent must be > 0 and < 100")


def _check_time_in_force(request: OrderRequest) -> None:
    """Stops work day or gtc; opg and cls are auction orders, market or limit (Alpaca's table of order
    types against time in force)."""
    tif = request.time_in_force
    if request.type in CONDITIONAL_TYPES and tif not in ("day", "gtc"):
        raise errors.invalid_request(f"{request.type} orders must be DAY or GTC orders")
    if tif in AUCTION_TIF and request.type not in ("market", "limit"):
        raise errors.invalid_request(f"{tif} orders must be market or limit orders")


def _required_str(body: dict, key: str) -> str:
    value = body.get(key)
    if value is None or value == "":
        raise errors.invalid_request(f"{key} is required")
    if not isinstance(value, str):
        raise errors.invalid_request(f"{key} must be a string")
    return value.strip()


def choice_field(body: dict, key: str, allowed: tuple[str, ...]) -> str:
    value = _required_str(body, key).lower()
    if value not in allowed:
        raise errors.invalid_request(f"invalid {key}: {value!r}, must be one of {', '.join(allowed)}")
    return value


def decimal_field(body: dict, key: str) -> Decimal | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise errors.invalid_request(f"{key} must be a decimal number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise errors.invalid_request(f"invalid {key}: {value!r} is not a number") from None
    if not number.is_finite():
        raise errors.invalid_request(f"invalid {key}: {value!r} is not a number")
    if number.adjusted() >= MAX_DIGITS_BEFORE_POINT:
        raise errors.invalid_request(f"invalid {key}: {value!r} is too large")
    return number.quantize(Decimal(1)) if number == number.to_integral_value() else number


def client_order_id_field(body: dict) -> str | None:
    value = body.get("client_order_id")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise errors.invalid_request("client_order_id must be a string")
    if len(value) > 128:
        raise errors.invalid_request("client_order_id must be no more than 128 characters")
    return value


def _bool(body: dict, key: str) -> bool:
    value = body.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise errors.invalid_request(f"{key} must be a boolean")
    return value


def could_cross(request: OrderRequest, side: str, order_type: str, limit_price: Decimal | None) -> bool:
    """Whether a new order could trade against an open one of the same account on the opposite side: what
    Alpaca refuses as a potential wash trade. A market order on either side could; two limit orders could
    only when the buy's limit reaches the sell's (a buy at $50 against a sell at $400 cannot, and Alpaca
    accepts it)."""
    if request.side == side:
        return False
    if request.type != "limit" or order_type != "limit" or limit_price is None:
        return True
    assert request.limit_price is not None
    buy, sell = (
        (request.limit_price, limit_price) if request.side == "buy" else (limit_price, request.limit_price)
    )
    return buy >= sell
