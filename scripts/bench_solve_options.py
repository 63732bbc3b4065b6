"""HiGHS options on the slowest FIFO households of the solve-tail run (issue 19, item 4).

Run from the project root, one option set per run::

    python scripts/bench_solve_options.py                                  # the project's options
    OPTS='{"mip_detect_symmetry": false}' python scripts/bench_solve_options.py

Solves the 10 households that took the most CPU in ``bench_household.py --part e --scale 1000`` (seeds
1000 + n for the n below; 5 accounts x 30 SYNTHETIC assets x 2,000 lots, FIFO) under the default time
policy, with ``OPTS`` (JSON) added to :data:`strategies.household.solver.HIGHS_OPTIONS`, and prints each
household's process CPU, proven gap and plan cost, and the total CPU.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import scripts.bench_household as bench  # noqa: E402
from strategies.household import solver  # noqa: E402
from strategies.household.optimizer import OptimizerSettings, optimize_household  # noqa: E402

SLOWEST = (74, 478, 820, 682, 240, 528, 420, 993, 180, 433)
"""The 10 households with the most CPU among the 1,000 of the tail run (after, c0f0e60)."""


def main() -> None:
    options = json.loads(os.environ.get("OPTS", "{}"))
    solver.HIGHS_OPTIONS.update(options)
    settings = OptimizerSettings()
    rows = []
    for n in SLOWEST:
        household = bench.synthetic_household(1_000 + n, relief="fifo")
        started = time.process_time()
        plan = optimize_household(household, settings)
        gap = plan.optimality_gap or 0.0
        rows.append((n, time.process_time() - started, gap, float(plan.tax_plus_cost)))
    print(f"options {options or '(the project defaults)'}: total CPU {sum(r[1] for r in rows):.1f} s")
    for n, cpu, gap, cost in rows:
        print(f"  household {n}: CPU {cpu:.2f} s, gap {gap:.2%}, tax + cost ${cost:,.2f}")


if __name__ == "__main__":
    main()
