"""The household MILP's drift priced by the single-account objective's risk model (issue 14, item 1).

Hand-computed cases: with marginal risk ``g = 2 gamma S d`` and half-spread ``h``, a swap of asset i into
asset j pays once ``g_i - g_j > 2 h`` (``strategies.objective.problem.waits_many``). The household, with
its risk term linearised by tangents (``strategies.household.risk_term``), must decide as the single-account
objective does: the same trade-or-wait (exact: the tangent model's slope at "no trade" is exact) and the
same assets, with trade sizes within the linearisation's tolerance (1/K of the drift, K tangents a side).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import numpy as np
import pytest

from bot.backtest.costs import CostModel
from bot.backtest.data import load_history
from strategies.bands import Band, BandPolicy
from strategies.household import Account, AccountType, Household, HouseholdPlan, OptimizerSettings, Quote
from strategies.household.objective import HouseholdObjective, open_limits
from strategies.household.optimizer import optimize_household
from strategies.household.risk_term import BREAKPOINTS, HouseholdRisk
from strategies.objective.calibrate import TrackingTarget
from strategies.objective.problem import DecisionInputs, decide, waits
from strategies.objective.risk import RiskModel
from strategies.objective.trigger import ObjectiveSpec
from strategies.portfolio import Side
from strategies.targets import CASH, TargetAllocation
from strategies.tax.estimate import TaxRates
from strategies.tax.lots import Lot

DAY = date(2022, 10, 14)
PRICE = D(100)
SPREAD_BPS = 10.0  # half-spread 5 bp
HALF = 0.0005


def household(targets: dict[str, str], *accounts: Account) -> Household:
    symbols = set(targets) | {s for a in accounts for s in a.positions}
    return Household(
        tuple(accounts),
        TargetAllocation({s: D(w) for s, w in targets.items()}),
        BandPolicy(Band(absolute=D("0.05"))),
        {s: Quote(PRICE, SPREAD_BPS) for s in symbols},
        TaxRates(D("0.35"), D("0.15")),
        DAY,
    )


def ira(
    dollars: dict[str, int], kind: AccountType = AccountType.TRADITIONAL_IRA, name: str = "ira"
) -> Account:
    return Account(name, kind, D(0), positions={s: D(v) / PRICE for s, v in dollars.items()})


def plan_with(hh: Household, covariance: np.ndarray, gamma: float, cash_drag: float = 0.0) -> HouseholdPlan:
    risk = HouseholdRisk(hh.symbols, covariance, gamma, cash_drag=cash_drag)
    settings = OptimizerSettings(impact_segments=0, min_trade=D("0.01"), risk=risk)
    return optimize_household(hh, settings, limits=open_limits(hh))


def traded(plan: HouseholdPlan, equity: float) -> dict[str, float]:
    """Net trade per symbol as a fraction of equity (sells negative)."""
    out: dict[str, float] = {}
    for t in plan.trades:
        sign = -1.0 if t.side is Side.SELL else 1.0
        out[t.symbol] = out.get(t.symbol, 0.0) + sign * float(t.est_notional) / equity
    return out


def single(weights: list[float], targets: list[float], cov: np.ndarray, gamma: float, drag: float = 0.0):
    inputs = DecisionInputs(
        weights=np.array(weights),
        targets=np.array(targets),
        covariance=cov,
        half_spread=np.full(len(weights), HALF),
        cash_goal=0.0,
        cash_drag=drag,
    )
    return inputs, decide(inputs, gamma)


# (a) two equally drifted assets: the riskier one is traded back first, and more -------------------------

VOLS = np.array([0.20, 0.05, 0.10])  # A, B, C uncorrelated
SIGMA = np.diag(VOLS**2)


def drifted_pair() -> Household:
    """A and B both 3 pp over their 30% targets, C 6 pp under its 40%; A and C in an IRA, B and C in a Roth
    (cash cannot move between accounts, so each sale funds the buy of C in its own account)."""
    return household(
        {"A": "0.30", "B": "0.30", "C": "0.40"},
        ira({"A": 33_000, "C": 10_000}),
        ira({"B": 33_000, "C": 24_000}, AccountType.ROTH_IRA, "roth"),
    )


def test_of_two_equally_drifted_assets_the_more_volatile_is_traded_back_first() -> None:
    # g = 2 gamma S d: A 0.0024 gamma, B 0.00015 gamma, C -0.0012 gamma. Selling A into C pays once
    # 0.0036 gamma > 2h = 0.001 (gamma > 0.28), selling B into C only once 0.00135 gamma > 0.001
    # (gamma > 0.74)
    hh = drifted_pair()
    first = traded(plan_with(hh, SIGMA, gamma=0.5), 100_000)
    assert first.get("A", 0.0) < -0.005 and "B" not in first and first["C"] > 0
    # and with both worth trading, A (4x B's volatility) is brought back further than B
    both = traded(plan_with(hh, SIGMA, gamma=5.0), 100_000)
    assert both["A"] < both["B"] < 0 < both["C"]
    assert abs(both["A"]) > abs(both["B"])
    # the single-account objective on the same aggregate makes the same choices
    _, one = single([0.33, 0.33, 0.34], [0.3, 0.3, 0.4], SIGMA, 0.5)
    assert one.trades[0] < 0 and one.trades[1] == 0 and one.trades[2] > 0
    _, many = single([0.33, 0.33, 0.34], [0.3, 0.3, 0.4], SIGMA, 5.0)
    tolerance = 0.03 / BREAKPOINTS
    for i, symbol in enumerate("ABC"):
        assert both[symbol] == pytest.approx(many.trades[i], abs=tolerance), symbol


def test_of_two_equally_drifted_assets_the_one_whose_drift_is_not_hedged_goes_first() -> None:
    # A, B and C all 10% volatile; A and B 3 pp over, C 6 pp under; A 80% correlated with C, so A's
    # overweight is largely offset by C's underweight. (S d): A -0.00018, B 0.0003, C -0.00036. Selling B into
    # C pays once 2 gamma 0.00066 > 0.001 (gamma > 0.76); selling A into C only once gamma > 2.78
    cov = np.full((3, 3), 0.0)
    np.fill_diagonal(cov, 0.01)
    cov[0, 2] = cov[2, 0] = 0.8 * 0.01
    hh = drifted_pair()
    plan = traded(plan_with(hh, cov, gamma=1.5), 100_000)
    assert plan.get("B", 0.0) < -0.005 and "A" not in plan and plan["C"] > 0
    _, one = single([0.33, 0.33, 0.34], [0.3, 0.3, 0.4], cov, 1.5)
    assert one.trades[0] == 0 and one.trades[1] < 0
    assert plan["B"] == pytest.approx(one.trades[1], abs=0.03 / BREAKPOINTS)
    # without the correlation A and B are alike and go together
    alike = traded(plan_with(hh, np.diag([0.01, 0.01, 0.01]), gamma=1.5), 100_000)
    assert alike["A"] == pytest.approx(alike["B"], abs=0.03 / BREAKPOINTS) and alike["A"] < 0


# (b) a correlation jump shrinks the trade on a drift between two assets ------------------------------------


def two_assets(correlation: float) -> np.ndarray:
    s2 = 0.04
    return np.array([[s2, correlation * s2], [correlation * s2, s2]])


@pytest.mark.parametrize("drift", [0.02, 0.04])
def test_a_correlation_jump_shrinks_the_trade_as_the_single_account_objective_does(drift: float) -> None:
    # 50/50 of two 20%-volatility assets, A over by ``drift``: a swap pays while 4 gamma s2 (1 - rho) d > 2h,
    # so the edge is d* = h / (2 gamma s2 (1 - rho)): 1.25 pp at rho = 0, 6.25 pp at rho = 0.8 (gamma 0.5)
    a = int(50_000 + drift * 100_000)
    hh = household({"A": "0.5", "B": "0.5"}, ira({"A": a, "B": 100_000 - a}))
    gamma = 0.5
    sizes = {}
    for rho in (0.0, 0.8):
        plan = traded(plan_with(hh, two_assets(rho), gamma, cash_drag=0.02), 100_000)
        _, one = single([0.5 + drift, 0.5 - drift], [0.5, 0.5], two_assets(rho), gamma, drag=0.02)
        sizes[rho] = -plan.get("A", 0.0)
        assert bool(plan) == one.trades_anything
        assert sizes[rho] == pytest.approx(-one.trades[0], abs=drift / BREAKPOINTS)
    assert sizes[0.0] == pytest.approx(drift - 0.0125, abs=drift / BREAKPOINTS)
    assert sizes[0.8] < sizes[0.0]  # the jump shrinks the trade ...
    if drift < 0.0625:
        assert sizes[0.8] == 0.0  # ... to nothing inside the wider region


# (c) a one-account household without tax decides as the single account -----------------------------------

THREE = np.array([[0.04, 0.012, 0.002], [0.012, 0.0225, 0.001], [0.002, 0.001, 0.0036]])


def threshold(weights: list[float], targets: list[float], cov: np.ndarray) -> float:
    """The risk aversion at which the single-account objective stops waiting (bisection on ``waits``)."""
    inputs, _ = single(weights, targets, cov, 1.0)
    low, high = 1e-4, 1e3
    for _ in range(80):
        mid = (low * high) ** 0.5
        low, high = (mid, high) if waits(inputs, mid) else (low, mid)
    return high


def test_trade_or_wait_agrees_with_the_single_account_on_both_sides_of_its_threshold() -> None:
    weights, targets = [0.45, 0.20, 0.35], [0.40, 0.25, 0.35]
    hh = household({"A": "0.40", "B": "0.25", "C": "0.35"}, ira({"A": 45_000, "B": 20_000, "C": 35_000}))
    edge = threshold(weights, targets, THREE)
    waiting = plan_with(hh, THREE, 0.95 * edge)
    assert not waiting.trades
    # the linearised term is exact where the household stands: its risk is the quadratic's
    drift = np.array(weights) - np.array(targets)
    assert waiting.objective.risk == pytest.approx(0.95 * edge * drift @ THREE @ drift * 100_000, rel=1e-6)
    for gamma in (1.05 * edge, 4 * edge, 40 * edge):
        plan = traded(plan_with(hh, THREE, gamma), 100_000)
        _, one = single(weights, targets, THREE, gamma)
        assert one.trades_anything and plan
        assert set(plan) == {s for s, z in zip("ABC", one.trades, strict=True) if abs(z) > 1e-4}
        for i, symbol in enumerate("ABC"):
            expected = pytest.approx(one.trades[i], abs=0.05 / BREAKPOINTS)
            assert plan.get(symbol, 0.0) == expected, (gamma, symbol)


def test_on_real_returns_the_household_and_the_account_share_one_risk_model() -> None:
    """The covariance the household prices comes from the same ``RiskModel`` (EWMA on the bundled daily
    returns, relative scaling, shape 0.5) the account's objective uses; on the same 60/30/10 mix drifted
    by 2022's stock fall, both trade the same way, by about as much."""
    history = load_history(("VTI", "BND", "GLD"), None, date(2022, 9, 30))
    returns = history.total_returns()
    symbols = history.symbols
    targets = {"VTI": 0.6, "BND": 0.3, "GLD": 0.1}
    dollars = {"VTI": 52_000, "BND": 36_000, "GLD": 12_000}
    spreads = {s: CostModel().half_spread(s) * 2e4 for s in symbols}
    hh = Household(
        (ira(dollars),),
        TargetAllocation({s: D(str(w)) for s, w in targets.items()}),
        BandPolicy(Band(absolute=D("0.05"))),
        {s: Quote(PRICE, spreads[s]) for s in symbols},
        TaxRates(D("0.35"), D("0.15")),
        DAY,
    )
    spec = ObjectiveSpec(tracking=None, risk_aversion=0.002, risk=RiskModel())
    risk = HouseholdObjective(spec).risk(hh, returns, DAY)
    assert isinstance(risk, HouseholdRisk)
    w = np.array([dollars[s] / 100_000 for s in symbols])
    t = np.array([targets[s] for s in symbols])
    cov = RiskModel().scaled(RiskModel().covariance(returns), t)
    np.testing.assert_allclose(risk.covariance, cov)
    settings = OptimizerSettings(impact_segments=0, min_trade=D("0.01"))
    plan = HouseholdObjective(spec).decide(hh, settings, risk)
    inputs = DecisionInputs(
        weights=w,
        targets=t,
        covariance=cov,
        half_spread=np.array([CostModel().half_spread(s) for s in symbols]),
        cash_goal=0.0,
        cash_drag=spec.cash_drag,
    )
    one = decide(inputs, 0.002)
    got = traded(plan, 100_000)
    assert one.trades_anything and got
    drift = float(np.abs(w - t).max())
    for i, symbol in enumerate(symbols):
        assert np.sign(got.get(symbol, 0.0)) == np.sign(round(one.trades[i], 4)), symbol
        assert got.get(symbol, 0.0) == pytest.approx(one.trades[i], abs=drift / BREAKPOINTS), symbol
    assert any(n.startswith("objective: risk cost of the drift") for n in plan.notes)


