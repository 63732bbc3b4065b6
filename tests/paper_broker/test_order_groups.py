"""Bracket, oco and oto orders on the paper broker, through alpaca-py over HTTP (issue 18 item 4).

The prices are set against SPY's real minutes of 2019-12-17 (the broker's start): 319.92 at the 14:30 UTC
open, a dip to 319.73 at 14:32, a high of 320.25 at 14:36-14:37, never below 319.48 all day. The taxable
account starts with 80 SPY; the IRA holds no SPY.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderSide, OrderStatus, OrderType, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import (
    GetOrderByIdRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    StopLossRequest,
    TakeProfitRequest,
)

from tests.conftest import KEY, SECRET

pytestmark = pytest.mark.slow  # Slow tier: bracket, oco and oto legs over real minutes

OPEN = datetime(2019, 12, 17, 14, 30, tzinfo=UTC)
CLOSE = datetime(2019, 12, 17, 21, 0, tzinfo=UTC)
NEVER_REACHED_HIGH = 321.00  # SPY's high that day was 320.25
NEVER_REACHED_LOW = 319.00  # and its low 319.48


def bracket(
    take_profit: float | None,
    stop: float | None,
    *,
    entry_limit: float | None = None,
    stop_limit: float | None = None,
    order_class: OrderClass = OrderClass.BRACKET,
    qty: float = 10,
    tif: TimeInForce = TimeInForce.GTC,
    **extra: object,
) -> MarketOrderRequest | LimitOrderRequest:
    """A buy of SPY with exit legs (None leaves a leg out, for oto)."""
    legs = {
        "take_profit": TakeProfitRequest(limit_price=take_profit) if take_profit else None,
        "stop_loss": StopLossRequest(stop_price=stop, limit_price=stop_limit) if stop else None,
    }
    common = {"symbol": "SPY", "qty": qty, "side": OrderSide.BUY, "time_in_force": tif, **extra}
    if entry_limit is None:
        return MarketOrderRequest(order_class=order_class, **legs, **common)
    return LimitOrderRequest(order_class=order_class, limit_price=entry_limit, **legs, **common)


def oco(take_profit: float, stop: float, qty: float = 10) -> LimitOrderRequest:
    return LimitOrderRequest(
        symbol="SPY",
        qty=qty,
        side=OrderSide.SELL,
        time_in_force=TimeInForce.GTC,
        order_class=OrderClass.OCO,
        take_profit=TakeProfitRequest(limit_price=take_profit),
        stop_loss=StopLossRequest(stop_price=stop),
    )


def nested(trading: TradingClient, order_id: object) -> Order:
    return trading.get_order_by_id(order_id, GetOrderByIdRequest(nested=True))


def leg(order: Order, order_type: OrderType) -> Order:
    (found,) = [x for x in order.legs or [] if x.type == order_type]
    return found


def available(trading: TradingClient) -> Decimal:
    return Decimal(trading.get_open_position("SPY").qty_available)


def spy(trading: TradingClient) -> Decimal:
    return Decimal(trading.get_open_position("SPY").qty)


def rejected(call) -> APIError:  # noqa: ANN001 - a zero-argument callable
    with pytest.raises(APIError) as caught:
        call()
    return caught.value


# -- bracket -------------------------------------------------------------------------------------------------
def test_bracket_legs_are_held_until_the_entry_fills_then_the_take_profit_works(broker, trading):
    order = trading.submit_order(bracket(320.15, 319.50, entry_limit=319.80))
    assert order.order_class == OrderClass.BRACKET and order.status == OrderStatus.NEW
    take_profit, stop_loss = leg(order, OrderType.LIMIT), leg(order, OrderType.STOP)
    assert (take_profit.side, Decimal(take_profit.limit_price), Decimal(take_profit.qty)) == (
        OrderSide.SELL,
        Decimal("320.15"),
        10,
    )
    assert (stop_loss.side, Decimal(stop_loss.stop_price)) == (OrderSide.SELL, Decimal("319.50"))
    assert {take_profit.status, stop_loss.status} == {OrderStatus.HELD}
    assert all(x.order_class == OrderClass.BRACKET for x in order.legs)
    assert available(trading) == 80  # legs waiting for their entry hold none of the 80 SPY held

    broker.advance(minutes=1)  # the first minute traded at 319.92: the 319.80 entry waits
    still = nested(trading, order.id)
    assert still.status == OrderStatus.NEW and {x.status for x in still.legs} == {OrderStatus.HELD}

    broker.advance(minutes=2)  # 14:32 traded at 319.73: the entry fills
    done = nested(trading, order.id)
    assert done.status == OrderStatus.FILLED and Decimal(done.filled_avg_price) <= Decimal("319.80")
    assert leg(done, OrderType.LIMIT).status == OrderStatus.NEW  # the take-profit works
    assert leg(done, OrderType.STOP).status == OrderStatus.HELD  # the stop waits for its price
    assert spy(trading) == 90 and available(trading) == 80  # the exit pair holds its 10 shares once


def test_legs_are_nested_only_when_asked_and_listed_flat_otherwise(broker, trading):
    order = trading.submit_order(bracket(320.15, 318.50, entry_limit=319.00))
    assert trading.get_order_by_id(order.id).legs is None
    assert {x.id for x in nested(trading, order.id).legs} == {x.id for x in order.legs}
    flat = trading.get_orders(GetOrdersRequest(status="open"))
    assert {x.id for x in flat} == {order.id, *(x.id for x in order.legs)}
    (top,) = trading.get_orders(GetOrdersRequest(status="open", nested=True))
    assert top.id == order.id and len(top.legs) == 2
    raw = trading.get(f"/orders/{order.id}", {"nested": "true"})
    assert raw["group_role"] == "entry"
    assert {x["group_role"] for x in raw["legs"]} == {"take_profit", "stop_loss"}
    assert {x["group_id"] for x in raw["legs"]} == {raw["group_id"]}


def test_take_profit_fill_cancels_the_stop_loss(broker, trading):
    cash = Decimal(trading.get_account().cash)
    order = trading.submit_order(bracket(320.15, 319.50))
    broker.advance(minutes=10)  # filled at the open, 320.25 reached at 14:36
    done = nested(trading, order.id)
    take_profit, stop_loss = leg(done, OrderType.LIMIT), leg(done, OrderType.STOP)
    assert take_profit.status == OrderStatus.FILLED
    assert Decimal(take_profit.filled_avg_price) >= Decimal("320.15")
    assert stop_loss.status == OrderStatus.CANCELED and stop_loss.canceled_at == take_profit.filled_at
    assert spy(trading) == 80 and available(trading) == 80
    bought = Decimal(done.filled_avg_price) * 10
    sold = Decimal(take_profit.filled_avg_price) * 10
    assert Decimal(trading.get_account().cash) == cash - bought + sold


@pytest.mark.parametrize("stop_limit", [None, 319.70], ids=["stop", "stop_limit"])
def test_stop_loss_triggers_on_the_minute_that_trades_through_it_and_cancels_the_take_profit(
    broker, trading, stop_limit
):
    order = trading.submit_order(bracket(NEVER_REACHED_HIGH, 319.75, stop_limit=stop_limit))
    kind = OrderType.STOP if stop_limit is None else OrderType.STOP_LIMIT
    broker.advance_to(OPEN + timedelta(minutes=2))  # lows 319.92 and 319.81: above the stop
    assert leg(nested(trading, order.id), kind).status == OrderStatus.HELD
    broker.advance_to(OPEN + timedelta(minutes=3))  # 14:32 traded at 319.73: the stop is released
    assert leg(nested(trading, order.id), kind).status == OrderStatus.NEW
    broker.advance_to(OPEN + timedelta(minutes=10))
    done = nested(trading, order.id)
    stop_loss, take_profit = leg(done, kind), leg(done, OrderType.LIMIT)
    assert stop_loss.status == OrderStatus.FILLED and take_profit.status == OrderStatus.CANCELED
    assert stop_loss.filled_at > OPEN + timedelta(minutes=3)  # never at a price seen before the trigger
    if stop_limit is not None:
        assert Decimal(stop_loss.filled_avg_price) >= Decimal("319.70")
    assert spy(trading) == 80


def test_cancelling_the_entry_cancels_its_held_legs_and_frees_its_buying_power(broker, trading):
    buying_power = Decimal(trading.get_account().buying_power)
    order = trading.submit_order(bracket(320.15, 299.00, entry_limit=300.00))
    assert Decimal(trading.get_account().buying_power) == buying_power - 3000
    trading.cancel_order_by_id(order.id)
    done = nested(trading, order.id)
    assert done.status == OrderStatus.CANCELED
    assert {x.status for x in done.legs} == {OrderStatus.CANCELED}
    assert trading.get_orders(GetOrdersRequest(status="open")) == []
    assert Decimal(trading.get_account().buying_power) == buying_power


def test_cancelling_one_leg_cancels_the_rest_of_the_group(broker, trading):
    order = trading.submit_order(bracket(320.15, 319.50))
    broker.advance(minutes=1)
    trading.cancel_order_by_id(leg(order, OrderType.LIMIT).id)
    done = nested(trading, order.id)
    assert done.status == OrderStatus.FILLED  # the entry had filled: the position stays, unprotected
    assert {x.status for x in done.legs} == {OrderStatus.CANCELED}
    assert available(trading) == 90


def test_a_day_bracket_whose_entry_never_fills_expires_with_its_legs(broker, trading):
    order = trading.submit_order(bracket(320.15, 299.00, entry_limit=300.00, tif=TimeInForce.DAY))
    broker.advance_to(CLOSE + timedelta(minutes=1))
    done = nested(trading, order.id)
    assert done.status == OrderStatus.EXPIRED and {x.status for x in done.legs} == {OrderStatus.EXPIRED}


def test_a_day_bracket_expires_its_working_exits_at_the_close(broker, trading):
    order = trading.submit_order(bracket(NEVER_REACHED_HIGH, NEVER_REACHED_LOW, tif=TimeInForce.DAY))
    broker.advance_to(CLOSE + timedelta(minutes=1))
    done = nested(trading, order.id)
    assert done.status == OrderStatus.FILLED and {x.status for x in done.legs} == {OrderStatus.EXPIRED}
    assert spy(trading) == 90 and available(trading) == 90


# -- oco and oto ---------------------------------------------------------------------------------------------
def test_oco_exits_a_held_position_and_one_leg_cancels_the_other(broker, trading):
    order = trading.submit_order(oco(320.15, 319.50))
    assert order.order_class == OrderClass.OCO and order.type == OrderType.LIMIT
    assert Decimal(order.limit_price) == Decimal("320.15") and order.status == OrderStatus.NEW
    (stop_loss,) = order.legs
    assert stop_loss.type == OrderType.STOP and stop_loss.status == OrderStatus.HELD
    assert available(trading) == 70  # the pair holds 10 of the 80 shares, once
    broker.advance(minutes=10)
    done = nested(trading, order.id)
    assert done.status == OrderStatus.FILLED and done.legs[0].status == OrderStatus.CANCELED
    assert spy(trading) == 70


def test_oto_with_a_stop_loss_protects_the_entry(broker, trading):
    order = trading.submit_order(bracket(None, 319.75, order_class=OrderClass.OTO, qty=5))
    assert order.order_class == OrderClass.OTO
    assert [(x.type, x.status) for x in order.legs] == [(OrderType.STOP, OrderStatus.HELD)]
    broker.advance(minutes=10)  # entry at the open, stop released by the 14:32 dip
    done = nested(trading, order.id)
    assert done.status == OrderStatus.FILLED and done.legs[0].status == OrderStatus.FILLED
    assert spy(trading) == 80


def test_oto_with_a_take_profit_only(broker, trading):
    order = trading.submit_order(bracket(320.15, None, order_class=OrderClass.OTO, qty=5))
    assert [(x.type, x.status) for x in order.legs] == [(OrderType.LIMIT, OrderStatus.HELD)]
    broker.advance(minutes=10)
    assert nested(trading, order.id).legs[0].status == OrderStatus.FILLED and spy(trading) == 80


def test_a_bracket_sent_while_closed_is_accepted_and_works_from_the_open(broker, trading):
    broker.advance_to(CLOSE + timedelta(hours=1))
    order = trading.submit_order(bracket(NEVER_REACHED_HIGH, NEVER_REACHED_LOW))
    assert order.status == OrderStatus.ACCEPTED and {x.status for x in order.legs} == {OrderStatus.HELD}
    broker.advance_to(OPEN + timedelta(days=1, minutes=1))
    done = nested(trading, order.id)
    assert done.status == OrderStatus.FILLED and leg(done, OrderType.LIMIT).status == OrderStatus.NEW


def test_groups_survive_a_restart(make_broker):
    first = make_broker()
    client = TradingClient(KEY, SECRET, url_override=first.url)
    order = client.submit_order(bracket(320.15, 319.50))
    first.advance(minutes=1)
    first.stop()
    again = make_broker()  # same database file
    client = TradingClient(KEY, SECRET, url_override=again.url)
    assert leg(nested(client, order.id), OrderType.LIMIT).status == OrderStatus.NEW
    again.advance(minutes=10)
    done = nested(client, order.id)
    assert leg(done, OrderType.LIMIT).status == OrderStatus.FILLED
    assert leg(done, OrderType.STOP).status == OrderStatus.CANCELED


# -- Alpaca's refusals ---------------------------------------------------------------------------------------
def test_exit_prices_on_the_wrong_side_of_the_base_price_are_refused_with_it(broker, trading):
    error = rejected(lambda: trading.submit_order(bracket(319.50, 319.00)))  # market entry: base = 319.92
    assert (error.status_code, error.code) == (422, 42210000)
    assert error.message == "take_profit.limit_price must be >= base_price + 0.01"
    assert error.response.json()["base_price"] == "319.92"
    error = rejected(lambda: trading.submit_order(bracket(321.00, 319.80, entry_limit=319.80)))
    assert error.message == "stop_loss.stop_price must be <= base_price - 0.01"
    assert error.response.json()["base_price"] == "319.8"  # a limit entry's base is its limit price
    error = rejected(lambda: trading.submit_order(oco(320.00, 320.00)))  # an oco's base: its take-profit
    assert error.message == "stop_loss.stop_price must be <= base_price - 0.01"
    assert trading.get_orders(GetOrdersRequest(status="all", after=OPEN - timedelta(minutes=1))) == []


@pytest.mark.parametrize(
    ("change", "status", "code", "message"),
    [
        ({"tif": TimeInForce.IOC}, 422, 40010001, 'bracket orders support only "day" or "gtc" time_in_force'),
        ({"qty": 1.5, "tif": TimeInForce.DAY}, 422, 42210000, "fractional orders must be simple orders"),
        (
            {"entry_limit": 319.90, "tif": TimeInForce.DAY, "extended_hours": True},
            403,
            40310000,
            "bracket orders do not support extended hours trading",
        ),
    ],
    ids=["ioc", "fractional", "extended-hours"],
)
def test_bracket_rules_are_refused_with_alpacas_codes(broker, trading, change, status, code, message):
    error = rejected(lambda: trading.submit_order(bracket(320.15, 319.50, **change)))
    assert (error.status_code, error.code, error.message) == (status, code, message)


LEGS = {"take_profit": {"limit_price": "321"}, "stop_loss": {"stop_price": "310"}}
SHORT_LEGS = {"take_profit": {"limit_price": "310"}, "stop_loss": {"stop_price": "321"}}
MALFORMED = {
    "bracket-without-stop": (
        {"order_class": "bracket", "take_profit": {"limit_price": "321"}},
        40010001,
        "bracket orders require stop_loss.stop_price",
    ),
    "oto-trailing-leg": (
        {"order_class": "oto", "stop_loss": {"trail_percent": "10"}},  # no trailing legs on Alpaca
        40010001,
        "oto orders require stop_loss.stop_price",
    ),
    "notional": (
        {"order_class": "bracket", "notional": "500", "qty": None, "time_in_force": "day", **LEGS},
        42210000,
        "fractional orders must be simple orders",
    ),
    "oco-market": (
        {"order_class": "oco", "side": "sell", **LEGS},
        40010001,
        "oco orders must be limit orders",
    ),
    "bracket-closing": (  # selling the 80 SPY held would close, not open, a position
        {"order_class": "bracket", "side": "sell", **SHORT_LEGS},
        42210000,
        "bracket orders must be entry orders",
    ),
}  # fmt: skip


@pytest.mark.parametrize(("body", "code", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_groups_are_refused_as_alpaca_refuses_them(broker, trading, body, code, message):
    order = {"symbol": "SPY", "qty": "10", "side": "buy", "type": "market", "time_in_force": "gtc", **body}
    error = rejected(lambda: trading.post("/orders", {k: v for k, v in order.items() if v is not None}))
    assert (error.status_code, error.code, error.message) == (422, code, message)


def test_oco_without_the_shares_is_refused_as_not_an_exit(broker, other_trading):
    error = rejected(lambda: other_trading.submit_order(oco(320.15, 319.50)))  # the IRA holds no SPY
    assert (error.status_code, error.code, error.message) == (422, 42210000, "oco orders must be exit orders")
