"""Every parameter Alpaca validates is validated, with Alpaca's statuses: a typo is refused with a message
naming it, never answered as if it were absent (issue 18, item 2). Filters filter; ``adjustment`` adjusts.
Raw HTTP and alpaca-py against a running paper broker; every body is checked against Alpaca's spec."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
from alpaca.data.enums import Adjustment
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import AssetClass, AssetExchange
from alpaca.trading.requests import GetAssetsRequest

from tests.conftest import KEY, SECRET
from tests.contract import schema
from tests.contract.schema import Recorder

# Slow tier: every validated parameter of the paper broker over HTTP
# (CI runs the slow tier; the README's quick command skips it.)
pytestmark = pytest.mark.slow

HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}

REFUSED = [
    # (path, status, words the message must contain)
    ("/v2/account/activities/BOGUS", 422, "activity_type"),
    ("/v2/account/activities?activity_types=FILL,BOGUS", 422, "activity_types"),
    ("/v2/account/activities?category=everything", 422, "category"),
    ("/v2/account/activities/FILL?order_id=not-a-uuid", 422, "order_id"),
    ("/v2/account/activities/FILL?direction=sideways", 422, "direction"),
    ("/v2/orders?side=long", 422, "side"),
    ("/v2/assets?exchange=MOON", 422, "exchange"),
    ("/v2/assets?status=sleeping", 422, "status"),
    ("/v2/assets?asset_class=stocks", 422, "asset_class"),
    ("/v2/assets?attributes=cheap", 422, "attributes"),
    ("/v2/stocks/bars?symbols=SPY&timeframe=1Day&sort=sideways", 400, "sort"),
    ("/v2/stocks/bars?symbols=SPY&timeframe=1Day&feed=bogus", 400, "feed"),
    ("/v2/stocks/bars?symbols=SPY&timeframe=1Day&adjustment=some", 400, "adjustment"),
    ("/v2/stocks/bars?symbols=SPY&timeframe=1Day&currency=EUR", 400, "currency"),
    ("/v2/stocks/bars?symbols=SPY&timeframe=1Day&asof=yesterday", 400, "asof"),
    ("/v2/stocks/bars?symbols=SPY&timeframe=1Day&page_token=@@@", 400, "page_token"),
    ("/v2/stocks/SPY/bars?timeframe=1Day&sort=up", 400, "sort"),
    ("/v2/stocks/quotes/latest?symbols=SPY&feed=bogus", 400, "feed"),
    ("/v2/stocks/trades/latest?symbols=SPY&feed=bogus", 400, "feed"),
]


@pytest.mark.parametrize(("path", "status", "named"), REFUSED, ids=[r[0] for r in REFUSED])
def test_bad_parameters_are_refused_with_alpacas_status_and_a_message_naming_them(
    broker, path: str, status: int, named: str
) -> None:
    answer = requests.get(broker.url + path, headers=HEADERS, timeout=10)
    assert answer.status_code == status, answer.text
    body = answer.json()
    schema.assert_error_body(body, status)
    assert named in body["message"]


ACCEPTED = [
    "/v2/account/activities/FILL",
    "/v2/account/activities/fill",
    "/v2/account/activities/DIV?direction=asc",
    "/v2/account/activities?activity_types=FILL,DIV&category=trade_activity",
    "/v2/stocks/bars?symbols=SPY&timeframe=1Day&sort=desc&feed=iex&adjustment=split,dividend&asof=2019-12-17",
    "/v2/stocks/quotes/latest?symbols=SPY&feed=delayed_sip&currency=USD",
]


@pytest.mark.parametrize("path", ACCEPTED)
def test_valid_values_are_accepted(broker, path: str) -> None:
    answer = requests.get(broker.url + path, headers=HEADERS, timeout=10)
    assert answer.status_code == 200, answer.text


def test_activity_category_and_order_id_filter(broker, trading) -> None:
    fills = trading.get("/account/activities", {"category": "trade_activity"})
    assert fills and {a["activity_type"] for a in fills} == {"FILL"}
    one = fills[0]["order_id"]
    assert [a["order_id"] for a in trading.get("/account/activities/FILL", {"order_id": one})] == [one]
    others = trading.get("/account/activities", {"category": "non_trade_activity"})
    assert all(a["activity_type"] != "FILL" for a in others)


def test_assets_are_filtered_by_exchange_class_status_and_attributes(broker) -> None:
    recorder = Recorder()
    client = recorder.attach(TradingClient(KEY, SECRET, url_override=broker.url))
    every = client.get_all_assets()
    assert every and {a.exchange for a in every} == {
        AssetExchange.ARCA
    }  # the bundled ETFs trade on NYSE Arca
    assert client.get_all_assets(GetAssetsRequest(exchange=AssetExchange.NYSE)) == []
    assert len(client.get_all_assets(GetAssetsRequest(exchange=AssetExchange.ARCA))) == len(every)
    assert client.get_all_assets(GetAssetsRequest(asset_class=AssetClass.CRYPTO)) == []
    assert len(client.get_all_assets(GetAssetsRequest(asset_class=AssetClass.US_EQUITY))) == len(every)
    inactive = client.get_all_assets(GetAssetsRequest(status="inactive"))
    assert all(a.status == "inactive" for a in inactive) and len(inactive) < len(every)
    with_eh = requests.get(
        broker.url + "/v2/assets", {"attributes": "fractional_eh_enabled"}, headers=HEADERS, timeout=10
    ).json()
    assert len(with_eh) == len(every)
    assert (
        requests.get(broker.url + "/v2/assets", {"attributes": "ipo"}, headers=HEADERS, timeout=10).json()
        == []
    )
    recorder.validate_all()


def test_dividend_adjustment_scales_prices_before_each_ex_date(broker) -> None:
    """SPY went ex-dividend on 2019-12-20 ($1.57): ``raw`` and ``split`` bars are the traded prices, while
    ``dividend`` and ``all`` scale the bars before the ex-date by 1 - 1.57 / the 19th's close."""
    broker.advance_to(datetime(2019, 12, 24, 15, 0, tzinfo=UTC))
    recorder = Recorder()
    client = recorder.attach(StockHistoricalDataClient(KEY, SECRET, url_override=broker.url))

    def closes(adjustment: Adjustment) -> dict[str, float]:
        request = StockBarsRequest(
            symbol_or_symbols="SPY",
            timeframe=TimeFrame.Day,
            start=datetime(2019, 12, 16, tzinfo=UTC),
            end=datetime(2019, 12, 24, tzinfo=UTC),
            adjustment=adjustment,
        )
        return {f"{b.timestamp:%m-%d}": b.close for b in client.get_stock_bars(request).data["SPY"]}

    raw, split = closes(Adjustment.RAW), closes(Adjustment.SPLIT)
    dividend, every = closes(Adjustment.DIVIDEND), closes(Adjustment.ALL)
    assert raw == split and dividend == every
    dividend_paid = broker.engine.market.data.daily_bar("SPY", datetime(2019, 12, 20).date()).dividend
    assert dividend_paid > 1
    factor = 1 - dividend_paid / raw["12-19"]
    for day in ("12-16", "12-17", "12-18", "12-19"):
        assert dividend[day] == pytest.approx(raw[day] * factor, abs=1e-4)
    for day in ("12-20", "12-23"):
        assert dividend[day] == raw[day]
    recorder.validate_all()