def test_a_gain_in_a_taxable_account_is_sold_later_than_the_same_drift_in_an_ira() -> None:
    """The tax lots stay in the MILP: the same drift is traded back in an IRA and left alone when the
    only holding to sell is a taxable lot with a large short-term gain."""
    lot = Lot("taxable", "A", D(330), D(20), date(2022, 6, 1), lot_id="l1")
    flat = Lot("taxable", "C", D(340), D(100), date(2020, 1, 2), lot_id="l2")
    taxable = Account("taxable", AccountType.TAXABLE, D(0), lots=(lot, flat))
    hh_tax = household({"A": "0.30", "B": "0.30", "C": "0.40"}, taxable, ira({"B": 33_000}, name="ira"))
    mix = {"A": "0.30", "B": "0.30", "C": "0.40"}
    hh_ira = household(mix, ira({"A": 33_000, "C": 34_000}), ira({"B": 33_000}, name="i2"))
    assert traded(plan_with(hh_ira, SIGMA, 0.5), 100_000).get("A", 0.0) < 0
    assert "A" not in traded(plan_with(hh_tax, SIGMA, 0.5), 100_000)


def test_without_a_forecast_the_household_is_told_why() -> None:
    hh = household({"A": "0.5", "B": "0.5"}, ira({"A": 52_000, "B": 48_000}))
    why = HouseholdObjective(ObjectiveSpec()).risk(hh, np.zeros((10, 2)), DAY)
    assert why == "10 sessions of returns for every household symbol, a risk forecast needs 63"
    assert CASH not in hh.symbols


