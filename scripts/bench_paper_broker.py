"""Benchmarks of the paper broker: request throughput and how fast it simulates a trading year.

Run from the project root: ``python scripts/bench_paper_broker.py [--repeats 3]``. Prints a Markdown table
for BENCHMARKS.md. Everything runs on loopback against an in-process server (uvicorn in a thread, SQLite in a
temporary directory), so the client and server share the machine's two cores, as the bot and the broker do.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import requests

from bot.paper_broker.accounts import AccountsFile, AccountSpec
from bot.paper_broker.faults import FaultConfig
from bot.paper_broker.server import ClockConfig, PaperBroker, ServerConfig

SYMBOLS = ("SPY", "AGG", "VTI", "VEA", "VWO", "TIP", "VNQ", "GLD", "IEF", "TLT")
KEY, SECRET = "bench-key", "bench-secret"
HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}


def make_broker(workdir: Path, start: date) -> PaperBroker:
    accounts = AccountsFile(
        accounts=(AccountSpec(name="bench", key_id=KEY, secret_key=SECRET, cash=Decimal("1000000000")),)
    )
    config = ServerConfig(
        accounts=accounts,
        database=workdir / f"bench-{time.monotonic_ns()}.sqlite",
        clock=ClockConfig(start=start),
        faults=FaultConfig(rate_limit_per_minute=None),
        symbols=SYMBOLS,
    )
    return PaperBroker(config).start()


def requests_per_second(broker: PaperBroker, kind: str, total: int, threads: int) -> float:
    """Send ``total`` requests from ``threads`` client threads (one keep-alive session each)."""

    def worker(count: int, offset: int) -> None:
        session = requests.Session()
        for n in range(count):
            if kind == "orders":
                body = {
                    "symbol": "SPY",
                    "qty": "1",
                    "side": "buy",
                    "type": "limit",
                    "time_in_force": "gtc",
                    "limit_price": "100",
                    "client_order_id": f"bench-{offset}-{n}-{time.monotonic_ns()}",
                }
                answer = session.post(f"{broker.url}/v2/orders", json=body, headers=HEADERS, timeout=10)
            else:
                answer = session.get(f"{broker.url}/v2/positions", headers=HEADERS, timeout=10)
            answer.raise_for_status()

    per_thread = total // threads
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, [per_thread] * threads, range(threads)))
    return per_thread * threads / (time.perf_counter() - started)


def seed_positions(broker: PaperBroker) -> None:
    for symbol in SYMBOLS:
        body = {
            "symbol": symbol,
            "notional": "10000",
            "side": "buy",
            "type": "market",
            "time_in_force": "day",
        }
        requests.post(f"{broker.url}/v2/orders", json=body, headers=HEADERS, timeout=10).raise_for_status()
    broker.advance(minutes=2)


def simulated_year(workdir: Path, with_orders: bool) -> tuple[float, int]:
    """Step through 2019 session by session; optionally quote and trade all 10 symbols every day over HTTP."""
    broker = make_broker(workdir, date(2019, 1, 2))
    session = requests.Session()
    end = datetime(2020, 1, 1, tzinfo=UTC)
    sessions = 0
    started = time.perf_counter()
    while broker.now < end:
        if with_orders and broker.engine.calendar.is_open(broker.now):
            quotes = session.get(
                f"{broker.url}/v2/stocks/quotes/latest",
                params={"symbols": ",".join(SYMBOLS)},
                headers=HEADERS,
                timeout=10,
            )
            quotes.raise_for_status()
            for n, symbol in enumerate(SYMBOLS):
                side = "buy" if (sessions + n) % 2 == 0 or sessions == 0 else "sell"
                notional = "1000" if side == "buy" else "400"
                body = {
                    "symbol": symbol,
                    "notional": notional,
                    "side": side,
                    "type": "market",
                    "time_in_force": "day",
                }
                session.post(
                    f"{broker.url}/v2/orders", json=body, headers=HEADERS, timeout=10
                ).raise_for_status()
        broker.advance(hours=24)
        sessions += 1
    elapsed = time.perf_counter() - started
    broker.stop()
    return elapsed, sessions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        results: dict[str, list[float]] = {"orders": [], "positions": [], "year_idle": [], "year_trading": []}
        for _ in range(args.repeats):
            broker = make_broker(workdir, date(2019, 12, 17))
            seed_positions(broker)
            results["positions"].append(requests_per_second(broker, "positions", args.requests, 2))
            results["orders"].append(requests_per_second(broker, "orders", args.requests, 2))
            broker.stop()
            results["year_idle"].append(simulated_year(workdir, with_orders=False)[0])
            results["year_trading"].append(simulated_year(workdir, with_orders=True)[0])
    print(f"| measure | median of {args.repeats} | runs |")
    print("|---|---|---|")
    rows = [
        ("POST /v2/orders (resting limit orders), requests/s, 2 client threads", "orders", "{:.0f}"),
        ("GET /v2/positions (10 positions), requests/s, 2 client threads", "positions", "{:.0f}"),
        ("one simulated year (2019), 10 symbols, clock only, seconds", "year_idle", "{:.2f}"),
        (
            "one simulated year (2019), 10 symbols, quotes + 10 orders every session over HTTP, seconds",
            "year_trading",
            "{:.2f}",
        ),
    ]
    for label, key, fmt in rows:
        values = results[key]
        print(
            f"| {label} | {fmt.format(statistics.median(values))} "
            f"| {', '.join(fmt.format(v) for v in values)} |"
        )


if __name__ == "__main__":
    main()
