"""Backtester benchmarks: the policy tables for 2004-2022 on the bundled data, and its speed next to bt's.

Run from the project root: ``python scripts/bench_backtest.py [--repeats 5] [--markdown]``.

* Both portfolios (60/40 SPY/AGG, and the diversified mix VTI/EFA/EEM/AGG/TIP/VNQ/GLD + 5% cash) run from
  2004-12-01, the first session of the first month in which every asset of the mix has data (GLD's first
  bundled session is 2004-11-18), to 2022-12-30, with every policy, the example config's execution settings
  and bands, the paper broker's cost model (calibrated spreads per symbol, square-root impact, no
  commission; the table in BENCHMARKS.md was measured on the earlier uniform 2 bps spread), dividends
  reinvested and $100,000 of starting capital.
* Wall time: loading the data, then simulating and measuring all policies (each policy's time is in the
  table).
* Speed next to ``bt``: calendar-monthly rebalancing of each portfolio with no costs, the configuration the
  test suite validates against bt to 1e-6; the same prices in memory for both; the median of ``--repeats``
  runs of each, in the same process. The equity curves' largest relative difference is printed too.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.backtest.costs import FREE  # noqa: E402
from bot.backtest.data import load_history  # noqa: E402
from bot.backtest.engine import SimOptions, simulate  # noqa: E402
from bot.backtest.policies import DIVERSIFIED, SIXTY_FORTY, Policy, policies_for  # noqa: E402
from bot.backtest.report import print_report  # noqa: E402
from bot.backtest.runner import Comparison, run_policies  # noqa: E402
from bot.config import load_config  # noqa: E402
from strategies.bands import Band, BandPolicy  # noqa: E402
from strategies.planner import PlannerSettings  # noqa: E402
from strategies.schedules import CalendarTrigger, Period, Periodic  # noqa: E402

START, END = date(2004, 12, 1), date(2022, 12, 30)
CONFIG = Path(__file__).resolve().parents[1] / "config" / "example.yaml"
PORTFOLIOS = {"60-40": SIXTY_FORTY, "diversified": DIVERSIFIED}


def markdown(comparison: Comparison) -> str:
    head = ("policy | CAGR | vol | max DD | Sharpe | TE | drift avg | drift max | days out | cycle | "
            "rebal. | orders | avg trade | turnover/yr | costs | bp/yr | s")  # fmt: skip
    lines = [f"| {head} |", "|" + "---|" * (head.count("|") + 1)]
    for m in comparison.metrics:
        cycle = "-" if m.cycle_speed is None else f"{m.cycle_speed:g}" + ("*" if m.open_breaches else "")
        cells = [m.policy, f"{m.cagr:.2%}", f"{m.volatility:.2%}", f"{m.max_drawdown:.1%}", f"{m.sharpe:.2f}",
                 f"{m.tracking_error:.2%}", f"{m.mean_drift * 100:.2f}pp", f"{m.max_drift * 100:.2f}pp",
                 f"{m.days_outside} ({m.share_outside:.0%})", cycle, str(m.rebalances), str(m.orders),
                 f"${m.avg_trade:,.0f}", f"{m.turnover:.1%}", f"${m.costs:,.0f}", f"{m.cost_bps:.2f}",
                 f"{m.seconds:.2f}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def monthly_as_bt() -> Policy:
    return Policy(
        name="monthly",
        description="calendar monthly, no buffer, no minimum trade (bt's conventions)",
        schedule=Periodic(Period.MONTH),
        trigger=CalendarTrigger(),
        bands=BandPolicy(Band(absolute=Decimal("0.05"))),
        settings=PlannerSettings(cash_buffer=Decimal(0), min_trade_notional=Decimal(0)),
        has_bands=False,
    )


def time_against_bt(history, targets, repeats: int) -> tuple[float, float, float]:  # noqa: ANN001
    import bt

    frame = history.frame()
    weights = {s: float(w) for s, w in targets.weights.items()}
    policy = monthly_as_bt()
    ours, theirs, equity, values = [], [], None, None
    for _ in range(repeats):
        started = time.perf_counter()
        equity = simulate(history, targets, policy, SimOptions(capital=1e6, costs=FREE)).equity
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        strategy = bt.Strategy(
            "monthly",
            [
                bt.algos.RunMonthly(),
                bt.algos.SelectAll(),
                bt.algos.WeighSpecified(**weights),
                bt.algos.Rebalance(),
            ],
        )
        test = bt.Backtest(strategy, frame, initial_capital=1e6, integer_positions=False, progress_bar=False)
        bt.run(test)
        theirs.append(time.perf_counter() - started)
        values = test.strategy.values.loc[frame.index].to_numpy()
    difference = float(np.max(np.abs(equity / values - 1)))
    return statistics.median(ours), statistics.median(theirs), difference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each side for the bt timing (median)")
    parser.add_argument(
        "--markdown", action="store_true", help="print the tables as markdown (BENCHMARKS.md)"
    )
    args = parser.parse_args()
    config = load_config(CONFIG)
    print(
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; {START} .. {END}"
    )
    timings = []
    for label, targets in PORTFOLIOS.items():
        started = time.perf_counter()
        history = load_history(targets.symbols, START, END)
        loaded = time.perf_counter() - started
        comparison = run_policies(
            history,
            targets,
            policies_for(["all"], config),
            SimOptions(),
            config.bands.to_policy(),
            label=label,
        )
        total = loaded + comparison.seconds
        print()
        if args.markdown:
            print(f"### {label}: {', '.join(f'{s} {w:.0%}' for s, w in targets.weights.items())}"
                  + (f", cash {targets.cash:.0%}" if targets.cash else ""))  # fmt: skip
            print()
            print(markdown(comparison))
        else:
            print_report(comparison)
        print(
            f"\n{label}: {len(history.days)} sessions x {len(history.symbols)} assets; load {loaded:.2f} s, "
            f"{len(comparison.runs)} policies simulated and measured in {comparison.seconds:.2f} s "
            f"(wall {total:.2f} s)"
        )
        ours, theirs, difference = time_against_bt(history, targets, args.repeats)
        timings.append((label, ours, theirs, difference))
    print("\ncalendar monthly, no costs, same prices in memory, median of", args.repeats, "runs:")
    for label, ours, theirs, difference in timings:
        print(
            f"  {label}: ours {ours * 1000:.0f} ms, bt {theirs * 1000:.0f} ms, "
            f"bt/ours = {theirs / ours:.1f}x; equity curves agree to {difference:.1e} (relative)"
        )


if __name__ == "__main__":
    main()
