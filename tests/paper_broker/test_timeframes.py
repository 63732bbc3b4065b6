"""Bars in every timeframe, through alpaca-py over HTTP: each aggregate equals an independent aggregation.

The reference is computed here with pandas from the broker's own 1Min and 1Day bars (fetched through
alpaca-py too): minute/hour bars are ``resample`` buckets from midnight UTC, week bars are grouped by their
Monday and month bars by calendar month, in New York dates, stamped at New York midnight as Alpaca's are.
The clock is stepped (never slept) to the middle of a session, so the last bucket of each is a partial one.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from alpaca.common.exceptions import APIError
from alpaca.data.enums import Adjustment
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

from bot.paper_broker.server import PaperBroker

# Slow tier: a broker stepped through sessions per test, like the contract suite's market-data tests
# (CI runs the slow tier; the README's quick command, near its five-minute budget, skips it).
pytestmark = pytest.mark.slow

NOW = datetime(2019, 12, 20, 17, 3, 30, tzinfo=UTC)  # Friday 12:03 New York; SPY goes ex-dividend today
NEW_YORK = "America/New_York"
SYMBOLS = ["SPY", "AGG"]


@pytest.fixture
def client(broker: PaperBroker, market_data: StockHistoricalDataClient) -> StockHistoricalDataClient:
    broker.advance_to(NOW)
    return market_data


def frame(
    client: StockHistoricalDataClient, timeframe: TimeFrame, start: datetime, **extra: object
) -> pd.DataFrame:
    request = StockBarsRequest(symbol_or_symbols=SYMBOLS, timeframe=timeframe, start=start, **extra)
    return client.get_stock_bars(request).df


def aggregate(groups: pd.core.groupby.DataFrameGroupBy) -> pd.DataFrame:
    """Alpaca's aggregation: first open, max high, min low, last close, summed volume and count, VWAP
    weighted by volume."""
    out = groups.agg(
        open=("open", "first"),
        high=("high", "max"),
        low=("low", "min"),
        close=("close", "last"),
        volume=("volume", "sum"),
        trade_count=("trade_count", "sum"),
        weighted=("weighted", "sum"),
    )
    out["vwap"] = out.pop("weighted") / out["volume"]
    return out


def with_weighted(bars: pd.DataFrame) -> pd.DataFrame:
    return bars.assign(weighted=bars["vwap"] * bars["volume"])


def in_utc(bars: pd.DataFrame) -> pd.DataFrame:
    """The same frame with its timestamps in pandas' own UTC (alpaca-py's are in pydantic's UTC tzinfo)."""
    symbols, stamps = bars.index.levels
    return bars.set_axis(bars.index.set_levels(stamps.tz_convert("UTC"), level=1))


def assert_same(got: pd.DataFrame, expected: pd.DataFrame, rtol: float = 1e-6) -> None:
    got, expected = in_utc(got), in_utc(expected[got.columns])
    assert list(got.index) == list(expected.index)
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=rtol, check_dtype=False)


@pytest.mark.parametrize(
    ("amount", "unit"), [(5, TimeFrameUnit.Minute), (1, TimeFrameUnit.Hour), (4, TimeFrameUnit.Hour)]
)
def test_intraday_bars_are_buckets_of_the_minute_bars(
    client: StockHistoricalDataClient, amount: int, unit: TimeFrameUnit
) -> None:
    start = datetime(2019, 12, 18, tzinfo=UTC)
    minutes = with_weighted(frame(client, TimeFrame.Minute, start))
    got = frame(client, TimeFrame(amount, unit), start)
    rule = f"{amount}min" if unit == TimeFrameUnit.Minute else f"{amount}h"
    expected = []
    for symbol, rows in minutes.groupby(level="symbol"):
        by_bucket = rows.droplevel("symbol").resample(rule, origin="start_day", label="left", closed="left")
        buckets = aggregate(by_bucket).dropna(subset=["open"])  # buckets with no minute give no bar
        expected.append(buckets.assign(symbol=symbol).set_index("symbol", append=True).swaplevel())
    assert_same(got, pd.concat(expected))
    spy = got.loc["SPY"]
    assert spy.index[-1] <= NOW and spy.index[-1] + pd.Timedelta(rule) > NOW  # today's bucket so far
    if unit == TimeFrameUnit.Hour:  # Alpaca's hour buckets start on whole UTC hours, 4H at 0, 4, 8... UTC
        assert (spy.index.minute == 0).all() and (spy.index.hour % amount == 0).all()


