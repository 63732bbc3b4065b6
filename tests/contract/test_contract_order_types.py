"""Stop, stop-limit, trailing-stop, opg and cls orders fit Alpaca's contract: alpaca-py parses each answer
into its models and every recorded body validates against Alpaca's OpenAPI spec (the ``recorder`` fixture
checks all of them when each test ends), with the conditional fields (``stop_price``, ``trail_price``,
``trail_percent``, ``hwm``) as decimal strings or null, never numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, OrderType, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Order
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    StopLimitOrderRequest,
    StopOrderRequest,
    TrailingStopOrderRequest,
)

from bot.paper_broker.server import PaperBroker
from tests.contract import schema
from tests.contract.schema import TRADING, Exchange, Recorder
from tests.contract.test_contract import assert_decimals_are_strings

pytestmark = pytest.mark.slow  # with the rest of the contract suite

OPEN = datetime(2019, 12, 17, 14, 30, tzinfo=UTC)
CLOSE = datetime(2019, 12, 17, 21, 0, tzinfo=UTC)
NEXT_OPEN = datetime(2019, 12, 18, 14, 30, tzinfo=UTC)
CONDITIONAL_FIELDS = ("stop_price", "trail_price", "trail_percent", "hwm")


def posted(recorder: Recorder) -> Exchange:
    """The last order POST, checked now against the spec's 200 schema (the fixture rechecks it at the end)."""
    created = recorder.last("POST", "/v2/orders")
    assert created.status == 200, created
    schema.assert_valid(created.body, schema.load(TRADING).response_ref("POST", "/v2/orders", 200))
    assert_decimals_are_strings(created)
    return created


def fetched(client: TradingClient, recorder: Recorder, order: Order) -> tuple[Order, dict[str, Any]]:
    """GET one order through alpaca-py; its parsed model and the body it parsed it from."""
    parsed = client.get_order_by_id(order.id)
    exchange = recorder.last("GET", f"/v2/orders/{order.id}")
    schema.assert_schema(exchange.body, "Order")
    assert_decimals_are_strings(exchange)
    return parsed, exchange.body


def conditional(body: dict[str, Any]) -> dict[str, Any]:
    return {k: body[k] for k in CONDITIONAL_FIELDS}


def test_stop_and_stop_limit_orders(broker: PaperBroker, client: TradingClient, recorder: Recorder) -> None:
    stop = client.submit_order(
        StopOrderRequest(
            symbol="SPY", qty=2, side=OrderSide.SELL, time_in_force=TimeInForce.GTC, stop_price=300
        )
    )
    body = posted(recorder).body
    assert (body["type"], body["order_type"], body["status"]) == ("stop", "stop", "new")
    assert conditional(body) == {"stop_price": "300", "trail_price": None, "trail_percent": None, "hwm": None}
    assert stop.type == OrderType.STOP and float(stop.stop_price) == 300

    stop_limit = client.submit_order(
        StopLimitOrderRequest(
            symbol="SPY",
            qty=1,
            side=OrderSide.SELL,
            time_in_force=TimeInForce.DAY,
            stop_price=325.5,
            limit_price=325,
        )
    )
    body = posted(recorder).body
    assert (body["type"], body["stop_price"], body["limit_price"]) == ("stop_limit", "325.5", "325")
    assert stop_limit.type == OrderType.STOP_LIMIT

    broker.advance(minutes=2)  # the market is below 325.50, so the sell stop-limit is elected at once...
    parsed, body = fetched(client, recorder, stop_limit)
    assert parsed.status == OrderStatus.NEW  # ...and rests as a limit at 325, above the market
    parsed, body = fetched(client, recorder, stop)
    assert parsed.status == OrderStatus.NEW and body["filled_avg_price"] is None


