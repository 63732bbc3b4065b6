"""``GET /v3/clock`` through alpaca-py's own session (it has no typed call for v3): one clock per market."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient


def clocks(trading: TradingClient, **params: str) -> list[dict]:
    return trading.get("/clock", params, api_version="v3")["clocks"]


def one(trading: TradingClient, at: str) -> dict:
    (clock,) = clocks(trading, markets="NYSE", time=at)
    return clock


def test_default_clocks_are_the_us_equity_markets_on_the_simulated_now(broker, trading):
    nyse, nasdaq = clocks(trading)
    assert nyse["market"] == {
        "acronym": "NYSE",
        "mic": "XNYS",
        "name": "New York Stock Exchange",
        "timezone": "America/New_York",
    }
    assert nasdaq["market"]["mic"] == "XNAS"
    v2 = trading.get_clock()
    assert nyse["timestamp"] == "2019-12-17T09:30:00-05:00" == nasdaq["timestamp"]
    assert datetime.fromisoformat(nyse["timestamp"]) == v2.timestamp
    assert (nyse["phase"], nyse["phase_until"], nyse["is_market_day"]) == (
        "core",
        "2019-12-17T16:00:00-05:00",
        True,
    )
    assert datetime.fromisoformat(nyse["next_market_open"]) == v2.next_open
    assert datetime.fromisoformat(nyse["next_market_close"]) == v2.next_close
    broker.advance_to(datetime(2019, 12, 17, 21, 30, tzinfo=UTC))  # 16:30 New York
    assert clocks(trading, markets="XNYS")[0]["phase"] == "post"


@pytest.mark.parametrize(
    ("at", "phase", "until", "market_day"),
    [
        ("2019-12-18T03:00:00-05:00", "closed", "2019-12-18T04:00:00-05:00", True),
        ("2019-12-18T04:00:00-05:00", "pre", "2019-12-18T09:30:00-05:00", True),
        ("2019-12-18T09:29:59-05:00", "pre", "2019-12-18T09:30:00-05:00", True),
        ("2019-12-18T12:00:00-05:00", "core", "2019-12-18T16:00:00-05:00", True),
        ("2019-12-18T16:00:00-05:00", "post", "2019-12-18T20:00:00-05:00", True),
        ("2019-12-18T20:00:00-05:00", "closed", "2019-12-19T04:00:00-05:00", True),
        ("2019-12-21T12:00:00-05:00", "closed", "2019-12-23T04:00:00-05:00", False),  # a Saturday
        ("2019-12-24T12:00:00-05:00", "core", "2019-12-24T13:00:00-05:00", True),  # early close
        ("2019-12-24T14:00:00-05:00", "post", "2019-12-24T20:00:00-05:00", True),
        ("2019-12-25T12:00:00-05:00", "closed", "2019-12-26T04:00:00-05:00", False),  # Christmas
    ],
)
def test_the_phase_of_the_trading_day_and_when_it_ends(trading, at, phase, until, market_day):
    clock = one(trading, at)
    assert (clock["phase"], clock["phase_until"], clock["is_market_day"]) == (phase, until, market_day)
    assert clock["timestamp"] == at


def test_next_open_and_close_around_a_holiday(trading):
    clock = one(trading, "2019-12-24T14:00:00-05:00")
    assert clock["next_market_open"] == "2019-12-26T09:30:00-05:00"
    assert clock["next_market_close"] == "2019-12-26T16:00:00-05:00"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"markets": "LSE"}, "market LSE is not simulated by the paper broker (it has NYSE and NASDAQ)"),
        ({"markets": "NYSE,MOON"}, "invalid markets: unknown market 'MOON'"),
        ({"time": "noon"}, "invalid time: 'noon' is not an RFC 3339 time or date"),
        ({"time": "1999-01-01T00:00:00Z"}, "time must be within the simulated calendar"),
    ],
)
def test_bad_parameters_are_400_naming_them(trading, params, message):
    with pytest.raises(APIError) as caught:
        clocks(trading, **params)
    assert (caught.value.status_code, caught.value.code) == (400, 40010000)
    assert caught.value.message.startswith(message)
