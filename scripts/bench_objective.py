"""The objective (issue 14) against every built-in baseline, on a library of portfolios, walk-forward, on
real history and on resampled histories.

Run from the project root::

    python scripts/bench_objective.py [--paths 200] [--years 6] [--workers 2] [--markdown] [--plot PNG]
                                      [--json OUT] [--portfolios NAME ...]

* **Portfolios**: the 17 of ``bot/backtest/library.py`` (2 to 12 assets, four with cash).
* **Costs**: the paper broker's model (``bot/backtest/costs.CostModel``: half-spread, square-root impact
  with the data's volatility and dollar volume, a $100,000 account), the same in every policy and in the
  objective's own decision.
* **Walk-forward**: every forecast and every fitted risk aversion uses only returns before the session it
  decides; real-history periods start with the history before them available as such, never traded.
* **Real history**: 2004-12 .. 2022 and its sub-periods 2004-12 .. 2009, 2010 .. 2015, 2016 .. 2022.
* **Resampled histories**: ``--paths`` per portfolio, a stationary bootstrap (``arch``) of the portfolio's
  daily return rows (all assets of a session together) with a mean block of 21 sessions (a month), each
  ``--years`` long after two years of warm-up for the risk forecasts. Fixed seeds.
* **Frontier**: the objective at fixed risk aversions (``GAMMAS``); "dominates" means some risk aversion
  has both lower tracking error and lower turnover-plus-cost than the baseline.
* **Default**: the ``balanced`` preset (tracking error 6% of the portfolio's volatility), refitted every
  quarter on the trailing two years (``strategies.objective.calibrate``), on real history.

The simulation is ``strategies/simulation`` (weight space, the same decisions; checked against the
backtester's planner in ``tests/strategies/simulation``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.backtest.costs import CostModel  # noqa: E402
from bot.backtest.data import PriceHistory, load_history  # noqa: E402
from bot.backtest.library import LIBRARY  # noqa: E402
from strategies.objective.calibrate import TrackingPolicy, TrackingTarget  # noqa: E402
from strategies.objective.risk import RiskModel  # noqa: E402
from strategies.planner import TradeTo  # noqa: E402
from strategies.schedules import EverySession, Period, Periodic  # noqa: E402
from strategies.simulation.path import Outcome, SimContext, SimCosts, impact_coefficients, simulate  # noqa: E402
from strategies.simulation.policies import BandPolicy, CalendarPolicy, ObjectivePolicy  # noqa: E402
from strategies.targets import TargetAllocation  # noqa: E402

END = date(2022, 12, 30)
PERIODS = {
    "2004-12..2022": (date(2004, 12, 1), END),
    "2004-12..2009": (date(2004, 12, 1), date(2009, 12, 31)),
    "2010..2015": (date(2010, 1, 1), date(2015, 12, 31)),
    "2016..2022": (date(2016, 1, 1), END),
}
GAMMAS = tuple(float(g) for g in 10.0 ** np.linspace(-4.0, -2.2, 10))
"""Risk aversions of the frontier (relative scale): tracking errors from about 2% to 0.15% a year."""
CALENDARS = ("monthly", "quarterly", "annual")
EDGE_BANDS = ("edge-2pp", "edge-3pp", "edge-4pp", "edge-5pp", "edge-6pp", "edge-8pp", "edge-20pct")
BASELINES = (*CALENDARS, "band-5pp-monthly", "opportunistic-20pct", *EDGE_BANDS)
ACCOUNT = 100_000.0
WARMUP = 504
BLOCK = 21
TARGET = TrackingTarget.preset("balanced")


@dataclass(frozen=True)
class Cell:
    """One portfolio on one history: every baseline, the frontier, and (real history) the default."""

    portfolio: str
    history: str
    assets: int
    baselines: dict[str, Outcome]
    frontier: list[Outcome]
    default: Outcome | None = None
    volatility: float = 0.0
    """Of the target held exactly, over the scored sessions."""


def baseline_policies(days: tuple[date, ...]) -> dict[str, object]:
    """The built-in baselines in weight space; the edge bands run as one batch."""
    edge = BandPolicy(
        (0.02, 0.03, 0.04, 0.05, 0.06, 0.08, None),
        (None,) * 6 + (0.20,),
        TradeTo.BAND_EDGE,
        schedule=EverySession(),
    )
    return {
        "monthly": CalendarPolicy(Periodic(Period.MONTH), days),
        "quarterly": CalendarPolicy(Periodic(Period.QUARTER), days),
        "annual": CalendarPolicy(Periodic(Period.YEAR), days),
        "band-5pp-monthly": BandPolicy(
            (0.05,), (None,), TradeTo.TARGET, schedule=Periodic(Period.MONTH), days=days
        ),
        "opportunistic-20pct": BandPolicy(
            (None,), (0.20,), TradeTo.PARTIAL, schedule=Periodic(Period.WEEK, every=2), days=days
        ),
        "edge": edge,
    }


def reference_widths(targets: np.ndarray) -> np.ndarray:
    """The example config's default band (5 pp or 25% of target, whichever is tighter), for cycle speed."""
    return np.minimum(0.05, 0.25 * targets)