def test_stop_fills_and_reads_back_filled(
    broker: PaperBroker, client: TradingClient, recorder: Recorder
) -> None:
    stop = round(broker.market.quote("SPY", OPEN).ask - 1, 2)
    order = client.submit_order(
        StopOrderRequest(
            symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, stop_price=stop
        )
    )
    posted(recorder)
    broker.advance(minutes=1)  # a buy stop below the market is elected at once, at the open of the minute
    parsed, body = fetched(client, recorder, order)
    assert parsed.status == OrderStatus.FILLED and body["filled_qty"] == "1"
    assert Decimal(body["filled_avg_price"]) > stop and Decimal(body["stop_price"]) == Decimal(str(stop))


@pytest.mark.parametrize("trail", [{"trail_price": 0.25}, {"trail_percent": 0.5}])
def test_trailing_stop_reports_hwm_and_stop_price(
    trail: dict[str, float], broker: PaperBroker, client: TradingClient, recorder: Recorder
) -> None:
    order = client.submit_order(
        TrailingStopOrderRequest(
            symbol="SPY", qty=3, side=OrderSide.SELL, time_in_force=TimeInForce.GTC, **trail
        )
    )
    body = posted(recorder).body
    assert body["type"] == "trailing_stop" and body["limit_price"] is None
    assert body["hwm"] is not None and body["stop_price"] is not None
    [(name, value)] = trail.items()
    assert (
        body[name] == str(value) and body["trail_percent" if name == "trail_price" else "trail_price"] is None
    )
    assert order.type == OrderType.TRAILING_STOP and order.hwm == body["hwm"]

    broker.advance(minutes=20)
    parsed, later = fetched(client, recorder, order)
    assert Decimal(later["hwm"]) >= Decimal(body["hwm"])  # a sell's mark only rises
    listed = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL))
    assert any(o.id == order.id and o.hwm == parsed.hwm for o in listed)


def test_auction_orders(broker: PaperBroker, client: TradingClient, recorder: Recorder) -> None:
    moc = client.submit_order(
        MarketOrderRequest(symbol="SPY", qty=2, side=OrderSide.SELL, time_in_force=TimeInForce.CLS)
    )
    body = posted(recorder).body
    assert (body["time_in_force"], body["status"]) == ("cls", "new")
    broker.advance_to(CLOSE)
    parsed, body = fetched(client, recorder, moc)
    assert parsed.status == OrderStatus.FILLED and parsed.time_in_force == TimeInForce.CLS

    broker.advance(hours=3)  # 19:00 New York: the next opening auction takes orders
    moo = client.submit_order(
        MarketOrderRequest(symbol="SPY", qty=2, side=OrderSide.BUY, time_in_force=TimeInForce.OPG)
    )
    assert posted(recorder).body["status"] == "accepted"
    loo = client.submit_order(
        LimitOrderRequest(
            symbol="SPY", qty=2, side=OrderSide.BUY, time_in_force=TimeInForce.OPG, limit_price=250
        )
    )
    posted(recorder)
    broker.advance_to(NEXT_OPEN + timedelta(minutes=1))
    assert fetched(client, recorder, moo)[0].status == OrderStatus.FILLED
    expired, body = fetched(client, recorder, loo)
    assert expired.status == OrderStatus.EXPIRED and body["expired_at"] is not None


def test_refusals_carry_code_and_message(
    broker: PaperBroker, client: TradingClient, recorder: Recorder
) -> None:
    def refused(call: Any) -> APIError:
        with pytest.raises(APIError) as caught:
            call()
        return caught.value

    base = {"symbol": "SPY", "qty": "1", "side": "buy", "time_in_force": "day"}
    bodies = [
        {**base, "type": "stop"},
        {**base, "type": "stop_limit", "stop_price": "300"},
        {**base, "type": "trailing_stop"},
        {**base, "type": "trailing_stop", "trail_price": "1", "trail_percent": "1"},
        {**base, "type": "trailing_stop", "trail_price": "1", "time_in_force": "ioc"},
        {**base, "type": "stop", "stop_price": "300", "time_in_force": "cls"},
        {**base, "type": "market", "time_in_force": "opg"},  # 09:30: the opening auction has closed
    ]
    for body in bodies:
        error = refused(lambda body=body: client.post("/orders", body))
        assert (error.status_code, error.code) == (422, 40010001) and error.message
        schema.assert_error_body(recorder.exchanges[-1].body, 422)
