"""The objective as the live bot's trigger, through the live planner, on real bundled returns: it trades to
its own goals, waits with its numbers, falls back to the bands without history, and waits (saying why)
when the solver gives no answer."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from functools import cache

import numpy as np
import pytest

import strategies.objective.problem as problem
from bot.backtest.data import PriceHistory, load_history
from bot.backtest.policies import SIXTY_FORTY
from strategies.bands import Band, BandPolicy
from strategies.market_state import AssetCosts, MarketState
from strategies.objective.risk import RiskModel
from strategies.objective.trigger import ObjectiveSpec, ObjectiveTrigger
from strategies.plan import RebalancePlan
from strategies.planner import PlannerSettings, plan_rebalance
from strategies.portfolio import PortfolioSnapshot
from strategies.targets import CASH
from strategies.triggers import BandTrigger, TriggerContext, TriggerDecision

DAY = date(2016, 6, 1)
BANDS = BandPolicy(Band(absolute=Decimal("0.05")))
SETTINGS = PlannerSettings(cash_buffer=Decimal("0.005"))
GAMMA = 1e-3
"""A fixed risk aversion (no refit: these tests are about the trigger, not the fit); relative scale."""


@cache
def history() -> PriceHistory:
    return load_history(SIXTY_FORTY.symbols, None, DAY)


def market(sessions: int = 504, symbols: tuple[str, ...] | None = None) -> MarketState:
    """Daily total returns up to the close of ``DAY`` and a 2 bp spread, as the live bot's bars give them."""
    data = history()
    returns = data.total_returns()[-sessions:]
    columns = [data.symbols.index(s) for s in symbols or data.symbols]
    chosen = tuple(data.symbols[i] for i in columns)
    costs = {s: AssetCosts(spread_bps=2.0) for s in chosen}
    return MarketState(chosen, returns[:, columns], costs)


def snapshot(spy: float, agg: float) -> PortfolioSnapshot:
    """A $100,000 account at ``DAY``'s closes with these weights of SPY and AGG, the rest cash."""
    data = history()
    prices = {s: Decimal(f"{p:.2f}") for s, p in zip(data.symbols, data.adj_close[-1], strict=True)}
    weights = {"SPY": spy, "AGG": agg}
    positions = {s: Decimal(f"{100_000 * w / float(prices[s]):.6f}") for s, w in weights.items()}
    cash = Decimal(f"{100_000 * (1 - spy - agg):.2f}")
    return PortfolioSnapshot(cash, positions, prices, fractionable={"SPY": True, "AGG": True})


def trigger(**spec) -> ObjectiveTrigger:  # noqa: ANN003 - ObjectiveSpec fields
    spec.setdefault("risk_aversion", GAMMA)
    return ObjectiveTrigger(
        ObjectiveSpec(**spec),
        BandTrigger(BANDS, cash_floor=SETTINGS.cash_buffer),
        cash_floor=Decimal("0.005"),
    )


def decide_and_plan(
    account: PortfolioSnapshot, state: MarketState | None, objective: ObjectiveTrigger | None = None
) -> tuple[TriggerDecision, RebalancePlan]:
    context = TriggerContext(now=datetime(DAY.year, DAY.month, DAY.day, 16), market=state)
    decision = (objective or trigger()).evaluate(account, SIXTY_FORTY, context)
    return decision, plan_rebalance(account, SIXTY_FORTY, BANDS, SETTINGS, decision)


def bp(text: str, label: str) -> float:
    """The number after ``label`` in an explanation (``risk cost 1.23`` -> 1.23)."""
    found = re.search(rf"{label} (-?\d+\.\d+)", text)
    assert found, f"{label!r} not in {text!r}"
    return float(found.group(1))


def test_with_history_it_trades_to_its_goals_through_the_planner() -> None:
    decision, plan = decide_and_plan(snapshot(0.70, 0.295), market())
    assert decision.trigger == "objective" and decision.fired
    goals = {row.symbol: row.goal for row in decision.assets}
    # part-way: to the edge of the no-trade region, not to target, and not past it
    assert Decimal("0.60") < goals["SPY"] < Decimal("0.69")
    assert Decimal("0.295") < goals["AGG"] <= Decimal("0.40")
    assert goals[CASH] == pytest.approx(Decimal("0.005"), abs=Decimal("0.0001"))  # the buffer stays
    assert {(o.symbol, o.side.value) for o in plan.orders} == {("SPY", "sell"), ("AGG", "buy")}
    for symbol in ("SPY", "AGG"):  # the planner took the goals, not its own trade_to (target)
        assert plan.weights_after[symbol] == pytest.approx(goals[symbol], abs=Decimal("0.0002"))
    # the explanation gives the numbers, and they add up
    text = decision.reason
    assert text.startswith("trade: forecast tracking error ")
    before, after = (float(x) for x in re.search(r"risk cost (\d+\.\d+) -> (\d+\.\d+) bp", text).groups())
    cost, tax, net = bp(text, "trading cost"), bp(text, "tax"), bp(text, "net benefit")
    assert after < before and cost > 0 and tax == 0
    assert net == pytest.approx(before - after - cost, abs=0.02) and net > 0
    assert "risk aversion 0.001 (fixed)" in text


