"""Stop, stop-limit and trailing-stop orders and the opening/closing auctions (time in force opg and cls),
through alpaca-py over HTTP against the paper broker, stepping simulated time minute by minute.

Expectations are read from the market the broker replays (its real and synthesized minute bars), so each
test states what a user would see: the minute a stop fills in, the price it could not beat, the high-water
mark the order reports after each minute.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, OrderType, TimeInForce
from alpaca.trading.requests import (
    LimitOrderRequest,
    MarketOrderRequest,
    StopLimitOrderRequest,
    StopOrderRequest,
    TrailingStopOrderRequest,
)

from bot.paper_broker.market import Bar
from bot.paper_broker.server import PaperBroker
from tests.conftest import KEY, SECRET

pytestmark = pytest.mark.slow  # Slow tier: stop orders walked minute by minute

OPEN = datetime(2019, 12, 17, 14, 30, tzinfo=UTC)  # 09:30 New York, where the broker's clock starts
CLOSE = datetime(2019, 12, 17, 21, 0, tzinfo=UTC)
NEXT_OPEN = datetime(2019, 12, 18, 14, 30, tzinfo=UTC)
NEXT_CLOSE = datetime(2019, 12, 18, 21, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
CENT = Decimal("0.01")


def minutes(broker: PaperBroker, symbol: str, day: date = OPEN.date()) -> list[Bar]:
    """The session's minute bars as the broker replays them (the test's oracle)."""
    path = broker.market.path(symbol, day)
    assert path is not None
    return [broker.market.minute(symbol, path.session.open + k * MINUTE) for k in range(path.minutes)]


def d(value: float) -> Decimal:
    return Decimal(str(round(value, 4)))


def half_spread(broker: PaperBroker, symbol: str, at: datetime) -> Decimal:
    quote = broker.market.quote(symbol, at)
    return d((quote.ask - quote.bid) / 2)


def rejected(call) -> APIError:  # noqa: ANN001 - a zero-argument callable
    with pytest.raises(APIError) as caught:
        call()
    return caught.value


def raw_order(**fields: object) -> dict[str, object]:
    return {"symbol": "SPY", "qty": "1", "side": "buy", "time_in_force": "day", **fields}


# -- stop ----------------------------------------------------------------------------------------------------
def test_sell_stop_fills_in_the_minute_the_path_touches_its_stop_and_not_before(broker, trading):
    bars = minutes(broker, "SPY")
    stop = min(d(b.low) for b in bars[:10]) - CENT  # below everything the first ten minutes traded
    k = next(i for i, b in enumerate(bars) if d(b.low) <= stop)
    order = trading.submit_order(
        StopOrderRequest(
            symbol="SPY", qty=10, side=OrderSide.SELL, time_in_force=TimeInForce.GTC, stop_price=stop
        )
    )
    assert order.type == OrderType.STOP and Decimal(order.stop_price) == stop
    assert order.status == OrderStatus.NEW and order.hwm is None and order.trail_price is None

    broker.advance_to(OPEN + k * MINUTE)  # every minute before k stayed above the stop
    waiting = trading.get_order_by_id(order.id)
    assert waiting.status == OrderStatus.NEW and Decimal(waiting.filled_qty) == 0
    assert Decimal(trading.get_open_position("SPY").qty_available) == 70  # the stop holds its shares

    broker.advance(minutes=1)
    filled = trading.get_order_by_id(order.id)
    assert filled.status == OrderStatus.FILLED and filled.filled_at == OPEN + (k + 1) * MINUTE
    trigger = min(stop, d(bars[k].open))  # at the stop, or at the open if the minute gapped through it
    price = Decimal(filled.filled_avg_price)
    assert price <= trigger - half_spread(broker, "SPY", OPEN + k * MINUTE)  # sold at the bid, less impact
    assert price >= (trigger - Decimal("0.05")) * Decimal("0.999")
    assert Decimal(trading.get_open_position("SPY").qty) == 70


def test_buy_stop_reserves_buying_power_at_its_stop(broker, trading):
    ask = broker.market.quote("SPY", OPEN).ask
    stop = d(ask + 5)
    before = Decimal(trading.get_account().buying_power)
    trading.submit_order(
        StopOrderRequest(
            symbol="SPY", qty=10, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, stop_price=stop
        )
    )
    held = before - Decimal(trading.get_account().buying_power)
    assert 10 * stop <= held <= 10 * stop * Decimal("1.001")  # what it may pay once triggered, not the ask


def test_stop_limit_is_no_limit_before_its_trigger_and_a_limit_after(broker, trading):
    bars = minutes(broker, "VTI")
    stop = max(d(b.high) for b in bars[:10]) + CENT
    k = next(i for i, b in enumerate(bars) if d(b.high) >= stop)  # the buy stop triggers in minute k
    limit = stop - Decimal("0.10")
    half = half_spread(broker, "VTI", OPEN)
    reaches = [i for i, b in enumerate(bars) if d(b.low) + half <= limit]
    assert any(i < k for i in reaches), "a plain limit would have filled before the trigger"
    assert d(bars[k].low) + half > limit, "no fill in the trigger minute itself"
    j = next(i for i in reaches if i > k)
    order = trading.submit_order(
        StopLimitOrderRequest(
            symbol="VTI",
            qty=5,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            stop_price=stop,
            limit_price=limit,
        )
    )
    assert (Decimal(order.stop_price), Decimal(order.limit_price)) == (stop, limit)

    broker.advance_to(OPEN + j * MINUTE)  # triggered in minute k, then resting as a limit below the market
    assert trading.get_order_by_id(order.id).status == OrderStatus.NEW
    broker.advance(minutes=1)
    filled = trading.get_order_by_id(order.id)
    assert filled.status == OrderStatus.FILLED and filled.filled_at == OPEN + (j + 1) * MINUTE
    assert Decimal(filled.filled_avg_price) <= limit


# -- trailing stop -------------------------------------------------------------------------------------------
def test_sell_trailing_stop_follows_the_high_and_triggers_on_the_retrace(broker, trading):
    trail = Decimal("0.30")
    bars = minutes(broker, "SPY")
    order = trading.submit_order(
        TrailingStopOrderRequest(
            symbol="SPY", qty=10, side=OrderSide.SELL, time_in_force=TimeInForce.DAY, trail_price=float(trail)
        )
    )
    last_trade = d(broker.market.trade("SPY", OPEN).price)
    assert Decimal(order.hwm) == last_trade and Decimal(order.stop_price) == last_trade - trail
    assert Decimal(order.trail_price) == trail and order.trail_percent is None

    hwm, stops = last_trade, {last_trade - trail}
    for k, bar in enumerate(bars):
        broker.advance(minutes=1)
        now = trading.get_order_by_id(order.id)
        if now.status == OrderStatus.FILLED:
            assert now.filled_at == OPEN + (k + 1) * MINUTE
            break
        assert d(bar.low) > hwm - trail  # it did not trigger: the path never fell to the stop it had
        hwm = max(hwm, d(bar.high))
        assert (Decimal(now.hwm), Decimal(now.stop_price)) == (hwm, hwm - trail)
        stops.add(hwm - trail)
    else:
        pytest.fail("the trailing stop never triggered")
    assert len(stops) > 1, "the stop moved up with the market"
    # it triggered on a retrace of the trail from the high (within this minute or before it)
    assert d(bar.low) <= max(hwm, d(bar.high)) - trail
    assert Decimal(now.filled_avg_price) <= Decimal(now.stop_price) <= Decimal(now.hwm) - trail


def test_buy_trailing_stop_in_percent_follows_the_low(broker, trading):
    percent = Decimal("0.1")
    bars = minutes(broker, "SPY")
    order = trading.submit_order(
        TrailingStopOrderRequest(
            symbol="SPY",
            qty=3,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            trail_percent=float(percent),
        )
    )
    assert Decimal(order.trail_percent) == percent and order.trail_price is None
    hwm = Decimal(order.hwm)
    lowered = False
    for bar in bars[:30]:
        broker.advance(minutes=1)
        now = trading.get_order_by_id(order.id)
        if now.status == OrderStatus.FILLED:
            break
        lowered |= d(bar.low) < hwm
        hwm = min(hwm, d(bar.low))
        expected_stop = (hwm * (1 + percent / 100)).quantize(CENT, ROUND_HALF_UP)
        assert (Decimal(now.hwm), Decimal(now.stop_price)) == (hwm, expected_stop)
    assert lowered, "the high-water mark of a buy is the lowest price seen"
    assert now.status == OrderStatus.FILLED  # the rebound of 0.1% from the low elected it
    assert Decimal(now.filled_avg_price) >= Decimal(now.stop_price)


def test_trailing_stop_keeps_its_high_water_mark_across_a_restart(make_broker, tmp_path):
    first = make_broker(database=tmp_path / "state.sqlite")
    client = TradingClient(KEY, SECRET, url_override=first.url)
    order = client.submit_order(
        TrailingStopOrderRequest(
            symbol="SPY", qty=1, side=OrderSide.SELL, time_in_force=TimeInForce.GTC, trail_percent=5
        )
    )
    first.advance(minutes=30)
    before = client.get_order_by_id(order.id)
    first.stop()
    second = make_broker(database=tmp_path / "state.sqlite")
    after = TradingClient(KEY, SECRET, url_override=second.url).get_order_by_id(order.id)
    assert (after.hwm, after.stop_price, after.trail_percent) == (before.hwm, before.stop_price, "5")
    assert Decimal(after.hwm) > Decimal(order.hwm)  # it had moved before the restart


# -- opening and closing auctions ----------------------------------------------------------------------------
@pytest.fixture
def auction_broker(make_broker) -> PaperBroker:  # noqa: ANN001
    """Without impact, an auction fill is exactly the auction's print."""
    return make_broker(matching={"impact_coefficient": 0.0})


