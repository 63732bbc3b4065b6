"""The objective (issue 14) against every built-in baseline, on a library of portfolios, walk-forward, on
real history and on resampled histories.

Run from the project root::

    python scripts/bench_objective.py [--paths 200] [--years 6] [--workers 2] [--markdown] [--plot PNG]
                                      [--json OUT] [--portfolios NAME ...] [--save DIR]

* **Portfolios**: the 17 of ``bot/backtest/library.py`` (2 to 12 assets, four with cash).
* **Costs**: the paper broker's model (``bot/backtest/costs.CostModel``: half-spread, square-root impact
  with the data's volatility and dollar volume, a $100,000 account), the same in every policy and in the
  objective's own decision.
* **Walk-forward**: every forecast and every fitted risk aversion uses only returns before the session it
  decides; real-history periods start with the history before them available as such, never traded.
* **Real history**: 2004-12 .. 2022 and its sub-periods 2004-12 .. 2009, 2010 .. 2015, 2016 .. 2022.
* **Resampled histories**: ``--paths`` per portfolio, a stationary bootstrap (``arch``) of the portfolio's
  daily return rows (all assets of a session together) with a mean block of 21 sessions (a month), each
  ``--years`` long after two years of warm-up for the risk forecasts. Fixed seeds, by the portfolio's
  place in the library, and every job starts with no solvers: a run of some portfolios (``--portfolios``)
  gives exactly their rows of a full run, whatever ``--workers``.
* **Frontier**: the objective at fixed risk aversions (``bot.backtest.frontier.GAMMAS``); "dominates" means
  some risk aversion has both lower tracking error and lower turnover-plus-cost than the baseline. The
  baselines, the runs and the verdicts are ``bot/backtest/frontier.py``, shared with ``rebalance-bot tune``.
* **Default**: the ``balanced`` preset (tracking error 6% of the portfolio's volatility), refitted every
  quarter on the trailing two years (``strategies.objective.calibrate``), on real history.

The simulation is ``strategies/simulation`` (weight space, the same decisions; checked against the
backtester's planner in ``tests/strategies/simulation``). Progress and the time left go to stderr.
"""

from __future__ import annotations

import argparse
import functools
import json
import pickle
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.backtest.data import PriceHistory, load_history  # noqa: E402
from bot.backtest.frontier import (  # noqa: E402
    ACCOUNT,
    Cell,
    daily_returns,
    run_cell,
    sim_costs,
)
from bot.backtest.library import LIBRARY  # noqa: E402
from strategies.objective import problem  # noqa: E402
from strategies.objective.calibrate import TrackingTarget  # noqa: E402
from strategies.objective.risk import RiskModel  # noqa: E402
from strategies.simulation.path import SimCosts  # noqa: E402
from strategies.targets import TargetAllocation  # noqa: E402

END = date(2022, 12, 30)
PERIODS = {
    "2004-12..2022": (date(2004, 12, 1), END),
    "2004-12..2009": (date(2004, 12, 1), date(2009, 12, 31)),
    "2010..2015": (date(2010, 1, 1), date(2015, 12, 31)),
    "2016..2022": (date(2016, 1, 1), END),
}
WARMUP = 504
BLOCK = 21
TARGET = TrackingTarget.preset("balanced")


# -- data ---------------------------------------------------------------------------------------------------


@functools.cache
def load(name: str) -> tuple[PriceHistory, np.ndarray, np.ndarray, SimCosts]:
    """History of the portfolio's assets, its returns (row 0 zero, row t into close t), targets, costs;
    read once per process (a worker runs many chunks of the same portfolio's paths)."""
    allocation: TargetAllocation = LIBRARY[name]
    history = load_history(allocation.symbols, None, END)
    returns = daily_returns(history)
    targets = np.array([float(allocation.weight(s)) for s in history.symbols])
    costs = sim_costs(history, returns, ACCOUNT)
    returns.flags.writeable = targets.flags.writeable = False  # shared by every run of the process
    return history, returns, targets, costs


def real_cells(name: str, risk: RiskModel | None = None) -> list[Cell]:
    history, returns, targets, costs = load(name)
    cells = []
    for label, (first, last) in PERIODS.items():
        start = max(history.first_on_or_after(first), 1)
        end = max(i for i, d in enumerate(history.days) if d <= last)
        cells.append(
            run_cell(name, label, returns, history.days, targets, costs, start, end, TARGET, risk=risk)
        )
    return cells


def bootstrap_cells(
    name: str, paths: int, years: int, seed: int, risk: RiskModel | None = None
) -> list[Cell]:
    _, _, targets, costs = load(name)
    return [
        run_cell(name, label, path, days, targets, costs, WARMUP, path.shape[0] - 1, risk=risk)
        for label, path, days in resampled_paths(name, paths, years, seed)
    ]


