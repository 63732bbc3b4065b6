"""Closing positions through alpaca-py's ``close_position`` and ``close_all_positions``, over HTTP.

The taxable test account starts with 80 SPY (two lots) and $100,000; the clock starts at the open of
2019-12-17. A close is a market sell order, so it fills only when simulated time moves.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from alpaca.trading.models import FailedClosePositionDetails, Order
from alpaca.trading.requests import ClosePositionRequest, LimitOrderRequest, MarketOrderRequest

pytestmark = pytest.mark.slow  # Slow tier: closes filled over real minutes

AFTER_CLOSE = datetime(2019, 12, 17, 22, 0, tzinfo=UTC)
NEXT_OPEN = datetime(2019, 12, 18, 14, 30, tzinfo=UTC)


def rejected(call) -> APIError:  # noqa: ANN001 - a zero-argument callable
    with pytest.raises(APIError) as caught:
        call()
    return caught.value


def held(trading: TradingClient, symbol: str) -> Decimal:
    return Decimal(trading.get_open_position(symbol).qty)


def buy(trading: TradingClient, symbol: str, qty: float) -> None:
    trading.submit_order(MarketOrderRequest(symbol=symbol, qty=qty, side="buy", time_in_force="day"))


# -- one position --------------------------------------------------------------------------------------------
def test_closing_a_whole_position_sends_a_market_sell_of_every_share_and_the_position_goes(broker, trading):
    cash = Decimal(trading.get_account().cash)
    order = trading.close_position("SPY")
    assert isinstance(order, Order)
    assert (order.symbol, order.side, order.type, order.time_in_force) == (
        "SPY",
        OrderSide.SELL,
        OrderType.MARKET,
        TimeInForce.DAY,
    )
    assert Decimal(order.qty) == 80 and order.status == OrderStatus.NEW
    assert trading.get_order_by_id(order.id).id == order.id  # a real order, listed like any other
    broker.advance(minutes=1)
    done = trading.get_order_by_id(order.id)
    assert done.status == OrderStatus.FILLED
    proceeds = (80 * Decimal(done.filled_avg_price)).quantize(Decimal("0.01"))
    assert Decimal(trading.get_account().cash) == cash + proceeds
    assert rejected(lambda: trading.get_open_position("SPY")).status_code == 404


def test_closing_part_of_a_position_by_qty(broker, trading):
    order = trading.close_position("SPY", ClosePositionRequest(qty="30"))
    assert Decimal(order.qty) == 30
    broker.advance(minutes=1)
    assert held(trading, "SPY") == 50


@pytest.mark.parametrize(("percentage", "sold"), [("25", 20), ("33", 26), ("100", 80), ("0.5", 0)])
def test_a_percentage_of_a_whole_share_position_sells_whole_shares_rounded_down(
    broker, trading, percentage, sold
):
    if sold == 0:  # 0.5% of 80 shares is 0.4 of a share: nothing to sell, and nothing is sent
        error = rejected(lambda: trading.close_position("SPY", ClosePositionRequest(percentage=percentage)))
        assert error.status_code == 422 and "less than one share" in error.message
        assert trading.get_orders() == []
        return
    order = trading.close_position("SPY", ClosePositionRequest(percentage=percentage))
    assert Decimal(order.qty) == sold
    broker.advance(minutes=1)
    remaining = 80 - sold
    if remaining:
        assert held(trading, "SPY") == remaining
    else:
        assert rejected(lambda: trading.get_open_position("SPY")).status_code == 404


def test_a_percentage_of_a_fractional_position_sells_a_fraction(broker, trading):
    buy(trading, "VTI", 2.5)
    broker.advance(minutes=1)
    order = trading.close_position("VTI", ClosePositionRequest(percentage="50"))
    assert Decimal(order.qty) == Decimal("1.25")
    broker.advance(minutes=1)
    assert held(trading, "VTI") == Decimal("1.25")


def test_the_position_can_be_named_by_its_asset_id(broker, trading):
    asset = trading.get_asset("SPY")
    order = trading.close_position(asset.id, ClosePositionRequest(qty="1"))
    assert order.symbol == "SPY" and Decimal(order.qty) == 1


def test_a_close_sent_while_the_market_is_closed_waits_for_the_open(broker, trading):
    broker.advance_to(AFTER_CLOSE)
    order = trading.close_position("SPY")
    assert order.status == OrderStatus.ACCEPTED
    broker.advance_to(NEXT_OPEN.replace(minute=32))
    assert trading.get_order_by_id(order.id).status == OrderStatus.FILLED


# -- refusals ------------------------------------------------------------------------------------------------
def test_no_position_is_404_and_nothing_is_sent(trading):
    for symbol in ("VTI", "NOSUCH"):
        error = rejected(lambda s=symbol: trading.close_position(s))
        assert (error.status_code, error.code, error.message) == (404, 40410000, "position does not exist")
    assert trading.get_orders() == []


def test_more_shares_than_the_position_holds_is_alpacas_insufficient_qty(trading):
    error = rejected(lambda: trading.close_position("SPY", ClosePositionRequest(qty="81")))
    assert (error.status_code, error.code) == (403, 40310000)
    assert error.message == "insufficient qty available for order (requested: 81, available: 80)"
    assert trading.get_orders() == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"qty": "1", "percentage": "10"}, "qty and percentage cannot both be specified"),
        ({"percentage": "0"}, "percentage must be between 0 and 100"),
        ({"percentage": "100.5"}, "percentage must be between 0 and 100"),
        ({"percentage": "ten"}, "invalid percentage: 'ten' is not a number"),
        ({"percentage": "NaN"}, "percentage must be between 0 and 100"),
        ({"percentage": "1.0000000001"}, "percentage must have at most 9 decimal places"),
        ({"qty": "0"}, "qty must be > 0"),
        ({"qty": "-5"}, "qty must be > 0"),
        ({"qty": "1.0000000001"}, "qty must have at most 9 decimal places"),
        ({"qty": "all"}, "invalid qty: 'all' is not a number"),
    ],
)
def test_bad_amounts_are_422_naming_the_problem(trading, params, message):
    """Sent through alpaca-py's own session: its ClosePositionRequest refuses qty and percentage together."""
    error = rejected(lambda: trading.delete("/positions/SPY", params))
    assert (error.status_code, error.code, error.message) == (422, 40010001, message)
    assert trading.get_orders() == []
    assert held(trading, "SPY") == 80