def run_cell(
    name: str,
    label: str,
    returns: np.ndarray,
    days: tuple[date, ...],
    targets: np.ndarray,
    costs: SimCosts,
    start: int,
    end: int,
    with_default: bool,
) -> Cell:
    context = SimContext(returns, targets, costs, RiskModel())
    widths = reference_widths(targets)
    outcomes: dict[str, Outcome] = {}
    for key, policy in baseline_policies(days).items():
        result = simulate(
            policy, returns, targets, costs, start, end, context=context, reference_widths=widths
        )
        if key == "edge":
            outcomes.update(dict(zip(EDGE_BANDS, result, strict=True)))
        else:
            outcomes[key] = result[0]
    frontier = simulate(ObjectivePolicy(GAMMAS), returns, targets, costs, start, end, context=context)
    default = None
    if with_default:
        default = simulate(
            TrackingPolicy(TARGET, days),
            returns,
            targets,
            costs,
            start,
            end,
            context=context,
            reference_widths=widths,
        )[0]
    volatility = float(np.std(returns[start + 1 : end + 1] @ targets, ddof=1) * np.sqrt(252))
    return Cell(name, label, targets.size, outcomes, frontier, default, volatility)


# -- data ---------------------------------------------------------------------------------------------------


def load(name: str) -> tuple[PriceHistory, np.ndarray, np.ndarray, SimCosts]:
    """History of the portfolio's assets, its returns (row 0 zero, row t into close t), targets, costs."""
    allocation: TargetAllocation = LIBRARY[name]
    history = load_history(allocation.symbols, None, END)
    returns = np.vstack([np.zeros(len(history.symbols)), history.total_returns()])
    targets = np.array([float(allocation.weight(s)) for s in history.symbols])
    model = CostModel()
    half = np.array([model.half_spread(s) for s in history.symbols])
    sigma = np.std(returns[1:], axis=0)
    dollar_volume = np.median(history.volume * history.close, axis=0)
    impact = impact_coefficients(ACCOUNT, sigma, dollar_volume, model.impact_coefficient)
    return history, returns, targets, SimCosts(half, impact, 0.005)


def real_cells(name: str) -> list[Cell]:
    history, returns, targets, costs = load(name)
    cells = []
    for label, (first, last) in PERIODS.items():
        start = max(history.first_on_or_after(first), 1)
        end = max(i for i, d in enumerate(history.days) if d <= last)
        cells.append(run_cell(name, label, returns, history.days, targets, costs, start, end, True))
    return cells


def bootstrap_cells(name: str, paths: int, years: int, seed: int) -> list[Cell]:
    from arch.bootstrap import StationaryBootstrap

    history, returns, targets, costs = load(name)
    pool = returns[1:]
    length = WARMUP + years * 252
    days = tuple(load_history(["SPY"], date(2003, 1, 2), END).days[: length + 1])
    sampler = StationaryBootstrap(BLOCK, pool, seed=np.random.default_rng(seed))
    cells = []
    for i, (positional, _) in enumerate(sampler.bootstrap(paths)):
        path = np.vstack([np.zeros(targets.size), positional[0][:length]])
        cells.append(run_cell(name, f"path {i}", path, days, targets, costs, WARMUP, length, False))
    return cells


# -- verdicts -----------------------------------------------------------------------------------------------


def frontier_dominates(frontier: list[Outcome], baseline: Outcome) -> bool:
    """Some risk aversion has lower tracking error and lower turnover-plus-cost than ``baseline``."""
    return any(point.dominates(baseline) for point in frontier)


def burden_at(frontier: list[Outcome], tracking_error: float) -> float | None:
    """The frontier's turnover-plus-cost at ``tracking_error`` (log-log interpolation), None outside it."""
    points = sorted((p.tracking_error, p.burden) for p in frontier if p.burden > 0)
    te = np.log([p[0] for p in points])
    burden = np.log([p[1] for p in points])
    x = np.log(tracking_error)
    if not te[0] <= x <= te[-1]:
        return None
    return float(np.exp(np.interp(x, te, burden)))


def two_asset_ratio(cell: Cell) -> float | None:
    """Worst ratio over the edge bands of the frontier's burden at the band's tracking error to the band's."""
    ratios = []
    for key in EDGE_BANDS:
        band = cell.baselines[key]
        ours = burden_at(cell.frontier, band.tracking_error)
        if ours is not None and band.burden > 0:
            ratios.append(ours / band.burden)
    return max(ratios) if ratios else None


def dominated_by(cell: Cell) -> list[str]:
    assert cell.default is not None
    return [k for k, b in cell.baselines.items() if b.dominates(cell.default)]


# -- the run ------------------------------------------------------------------------------------------------


def _job(args: tuple) -> list[Cell]:
    kind, name, paths, years, seed = args
    return real_cells(name) if kind == "real" else bootstrap_cells(name, paths, years, seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", type=int, default=200)
    parser.add_argument("--years", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--portfolios", nargs="*", default=list(LIBRARY))
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--plot", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    jobs = [("real", n, 0, 0, 0) for n in args.portfolios]
    chunks = max(1, args.paths // 25)  # bootstrap paths in chunks, so both workers stay busy
    jobs += [
        ("boot", n, args.paths // chunks, args.years, 1000 * k + i)
        for k, n in enumerate(args.portfolios)
        for i in range(chunks)
    ]
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(_job, jobs))
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
