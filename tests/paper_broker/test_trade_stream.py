"""Alpaca's trade_updates websocket on the paper broker, through alpaca-py's own ``TradingStream``.

Time is stepped with the broker's advance control; the only waits are for a websocket message to arrive
(with a timeout). Where a test must show that something did NOT arrive, it sends a later event that must be
the next one received: events reach a connection in the order the engine made them.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal

import msgpack
import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.models import TradeUpdate
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest, ReplaceOrderRequest
from alpaca.trading.stream import TradingStream
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from bot.paper_broker.server import PaperBroker
from tests.conftest import KEY, OTHER_KEY, OTHER_SECRET, SECRET

WAIT = 10.0
"""Wall seconds to wait for one websocket message; they normally arrive in milliseconds."""
CLOSE_UTC = datetime(2019, 12, 17, 21, 0, tzinfo=UTC)
NEXT_OPEN_UTC = datetime(2019, 12, 18, 14, 30, tzinfo=UTC)

Listen = Callable[[PaperBroker, str, str], "queue.Queue[TradeUpdate]"]


@pytest.fixture
def listen() -> Iterator[Listen]:
    """Start alpaca-py's TradingStream for an account; returns once the broker has it listening."""
    running: list[tuple[TradingStream, threading.Thread, PaperBroker]] = []

    def start(broker: PaperBroker, key: str, secret: str) -> queue.Queue[TradeUpdate]:
        received: queue.Queue[TradeUpdate] = queue.Queue()

        async def handler(update: TradeUpdate) -> None:
            received.put(update)

        stream = TradingStream(key, secret, paper=True, url_override=broker.stream_url)
        stream.subscribe_trade_updates(handler)
        thread = threading.Thread(target=stream.run, daemon=True, name=f"trading-stream-{key}")
        thread.start()
        running.append((stream, thread, broker))
        account = broker.engine.authenticate(key, secret)
        assert broker.trade_updates.wait_listening(account.id, WAIT), "TradingStream never listened"
        return received

    yield start
    for stream, thread, broker in running:
        stream.stop()
        broker.stop()  # closes the socket, which ends the stream's receive loop at once
        thread.join(WAIT)


def events(received: queue.Queue[TradeUpdate], count: int) -> list[TradeUpdate]:
    return [received.get(timeout=WAIT) for _ in range(count)]


def buy_limit(symbol: str, qty: int, price: str, client_order_id: str) -> LimitOrderRequest:
    return LimitOrderRequest(
        symbol=symbol,
        side=OrderSide.BUY,
        qty=qty,
        limit_price=float(price),
        time_in_force=TimeInForce.DAY,
        client_order_id=client_order_id,
    )


def test_a_market_order_streams_new_then_fill_with_the_execution_and_the_rest_order(broker, trading, listen):
    received = listen(broker, KEY, SECRET)
    order = trading.submit_order(
        MarketOrderRequest(
            symbol="VTI", side=OrderSide.BUY, qty=10, time_in_force=TimeInForce.DAY, client_order_id="vti-1"
        )
    )
    broker.advance(minutes=1)
    new, fill = events(received, 2)
    assert (new.event, fill.event) == ("new", "fill")
    assert new.order.id == fill.order.id == order.id and fill.order.client_order_id == "vti-1"
    assert new.order.status == "new" and new.price is None and new.qty is None
    rest = trading.get_order_by_id(order.id)
    assert fill.order.status == rest.status == "filled"
    assert fill.order.filled_avg_price == rest.filled_avg_price and fill.order.filled_qty == "10"
    assert fill.qty == 10 and fill.position_qty == 10  # the account held no VTI before
    assert Decimal(str(fill.price)) == Decimal(rest.filled_avg_price)
    assert fill.timestamp == broker.now and new.timestamp == order.submitted_at
    assert new.execution_id != fill.execution_id


def test_a_large_order_streams_partial_fills_that_add_up_and_a_final_fill(make_broker, listen):
    broker = make_broker(matching={"max_minute_participation": 0.00002})
    received = listen(broker, KEY, SECRET)
    client = TradingClient(KEY, SECRET, url_override=broker.url)
    order = client.submit_order(
        MarketOrderRequest(symbol="SPY", side=OrderSide.SELL, qty=80, time_in_force=TimeInForce.DAY)
    )
    assert received.get(timeout=WAIT).event == "new"
    executions: list[TradeUpdate] = []
    streamed = Decimal(0)
    for _ in range(200):
        broker.advance(minutes=1)
        rest = client.get_order_by_id(order.id)
        while streamed < Decimal(rest.filled_qty):  # every execution REST shows must have been streamed
            executions.append(received.get(timeout=WAIT))
            streamed += Decimal(str(executions[-1].qty))
        if rest.status == "filled":
            break
    assert executions[-1].event == "fill" and streamed == 80
    assert len(executions) > 1 and {e.event for e in executions[:-1]} == {"partial_fill"}
    assert all(e.order.id == order.id for e in executions)
    held = [Decimal(str(e.position_qty)) for e in executions]
    assert held == [80 - sum(Decimal(str(e.qty)) for e in executions[: i + 1]) for i in range(len(held))]
    assert held[-1] == 0  # the account sold all 80 SPY it started with


