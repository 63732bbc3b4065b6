"""Bracket, oco and oto orders and order replacement honour Alpaca's contract (issue 18 item 4).

Driven only through alpaca-py; the ``recorder`` fixture validates every response alpaca-py received against
Alpaca's OpenAPI spec when each test ends (errors against ``Error``). Each test also checks the linkage a
client reads: the legs nested under their top-level order, the shared ``group_id`` and the ``group_role`` of
each, and ``replaces`` / ``replaced_by`` between a replaced order and its replacement.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderClass, OrderSide, OrderStatus, OrderType, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import (
    GetOrderByIdRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLossRequest,
    TakeProfitRequest,
)

from bot.paper_broker.server import PaperBroker
from tests.contract import schema
from tests.contract.schema import TRADING, Recorder
from tests.contract.test_contract import assert_decimals_are_strings

pytestmark = pytest.mark.slow  # the contract suite is the slow tier, like test_contract.py

OPEN_UTC = datetime(2019, 12, 17, 14, 30, tzinfo=UTC)
ORDER_PATH = "/v2/orders/{order_id}"


def bracket(order_class: OrderClass = OrderClass.BRACKET, **legs: object) -> MarketOrderRequest:
    legs = legs or {
        "take_profit": TakeProfitRequest(limit_price=320.15),
        "stop_loss": StopLossRequest(stop_price=319.50, limit_price=319.40),
    }
    return MarketOrderRequest(
        symbol="SPY",
        qty=10,
        side=OrderSide.BUY,
        time_in_force=TimeInForce.GTC,
        order_class=order_class,
        **legs,
    )


def assert_group(body: dict, order_class: str, top_role: str, leg_roles: set[str]) -> None:
    """The linkage Alpaca reports: one group_id on the top-level order and each leg, a role for each."""
    assert body["order_class"] == order_class and body["group_role"] == top_role
    UUID(body["group_id"])
    assert {leg["group_role"] for leg in body["legs"]} == leg_roles
    for leg in body["legs"]:
        assert leg["group_id"] == body["group_id"] and leg["order_class"] == order_class
        assert leg["legs"] is None  # legs are nested one level deep only


def test_bracket_submit_get_and_list_fit_the_spec(
    broker: PaperBroker, client: TradingClient, recorder: Recorder
) -> None:
    order = client.submit_order(bracket())
    created = recorder.last("POST", "/v2/orders")
    schema.assert_valid(created.body, schema.load(TRADING).response_ref("POST", "/v2/orders", 200))
    assert_group(created.body, "bracket", "entry", {"take_profit", "stop_loss"})
    assert {(leg["type"], leg["status"]) for leg in created.body["legs"]} == {
        ("limit", "held"),
        ("stop_limit", "held"),
    }
    assert_decimals_are_strings(created)
    assert isinstance(order, Order) and all(isinstance(leg, Order) for leg in order.legs)

    broker.advance(minutes=1)
    nested = client.get_order_by_id(order.id, GetOrderByIdRequest(nested=True))
    assert_group(recorder.last("GET", "/v2/orders/").body, "bracket", "entry", {"take_profit", "stop_loss"})
    assert {(leg.type, leg.status) for leg in nested.legs} == {
        (OrderType.LIMIT, OrderStatus.NEW),
        (OrderType.STOP_LIMIT, OrderStatus.HELD),
    }
    assert client.get_order_by_id(order.id).legs is None
    flat = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN))
    since = OPEN_UTC - timedelta(minutes=1)  # after is exclusive
    rolled = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, nested=True, after=since))
    assert {o.id for o in flat} == {leg.id for leg in order.legs}  # the entry filled; its legs are open
    assert [o.id for o in rolled] == [order.id] and len(rolled[0].legs) == 2
    assert_decimals_are_strings(recorder.last("GET", "/v2/orders"))


def test_oco_and_oto_fit_the_spec(broker: PaperBroker, client: TradingClient, recorder: Recorder) -> None:
    oco = client.submit_order(
        LimitOrderRequest(
            symbol="SPY",
            qty=5,
            side=OrderSide.SELL,
            time_in_force=TimeInForce.GTC,
            order_class=OrderClass.OCO,
            take_profit=TakeProfitRequest(limit_price=330),
            stop_loss=StopLossRequest(stop_price=310),
        )
    )
    assert_group(recorder.last("POST", "/v2/orders").body, "oco", "take_profit", {"stop_loss"})
    assert oco.type == OrderType.LIMIT and oco.limit_price == "330"
    oto = client.submit_order(
        MarketOrderRequest(
            symbol="VTI",
            qty=3,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            order_class=OrderClass.OTO,
            stop_loss=StopLossRequest(stop_price=150),
        )
    )
    assert_group(recorder.last("POST", "/v2/orders").body, "oto", "entry", {"stop_loss"})
    client.cancel_order_by_id(oto.id)
    assert client.get_order_by_id(oto.legs[0].id).status == OrderStatus.CANCELED
    client.cancel_orders()  # the oco's stop leg ends with its take-profit: one 207 entry each, no error
    assert client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN)) == []


def test_replace_fits_the_spec_and_links_both_orders(
    broker: PaperBroker, client: TradingClient, recorder: Recorder
) -> None:
    old = client.submit_order(
        LimitOrderRequest(
            symbol="SPY", qty=2, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=300
        )
    )
    new = client.replace_order_by_id(old.id, ReplaceOrderRequest(qty=3, limit_price=301.25))
    patched = recorder.last("PATCH", "/v2/orders/")
    assert patched.status == 200
    schema.assert_valid(patched.body, schema.load(TRADING).response_ref("PATCH", ORDER_PATH, 200))
    assert patched.body["replaces"] == str(old.id) and patched.body["replaced_by"] is None
    assert (patched.body["qty"], patched.body["limit_price"]) == ("3", "301.25")
    assert_decimals_are_strings(patched)
    replaced = client.get_order_by_id(old.id)
    body = recorder.last("GET", "/v2/orders/").body
    assert body["status"] == "replaced" and body["replaced_by"] == str(new.id)
    assert replaced.replaced_at == OPEN_UTC and "group_id" not in body  # simple orders carry no group

    with pytest.raises(APIError) as refused:
        client.replace_order_by_id(old.id, ReplaceOrderRequest(limit_price=302))
    error = recorder.last("PATCH", "/v2/orders/")
    assert (error.status, error.body["code"]) == (422, 42210000)
    assert refused.value.message == "unable to replace order, order is not open"


def test_group_refusals_have_alpacas_error_shape(client: TradingClient, recorder: Recorder) -> None:
    with pytest.raises(APIError):
        client.submit_order(
            bracket(
                take_profit=TakeProfitRequest(limit_price=319),
                stop_loss=StopLossRequest(stop_price=318),
            )
        )
    refused = recorder.last("POST", "/v2/orders")
    schema.assert_error_body(refused.body, refused.status)
    assert refused.body == {
        "code": 42210000,
        "message": "take_profit.limit_price must be >= base_price + 0.01",
        "base_price": "319.92",
    }
    booked = client.get_orders(
        GetOrdersRequest(status=QueryOrderStatus.ALL, after=OPEN_UTC - timedelta(hours=1))
    )
    assert booked == []  # refused whole: no entry, no orphan leg
