"""Benchmarks of the bot's cycle: broker requests per idle cycle and per rebalance, and the cycle's CPU time.

Run from the project root: ``python scripts/bench_bot.py [--repeats 5]``. The bot talks to an in-process paper
broker over HTTP (manual clock, stepped by the script). Requests are counted by the bot's own adapter, at the
HTTP session. CPU time is the bot thread's own (``time.thread_time``): the broker serves from another thread,
so its work is not counted. The 20-symbol case uses the bundled data; the larger case uses every ETF with real
OHLC in 2019 from ``../shared/data/etf_daily`` when that folder is present (28 symbols).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bot.broker.alpaca import AlpacaBroker
from bot.config import BotConfig
from bot.logging_setup import configure_logging
from bot.paper_broker.accounts import AccountsFile, AccountSpec, StartingLot, StartingPosition
from bot.paper_broker.faults import FaultConfig
from bot.paper_broker.marketdata import MarketData
from bot.paper_broker.server import ClockConfig, PaperBroker, ServerConfig
from bot.state.store import StateStore
from bot.worker import Bot

KEY, SECRET = "bench-key", "bench-secret"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "etf_daily"
DAY = date(2019, 12, 17)
OPEN = datetime(2019, 12, 17, 14, 30, tzinfo=UTC)


class BrokerTime:
    def __init__(self, broker: PaperBroker) -> None:
        self.broker = broker

    def now(self) -> datetime:
        return self.broker.now


def holdings(data: MarketData, symbols: list[str], drift: bool) -> tuple[StartingPosition, ...]:
    """$10,000 in each symbol at the last close before the day; with ``drift`` the first one holds 3x."""
    positions = []
    for n, symbol in enumerate(symbols):
        bar = data.last_bar_on_or_before(symbol, DAY - timedelta(days=1))
        value = Decimal(30000 if drift and n == 0 else 10000)
        qty = (value / Decimal(str(bar.close))).quantize(Decimal("0.001"))
        lot = StartingLot(qty=qty, price=Decimal(str(bar.close)), date=date(2019, 1, 2))
        positions.append(StartingPosition(symbol=symbol, lots=(lot,)))
    return tuple(positions)


def make_bot(
    workdir: Path, symbols: list[str], data_dir: Path | None, drift: bool
) -> tuple[PaperBroker, Bot, AlpacaBroker]:
    data = MarketData.from_dir(data_dir, symbols) if data_dir else MarketData.bundled(symbols)
    accounts = AccountsFile(
        accounts=(
            AccountSpec(
                name="main",
                key_id=KEY,
                secret_key=SECRET,
                cash=Decimal(500),
                positions=holdings(data, symbols, drift),
            ),
        )
    )
    broker = PaperBroker(
        ServerConfig(
            accounts=accounts,
            clock=ClockConfig(start=DAY),
            symbols=tuple(symbols),
            data_dir=data_dir,
            database=workdir / f"b{time.monotonic_ns()}.sqlite",
            faults=FaultConfig(rate_limit_per_minute=None),
        )
    ).start()
    weight = 1 / len(symbols)
    config = BotConfig.model_validate(
        {
            "accounts": [{"name": "main", "broker": "embedded", "base_url": broker.url}],
            "targets": {
                **{s: round(weight, 6) for s in symbols[:-1]},
                symbols[-1]: round(1 - round(weight, 6) * (len(symbols) - 1), 6),
            },
            "bands": {"default": {"absolute": 0.05, "relative": 0.5}},
            "schedule": {"interval_minutes": 5, "skip_first_minutes": 0},
            "execution": {"cash_buffer": 0.001},
            "approval": {"mode": "never"},
            "limits": {"max_order_notional": 10**6, "max_plan_notional": 10**7, "max_daily_notional": 10**8},
            "state_dir": str(workdir),
        }
    )
    adapter = AlpacaBroker(KEY, SECRET, trading_url=broker.url)
    bot = Bot(
        config,
        {"main": adapter},
        StateStore(workdir / f"s{time.monotonic_ns()}.sqlite"),
        clock=BrokerTime(broker),
    )
    return broker, bot, adapter


def idle_cycles(
    workdir: Path, symbols: list[str], data_dir: Path | None, cycles: int
) -> tuple[list[int], list[float]]:
    """Requests and CPU seconds of cycles that find the portfolio inside its bands."""
    broker, bot, adapter = make_bot(workdir, symbols, data_dir, drift=False)
    requests, cpu = [], []
    try:
        bot.tick()  # start-up: reconciliation and the asset lookups (cached afterwards)
        for _ in range(cycles):
            broker.advance(minutes=5)
            before, started = adapter.request_count, time.thread_time()
            outcome = bot.tick()["main"]
            cpu.append(time.thread_time() - started)
            requests.append(adapter.request_count - before)
            assert outcome.action == "within bands", outcome
    finally:
        broker.stop()
    return requests, cpu


def rebalance(workdir: Path, symbols: list[str], data_dir: Path | None) -> tuple[int, int, float]:
    """Requests from the cycle that plans a rebalance until the plan is done; its orders; planning CPU."""
    broker, bot, adapter = make_bot(workdir, symbols, data_dir, drift=True)
    try:
        bot.tick()
        broker.advance(minutes=5)
        before, started = adapter.request_count, time.thread_time()
        first = bot.tick()["main"]
        cpu = time.thread_time() - started
        plan_id = first.plan_id
        assert plan_id, first
        while bot.store.get_plan(plan_id).status != "done":
            broker.advance(minutes=1)
            bot.tick()
        orders = len(bot.store.orders(plan_id=plan_id))
        return adapter.request_count - before, orders, cpu
    finally:
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    configure_logging(None, level="ERROR", console=False)
    cases = [("20 symbols (bundled)", sorted(MarketData.bundled().symbols), None)]
    if SHARED.is_dir():
        shared = MarketData.from_dir(SHARED)
        tradable = [s for s in shared.symbols if shared.daily_bar(s, DAY) is not None]
        cases.append((f"{len(tradable)} symbols (../shared)", tradable, SHARED))
    print(
        "| case | requests per idle cycle | idle cycle CPU ms (median) | requests per rebalance (orders) "
        "| planning cycle CPU ms (median) |"
    )
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for label, symbols, data_dir in cases:
            requests, cpu = idle_cycles(Path(tmp), symbols, data_dir, cycles=args.repeats * 4)
            runs = [rebalance(Path(tmp), symbols, data_dir) for _ in range(args.repeats)]
            print(
                f"| {label} | {statistics.median(requests):.0f} | {statistics.median(cpu) * 1000:.1f} "
                f"| {statistics.median(r[0] for r in runs):.0f} ({runs[0][1]} orders) "
                f"| {statistics.median(r[2] for r in runs) * 1000:.1f} |"
            )


if __name__ == "__main__":
    main()
