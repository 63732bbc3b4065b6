"""The paper broker honours Alpaca's contract: alpaca-py parses every answer, every body fits Alpaca's spec.

The server is driven only through alpaca-py (``TradingClient``, ``StockHistoricalDataClient``, and their
``get`` for the activities endpoint alpaca-py has no typed call for). The ``recorder`` fixture hooks
alpaca-py's own ``requests.Session``, so the very responses alpaca-py parsed into its models are validated
against Alpaca's OpenAPI spec (``specs/``, via ``schema.py``): each test checks what it is about, and when it
ends every response it caused is validated against the schema the spec gives its path and status (errors
against ``Error``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from alpaca.common.enums import Sort
from alpaca.common.exceptions import APIError
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.models import Bar, BarSet, Quote, Trade
from alpaca.data.requests import StockBarsRequest, StockLatestQuoteRequest, StockLatestTradeRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import (
    AssetClass,
    AssetStatus,
    OrderClass,
    OrderSide,
    OrderStatus,
    OrderType,
    QueryOrderStatus,
    TimeInForce,
)
from alpaca.trading.models import (
    AccountConfiguration,
    Asset,
    Calendar,
    Clock,
    NonTradeActivity,
    Order,
    Position,
    TradeAccount,
    TradeActivity,
)
from alpaca.trading.requests import (
    CancelOrderResponse,
    GetAssetsRequest,
    GetCalendarRequest,
    GetOrderByIdRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
)
from pydantic import BaseModel

from bot.paper_broker.faults import FaultConfig
from bot.paper_broker.server import PaperBroker
from tests.conftest import KEY, SECRET
from tests.contract import schema
from tests.contract.schema import MARKET_DATA, TRADING, Exchange, Recorder

# Slow tier: every recorded response checked against Alpaca's OpenAPI spec
# (CI runs the slow tier; the README's quick command skips it.)
pytestmark = pytest.mark.slow

NEW_YORK_OFFSET = "-05:00"  # December and January
OPEN_UTC = datetime(2019, 12, 17, 14, 30, tzinfo=UTC)
SYMBOLS = ["SPY", "AGG", "VTI"]

DECIMAL_FIELDS = frozenset(
    {
        # Order
        "notional", "qty", "filled_qty", "filled_avg_price", "limit_price", "stop_price", "trail_percent",
        "trail_price", "hwm", "ratio_qty",
        # Account
        "cash", "portfolio_value", "equity", "last_equity", "long_market_value", "short_market_value",
        "buying_power", "regt_buying_power", "daytrading_buying_power", "non_marginable_buying_power",
        "options_buying_power", "initial_margin", "maintenance_margin", "last_maintenance_margin", "sma",
        "multiplier", "accrued_fees", "pending_transfer_in", "pending_transfer_out",
        # Position
        "qty_available", "avg_entry_price", "market_value", "cost_basis", "unrealized_pl", "unrealized_plpc",
        "unrealized_intraday_pl", "unrealized_intraday_plpc", "current_price", "lastday_price",
        "change_today",
        # Asset
        "margin_requirement_long", "margin_requirement_short", "min_order_size", "min_trade_increment",
        "price_increment",
        # AccountConfigurations
        "max_margin_multiplier",
        # Activities
        "price", "leaves_qty", "cum_qty", "net_amount", "per_share_amount",
    }
)  # fmt: skip
"""Fields Alpaca sends as decimal strings (``"12.5"``), never as JSON numbers."""
DECIMAL_TEXT = re.compile(r"^-?\d+(\.\d+)?$")

EVERY_ENDPOINT = frozenset(
    {
        "GET /v2/account",
        "GET /v2/account/configurations",
        "PATCH /v2/account/configurations",
        "GET /v2/positions",
        "GET /v2/positions/{symbol_or_asset_id}",
        "POST /v2/orders",
        "GET /v2/orders",
        "GET /v2/orders/{order_id}",
        "GET /v2/orders:by_client_order_id",
        "DELETE /v2/orders/{order_id}",
        "DELETE /v2/orders",
        "GET /v2/clock",
        "GET /v2/calendar",
        "GET /v2/assets",
        "GET /v2/assets/{symbol_or_asset_id}",
        "GET /v2/account/activities/{activity_type}",
        "GET /v2/stocks/quotes/latest",
        "GET /v2/stocks/trades/latest",
        "GET /v2/stocks/bars",
    }
)


# -- helpers -------------------------------------------------------------------------------------------------
def market(symbol: str, side: OrderSide = OrderSide.BUY, **amount: Any) -> MarketOrderRequest:
    return MarketOrderRequest(symbol=symbol, side=side, time_in_force=TimeInForce.DAY, **amount)


def limit(symbol: str, side: OrderSide, qty: float, price: float, **extra: Any) -> LimitOrderRequest:
    return LimitOrderRequest(
        symbol=symbol, side=side, qty=qty, limit_price=price, time_in_force=TimeInForce.GTC, **extra
    )


def api_error(call: Callable[[], object]) -> APIError:
    with pytest.raises(APIError) as caught:
        call()
    return caught.value


def activities(client: TradingClient, kind: str, **params: Any) -> list[dict]:
    """One page of ``GET /v2/account/activities/{kind}`` through alpaca-py's own session."""
    return client.get(f"/account/activities/{kind}", {"direction": "asc", **params})