def test_a_wait_explains_itself_with_the_numbers() -> None:
    decision, plan = decide_and_plan(snapshot(0.615, 0.38), market())
    assert not decision.fired and not plan.orders
    text = decision.reason
    assert text.startswith("wait: forecast tracking error ")
    risk, cost, net = bp(text, "risk cost"), bp(text, "trading cost"), bp(text, "net benefit")
    assert risk > 0 and cost > 0
    assert net <= 0  # nothing pays, not even going back to target
    assert re.search(r"nearest: (selling|buying) (SPY|AGG) would save \d+% of its cost", text)
    assert "back to target: risk cost" in text
    assert "idle cash" not in text  # cash at the buffer is not idle, and a 0.00 bp line says nothing


def test_without_history_it_decides_by_the_configured_bands_and_says_so() -> None:
    decision, plan = decide_and_plan(snapshot(0.70, 0.295), market(sessions=20))
    assert decision.trigger.startswith("objective (fallback: ") and decision.fired
    assert decision.reason.startswith(
        "objective: 20 sessions of returns, a risk forecast needs 63; deciding by the configured bands"
    )
    assert all(row.goal is None for row in decision.assets)
    assert plan.weights_after["SPY"] == pytest.approx(Decimal("0.60"), abs=Decimal("0.001"))  # to target
    # no market at all, or an asset the bars lack: the same, naming what is missing
    nothing, _ = decide_and_plan(snapshot(0.70, 0.295), None)
    assert nothing.reason.startswith("objective: no return history for AGG, SPY;") and nothing.fired
    partial, _ = decide_and_plan(snapshot(0.70, 0.295), market(symbols=("SPY",)))
    assert partial.reason.startswith("objective: no return history for AGG; deciding by the configured bands")
    # inside the bands the fallback waits, and says whose rule it was
    calm, calm_plan = decide_and_plan(snapshot(0.62, 0.375), market(sessions=20))
    assert not calm.fired and not calm_plan.orders and "deciding by the configured bands" in calm.reason


@pytest.fixture
def solver_gives_up(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """Clarabel allowed a single iteration: it stops with MaxIterations (solvers are rebuilt for it)."""
    settings = problem._settings()
    settings.max_iter = 1
    monkeypatch.setattr(problem, "_SETTINGS", settings)
    problem._layout.cache_clear()
    yield
    problem._layout.cache_clear()


def test_a_solver_failure_waits_and_names_the_failure(solver_gives_up) -> None:  # noqa: ANN001
    decision, plan = decide_and_plan(snapshot(0.70, 0.295), market())
    assert not decision.fired and not plan.orders
    assert decision.reason.startswith(
        "wait: no decision this time (the solver stopped with MaxIterations); forecast tracking error "
    )
    assert all(row.goal == row.weight.quantize(Decimal("0.000000001")) for row in decision.assets[:-1])


def test_a_correlation_forecast_from_shrinkage_decides_the_same_way() -> None:
    """Ledoit-Wolf instead of the plain EWMA covariance: the same drift, the same kind of decision."""
    shrunk = trigger(risk=RiskModel(shrinkage="ledoit_wolf"))
    decision, plan = decide_and_plan(snapshot(0.70, 0.295), market(), shrunk)
    assert decision.fired and plan.orders
    plain, _ = decide_and_plan(snapshot(0.70, 0.295), market())
    goal = {r.symbol: r.goal for r in decision.assets}["SPY"]
    assert goal == pytest.approx({r.symbol: r.goal for r in plain.assets}["SPY"], abs=Decimal("0.01"))
    assert np.isfinite(float(goal))


def test_the_objective_decides_once_a_session_from_ten_and_says_when_it_holds() -> None:
    """Checks every few minutes must not trade a few dollars back to the region's edge at each one: the
    objective decides at the first check from 10:00 New York time, once a session, as its simulations do."""
    from zoneinfo import ZoneInfo

    new_york = ZoneInfo("America/New_York")
    objective = trigger()
    drifted = snapshot(0.70, 0.295)

    def at(day: date, hour: int, minute: int) -> TriggerDecision:
        now = datetime(day.year, day.month, day.day, hour, minute, tzinfo=new_york)
        return objective.evaluate(drifted, SIXTY_FORTY, TriggerContext(now=now, market=market()))

    early = at(DAY, 9, 35)
    assert not early.fired and "first check from 10:00 New York time" in early.reason
    decided = at(DAY, 10, 5)
    assert decided.fired  # 10 pp over: the decision trades
    again = at(DAY, 11, 0)
    assert not again.fired and "decided once this session already" in again.reason
    assert at(date(2016, 6, 2), 10, 0).fired  # the next session decides afresh
    every_check = trigger(decide_at=None)
    for minute in (35, 40):
        now = datetime(DAY.year, DAY.month, DAY.day, 9, minute, tzinfo=new_york)
        context = TriggerContext(now=now, market=market())
        assert every_check.evaluate(drifted, SIXTY_FORTY, context).fired


def test_near_the_tax_horizon_a_sales_tax_counts_only_the_time_value_of_paying_it_early() -> None:
    """Issue 15: a gain realised n years before the investor sells everything pays its tax n years early,
    no more; the configured share (ten years at 5%) is the most it counts."""
    share = 1 - 1.05**-10
    assert ObjectiveSpec(tax_weight=share).tax_share(DAY) == share  # no horizon: the configured share
    a_year_before = ObjectiveSpec(tax_weight=share, tax_horizon=date(2017, 6, 1))
    assert a_year_before.tax_share(DAY) == pytest.approx(1 - 1.05 ** -(365 / 365.25))
    assert ObjectiveSpec(tax_weight=share, tax_horizon=date(2046, 6, 1)).tax_share(DAY) == share
    assert a_year_before.tax_share(date(2017, 6, 2)) == 0.0  # at or past it: nothing is deferred
