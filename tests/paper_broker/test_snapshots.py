"""Snapshots and latest bars through alpaca-py: as of the simulated clock, moving as the clock is stepped.

Each part of a snapshot is checked against what the broker's own minute bars and the bundled CSV say at
that moment: the minute bar is the last complete one, today's daily bar is built from the complete minutes
only, and after the close it is the day's CSV row. No part ever carries a time after ``now``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from alpaca.common.exceptions import APIError
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.models import Bar, Snapshot
from alpaca.data.requests import StockBarsRequest, StockLatestBarRequest, StockSnapshotRequest
from alpaca.data.timeframe import TimeFrame

from bot.paper_broker.marketdata import BUNDLED_DATA_DIR
from bot.paper_broker.server import PaperBroker

# Slow tier: a broker stepped through sessions per test, like the contract suite's market-data tests
# (CI runs the slow tier; the README's quick command, near its five-minute budget, skips it).
pytestmark = pytest.mark.slow

OPEN = datetime(2019, 12, 17, 14, 30, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
SYMBOLS = ["SPY", "AGG"]


def csv_row(symbol: str, day: date) -> pd.Series:
    """The bundled CSV row itself, read without the broker's loader."""
    return pd.read_csv(BUNDLED_DATA_DIR / f"daily_{symbol}.csv.gz", index_col="date").loc[day.isoformat()]


def snapshots(client: StockHistoricalDataClient) -> dict[str, Snapshot]:
    return client.get_stock_snapshot(StockSnapshotRequest(symbol_or_symbols=SYMBOLS))


def minutes_today(client: StockHistoricalDataClient, symbol: str, session_open: datetime) -> list[Bar]:
    request = StockBarsRequest(symbol_or_symbols=symbol, timeframe=TimeFrame.Minute, start=session_open)
    return client.get_stock_bars(request).data.get(symbol, [])


def ohlcv(bar: Bar) -> tuple:
    return (bar.open, bar.high, bar.low, bar.close, bar.volume)


def assert_nothing_after(snapshot: Snapshot, now: datetime) -> None:
    assert snapshot.latest_trade.timestamp <= now and snapshot.latest_quote.timestamp <= now
    assert snapshot.minute_bar.timestamp + MINUTE <= now  # a bar shows only once complete
    assert (
        snapshot.daily_bar.timestamp <= now
        and snapshot.previous_daily_bar.timestamp < snapshot.daily_bar.timestamp
    )


def assert_intraday(client: StockHistoricalDataClient, snapshot: Snapshot, session_open: datetime) -> None:
    """While the session runs: the minute bar is the last complete one and the daily bar their aggregate."""
    minutes = minutes_today(client, snapshot.symbol, session_open)
    assert ohlcv(snapshot.minute_bar) == ohlcv(minutes[-1])
    assert snapshot.minute_bar.timestamp == minutes[-1].timestamp
    daily = snapshot.daily_bar
    assert daily.timestamp == datetime.combine(session_open.date(), datetime.min.time(), UTC) + timedelta(
        hours=5
    )
    assert daily.open == minutes[0].open and daily.close == minutes[-1].close
    assert daily.high == max(b.high for b in minutes) and daily.low == min(b.low for b in minutes)
    assert daily.volume == sum(b.volume for b in minutes)
    assert snapshot.latest_trade.price == minutes[-1].close  # the print at the end of the last minute
    assert snapshot.latest_quote.bid_price < snapshot.latest_trade.price < snapshot.latest_quote.ask_price


