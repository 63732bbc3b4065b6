"""The small decision pieces the backtester added to ``strategies/``: schedules, the calendar trigger, cash
flows and the shared cost formulas."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.paper_broker.engine import MatchingConfig
from bot.paper_broker.market import MarketConfig
from strategies.cashflows import CashFlowTrigger, plan_cash_flow
from strategies.costs import (
    DEFAULT_IMPACT_COEFFICIENT,
    DEFAULT_SPREAD_BPS,
    Commission,
    fill_price,
    half_spread_fraction,
    impact_fraction,
)
from strategies.planner import TradeTo, plan_rebalance
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


# --- cash flows ---------------------------------------------------------------------------------------------


def test_a_deposit_goes_to_underweight_assets_in_proportion_to_their_shortfall() -> None:
    # after a $20,000 deposit: equity 120k; SPY 66k (goal 72k: short 6k), AGG 34k (goal 48k: short 14k)
    snap = snapshot({"SPY": (132, 500), "AGG": (340, 100)}, cash=20_000)
    tg = targets(SPY="0.6", AGG="0.4")
    plan = plan_cash_flow(snap, tg, bands("0.05"), settings())
    assert all(o.side is Side.BUY for o in plan.orders)
    assert {o.symbol: o.notional for o in plan.orders} == {"SPY": D("6000.00"), "AGG": D("14000.00")}


def test_a_deposit_skips_overweight_assets() -> None:
    snap = snapshot({"SPY": (160, 500), "AGG": (200, 100)}, cash=10_000)  # SPY 80k of 110k: overweight
    plan = plan_cash_flow(snap, targets(SPY="0.6", AGG="0.4"), bands("0.05"), settings())
    assert [(o.side, o.symbol, o.notional) for o in plan.orders] == [(Side.BUY, "AGG", D("10000.00"))]


def test_a_withdrawal_is_raised_from_overweight_assets_only_and_exactly() -> None:
    # $10,000 withdrawn from cash: cash -10k, equity 90k; SPY 63k (goal 54k, +9k), AGG 37k (goal 36k, +1k)
    snap = snapshot({"SPY": (126, 500), "AGG": (370, 100)}, cash=-10_000)
    decision = CashFlowTrigger().evaluate(snap, targets(SPY="0.6", AGG="0.4"))
    assert decision.fired and {r.symbol for r in decision.breached} == {"SPY", "AGG"}
    plan = plan_cash_flow(snap, targets(SPY="0.6", AGG="0.4"), bands("0.05"), settings())
    assert all(o.side is Side.SELL for o in plan.orders)
    assert {o.symbol: o.qty for o in plan.orders} == {"SPY": D(18), "AGG": D(10)}  # $9,000 and $1,000
    assert plan.cash_after == 0


def test_a_withdrawal_takes_an_equal_share_of_each_excess() -> None:
    # cash -2k, equity 98k: SPY 63k vs goal 58.8k (+4.2k); AGG 37k vs 39.2k (under); 2k from SPY only
    snap = snapshot({"SPY": (126, 500), "AGG": (370, 100)}, cash=-2_000)
    plan = plan_cash_flow(snap, targets(SPY="0.6", AGG="0.4"), bands("0.05"), settings())
    assert [(o.side, o.symbol) for o in plan.orders] == [(Side.SELL, "SPY")]
    assert abs(plan.orders[0].qty - D(4)) <= D("1e-9")  # the planner rounds share quantities down


def test_cash_at_its_goal_needs_no_flow_plan() -> None:
    snap = snapshot({"SPY": (120, 500), "AGG": (400, 100)}, cash=0)
    plan = plan_cash_flow(snap, targets(SPY="0.6", AGG="0.4"), bands("0.05"), settings())
    assert not plan.decision.fired and plan.orders == ()


def test_a_partial_policy_still_invests_a_whole_deposit() -> None:
    snap = snapshot({"SPY": (120, 500), "AGG": (400, 100)}, cash=10_000)
    plan = plan_cash_flow(
        snap, targets(SPY="0.6", AGG="0.4"), bands("0.05"), settings(trade_to=TradeTo.PARTIAL)
    )
    assert sum(o.notional for o in plan.orders) == D("10000.00")


# --- costs --------------------------------------------------------------------------------------------------


def test_cost_defaults_are_the_paper_brokers() -> None:
    assert MarketConfig().default_spread_bps == DEFAULT_SPREAD_BPS
    assert MatchingConfig().impact_coefficient == DEFAULT_IMPACT_COEFFICIENT


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
