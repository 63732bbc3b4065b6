"""The objective's decision on hand-computed cases, and against the same model written in cvxpy.

Conventions of the hand computations: covariance is given as the objective prices it (already scaled), so
``2 * gamma * sigma2 * drift`` is the marginal risk saving of trading a unit back, against ``h`` (half the
spread) plus any tax per unit sold.
"""

from __future__ import annotations

import numpy as np
import pytest

from strategies.objective.problem import (
    DecisionInputs,
    decide,
    idle_cash_goal,
    idle_cost,
    trade_costs,
    waits,
)

ONE_ASSET = dict(targets=np.array([0.6]), covariance=np.array([[0.04]]), cash_goal=0.4, cash_drag=0.02)


def one_asset(weight: float, half_spread: float = 1e-4, **extra) -> DecisionInputs:
    """One risky asset at ``weight`` against a 60% target, the rest cash (target 40%)."""
    return DecisionInputs(
        weights=np.array([weight]), half_spread=np.array([half_spread]), **ONE_ASSET, **extra
    )


def test_one_drifted_asset_under_linear_cost_trades_exactly_to_the_edge_of_its_no_trade_region() -> None:
    # edge: 2 * gamma * sigma2 * (x - 0.6) = h  ->  x = 0.6 + 1e-4 / (2 * 0.05 * 0.04) = 0.625
    decision = decide(one_asset(0.70), gamma=0.05)
    assert decision.weights[0] == pytest.approx(0.625, abs=1e-7)
    assert decision.trades[0] == pytest.approx(-0.075, abs=1e-7)
    # and from inside the edge nothing trades
    assert not decide(one_asset(0.62), gamma=0.05).trades_anything
    assert waits(one_asset(0.6249), 0.05) and not waits(one_asset(0.6251), 0.05)


def test_a_trade_whose_cost_exceeds_its_risk_benefit_waits() -> None:
    # at 70%: risk cost 0.05 * 0.04 * 0.1^2 = 2e-5; selling even a little costs h = 40 bp per unit, more than
    # the marginal saving 2 * 0.05 * 0.04 * 0.1 = 4 bp: the whole trade back would cost 4e-4 for 2e-5
    inputs = one_asset(0.70, half_spread=0.004)
    decision = decide(inputs, gamma=0.05)
    assert not decision.trades_anything and not decision.solved
    assert decision.risk_before == pytest.approx(2e-5)
    assert trade_costs(np.array([-0.1]), inputs)[0] == pytest.approx(4e-4)
    # a cheaper spread makes the same drift worth trading
    assert decide(one_asset(0.70, half_spread=0.0003), gamma=0.05).trades_anything


def two_assets(correlation: float, drift: float) -> DecisionInputs:
    """Two assets of 20% volatility at 50/50 and no cash, drifted by ``drift`` (A over, B under)."""
    s2 = 0.04
    cov = np.array([[s2, correlation * s2], [correlation * s2, s2]])
    return DecisionInputs(
        weights=np.array([0.5 + drift, 0.5 - drift]),
        targets=np.array([0.5, 0.5]),
        covariance=cov,
        half_spread=np.array([1e-4, 1e-4]),
        cash_goal=0.0,
        cash_drag=0.02,
    )


def test_a_correlation_jump_widens_the_region_as_theory_says() -> None:
    # a swap pays while 4 gamma sigma2 (1 - rho) d > 2h: the edge is d* = h / (2 gamma sigma2 (1 - rho)),
    # 0.5 pp at rho = 0 and 2.5 pp at rho = 0.8 (gamma 0.25): correlated assets drifting apart matter less
    gamma = 0.25
    uncorrelated = decide(two_assets(0.0, 0.02), gamma)
    assert uncorrelated.weights[0] == pytest.approx(0.505, abs=1e-7)
    assert uncorrelated.weights[1] == pytest.approx(0.495, abs=1e-7)
    assert not decide(two_assets(0.8, 0.02), gamma).trades_anything  # inside the wider region
    correlated = decide(two_assets(0.8, 0.04), gamma)
    assert correlated.weights[0] == pytest.approx(0.525, abs=1e-7)