def test_the_tracking_preset_sets_how_far_the_household_trades_as_it_does_for_an_account() -> None:
    """``tight`` and ``relaxed`` fitted by the account's calibration on the same returns: tight has the
    larger risk aversion and trades the same drift further back; the fit is kept for its refit period."""
    history = load_history(("VTI", "BND"), None, date(2019, 12, 31))
    returns = history.total_returns()
    hh = Household(
        (ira({"VTI": 66_000, "BND": 34_000}),),
        TargetAllocation({"VTI": D("0.6"), "BND": D("0.4")}),
        BandPolicy(Band(absolute=D("0.05"))),
        {s: Quote(PRICE, 2.0) for s in history.symbols},
        TaxRates(D("0.35"), D("0.15")),
        DAY,
    )
    settings = OptimizerSettings(impact_segments=0, min_trade=D("0.01"))
    sold = {}
    for preset in ("tight", "relaxed"):
        objective = HouseholdObjective(ObjectiveSpec(tracking=TrackingTarget.preset(preset)))
        risk = objective.risk(hh, returns, DAY)
        assert isinstance(risk, HouseholdRisk)
        assert (
            risk.note.startswith(f"{preset}: tracking error")
            and "fitted on the last 504 sessions" in risk.note
        )
        assert objective.risk(hh, returns, DAY).gamma == risk.gamma  # cached for the quarter
        sold[preset] = (risk.gamma, -traded(objective.decide(hh, settings, risk), 100_000).get("VTI", 0.0))
    assert sold["tight"][0] > sold["relaxed"][0]
    assert sold["tight"][1] > sold["relaxed"][1] >= 0.0