def all_activity_pages(client: TradingClient, kind: str, page_size: int) -> tuple[list[dict], int]:
    """Follow ``page_token`` (the id of the last activity seen) until a short page; return items and pages."""
    items: list[dict] = []
    pages, token = 0, None
    while True:
        page = activities(client, kind, page_size=page_size, **({"page_token": token} if token else {}))
        pages += 1
        items.extend(page)
        if len(page) < page_size:
            return items, pages
        token = page[-1]["id"]


def walk(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in a JSON document, depth first; list items inherit their list's key."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, v
            yield from walk(v, k)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item, key)


def assert_decimals_are_strings(exchange: Exchange) -> None:
    for key, value in walk(exchange.body):
        assert not isinstance(value, float), (
            f"{exchange}: {key}={value!r} is a JSON number, Alpaca sends a string"
        )
        if key in DECIMAL_FIELDS and value is not None and not isinstance(value, dict | list):
            assert isinstance(value, str) and DECIMAL_TEXT.match(value), f"{exchange}: {key}={value!r}"
            assert Decimal(value).is_finite()


def small_pages(client: StockHistoricalDataClient, page: int) -> StockHistoricalDataClient:
    """Make alpaca-py's own pagination loop ask for ``page`` items per request instead of 10,000.

    alpaca-py sends ``limit=min(limit or page_size, page_limit)`` and follows ``next_page_token`` until it is
    null (or until ``limit`` items in all have arrived); only ``page_limit`` is lowered here.
    """
    original = client._get_marketdata

    def paginated(path: str, params: dict, page_limit: int = 10_000, **kwargs: Any) -> dict:
        return original(path, params, page_limit=min(page_limit, page), **kwargs)

    client._get_marketdata = paginated  # type: ignore[method-assign]
    return client


def bars_requests(recorder: Recorder) -> list[Exchange]:
    return [e for e in recorder.exchanges if e.path == "/v2/stocks/bars"]


def flat(barset: BarSet) -> list[Bar]:
    return [bar for symbol in sorted(barset.data) for bar in barset.data[symbol]]


@pytest.fixture
def open_orders(broker: PaperBroker, client: TradingClient) -> dict[str, Order]:
    """Four orders a minute apart: two filled (market qty, notional), two resting (limit buy, limit sell)."""
    orders = {"a": client.submit_order(market("VTI", qty=2, client_order_id="walk-a"))}
    broker.advance(minutes=1)
    orders["b"] = client.submit_order(limit("AGG", OrderSide.BUY, 1, 100.00, client_order_id="walk-b"))
    broker.advance(minutes=1)
    orders["c"] = client.submit_order(limit("SPY", OrderSide.SELL, 1, 999.00, client_order_id="walk-c"))
    broker.advance(minutes=1)
    orders["d"] = client.submit_order(market("VTI", notional=50, client_order_id="walk-d"))
    broker.advance(minutes=1)
    return orders


# -- account -------------------------------------------------------------------------------------------------
def test_account_parses_as_trade_account_and_fits_the_spec(client: TradingClient, recorder: Recorder) -> None:
    account = client.get_account()
    assert isinstance(account, TradeAccount)
    body = recorder.last("GET", "/v2/account").body
    schema.assert_schema(body, "Account")
    assert account.status == "ACTIVE" and account.account_number
    assert Decimal(body["cash"]) == Decimal("100000")
    assert Decimal(body["equity"]) == Decimal(body["cash"]) + Decimal(body["long_market_value"])
    assert_decimals_are_strings(recorder.last("GET", "/v2/account"))


def test_account_configurations_get_and_patch(client: TradingClient, recorder: Recorder) -> None:
    configuration = client.get_account_configurations()
    assert isinstance(configuration, AccountConfiguration) and configuration.fractional_trading
    configuration.fractional_trading = False
    patched = client.set_account_configurations(configuration)
    patch = recorder.last("PATCH", "/v2/account/configurations")
    assert patch.status == 200 and patch.body["fractional_trading"] is False
    schema.assert_schema(patch.body, "AccountConfigurations")
    assert isinstance(patched, AccountConfiguration) and patched.fractional_trading is False
    assert client.get_account_configurations().fractional_trading is False
    refused = api_error(lambda: client.submit_order(market("VTI", qty=0.5)))
    assert refused.status_code == 422 and "fractional" in refused.message
    configuration.fractional_trading = True
    assert client.set_account_configurations(configuration).fractional_trading is True


def test_account_configurations_patch_refuses_non_booleans(client: TradingClient) -> None:
    refused = api_error(lambda: client.patch("/account/configurations", {"suspend_trade": "yes"}))
    assert refused.status_code == 422 and refused.code and refused.message


# -- positions -----------------------------------------------------------------------------------------------
def test_positions_list_one_and_404_when_none(client: TradingClient, recorder: Recorder) -> None:
    positions = client.get_all_positions()
    assert [p.symbol for p in positions] == ["SPY"] and all(isinstance(p, Position) for p in positions)
    schema.assert_valid(
        recorder.last("GET", "/v2/positions").body,
        schema.load(TRADING).response_ref("GET", "/v2/positions", 200),
    )

    spy = client.get_open_position("SPY")
    assert isinstance(spy, Position) and Decimal(spy.qty) == 80 and spy.side == "long"
    by_id = client.get_open_position(spy.asset_id)
    assert by_id.symbol == "SPY"
    body = recorder.last("GET", "/v2/positions/").body
    schema.assert_schema(body, "Position")
    assert Decimal(body["cost_basis"]) == Decimal("50") * 270 + Decimal("30") * Decimal("290.50")
    assert_decimals_are_strings(recorder.last("GET", "/v2/positions/"))

    missing = api_error(lambda: client.get_open_position("VTI"))
    assert missing.status_code == 404 and missing.code == 40410000
    schema.assert_error_body(recorder.last("GET", "/v2/positions/VTI").body)


