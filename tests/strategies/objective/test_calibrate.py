"""The tracking knob on real bundled returns: a fitted risk aversion meets its goal out of sample, tighter
targets trade more, fits are reused within their period, and the rolling refit never looks ahead."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from functools import cache

import numpy as np
import pytest

import strategies.objective.trigger as trigger_module
from bot.backtest.costs import CostModel
from bot.backtest.data import PriceHistory, load_history
from bot.backtest.library import LIBRARY
from strategies.bands import Band, BandPolicy
from strategies.costs import DEFAULT_SPREAD_BPS
from strategies.market_state import AssetCosts, MarketState
from strategies.objective.calibrate import (
    PRESETS,
    Fit,
    FitCache,
    TrackingPolicy,
    TrackingTarget,
    fit_risk_aversion,
    refit_period,
)
from strategies.objective.risk import TRADING_DAYS, RiskModel
from strategies.objective.trigger import ObjectiveSpec, ObjectiveTrigger
from strategies.portfolio import PortfolioSnapshot
from strategies.simulation.path import SimCosts, simulate
from strategies.simulation.policies import ObjectivePolicy
from strategies.triggers import BandTrigger, TriggerContext

END = date(2019, 12, 31)


UNIFORM = CostModel(spread_bps=DEFAULT_SPREAD_BPS)


@cache
def data(name: str) -> tuple[PriceHistory, np.ndarray, np.ndarray, SimCosts]:
    """History, returns (row t: into close t), targets and a uniform 2 bp spread for a library mix.

    The goals below were established on that spread; the calibrated ones (``bot/cost_table.py``, 0.6-2.2 bp
    for these funds) make trading cheaper and the fits track tighter than asked in some years
    (diversified fitted at the start of 2016: 0.16% against a 0.25% goal): the cost model's doing."""
    allocation = LIBRARY[name]
    history = load_history(allocation.symbols, None, END)
    returns = np.vstack([np.zeros(len(history.symbols)), history.total_returns()])
    returns.flags.writeable = False
    targets = np.array([float(allocation.weight(s)) for s in history.symbols])
    half = np.array([UNIFORM.half_spread(s) for s in history.symbols])
    return history, returns, targets, SimCosts(half, np.zeros_like(half), 0.005)


def later_year(name: str, t: int, gamma: float) -> tuple[float, float, float]:
    """(tracking error, turnover, volatility of the target) over the year after ``t`` at a fixed ``gamma``.

    The year is walked twice and scored on the second pass, as ``fit_risk_aversion`` scores its window:
    a portfolio that starts at target has not drifted yet and would flatter every setting."""
    _, returns, targets, costs = data(name)
    later = returns[t + 1 : t + 1 + TRADING_DAYS]
    twice = np.vstack([returns[: t + 1], later, later])
    outcome = simulate(ObjectivePolicy((gamma,)), twice, targets, costs, t, score_from=t + TRADING_DAYS)[0]
    volatility = float(np.std(later @ targets, ddof=1) * np.sqrt(TRADING_DAYS))
    return outcome.tracking_error, outcome.turnover, volatility


@pytest.mark.parametrize(
    ("name", "day"), [("diversified", date(2016, 1, 4)), ("three-fund", date(2014, 1, 2))]
)
def test_a_fit_meets_its_tracking_goal_in_the_year_after_it(name: str, day: date) -> None:
    """Fitted on the two years before ``day`` only, for the ``tight`` preset (3% of the portfolio's
    volatility: a goal the objective has to trade for), the next year's tracking error is within 30% of 3%
    of that year's volatility. Not every year manages it: 60/40 fitted at the start of 2012 tracks 2.5x
    its goal in 2012, when volatility fell from 12% to 7% and a relative goal fell with it; the quarterly
    refit (``TrackingPolicy``) is there to follow such shifts."""
    history, returns, targets, costs = data(name)
    t = history.first_on_or_after(day)
    target = TrackingTarget.preset("tight")
    fit = fit_risk_aversion(returns[: t + 1], targets, costs, RiskModel(), target)
    assert fit.sessions == target.window
    assert fit.tracking_error == pytest.approx(target.value * fit.volatility, rel=0.05)  # met in its window
    tracking_error, turnover, volatility = later_year(name, t, fit.gamma)
    assert turnover > 0.001  # it trades: the goal is not met by standing still
    assert tracking_error == pytest.approx(target.value * volatility, rel=0.30)