@pytest.mark.parametrize(("tax_weight", "trades"), [(1.0, False), (0.39, True)])
def test_a_taxable_gain_is_weighed_at_the_share_of_tax_the_account_counts(tax_weight, trades) -> None:
    # A 56% / B 44% of a 50/50 target, both 20% volatile, in one taxable account; A's only lot has a 20%
    # short-term gain: selling a dollar of A costs 0.35 x 0.2 = 7 cents of tax. A swap pays once
    # 2 gamma 0.04 (0.06 + 0.06) = 0.0384 (gamma 4) exceeds 2h + counted tax: not at 0.001 + 0.07, but at
    # the 39% present value the account's objective counts (0.001 + 0.0273)
    lots = (
        Lot("taxable", "A", D(560), D(80), date(2022, 6, 1), lot_id="a"),
        Lot("taxable", "B", D(440), D(100), date(2022, 6, 1), lot_id="b"),
    )
    hh = household({"A": "0.5", "B": "0.5"}, Account("taxable", AccountType.TAXABLE, D(0), lots=lots))
    cov = np.diag([0.04, 0.04])
    spec = ObjectiveSpec(tracking=None, risk_aversion=4.0, tax_weight=tax_weight)
    risk = HouseholdRisk(hh.symbols, cov, 4.0, cash_drag=spec.cash_drag)
    settings = OptimizerSettings(impact_segments=0, min_trade=D("0.01"))
    plan = HouseholdObjective(spec).decide(hh, settings, risk)
    inputs = DecisionInputs(
        weights=np.array([0.56, 0.44]),
        targets=np.array([0.5, 0.5]),
        covariance=cov,
        half_spread=np.full(2, HALF),
        sell_tax=np.array([tax_weight * 0.35 * 0.2, 0.0]),
        cash_goal=0.0,
        cash_drag=spec.cash_drag,
    )
    one = decide(inputs, 4.0)
    assert bool(plan.trades) is trades is one.trades_anything
    got = traded(plan, 100_000)
    assert got.get("A", 0.0) == pytest.approx(one.trades[0], abs=0.06 / BREAKPOINTS)
    assert f"({tax_weight:.0%} of it counted)" in plan.notes[-1]