# -- orders: create ------------------------------------------------------------------------------------------
ORDER_KINDS = {
    "market": (market("VTI", qty=3), {"type": "market", "qty": "3", "notional": None, "limit_price": None}),
    "limit": (
        LimitOrderRequest(
            symbol="AGG", side=OrderSide.BUY, qty=2, limit_price=200.5, time_in_force=TimeInForce.DAY
        ),
        {"type": "limit", "qty": "2", "notional": None, "limit_price": "200.5"},
    ),
    "notional": (market("VTI", notional=250.75), {"type": "market", "qty": None, "notional": "250.75"}),
    "fractional": (market("AGG", qty=1.25), {"type": "market", "qty": "1.25", "notional": None}),
}


@pytest.mark.parametrize("kind", ORDER_KINDS)
def test_create_order(kind: str, broker: PaperBroker, client: TradingClient, recorder: Recorder) -> None:
    request, expected = ORDER_KINDS[kind]
    order = client.submit_order(request)
    created = recorder.last("POST", "/v2/orders")
    assert created.status == 200
    schema.assert_valid(created.body, schema.load(TRADING).response_ref("POST", "/v2/orders", 200))
    assert {k: created.body[k] for k in expected} == expected
    assert created.body["filled_qty"] == "0" and created.body["filled_avg_price"] is None
    assert_decimals_are_strings(created)
    assert isinstance(order, Order) and order.order_class == OrderClass.SIMPLE
    assert order.status == OrderStatus.NEW  # the market is open, and nothing fills on submit
    assert order.submitted_at == OPEN_UTC and order.side == OrderSide.BUY

    broker.advance(minutes=1)
    filled = client.get_order_by_id(order.id)
    assert filled.status == OrderStatus.FILLED and filled.filled_at == OPEN_UTC + timedelta(minutes=1)
    assert Decimal(filled.filled_qty) > 0 and Decimal(filled.filled_avg_price) > 0
    if kind == "notional":
        spent = Decimal(filled.filled_qty) * Decimal(filled.filled_avg_price)
        assert abs(spent - Decimal("250.75")) < Decimal("0.01")
    else:
        assert Decimal(filled.filled_qty) == Decimal(expected["qty"])


def test_order_sent_while_closed_is_accepted(broker: PaperBroker, client: TradingClient) -> None:
    broker.advance(hours=7)  # 16:30, after the close
    order = client.submit_order(limit("SPY", OrderSide.SELL, 1, 999.00))
    assert order.status == OrderStatus.ACCEPTED
    broker.advance(hours=17)  # past the next open
    assert client.get_order_by_id(order.id).status == OrderStatus.NEW


# -- orders: list, get ---------------------------------------------------------------------------------------
def test_list_orders_with_every_filter(open_orders: dict[str, Order], client: TradingClient) -> None:
    """a (filled), b (resting), c (resting), d (filled), a minute apart; "lot" is one of the two filled
    orders the broker books for the starting SPY lots (2018 and 2019), so the history explains them."""
    names = {order.id: key for key, order in open_orders.items()}

    def listed(**params: Any) -> list[str]:
        result = client.get_orders(GetOrdersRequest(**params))
        assert all(isinstance(o, Order) for o in result)
        return [names.get(o.id, "lot") for o in result]

    assert listed() == ["c", "b"]  # status=open, newest first, by default
    assert listed(status=QueryOrderStatus.OPEN) == ["c", "b"]
    assert listed(status=QueryOrderStatus.CLOSED) == ["d", "a", "lot", "lot"]
    assert listed(status=QueryOrderStatus.ALL) == ["d", "c", "b", "a", "lot", "lot"]
    assert listed(status=QueryOrderStatus.ALL, direction=Sort.ASC) == ["lot", "lot", "a", "b", "c", "d"]
    assert listed(status=QueryOrderStatus.ALL, limit=2) == ["d", "c"]
    assert listed(status=QueryOrderStatus.OPEN, direction=Sort.ASC, limit=1) == ["b"]
    window = {"after": OPEN_UTC + timedelta(seconds=30), "until": OPEN_UTC + timedelta(minutes=2, seconds=30)}
    assert listed(status=QueryOrderStatus.ALL, **window) == ["c", "b"]
    assert listed(status=QueryOrderStatus.ALL, after=OPEN_UTC + timedelta(minutes=1)) == [
        "d",
        "c",
    ]  # exclusive
    assert listed(status=QueryOrderStatus.ALL, until=OPEN_UTC + timedelta(minutes=1)) == ["a", "lot", "lot"]
    assert listed(
        status=QueryOrderStatus.ALL, after=OPEN_UTC - timedelta(days=1), symbols=["AGG", "SPY"]
    ) == ["c", "b"]
    assert listed(status=QueryOrderStatus.ALL, symbols=["VTI"], direction=Sort.ASC) == ["a", "d"]
    assert listed(status=QueryOrderStatus.ALL, side=OrderSide.SELL) == ["c"]
    nested = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, nested=True))
    assert len(nested) == 6 and all(o.legs is None and o.order_class == OrderClass.SIMPLE for o in nested)


