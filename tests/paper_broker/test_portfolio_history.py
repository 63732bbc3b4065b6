"""Portfolio history through alpaca-py's ``get_portfolio_history``, checked against the account's own story.

Each test trades, steps simulated time, then recomputes the expected equity itself: the account's starting
cash and shares, the fills and dividends the API reported, and the bundled prices as the market-data API
serves them as bars (equity = cash + qty x the bar's close). Nothing here reads the broker's internals.

The taxable account starts at the open of 2019-12-17 with $100,000 and 80 SPY; SPY goes ex-dividend
($1.57 a share) on 2019-12-20.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from alpaca.common.exceptions import APIError
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.requests import GetPortfolioHistoryRequest, MarketOrderRequest

from tests.conftest import KEY, SECRET

pytestmark = pytest.mark.slow  # Slow tier: equity rebuilt over weeks of minutes

CENT = Decimal("0.01")
OPEN = datetime(2019, 12, 17, 14, 30, tzinfo=UTC)
STARTING_CASH = Decimal(100_000)
STARTING_SPY = Decimal(80)


def bar_closes(data: StockHistoricalDataClient, symbols: list[str], timeframe: TimeFrame, start, end) -> dict:
    """{(symbol, bar start): close} from the market-data API."""
    bars = data.get_stock_bars(
        StockBarsRequest(symbol_or_symbols=symbols, timeframe=timeframe, start=start, end=end)
    )
    return {(s, b.timestamp): Decimal(str(b.close)) for s, rows in bars.data.items() for b in rows}


def ledger(trading: TradingClient) -> list[tuple[datetime, Decimal, dict[str, Decimal]]]:
    """The cash and share changes the API reports since the account opened (the starting lots' FILLs are
    dated before: they are the starting shares), FILL and DIV activities, oldest first."""
    changes = []
    since = {"direction": "asc", "after": "2019-12-17T14:29:00Z"}
    for fill in trading.get("/account/activities/FILL", since):
        qty, price = Decimal(fill["qty"]), Decimal(fill["price"])
        sign = 1 if fill["side"] == "buy" else -1
        when = datetime.fromisoformat(fill["transaction_time"].replace("Z", "+00:00"))
        changes.append((when, -sign * (qty * price).quantize(CENT), {fill["symbol"]: sign * qty}))
    for dividend in trading.get("/account/activities/DIV", since):
        when = datetime.fromisoformat(dividend["created_at"].replace("Z", "+00:00"))
        changes.append((when, Decimal(dividend["net_amount"]), {}))
    return sorted(changes, key=lambda c: c[0])


def holdings_at(changes, when: datetime) -> tuple[Decimal, dict[str, Decimal]]:
    cash, shares = STARTING_CASH, {"SPY": STARTING_SPY}
    for at, cash_change, share_changes in changes:
        if at <= when:
            cash += cash_change
            for symbol, qty in share_changes.items():
                shares[symbol] = shares.get(symbol, Decimal(0)) + qty
    return cash, shares


def expected_equity(changes, closes: dict, label: datetime, valued_at: datetime) -> Decimal:
    cash, shares = holdings_at(changes, valued_at)
    return cash + sum((q * closes[(s, label)] for s, q in shares.items() if q), Decimal(0))


def stamp(t: datetime) -> int:
    return int(t.timestamp())


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def rejected(call) -> APIError:  # noqa: ANN001 - a zero-argument callable
    with pytest.raises(APIError) as caught:
        call()
    return caught.value


# -- intraday ------------------------------------------------------------------------------------------------
def test_minute_points_are_cash_plus_shares_at_each_minute_bars_close(broker, trading, market_data):
    broker.advance(minutes=5)
    trading.submit_order(MarketOrderRequest(symbol="VTI", qty=10, side="buy", time_in_force="day"))
    broker.advance(minutes=10)
    history = trading.get_portfolio_history(GetPortfolioHistoryRequest(timeframe="1Min"))

    assert history.timeframe == "1Min"
    assert history.timestamp == [stamp(OPEN + timedelta(minutes=k)) for k in range(15)]
    closes = bar_closes(market_data, ["SPY", "VTI"], TimeFrame.Minute, OPEN, OPEN + timedelta(minutes=14))
    changes = ledger(trading)
    assert len(changes) == 1  # the VTI buy, filled at 09:36: the first five points are before it
    expected = [
        expected_equity(changes, closes, at(t), at(t) + timedelta(minutes=1)) for t in history.timestamp
    ]
    assert [Decimal(str(e)) for e in history.equity] == expected
    assert Decimal(str(history.equity[-1])) == Decimal(trading.get_account().equity)


def test_coarser_windows_take_the_equity_at_the_end_of_each_window(broker, trading, market_data):
    broker.advance(minutes=40)
    history = trading.get_portfolio_history(GetPortfolioHistoryRequest(timeframe="15Min"))
    assert history.timestamp == [
        stamp(OPEN),
        stamp(OPEN + timedelta(minutes=15)),
        stamp(OPEN + timedelta(minutes=30)),
    ]
    closes = bar_closes(market_data, ["SPY"], TimeFrame.Minute, OPEN, OPEN + timedelta(minutes=40))
    # 09:30 and 09:45 windows end with the minute bars of 09:44 and 09:59; the running 10:00 window is
    # valued now, at 10:10, i.e. at the close of the 10:09 bar.
    ends = [14, 29, 39]
    assert [Decimal(str(e)) for e in history.equity] == [
        STARTING_CASH + STARTING_SPY * closes[("SPY", OPEN + timedelta(minutes=m))] for m in ends
    ]


def test_a_later_day_is_measured_from_the_previous_close(broker, trading, market_data):
    broker.advance_to(datetime(2019, 12, 18, 15, 0, tzinfo=UTC))  # 10:00 New York, the second day
    body = trading.get("/account/portfolio/history", {"timeframe": "5Min", "start": "2019-12-18"})
    assert body["timestamp"][0] == stamp(datetime(2019, 12, 18, 14, 30, tzinfo=UTC))  # rolled to the open
    assert len(body["timestamp"]) == 6
    day_one_close = bar_closes(market_data, ["SPY"], TimeFrame.Day, OPEN - timedelta(hours=15), OPEN)
    base = STARTING_CASH + STARTING_SPY * next(iter(day_one_close.values()))
    assert Decimal(str(body["base_value"])) == base and body["base_value_asof"] == "2019-12-17"
    assert body["profit_loss"] == [float(Decimal(str(e)) - base) for e in body["equity"]]
    assert body["profit_loss_pct"] == [
        round(float((Decimal(str(e)) - base) / base), 4) for e in body["equity"]
    ]


# -- daily ---------------------------------------------------------------------------------------------------
def test_daily_points_are_closing_equity_with_dividends_and_trades(broker, trading, market_data):
    trading.submit_order(MarketOrderRequest(symbol="AGG", qty=40, side="buy", time_in_force="day"))
    broker.advance_to(datetime(2019, 12, 19, 15, 0, tzinfo=UTC))
    trading.submit_order(MarketOrderRequest(symbol="SPY", qty=30, side="sell", time_in_force="day"))
    broker.advance_to(datetime(2019, 12, 23, 22, 0, tzinfo=UTC))  # after the close of the 23rd

    history = trading.get_portfolio_history(GetPortfolioHistoryRequest(period="1W", timeframe="1D"))
    days = ["2019-12-17", "2019-12-18", "2019-12-19", "2019-12-20", "2019-12-23"]
    midnights = [datetime.fromisoformat(f"{d}T00:00:00-05:00") for d in days]
    assert history.timestamp == [stamp(m) for m in midnights]
    closes = bar_closes(market_data, ["SPY", "AGG"], TimeFrame.Day, midnights[0], midnights[-1])
    changes = ledger(trading)
    assert any(cash > 0 and not shares for _, cash, shares in changes)  # the SPY dividend is in there
    session_close = [m + timedelta(hours=16) for m in midnights]
    expected = [expected_equity(changes, closes, m, c) for m, c in zip(midnights, session_close, strict=True)]
    assert [Decimal(str(e)) for e in history.equity] == expected
    # A new account has no earlier close: its first day is the base; each day's P/L is against the day before.
    assert Decimal(str(history.base_value)) == expected[0]
    assert [Decimal(str(p)) for p in history.profit_loss] == [Decimal(0)] + [
        b - a for a, b in zip(expected, expected[1:], strict=False)
    ]
    since_start = trading.get_portfolio_history(
        GetPortfolioHistoryRequest(period="1W", timeframe="1D", pnl_reset="no_reset")
    )
    assert [Decimal(str(p)) for p in since_start.profit_loss] == [e - expected[0] for e in expected]


def test_a_running_session_is_the_last_daily_point_valued_now(broker, trading):
    broker.advance_to(datetime(2019, 12, 18, 16, 0, tzinfo=UTC))
    history = trading.get_portfolio_history()  # alpaca-py's default: a month, so daily points
    assert history.timeframe == "1D" and len(history.timestamp) == 2
    assert Decimal(str(history.equity[-1])) == Decimal(trading.get_account().equity)


def test_cashflow_reports_the_dividend_on_its_day(broker, trading):
    broker.advance_to(datetime(2019, 12, 23, 22, 0, tzinfo=UTC))
    body = trading.get(
        "/account/portfolio/history", {"period": "1W", "timeframe": "1D", "cashflow_types": "DIV"}
    )
    assert body["cashflow"] == {"DIV": [0.0, 0.0, 0.0, float(STARTING_SPY * Decimal("1.57")), 0.0]}
    assert "cashflow" not in trading.get("/account/portfolio/history", {"period": "1W"})


# -- reporting hours -----------------------------------------------------------------------------------------
def test_extended_hours_run_from_four_to_eight_and_value_the_night_at_the_close(broker, trading, market_data):
    broker.advance_to(datetime(2019, 12, 19, 1, 0, tzinfo=UTC))  # 20:00 New York on the 18th
    body = trading.get(
        "/account/portfolio/history",
        {"timeframe": "1H", "start": "2019-12-18T09:00:00Z", "intraday_reporting": "extended_hours"},
    )
    four = datetime(2019, 12, 18, 9, 0, tzinfo=UTC)
    assert body["timestamp"] == [stamp(four + timedelta(hours=h)) for h in range(16)]
    closes = bar_closes(market_data, ["SPY"], TimeFrame.Day, OPEN - timedelta(hours=15), four)
    before, after = (STARTING_CASH + STARTING_SPY * c for c in closes.values())  # the 17th's, the 18th's
    assert Decimal(str(body["equity"][0])) == before  # pre-market: the previous close
    assert Decimal(str(body["equity"][-1])) == after  # after hours: the day's close
    legacy = trading.get(
        "/account/portfolio/history",
        {"timeframe": "1H", "start": "2019-12-18T09:00:00Z", "extended_hours": "true"},
    )
    assert legacy["timestamp"] == body["timestamp"]


def test_continuous_reporting_covers_the_weekend_at_fridays_close(broker, trading):
    broker.advance_to(datetime(2019, 12, 23, 5, 0, tzinfo=UTC))  # Monday 00:00 New York
    body = trading.get(
        "/account/portfolio/history",
        {"timeframe": "1H", "start": "2019-12-21T05:00:00Z", "intraday_reporting": "continuous"},
    )
    assert len(body["timestamp"]) == 48 and len(set(body["equity"])) == 1
    assert body["base_value_asof"] == "2019-12-20"
    assert set(body["profit_loss"]) == {0.0}  # nothing moves while the market is shut


# -- accounts, persistence, refusals -------------------------------------------------------------------------
def test_each_account_sees_its_own_history(broker, trading, other_trading):
    broker.advance(minutes=3)
    mine = trading.get_portfolio_history(GetPortfolioHistoryRequest(timeframe="1Min"))
    theirs = other_trading.get_portfolio_history(GetPortfolioHistoryRequest(timeframe="1Min"))
    assert mine.timestamp == theirs.timestamp
    assert Decimal(str(theirs.equity[-1])) == Decimal(other_trading.get_account().equity)
    assert mine.equity != theirs.equity


def test_history_survives_a_restart(make_broker):
    first = make_broker()
    client = TradingClient(KEY, SECRET, url_override=first.url)
    client.submit_order(MarketOrderRequest(symbol="VTI", qty=5, side="buy", time_in_force="day"))
    first.advance(minutes=10)
    before = client.get_portfolio_history(GetPortfolioHistoryRequest(timeframe="1Min"))
    first.stop()
    second = make_broker()
    again = TradingClient(KEY, SECRET, url_override=second.url)
    assert again.get_portfolio_history(GetPortfolioHistoryRequest(timeframe="1Min")) == before


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"period": "1X"}, "invalid period: '1X'"),
        ({"period": "0D"}, "invalid period: '0D'"),
        ({"timeframe": "2Min"}, "invalid timeframe: '2Min', must be one of 1Min, 5Min, 15Min, 1H, 1D"),
        ({"period": "2M", "timeframe": "15Min"}, "timeframe 15Min covers at most 30 days"),
        ({"period": "1W", "start": "2019-12-01", "end": "2019-12-10"}, "period cannot be combined with both"),
        ({"start": "2019-12-10", "end": "2019-12-01"}, "start must not be after end"),
        ({"start": "last tuesday"}, "invalid start: 'last tuesday'"),
        ({"intraday_reporting": "always"}, "invalid intraday_reporting: 'always'"),
        ({"pnl_reset": "weekly"}, "invalid pnl_reset: 'weekly'"),
        ({"extended_hours": "maybe"}, "invalid extended_hours: 'maybe', must be true or false"),
        ({"cashflow_types": "FILL"}, "invalid cashflow_types: 'FILL'"),
    ],
)
def test_bad_parameters_are_422_naming_the_parameter(trading, params, message):
    error = rejected(lambda: trading.get("/account/portfolio/history", params))
    assert (error.status_code, error.code) == (422, 40010001)
    assert error.message.startswith(message), error.message