def test_shares_held_by_an_open_sell_order_cannot_be_closed(trading):
    trading.submit_order(
        LimitOrderRequest(symbol="SPY", qty=50, side="sell", time_in_force="gtc", limit_price=999)
    )
    error = rejected(lambda: trading.close_position("SPY"))
    assert error.status_code == 403
    assert error.message == "insufficient qty available for order (requested: 80, available: 30)"
    body = error.response.json()
    assert (body["existing_qty"], body["held_for_orders"], body["available"]) == ("80", "50", "30")
    assert Decimal(trading.close_position("SPY", ClosePositionRequest(qty="30")).qty) == 30


# -- everything ----------------------------------------------------------------------------------------------
def test_close_all_answers_207_with_one_order_per_position_and_empties_the_account(broker, trading):
    buy(trading, "VTI", 3)
    broker.advance(minutes=1)
    results = trading.close_all_positions()
    assert [r.symbol for r in results] == ["SPY", "VTI"]
    assert all(r.status == 200 and isinstance(r.body, Order) for r in results)
    assert {r.symbol: Decimal(r.body.qty) for r in results} == {"SPY": 80, "VTI": 3}
    assert all(r.body.side == OrderSide.SELL for r in results)
    broker.advance(minutes=1)
    assert trading.get_all_positions() == []
    assert trading.close_all_positions() == []  # nothing left to close


def test_close_all_reports_a_position_it_cannot_close_and_closes_the_others(broker, trading):
    buy(trading, "VTI", 3)
    broker.advance(minutes=1)
    resting = trading.submit_order(
        LimitOrderRequest(symbol="SPY", qty=80, side="sell", time_in_force="gtc", limit_price=999)
    )
    spy, vti = trading.close_all_positions()
    assert spy.symbol == "SPY" and spy.status == 403
    assert isinstance(spy.body, FailedClosePositionDetails)
    assert spy.body.code == 40310000 and spy.body.held_for_orders == 80 and spy.body.available == 0
    assert vti.status == 200 and isinstance(vti.body, Order)
    assert trading.get_order_by_id(resting.id).status == OrderStatus.NEW  # left alone


def test_close_all_with_cancel_orders_cancels_them_first_so_their_shares_are_free(broker, trading):
    resting = trading.submit_order(
        LimitOrderRequest(symbol="SPY", qty=80, side="sell", time_in_force="gtc", limit_price=999)
    )
    waiting_buy = trading.submit_order(
        LimitOrderRequest(symbol="AGG", qty=1, side="buy", time_in_force="gtc", limit_price=50)
    )
    (spy,) = trading.close_all_positions(cancel_orders=True)
    assert spy.status == 200 and Decimal(spy.body.qty) == 80
    assert trading.get_order_by_id(resting.id).status == OrderStatus.CANCELED
    assert trading.get_order_by_id(waiting_buy.id).status == OrderStatus.CANCELED


def test_close_all_refuses_a_cancel_orders_that_is_not_a_boolean(trading):
    error = rejected(lambda: trading.delete("/positions", {"cancel_orders": "maybe"}))
    assert (error.status_code, error.code) == (422, 40010001)
    assert "cancel_orders" in error.message
    assert held(trading, "SPY") == 80 and trading.get_orders() == []


def test_closing_touches_only_the_calling_account(broker, trading, other_trading):
    trading.close_all_positions()
    broker.advance(minutes=1)
    assert Decimal(other_trading.get_open_position("AGG").qty) == 100
    assert other_trading.get_orders() == []
