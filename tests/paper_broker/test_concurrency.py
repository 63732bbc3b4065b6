"""A slow market-data request never delays trading calls (issue 18, item 3).

alpaca-py sets no HTTP timeout, so a ``GET /v2/account`` queued behind a long bars request would hang a bot.
Here a year of 1-minute bars is fetched through alpaca-py's own paging (ten pages of 10,000 bars) while
another thread keeps asking for the account; every account answer must come back well under a second (a
generous bound on a shared machine: queued behind the bars it took over 20 s). Latency is measured properly,
over 100 calls, by ``scripts/bench_paper_broker_concurrency.py`` (see BENCHMARKS.md).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime

from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient

from tests.conftest import KEY, SECRET


def test_a_year_of_minute_bars_pages_fully_while_the_account_answers_promptly(broker) -> None:
    data = StockHistoricalDataClient(KEY, SECRET, url_override=broker.url)
    trading = TradingClient(KEY, SECRET, url_override=broker.url)
    trading.get_account()  # connection and first-call costs out of the way
    latencies: list[float] = []
    done = threading.Event()

    def ask_for_the_account() -> None:
        while not done.is_set():
            began = time.perf_counter()
            trading.get_account()
            latencies.append(time.perf_counter() - began)
            done.wait(0.05)

    asker = threading.Thread(target=ask_for_the_account)
    asker.start()
    began = time.perf_counter()
    try:
        request = StockBarsRequest(
            symbol_or_symbols="SPY",
            timeframe=TimeFrame.Minute,
            start=datetime(2018, 12, 1, tzinfo=UTC),
            end=datetime(2019, 12, 1, tzinfo=UTC),
        )
        bars = data.get_stock_bars(request).data["SPY"]
    finally:
        took = time.perf_counter() - began
        done.set()
        asker.join()
    sessions = broker.engine.calendar.sessions_between(date(2018, 12, 1), date(2019, 11, 30))
    assert len(bars) == sum(s.minutes for s in sessions) > 90_000  # every page collected
    stamps = [b.timestamp for b in bars]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert len(latencies) >= 5, f"only {len(latencies)} account calls in {took:.1f} s of bars"
    assert max(latencies) < 1.0, f"account calls took up to {max(latencies):.2f} s during the bars request"
