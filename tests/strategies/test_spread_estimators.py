"""The published spread estimators on bars worked out by hand from the papers' formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from strategies.spread_estimators import (
    abdi_ranaldo,
    abdi_ranaldo_squared,
    corwin_schultz,
    tick_floor,
)


def test_abdi_ranaldo_on_two_bars_worked_by_hand() -> None:
    # log prices: bar 1 high 0.02, low 0, close 0 (at its low); bar 2 high 0.03, low 0.01.
    # eta_1 = 0.01, eta_2 = 0.02; s^2 = 4 (0 - 0.01)(0 - 0.02) = 8e-4, s = 0.02828 (283 bp)
    high, low, close = np.exp([0.02, 0.03]), np.exp([0.0, 0.01]), np.exp([0.0, 0.025])
    assert abdi_ranaldo_squared(high, low, close) == pytest.approx([8e-4])
    assert abdi_ranaldo(high, low, close) == pytest.approx(math.sqrt(8e-4))


def test_abdi_ranaldo_no_spread_at_mid_range_closes_and_a_negative_mean_floored_at_zero() -> None:
    # a close at its bar's mid-range is the efficient price itself: no bounce, no spread
    high, low = np.exp([0.02, 0.03, 0.025]), np.exp([0.0, 0.01, 0.005])
    mid = np.exp([0.01, 0.02, 0.015])
    assert abdi_ranaldo(high, low, mid) == pytest.approx(0.0, abs=1e-8)
    # close 0.015 against mid-ranges 0.01 then 0.02: 4 (0.005)(-0.005) = -1e-4 -> no spread, not an error
    assert abdi_ranaldo(np.exp([0.02, 0.03]), np.exp([0.0, 0.01]), np.exp([0.015, 0.02])) == 0.0


def test_corwin_schultz_reads_a_range_that_does_not_move_between_days_as_all_spread() -> None:
    # both days trade between log prices 0 and 0.01: beta = 2e-4, gamma = 1e-4,
    # alpha = (sqrt(4e-4) - sqrt(2e-4)) / (3 - 2 sqrt 2) - sqrt(1e-4 / (3 - 2 sqrt 2)) = 0.01,
    # S = 2 (e^0.01 - 1) / (1 + e^0.01) = 0.0099998: the whole range is the bid-ask bounce
    high, low = np.exp([0.01, 0.01]), np.exp([0.0, 0.0])
    assert corwin_schultz(high, low) == pytest.approx([2 * (math.exp(0.01) - 1) / (1 + math.exp(0.01))])


def test_corwin_schultz_reads_a_range_that_moves_with_the_price_as_volatility_not_spread() -> None:
    # day 2 trades 0.01..0.02: gamma = 4e-4, alpha = 0.0341 - 0.0483 < 0, set to zero as the paper does
    assert corwin_schultz(np.exp([0.01, 0.02]), np.exp([0.0, 0.01])) == pytest.approx([0.0])


def test_a_quoted_spread_is_never_narrower_than_one_cent() -> None:
    assert tick_floor(0.0, 320.0) == pytest.approx(0.01 / 320)  # SPY in Dec 2019: 0.31 bp
    assert tick_floor(0.001, 320.0) == 0.001


@pytest.mark.parametrize(
    ("high", "low", "close", "problem"),
    [
        ([1.0], [1.0], [1.0], "at least two"),
        ([1.0, 2.0], [1.0], [1.0, 2.0], "same length"),
        ([1.0, 0.0], [1.0, 0.0], [1.0, 0.0], "> 0"),
        ([1.0, 1.0], [1.1, 1.0], [1.0, 1.0], "high is below its low"),
    ],
)
def test_bad_bars_are_refused_with_the_problem_named(high, low, close, problem) -> None:
    with pytest.raises(ValueError, match=problem):
        abdi_ranaldo(high, low, close)