def resampled_paths(
    name: str, paths: int, years: int, seed: int
) -> Iterator[tuple[str, np.ndarray, tuple[date, ...]]]:
    """(label, returns with row 0 zero, session dates) of each resampled path of the portfolio's returns."""
    from arch.bootstrap import StationaryBootstrap

    _, returns, targets, _ = load(name)
    length = WARMUP + years * 252
    days = _calendar()[: length + 1]
    sampler = StationaryBootstrap(BLOCK, returns[1:], seed=np.random.default_rng(seed))
    for i, (positional, _) in enumerate(sampler.bootstrap(paths)):
        yield f"path {i}", np.vstack([np.zeros(targets.size), positional[0][:length]]), days


@functools.cache
def _calendar() -> tuple[date, ...]:
    """Session dates the resampled paths are laid on (they only set the calendar baselines' checks)."""
    return tuple(load_history(["SPY"], date(2003, 1, 2), END).days)


# -- the run ------------------------------------------------------------------------------------------------


def _job(args: tuple) -> list[Cell]:
    kind, name, paths, years, seed, shape = args
    risk = RiskModel(shape=shape)
    # Clarabel scales every later update of a solver by the first problem it was built with; without this a
    # job's numbers would depend (within the solver's tolerance) on which jobs its worker ran before it
    problem._layout.cache_clear()
    return real_cells(name, risk) if kind == "real" else bootstrap_cells(name, paths, years, seed, risk)


def _run(jobs: list[tuple], workers: int, started: float, save: Path | None) -> list[list[Cell]]:
    """Every job's cells, in the order of ``jobs``; progress and the time left on stderr. With ``save``,
    each job's cells are kept there as it finishes and a job already kept is not run again, so a long run
    can be resumed, or reported on with a smaller ``--paths`` (the first chunks of every portfolio)."""
    results: list[list[Cell] | None] = [None] * len(jobs)
    kept = [None if save is None else save / ("_".join(map(str, job)) + ".pickle") for job in jobs]
    for i, file in enumerate(kept):
        if file is not None and file.exists():
            results[i] = pickle.loads(file.read_bytes())
    todo = [i for i, r in enumerate(results) if r is None]
    with ProcessPoolExecutor(workers) as pool:
        futures = {pool.submit(_job, jobs[i]): i for i in todo}
        for done, future in enumerate(as_completed(futures), start=1):
            i = futures[future]
            results[i] = future.result()
            if (file := kept[i]) is not None:
                file.with_suffix(".tmp").write_bytes(pickle.dumps(results[i]))
                file.with_suffix(".tmp").rename(file)
            elapsed = time.perf_counter() - started
            left = elapsed / done * (len(todo) - done)
            print(f"{done}/{len(todo)} jobs, {elapsed:.0f} s, about {left:.0f} s left", file=sys.stderr)
    return [r for r in results if r is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", type=int, default=200)
    parser.add_argument("--years", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--portfolios", nargs="*", default=list(LIBRARY))
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--plot", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--save", type=Path, help="keep each job's cells in this folder; a job kept there is not rerun"
    )
    parser.add_argument(
        "--shape", type=float, default=RiskModel().shape, help="RiskModel.shape (1: one-period)"
    )
    parser.add_argument(
        "--skip-real", action="store_true", help="resampled paths only (--paths 0: real only)"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    jobs = [] if args.skip_real else [("real", n, 0, 0, 0, args.shape) for n in args.portfolios]
    chunks = max(1, args.paths // 10)  # bootstrap paths in chunks, so both workers stay busy
    # seeds by the portfolio's place in the library: a run of some portfolios gives their rows of a full run;
    # every portfolio's first chunk before any second one, so a run cut short has all portfolios alike
    jobs += [
        ("boot", n, args.paths // chunks, args.years, 1000 * list(LIBRARY).index(n) + i, args.shape)
        for i in range(chunks)
        for n in args.portfolios
        if args.paths > 0
    ]
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    results = _run(jobs, args.workers, started, args.save)
    real = [c for batch, job in zip(results, jobs, strict=True) if job[0] == "real" for c in batch]
    boot = [c for batch, job in zip(results, jobs, strict=True) if job[0] == "boot" for c in batch]
    from objective_report import report  # the scoreboard, beside this script

    report(real, boot, args, time.perf_counter() - started)
    if args.json:
        args.json.write_text(
            json.dumps({"real": [asdict(c) for c in real], "paths": len(boot)}, default=float)
        )


if __name__ == "__main__":
    main()