def test_tax_pushes_a_gain_sale_out() -> None:
    # selling pays once 2 gamma sigma2 (x - 0.6) > h + tax: the edge moves from 62.5% to 67.5% with a tax of
    # 2 bp per unit sold, and past 70% (no sale) with 2%
    assert decide(one_asset(0.70, sell_tax=np.array([0.0002])), 0.05).weights[0] == pytest.approx(
        0.675, abs=1e-7
    )
    heavy = decide(one_asset(0.70, sell_tax=np.array([0.02])), 0.05)
    assert not heavy.trades_anything
    # buying is not taxed: the same asset underweight still trades to its (lower) edge (idle cash left out
    # of this case: it would pull the buy all the way to target)
    under = DecisionInputs(
        weights=np.array([0.50]),
        targets=np.array([0.6]),
        covariance=np.array([[0.04]]),
        half_spread=np.array([1e-4]),
        sell_tax=np.array([0.02]),
    )
    assert decide(under, 0.05).weights[0] == pytest.approx(0.575, abs=1e-7)


def test_idle_cash_is_invested_rather_than_left_beside_an_underweight_asset() -> None:
    # 60/40 stocks/bonds with bonds low and 6% cash: bonds' own risk barely registers, but idle cash costs
    # 2% of itself, so the cash goes to the bonds
    inputs = DecisionInputs(
        weights=np.array([0.60, 0.34]),
        targets=np.array([0.60, 0.40]),
        covariance=np.array([[0.04, 0.0], [0.0, 0.0016]]),
        half_spread=np.array([1e-4, 1e-4]),
        cash_goal=0.005,
        cash_drag=0.02,
    )
    decision = decide(inputs, gamma=0.01)
    assert decision.weights[1] == pytest.approx(0.395, abs=1e-5)  # up to the cash goal (to $1 in $100,000)
    assert idle_cost(decision.weights, inputs) == pytest.approx(0.0, abs=1e-9)


def test_a_cash_sleeve_drifts_within_its_band_before_its_excess_counts_as_idle() -> None:
    # no cash target: anything above the buffer is idle; a 10% sleeve may drift to 12.5% (25% of it), a 40%
    # sleeve to 45% (the 5 pp cap)
    assert idle_cash_goal(0.0, 0.005) == 0.005
    assert idle_cash_goal(0.10, 0.005) == pytest.approx(0.125)
    assert idle_cash_goal(0.40, 0.005) == pytest.approx(0.45)

    def sleeve(cash: float) -> DecisionInputs:
        """Stocks 90% / cash 10% after a fall left cash at ``cash``."""
        return DecisionInputs(
            weights=np.array([1.0 - cash]),
            targets=np.array([0.9]),
            covariance=np.array([[0.04]]),
            half_spread=np.array([1e-4]),
            cash_goal=idle_cash_goal(0.10, 0.005),
            cash_drag=0.02,
        )

    # the risk term alone trades once 2 gamma sigma2 d > h: d > 6.25 pp at gamma 0.02. A sleeve at 11% is
    # market drift the risk term does not pay to undo: it waits (pricing it as idle cash bought 1% of stocks
    # the same day, and sold them again when markets rose)
    assert not decide(sleeve(0.11), gamma=0.02).trades_anything
    # at 14% the excess beyond the sleeve's band is idle and is invested, down to the band's edge
    assert decide(sleeve(0.14), gamma=0.02).weights[0] == pytest.approx(0.875, abs=1e-6)