def test_a_fit_meets_its_goal_in_its_window_at_the_spreads_estimated_from_real_bars() -> None:
    """60/40 in mid-2014 at the bundled ETFs' own spreads (0.16-0.44 bp a side, ``bot/cost_table.py``) and
    square-root impact: the anchor read from the spreads alone sits about a fifth of the answer, so the
    first bracket of multiples all tracked looser than the goal (0.79% against 0.42%) and the fit kept its
    end. The search widens until one brackets the goal."""
    history, returns, targets, _ = data("60-40")
    calibrated = CostModel()
    half = np.array([calibrated.half_spread(s) for s in history.symbols])
    costs = SimCosts(half, np.full(half.shape, 5e-5), 0.005)
    t = history.first_on_or_after(date(2014, 6, 5))
    target = TrackingTarget.preset("balanced")
    fit = fit_risk_aversion(returns[: t + 1], targets, costs, RiskModel(), target)
    assert fit.tracking_error == pytest.approx(target.value * fit.volatility, rel=0.05)


@pytest.mark.parametrize(("name", "day"), [("60-40", date(2012, 1, 3)), ("diversified", date(2016, 1, 4))])
def test_a_tighter_target_fits_a_larger_risk_aversion_and_trades_more(name: str, day: date) -> None:
    """Monotone in the knob, on the same window. 60/40 at the start of 2012 is a window whose drift seldom
    reached the region's edge (the simulated tracking error is flat in gamma): ``balanced`` once came out
    exactly as tight as ``tight`` there."""
    history, returns, targets, costs = data(name)
    t = history.first_on_or_after(day)
    fits = {
        preset: fit_risk_aversion(
            returns[: t + 1], targets, costs, RiskModel(), TrackingTarget.preset(preset)
        )
        for preset in ("tight", "balanced", "relaxed")
    }
    gammas = [fits[p].gamma for p in ("tight", "balanced", "relaxed")]
    assert gammas[0] > gammas[1] > gammas[2]
    later = [later_year(name, t, g) for g in gammas]
    turnovers = [turnover for _, turnover, _ in later]
    errors = [te for te, _, _ in later]
    assert turnovers[0] >= turnovers[1] >= turnovers[2]
    assert turnovers[0] > turnovers[2]
    assert errors[0] <= errors[1] * 1.02 and errors[1] <= errors[2] * 1.02  # looser, up to noise


def _trigger_inputs(name: str, t: int) -> tuple[PortfolioSnapshot, TriggerContext]:
    """The target drifted for a year to the close of ``t``, and the market the live bot would see."""
    history, returns, targets, _ = data(name)
    growth = np.prod(1.0 + returns[t - TRADING_DAYS + 1 : t + 1], axis=0)
    values = 100_000 * targets * growth
    prices = {s: Decimal(f"{p:.2f}") for s, p in zip(history.symbols, history.adj_close[t], strict=True)}
    positions = {
        s: Decimal(f"{v / float(prices[s]):.6f}") for s, v in zip(history.symbols, values, strict=True)
    }
    snapshot = PortfolioSnapshot(Decimal(500), positions, prices)
    costs = {s: AssetCosts(spread_bps=2.0) for s in history.symbols}
    market = MarketState(history.symbols, returns[t + 1 - 1008 : t + 1], costs)
    day = history.days[t]
    return snapshot, TriggerContext(now=datetime(day.year, day.month, day.day, 16), market=market)