def test_list_orders_refuses_bad_parameters(client: TradingClient) -> None:
    for params in ({"status": "sideways"}, {"limit": 0}, {"direction": "up"}, {"after": "yesterday"}):
        refused = api_error(lambda params=params: client.get("/orders", params))
        assert refused.status_code in (400, 422) and refused.message


def test_get_order_by_id_and_by_client_order_id(
    open_orders: dict[str, Order], client: TradingClient, recorder: Recorder
) -> None:
    resting = open_orders["b"]
    by_id = client.get_order_by_id(resting.id)
    assert isinstance(by_id, Order) and by_id.id == resting.id and by_id.status == OrderStatus.NEW
    assert by_id.type == OrderType.LIMIT and Decimal(by_id.limit_price) == 100
    nested = client.get_order_by_id(resting.id, GetOrderByIdRequest(nested=True))
    assert nested.id == resting.id and nested.legs is None
    by_client = client.get_order_by_client_id("walk-b")
    assert isinstance(by_client, Order) and by_client.id == resting.id
    assert (
        recorder.last("GET", "/v2/orders:by_client_order_id").body == recorder.last("GET", "/v2/orders/").body
    )

    filled = client.get_order_by_client_id("walk-a")
    assert filled.status == OrderStatus.FILLED and Decimal(filled.filled_qty) == 2
    assert_decimals_are_strings(recorder.last("GET", "/v2/orders:by_client_order_id"))

    assert (
        api_error(lambda: client.get_order_by_id("00000000-0000-4000-8000-000000000000")).status_code == 404
    )
    assert api_error(lambda: client.get_order_by_client_id("no-such-order")).status_code == 404


def test_orders_of_another_account_are_invisible(
    broker: PaperBroker, client: TradingClient, recorder: Recorder
):
    from tests.conftest import OTHER_KEY, OTHER_SECRET

    other = recorder.attach(TradingClient(OTHER_KEY, OTHER_SECRET, url_override=broker.url))
    mine = client.submit_order(limit("SPY", OrderSide.SELL, 1, 999.00))
    assert api_error(lambda: other.get_order_by_id(mine.id)).status_code == 404
    assert api_error(lambda: other.cancel_order_by_id(mine.id)).status_code == 404
    assert mine.id not in {o.id for o in other.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL))}


# -- orders: cancel ------------------------------------------------------------------------------------------
def test_cancel_one_answers_204_then_422_and_404(
    open_orders: dict[str, Order], client: TradingClient, recorder: Recorder
) -> None:
    resting = open_orders["b"]
    assert client.cancel_order_by_id(resting.id) is None
    done = recorder.last("DELETE", "/v2/orders/")
    assert done.status == 204 and done.text == ""
    canceled = client.get_order_by_id(resting.id)
    assert canceled.status == OrderStatus.CANCELED and canceled.canceled_at is not None

    again = api_error(lambda: client.cancel_order_by_id(resting.id))
    assert again.status_code == 422 and again.code == 42210000
    filled = api_error(lambda: client.cancel_order_by_id(open_orders["a"].id))
    assert filled.status_code == 422 and "filled" in filled.message
    missing = api_error(lambda: client.cancel_order_by_id("00000000-0000-4000-8000-000000000000"))
    assert missing.status_code == 404 and missing.code == 40410000
    for exchange in recorder.exchanges[-3:]:
        schema.assert_error_body(exchange.body)


def test_cancel_all_answers_207_with_a_status_per_order(
    open_orders: dict[str, Order], client: TradingClient, recorder: Recorder
) -> None:
    responses = client.cancel_orders()
    exchange = recorder.last("DELETE", "/v2/orders")
    assert exchange.status == 207
    schema.assert_valid(exchange.body, schema.load(TRADING).response_ref("DELETE", "/v2/orders", 207))
    assert all(isinstance(r, CancelOrderResponse) and r.status == 200 for r in responses)
    assert {r.id for r in responses} == {open_orders["b"].id, open_orders["c"].id}
    for item in exchange.body:
        assert isinstance(item["status"], int)
        Order(**item["body"])  # the order itself, as alpaca-py's Order would parse it
        schema.assert_schema(item["body"], "Order")
    statuses = {o.id: o.status for o in client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL))}
    assert statuses[open_orders["b"].id] == statuses[open_orders["c"].id] == OrderStatus.CANCELED
    assert statuses[open_orders["a"].id] == OrderStatus.FILLED

    assert client.cancel_orders() == []
    assert recorder.last("DELETE", "/v2/orders").status == 207


# -- clock, calendar, assets ---------------------------------------------------------------------------------
def test_clock(broker: PaperBroker, client: TradingClient, recorder: Recorder) -> None:
    clock = client.get_clock()
    assert isinstance(clock, Clock) and clock.is_open
    body = recorder.last("GET", "/v2/clock").body
    schema.assert_schema(body, "legacy_clock")
    assert body["timestamp"].endswith(NEW_YORK_OFFSET)  # Alpaca reports the clock in New York time
    assert clock.timestamp == OPEN_UTC and clock.next_close == datetime(2019, 12, 17, 21, tzinfo=UTC)

    broker.advance(hours=7)
    closed = client.get_clock()
    assert not closed.is_open and closed.next_open == datetime(2019, 12, 18, 14, 30, tzinfo=UTC)
    assert closed.next_close == datetime(2019, 12, 18, 21, tzinfo=UTC)


