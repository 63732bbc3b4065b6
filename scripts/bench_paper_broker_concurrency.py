"""Trading calls while a large bars request runs: how long ``GET /v2/account`` takes meanwhile.

Run from the project root: ``python scripts/bench_paper_broker_concurrency.py [--calls 100] [--runs 3]``.
Each run starts an in-process paper broker; a bars client fetches 1-minute SPY bars over 2015-2019 page by
page (10,000 bars a page, as alpaca-py asks) and, once its first page is in (so a worker process, where the
broker has one, is up), the main thread sends ``GET /v2/account`` ``--calls`` times, 20 ms apart. Prints, as
Markdown for BENCHMARKS.md, the median/p99/max latency of those calls, of the same calls with no bars
request running, how long the bars request took (first page, all pages) and the CPU time the broker's own
process spent meanwhile (all its threads, the account calls included; a worker process's is not).

The bars client runs in a process of its own by default, as another program downloading bars would: its
JSON parsing then does not compete for the broker's interpreter. ``--bars-client thread`` runs it on a
thread of the broker's process instead (a bot fetching bars from the broker it embeds).
"""

from __future__ import annotations

import argparse
import multiprocessing
import queue
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import requests

from bot.paper_broker.accounts import AccountsFile, AccountSpec
from bot.paper_broker.faults import FaultConfig
from bot.paper_broker.server import ClockConfig, PaperBroker, ServerConfig

KEY, SECRET = "bench-key", "bench-secret"
HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
BARS = {"symbols": "SPY", "timeframe": "1Min", "start": "2015-01-01", "end": "2019-12-31", "limit": 10000}


def account_latencies(session: requests.Session, url: str, calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        began = time.perf_counter()
        session.get(f"{url}/v2/account", headers=HEADERS, timeout=60).raise_for_status()
        out.append(time.perf_counter() - began)
        time.sleep(0.02)
    return out


def fetch_bars(url: str, first_page: Any, results: Any) -> None:
    """Page through 2015-2019 1-minute SPY bars; sets the event ``first_page`` after the first, then puts
    (bars, pages, seconds to the first page, seconds in all, wall time at the end) on ``results``."""
    session, token, bars, pages = requests.Session(), None, 0, 0
    began = time.perf_counter()
    first = 0.0
    while True:
        params = {**BARS, **({"page_token": token} if token else {})}
        response = session.get(f"{url}/v2/stocks/bars", params=params, headers=HEADERS, timeout=600)
        body = response.json()
        bars, pages = bars + len(body["bars"].get("SPY", [])), pages + 1
        if pages == 1:
            first = time.perf_counter() - began
            first_page.set()
        token = body["next_page_token"]
        if token is None:
            results.put((bars, pages, first, time.perf_counter() - began, time.time()))
            return


@dataclass
class Run:
    quiet: list[float]
    busy: list[float]
    bars: int
    pages: int
    first_page: float
    all_pages: float
    overlapped: bool  # the bars request was still running when the last account call ended
    cpu: float  # CPU seconds of the broker's process (all its threads) from the bars request's start to end


def one_run(calls: int, bars_client: str) -> Run:
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
            quiet = account_latencies(session, broker.url, calls)
            if bars_client == "process":
                context = multiprocessing.get_context("spawn")
                first_page, results = context.Event(), context.Queue()
                fetcher = context.Process(target=fetch_bars, args=(broker.url, first_page, results))
            else:
                first_page, results = threading.Event(), queue.Queue()
                fetcher = threading.Thread(target=fetch_bars, args=(broker.url, first_page, results))
            cpu = time.process_time()
            fetcher.start()
            first_page.wait()
            busy = account_latencies(session, broker.url, calls)
            calls_ended = time.time()
            bars, pages, first, took, bars_ended = results.get()
            cpu = time.process_time() - cpu
            fetcher.join()
    return Run(quiet, busy, bars, pages, first, took, bars_ended > calls_ended, cpu)


def stats(latencies: list[float]) -> tuple[float, float, float]:
    ms = np.array(latencies) * 1000
    return float(np.median(ms)), float(np.percentile(ms, 99)), float(ms.max())


def report(runs: list[Run], calls: int, bars_client: str) -> None:
    print(f"bars client: {bars_client}; {calls} account calls per run; medians over {len(runs)} runs\n")
    print("| GET /v2/account | median ms | p99 ms | max ms | runs: median / p99 / max ms |")
    print("|---|---|---|---|---|")
    for name, pick in (("alone", lambda r: r.quiet), ("while the bars are paged", lambda r: r.busy)):
        each = [stats(pick(r)) for r in runs]
        medians = [statistics.median(column) for column in zip(*each, strict=True)]
        detail = ", ".join("/".join(f"{v:.1f}" for v in s) for s in each)
        print(f"| {name} | {medians[0]:.1f} | {medians[1]:.1f} | {medians[2]:.1f} | {detail} |")
    first = statistics.median(r.first_page for r in runs)
    took = statistics.median(r.all_pages for r in runs)
    print(
        f"\nbars: {runs[0].bars} in {runs[0].pages} pages; first page {first:.2f} s, all pages {took:.1f} s "
        f"(runs: {', '.join(f'{r.all_pages:.1f}' for r in runs)}); still running when the calls ended: "
        f"{all(r.overlapped for r in runs)}; CPU of the broker's process meanwhile "
        f"{statistics.median(r.cpu for r in runs):.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bars-client", choices=("process", "thread"), default="process")
    args = parser.parse_args()
    runs = [one_run(args.calls, args.bars_client) for _ in range(args.runs)]
    report(runs, args.calls, args.bars_client)


if __name__ == "__main__":
    main()
