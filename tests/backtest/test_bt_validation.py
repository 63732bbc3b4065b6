"""Validation against ``bt`` (an independent backtesting library): calendar rebalancing with no costs.

How the conventions are aligned (README "Backtesting" says the same):

* prices: both get the same ``adj_close`` frame (total return: dividends reinvested in their own asset);
* timing: ``bt``'s ``RunMonthly`` / ``RunQuarterly`` fire on the first date of the frame and on the first date
  of each new month / quarter, and ``Rebalance`` trades at that date's price (the close). Ours invests at
  target on the first session and ``Periodic(MONTH | QUARTER)`` checks the first session of each period, where
  ``CalendarTrigger`` fires and ``plan_rebalance`` trades at the close;
* sizes: ``bt`` with ``integer_positions=False`` holds fractional shares, as ours with fractional orders;
* cash: ``bt`` leaves in cash what the weights do not allocate (the diversified mix's 5% cash target); ours
  has that cash target, no cash buffer and no minimum trade (``bt`` has neither);
* costs: none on both sides (``bt``'s default commission is zero; ours uses the free cost model).

What remains is the planner's rounding (buys to the cent, sells to 1e-9 share), worth ~1e-8 of equity.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import bt
import numpy as np
import pytest

from bot.backtest.costs import FREE
from bot.backtest.data import load_history
from bot.backtest.engine import SimOptions, simulate
from bot.backtest.policies import DIVERSIFIED, SIXTY_FORTY, Policy
from strategies.bands import Band, BandPolicy
from strategies.planner import PlannerSettings
from strategies.schedules import CalendarTrigger, Period, Periodic
from strategies.targets import TargetAllocation

START, END = date(2004, 12, 1), date(2022, 12, 30)
CAPITAL = 1_000_000.0


def calendar_policy(period: Period) -> Policy:
    return Policy(
        name=period.value,
        description="calendar, as bt",
        schedule=Periodic(period),
        trigger=CalendarTrigger(),
        bands=BandPolicy(Band(absolute=Decimal("0.05"))),
        settings=PlannerSettings(cash_buffer=Decimal(0), min_trade_notional=Decimal(0)),
        has_bands=False,
    )


def bt_equity(frame, targets: TargetAllocation, period: Period) -> np.ndarray:  # noqa: ANN001 - DataFrame
    run_when = {Period.MONTH: bt.algos.RunMonthly, Period.QUARTER: bt.algos.RunQuarterly}[period]
    weights = {symbol: float(weight) for symbol, weight in targets.weights.items()}
    strategy = bt.Strategy(
        period.value,
        [run_when(), bt.algos.SelectAll(), bt.algos.WeighSpecified(**weights), bt.algos.Rebalance()],
    )
    test = bt.Backtest(strategy, frame, initial_capital=CAPITAL, integer_positions=False, progress_bar=False)
    bt.run(test)
    return test.strategy.values.loc[frame.index].to_numpy()  # bt adds a day before the first: drop it


@pytest.mark.parametrize("targets", [SIXTY_FORTY, DIVERSIFIED], ids=["60-40", "diversified"])
@pytest.mark.parametrize("period", [Period.MONTH, Period.QUARTER], ids=["monthly", "quarterly"])
def test_equity_curve_matches_bt(targets: TargetAllocation, period: Period) -> None:
    history = load_history(targets.symbols, START, END)
    run = simulate(history, targets, calendar_policy(period), SimOptions(capital=CAPITAL, costs=FREE))
    theirs = bt_equity(history.frame(), targets, period)
    relative = np.abs(run.equity / theirs - 1.0)
    assert relative.max() < 1e-6, f"max relative difference {relative.max():.2e}"
    assert len(run.rebalance_days) > (40 if period is Period.QUARTER else 150)  # it did trade all along