def test_calendar(client: TradingClient, recorder: Recorder) -> None:
    days = client.get_calendar(GetCalendarRequest(start=date(2019, 12, 20), end=date(2020, 1, 3)))
    assert all(isinstance(d, Calendar) for d in days)
    assert [d.date.isoformat() for d in days] == [
        "2019-12-20", "2019-12-23", "2019-12-24", "2019-12-26", "2019-12-27", "2019-12-30", "2019-12-31",
        "2020-01-02", "2020-01-03",
    ]  # fmt: skip
    christmas_eve = days[2]
    assert (christmas_eve.open, christmas_eve.close) == (
        datetime(2019, 12, 24, 9, 30),
        datetime(2019, 12, 24, 13),
    )
    body = recorder.last("GET", "/v2/calendar").body
    schema.assert_valid(body, schema.load(TRADING).response_ref("GET", "/v2/calendar", 200))
    assert body[0]["settlement_date"] == "2019-12-23"

    backwards = api_error(
        lambda: client.get_calendar(GetCalendarRequest(start=date(2020, 1, 3), end=date(2020, 1, 1)))
    )
    assert backwards.status_code == 400


def test_assets_list_and_one(client: TradingClient, recorder: Recorder) -> None:
    assets = client.get_all_assets(
        GetAssetsRequest(status=AssetStatus.ACTIVE, asset_class=AssetClass.US_EQUITY)
    )
    assert all(isinstance(a, Asset) for a in assets)
    assert set(SYMBOLS) <= {a.symbol for a in assets}
    listed = recorder.last("GET", "/v2/assets")
    schema.assert_valid(listed.body, schema.load(TRADING).response_ref("GET", "/v2/assets", 200))
    assert_decimals_are_strings(listed)

    spy = client.get_asset("SPY")
    assert (
        isinstance(spy, Asset)
        and spy.tradable
        and spy.fractionable
        and spy.asset_class == AssetClass.US_EQUITY
    )
    assert client.get_asset(spy.id).symbol == "SPY"
    schema.assert_schema(recorder.last("GET", "/v2/assets/").body, "Assets")
    missing = api_error(lambda: client.get_asset("NOSUCH"))
    assert missing.status_code == 404 and missing.code == 40410000


# -- account activities --------------------------------------------------------------------------------------
def test_fill_activities_paginate_with_page_token(
    broker: PaperBroker, open_orders: dict[str, Order], client: TradingClient, recorder: Recorder
) -> None:
    client.submit_order(market("AGG", qty=3))
    client.submit_order(market("VTI", qty=1.5))
    broker.advance(minutes=2)
    everything = activities(client, "FILL", page_size=100)
    assert len(everything) >= 6  # two starting lots, then a, d and the two above
    paged, pages = all_activity_pages(client, "FILL", page_size=2)
    assert pages >= 3 and paged == everything
    assert [a["id"] for a in everything] == sorted(a["id"] for a in everything)
    for item in everything:
        schema.assert_schema(item, "TradingActivities")
        activity = TradeActivity(**item)
        assert activity.activity_type == "FILL" and activity.account_id == client.get_account().id
    newest_first = activities(client, "FILL", direction="desc", page_size=100)
    assert newest_first == everything[::-1]
    assert {open_orders["a"].id, open_orders["d"].id} <= {UUID(a["order_id"]) for a in everything}
    for exchange in recorder.exchanges:
        if exchange.path.startswith("/v2/account/activities"):
            assert_decimals_are_strings(exchange)

    refused = api_error(lambda: activities(client, "FILL", page_token="not-an-activity"))
    assert refused.status_code == 422


def test_dividend_activities(broker: PaperBroker, client: TradingClient, recorder: Recorder) -> None:
    before = Decimal(client.get_account().cash)
    broker.advance_to(datetime(2019, 12, 20, 14, 31, tzinfo=UTC))  # SPY goes ex-dividend on 2019-12-20
    dividends = activities(client, "DIV")
    assert len(dividends) == 1
    body = dividends[0]
    schema.assert_schema(body, "NonTradeActivities")
    dividend = NonTradeActivity(**body)
    assert dividend.symbol == "SPY" and dividend.date == date(2019, 12, 20) and dividend.qty == 80
    amount = Decimal(body["net_amount"])
    assert amount == (Decimal(body["qty"]) * Decimal(body["per_share_amount"])).quantize(Decimal("0.01"))
    assert Decimal(client.get_account().cash) == before + amount
    assert_decimals_are_strings(recorder.last("GET", "/v2/account/activities/DIV"))


# -- market data ---------------------------------------------------------------------------------------------
def test_latest_quotes(broker: PaperBroker, data: StockHistoricalDataClient, recorder: Recorder) -> None:
    broker.advance(minutes=5)
    quotes = data.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols=SYMBOLS))
    assert set(quotes) == set(SYMBOLS)
    for symbol, quote in quotes.items():
        assert isinstance(quote, Quote) and quote.symbol == symbol
        assert 0 < quote.bid_price < quote.ask_price and quote.timestamp <= broker.now
    body = recorder.last("GET", "/v2/stocks/quotes/latest").body
    schema.assert_schema(body, "stock_latest_quotes_resp", MARKET_DATA)


def test_latest_trades(broker: PaperBroker, data: StockHistoricalDataClient, recorder: Recorder) -> None:
    broker.advance(minutes=5)
    trades = data.get_stock_latest_trade(StockLatestTradeRequest(symbol_or_symbols=SYMBOLS))
    assert set(trades) == set(SYMBOLS)
    for symbol, trade in trades.items():
        assert isinstance(trade, Trade) and trade.symbol == symbol and trade.price > 0
        assert trade.timestamp <= broker.now
    body = recorder.last("GET", "/v2/stocks/trades/latest").body
    schema.assert_schema(body, "stock_latest_trades_resp", MARKET_DATA)


