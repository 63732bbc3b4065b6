"""The household solve through highspy (issue 19, item 4): the same model and optimum as the scipy path it
replaced, a start that a time limit can never make worse, and a plan that says how close to optimal it is."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from strategies.household import OptimizerSettings, band_limits, optimize_household
from strategies.household.optimizer import _build, problem_of
from strategies.household.solver import HIGHS_OPTIONS, SolvePolicy, scaled, solve
from strategies.household.warm_start import starts
from strategies.tax.lots import ReliefMethod
from tests.household.test_optimizer import random_household


def scipy_objective(problem, unit: float) -> float | None:  # noqa: ANN001
    """The previous path: ``scipy.optimize.milp`` (HiGHS) on the same scaled model, to 1e-9 gap."""
    p, col_scale, _ = scaled(problem, unit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = milp(
            p.c,
            integrality=p.integer,
            bounds=Bounds(p.lb, p.ub),
            constraints=[LinearConstraint(p.a, p.row_lo, p.row_hi)] if len(p.row_lo) else [],
            options={"mip_rel_gap": 1e-9, "presolve": True, **HIGHS_OPTIONS},
        )
    if result.x is None:
        return None
    return float(problem.c @ (np.asarray(result.x) * col_scale))


def built_for(seed: int, settings: OptimizerSettings):  # noqa: ANN201
    hh = random_household(seed)
    limits = band_limits(hh.targets, hh.bands, hh.symbols, settings.band_inset)
    built = _build(hh, settings, limits, soft=settings.soft_bands)
    return hh, built, problem_of(built)


@pytest.mark.parametrize("seed", range(12))
def test_highspy_finds_the_optimum_the_scipy_path_found(seed: int) -> None:
    settings = OptimizerSettings(soft_bands=True, mip_rel_gap=1e-9)  # soft: every case has an optimum
    hh, built, problem = built_for(seed, settings)
    expected = scipy_objective(problem, built.equity / 1e4)
    initial, _ = starts(hh, built, problem, settings)
    outcome = solve(problem, built.equity / 1e4, settings_policy(settings), initial)
    assert expected is not None and outcome.optimal
    assert math.isclose(outcome.objective, expected, rel_tol=1e-6, abs_tol=1e-6 * built.equity * 1e-4)


def settings_policy(settings: OptimizerSettings) -> SolvePolicy:
    return SolvePolicy(settings.time_limit, settings.accept_gap, settings.time_cap, settings.mip_rel_gap)


@pytest.mark.parametrize("cap", [1e-4, 0.01, 0.05])
@pytest.mark.parametrize("seed", [2, 5, 8])
def test_a_tiny_time_limit_never_returns_worse_than_the_start(seed: int, cap: float) -> None:
    settings = OptimizerSettings(soft_bands=True)
    hh, built, problem = built_for(seed, settings)
    initial, note = starts(hh, built, problem, settings)
    assert initial, note
    start_value = float(problem.c @ initial[0])
    outcome = solve(problem, built.equity / 1e4, SolvePolicy(0.0, 1.0, cap), initial)
    assert outcome.x is not None and outcome.started_from == pytest.approx(start_value)
    assert outcome.objective <= start_value + 1e-9 * max(abs(start_value), 1.0)
    if not outcome.optimal:  # stopped by the limit: the plan says how far from optimal, never "optimal"
        assert not outcome.describe().startswith("solver: optimal")


def test_a_plan_says_it_is_optimal_and_where_it_started() -> None:
    hh = random_household(3)
    plan = optimize_household(hh, OptimizerSettings(soft_bands=True))
    line = next(n for n in plan.notes if n.startswith("solver:"))
    assert line.startswith("solver: optimal after") and "started from" in line
    assert plan.optimality_gap <= 1e-6


def test_the_previous_plan_is_the_start_when_given_and_still_feasible() -> None:
    hh = next(
        h
        for h in (random_household(s) for s in range(30))
        if any(a.relief is ReliefMethod.FIFO for a in h.accounts)
    )
    settings = OptimizerSettings(soft_bands=True)
    first = optimize_household(hh, settings)
    again = optimize_household(hh, settings, previous=first)
    assert any("started from the previous cycle's plan" in n for n in again.notes)
    assert again.objective.total == pytest.approx(first.objective.total, rel=1e-6, abs=1e-6)