def by_period(daily: pd.DataFrame, period: str) -> pd.DataFrame:
    """Daily bars grouped into calendar periods of their New York date, stamped at the period's first day."""
    expected = []
    for symbol, rows in daily.groupby(level="symbol"):
        rows = rows.droplevel("symbol")
        days = rows.index.tz_convert(NEW_YORK).tz_localize(None).to_period(period)
        bars = aggregate(rows.groupby(days))
        bars.index = bars.index.start_time.tz_localize(NEW_YORK).tz_convert(UTC)
        bars.index.name = "timestamp"
        expected.append(bars.assign(symbol=symbol).set_index("symbol", append=True).swaplevel())
    return pd.concat(expected)


MONDAY = datetime(2018, 12, 31, 5, tzinfo=UTC)  # New York midnight
NEW_YEAR = datetime(2019, 1, 1, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("timeframe", "period", "start"),
    [
        (TimeFrame.Week, "W-SUN", MONDAY),
        (TimeFrame.Month, "M", NEW_YEAR),
        (TimeFrame(3, TimeFrameUnit.Month), "Q", NEW_YEAR),
        (TimeFrame(12, TimeFrameUnit.Month), "Y", NEW_YEAR),
    ],
)
def test_week_and_month_bars_are_the_daily_bars_of_each_period(
    client: StockHistoricalDataClient, timeframe: TimeFrame, period: str, start: datetime
) -> None:
    """A bar is returned when its stamp is in [start, end], as a daily bar is: hence a start on a Monday
    (weeks) or on New Year's Day (months), where the reference's first period begins too."""
    daily = with_weighted(frame(client, TimeFrame.Day, start))
    got = frame(client, timeframe, start)
    assert_same(got, by_period(daily, period))
    stamps = got.loc["SPY"].index.tz_convert(NEW_YORK)
    assert (stamps.hour == 0).all()  # New York midnight: 05:00Z in winter, 04:00Z in summer, as Alpaca's
    if period == "W-SUN":
        assert (stamps.day_of_week == 0).all()
    else:
        assert (stamps.day == 1).all()
    last = got.loc["SPY"].iloc[-1]  # the period in progress holds today's bar so far
    assert last["close"] == daily.loc["SPY"].iloc[-1]["close"]


def test_dividend_adjustment_is_applied_before_aggregating(client: StockHistoricalDataClient) -> None:
    """SPY goes ex-dividend on Friday 2019-12-20: that week's adjusted bar mixes adjusted Monday-Thursday
    bars with Friday's unadjusted one, as the adjusted daily series does."""
    start = datetime(2019, 12, 2, 5, tzinfo=UTC)
    daily = with_weighted(frame(client, TimeFrame.Day, start, adjustment=Adjustment.DIVIDEND))
    weekly = frame(client, TimeFrame.Week, start, adjustment=Adjustment.DIVIDEND)
    expected = by_period(daily, "W-SUN")
    assert_same(weekly, expected, rtol=1e-5)
    raw = frame(client, TimeFrame.Week, start).loc["SPY"]
    adjusted = weekly.loc["SPY"]
    assert (adjusted["high"].iloc[:-1] < raw["high"].iloc[:-1]).all()  # earlier weeks scaled down
    assert adjusted["close"].iloc[-1] == raw["close"].iloc[-1]  # Friday's close is after the ex-date


def test_paging_through_aggregated_bars_reassembles_one_request(
    client: StockHistoricalDataClient,
) -> None:
    params = {"symbols": "SPY,AGG", "timeframe": "15Min", "start": "2019-12-17T00:00:00Z"}
    whole = client.get("/stocks/bars", {**params, "limit": 10000})
    assert whole["next_page_token"] is None
    pages, token = [], None
    while True:
        body = client.get("/stocks/bars", {**params, "limit": 7, "page_token": token})
        pages.append(body)
        token = body["next_page_token"]
        if token is None:
            break
    joined = {s: [bar for p in pages for bar in p["bars"].get(s, [])] for s in SYMBOLS}
    assert joined == whole["bars"]
    assert len(pages) == -(-sum(len(v) for v in joined.values()) // 7)
    newest_first = client.get("/stocks/bars", {**params, "limit": 10000, "sort": "desc"})
    assert newest_first["bars"] == {s: list(reversed(bars)) for s, bars in whole["bars"].items()}


def test_a_timeframe_alpaca_refuses_gets_its_400(client: StockHistoricalDataClient) -> None:
    for timeframe in ("60Min", "0Min", "24Hour", "2Day", "2Week", "5Month", "1Sec", "1min"):
        with pytest.raises(APIError) as caught:
            client.get("/stocks/bars", {"symbols": "SPY", "timeframe": timeframe})
        assert caught.value.status_code == 400, timeframe
        assert "invalid timeframe" in caught.value.message and repr(timeframe) in caught.value.message
    for accepted in ("59T", "23H", "1D", "1W", "4M", "6Month", "12M"):  # the spec's short forms too
        assert (
            client.get("/stocks/bars", {"symbols": "SPY", "timeframe": accepted})["next_page_token"] is None
        )
