"""Estimators and market-state inputs, checked against arithmetic done by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from strategies.market_state import (
    AssetCosts,
    Ewma,
    Garch11,
    MarketState,
    Window,
    ewma_correlation,
    ewma_volatility,
)


def test_ewma_volatility_by_hand() -> None:
    # returns 1%, -2%, 3% (oldest first), half-life 1 day: weights newest first 1, 1/2, 1/4 (sum 1.75)
    # variance = (1 x 0.0009 + 0.5 x 0.0004 + 0.25 x 0.0001) / 1.75 = 0.001125 / 1.75 = 0.000642857
    # volatility = sqrt(0.000642857) = 0.0253546 a day
    assert ewma_volatility([0.01, -0.02, 0.03], halflife=1) == pytest.approx(0.0253546, rel=1e-5)
    # a very long half-life weighs all three equally: (0.0001 + 0.0004 + 0.0009) / 3 = 0.000466667
    assert Ewma(1e9).daily_variance([0.01, -0.02, 0.03]) == pytest.approx(0.000466667, rel=1e-5)


def test_window_uses_only_the_last_returns() -> None:
    # last 2 of (1%, -1%, 3%): (0.0001 + 0.0009) / 2 = 0.0005; all three: 0.0011 / 3
    returns = (0.01, -0.01, 0.03)
    assert Window(2).daily_variance(returns) == pytest.approx(0.0005)
    assert Window().daily_variance(returns) == pytest.approx(0.0011 / 3)


def test_garch_forecast_by_hand() -> None:
    # alpha 0.1, beta 0.8, returns 1%, -2%, 3%: V = 0.0014 / 3 = 0.000466667, omega = 0.1 V = 0.0000466667
    # s2 = V                                         = 0.000466667
    # s2 = omega + 0.1 x 0.0001 + 0.8 x 0.000466667  = 0.000430000
    # s2 = omega + 0.1 x 0.0004 + 0.8 x 0.000430000  = 0.000430667
    # s2 = omega + 0.1 x 0.0009 + 0.8 x 0.000430667  = 0.000481200  <- tomorrow's forecast
    forecast = Garch11(alpha=0.1, beta=0.8).daily_variance([0.01, -0.02, 0.03])
    assert forecast == pytest.approx(0.0004812)


def test_ewma_correlation_by_hand() -> None:
    # two days, half-life 1: weights oldest first 1/3, 2/3. a = (1%, 1%), b = (1%, -1%)
    # cov = 1/3 x 0.0001 + 2/3 x (-0.0001) = -0.0000333; var a = var b = 0.0001 -> corr = -1/3
    assert ewma_correlation([0.01, 0.01], [0.01, -0.01], halflife=1) == pytest.approx(-1 / 3)
    assert ewma_correlation([0.0, 0.0], [0.01, -0.01], halflife=1) is None  # no variance


def test_market_state_from_prices_and_lookups() -> None:
    state = MarketState.from_prices({"SPY": [100, 110, 99], "AGG": [100, 100, 101]})
    assert state.symbols == ("SPY", "AGG") and state.sessions == 2
    assert state.series("SPY") == pytest.approx((0.10, -0.10))  # 110/100 - 1, 99/110 - 1
    assert state.columns(["AGG", "SPY"]) == [pytest.approx((0.0, 0.01)), pytest.approx((0.10, -0.10))]
    assert state.series("GLD") is None and state.columns(["SPY", "GLD"]) is None
    with pytest.raises(ValueError, match="same sessions"):
        MarketState.from_series({"SPY": [0.01, 0.02], "AGG": [0.01]})
    with pytest.raises(ValueError, match="one value per symbol"):
        MarketState(("SPY", "AGG"), [[0.01, 0.02], [0.01]])
    with pytest.raises(ValueError, match="finite"):
        MarketState.from_series({"SPY": [0.01, math.nan]})
    assert MarketState().series("SPY") is None and MarketState().sessions == 0


def test_a_numpy_table_is_accepted_as_input() -> None:
    # strategies never import numpy, but a backtester holding a (sessions x symbols) array passes it in
    table = np.array([[0.01, 0.005], [-0.02, 0.0], [0.03, -0.005]])
    state = MarketState(("SPY", "AGG"), table)
    assert state.series("SPY") == pytest.approx((0.01, -0.02, 0.03))
    assert state.returns.tolist() == [[0.01, 0.005], [-0.02, 0.0], [0.03, -0.005]]
    assert ewma_volatility(table[:, 0], halflife=1) == pytest.approx(0.0253546, rel=1e-5)


def test_asset_costs_one_way() -> None:
    # full spread 20 bps -> half 10bp; impact 0.7 x 1.5% x sqrt(1,000 / 100,000) = 0.7 x 0.015 x 0.1 = 10.5bp
    costs = AssetCosts(spread_bps=20, adv=100_000, sigma_daily=0.015, tax_fraction=0.02)
    assert costs.one_way(1_000, taxed=False) == pytest.approx(0.00205)
    assert costs.one_way(1_000, taxed=True) == pytest.approx(0.02205)
    assert costs.describe(1_000, taxed=True) == "10.0bp spread + 10.5bp impact + 200.0bp tax"
    assert AssetCosts(spread_bps=20).one_way(1_000_000, taxed=False) == pytest.approx(
        0.001
    )  # no ADV: no impact
