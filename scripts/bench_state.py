"""Benchmark of the state store: the time of the calls the bot makes every tick, and of an order's writes.

Run from the project root: ``python scripts/bench_state.py [--repeats 5] [--url postgresql+psycopg://...]``.
Each case opens a store (a SQLite file in a temp dir, the in-memory scratch store, and the ``--url`` database
when given), loads a plan with 20 orders, then times each call (median microseconds per call over the
repeats, each repeat the mean of 200 calls). The reads are the bot's per-tick questions (halted?, unfinished
plans, pending approvals, the latest audit event); the writes are one order's write-ahead record, its
acceptance and an audit event, each its own durable transaction (on SQLite, fsync'd WAL).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from itertools import count
from pathlib import Path

from bot.state.store import StateStore

T0 = datetime(2019, 12, 17, 15, 0, tzinfo=UTC)
CALLS = 200


def load(store: StateStore) -> None:
    store.save_plan("p1", "run", "main", "h" * 64, "executing", "bench", {"orders": []}, T0)
    for n in range(20):
        store.record_order(
            f"p1-{n}",
            "p1",
            "main",
            n,
            "SPY",
            "buy",
            Decimal(3),
            None,
            "market",
            None,
            est_notional=Decimal(900),
        )


def order(store: StateStore, cid: str, seq: int) -> None:
    qty, price = Decimal(3), Decimal(300)
    store.record_order(
        cid, "p1", "main", seq, "SPY", "buy", qty, None, "market", None, est_notional=qty * price
    )


def cases(store: StateStore) -> dict[str, Callable[[], object]]:
    ids = count(1000)

    def order_writes() -> None:
        cid = f"p1-{next(ids)}"
        store.record_order(
            cid,
            "p1",
            "main",
            int(cid[3:]),
            "SPY",
            "buy",
            Decimal(3),
            None,
            "market",
            None,
            est_notional=Decimal(9),
        )
        store.update_order(cid, broker_id=f"b-{cid}", status="new", submitted_at=T0)
        store.audit("order_submitted", account="main", client_order_id=cid)

    return {
        "get_flag (halted?)": lambda: store.get_flag("halted"),
        "unfinished_plans": lambda: store.unfinished_plans("main"),
        "pending_approvals": store.pending_approvals,
        "audit_trail(limit=1)": lambda: store.audit_trail(limit=1),
        "get_order": lambda: store.get_order("p1-7"),
        "orders(open_only)": lambda: store.orders(account="main", open_only=True),
        "an order's 3 writes": order_writes,
    }


def calls(name: str) -> int:
    return CALLS // 4 if "writes" in name else CALLS  # each write is an fsync'd transaction


def timed(call: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--url", default=None, help="a PostgreSQL URL (an empty database) to measure too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        targets: dict[str, Path | str | None] = {"SQLite file": Path(tmp) / "bot.sqlite", "in memory": None}
        if args.url:
            targets["PostgreSQL"] = args.url
        results: dict[str, dict[str, float]] = {}
        for label, target in targets.items():
            with StateStore(target) as store:
                load(store)
                results[label] = {
                    name: statistics.median(
                        timed(call, CALLS if "writes" not in name else CALLS // 4)
                        for _ in range(args.repeats)
                    )
                    for name, call in cases(store).items()
                }
    labels = list(results)
    print("| call | " + " | ".join(f"{label}, µs" for label in labels) + " |")
    print("|---|" + "---|" * len(labels))
    for name in next(iter(results.values())):
        print(f"| {name} | " + " | ".join(f"{results[label][name]:.0f}" for label in labels) + " |")


if __name__ == "__main__":
    main()
