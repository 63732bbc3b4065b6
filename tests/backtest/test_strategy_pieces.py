"""The small decision pieces the backtester added to ``strategies/``: schedules, the calendar trigger and the
shared cost formulas (cash flows: ``tests/strategies/test_cash_flows.py``)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.backtest.costs import CostModel
from bot.cost_table import calibrated_spread
from bot.paper_broker.market import MarketConfig
from bot.paper_broker.matching import MatchingConfig
from strategies.costs import (
    DEFAULT_IMPACT_COEFFICIENT,
    DEFAULT_SPREAD_BPS,
    Commission,
    fill_price,
    half_spread_fraction,
    impact_fraction,
)
from strategies.planner import plan_rebalance
from strategies.portfolio import Side
from strategies.schedules import CalendarTrigger, EverySession, NoChecks, Period, Periodic
from strategies.targets import CASH
from strategies.triggers import TriggerContext
from tests.strategies.builders import D, bands, settings, snapshot, targets


def weekdays(start: date, end: date) -> list[date]:
    days, day = [], start
    while day <= end:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


# --- schedules ----------------------------------------------------------------------------------------------


def test_periodic_checks_the_first_session_of_each_period_never_the_start() -> None:
    sessions = weekdays(date(2021, 12, 15), date(2022, 7, 15))
    monthly = [sessions[i] for i in Periodic(Period.MONTH).check_indices(sessions)]
    firsts = [(1, 3), (2, 1), (3, 1), (4, 1), (5, 2), (6, 1), (7, 1)]  # first weekday of each month
    assert monthly == [date(2022, m, d) for m, d in firsts]
    quarterly = [sessions[i] for i in Periodic(Period.QUARTER).check_indices(sessions)]
    assert quarterly == [date(2022, 1, 3), date(2022, 4, 1), date(2022, 7, 1)]
    assert [sessions[i] for i in Periodic(Period.YEAR).check_indices(sessions)] == [date(2022, 1, 3)]


def test_every_other_week_counts_weeks_from_the_start_and_skips_holidays() -> None:
    sessions = [d for d in weekdays(date(2022, 1, 3), date(2022, 3, 4)) if d != date(2022, 1, 17)]  # MLK day
    checks = [sessions[i] for i in Periodic(Period.WEEK, every=2).check_indices(sessions)]
    # weeks of Jan 3 (start), Jan 17 (Monday a holiday: Tuesday), Jan 31, Feb 14, Feb 28
    assert checks == [date(2022, 1, 18), date(2022, 1, 31), date(2022, 2, 14), date(2022, 2, 28)]
    assert all(b.weekday() <= 1 for b in checks)


@pytest.mark.parametrize(
    "schedule", [Periodic(Period.MONTH), Periodic(Period.WEEK, every=2), EverySession(), NoChecks()]
)
def test_is_due_agrees_with_check_indices(schedule) -> None:  # noqa: ANN001
    sessions = weekdays(date(2020, 1, 2), date(2021, 6, 30))
    last: date | None = sessions[0]  # the start is where a backtest invests
    due = []
    for i, day in enumerate(sessions[1:], start=1):
        if schedule.is_due(day, last):
            due.append(i)
            last = day
    assert tuple(due) == schedule.check_indices(sessions)


def test_periodic_rejects_a_zero_step() -> None:
    with pytest.raises(ValueError, match="every must be >= 1"):
        Periodic(Period.MONTH, every=0)


# --- calendar trigger ---------------------------------------------------------------------------------------


def test_calendar_trigger_always_fires_and_trades_every_asset_to_target() -> None:
    snap = snapshot({"SPY": (124, 500), "AGG": (380, 100)}, cash=0)  # SPY 62% vs 60%: inside any usual band
    decision = CalendarTrigger().evaluate(snap, targets(SPY="0.6", AGG="0.4"), TriggerContext())
    assert decision.fired and {r.symbol for r in decision.breached} == {"SPY", "AGG"}
    plan = plan_rebalance(snap, targets(SPY="0.6", AGG="0.4"), bands("0.05"), settings(), decision)
    assert [(o.side, o.symbol) for o in plan.orders] == [(Side.SELL, "SPY"), (Side.BUY, "AGG")]
    assert plan.weights_after["SPY"] == D("0.6")


def test_calendar_trigger_marks_cash_only_when_above_its_target() -> None:
    tg = targets(cash="0.05", SPY="0.95")
    above = CalendarTrigger().evaluate(snapshot({"SPY": (18, 500)}, cash=1000), tg)
    below = CalendarTrigger().evaluate(snapshot({"SPY": (20, 500)}, cash=0), tg)
    assert above.asset(CASH).breached and not below.asset(CASH).breached


# --- costs --------------------------------------------------------------------------------------------------


def test_cost_defaults_are_the_paper_brokers() -> None:
    """The backtester, the paper broker and the live decision read one spread per symbol: the calibrated
    table's (SPY well under a basis point, an unknown symbol the cautious fallback)."""
    broker, backtest = MarketConfig(), CostModel()
    for symbol in ("SPY", "TLT", "EEM", "IAU", "NOT-A-FUND"):
        assert broker.spread_for(symbol) == backtest.spread_for(symbol) == calibrated_spread(symbol)
    assert broker.spread_for("SPY") < 1.0
    assert broker.spread_for("NOT-A-FUND") == DEFAULT_SPREAD_BPS
    assert MatchingConfig().impact_coefficient == CostModel().impact_coefficient == DEFAULT_IMPACT_COEFFICIENT


def test_square_root_impact_and_fill_prices() -> None:
    # NOTES.md section 3: at sigma 1.5%/day, ~10 bp at 1% of ADV
    assert impact_fraction(10_000, 1_000_000, 0.015) == pytest.approx(0.7 * 0.015 * 0.1)
    assert impact_fraction(100, 0, 0.02) == 0.0
    assert impact_fraction(-5, 100, 0.02) == 0.0
    assert half_spread_fraction(2.0) == pytest.approx(0.0001)
    assert fill_price(100.0, True, 0.0001, 0.001) == pytest.approx(100 * 1.0001 * 1.001)
    assert fill_price(100.0, False, 0.0001, 0.001) == pytest.approx(100 * 0.9999 * 0.999)


def test_commission_schedule() -> None:
    assert Commission().amount(100, 10_000) == 0.0
    assert Commission(per_order=1.0, per_share=0.005, minimum=1.5).amount(100, 10_000) == pytest.approx(1.5)
    assert Commission(bps=1.0).amount(10, 50_000) == pytest.approx(5.0)
    with pytest.raises(ValueError):
        Commission(per_order=-1)
