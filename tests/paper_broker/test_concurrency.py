"""A slow market-data request never delays trading calls (issue 18, item 3).

alpaca-py sets no HTTP timeout, so a ``GET /v2/account`` queued behind a long bars request would hang a bot
(it waited 20.8 s behind a request for years of 1-minute bars). Two checks, without tight timing bounds (the
machine is shared): while one large page of bars is being built, several account calls start and finish
(queued behind it, at most one could); and alpaca-py's own paging collects a whole year of 1-minute bars
(ten pages) while account calls keep answering. Latency percentiles over 100 calls are measured by
``scripts/bench_paper_broker_concurrency.py`` (see BENCHMARKS.md).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime

import requests
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame

from tests.conftest import KEY, SECRET

HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}


class AccountPoller:
    """Calls ``GET /v2/account`` in a loop on its own connection; keeps (start, end) of each call."""

    def __init__(self, url: str) -> None:
        self.url, self.calls = url, []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        session = requests.Session()
        while not self.done.is_set():
            began = time.perf_counter()
            session.get(f"{self.url}/v2/account", headers=HEADERS, timeout=60).raise_for_status()
            self.calls.append((began, time.perf_counter()))
            self.done.wait(0.02)

    def __enter__(self) -> AccountPoller:
        requests.get(f"{self.url}/v2/account", headers=HEADERS, timeout=60)  # first-call costs out of the way
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()


def test_account_calls_complete_while_one_large_page_of_bars_is_built(broker) -> None:
    params = {"symbols": "SPY,AGG", "timeframe": "1Min", "start": "2016-01-01", "limit": 10000}
    with AccountPoller(broker.url) as poller:
        time.sleep(0.1)
        began = time.perf_counter()
        page = requests.get(f"{broker.url}/v2/stocks/bars", params=params, headers=HEADERS, timeout=600)
        ended = time.perf_counter()
    assert page.status_code == 200 and page.json()["next_page_token"]
    assert sum(len(bars) for bars in page.json()["bars"].values()) == 10000
    inside = [(a, b) for a, b in poller.calls if began < a and b < ended]
    assert len(inside) >= 3, f"{len(inside)} account calls completed during a {ended - began:.2f} s bars page"


def test_a_year_of_minute_bars_pages_fully_while_the_account_keeps_answering(broker) -> None:
    data = StockHistoricalDataClient(KEY, SECRET, url_override=broker.url)
    request = StockBarsRequest(
        symbol_or_symbols="SPY",
        timeframe=TimeFrame.Minute,
        start=datetime(2018, 12, 1, tzinfo=UTC),
        end=datetime(2019, 12, 1, tzinfo=UTC),
    )
    with AccountPoller(broker.url) as poller:
        bars = data.get_stock_bars(request).data["SPY"]
    sessions = broker.engine.calendar.sessions_between(date(2018, 12, 1), date(2019, 11, 30))
    assert len(bars) == sum(s.minutes for s in sessions) > 90_000  # every page collected
    stamps = [b.timestamp for b in bars]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    slowest = max(b - a for a, b in poller.calls)
    assert len(poller.calls) >= 10 and slowest < 5, (len(poller.calls), slowest)  # never stuck behind it
