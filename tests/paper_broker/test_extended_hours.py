"""Extended-hours limit orders fill in the pre-market (04:00-09:30 New York) and post-market (16:00-20:00)
at the nearest price the data has, the last regular close, as documented in ``extended_hours.py``
(issue 18, item 2). Through alpaca-py over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from alpaca.data.requests import StockLatestQuoteRequest
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import LimitOrderRequest

from bot.paper_broker.extended_hours import window_at

CLOSE = datetime(2019, 12, 17, 21, 0, tzinfo=UTC)  # 16:00 New York
POST_END = datetime(2019, 12, 18, 1, 0, tzinfo=UTC)  # 20:00 New York
NEXT_PRE = datetime(2019, 12, 18, 9, 0, tzinfo=UTC)  # 04:00 New York
NEXT_OPEN = datetime(2019, 12, 18, 14, 30, tzinfo=UTC)


def limit(side: OrderSide, price: Decimal, qty: int = 5, extended: bool = True) -> LimitOrderRequest:
    return LimitOrderRequest(
        symbol="SPY",
        qty=qty,
        side=side,
        time_in_force=TimeInForce.DAY,
        limit_price=float(price),
        extended_hours=extended,
    )


def quote(market_data) -> tuple[Decimal, Decimal]:  # noqa: ANN001 - StockHistoricalDataClient
    q = market_data.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols="SPY"))["SPY"]
    return Decimal(str(q.bid_price)), Decimal(str(q.ask_price))


def test_a_marketable_post_market_buy_fills_at_the_closing_ask(broker, trading, market_data) -> None:
    broker.advance_to(CLOSE + timedelta(hours=1))  # 17:00 New York
    bid, ask = quote(market_data)
    order = trading.submit_order(limit(OrderSide.BUY, (ask * Decimal("1.002")).quantize(Decimal("0.01"))))
    assert order.status == OrderStatus.NEW  # working now, not waiting for the open
    waiting = trading.submit_order(limit(OrderSide.BUY, ask - 5, extended=False))
    assert waiting.status == OrderStatus.ACCEPTED  # a regular order still waits for the open
    broker.advance(minutes=2)
    filled = trading.get_order_by_id(order.id)
    assert filled.status == OrderStatus.FILLED and Decimal(filled.filled_avg_price) == ask
    assert window_at(broker.engine.calendar, filled.filled_at) is not None  # inside the post-market
    assert trading.get_order_by_id(waiting.id).status == OrderStatus.ACCEPTED


def test_an_extended_order_that_does_not_reach_the_quote_rests_and_expires_at_20_00(
    broker, trading, market_data
) -> None:
    broker.advance_to(CLOSE + timedelta(minutes=30))
    _, ask = quote(market_data)
    order = trading.submit_order(limit(OrderSide.BUY, ask - 10))
    broker.advance_to(POST_END - timedelta(minutes=1))
    assert trading.get_order_by_id(order.id).status == OrderStatus.NEW
    broker.advance_to(POST_END + timedelta(minutes=1))
    assert trading.get_order_by_id(order.id).status == OrderStatus.EXPIRED


def test_pre_market_sell_fills_at_the_previous_closing_bid_and_late_orders_wait_for_it(
    broker, trading, market_data
) -> None:
    broker.advance_to(POST_END + timedelta(hours=1))  # 21:00 New York: no window
    bid, _ = quote(market_data)
    late = trading.submit_order(limit(OrderSide.SELL, bid - 1))
    assert late.status == OrderStatus.ACCEPTED
    broker.advance_to(NEXT_PRE - timedelta(minutes=1))
    assert trading.get_order_by_id(late.id).status == OrderStatus.ACCEPTED
    broker.advance_to(NEXT_PRE + timedelta(minutes=2))
    filled = trading.get_order_by_id(late.id)
    assert filled.status == OrderStatus.FILLED and Decimal(filled.filled_avg_price) == bid
    assert NEXT_PRE <= filled.filled_at < NEXT_OPEN
    assert Decimal(trading.get_open_position("SPY").qty) == 75