def on_open(side: OrderSide, qty: float, **extra: object) -> MarketOrderRequest:
    return MarketOrderRequest(symbol="SPY", qty=qty, side=side, time_in_force=TimeInForce.OPG, **extra)


def test_opg_orders_fill_at_the_next_sessions_opening_print(auction_broker):
    broker, client = auction_broker, TradingClient(KEY, SECRET, url_override=auction_broker.url)
    broker.advance_to(CLOSE + timedelta(hours=3))  # 19:00 New York: the next opening auction takes orders
    moo = client.submit_order(on_open(OrderSide.BUY, 10))
    loo = client.submit_order(
        LimitOrderRequest(
            symbol="SPY", qty=10, side=OrderSide.BUY, time_in_force=TimeInForce.OPG, limit_price=300
        )
    )
    assert moo.status == loo.status == OrderStatus.ACCEPTED
    broker.advance_to(NEXT_OPEN - timedelta(minutes=3))
    assert client.get_order_by_id(moo.id).status == OrderStatus.ACCEPTED

    broker.advance_to(NEXT_OPEN + MINUTE)
    filled = client.get_order_by_id(moo.id)
    assert filled.status == OrderStatus.FILLED and filled.filled_at == NEXT_OPEN
    assert Decimal(filled.filled_avg_price) == d(minutes(broker, "SPY", NEXT_OPEN.date())[0].open)
    unfilled = client.get_order_by_id(loo.id)  # $300 never met the opening print: expired, not working on
    assert unfilled.status == OrderStatus.EXPIRED and Decimal(unfilled.filled_qty) == 0


