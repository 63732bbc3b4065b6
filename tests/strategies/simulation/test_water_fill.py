"""The weight-space simulation's float water-filling is the planner's (``strategies.planner.water_fill``):
the baselines of the objective's evaluation allocate cash exactly as the live bot and the backtester do."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from strategies.planner import water_fill
from strategies.simulation.policies import water_fill as float_water_fill


@pytest.mark.parametrize("budget", [0, 150, 300, 500, 599, 700, 2_000])
def test_float_water_fill_agrees_with_the_planner(budget: int) -> None:
    gaps = {"A": 500.0, "B": 100.0, "C": -100.0, "D": 250.0, "E": 100.0}
    exact = water_fill({s: Decimal(str(g)) for s, g in gaps.items()}, Decimal(budget)).amounts
    floats = float_water_fill(np.array(list(gaps.values())), float(budget))
    expected = [float(exact.get(s, 0)) for s in gaps]
    np.testing.assert_allclose(floats, expected, atol=1e-9)
    assert floats.sum() == pytest.approx(min(budget, 950.0))
