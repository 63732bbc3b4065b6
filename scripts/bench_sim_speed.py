"""CPU seconds per resampled path of the issue-14 evaluation (``bench_objective.bootstrap_cells``: every
baseline and the 12-point frontier on one stationary-bootstrap path), for one or more checkouts.

Run from the project root::

    python scripts/bench_sim_speed.py [--paths 2] [--years 4] [--repeats 3] [--portfolios NAME ...]
                                      [--checkouts DIR ...]

Each repeat of each checkout runs in a fresh process (imports, data and the solvers' first build are done
before the clock starts) and counts the process's CPU time, not wall time: on a machine shared with other
jobs wall time says more about the neighbours than about the code. Repeats of different checkouts take
turns, so a change in the machine's load falls on both alike. Prints the median over repeats per portfolio.
``--checkouts`` defaults to this one; give a checkout of an older commit (``git worktree add``) to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MEASURE = """
import json, sys, time
root, paths, years, names = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
sys.path[:0] = [root, root + "/scripts"]
import bench_objective as b
from strategies.objective.risk import RiskModel
out = {}
for name in names:
    b.load(name)
    b.bootstrap_cells(name, 1, 1, 99, RiskModel())  # warm: imports, data, the solvers' first build
    started = time.process_time()
    b.bootstrap_cells(name, paths, years, 0, RiskModel())
    out[name] = (time.process_time() - started) / paths
print(json.dumps(out))
"""


def measure(checkout: Path, paths: int, years: int, names: list[str]) -> dict[str, float]:
    """CPU seconds per path for each portfolio, in a fresh process importing ``checkout``'s code."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(checkout), str(paths), str(years), *names],
        capture_output=True,
        text=True,
        check=True,
        cwd=checkout,
        env={**os.environ, "PYTHONPATH": str(checkout)},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", type=int, default=2)
    parser.add_argument("--years", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--portfolios", nargs="*", default=["60-40", "diversified"])
    parser.add_argument("--checkouts", nargs="*", type=Path, default=[ROOT])
    args = parser.parse_args()
    runs: dict[Path, list[dict[str, float]]] = {c.resolve(): [] for c in args.checkouts}
    for repeat in range(args.repeats):
        for checkout, results in runs.items():
            results.append(measure(checkout, args.paths, args.years, args.portfolios))
            print(f"repeat {repeat + 1}, {checkout}: {results[-1]}", file=sys.stderr)
    print("| checkout | " + " | ".join(args.portfolios) + " | sum |")
    print("|---|" + "---|" * (len(args.portfolios) + 1))
    for checkout, results in runs.items():
        medians = [statistics.median(r[name] for r in results) for name in args.portfolios]
        cells = " | ".join(f"{m:.2f}" for m in medians)
        print(f"| {checkout} | {cells} | {sum(medians):.2f} |")


if __name__ == "__main__":
    main()