def test_cancel_and_expiry_stream_their_terminal_events(broker, trading, listen):
    received = listen(broker, KEY, SECRET)
    canceled = trading.submit_order(buy_limit("VTI", 5, "100", "low-1"))
    expiring = trading.submit_order(buy_limit("VTI", 5, "101", "low-2"))
    trading.cancel_order_by_id(canceled.id)
    broker.advance_to(CLOSE_UTC)
    got = [(u.event, u.order.client_order_id, u.order.status) for u in events(received, 4)]
    assert got == [
        ("new", "low-1", "new"),
        ("new", "low-2", "new"),
        ("canceled", "low-1", "canceled"),
        ("expired", "low-2", "expired"),
    ]
    assert trading.get_order_by_id(expiring.id).status == "expired"


def test_a_replace_streams_replaced_for_the_old_order_and_new_for_its_replacement(broker, trading, listen):
    received = listen(broker, KEY, SECRET)
    old = trading.submit_order(buy_limit("VTI", 5, "100", "to-replace"))
    new = trading.replace_order_by_id(old.id, ReplaceOrderRequest(limit_price=99.5))
    got = [(u.event, str(u.order.id), u.order.status) for u in events(received, 3)]
    assert ("new", str(old.id), "new") == got[0]
    assert sorted(got[1:]) == sorted([("new", str(new.id), "new"), ("replaced", str(old.id), "replaced")])


def test_an_order_sent_while_closed_is_accepted_then_new_at_the_open(broker, trading, listen):
    received = listen(broker, KEY, SECRET)
    broker.advance_to(CLOSE_UTC)
    trading.submit_order(buy_limit("VTI", 5, "100", "overnight"))
    accepted = received.get(timeout=WAIT)
    assert (accepted.event, accepted.order.status) == ("accepted", "accepted")
    broker.advance_to(NEXT_OPEN_UTC)
    opened = received.get(timeout=WAIT)
    assert (opened.event, opened.order.status, opened.timestamp) == ("new", "new", NEXT_OPEN_UTC)


def test_each_account_hears_only_its_own_orders(broker, trading, other_trading, listen):
    ira = listen(broker, OTHER_KEY, OTHER_SECRET)
    taxable = listen(broker, KEY, SECRET)
    trading.submit_order(buy_limit("VTI", 5, "100", "taxable-order"))
    other_trading.submit_order(buy_limit("AGG", 5, "50", "ira-order"))
    assert taxable.get(timeout=WAIT).order.client_order_id == "taxable-order"
    # events arrive in the engine's order, so the IRA's first event would be the taxable order's if leaked
    assert ira.get(timeout=WAIT).order.client_order_id == "ira-order"
    assert taxable.empty() and ira.empty()


# -- the protocol, spoken directly ------------------------------------------------------------------------
def read(ws) -> dict:  # noqa: ANN001 - a websockets connection
    return json.loads(ws.recv(timeout=WAIT))


def test_bad_keys_get_alpacas_unauthorized_reply_and_the_connection_is_closed(broker):
    for first in (
        {"action": "authenticate", "data": {"key_id": KEY, "secret_key": "wrong"}},
        {"action": "auth", "key": "nobody", "secret": SECRET},
        {"action": "listen", "data": {"streams": ["trade_updates"]}},  # listening before authenticating
    ):
        with connect(broker.stream_url) as ws:
            ws.send(json.dumps(first))
            reply = read(ws)
            assert reply["stream"] == "authorization" and reply["data"]["status"] == "unauthorized"
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=WAIT)
            assert closed.value.rcvd.code == 1008


def test_listen_with_no_streams_stops_updates_until_listening_again(broker, trading):
    with connect(broker.stream_url) as ws:
        ws.send(json.dumps({"action": "auth", "key": KEY, "secret": SECRET}))
        assert read(ws) == {
            "stream": "authorization",
            "data": {"action": "authenticate", "status": "authorized"},
        }
        ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates", "account_updates"]}}))
        assert read(ws) == {"stream": "listening", "data": {"streams": ["trade_updates"]}}
        trading.submit_order(buy_limit("VTI", 1, "100", "heard"))
        assert read(ws)["data"]["order"]["client_order_id"] == "heard"
        ws.send(json.dumps({"action": "listen", "data": {"streams": []}}))
        assert read(ws) == {"stream": "listening", "data": {"streams": []}}
        trading.submit_order(buy_limit("VTI", 1, "100", "not-heard"))
        ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        assert read(ws)["stream"] == "listening"
        trading.submit_order(buy_limit("VTI", 1, "100", "heard-again"))
        assert read(ws)["data"]["order"]["client_order_id"] == "heard-again"
        ws.send(json.dumps({"action": "unlisten", "data": {"streams": ["trade_updates"]}}))
        assert read(ws) == {"stream": "listening", "data": {"streams": []}}
        ws.send("not json")
        assert read(ws)["stream"] == "error"


def test_a_client_that_asks_for_msgpack_gets_msgpack(broker, trading):
    with connect(broker.stream_url, additional_headers={"Content-Type": "application/msgpack"}) as ws:
        ws.send(msgpack.packb({"action": "authenticate", "data": {"key_id": KEY, "secret_key": SECRET}}))
        assert msgpack.unpackb(ws.recv(timeout=WAIT))["data"]["status"] == "authorized"
        ws.send(msgpack.packb({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        assert msgpack.unpackb(ws.recv(timeout=WAIT))["stream"] == "listening"
        trading.submit_order(buy_limit("VTI", 1, "100", "packed"))
        update = msgpack.unpackb(ws.recv(timeout=WAIT))
        assert update["data"]["event"] == "new" and update["data"]["order"]["client_order_id"] == "packed"
