"""Out-of-range dates and times get Alpaca's 422 with a message from the paper broker, never a 500, and the
kept-alive connection survives them (issue 17, item 12). Real HTTP to a running paper broker."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
import requests

from bot.paper_broker.faults import FaultConfig
from bot.paper_broker.server import ClockConfig, PaperBroker, ServerConfig
from tests.bot.harness import KEY, SECRET, drifted_60_40

HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
OUT_OF_RANGE = [
    "0001-01-01T00:00:00Z",
    "0001-01-01",
    "0001-01-01T00:00:00+14:00",
    "1900-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31",
]
TIME_ROUTES = [
    ("/v2/stocks/bars?symbols=SPY&timeframe=1Day", ("start", "end")),
    ("/v2/stocks/bars?symbols=SPY&timeframe=1Min", ("start", "end")),
    ("/v2/stocks/SPY/bars?timeframe=1Day", ("start", "end")),
    ("/v2/calendar?", ("start", "end")),
    ("/v2/orders?status=all", ("after", "until")),
    ("/v2/account/activities?", ("after", "until", "date")),
    ("/v2/account/activities/FILL?", ("after", "until", "date")),
]


@pytest.fixture(scope="module")
def broker() -> Iterator[PaperBroker]:
    broker = PaperBroker(
        ServerConfig(
            accounts=drifted_60_40(),
            clock=ClockConfig(start=date(2019, 12, 17)),
            faults=FaultConfig(rate_limit_per_minute=None),
        )
    ).start()
    yield broker
    broker.stop()


def test_bars_from_year_one_get_422_not_500(broker):
    with requests.Session() as session:  # one kept-alive connection, as alpaca-py uses
        url = f"{broker.url}/v2/stocks/bars?symbols=SPY&timeframe=1Day&start=0001-01-01T00:00:00Z"
        response = session.get(url, headers=HEADERS, timeout=10)
        assert response.status_code == 422
        assert response.json()["code"] == 40010001 and "out of range" in response.json()["message"]
        again = session.get(f"{broker.url}/v2/clock", headers=HEADERS, timeout=10)
        assert again.status_code == 200  # the same connection still works


@pytest.mark.parametrize(("route", "names"), TIME_ROUTES)
def test_every_date_parameter_refuses_out_of_range_values_with_422(broker, route, names):
    with requests.Session() as session:
        for name in names:
            for value in OUT_OF_RANGE:
                sep = "&" if not route.endswith("?") else ""
                response = session.get(f"{broker.url}{route}{sep}{name}={value}", headers=HEADERS, timeout=10)
                assert response.status_code == 422, (route, name, value, response.text)
                assert name in response.json()["message"]


def test_in_range_values_still_work(broker):
    ok = [
        "/v2/stocks/bars?symbols=SPY&timeframe=1Day&start=2019-01-02&end=2019-12-16",
        "/v2/calendar?start=2019-12-01&end=2019-12-31",
        "/v2/orders?status=all&after=1970-01-01T00:00:00Z",
        "/v2/account/activities?until=2199-12-31T00:00:00Z",
    ]
    for path in ok:
        assert requests.get(f"{broker.url}{path}", headers=HEADERS, timeout=10).status_code == 200, path


def test_advancing_the_simulator_beyond_its_calendar_is_refused_with_422(broker):
    before = requests.get(f"{broker.url}/_paper/state", timeout=10).json()["now"]
    for body in ({"until": "9999-12-31T23:59:59Z"}, {"until": "2150-01-01"}, {"minutes": 10**12}):
        response = requests.post(f"{broker.url}/_paper/advance", json=body, headers=HEADERS, timeout=10)
        assert response.status_code == 422, (body, response.text)
    assert requests.get(f"{broker.url}/_paper/state", timeout=10).json()["now"] == before