def test_frozen_assets_keep_their_weight_and_cash_never_goes_below_its_floor() -> None:
    inputs = DecisionInputs(
        weights=np.array([0.70, 0.30]),
        targets=np.array([0.60, 0.40]),
        covariance=np.array([[0.04, 0.0], [0.0, 0.04]]),
        half_spread=np.array([1e-4, 1e-4]),
        frozen=np.array([True, False]),
        cash_goal=0.0,
        cash_drag=0.02,
    )
    decision = decide(inputs, gamma=1.0)
    assert decision.weights[0] == pytest.approx(0.70, abs=1e-9)  # an open order: not touched
    assert decision.weights.sum() <= 1.0 + 1e-9  # no cash to buy the other with: nothing bought


cp = pytest.importorskip("cvxpy")


def cvxpy_optimum(inputs: DecisionInputs, gamma: float) -> float:
    x = cp.Variable(inputs.n)
    z = x - inputs.weights
    objective = (
        gamma * cp.quad_form(x - inputs.targets, cp.psd_wrap(inputs.covariance))
        + inputs.half_spread @ cp.abs(z)
        + inputs.vector("impact") @ cp.power(cp.abs(z), 1.5)
        + inputs.vector("sell_tax") @ cp.pos(-z)
        + inputs.cash_drag * cp.pos(1 - cp.sum(x) - inputs.cash_goal)
    )
    constraints = [x >= 0, 1 - cp.sum(x) >= inputs.cash_min]
    frozen = inputs.vector("frozen")
    if frozen.any():
        constraints.append(x[frozen] == inputs.weights[frozen])
    problem = cp.Problem(cp.Minimize(objective), constraints)
    problem.solve(solver="CLARABEL")
    return float(problem.value)


def our_value(inputs: DecisionInputs, gamma: float) -> float:
    d = decide(inputs, gamma)
    deviation = d.weights - inputs.targets
    return float(
        gamma * deviation @ inputs.covariance @ deviation + sum(trade_costs(d.trades, inputs))
    ) + idle_cost(d.weights, inputs)


def random_inputs(rng: np.random.Generator) -> tuple[DecisionInputs, float]:
    n = int(rng.integers(1, 13))
    a = rng.normal(size=(n, n + 3))
    cov = a @ a.T / (n + 3) * 0.04 * rng.uniform(0.2, 3)
    targets = rng.dirichlet(np.ones(n)) * rng.uniform(0.9, 1.0)
    weights = np.clip(targets + rng.normal(scale=rng.uniform(0.001, 0.05), size=n), 0, None)
    weights = weights / max(1.0, weights.sum() + 0.001)
    inputs = DecisionInputs(
        weights=weights,
        targets=targets,
        covariance=cov,
        half_spread=rng.uniform(0, 5e-4, size=n),
        impact=rng.uniform(0, 1e-3, size=n) * (rng.random() < 0.5),
        sell_tax=rng.uniform(0, 0.05, size=n) * (rng.random() < 0.5),
        cash_min=min(0.005, 1 - weights.sum()),
        frozen=(rng.random(n) < 0.15) & (rng.random() < 0.3),
        cash_goal=max(1 - targets.sum(), 0.005) if rng.random() < 0.7 else 1 - weights.sum(),
        cash_drag=0.02 * (rng.random() < 0.8),
    )
    return inputs, float(10 ** rng.uniform(-2, 3))


def test_the_decision_is_the_optimum_cvxpy_finds_for_the_same_model() -> None:
    """200 random problems (1-12 assets, taxes, impact, frozen assets, idle cash at and off its goal): the
    no-trade test and the assembled Clarabel problem give cvxpy's optimal value to 1e-8 of equity."""
    rng = np.random.default_rng(7)
    waited = 0
    for _ in range(200):
        inputs, gamma = random_inputs(rng)
        waited += not decide(inputs, gamma).trades_anything
        assert our_value(inputs, gamma) <= cvxpy_optimum(inputs, gamma) + 1e-8
    assert 10 < waited < 190  # both branches were exercised
