"""The household MILP solved through HiGHS's own interface (``highspy``), from a known feasible plan.

Why highspy rather than ``scipy.optimize.milp`` (which runs the same HiGHS): only HiGHS's own interface takes
a starting solution (``setSolution``), reports the dual bound and gap of an unfinished solve, and can be
stopped by a callback. A FIFO household's solve has a long tail (BENCHMARKS.md: 21 s at 5 x 30 x 2,000), and a
plain time limit could return any incumbent, up to 24x the optimum. Started from a feasible plan, HiGHS's
incumbent is never worse than that plan, so a time limit costs at most the difference, and the gap says how
much that can be.

**Time policy** (:class:`SolvePolicy`): solve to the exact optimum (``mip_rel_gap``, 1e-6) while time allows;
once ``time_limit`` has passed, stop as soon as the incumbent is proven within ``accept_gap`` (1%) of optimal;
never run past ``time_cap``, and then return the incumbent with its gap. The plan's notes say which happened.

**Scaling**: dollar columns are measured in units of 1/10,000 of the household's equity and every row is
divided by its largest coefficient: lot-chain rows (coefficients 1/lot value) and big-M rows (household
value) would otherwise span 12 orders of magnitude, and HiGHS then spends seconds in its heuristics.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import highspy
import numpy as np
from scipy.sparse import csc_array, csr_array

HIGHS_OPTIONS: dict[str, bool | int | float | str] = {
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
}
"""Passed to HiGHS verbatim. Its RINS/RENS sub-MIP heuristics took most of the time on FIFO-heavy households
(the LP relaxation of a FIFO chain is its convex envelope, so the first incumbents come from branching
anyway); without them the 5 x 30 x 2,000 benchmark solves about twice as fast to the same optimum."""


@dataclass(frozen=True)
class SolvePolicy:
    """How long a solve may run and when it is good enough (see the module docstring)."""

    time_limit: float = 2.0
    accept_gap: float = 0.01
    time_cap: float = 30.0
    mip_rel_gap: float = 1e-6


@dataclass(frozen=True)
class Problem:
    """The model as arrays: minimise ``c x`` s.t. ``row_lo <= A x <= row_hi``, ``lb <= x <= ub``."""

    c: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    integer: np.ndarray
    a: csr_array
    row_lo: np.ndarray
    row_hi: np.ndarray


@dataclass(frozen=True)
class Outcome:
    """What HiGHS returned: the solution (None: none found), whether it is proven optimal, and its gap."""

    x: np.ndarray | None
    optimal: bool
    infeasible: bool
    message: str
    seconds: float
    objective: float = math.nan
    dual_bound: float = math.nan
    gap: float = math.nan
    started_from: float | None = None
    """The starting plan's objective, when one was given and accepted."""

    def describe(self) -> str:
        """The line a user reads: "optimal", or how close to it the plan is proven to be."""
        start = "" if self.started_from is None else f"; started from a plan worth {self.started_from:,.2f}"
        if self.optimal:
            return f"solver: optimal after {self.seconds:.2f} s{start}"
        if math.isfinite(self.gap):
            return (
                f"solver: within {self.gap:.2%} of optimal after {self.seconds:.2f} s"
                f" ({self.message}; objective {self.objective:,.2f}, bound {self.dual_bound:,.2f}){start}"
            )
        return f"solver: {self.message} after {self.seconds:.2f} s (optimality not proven){start}"


def scaled(problem: Problem, unit: float) -> tuple[Problem, np.ndarray, np.ndarray]:
    """The problem with continuous columns in ``unit`` dollars and rows divided by their largest
    coefficient; returns (scaled problem, column scale, row scale)."""
    col_scale = np.where(problem.integer == 1, 1.0, max(unit, 1e-6))
    a = problem.a @ _diag(col_scale)
    peak = np.asarray(abs(a).max(axis=1).todense()).ravel() if a.shape[0] else np.zeros(0)
    row_scale = 1.0 / np.where(peak > 0, peak, 1.0)
    out = Problem(
        problem.c * col_scale,
        problem.lb / col_scale,
        problem.ub / col_scale,
        problem.integer,
        _diag(row_scale) @ a,
        problem.row_lo * row_scale,
        problem.row_hi * row_scale,
    )
    return out, col_scale, row_scale


def solve(problem: Problem, unit: float, policy: SolvePolicy, starts: Sequence[np.ndarray] = ()) -> Outcome:
    """Solve ``problem`` (dollar units) with HiGHS, from the cheapest of ``starts`` (complete feasible
    solutions, see :mod:`.warm_start`). The result is never worse than that start: HiGHS keeps it as its
    incumbent, and should a limit stop HiGHS before it took it in (in presolve), the start is returned."""
    started = time.perf_counter()
    p, col_scale, _ = scaled(problem, unit)
    h = _highs(p, policy)
    start_value = None
    best = min(starts, key=lambda x: float(problem.c @ x), default=None)
    if best is not None:
        x0, start_value = best, float(problem.c @ best)
        h.setSolution(len(x0), np.arange(len(x0), dtype=np.int32), np.asarray(x0 / col_scale, dtype=float))
    soft_deadline = policy.time_limit

    def interrupt(event: highspy.highs.HighsCallbackEvent) -> None:
        out = event.data_out
        if out.running_time >= soft_deadline and out.mip_gap <= policy.accept_gap:
            event.interrupt()

    h.cbMipInterrupt.subscribe(interrupt)
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    elapsed = time.perf_counter() - started
    message = h.modelStatusToString(status)
    if status == highspy.HighsModelStatus.kInterrupt:  # our callback: past time_limit and within accept_gap
        message = f"past the {policy.time_limit:g} s limit, within the accepted {policy.accept_gap:.1%}"
    elif status == highspy.HighsModelStatus.kTimeLimit:
        message = f"stopped at the {policy.time_cap:g} s cap"
    infeasible = status == highspy.HighsModelStatus.kInfeasible
    has_x = info.primal_solution_status == 2  # kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value) * col_scale if has_x else None
    optimal = status == highspy.HighsModelStatus.kOptimal
    if best is not None and (x is None or float(problem.c @ x) > start_value + 1e-9 * abs(start_value)):
        x = best
    objective = float(problem.c @ x) if x is not None else math.nan
    gap = info.mip_gap if np.any(problem.integer) else (0.0 if optimal else math.nan)
    dual = info.mip_dual_bound if np.any(problem.integer) else objective
    return Outcome(x, optimal, infeasible, message, elapsed, objective, dual, gap, start_value)


def _highs(p: Problem, policy: SolvePolicy) -> highspy.Highs:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    for name, value in {
        "time_limit": float(policy.time_cap),
        "mip_rel_gap": float(policy.mip_rel_gap),
        "presolve": "on",
        **HIGHS_OPTIONS,
    }.items():
        h.setOptionValue(name, value)
    lp = highspy.HighsLp()
    lp.num_col_ = len(p.c)
    lp.num_row_ = len(p.row_lo)
    lp.col_cost_ = p.c
    lp.col_lower_ = p.lb
    lp.col_upper_ = p.ub
    lp.row_lower_ = p.row_lo
    lp.row_upper_ = p.row_hi
    a = csc_array(p.a)
    a.sort_indices()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data
    lp.a_matrix_.num_col_ = lp.num_col_
    lp.a_matrix_.num_row_ = lp.num_row_
    lp.integrality_ = [
        highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in p.integer
    ]
    h.passModel(lp)
    return h


def _diag(values: np.ndarray) -> csr_array:
    n = len(values)
    return csr_array((values, (np.arange(n), np.arange(n))), shape=(n, n))
