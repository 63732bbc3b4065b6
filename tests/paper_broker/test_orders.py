"""The paper broker's trading behaviour through alpaca-py over HTTP: fills, rejections, time, state."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import GetOrdersRequest, LimitOrderRequest, MarketOrderRequest

from bot.paper_broker.server import ClockConfig
from tests.conftest import KEY, SECRET

NEW_YORK_CLOSE_UTC = datetime(2019, 12, 17, 21, 0, tzinfo=UTC)


def market(
    symbol: str, side: OrderSide, client_order_id: str | None = None, **amount: float
) -> MarketOrderRequest:
    return MarketOrderRequest(
        symbol=symbol, side=side, time_in_force=TimeInForce.DAY, client_order_id=client_order_id, **amount
    )


def rejected(call) -> APIError:  # noqa: ANN001 - a zero-argument callable
    with pytest.raises(APIError) as caught:
        call()
    return caught.value


def fills(client: TradingClient, **params: str) -> list[dict]:
    return client.get("/account/activities/FILL", {"direction": "asc", **params})


# -- fills ---------------------------------------------------------------------------------------------------
def test_market_order_fills_at_the_ask_plus_impact_and_books_cash_and_position(broker, trading, market_data):
    from alpaca.data.requests import StockLatestQuoteRequest

    before = Decimal(trading.get_account().cash)
    quote = market_data.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols="VTI"))["VTI"]
    order = trading.submit_order(market("VTI", OrderSide.BUY, qty=10))
    assert order.status == OrderStatus.NEW  # nothing fills until simulated time passes
    broker.advance(minutes=1)
    filled = trading.get_order_by_id(order.id)
    assert filled.status == OrderStatus.FILLED and Decimal(filled.filled_qty) == 10
    price = Decimal(filled.filled_avg_price)
    assert Decimal(str(quote.ask_price)) <= price <= Decimal(str(quote.ask_price)) * Decimal("1.001")
    assert Decimal(trading.get_account().cash) == before - (10 * price).quantize(Decimal("0.01"))
    assert Decimal(trading.get_open_position("VTI").qty) == 10


def test_large_order_fills_partially_across_minutes_as_volume_allows(make_broker):
    broker = make_broker(matching={"max_minute_participation": 0.00002})
    client = TradingClient(KEY, SECRET, url_override=broker.url)
    order = client.submit_order(market("SPY", OrderSide.SELL, qty=80))
    broker.advance(minutes=1)
    first = client.get_order_by_id(order.id)
    assert first.status == OrderStatus.PARTIALLY_FILLED
    assert 0 < Decimal(first.filled_qty) < 80
    broker.advance(minutes=120)
    assert client.get_order_by_id(order.id).status == OrderStatus.FILLED
    activity = fills(client, after="2019-12-17T00:00:00Z")
    assert len(activity) > 1
    assert activity[0]["type"] == "partial_fill" and activity[-1]["type"] == "fill"
    assert [Decimal(a["cum_qty"]) for a in activity] == sorted(Decimal(a["cum_qty"]) for a in activity)
    assert Decimal(activity[-1]["cum_qty"]) == 80 and Decimal(activity[-1]["leaves_qty"]) == 0


def test_bigger_orders_pay_more_impact_per_share(make_broker):
    broker = make_broker()
    client = TradingClient(KEY, SECRET, url_override=broker.url)
    small = client.submit_order(market("VTI", OrderSide.BUY, qty=1, client_order_id="small"))
    broker.advance(minutes=1)
    broker.advance(hours=3)  # let the impact of the first order decay
    big = client.submit_order(market("VTI", OrderSide.BUY, qty=500, client_order_id="big"))
    broker.advance(minutes=30)
    small_price = Decimal(client.get_order_by_id(small.id).filled_avg_price)
    big_order = client.get_order_by_id(big.id)
    assert big_order.status == OrderStatus.FILLED
    # Prices move during the day, so compare each fill's premium over the mid of its own minute.
    premiums = [_premium_over_mid(broker, a) for a in fills(client)]
    assert premiums[-1] > premiums[0]
    assert small_price > 0


def _premium_over_mid(broker, activity: dict) -> float:  # noqa: ANN001
    filled_at = datetime.fromisoformat(activity["transaction_time"].replace("Z", "+00:00")) - timedelta(
        minutes=1
    )
    quote = broker.market.quote(activity["symbol"], filled_at)
    return float(activity["price"]) / quote.mid - 1


def test_notional_buy_spends_the_notional_in_fractional_shares(broker, trading):
    order = trading.submit_order(market("AGG", OrderSide.BUY, notional=1234.56))
    assert order.qty is None and order.notional == "1234.56"
    broker.advance(minutes=1)
    done = trading.get_order_by_id(order.id)
    assert done.status == OrderStatus.FILLED
    spent = Decimal(done.filled_qty) * Decimal(done.filled_avg_price)
    assert Decimal("1234.00") <= spent <= Decimal("1234.56")
    assert Decimal(done.filled_qty) != Decimal(done.filled_qty).to_integral_value()


def test_limit_buy_rests_below_the_market_and_fills_only_when_crossed(broker, trading, market_data):
    from alpaca.data.requests import StockLatestQuoteRequest

    ask = market_data.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols="SPY"))[
        "SPY"
    ].ask_price
    far = trading.submit_order(
        LimitOrderRequest(
            symbol="SPY",
            qty=1,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            limit_price=round(ask * 0.8, 2),
        )
    )
    near = trading.submit_order(
        LimitOrderRequest(
            symbol="SPY",
            qty=1,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            limit_price=round(ask * 1.01, 2),
        )
    )
    broker.advance(minutes=5)
    assert trading.get_order_by_id(far.id).status == OrderStatus.NEW
    near_done = trading.get_order_by_id(near.id)
    assert near_done.status == OrderStatus.FILLED
    assert Decimal(near_done.filled_avg_price) <= Decimal(str(round(ask * 1.01, 2)))


# -- time ----------------------------------------------------------------------------------------------------
def test_day_orders_expire_at_the_close_and_release_buying_power(broker, trading):
    start_bp = Decimal(trading.get_account().buying_power)
    order = trading.submit_order(
        LimitOrderRequest(
            symbol="SPY", qty=10, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=100
        )
    )
    assert Decimal(trading.get_account().buying_power) == start_bp - 1000
    broker.advance_to(NEW_YORK_CLOSE_UTC + timedelta(minutes=1))
    expired = trading.get_order_by_id(order.id)
    assert expired.status == OrderStatus.EXPIRED and expired.expired_at is not None
    account = trading.get_account()  # a margin account: its buying power also moved with SPY's price
    unreserved = (Decimal(account.equity) - Decimal(account.initial_margin)) * 2
    assert Decimal(account.buying_power) == unreserved


def test_gtc_orders_survive_the_close(broker, trading):
    order = trading.submit_order(
        LimitOrderRequest(
            symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=100
        )
    )
    broker.advance(days=2)
    assert trading.get_order_by_id(order.id).status == OrderStatus.NEW


def test_orders_sent_while_closed_are_accepted_and_fill_after_the_open(broker, trading):
    broker.advance_to(NEW_YORK_CLOSE_UTC + timedelta(hours=2))
    assert trading.get_clock().is_open is False
    order = trading.submit_order(market("SPY", OrderSide.BUY, qty=2))
    assert order.status == OrderStatus.ACCEPTED
    broker.advance(hours=10)  # 09:00 New York next day: still closed
    assert trading.get_order_by_id(order.id).status == OrderStatus.ACCEPTED
    next_open = trading.get_clock().next_open
    broker.advance_to(next_open.astimezone(UTC) + timedelta(minutes=1))
    done = trading.get_order_by_id(order.id)
    assert done.status == OrderStatus.FILLED
    assert done.filled_at.astimezone(UTC) > next_open.astimezone(UTC)


def test_clock_follows_simulated_time_and_the_real_calendar(broker, trading):
    clock = trading.get_clock()
    assert clock.is_open and clock.timestamp.astimezone(UTC) == datetime(2019, 12, 17, 14, 30, tzinfo=UTC)
    broker.advance_to(datetime(2019, 12, 24, 18, 30, tzinfo=UTC))  # Christmas Eve closes at 13:00 New York
    clock = trading.get_clock()
    assert clock.is_open is False
    assert clock.next_open.date() == date(2019, 12, 26)  # Christmas Day is a holiday


def test_dividends_are_paid_in_cash_on_the_ex_date(broker, other_trading):
    cash = Decimal(other_trading.get_account().cash)
    broker.advance_to(datetime(2019, 12, 19, 14, 31, tzinfo=UTC))  # AGG went ex $0.1905 on 2019-12-19
    assert Decimal(other_trading.get_account().cash) == cash + Decimal("19.05")
    dividends = other_trading.get("/account/activities/DIV")
    assert len(dividends) == 1 and dividends[0]["symbol"] == "AGG" and dividends[0]["net_amount"] == "19.05"


# -- rejections ----------------------------------------------------------------------------------------------
def test_duplicate_client_order_id_is_refused_even_after_cancel(broker, trading):
    order = trading.submit_order(
        LimitOrderRequest(
            symbol="SPY",
            qty=1,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            limit_price=100,
            client_order_id="plan-1-0",
        )
    )
    trading.cancel_order_by_id(order.id)
    error = rejected(lambda: trading.submit_order(market("SPY", OrderSide.BUY, "plan-1-0", qty=1)))
    assert (error.status_code, error.code, error.message) == (422, 40010001, "client_order_id must be unique")


def test_order_opposite_to_an_open_one_is_refused_as_a_potential_wash_trade(broker, trading):
    trading.submit_order(
        LimitOrderRequest(
            symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=100
        )
    )
    error = rejected(lambda: trading.submit_order(market("SPY", OrderSide.SELL, qty=1)))
    assert (error.status_code, error.code) == (403, 40310000)
    assert error.message == "potential wash trade detected. use complex orders"


def limit(side: OrderSide, price: float, qty: float = 1, symbol: str = "SPY") -> LimitOrderRequest:
    return LimitOrderRequest(
        symbol=symbol, qty=qty, side=side, time_in_force=TimeInForce.DAY, limit_price=price
    )


def test_opposite_limit_orders_that_cannot_cross_are_accepted_as_on_alpaca(broker, trading):
    resting_sell = trading.submit_order(limit(OrderSide.SELL, 400))
    low_buy = trading.submit_order(limit(OrderSide.BUY, 50))  # $50 < $400: the two can never trade
    assert {o.id for o in trading.get_orders()} == {resting_sell.id, low_buy.id}
    for crossing in (
        limit(OrderSide.BUY, 400),
        limit(OrderSide.BUY, 450),
        market("SPY", OrderSide.BUY, qty=1),
    ):
        error = rejected(lambda crossing=crossing: trading.submit_order(crossing))
        assert (error.status_code, error.code) == (403, 40310000)
        assert error.message == "potential wash trade detected. use complex orders"
    assert trading.submit_order(limit(OrderSide.SELL, 60)).status  # above the $50 buy: accepted
    error = rejected(
        lambda: trading.submit_order(limit(OrderSide.SELL, 50))
    )  # at the buy's limit: could cross
    assert error.message == "potential wash trade detected. use complex orders"
    broker.advance(minutes=30)  # SPY trades near $320: neither the $50 buy nor the $400 sell fills
    assert trading.get_order_by_id(low_buy.id).status == OrderStatus.NEW
    assert trading.get_order_by_id(resting_sell.id).status == OrderStatus.NEW


def test_insufficient_buying_power_and_quantity(broker, trading):
    error = rejected(lambda: trading.submit_order(market("SPY", OrderSide.BUY, qty=1000)))
    assert (error.status_code, error.code, error.message) == (403, 40310000, "insufficient buying power")
    error = rejected(lambda: trading.submit_order(market("SPY", OrderSide.SELL, qty=81)))
    assert (error.status_code, error.code) == (403, 40310000)
    assert error.message.startswith("insufficient qty available for order (requested: 81, available: 80")


def test_qty_and_notional_together_are_refused(broker, trading):
    error = rejected(
        lambda: trading.post(
            "/orders",
            {
                "symbol": "SPY",
                "qty": "1",
                "notional": "100",
                "side": "buy",
                "type": "market",
                "time_in_force": "day",
            },
        )
    )
    assert (error.status_code, error.code) == (422, 40010001)
    assert "qty and notional" in error.message


def test_fractional_order_on_a_non_fractionable_asset_is_refused(make_broker):
    broker = make_broker(matching={"non_fractionable": ["GLD"]})
    client = TradingClient(KEY, SECRET, url_override=broker.url)
    assert client.get_asset("GLD").fractionable is False
    error = rejected(lambda: client.submit_order(market("GLD", OrderSide.BUY, qty=0.5)))
    assert (error.status_code, error.code, error.message) == (422, 40010001, "asset GLD is not fractionable")
    assert client.submit_order(market("GLD", OrderSide.BUY, qty=1)).status == OrderStatus.NEW


def test_fractional_orders_must_be_market_day_orders(broker, trading):
    error = rejected(
        lambda: trading.submit_order(
            LimitOrderRequest(
                symbol="SPY", qty=0.5, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=300
            )
        )
    )
    assert (error.status_code, error.message) == (422, "fractional orders must be market orders")
    error = rejected(
        lambda: trading.submit_order(
            MarketOrderRequest(symbol="SPY", notional=100, side=OrderSide.BUY, time_in_force=TimeInForce.GTC)
        )
    )
    assert (error.status_code, error.message) == (422, "fractional orders must be DAY orders")
    error = rejected(lambda: trading.submit_order(market("SPY", OrderSide.BUY, notional=0.5)))
    assert (error.status_code, error.message) == (422, "cost basis must be >= 1")


def test_unknown_symbol_and_malformed_requests(broker, trading):
    error = rejected(lambda: trading.submit_order(market("NOPE", OrderSide.BUY, qty=1)))
    assert (error.status_code, error.code) == (422, 40010001) and "NOPE" in error.message
    error = rejected(
        lambda: trading.post(
            "/orders",
            {"symbol": "SPY", "qty": "abc", "side": "buy", "type": "market", "time_in_force": "day"},
        )
    )
    assert (error.status_code, error.code) == (422, 40010001) and "qty" in error.message
    error = rejected(
        lambda: trading.post(
            "/orders", {"symbol": "SPY", "qty": "1", "side": "up", "type": "market", "time_in_force": "day"}
        )
    )
    assert error.status_code == 422 and "side" in error.message
    raw = trading._session.post(
        f"{broker.url}/v2/orders",
        data=b"{not json",
        headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET},
    )
    assert raw.status_code == 400 and raw.json() == {
        "code": 40010000,
        "message": "request body format is invalid",
    }


def test_inactive_symbol_is_refused(make_broker):
    broker = make_broker(clock=ClockConfig(start=date(2021, 6, 1)))
    client = TradingClient(KEY, SECRET, url_override=broker.url)
    assert client.get_asset("SCHB").tradable is False  # the bundled SCHB bars end 2020-12-11
    error = rejected(lambda: client.submit_order(market("SCHB", OrderSide.BUY, qty=1)))
    assert (error.status_code, error.code, error.message) == (422, 40010001, "asset SCHB is not active")


def test_bad_keys_are_refused_as_alpaca_refuses_them(broker):
    client = TradingClient(KEY, "wrong-secret", url_override=broker.url)
    error = rejected(client.get_account)
    assert (error.status_code, error.code, error.message) == (401, 40110000, "request is not authorized")


def test_cancel_answers_204_then_422_and_404(broker, trading):
    order = trading.submit_order(
        LimitOrderRequest(
            symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=100
        )
    )
    headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
    first = trading._session.delete(f"{broker.url}/v2/orders/{order.id}", headers=headers)
    assert first.status_code == 204
    again = trading._session.delete(f"{broker.url}/v2/orders/{order.id}", headers=headers)
    assert again.status_code == 422 and again.json()["code"] == 42210000
    missing = trading._session.delete(
        f"{broker.url}/v2/orders/00000000-0000-0000-0000-000000000000", headers=headers
    )
    assert missing.status_code == 404 and missing.json()["code"] == 40410000


def test_cancel_all_answers_207_with_a_status_per_order(broker, trading):
    for price in (100, 101):
        trading.submit_order(
            LimitOrderRequest(
                symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=price
            )
        )
    result = trading.cancel_orders()
    assert len(result) == 2 and {r.status for r in result} == {200}
    assert trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN)) == []


# -- accounts and state --------------------------------------------------------------------------------------
def test_two_accounts_are_isolated(broker, trading, other_trading):
    order = trading.submit_order(market("VTI", OrderSide.BUY, "same-id", qty=3))
    other = other_trading.submit_order(market("VTI", OrderSide.BUY, "same-id", qty=1))  # ids are per account
    broker.advance(minutes=1)
    assert Decimal(trading.get_open_position("VTI").qty) == 3
    assert Decimal(other_trading.get_open_position("VTI").qty) == 1
    assert {p.symbol for p in other_trading.get_all_positions()} == {"AGG", "VTI"}
    assert rejected(lambda: other_trading.get_order_by_id(order.id)).status_code == 404
    assert rejected(lambda: trading.get_order_by_id(other.id)).status_code == 404
    assert all(a["order_id"] != order.id for a in fills(other_trading))


def test_starting_positions_come_with_their_purchase_history(broker, trading):
    position = trading.get_open_position("SPY")
    assert Decimal(position.qty) == 80
    assert Decimal(position.cost_basis) == Decimal("22215.00")  # 50 x 270 + 30 x 290.50
    history = fills(trading)
    assert [(a["transaction_time"][:10], a["qty"], a["price"]) for a in history] == [
        ("2018-03-01", "50", "270"),
        ("2019-06-03", "30", "290.5"),
    ]
    assert Decimal(trading.get_account().cash) == Decimal("100000")


def test_fill_activities_are_paginated_with_page_token(make_broker):
    broker = make_broker()
    client = TradingClient(KEY, SECRET, url_override=broker.url)
    for n in range(7):
        client.submit_order(market("AGG", OrderSide.BUY, f"buy-{n}", qty=1))
        broker.advance(minutes=1)
    everything = client.get("/account/activities/FILL", {"direction": "asc", "page_size": 100})
    pages, token = [], None
    while True:
        params = {"direction": "asc", "page_size": 3, **({"page_token": token} if token else {})}
        page = client.get("/account/activities/FILL", params)
        if not page:
            break
        pages.append(page)
        token = page[-1]["id"]
    assert [len(p) for p in pages] == [3, 3, 3]  # 2 starting lots + 7 fills
    assert [a["id"] for p in pages for a in p] == [a["id"] for a in everything]


def test_state_survives_a_restart_and_reset_starts_over(make_broker, tmp_path):
    database = tmp_path / "durable.sqlite"
    first = make_broker(database=database)
    client = TradingClient(KEY, SECRET, url_override=first.url)
    client.submit_order(market("VTI", OrderSide.BUY, "keep-me", qty=4))
    resting = client.submit_order(
        LimitOrderRequest(
            symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=100
        )
    )
    first.advance(minutes=3)
    cash, now = client.get_account().cash, first.now
    first.stop()

    second = make_broker(database=database)
    client = TradingClient(KEY, SECRET, url_override=second.url)
    assert second.now == now
    assert client.get_account().cash == cash
    assert Decimal(client.get_open_position("VTI").qty) == 4
    assert client.get_order_by_client_id("keep-me").status == OrderStatus.FILLED
    assert client.get_order_by_id(resting.id).status == OrderStatus.NEW
    error = rejected(lambda: client.submit_order(market("VTI", OrderSide.BUY, "keep-me", qty=1)))
    assert error.code == 40010001
    second.stop()

    third = make_broker(database=database, reset=True)
    client = TradingClient(KEY, SECRET, url_override=third.url)
    assert Decimal(client.get_account().cash) == Decimal("100000")
    assert rejected(lambda: client.get_order_by_client_id("keep-me")).status_code == 404