def test_opg_order_sent_before_0928_goes_to_the_same_mornings_auction(auction_broker):
    broker, client = auction_broker, TradingClient(KEY, SECRET, url_override=auction_broker.url)
    broker.advance_to(NEXT_OPEN - timedelta(minutes=3))  # 09:27
    order = client.submit_order(on_open(OrderSide.SELL, 5))
    broker.advance_to(NEXT_OPEN + timedelta(minutes=10))
    filled = client.get_order_by_id(order.id)
    assert filled.status == OrderStatus.FILLED and filled.filled_at == NEXT_OPEN


def test_opg_orders_are_refused_from_0928_to_1900(auction_broker):
    broker, client = auction_broker, TradingClient(KEY, SECRET, url_override=auction_broker.url)
    for at in (
        NEXT_OPEN - timedelta(minutes=2),
        NEXT_OPEN + timedelta(hours=2),
        NEXT_CLOSE + timedelta(hours=2),
    ):
        broker.advance_to(at)
        error = rejected(lambda: client.submit_order(on_open(OrderSide.BUY, 1)))
        assert (error.status_code, error.code) == (422, 40010001)
        assert error.message.startswith("opg orders cannot be submitted between 09:28 and 19:00 ET")


def test_cls_orders_fill_at_the_closing_print(auction_broker):
    broker, client = auction_broker, TradingClient(KEY, SECRET, url_override=auction_broker.url)
    broker.advance(minutes=30)
    moc = client.submit_order(
        MarketOrderRequest(symbol="SPY", qty=10, side=OrderSide.SELL, time_in_force=TimeInForce.CLS)
    )
    loc = client.submit_order(
        LimitOrderRequest(
            symbol="SPY", qty=5, side=OrderSide.SELL, time_in_force=TimeInForce.CLS, limit_price=999
        )
    )
    assert moc.status == OrderStatus.NEW  # the market is open; it waits for the closing auction
    broker.advance_to(CLOSE - MINUTE)
    waiting = client.get_order_by_id(moc.id)
    assert waiting.status == OrderStatus.NEW and Decimal(waiting.filled_qty) == 0

    broker.advance_to(CLOSE)
    filled = client.get_order_by_id(moc.id)
    assert filled.status == OrderStatus.FILLED and filled.filled_at == CLOSE
    assert Decimal(filled.filled_avg_price) == d(minutes(broker, "SPY")[-1].close)
    assert client.get_order_by_id(loc.id).status == OrderStatus.EXPIRED


