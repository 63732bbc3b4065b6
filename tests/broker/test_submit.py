"""Submit: exactly one order at the broker whatever happens to the request or its answer."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal

import pytest

from bot.broker.alpaca import AlpacaBroker
from bot.broker.models import BrokerError, OrderIntent, OrderNotSent, OrderState, SubmitOutcomeUnknown
from bot.paper_broker.faults import FaultConfig
from bot.paper_broker.server import PaperBroker
from tests.broker.conftest import AdapterFactory, Wall


def faults(**fields: object) -> FaultConfig:
    return FaultConfig(**{"rate_limit_per_minute": None, **fields})


def buy(cid: str, symbol: str = "SPY", **amount: Decimal) -> OrderIntent:
    return OrderIntent(cid, symbol, "buy", **(amount or {"qty": Decimal("1")}))


def booked(paper: PaperBroker, client_order_id: str) -> list:
    """The orders the paper broker holds with this client_order_id (read from its engine, not over HTTP)."""
    with paper.engine.lock:
        return [
            o
            for account in paper.engine.accounts.values()
            for o in paper.engine.account_orders(account)
            if o.client_order_id == client_order_id
        ]


class FailOrderPosts:
    """ASGI wrapper in front of the paper broker's routes: the next ``n`` POST /v2/orders get 503, unbooked.

    (The paper broker's own ``error_next`` hits whatever request comes next, lookups included.)
    """

    def __init__(self, app, n: int) -> None:  # noqa: ANN001 - an ASGI app
        self.app = app
        self.left = n

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001 - ASGI signature
        is_submit = scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/v2/orders"
        if is_submit and self.left:
            self.left -= 1
            body = json.dumps({"code": 50300000, "message": "service unavailable"}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def fail_order_posts(paper: PaperBroker, n: int) -> None:
    paper.app.app = FailOrderPosts(paper.app.app, n)


class LateFirstRefusedSecond:
    """The first POST /v2/orders is held for ``delay`` seconds and then booked; the second is answered with a
    403 once the first is booked (as a resend would be refused for the buying power the first one took)."""

    def __init__(self, app, delay: float) -> None:  # noqa: ANN001 - an ASGI app
        self.app = app
        self.delay = delay
        self.posts = 0
        self.first_booked = False

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001 - ASGI signature
        if not (scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/v2/orders"):
            await self.app(scope, receive, send)
            return
        self.posts += 1
        if self.posts == 1:
            message = await receive()  # the whole (small) body, read before the client gives up
            await asyncio.sleep(self.delay)

            async def replay() -> dict:
                return message

            await self.app(scope, replay, send)
            self.first_booked = True
            return
        while not self.first_booked:
            await asyncio.sleep(0.01)
        body = json.dumps({"code": 40310000, "message": "insufficient buying power"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


# -- happy path and rounding ---------------------------------------------------------------------------------
def test_submit_happy_path(broker: PaperBroker, adapter: AlpacaBroker) -> None:
    order = adapter.submit(buy("happy-1", qty=Decimal("3")))
    assert isinstance(order, OrderState)
    assert order.client_order_id == "happy-1" and order.symbol == "SPY" and order.side == "buy"
    assert order.type == "market" and order.time_in_force == "day"
    assert order.qty == Decimal("3") and order.filled_qty == 0 and order.status == "new"
    assert adapter.request_count == 1
    broker.advance(minutes=1)
    filled = adapter.order(order.id)
    assert filled.status == "filled" and filled.filled_qty == 3 and filled.filled_avg_price > 0


def test_submit_rounds_to_alpacas_precision(make_broker, make_adapter: AdapterFactory) -> None:
    paper = make_broker(matching={"non_fractionable": ["VTI"]})
    adapter = make_adapter(paper)
    adapter.assets(["VTI", "SPY"])
    whole = adapter.submit(buy("r-1", "VTI", qty=Decimal("2.7")))
    assert whole.qty == Decimal("2")
    fractional = adapter.submit(buy("r-2", "EFA", qty=Decimal("0.1234567891234")))
    assert fractional.qty == Decimal("0.123456789")
    notional = adapter.submit(buy("r-3", "AGG", notional=Decimal("10.999")))
    assert notional.notional == Decimal("10.99")
    limit = adapter.submit(
        OrderIntent("r-4", "SPY", "sell", qty=Decimal("1"), type="limit", limit_price=Decimal("400.001"))
    )
    assert limit.limit_price == Decimal("400.01")  # a sell limit rounds up
    sub_penny = adapter.submit(
        OrderIntent("r-6", "IVV", "buy", qty=Decimal("1"), type="limit", limit_price=Decimal("0.56789"))
    )
    assert sub_penny.limit_price == Decimal("0.5678")  # below $1: 4 decimals, a buy rounds down
    before = adapter.request_count
    with pytest.raises(OrderNotSent):
        adapter.submit(buy("r-5", "VTI", qty=Decimal("0.4")))  # whole shares only: rounds to zero
    assert adapter.request_count == before and booked(paper, "r-5") == []


def test_a_refusal_is_a_broker_error_and_not_retried(broker: PaperBroker, adapter: AlpacaBroker, wall: Wall):
    with pytest.raises(BrokerError) as caught:
        adapter.submit(buy("too-big", qty=Decimal("100000")))
    assert caught.value.status == 403 and caught.value.code == 40310000
    assert "buying power" in caught.value.message
    assert adapter.request_count == 1 and wall.sleeps == []


def test_intent_validation() -> None:
    with pytest.raises(ValueError):
        OrderIntent("", "SPY", "buy", qty=Decimal(1))
    with pytest.raises(ValueError):
        OrderIntent("x", "SPY", "hold", qty=Decimal(1))
    with pytest.raises(ValueError):
        OrderIntent("x", "SPY", "buy", qty=Decimal(1), notional=Decimal(5))
    with pytest.raises(ValueError):
        OrderIntent("x", "SPY", "buy", qty=Decimal(1), type="limit")


# -- duplicates ----------------------------------------------------------------------------------------------
def test_a_duplicate_client_order_id_is_answered_by_the_existing_order(broker: PaperBroker, adapter):
    first = adapter.submit(buy("dup-1"))
    again = adapter.submit(buy("dup-1"))
    assert again.id == first.id
    assert len(booked(broker, "dup-1")) == 1
    assert adapter.request_count == 3  # POST, POST (422 duplicate), GET by client_order_id


def test_a_client_order_id_reused_for_another_order_is_refused(broker: PaperBroker, adapter):
    adapter.submit(buy("reused"))
    with pytest.raises(BrokerError) as caught:
        adapter.submit(buy("reused", "AGG"))
    assert caught.value.status == 422 and "client_order_id must be unique" in caught.value.message
    assert len(booked(broker, "reused")) == 1


# -- ambiguous failures --------------------------------------------------------------------------------------
def test_connection_dropped_after_accept_returns_the_one_booked_order(make_broker, make_adapter, wall: Wall):
    paper = make_broker(faults=faults(drop_after_accept_next=1))
    adapter = make_adapter(paper)
    order = adapter.submit(buy("dropped-1", qty=Decimal("2")))
    assert order.client_order_id == "dropped-1" and order.qty == Decimal("2")
    assert [o.id for o in booked(paper, "dropped-1")] == [order.id]
    assert adapter.request_count == 2  # POST (connection dropped), GET by client_order_id: found
    assert wall.sleeps == []


def test_a_500_on_submit_is_looked_up_found_absent_and_sent_again_once(make_broker, make_adapter, wall: Wall):
    paper = make_broker(faults=faults(error_next=1, error_statuses=(500,)))
    adapter = make_adapter(paper)
    order = adapter.submit(buy("five-hundred"))
    assert len(booked(paper, "five-hundred")) == 1 and booked(paper, "five-hundred")[0].id == order.id
    assert adapter.request_count == 3  # POST 500, GET 404, POST 200
    assert len(wall.sleeps) == 1 and wall.sleeps[0] <= 1.0


def test_a_504_on_submit_is_not_resent_by_alpaca_py(make_broker, make_adapter, wall: Wall):
    """alpaca-py's default would resend a 504 itself after 3 real seconds; here it is our decision."""
    paper = make_broker(faults=faults(error_next=1, error_statuses=(504,)))
    adapter = make_adapter(paper)
    started = time.monotonic()
    adapter.submit(buy("gateway"))
    assert time.monotonic() - started < 2.5
    assert adapter.request_count == 3 and len(booked(paper, "gateway")) == 1


def test_a_429_on_submit_is_not_resent_by_alpaca_py(make_broker, make_adapter, wall: Wall):
    paper = make_broker(wall_clock=wall, faults=FaultConfig(rate_limit_per_minute=3))
    adapter = make_adapter(paper, max_wait=120.0)
    window_start = wall.now
    adapter.clock()
    adapter.account()
    adapter.positions()
    started = time.monotonic()
    order = adapter.submit(buy("limited"))
    assert time.monotonic() - started < 2.5  # alpaca-py would have slept 3 s between its own resends
    # POST 429 (not resent by alpaca-py), GET 429, wait for the reset, GET 404, POST 200
    assert adapter.request_count == 3 + 4
    assert wall.sleeps == [pytest.approx(60.0)] and wall.now == pytest.approx(window_start + 60)
    assert [o.id for o in booked(paper, "limited")] == [order.id]


def test_a_slow_submit_that_times_out_is_found_booked_and_not_resent(make_broker, make_adapter, wall: Wall):
    """POST is booked but answers too late: the client times out, looks the order up, finds it, and stops.

    (The paper broker's slow fault delays the answer after serving the request, as a slow broker would.)"""
    paper = make_broker(faults=faults(slow_next=1, slow_seconds=1.0))
    adapter = make_adapter(paper, timeout=0.3)
    order = adapter.submit(buy("slow-1"))
    assert [o.id for o in booked(paper, "slow-1")] == [order.id]
    assert adapter.request_count == 2  # the timed-out POST and one lookup; nothing sent twice


def test_lookups_that_keep_failing_raise_outcome_unknown(make_broker, make_adapter, wall: Wall):
    paper = make_broker(faults=faults(error_next=1 + 3))
    adapter = make_adapter(paper, max_attempts=3)
    with pytest.raises(SubmitOutcomeUnknown) as caught:
        adapter.submit(buy("unknown-1"))
    assert caught.value.client_order_id == "unknown-1"
    assert adapter.request_count == 1 + 3  # one POST, three failed lookups, and no second POST
    assert booked(paper, "unknown-1") == []


def test_sends_stop_at_max_attempts_then_outcome_unknown(make_broker, make_adapter, wall: Wall):
    paper = make_broker()
    fail_order_posts(paper, 10)
    adapter = make_adapter(paper, max_attempts=3)
    with pytest.raises(SubmitOutcomeUnknown):
        adapter.submit(buy("never-through"))
    assert adapter.request_count == 3 * 2  # three POSTs, each followed by a lookup
    assert len(wall.sleeps) == 2


def test_posts_failing_twice_then_through(make_broker, make_adapter, wall: Wall):
    paper = make_broker()
    fail_order_posts(paper, 2)
    adapter = make_adapter(paper)
    order = adapter.submit(buy("third-time"))
    assert [o.id for o in booked(paper, "third-time")] == [order.id]
    assert adapter.request_count == 5  # POST 503, GET 404, POST 503, GET 404, POST 200


def test_a_refused_resend_does_not_hide_an_order_the_first_send_booked_late(make_broker, make_adapter, wall):
    paper = make_broker()
    paper.app.app = LateFirstRefusedSecond(paper.app.app, delay=1.0)
    adapter = make_adapter(paper, timeout=0.6)
    order = adapter.submit(buy("late-first"))
    assert [o.id for o in booked(paper, "late-first")] == [order.id]
    assert adapter.request_count == 4  # POST (timeout), GET 404, POST 403, GET found
