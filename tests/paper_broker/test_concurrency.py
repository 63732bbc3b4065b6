"""A slow market-data request never delays trading calls (issue 18, item 3).

alpaca-py sets no HTTP timeout, so a ``GET /v2/account`` queued behind a long bars request would hang a bot
(it waited 20.8 s behind a request for years of 1-minute bars). Checks without tight timing bounds (the
machine is shared): while one large page of bars is being built, several account calls start and finish
(queued behind it, at most one could); alpaca-py's own paging collects a whole year of 1-minute bars (ten
pages) while account calls keep answering. Large pages are built in a worker process with its own copy of
the market: its pages are the pages the broker's own market builds, it stops with the broker, and one killed
from outside costs no answer. Latency percentiles over 100 calls are measured by
``scripts/bench_paper_broker_concurrency.py`` (see BENCHMARKS.md).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import requests
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from structlog.testing import capture_logs

from bot.paper_broker import bar_pages, market_routes
from bot.paper_broker.server import PaperBroker
from tests.conftest import KEY, SECRET

pytestmark = pytest.mark.slow  # Slow tier: year-long bar downloads and a worker process

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


def get_bars(broker: PaperBroker, **params: object) -> requests.Response:
    return requests.get(f"{broker.url}/v2/stocks/bars", params=params, headers=HEADERS, timeout=600)


def large_page(start: str, **params: object) -> dict:
    """Query parameters of a page of 10,000 minute bars (built in the worker process)."""
    return {"symbols": "SPY,AGG", "timeframe": "1Min", "start": start, "limit": 10000, **params}


def workers() -> set[multiprocessing.Process]:
    return set(multiprocessing.active_children())


def test_account_calls_complete_while_a_large_bars_request_is_in_flight(broker) -> None:
    assert get_bars(broker, **large_page("2015-06-01")).status_code == 200  # the worker is up
    params = large_page("2016-01-01", end="2017-01-01T00:00:00Z")  # two symbols over 2016: ~20 pages
    pages: list[dict] = []
    with AccountPoller(broker.url) as poller:
        time.sleep(0.1)
        began = time.perf_counter()
        while not pages or pages[-1]["next_page_token"]:
            token = pages[-1]["next_page_token"] if pages else None
            pages.append(get_bars(broker, **params, **({"page_token": token} if token else {})).json())
        ended = time.perf_counter()
    collected = sum(len(bars) for page in pages for bars in page["bars"].values())
    sessions = broker.engine.calendar.sessions_between(date(2016, 1, 1), date(2016, 12, 31))
    assert collected == 2 * sum(s.minutes for s in sessions)
    inside = [(a, b) for a, b in poller.calls if began < a and b < ended]
    assert len(inside) >= 3, f"{len(inside)} account calls completed during {len(pages)} pages"


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


def test_pages_from_the_worker_process_are_the_brokers_own_pages(make_broker) -> None:
    broker = make_broker(market={"seed": 7})  # the worker's copy must build the same synthetic paths
    before = workers()
    for params in (
        large_page("2016-03-01"),
        large_page("2016-03-01", end="2016-06-01T00:00:00Z", sort="desc", adjustment="all"),
        {"symbols": "SPY,AGG,BIL,TLT,GLD", "timeframe": "1Day", "start": "2004-01-01", "limit": 10000},
    ):
        served = get_bars(broker, **params)
        assert served.status_code == 200 and workers() - before, "a large page is built in a worker process"
        query = market_routes.bars_query(**{k: v for k, v in params.items() if k != "symbols"})
        own = bar_pages.bars_page(broker.market, broker.now, params["symbols"].split(","), query)
        assert served.content == own, params  # byte for byte: where a page is built does not show
        assert sum(len(b) for b in served.json()["bars"].values()) == 10000


def walk(broker: PaperBroker, limits: list[int], **params: object) -> list[tuple[str, dict]]:
    """Every bar of a paged request, following next_page_token with the page sizes ``limits`` (cycled)."""
    rows, token, k = [], None, 0
    while True:
        extra = {"page_token": token} if token else {}
        page = get_bars(broker, **params, **extra, limit=limits[k % len(limits)]).json()
        rows += [(symbol, bar) for symbol, bars in page["bars"].items() for bar in bars]
        token, k = page["next_page_token"], k + 1
        if not token:
            return rows


def test_a_client_following_page_tokens_gets_the_same_bars_whether_pages_come_from_the_worker_or_threads(
    broker,
) -> None:
    for extra in ({"sort": "asc"}, {"sort": "desc", "adjustment": "all"}):
        params = {"symbols": "SPY,AGG", "timeframe": "1Min", "start": "2016-03-01", **extra}
        params["end"] = "2016-05-01T00:00:00Z"
        mixed = walk(broker, [10000, 3000], **params)  # large pages in the worker, small ones on threads
        threads = walk(broker, [4000], **params)  # every page on a thread
        sessions = broker.engine.calendar.sessions_between(date(2016, 3, 1), date(2016, 4, 30))
        assert mixed == threads and len(mixed) == 2 * sum(s.minutes for s in sessions), extra


def test_a_killed_worker_is_replaced_at_no_cost_of_an_answer_and_no_worker_outlives_the_broker(
    make_broker,
) -> None:
    broker = make_broker()
    before = workers()
    first = get_bars(broker, **large_page("2016-01-01"))
    (worker,) = workers() - before
    os.kill(worker.pid, signal.SIGKILL)
    worker.join(timeout=60)
    with capture_logs() as logs:
        again = get_bars(broker, **large_page("2016-01-01"))
    assert again.status_code == 200 and again.json() == first.json()
    assert any("worker process died" in entry["event"] for entry in logs)
    assert get_bars(broker, **large_page("2017-01-01")).status_code == 200
    replacement = workers() - before - {worker}
    assert len(replacement) == 1, "the next large page starts a new worker"
    broker.stop()
    assert not any(p.is_alive() for p in replacement)


BROKER_PROCESS = """
import multiprocessing, requests, sys
from datetime import date
from bot.paper_broker.server import ClockConfig, PaperBroker, ServerConfig
from tests.conftest import KEY, SECRET, two_accounts
config = ServerConfig(accounts=two_accounts(), clock=ClockConfig(start=date(2019, 12, 17)))
broker = PaperBroker(config).start()
params = {"symbols": "SPY", "timeframe": "1Min", "start": "2016-01-01", "limit": 10000}
headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
requests.get(f"{broker.url}/v2/stocks/bars", params=params, headers=headers, timeout=600).raise_for_status()
print(*[p.pid for p in multiprocessing.active_children()], flush=True)
sys.stdin.read()  # until killed
"""


def running(pid: int) -> bool:
    """Whether the process exists and is not a zombie left for an init that does not reap."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_the_worker_exits_when_the_brokers_process_is_killed(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    errors = tmp_path / "stderr"  # the killed process's leftovers (a resource-tracker warning) stay here
    with errors.open("w") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-c", BROKER_PROCESS],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            cwd=root,
        )
    try:
        line = child.stdout.readline()  # type: ignore[union-attr]
    finally:
        child.kill()
        child.wait()
    assert line.strip(), errors.read_text()
    (worker,) = map(int, line.split())
    deadline = time.monotonic() + 60
    while running(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(worker), f"worker {worker} outlived the killed broker process"
