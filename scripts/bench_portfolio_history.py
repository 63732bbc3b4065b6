"""How long ``GET /v2/account/portfolio/history`` takes to rebuild an account's equity, per resolution.

Run from the project root: ``python scripts/bench_portfolio_history.py [--repeats 3]``. An in-process paper
broker starts at the open of 2019-12-17 with $100,000 and 80 SPY, buys 10 shares of five more ETFs, steps to
2020-01-15 15:00 New York (20 sessions later, with the dividends paid on the way), then asks for the
history in the resolutions below over HTTP. Prints a Markdown table (median of the repeats, and each run)
for BENCHMARKS.md. The first request of each run also builds the intraday paths it needs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import requests

from bot.paper_broker.accounts import AccountsFile, AccountSpec, StartingLot, StartingPosition
from bot.paper_broker.faults import FaultConfig
from bot.paper_broker.server import ClockConfig, PaperBroker, ServerConfig

KEY, SECRET = "bench-key", "bench-secret"
HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
QUERIES = {
    "1Min, 6 days, market hours": {"timeframe": "1Min", "period": "6D"},
    "15Min, 30 days, market hours": {"timeframe": "15Min", "period": "30D"},
    "1Min, 30 days, continuous": {"timeframe": "1Min", "period": "30D", "intraday_reporting": "continuous"},
    "1D, 1 year": {"period": "1A"},
}


def accounts() -> AccountsFile:
    lot = StartingLot(qty=Decimal(80), price=Decimal(270), date=date(2018, 3, 1))
    spy = StartingPosition(symbol="SPY", lots=(lot,))
    spec = AccountSpec(name="bench", key_id=KEY, secret_key=SECRET, cash=Decimal(100_000), positions=(spy,))
    return AccountsFile(accounts=(spec,))


def one_run(folder: Path) -> dict[str, tuple[float, int]]:
    config = ServerConfig(
        accounts=accounts(),
        clock=ClockConfig(start=date(2019, 12, 17)),
        database=folder / "broker.sqlite",
        faults=FaultConfig(rate_limit_per_minute=None),
        reset=True,
    )
    with PaperBroker(config) as broker:
        session = requests.Session()
        for symbol in ("VTI", "AGG", "TLT", "GLD", "IEF"):
            order = {"symbol": symbol, "qty": "10", "side": "buy", "type": "market", "time_in_force": "day"}
            sent = session.post(f"{broker.url}/v2/orders", json=order, headers=HEADERS, timeout=60)
            sent.raise_for_status()
        broker.advance(minutes=2)
        broker.advance_to(datetime(2020, 1, 15, 20, 0, tzinfo=UTC))
        out = {}
        for name, params in QUERIES.items():
            began = time.perf_counter()
            response = session.get(
                f"{broker.url}/v2/account/portfolio/history", params=params, headers=HEADERS, timeout=600
            )
            response.raise_for_status()
            out[name] = (time.perf_counter() - began, len(response.json()["timestamp"]))
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as folder:
            runs.append(one_run(Path(folder)))
    print("| query | points | median s | runs s |")
    print("|---|---|---|---|")
    for name in QUERIES:
        seconds = [run[name][0] for run in runs]
        listed = ", ".join(f"{s:.2f}" for s in seconds)
        print(f"| {name} | {runs[0][name][1]} | {statistics.median(seconds):.2f} | {listed} |")


if __name__ == "__main__":
    main()