def test_cls_orders_are_refused_from_1550_and_queued_for_the_next_close_after_1900(auction_broker):
    broker, client = auction_broker, TradingClient(KEY, SECRET, url_override=auction_broker.url)
    broker.advance_to(CLOSE - timedelta(minutes=10))  # 15:50
    error = rejected(
        lambda: client.submit_order(
            MarketOrderRequest(symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.CLS)
        )
    )
    assert (error.status_code, error.code) == (422, 40010001)
    assert error.message.startswith("cls orders cannot be submitted between 15:50 and 19:00 ET")
    broker.advance_to(CLOSE + timedelta(hours=3))  # 19:00
    order = client.submit_order(
        MarketOrderRequest(symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.CLS)
    )
    assert order.status == OrderStatus.ACCEPTED
    broker.advance_to(NEXT_CLOSE)
    filled = client.get_order_by_id(order.id)
    assert filled.status == OrderStatus.FILLED and filled.filled_at == NEXT_CLOSE
    assert Decimal(filled.filled_avg_price) == d(minutes(broker, "SPY", NEXT_CLOSE.date())[-1].close)


# -- validation ----------------------------------------------------------------------------------------------
REFUSALS = {
    "stop without stop_price": (raw_order(type="stop"), "stop_price is required for stop orders"),
    "stop_limit without stop_price": (
        raw_order(type="stop_limit", limit_price="300"),
        "stop_price is required for stop_limit orders",
    ),
    "stop_limit without limit_price": (
        raw_order(type="stop_limit", stop_price="300"),
        "limit_price is required for stop_limit orders",
    ),
    "stop_price not positive": (raw_order(type="stop", stop_price="0"), "stop_price must be > 0"),
    "sub-penny stop_price": (
        raw_order(type="stop", stop_price="300.001"),
        "invalid stop_price. sub-penny increment does not fulfill minimum pricing criteria",
    ),
    "stop_price on a market order": (
        raw_order(type="market", stop_price="300"),
        "stop_price is only allowed for stop and stop_limit orders",
    ),
    "stop_price on a trailing stop": (
        raw_order(type="trailing_stop", trail_price="1", stop_price="300"),
        "stop_price is only allowed for stop and stop_limit orders",
    ),
    "limit_price on a stop order": (
        raw_order(type="stop", stop_price="300", limit_price="299"),
        "limit_price is only allowed for limit and stop_limit orders",
    ),
    "trailing stop without a trail": (
        raw_order(type="trailing_stop"),
        "trail_price or trail_percent is required for trailing_stop orders",
    ),
    "trailing stop with both trails": (
        raw_order(type="trailing_stop", trail_price="1", trail_percent="1"),
        "trail_price and trail_percent cannot both be specified",
    ),
    "trail_price not positive": (
        raw_order(type="trailing_stop", trail_price="-1"),
        "trail_price must be > 0 with at most 2 decimal places",
    ),
    "trail_percent of 100": (
        raw_order(type="trailing_stop", trail_percent="100"),
        "trail_percent must be > 0 and < 100",
    ),
    "trail_percent on a limit order": (
        raw_order(type="limit", limit_price="300", trail_percent="1"),
        "trail_percent is only allowed for trailing_stop orders",
    ),
    "trailing stop ioc": (
        raw_order(type="trailing_stop", trail_price="1", time_in_force="ioc"),
        "trailing_stop orders must be DAY or GTC orders",
    ),
    "stop on open": (
        raw_order(type="stop", stop_price="300", time_in_force="opg"),
        "stop orders must be DAY or GTC orders",
    ),
    "stop_limit fok": (
        raw_order(type="stop_limit", stop_price="300", limit_price="300", time_in_force="fok"),
        "stop_limit orders must be DAY or GTC orders",
    ),
    "fractional stop": (
        raw_order(type="stop", stop_price="300", qty="0.5"),
        "fractional orders must be market orders",
    ),
    "fractional on close": (
        raw_order(type="market", qty="0.5", time_in_force="cls"),
        "fractional orders must be DAY orders",
    ),
    "extended-hours stop": (
        raw_order(type="stop", stop_price="300", extended_hours=True),
        "extended hours order must be DAY limit orders",
    ),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_malformed_conditional_and_auction_orders_are_refused_as_alpaca_refuses_them(case, trading):
    body, message = REFUSALS[case]
    error = rejected(lambda: trading.post("/orders", body))
    assert (error.status_code, error.code, error.message) == (422, 40010001, message)
    assert trading.get_orders() == []  # nothing was accepted
