"""Historical quotes and trades through alpaca-py: made from the minute bars, consistent with the latest.

The bundled data has no ticks, so the broker makes one quote and one print at the open and at the end of
each minute bar (``bot/paper_broker/ticks.py``). Checked here against the broker's own 1Min bars and the
calibrated spreads in ``costs.json`` read directly, and against the latest quote and trade (what orders
fill on), which must be the last historical ones at any moment the clock is stepped to.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from alpaca.common.enums import Sort
from alpaca.common.exceptions import APIError
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import (
    StockBarsRequest,
    StockLatestQuoteRequest,
    StockLatestTradeRequest,
    StockQuotesRequest,
    StockTradesRequest,
)
from alpaca.data.timeframe import TimeFrame

from bot.paper_broker.marketdata import BUNDLED_DATA_DIR
from bot.paper_broker.server import PaperBroker

# Slow tier: a broker stepped through sessions per test, like the contract suite's market-data tests
# (CI runs the slow tier; the README's quick command, near its five-minute budget, skips it).
pytestmark = pytest.mark.slow

OPEN = datetime(2019, 12, 17, 14, 30, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
SYMBOLS = ["SPY", "AGG"]


def calibrated_spread_bps(symbol: str) -> float:
    return json.loads((BUNDLED_DATA_DIR / "costs.json").read_text())["symbols"][symbol]["spread_bps"]


def test_one_quote_and_one_trade_at_the_open_and_at_each_minute_close(
    broker: PaperBroker, market_data: StockHistoricalDataClient
) -> None:
    broker.advance(minutes=20, seconds=30)
    quotes = market_data.get_stock_quotes(StockQuotesRequest(symbol_or_symbols=SYMBOLS, start=OPEN)).data
    trades = market_data.get_stock_trades(StockTradesRequest(symbol_or_symbols=SYMBOLS, start=OPEN)).data
    bars = market_data.get_stock_bars(
        StockBarsRequest(symbol_or_symbols=SYMBOLS, timeframe=TimeFrame.Minute, start=OPEN)
    ).data
    for symbol in SYMBOLS:
        minutes = bars[symbol]
        assert len(minutes) == 20 and len(quotes[symbol]) == len(trades[symbol]) == 21
        prices = [minutes[0].open] + [bar.close for bar in minutes]  # the open, then each minute's close
        stamps = [OPEN + k * MINUTE for k in range(21)]
        assert [t.price for t in trades[symbol]] == prices
        assert [t.timestamp for t in trades[symbol]] == [q.timestamp for q in quotes[symbol]] == stamps
        widest = max(prices) * calibrated_spread_bps(symbol) / 10_000 + 0.02  # widened to the cent at most
        for quote, price in zip(quotes[symbol], prices, strict=True):
            assert quote.bid_price < price < quote.ask_price and quote.ask_price - quote.bid_price <= widest
            assert quote.bid_size >= 100 and quote.bid_size % 100 == 0 and quote.ask_size % 100 == 0
        assert all(t.size >= 100 and t.size % 100 == 0 for t in trades[symbol])
        assert len({t.id for t in trades[symbol]}) == 21


def latest_and_history(client: StockHistoricalDataClient, since: datetime) -> tuple:
    quote = client.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols=SYMBOLS))
    trade = client.get_stock_latest_trade(StockLatestTradeRequest(symbol_or_symbols=SYMBOLS))
    quotes = client.get_stock_quotes(StockQuotesRequest(symbol_or_symbols=SYMBOLS, start=since)).data
    trades = client.get_stock_trades(StockTradesRequest(symbol_or_symbols=SYMBOLS, start=since)).data
    return quote, trade, quotes, trades


@pytest.mark.parametrize(
    "moment",
    [
        OPEN + timedelta(seconds=20),  # inside the first minute: the opening quote
        OPEN + timedelta(minutes=133, seconds=59),
        datetime(2019, 12, 17, 21, 0, tzinfo=UTC),  # the close: the closing print
        datetime(2019, 12, 21, 15, tzinfo=UTC),  # Saturday: still Friday's close
        datetime(2019, 12, 24, 17, 59, 30, tzinfo=UTC),  # the last minute of an early close
    ],
)
def test_the_latest_quote_and_trade_are_the_last_historical_ones(
    broker: PaperBroker, market_data: StockHistoricalDataClient, moment: datetime
) -> None:
    broker.advance_to(moment)
    quote, trade, quotes, trades = latest_and_history(market_data, moment - timedelta(days=4))
    for symbol in SYMBOLS:
        assert quote[symbol] == quotes[symbol][-1] and trade[symbol] == trades[symbol][-1]
        assert quotes[symbol][-1].timestamp <= moment and moment - quotes[symbol][-1].timestamp < timedelta(
            days=3
        )


def test_nothing_after_now_and_the_same_answer_every_time(
    broker: PaperBroker, market_data: StockHistoricalDataClient
) -> None:
    broker.advance(minutes=45)
    far = {"start": "2019-12-17T00:00:00Z", "end": "2030-01-01T00:00:00Z"}
    for kind in ("quotes", "trades"):
        body = market_data.get(f"/stocks/{kind}", {"symbols": "SPY,AGG", **far, "limit": 10000})
        stamps = [row["t"] for rows in body[kind].values() for row in rows]
        assert max(stamps) == "2019-12-17T15:15:00.000000Z" and len(stamps) == 2 * 46
        assert market_data.get(f"/stocks/{kind}", {"symbols": "SPY,AGG", **far, "limit": 10000}) == body
        future = market_data.get(f"/stocks/{kind}", {"symbols": "SPY", "start": "2019-12-18"})
        assert future == {kind: {}, "next_page_token": None}


@pytest.mark.parametrize("kind", ["quotes", "trades"])
def test_paging_sorting_and_the_single_symbol_route(
    broker: PaperBroker, market_data: StockHistoricalDataClient, kind: str
) -> None:
    broker.advance_to(datetime(2019, 12, 18, 15, tzinfo=UTC))
    params = {"symbols": "SPY,AGG", "start": "2019-12-17"}
    whole = market_data.get(f"/stocks/{kind}", {**params, "limit": 10000})
    assert [len(whole[kind][s]) for s in ("AGG", "SPY")] == [391 + 31] * 2 and whole[
        "next_page_token"
    ] is None
    pages, token = [], None
    while True:
        body = market_data.get(f"/stocks/{kind}", {**params, "limit": 100, "page_token": token})
        pages.append(body)
        token = body["next_page_token"]
        if token is None:
            break
    assert len(pages) == 9  # 844 rows, 100 a page
    assert {s: [row for p in pages for row in p[kind].get(s, [])] for s in SYMBOLS} == whole[kind]
    newest = market_data.get(f"/stocks/{kind}", {**params, "limit": 10000, "sort": Sort.DESC.value})
    assert newest[kind] == {s: list(reversed(rows)) for s, rows in whole[kind].items()}
    single = market_data.get(f"/stocks/SPY/{kind}", {"start": "2019-12-17", "limit": 10000})
    assert single == {"symbol": "SPY", kind: whole[kind]["SPY"], "next_page_token": None}


def test_bad_parameters_get_alpacas_400(broker: PaperBroker, market_data: StockHistoricalDataClient) -> None:
    for params, named in (
        ({"limit": 0}, "limit"),
        ({"limit": 10001}, "limit"),
        ({"sort": "sideways"}, "sort"),
        ({"feed": "bogus"}, "feed"),
        ({"page_token": "@@@"}, "page_token"),
        ({"currency": "EUR"}, "currency"),
    ):
        for path in ("/stocks/quotes", "/stocks/trades"):
            with pytest.raises(APIError) as caught:
                market_data.get(path, {"symbols": "SPY", **params})
            assert caught.value.status_code == 400 and named in caught.value.message
