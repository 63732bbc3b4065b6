"""The re-check of an approved plan on fresh prices: volatility-scaled tolerances, named moves and changes.

The numbers are worked by hand: a price series whose daily returns are all +/-0.8% has an EWMA volatility of
exactly 0.8% (zero-mean EWMA of equal squared returns is that square, whatever the weights), one of +/-0.2%
exactly 0.2%.
"""

from __future__ import annotations

from datetime import date

from bot.cycle import plan_details
from strategies.approval_recheck import (
    DEFAULT_MULTIPLE,
    daily_sigma,
    order_changes,
    order_dicts,
    price_moves,
    sessions_between,
    tolerance,
)
from tests.strategies.builders import D, bands, settings, snapshot, targets

FLOOR = D("0.01")


def closes(daily: float, sessions: int = 60, start: float = 100.0) -> list[float]:
    """A price series whose daily returns are alternately +daily and -daily."""
    prices = [start]
    for n in range(sessions):
        prices.append(prices[-1] * (1 + daily if n % 2 == 0 else 1 - daily))
    return prices


STOCK_SIGMA = daily_sigma(closes(0.008))  # a stock fund: 0.8% a day
BOND_SIGMA = daily_sigma(closes(0.002))  # a bond fund: 0.2% a day


def test_the_volatility_is_the_ewma_of_daily_returns():
    assert abs(STOCK_SIGMA - 0.008) < 1e-12
    assert abs(BOND_SIGMA - 0.002) < 1e-12
    assert daily_sigma(closes(0.008, sessions=5)) is None  # too short a history: no estimate


def test_a_one_and_a_half_percent_move_voids_a_bond_fund_approval_but_not_a_stock_fund_one():
    # one session after planning: stock 2.5 x 0.8% x sqrt(1) = 2.00%; bond 2.5 x 0.2% = 0.50% < floor 1%
    stock = tolerance(STOCK_SIGMA, 1, DEFAULT_MULTIPLE, FLOOR)
    bond = tolerance(BOND_SIGMA, 1, DEFAULT_MULTIPLE, FLOOR)
    assert stock.value == D("0.0200")
    assert bond.value == D("0.0100")
    orders = [{"symbol": "VTI", "est_price": "100.00"}, {"symbol": "AGG", "est_price": "100.00"}]
    fresh = {"VTI": D("101.50"), "AGG": D("101.50")}
    [moved] = price_moves(orders, fresh, {"VTI": stock, "AGG": bond})
    assert moved.symbol == "AGG"
    assert moved.line() == (
        "AGG moved +1.50% ($100.00 -> $101.50), beyond its tolerance 1.00% "
        "(2.5 x 0.20% daily vol x sqrt(1 session); floor approval.price_tolerance 1.00%)"
    )
    # with the fixed tolerance of before (multiple 0) the stock fund's move voided the approval too
    fixed = tolerance(STOCK_SIGMA, 1, D(0), FLOOR)
    assert [m.symbol for m in price_moves(orders, fresh, {"VTI": fixed, "AGG": bond})] == ["VTI", "AGG"]


def test_the_tolerance_grows_with_the_square_root_of_the_sessions_since_planning():
    # planned on a Monday, started on Friday: 4 sessions, 2.5 x 0.8% x 2 = 4.00%
    sessions = sessions_between(date(2020, 3, 16), date(2020, 3, 20))
    assert sessions == 4
    assert tolerance(STOCK_SIGMA, sessions, DEFAULT_MULTIPLE, FLOOR).value == D("0.0400")
    assert sessions_between(date(2020, 3, 20), date(2020, 3, 20)) == 1  # same day: a session's worth
    assert sessions_between(date(2020, 3, 20), date(2020, 3, 23)) == 1  # Friday to Monday: one session
    # no volatility (no bars): the floor, and it says so
    blind = tolerance(None, 4, DEFAULT_MULTIPLE, FLOOR)
    assert blind.value == FLOOR and "no volatility estimate" in blind.why()


def test_a_missing_fresh_price_counts_as_moved_once_per_symbol():
    orders = [
        {"account": "ira", "symbol": "VTI", "est_price": "100"},
        {"account": "roth", "symbol": "VTI", "est_price": "100"},
    ]
    [moved] = price_moves(orders, {}, {"VTI": tolerance(STOCK_SIGMA, 1, DEFAULT_MULTIPLE, FLOOR)})
    assert moved.line() == "VTI: no fresh price (planned at $100.00)"


def a_plan(spy: int = 70, agg: int = 30):  # noqa: ANN201
    from strategies.planner import plan_rebalance

    return plan_rebalance(
        snapshot({"SPY": (spy, "100"), "AGG": (agg, "100")}),
        targets(SPY="0.6", AGG="0.4"),
        bands("0.05"),
        settings(),
    )


def test_order_changes_name_each_order_and_its_amounts():
    approved = plan_details(a_plan())["orders"]  # $10,000 at 70/30: sell 10 SPY, buy $1,000 AGG
    assert order_changes(approved, order_dicts(a_plan()), D("0.1")) == []
    bigger = order_dicts(a_plan(spy=80, agg=20))  # 80/20: sell 20 SPY, buy $2,000 AGG
    lines = [c.line() for c in order_changes(approved, bigger, D("0.1"))]
    assert lines == ["SELL SPY 10 sh -> 20 sh", "BUY AGG $1,000.00 -> $2,000.00"], lines
    assert [c.line() for c in order_changes(approved, [])] == [
        "order SELL SPY 10 sh dropped",
        "order BUY AGG $1,000.00 dropped",
    ]
    household = [{"account": "ira", "symbol": "AGG", "side": "buy", "notional": "50", "est_notional": "50"}]
    assert [c.line() for c in order_changes([], household)] == ["new order ira BUY AGG $50.00"]