BAR_CASES = {
    "1Min": (TimeFrame.Minute, datetime(2019, 12, 17, tzinfo=UTC), 25),
    "1Day": (TimeFrame.Day, datetime(2019, 6, 1, tzinfo=UTC), 40),
}


@pytest.mark.parametrize("sort", [Sort.ASC, Sort.DESC])
@pytest.mark.parametrize("case", BAR_CASES)
def test_bars_pagination_follows_next_page_token(
    case: str, sort: Sort, broker: PaperBroker, recorder: Recorder
) -> None:
    timeframe, start, page = BAR_CASES[case]
    broker.advance(minutes=60)
    request = StockBarsRequest(symbol_or_symbols=SYMBOLS, timeframe=timeframe, start=start, sort=sort)
    paged_client = small_pages(
        recorder.attach(StockHistoricalDataClient(KEY, SECRET, url_override=broker.url)), page
    )
    paged = paged_client.get_stock_bars(request)
    pages = bars_requests(recorder)
    recorder_pages = len(pages)

    whole = recorder.attach(StockHistoricalDataClient(KEY, SECRET, url_override=broker.url)).get_stock_bars(
        request
    )
    single = bars_requests(recorder)[recorder_pages:]
    assert len(single) == 1 and single[0].body["next_page_token"] is None

    assert isinstance(paged, BarSet) and set(paged.data) == set(SYMBOLS)
    assert paged.data == whole.data  # alpaca-py's pagination loop reassembles the single big answer
    total = sum(len(bars) for bars in whole.data.values())
    assert recorder_pages == -(-total // page) and total > 2 * page
    for number, exchange in enumerate(pages):
        assert ("page_token=" in exchange.query) == (number > 0)
        assert len(sum(exchange.body["bars"].values(), [])) == min(page, total - number * page)
        assert (exchange.body["next_page_token"] is None) == (number == len(pages) - 1)
    raw_pages = [bar for e in pages for symbol in sorted(e.body["bars"]) for bar in e.body["bars"][symbol]]
    raw_whole = [bar for symbol in sorted(single[0].body["bars"]) for bar in single[0].body["bars"][symbol]]
    assert raw_pages == raw_whole

    for symbol, bars in whole.data.items():
        stamps = [b.timestamp for b in bars]
        assert stamps == sorted(stamps, reverse=sort == Sort.DESC) and len(set(stamps)) == len(stamps)
        assert all(isinstance(b, Bar) and b.symbol == symbol and b.low <= min(b.open, b.close) for b in bars)
        if case == "1Day":  # daily bars start at midnight New York time, as Alpaca's do
            assert all(b.timestamp.astimezone(UTC).hour in (4, 5) and b.timestamp.minute == 0 for b in bars)
        else:
            assert len(bars) == 60 and max(stamps) == broker.now - timedelta(minutes=1)


def test_bars_limit_caps_the_total_and_alpaca_py_stops_following(
    broker: PaperBroker, data: StockHistoricalDataClient, recorder: Recorder
) -> None:
    broker.advance(minutes=30)
    start = datetime(2019, 12, 17, tzinfo=UTC)
    capped = data.get_stock_bars(
        StockBarsRequest(symbol_or_symbols=SYMBOLS, timeframe=TimeFrame.Minute, start=start, limit=40)
    )
    whole = data.get_stock_bars(
        StockBarsRequest(symbol_or_symbols=SYMBOLS, timeframe=TimeFrame.Minute, start=start)
    )
    first, second = bars_requests(recorder)
    assert first.body["next_page_token"] is not None  # the server says there is more ...
    assert flat(capped) == flat(whole)[:40]  # ... and alpaca-py, having its 40 bars, does not ask for it
    assert second.body["next_page_token"] is None and len(flat(whole)) == 90


def test_bars_over_alpaca_py_default_page_of_10000(broker: PaperBroker, recorder: Recorder) -> None:
    broker.advance_to(datetime(2019, 12, 31, 21, 0, tzinfo=UTC))  # 9 full sessions and Christmas Eve's half
    client = recorder.attach(StockHistoricalDataClient(KEY, SECRET, url_override=broker.url))
    start = datetime(2019, 12, 17, tzinfo=UTC)
    combined = client.get_stock_bars(
        StockBarsRequest(symbol_or_symbols=SYMBOLS, timeframe=TimeFrame.Minute, start=start)
    )
    pages = bars_requests(recorder)
    assert [len(sum(p.body["bars"].values(), [])) for p in pages] == [10_000, 3 * (9 * 390 + 210) - 10_000]
    for symbol in SYMBOLS:
        alone = client.get_stock_bars(
            StockBarsRequest(symbol_or_symbols=symbol, timeframe=TimeFrame.Minute, start=start)
        )
        assert combined.data[symbol] == alone.data[symbol]


def test_single_symbol_bars_endpoint(
    broker: PaperBroker, data: StockHistoricalDataClient, recorder: Recorder
) -> None:
    broker.advance(minutes=10)
    body = data.get("/stocks/SPY/bars", {"timeframe": "1Min", "start": "2019-12-17T14:30:00Z", "limit": 4})
    assert body["symbol"] == "SPY" and len(body["bars"]) == 4 and body["next_page_token"]
    rest = data.get(
        "/stocks/SPY/bars",
        {"timeframe": "1Min", "start": "2019-12-17T14:30:00Z", "page_token": body["next_page_token"]},
    )
    assert len(rest["bars"]) == 6 and rest["next_page_token"] is None
    for exchange in recorder.exchanges:
        schema.assert_schema(exchange.body, "stock_bars_resp_single", MARKET_DATA)


# -- errors --------------------------------------------------------------------------------------------------
def test_errors_carry_code_and_message(
    broker: PaperBroker, client: TradingClient, data: StockHistoricalDataClient, recorder: Recorder
) -> None:
    stranger = recorder.attach(TradingClient(KEY, "wrong-secret", url_override=broker.url))
    cases: list[tuple[Callable[[], object], int]] = [
        (stranger.get_account, 401),
        (lambda: client.submit_order(market("SPY", qty=1_000_000)), 403),  # insufficient buying power
        (lambda: client.submit_order(market("SPY", OrderSide.SELL, qty=81)), 403),  # more than held
        (lambda: client.submit_order(market("NOSUCH", qty=1)), 422),
        (lambda: client.post("/orders", {"symbol": "SPY", "qty": "-1", "side": "buy", "type": "market",
                                         "time_in_force": "day"}), 422),
        (lambda: client.get("/no/such/route"), 404),
        (lambda: client.get_asset("NOSUCH"), 404),
        (lambda: data.get("/stocks/bars", {"symbols": "SPY", "timeframe": "60Min"}), 400),  # Alpaca: 1-59Min
        (lambda: data.get("/stocks/bars", {"symbols": "SPY", "timeframe": "1Min", "page_token": "%%%"}), 400),
    ]  # fmt: skip
    for call, status in cases:
        error = api_error(call)
        assert error.status_code == status, (error.status_code, error.message)
        assert isinstance(error.code, int) and error.message  # alpaca-py reads both from the body
        schema.assert_error_body(recorder.exchanges[-1].body, status)
    insufficient = recorder.exchanges[1].body
    assert set(insufficient) >= {"code", "message", "buying_power", "cost_basis"}


def test_injected_faults_answer_in_alpacas_error_shape(make_broker: Callable[..., PaperBroker]) -> None:
    broker = make_broker(faults=FaultConfig(rate_limit_per_minute=3, error_next=2))
    recorder = Recorder()
    client = recorder.attach(TradingClient(KEY, SECRET, url_override=broker.url))
    client._retry = 0  # alpaca-py would otherwise sleep and retry a 429
    first, second = api_error(client.get_clock), api_error(client.get_clock)
    assert {first.status_code, second.status_code} <= {500, 503}
    assert isinstance(client.get_clock(), Clock)
    limited = api_error(client.get_clock)  # the fourth request in a minute, with a limit of three
    assert limited.status_code == 429 and limited.code == 42910000
    for exchange in recorder.exchanges:
        if exchange.status >= 400:
            schema.assert_error_body(exchange.body, exchange.status)
    recorder.validate_all()


# -- where alpaca-py and the spec disagree -------------------------------------------------------------------
STRICTER_PAIRS: dict[str, tuple[type[BaseModel], str]] = {
    "order": (Order, "Order"),
    "asset": (Asset, "Assets"),
    "account": (TradeAccount, "Account"),
    "configurations": (AccountConfiguration, "AccountConfigurations"),
    "fill": (TradeActivity, "TradingActivities"),
    "dividend": (NonTradeActivity, "NonTradeActivities"),
    "canceled": (CancelOrderResponse, "CanceledOrderResponse"),
}
EXPECTED_STRICTER_THAN_SPEC = {
    "asset": {"easy_to_borrow"},  # not even a property in the spec
    "fill": {"account_id"},
    "dividend": {"account_id", "description"},
}


def test_alpaca_py_is_stricter_than_the_spec_and_the_broker_satisfies_both(
    broker: PaperBroker, client: TradingClient, recorder: Recorder
) -> None:
    """Fields alpaca-py's models require but Alpaca's spec does not: the broker sends them all.

    Most are fields the spec lists as optional (e.g. ``Order.order_class``, ``TradeAccount.account_number``);
    a few it does not list at all (``Asset.easy_to_borrow``, the activities' ``account_id`` and a dividend's
    ``description``). Bodies with them still fit the spec, which does not forbid extra properties.
    """
    order = client.submit_order(limit("SPY", OrderSide.SELL, 1, 999.00))
    client.get_asset("SPY")
    client.get_account()
    client.get_account_configurations()
    client.cancel_orders()
    broker.advance_to(datetime(2019, 12, 20, 14, 31, tzinfo=UTC))
    activities(client, "FILL")
    activities(client, "DIV")
    bodies = {
        "order": recorder.last("POST", "/v2/orders").body,
        "asset": recorder.last("GET", "/v2/assets/").body,
        "account": recorder.last("GET", "/v2/account").body,
        "configurations": recorder.last("GET", "/v2/account/configurations").body,
        "canceled": recorder.last("DELETE", "/v2/orders").body[0],
        "fill": recorder.last("GET", "/v2/account/activities/FILL").body[0],
        "dividend": recorder.last("GET", "/v2/account/activities/DIV").body[0],
    }
    spec_schemas = schema.load(TRADING).document["components"]["schemas"]
    for name, (model, component) in STRICTER_PAIRS.items():
        spec = spec_schemas[component]
        required = {f.alias or n for n, f in model.model_fields.items() if f.is_required()}
        stricter = required - set(spec.get("required", []))
        unlisted = required - set(spec.get("properties", {}))
        assert unlisted == EXPECTED_STRICTER_THAN_SPEC.get(name, set()), name
        assert stricter >= unlisted and stricter, name  # every pair has something alpaca-py insists on
        assert stricter <= set(bodies[name]), f"{name}: the broker omits {stricter - set(bodies[name])}"
        model(**bodies[name])
        schema.assert_schema(bodies[name], component)
    assert order.id


def test_order_class_empty_string_fits_the_spec_and_alpaca_py_reads_it_as_simple(
    client: TradingClient, recorder: Recorder
) -> None:
    """Alpaca answers ``"order_class": ""`` for simple orders; the spec's enum allows it, alpaca-py maps it"""
    order = client.submit_order(market("VTI", qty=1))
    body = recorder.last("POST", "/v2/orders").body
    assert body["order_class"] == ""
    assert "" in schema.load(TRADING).document["components"]["schemas"]["OrderClass"]["enum"]
    assert order.order_class == OrderClass.SIMPLE
    assert Order(**{k: v for k, v in body.items() if k != "order_class"}).order_class == OrderClass.SIMPLE
    with pytest.raises(ValueError):
        Order(**{**body, "order_class": None})  # alpaca-py requires a value; the broker always sends one


def test_assets_need_easy_to_borrow_for_alpaca_py_though_the_spec_does_not_list_it(
    client: TradingClient, recorder: Recorder
) -> None:
    client.get_asset("AGG")
    body = recorder.last("GET", "/v2/assets/").body
    assert (
        "easy_to_borrow" not in schema.load(TRADING).document["components"]["schemas"]["Assets"]["properties"]
    )
    assert body["easy_to_borrow"] is False
    schema.assert_schema(body, "Assets")
    with pytest.raises(ValueError, match="easy_to_borrow"):
        Asset(**{k: v for k, v in body.items() if k != "easy_to_borrow"})


@pytest.mark.parametrize("erratum", schema.ERRATA, ids=lambda e: e.name)
def test_spec_errata_are_real(erratum: schema.Erratum) -> None:
    """Each correction ``schema.py`` makes to the published spec: Alpaca's own example fails as published."""
    spec = schema.load(erratum.spec)
    components = spec.published["components"]["schemas"]
    if "NonTradeActivities" in erratum.pointer:
        example = components["NonTradeActivities"]["examples"][0]
        assert example["date"] == "2019-08-01"
        assert schema.errors_of(example, spec.schema_ref("NonTradeActivities", published=True))
        assert not schema.errors_of(example, spec.schema_ref("NonTradeActivities"))
        assert NonTradeActivity(**{**example, "account_id": str(UUID(int=1)), "description": ""}).date
    else:
        example = components["TradingActivities"]["examples"][0]
        path = "/v2/account/activities/{activity_type}"
        published = schema.errors_of([example], spec.response_ref("GET", path, 200, published=True))
        assert published and "is valid under each of" in published[0]
        assert not schema.errors_of([example], spec.response_ref("GET", path, 200))
        assert not schema.errors_of(example, spec.schema_ref("NonTradeActivities"))  # why oneOf cannot work


# -- everything, once ----------------------------------------------------------------------------------------
def test_every_endpoint_in_one_session_fits_the_spec_with_decimal_strings(
    broker: PaperBroker, client: TradingClient, data: StockHistoricalDataClient, recorder: Recorder
) -> None:
    client.get_account()
    configuration = client.get_account_configurations()
    client.set_account_configurations(configuration)
    client.get_all_positions()
    client.get_open_position("SPY")
    filled = client.submit_order(market("VTI", qty=1, client_order_id="every-1"))
    client.submit_order(market("AGG", notional=99.99))
    resting = client.submit_order(limit("SPY", OrderSide.SELL, 1, 999.00))
    client.submit_order(limit("IVV", OrderSide.BUY, 1, 100.00))
    broker.advance(minutes=2)
    client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, nested=True))
    client.get_order_by_id(filled.id)
    client.get_order_by_client_id("every-1")
    client.cancel_order_by_id(resting.id)
    client.cancel_orders()
    client.get_all_positions()
    client.get_open_position("VTI")
    client.get_clock()
    client.get_calendar(GetCalendarRequest(start=date(2019, 12, 1), end=date(2020, 1, 31)))
    client.get_all_assets()
    client.get_asset("VTI")
    activities(client, "FILL")
    broker.advance_to(datetime(2019, 12, 20, 15, 0, tzinfo=UTC))
    activities(client, "DIV")
    data.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols=SYMBOLS))
    data.get_stock_latest_trade(StockLatestTradeRequest(symbol_or_symbols=SYMBOLS))
    data.get_stock_bars(StockBarsRequest(symbol_or_symbols=SYMBOLS, timeframe=TimeFrame.Minute, limit=50))
    data.get_stock_bars(
        StockBarsRequest(
            symbol_or_symbols=SYMBOLS, timeframe=TimeFrame.Day, start=datetime(2019, 11, 1, tzinfo=UTC)
        )
    )
    client.get_account()

    seen = recorder.validate_all()
    assert seen >= EVERY_ENDPOINT, f"not exercised: {sorted(EVERY_ENDPOINT - seen)}"
    assert all(e.status < 400 for e in recorder.exchanges), [
        str(e) for e in recorder.exchanges if e.status >= 400
    ]
    for exchange in recorder.exchanges:
        if not exchange.path.startswith("/v2/stocks"):
            assert_decimals_are_strings(exchange)
