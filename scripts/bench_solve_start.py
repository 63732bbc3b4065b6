"""How much of a FIFO household's solve is its feasible start (issue 19, item 4).

Run from the project root::

    python scripts/bench_solve_start.py              # 100 households, the default exact gap (1e-6)
    GAP=1e-4 python scripts/bench_solve_start.py     # the same at HiGHS's own default gap

Solves the FIFO households of ``bench_household.py`` part (e) (5 accounts x 30 SYNTHETIC assets x 2,000
lots, seeds 1001 on) one after another and reports the process CPU of each whole solve and of its
``warm_start.starts`` call (timed by wrapping it), as medians, means and the start's share.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import scripts.bench_household as bench  # noqa: E402
import strategies.household.warm_start as warm_start  # noqa: E402
from strategies.household.optimizer import OptimizerSettings, optimize_household  # noqa: E402

HOUSEHOLDS = 100


def main() -> None:
    original = warm_start.starts
    spent: list[float] = []

    def timed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - the wrapped function's own
        started = time.process_time()
        result = original(*args, **kwargs)
        spent.append(time.process_time() - started)
        return result

    warm_start.starts = timed
    settings = OptimizerSettings(mip_rel_gap=float(os.environ.get("GAP", "1e-6")))
    rows = []
    for n in range(1, HOUSEHOLDS + 1):
        household = bench.synthetic_household(1_000 + n, relief="fifo")
        spent.clear()
        started = time.process_time()
        optimize_household(household, settings)
        rows.append((time.process_time() - started, sum(spent)))
    totals, starts = [r[0] for r in rows], [r[1] for r in rows]
    print(f"households {len(rows)}, mip_rel_gap {settings.mip_rel_gap:g}")
    print(
        f"CPU per solve: median {statistics.median(totals):.3f} s, mean {statistics.mean(totals):.3f} s;"
        f" the start: median {statistics.median(starts):.3f} s, mean {statistics.mean(starts):.3f} s"
        f" ({statistics.mean(starts) / statistics.mean(totals):.1%} of the mean)"
    )
    quick = [r for r in rows if r[0] < 1.0]
    share = sum(r[1] for r in quick) / max(sum(r[0] for r in quick), 1e-9)
    print(f"solves under 1 s of CPU: {len(quick)}, the start {share:.1%} of their CPU")


if __name__ == "__main__":
    main()