def test_snapshot_moves_with_the_clock_and_never_shows_the_future(
    broker: PaperBroker, market_data: StockHistoricalDataClient
) -> None:
    broker.advance(minutes=7, seconds=30)
    first = snapshots(market_data)
    for symbol, snapshot in first.items():
        assert_nothing_after(snapshot, broker.now)
        assert_intraday(market_data, snapshot, OPEN)
        assert snapshot.minute_bar.timestamp == OPEN + 6 * MINUTE
        previous = csv_row(symbol, date(2019, 12, 16))
        assert ohlcv(snapshot.previous_daily_bar) == tuple(
            previous[["open", "high", "low", "close", "volume"]]
        )

    broker.advance(minutes=30)
    later = snapshots(market_data)
    for symbol, snapshot in later.items():
        assert_nothing_after(snapshot, broker.now)
        assert_intraday(market_data, snapshot, OPEN)
        assert snapshot.minute_bar.timestamp == first[symbol].minute_bar.timestamp + 30 * MINUTE
        assert snapshot.daily_bar.volume > first[symbol].daily_bar.volume
        assert snapshot.latest_trade.timestamp == first[symbol].latest_trade.timestamp + 30 * MINUTE
        assert snapshot.previous_daily_bar == first[symbol].previous_daily_bar


def test_after_the_close_and_before_the_next_open(
    broker: PaperBroker, market_data: StockHistoricalDataClient
) -> None:
    close = datetime(2019, 12, 17, 21, tzinfo=UTC)
    broker.advance_to(close + timedelta(minutes=30))
    for symbol, snapshot in snapshots(market_data).items():
        row = csv_row(symbol, date(2019, 12, 17))
        assert ohlcv(snapshot.daily_bar) == tuple(row[["open", "high", "low", "close", "volume"]])
        assert snapshot.minute_bar.timestamp == close - MINUTE
        assert snapshot.latest_trade.timestamp == close and snapshot.latest_trade.price == row["close"]
        assert snapshot.previous_daily_bar.timestamp == datetime(2019, 12, 16, 5, tzinfo=UTC)

    broker.advance_to(datetime(2019, 12, 18, 14, tzinfo=UTC))  # 09:00 New York: the same day still
    before_open = snapshots(market_data)
    assert before_open["SPY"].daily_bar.timestamp == datetime(2019, 12, 17, 5, tzinfo=UTC)

    broker.advance_to(datetime(2019, 12, 18, 14, 31, 5, tzinfo=UTC))  # one minute of the new session done
    for snapshot in snapshots(market_data).values():
        assert snapshot.daily_bar.timestamp == datetime(2019, 12, 18, 5, tzinfo=UTC)
        assert snapshot.previous_daily_bar == before_open[snapshot.symbol].daily_bar
        assert_intraday(market_data, snapshot, datetime(2019, 12, 18, 14, 30, tzinfo=UTC))


def test_latest_bar_is_the_snapshots_minute_bar(
    broker: PaperBroker, market_data: StockHistoricalDataClient
) -> None:
    broker.advance(minutes=42, seconds=59)
    latest = market_data.get_stock_latest_bar(StockLatestBarRequest(symbol_or_symbols=SYMBOLS))
    taken = snapshots(market_data)
    assert set(latest) == set(SYMBOLS)
    for symbol, bar in latest.items():
        assert bar == taken[symbol].minute_bar and bar.timestamp == OPEN + 41 * MINUTE
    single = market_data.get("/stocks/SPY/bars/latest")
    assert single["symbol"] == "SPY" and single["bar"]["t"] == "2019-12-17T15:11:00Z"
    assert market_data.get("/stocks/SPY/snapshot")["minuteBar"] == single["bar"]


def test_unknown_symbols_are_left_out_or_not_found(
    broker: PaperBroker, market_data: StockHistoricalDataClient
) -> None:
    broker.advance(minutes=5)
    found = market_data.get_stock_snapshot(StockSnapshotRequest(symbol_or_symbols=["SPY", "NOSUCH"]))
    assert set(found) == {"SPY"}
    for path in ("/stocks/NOSUCH/snapshot", "/stocks/NOSUCH/bars/latest"):
        with pytest.raises(APIError) as caught:
            market_data.get(path)
        assert caught.value.status_code == 404 and "NOSUCH" in caught.value.message
