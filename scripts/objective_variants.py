"""Objective variants against the bands, quickly: real history and a few resampled paths per portfolio.

Run from the project root::

    python scripts/objective_variants.py [--portfolios NAME ...] [--paths 6] '{}' '{"shape": 0.25}'

Each variant is a JSON object of :class:`strategies.objective.risk.RiskModel` fields, plus ``cash_drag``.
For every portfolio (default: the whole library) and variant, the frontier at the bench's 12 risk aversions
and every band baseline run on the four real-history periods of ``scripts/bench_objective.py`` and on
``--paths`` of its resampled paths (the same seeds). The number reported is the frontier's turnover-plus-cost
at each band's tracking error over the band's (``objective_report.curve_real``'s ratio), the median over
the 8 band baselines: below 1 the objective tracks as closely for less trading. No default preset is run,
which is what makes it quick (about 15 s per portfolio and variant): a screen for a change, to be confirmed by
the full bench. A change of code, not of a field, is compared by running this at the two commits.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_objective as bench  # noqa: E402
from objective_report import _burden_ratio  # noqa: E402

from bot.backtest.frontier import EDGE_BANDS, GAMMAS, Cell, run_baselines, run_frontier  # noqa: E402
from bot.backtest.library import LIBRARY  # noqa: E402
from strategies.objective import problem  # noqa: E402
from strategies.objective.risk import RiskModel  # noqa: E402
from strategies.simulation.path import SimContext  # noqa: E402

BANDS = ("band-5pp-monthly", *EDGE_BANDS)


def _cell(name: str, label: str, returns, days, start: int, end: int, risk: RiskModel, drag: float) -> Cell:  # noqa: ANN001
    _, _, targets, costs = bench.load(name)
    context = SimContext(returns, targets, costs, risk)
    baselines = run_baselines(context, days, start, end)
    return Cell(
        name, label, targets.size, baselines, run_frontier(context, GAMMAS, start, end, cash_drag=drag)
    )


def _ratio(cell: Cell) -> float:
    ratios = [r for r in (_burden_ratio(cell, b) for b in BANDS) if r is not None]
    return float(np.median(ratios)) if ratios else float("nan")


def job(args: tuple[str, str, int]) -> tuple[str, str, list[float], float]:
    """(portfolio, variant, median ratio per real period, median ratio over the paths' comparisons)."""
    name, variant, paths = args
    problem._layout.cache_clear()  # every job alike, whatever ran before it in its worker
    fields = json.loads(variant)
    drag = fields.pop("cash_drag", problem.DEFAULT_CASH_DRAG)
    risk = RiskModel(**fields)
    history, returns, _, _ = bench.load(name)
    real = []
    for first, last in bench.PERIODS.values():
        start = max(history.first_on_or_after(first), 1)
        end = max(i for i, d in enumerate(history.days) if d <= last)
        real.append(_ratio(_cell(name, "real", returns, history.days, start, end, risk, drag)))
    pooled = []
    for label, path, days in bench.resampled_paths(name, paths, 4, list(LIBRARY).index(name)):
        cell = _cell(name, label, path, days, bench.WARMUP, path.shape[0] - 1, risk, drag)
        pooled += [r for r in (_burden_ratio(cell, b) for b in BANDS) if r is not None]
    return name, variant, real, float(np.median(pooled)) if pooled else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="*", default=["{}"], help="JSON RiskModel fields (+ cash_drag)")
    parser.add_argument("--portfolios", nargs="*", default=list(LIBRARY))
    parser.add_argument("--paths", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    jobs = [(n, v, args.paths) for n in args.portfolios for v in args.variants]
    print(f"| portfolio | variant | {' | '.join(bench.PERIODS)} | {args.paths} resampled paths |")
    print("|" + "---|" * (len(bench.PERIODS) + 3))
    with ProcessPoolExecutor(args.workers) as pool:
        for name, variant, real, resampled in pool.map(job, jobs):
            cells = " | ".join(f"{r:.2f}" for r in real)
            print(f"| {name} | `{variant}` | {cells} | {resampled:.2f} |", flush=True)


if __name__ == "__main__":
    main()
