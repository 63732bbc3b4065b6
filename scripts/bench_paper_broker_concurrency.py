"""Trading calls while a large bars request runs: how long ``GET /v2/account`` takes meanwhile.

Run from the project root: ``python scripts/bench_paper_broker_concurrency.py [--calls 100]``. One thread
fetches 1-minute SPY bars over 2015-2019 page by page (10,000 bars a page, as alpaca-py asks) while the main
thread sends ``GET /v2/account`` ``--calls`` times, 20 ms apart; prints the latency percentiles of those calls
and of the same calls with no bars request running, as a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import requests

from bot.paper_broker.accounts import AccountsFile, AccountSpec
from bot.paper_broker.faults import FaultConfig
from bot.paper_broker.server import ClockConfig, PaperBroker, ServerConfig

KEY, SECRET = "bench-key", "bench-secret"
HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}


def account_latencies(session: requests.Session, url: str, calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        began = time.perf_counter()
        session.get(f"{url}/v2/account", headers=HEADERS, timeout=60).raise_for_status()
        out.append(time.perf_counter() - began)
        time.sleep(0.02)
    return out


def fetch_bars(url: str, stop: threading.Event, counts: list[int]) -> None:
    """Page through 2015-2019 1-minute SPY bars until done or told to stop; counts bars and pages."""
    session, token = requests.Session(), None
    params = {
        "symbols": "SPY",
        "timeframe": "1Min",
        "start": "2015-01-01",
        "end": "2019-12-31",
        "limit": 10000,
    }
    while not stop.is_set():
        body = session.get(
            f"{url}/v2/stocks/bars", params={**params, **({"page_token": token} if token else {})},
            headers=HEADERS, timeout=600,
        ).json()  # fmt: skip
        counts[0] += len(body["bars"].get("SPY", []))
        counts[1] += 1
        token = body["next_page_token"]
        if token is None:
            return


def row(name: str, latencies: list[float]) -> str:
    ms = np.array(latencies) * 1000
    return f"| {name} | {len(ms)} | {np.median(ms):.1f} | {np.percentile(ms, 99):.1f} | {ms.max():.1f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        accounts = AccountsFile(
            accounts=(AccountSpec(name="bench", key_id=KEY, secret_key=SECRET, cash=Decimal(100_000)),)
        )
        config = ServerConfig(
            accounts=accounts,
            database=Path(workdir) / "bench.sqlite",
            clock=ClockConfig(start=date(2020, 1, 2)),
            faults=FaultConfig(rate_limit_per_minute=None),
            symbols=("SPY",),
        )
        with PaperBroker(config) as broker:
            session = requests.Session()
            quiet = account_latencies(session, broker.url, args.calls)
            stop, counts = threading.Event(), [0, 0]
            fetcher = threading.Thread(target=fetch_bars, args=(broker.url, stop, counts))
            began = time.perf_counter()
            fetcher.start()
            busy = account_latencies(session, broker.url, args.calls)
            busy_done = fetcher.is_alive()
            fetcher.join()
            took = time.perf_counter() - began
    print("| GET /v2/account | calls | median ms | p99 ms | max ms |")
    print("|---|---|---|---|---|")
    print(row("alone", quiet))
    print(row("while 1-minute bars 2015-2019 are paged", busy))
    print(
        f"\nbars: {counts[0]} in {counts[1]} pages, {took:.1f} s; "
        f"still running when the calls ended: {busy_done}"
    )


if __name__ == "__main__":
    main()
