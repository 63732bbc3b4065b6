"""Replacing an open order (PATCH /v2/orders/{order_id}) through alpaca-py's replace_order_by_id.

SPY's real minutes of 2019-12-17: 319.92 at the 14:30 UTC open, 319.73 at 14:32, 320.25 at 14:36. The taxable
account starts with 80 SPY and $100,000.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderSide, OrderStatus, OrderType, TimeInForce
from alpaca.trading.requests import (
    GetOrderByIdRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLossRequest,
    TakeProfitRequest,
)

from tests.conftest import KEY, SECRET

pytestmark = pytest.mark.slow  # Slow tier: replace over real minutes

OPEN = datetime(2019, 12, 17, 14, 30, tzinfo=UTC)


def limit(side: OrderSide, price: float, qty: float = 10, **extra: object) -> LimitOrderRequest:
    return LimitOrderRequest(
        symbol="SPY", qty=qty, side=side, limit_price=price, time_in_force=TimeInForce.GTC, **extra
    )


def rejected(call) -> APIError:  # noqa: ANN001 - a zero-argument callable
    with pytest.raises(APIError) as caught:
        call()
    return caught.value


def fills(client: TradingClient) -> list[dict]:
    return client.get("/account/activities/FILL", {"direction": "asc", "after": "2019-12-17T00:00:00Z"})


def test_replace_books_a_new_order_and_the_old_one_ends_replaced(broker, trading):
    buying_power = Decimal(trading.get_account().buying_power)
    old = trading.submit_order(limit(OrderSide.BUY, 300.00, client_order_id="move-1"))
    new = trading.replace_order_by_id(old.id, ReplaceOrderRequest(limit_price=319.80))
    assert new.id != old.id and new.replaces == old.id and new.client_order_id != "move-1"
    assert (new.status, Decimal(new.limit_price), Decimal(new.qty)) == (OrderStatus.NEW, Decimal("319.8"), 10)
    assert (new.symbol, new.side, new.type, new.time_in_force) == (
        "SPY",
        OrderSide.BUY,
        OrderType.LIMIT,
        "gtc",
    )
    before = trading.get_order_by_id(old.id)
    assert before.status == OrderStatus.REPLACED and before.replaced_by == new.id
    assert before.replaced_at == OPEN
    assert [o.id for o in trading.get_orders(GetOrdersRequest(status="open"))] == [new.id]
    assert Decimal(trading.get_account().buying_power) == buying_power - 3198  # 10 x 319.80, no longer 3000

    broker.advance(minutes=3)  # 14:32 trades at 319.73: the new limit fills, the old one never does
    assert trading.get_order_by_id(new.id).status == OrderStatus.FILLED
    assert trading.get_order_by_id(old.id).status == OrderStatus.REPLACED
    assert Decimal(trading.get_open_position("SPY").qty) == 90
    assert [(a["order_id"], a["qty"]) for a in fills(trading)] == [(str(new.id), "10")]


def test_a_replaced_order_takes_the_given_client_order_id_and_fields(broker, trading):
    old = trading.submit_order(limit(OrderSide.SELL, 330.00))
    new = trading.replace_order_by_id(
        old.id,
        ReplaceOrderRequest(
            qty=5, time_in_force=TimeInForce.DAY, limit_price=331.5, client_order_id="move-2"
        ),
    )
    assert (new.client_order_id, Decimal(new.qty), new.time_in_force) == ("move-2", 5, TimeInForce.DAY)
    assert trading.get_order_by_client_id("move-2").id == new.id
    assert Decimal(trading.get_open_position("SPY").qty_available) == 75


def test_replacing_a_partly_filled_order_trades_each_share_once(make_broker):
    broker = make_broker(matching={"max_minute_participation": 0.00002})  # a few shares a minute
    client = TradingClient(KEY, SECRET, url_override=broker.url)
    old = client.submit_order(limit(OrderSide.SELL, 319.00, qty=60))
    broker.advance(minutes=1)
    sold = Decimal(client.get_order_by_id(old.id).filled_qty)
    assert 0 < sold < 40
    error = rejected(lambda: client.replace_order_by_id(old.id, ReplaceOrderRequest(qty=int(sold))))
    assert (error.status_code, error.message) == (422, "unable to replace order, qty must be > filled_qty")
    new = client.replace_order_by_id(old.id, ReplaceOrderRequest(qty=40))  # 40 in all, the sold ones included
    assert new.status == OrderStatus.PARTIALLY_FILLED and Decimal(new.filled_qty) == sold
    broker.advance(minutes=120)
    assert client.get_order_by_id(new.id).status == OrderStatus.FILLED
    assert Decimal(client.get_open_position("SPY").qty) == 80 - 40
    by_order = {old.id: Decimal(0), new.id: Decimal(0)}
    for activity in fills(client):
        by_order[type(old.id)(activity["order_id"])] += Decimal(activity["qty"])
    assert by_order == {old.id: sold, new.id: 40 - sold}


@pytest.mark.parametrize(
    ("state", "status", "code", "message"),
    [
        ("filled", 422, 42210000, "unable to replace order, order is not open"),
        ("canceled", 422, 42210000, "unable to replace order, order is not open"),
        ("replaced", 422, 42210000, "unable to replace order, order is not open"),
        ("accepted", 422, 40010001, "unable to replace order, order isn't sent to exchange yet"),
    ],
)
def test_only_open_orders_that_reached_the_market_can_be_replaced(
    broker, trading, state, status, code, message
):
    if state == "accepted":
        broker.advance_to(OPEN + timedelta(hours=7))  # after the close
    order = trading.submit_order(limit(OrderSide.BUY, 330.00 if state == "filled" else 300.00))
    if state == "filled":
        broker.advance(minutes=1)
    elif state == "canceled":
        trading.cancel_order_by_id(order.id)
    elif state == "replaced":
        trading.replace_order_by_id(order.id, ReplaceOrderRequest(limit_price=301))
    error = rejected(lambda: trading.replace_order_by_id(order.id, ReplaceOrderRequest(limit_price=302)))
    assert (error.status_code, error.code, error.message) == (status, code, message)
    assert trading.get_order_by_id(order.id).replaced_by is None or state == "replaced"


BAD_PATCHES = {
    "nothing": (
        {"limit_price": "300"},
        "unable to replace order, nothing to change: "
        "give a new qty, time_in_force, limit_price or stop_price",
    ),
    "fractional-qty": ({"qty": "1.5"}, "unable to replace order, qty must be whole shares"),
    "stop-on-limit": ({"stop_price": "290"}, "unable to replace order, a limit order has no stop_price"),
    "trail": ({"trail": "1"}, "unable to replace order, trail is only for trailing_stop orders"),
    "sub-penny": (
        {"limit_price": "300.123"},
        "invalid limit_price. sub-penny increment does not fulfill minimum pricing criteria",
    ),
    "bad-tif": (
        {"time_in_force": "sometime"},
        "invalid time_in_force: 'sometime', must be one of day, gtc, opg, cls, ioc, fok",
    ),
    "duplicate-id": ({"limit_price": "301", "client_order_id": "taken"}, "client_order_id must be unique"),
}


@pytest.mark.parametrize(("patch", "message"), BAD_PATCHES.values(), ids=BAD_PATCHES.keys())
def test_bad_patches_are_refused_and_the_order_keeps_working(broker, trading, patch, message):
    trading.submit_order(limit(OrderSide.BUY, 290.00, qty=1, client_order_id="taken"))
    order = trading.submit_order(limit(OrderSide.BUY, 300.00))
    error = rejected(lambda: trading.patch(f"/orders/{order.id}", patch))
    assert (error.status_code, error.code, error.message) == (422, 40010001, message)
    kept = trading.get_order_by_id(order.id)
    assert kept.status == OrderStatus.NEW and kept.replaced_by is None


def test_market_and_notional_orders_keep_their_nature(broker, trading):
    market = trading.submit_order(
        MarketOrderRequest(symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
    )
    error = rejected(lambda: trading.replace_order_by_id(market.id, ReplaceOrderRequest(limit_price=300)))
    assert error.message == "unable to replace order, a market order has no limit_price"
    assert Decimal(trading.replace_order_by_id(market.id, ReplaceOrderRequest(qty=2)).qty) == 2
    notional = trading.submit_order(
        MarketOrderRequest(symbol="AGG", notional=500, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
    )
    error = rejected(lambda: trading.replace_order_by_id(notional.id, ReplaceOrderRequest(qty=3)))
    assert (error.status_code, error.message) == (
        422,
        "unable to replace order, notional orders cannot be replaced: cancel it and submit a new one",
    )


def test_a_replacement_the_account_cannot_carry_is_refused(broker, trading):
    buy = trading.submit_order(limit(OrderSide.BUY, 300.00))
    error = rejected(lambda: trading.replace_order_by_id(buy.id, ReplaceOrderRequest(qty=1000)))
    assert (error.status_code, error.code, error.message) == (403, 40310000, "insufficient buying power")
    sell = trading.submit_order(limit(OrderSide.SELL, 330.00, qty=70))
    error = rejected(lambda: trading.replace_order_by_id(sell.id, ReplaceOrderRequest(qty=81)))
    assert (error.status_code, error.code) == (403, 40310000)
    assert error.message.startswith("insufficient qty available for order (requested: 81, available: 80")
    assert trading.replace_order_by_id(sell.id, ReplaceOrderRequest(qty=80)).qty == "80"
    assert {o.status for o in (trading.get_order_by_id(buy.id), trading.get_order_by_id(sell.id))} == {
        OrderStatus.NEW,
        OrderStatus.REPLACED,
    }


def test_replacing_an_unknown_order_is_404(broker, trading):
    error = rejected(
        lambda: trading.replace_order_by_id(
            "00000000-0000-0000-0000-000000000000", ReplaceOrderRequest(limit_price=1)
        )
    )
    assert (error.status_code, error.code) == (404, 40410000)


# -- in a bracket --------------------------------------------------------------------------------------------
def bracket(take_profit: float, stop: float) -> MarketOrderRequest:
    return MarketOrderRequest(
        symbol="SPY",
        qty=10,
        side=OrderSide.BUY,
        time_in_force=TimeInForce.GTC,
        order_class=OrderClass.BRACKET,
        take_profit=TakeProfitRequest(limit_price=take_profit),
        stop_loss=StopLossRequest(stop_price=stop),
    )


def test_moving_a_bracket_take_profit_keeps_the_group_and_one_cancels_the_other(broker, trading):
    order = trading.submit_order(bracket(321.00, 319.00))
    broker.advance(minutes=1)  # the entry fills at the open
    (take_profit,) = [x for x in order.legs if x.type == OrderType.LIMIT]
    moved = trading.replace_order_by_id(take_profit.id, ReplaceOrderRequest(limit_price=320.15))
    assert moved.replaces == take_profit.id and moved.order_class == OrderClass.BRACKET
    assert moved.status == OrderStatus.NEW
    raw = trading.get(f"/orders/{order.id}", {"nested": "true"})
    assert {x["id"] for x in raw["legs"]} == {
        str(moved.id),
        *(str(x.id) for x in order.legs if x.id != take_profit.id),
    }
    assert {x["group_id"] for x in raw["legs"]} == {raw["group_id"]}
    broker.advance(minutes=10)  # 320.25 at 14:36
    done = trading.get_order_by_id(order.id, GetOrderByIdRequest(nested=True))
    assert {(x.type, x.status) for x in done.legs} == {
        (OrderType.LIMIT, OrderStatus.FILLED),
        (OrderType.STOP, OrderStatus.CANCELED),
    }
    assert Decimal(trading.get_open_position("SPY").qty) == 80


def test_a_bracket_leg_keeps_its_qty_and_its_prices_pass_the_base_price_rule(broker, trading):
    order = trading.submit_order(bracket(321.00, 319.00))
    (stop,) = [x for x in order.legs if x.type == OrderType.STOP]
    error = rejected(lambda: trading.replace_order_by_id(stop.id, ReplaceOrderRequest(stop_price=320.5)))
    assert (error.status_code, error.code) == (422, 42210000)
    assert error.message == "stop_loss.stop_price must be <= base_price - 0.01"
    error = rejected(lambda: trading.replace_order_by_id(stop.id, ReplaceOrderRequest(qty=5)))
    assert error.message == (
        "unable to replace order, only limit_price and stop_price of a bracket, oco or oto order can change"
    )
    moved = trading.replace_order_by_id(stop.id, ReplaceOrderRequest(stop_price=318.5))
    assert moved.status == OrderStatus.HELD and Decimal(moved.stop_price) == Decimal("318.5")
