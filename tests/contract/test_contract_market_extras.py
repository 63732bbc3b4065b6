"""The market-data routes beyond latest quotes/trades and 1Min/1Day bars honour Alpaca's contract.

Aggregated bars, latest bars, snapshots and the historical quotes and trades, each sent through alpaca-py
(its typed call where it has one, its ``get`` for the single-symbol routes it has none for). The
``recorder`` fixture validates every response against Alpaca's Market Data OpenAPI spec when each test
ends; each test also checks that every route it is about was answered and parsed.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alpaca.common.exceptions import APIError
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.models import Bar, BarSet, Quote, QuoteSet, Snapshot, Trade, TradeSet
from alpaca.data.requests import (
    StockBarsRequest,
    StockLatestBarRequest,
    StockQuotesRequest,
    StockSnapshotRequest,
    StockTradesRequest,
)
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

from bot.paper_broker.server import PaperBroker
from tests.contract import schema
from tests.contract.schema import MARKET_DATA, Recorder

# Slow tier, as the main contract suite (CI runs it; the README's quick command skips it).
pytestmark = pytest.mark.slow

SYMBOLS = ["SPY", "AGG", "VTI"]
START = datetime(2019, 12, 16, tzinfo=UTC)


@pytest.mark.parametrize(
    "timeframe",
    [
        TimeFrame(5, TimeFrameUnit.Minute),
        TimeFrame(15, TimeFrameUnit.Minute),
        TimeFrame.Hour,
        TimeFrame(2, TimeFrameUnit.Hour),
        TimeFrame.Week,
        TimeFrame.Month,
        TimeFrame(3, TimeFrameUnit.Month),
    ],
    ids=str,
)
def test_aggregated_bars(
    timeframe: TimeFrame, broker: PaperBroker, data: StockHistoricalDataClient, recorder: Recorder
) -> None:
    broker.advance(hours=2)
    start = START if timeframe.unit in (TimeFrameUnit.Minute, TimeFrameUnit.Hour) else datetime(2019, 1, 1)
    bars = data.get_stock_bars(StockBarsRequest(symbol_or_symbols=SYMBOLS, timeframe=timeframe, start=start))
    assert isinstance(bars, BarSet) and set(bars.data) == set(SYMBOLS)
    assert all(isinstance(bar, Bar) and bar.timestamp <= broker.now for bar in bars.data["SPY"])
    single = data.get(
        "/stocks/SPY/bars", {"timeframe": str(timeframe), "start": start.isoformat(), "limit": 3}
    )
    assert len(single["bars"]) == 3 and single["next_page_token"]
    assert recorder.validate_all() == {"GET /v2/stocks/bars", "GET /v2/stocks/{symbol}/bars"}
    schema.assert_schema(single, "stock_bars_resp_single", MARKET_DATA)


def test_latest_bars_and_snapshots(
    broker: PaperBroker, data: StockHistoricalDataClient, recorder: Recorder
) -> None:
    broker.advance(minutes=12)
    latest = data.get_stock_latest_bar(StockLatestBarRequest(symbol_or_symbols=SYMBOLS))
    assert set(latest) == set(SYMBOLS) and all(isinstance(b, Bar) for b in latest.values())
    snapshots = data.get_stock_snapshot(StockSnapshotRequest(symbol_or_symbols=SYMBOLS))
    assert set(snapshots) == set(SYMBOLS)
    for symbol, snapshot in snapshots.items():
        assert isinstance(snapshot, Snapshot) and snapshot.symbol == symbol
        parts = (snapshot.latest_trade, snapshot.latest_quote, snapshot.minute_bar, snapshot.daily_bar)
        assert None not in parts and snapshot.previous_daily_bar is not None
        assert snapshot.minute_bar == latest[symbol]
    single_bar = data.get("/stocks/SPY/bars/latest")
    single_snapshot = data.get("/stocks/SPY/snapshot")
    assert single_snapshot["symbol"] == "SPY" and single_snapshot["minuteBar"] == single_bar["bar"]
    assert recorder.validate_all() == {
        "GET /v2/stocks/bars/latest",
        "GET /v2/stocks/{symbol}/bars/latest",
        "GET /v2/stocks/snapshots",
        "GET /v2/stocks/{symbol}/snapshot",
    }


def test_historical_quotes_and_trades(
    broker: PaperBroker, data: StockHistoricalDataClient, recorder: Recorder
) -> None:
    broker.advance(minutes=30)
    quotes = data.get_stock_quotes(StockQuotesRequest(symbol_or_symbols=SYMBOLS, start=START, limit=900))
    trades = data.get_stock_trades(StockTradesRequest(symbol_or_symbols=SYMBOLS, start=START))
    assert isinstance(quotes, QuoteSet) and isinstance(trades, TradeSet)
    assert sum(len(q) for q in quotes.data.values()) == 900  # alpaca-py stops at its limit
    assert all(isinstance(q, Quote) for q in quotes.data["AGG"])
    assert all(isinstance(t, Trade) for t in trades.data["SPY"]) and len(trades.data["SPY"]) == 391 + 31
    for kind in ("quotes", "trades"):
        single = data.get(f"/stocks/SPY/{kind}", {"start": START.isoformat(), "limit": 5, "sort": "desc"})
        assert single["symbol"] == "SPY" and len(single[kind]) == 5 and single["next_page_token"]
    data.get("/stocks/SPY/quotes/latest")
    data.get("/stocks/SPY/trades/latest")
    assert recorder.validate_all() == {
        "GET /v2/stocks/quotes",
        "GET /v2/stocks/trades",
        "GET /v2/stocks/{symbol}/quotes",
        "GET /v2/stocks/{symbol}/trades",
        "GET /v2/stocks/{symbol}/quotes/latest",
        "GET /v2/stocks/{symbol}/trades/latest",
    }


def test_errors_carry_code_and_message(
    broker: PaperBroker, data: StockHistoricalDataClient, recorder: Recorder
) -> None:
    cases = [
        ("/stocks/bars", {"symbols": "SPY", "timeframe": "24Hour"}, 400),
        ("/stocks/quotes", {"symbols": "SPY", "limit": 0}, 400),
        ("/stocks/trades", {"symbols": "SPY", "page_token": "%%%"}, 400),
        ("/stocks/snapshots", {"symbols": "SPY", "feed": "bogus"}, 400),
        ("/stocks/bars/latest", {"symbols": ""}, 400),
        ("/stocks/NOSUCH/snapshot", {}, 404),
        ("/stocks/NOSUCH/bars/latest", {}, 404),
        ("/stocks/NOSUCH/quotes/latest", {}, 404),
    ]
    for path, params, status in cases:
        with pytest.raises(APIError) as caught:
            data.get(path, params)
        assert caught.value.status_code == status, (path, caught.value.message)
        schema.assert_error_body(recorder.exchanges[-1].body, status)