def test_the_trigger_fits_once_per_refit_period_and_again_in_the_next(monkeypatch) -> None:
    fits: list[int] = []
    real_fit = trigger_module.fit_risk_aversion

    def counting(returns, *args):  # noqa: ANN001, ANN202 - the real fit, counted
        fits.append(len(returns))
        return real_fit(returns, *args)

    monkeypatch.setattr(trigger_module, "fit_risk_aversion", counting)
    history, *_ = data("60-40")
    fallback = BandTrigger(BandPolicy(Band(absolute=Decimal("0.05"))))
    trigger = ObjectiveTrigger(ObjectiveSpec(), fallback, cash_floor=Decimal("0.005"))
    first = history.first_on_or_after(date(2016, 1, 4))
    same_quarter = history.first_on_or_after(date(2016, 3, 15))
    next_quarter = history.first_on_or_after(date(2016, 4, 1))
    reasons = []
    for t in (first, same_quarter, next_quarter):
        snapshot, context = _trigger_inputs("60-40", t)
        reasons.append(trigger.evaluate(snapshot, LIBRARY["60-40"], context).reason)
    assert len(fits) == 2  # January's fit served March; April refitted
    note = "fitted on the last 504 sessions"
    assert all(note in r for r in reasons)
    # the March decision gives January's fit, by its numbers
    assert reasons[0].split("[")[1] == reasons[1].split("[")[1]


def test_the_fit_cache_keeps_what_it_is_given_and_stays_small() -> None:
    cache_ = FitCache()
    fit = Fit(1e-3, 0.004, 0.1, 504)
    assert cache_.get((2016, 0)) is None
    cache_.put((2016, 0), fit)
    assert cache_.get((2016, 0)) is fit
    for k in range(100):
        cache_.put((3000 + k, 0), Fit(k, 0.0, 0.0, 0))
    assert cache_.get((2016, 0)) is None and cache_.get((3099, 0)) is not None  # oldest dropped first
    assert refit_period(date(2016, 3, 31), TrackingTarget(0.06)) == (2016, 0)
    assert refit_period(date(2016, 4, 1), TrackingTarget(0.06)) == (2016, 1)
    assert refit_period(date(2016, 4, 1), TrackingTarget(0.06, refit_months=6)) == (2016, 0)


def test_the_rolling_refit_never_looks_ahead() -> None:
    """Two histories identical up to a day and different after it (later returns scrambled): everything the
    policy did up to that day, fits and portfolio alike, is the same. A policy that read a later return,
    for its risk forecast or its fit, would differ."""
    history, returns, targets, costs = data("diversified")
    start = history.first_on_or_after(date(2015, 1, 2))
    cut = history.first_on_or_after(date(2015, 7, 15))
    scrambled = returns.copy()
    rng = np.random.default_rng(7)
    scrambled[cut + 1 :] = rng.permutation(returns[cut + 1 :]) * 3.0
    target = TrackingTarget(PRESETS["tight"], window=126)  # a short window keeps the test quick
    runs = []
    for path in (returns, scrambled):
        policy = TrackingPolicy(target, history.days)
        outcome = simulate(policy, path, targets, costs, start, end=cut)[0]
        runs.append((policy, outcome))
    (first, a), (second, b) = runs
    assert a == b
    assert [(t, f.gamma) for t, f in first.fits] == [(t, f.gamma) for t, f in second.fits]
    # one fit per quarter, at its first session (and one at the start): January, April, July
    assert [history.days[t] for t, _ in first.fits] == [
        history.days[start + 1],
        history.days[history.first_on_or_after(date(2015, 4, 1))],
        history.days[history.first_on_or_after(date(2015, 7, 1))],
    ]
    assert all(f.sessions == target.window for _, f in first.fits)
    # and the scrambled future does change what happens after the cut (the check has teeth)
    later = [
        simulate(TrackingPolicy(target, history.days), p, targets, costs, cut, cut + 63)[0]
        for p in (returns, scrambled)
    ]
    assert later[0] != later[1]


def test_presets_and_their_validation() -> None:
    assert TrackingTarget.preset("balanced") == replace(TrackingTarget(0.06), name="balanced")
    with pytest.raises(ValueError, match="unknown preset 'snug'; choose tight, balanced, relaxed"):
        TrackingTarget.preset("snug")
    with pytest.raises(ValueError, match="between 0 and 1"):
        TrackingTarget(1.5)


def test_a_target_that_is_not_a_whole_percent_is_described_with_its_decimal() -> None:
    """An expert's 4.5% read as "4%" or "5%" before: the description rounded to a whole percent."""
    assert "tracking error 4.5% of the portfolio's volatility" in TrackingTarget(0.045).describe()
    assert "tracking error 0.8% of the portfolio's volatility" in TrackingTarget(0.008).describe()
    assert TrackingTarget.preset("balanced").describe() == (
        "balanced: tracking error 6% of the portfolio's volatility"
    )
