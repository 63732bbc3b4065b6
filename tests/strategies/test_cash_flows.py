"""The one cash-flow allocator (``strategies.cashflows``): most underweight first, most overweight first.

Targets are VTI 50% / VXUS 30% / BND 20%, every share $100 and fractionable unless a test says otherwise.
"""

from __future__ import annotations

from decimal import Decimal

from strategies.cashflows import plan_cash_flow
from strategies.planner import TradeTo, water_fill
from strategies.portfolio import OpenOrder, Side
from strategies.targets import CASH
from tests.strategies.builders import D, settings, snapshot, targets

THREE_FUND = targets(VTI="0.5", VXUS="0.3", BND="0.2")


def orders(plan: object) -> list[tuple[str, Side, Decimal | None, Decimal | None]]:
    return [(o.symbol, o.side, o.qty, o.notional) for o in plan.orders]  # type: ignore[attr-defined]


def test_water_fill_by_hand() -> None:
    gaps = {"A": D(500), "B": D(100), "C": D(-100)}
    # $300: A alone, 500 - L = 300 -> L = 200, which is above B's 100, so B gets nothing
    assert water_fill(gaps, D(300)).amounts == {"A": D(300)}
    assert water_fill(gaps, D(300)).level == D(200)
    # $500: A alone would need L = 0 < 100; A and B: (500 + 100 - 500) / 2 = L = 50 -> A 450, B 50
    fill = water_fill(gaps, D(500))
    assert fill.amounts == {"A": D(450), "B": D(50)} and fill.level == D(50)
    # $700: more than both gaps (600): each closed, level 0, $100 left over
    assert water_fill(gaps, D(700)).amounts == {"A": D(500), "B": D(100)}
    assert water_fill(gaps, D(0)).amounts == {}


def test_deposit_goes_to_the_most_underweight_first() -> None:
    # VTI 51, VXUS 25, BND 19 shares + a $300 deposit: equity $9,800, goals VTI $4,900, VXUS $2,940,
    # BND $1,960.
    # gaps VXUS $440, BND $60 (VTI is $200 over). $300 to VXUS alone leaves it $140 short, still the most
    # short of the two (BND $60), so BND gets nothing yet.
    snap = snapshot({"VTI": (51, 100), "VXUS": (25, 100), "BND": (19, 100)}, cash=300)
    plan = plan_cash_flow(snap, THREE_FUND, settings())
    assert orders(plan) == [("VXUS", Side.BUY, None, D("300.00"))]
    assert plan.decision.fired and plan.decision.trigger == "cash_flow"
    assert (
        "buy the most underweight first: VXUS $300.00, leaving each -1.43pp from target"
        in plan.decision.reason
    )


def test_deposit_levels_the_two_most_underweight_and_sells_nothing() -> None:
    # VTI 51, VXUS 25, BND 19 shares + $500: equity $10,000; gaps VXUS $500, BND $100, VTI -$100 (overweight)
    # level L = (500 + 100 - 500) / 2 = $50: VXUS gets $450, BND $50; both end $50 = 0.50pp under target.
    # VTI stays 1pp over: a deposit never sells.
    snap = snapshot({"VTI": (51, 100), "VXUS": (25, 100), "BND": (19, 100)}, cash=500)
    plan = plan_cash_flow(snap, THREE_FUND, settings())
    assert plan.sells == ()
    assert orders(plan) == [("BND", Side.BUY, None, D("50.00")), ("VXUS", Side.BUY, None, D("450.00"))]
    assert plan.weights_after["VXUS"] == D("0.295") and plan.weights_after["BND"] == D("0.195")
    assert plan.weights_after["VTI"] == D("0.51") and plan.weights_after[CASH] == 0
    assert "leaving each -0.50pp from target" in plan.decision.reason
    assert "nothing sold" in plan.decision.reason


def test_deposit_keeps_the_cash_goal_and_buys_whole_shares() -> None:
    # cash target 5%; VTI 48, VXUS 23, BND 19 shares + $950 cash: equity $9,950, keep 5% = $497.50, invest
    # $452.50. Goals VTI $4,726.25, VXUS $2,835.75, BND $1,890.50: gaps -$73.75, $535.75, -$9.50, so VXUS
    # alone gets the $452.50, which buys 4 whole shares ($400); $550 stays in cash.
    alloc = targets(cash="0.05", VTI="0.475", VXUS="0.285", BND="0.19")
    snap = snapshot({"VTI": (48, 100), "VXUS": (23, 100), "BND": (19, 100)}, cash=950, fractional=False)
    plan = plan_cash_flow(snap, alloc, settings())
    assert orders(plan) == [("VXUS", Side.BUY, D(4), None)]
    assert plan.cash_after == D(550)
    assert "cash $950.00 is $452.50 above cash goal $497.50" in plan.decision.reason


def test_withdrawal_comes_from_the_most_overweight_and_buys_nothing() -> None:
    # VTI 54, VXUS 28, BND 18 shares, no cash: equity $10,000. Withdraw $500: equity after $9,500, goals
    # VTI $4,750, VXUS $2,850, BND $1,900; excess VTI $650 (VXUS, BND are under). L = 650 - 500 = $150:
    # sell $500 of VTI = 5 shares, nothing else.
    snap = snapshot({"VTI": (54, 100), "VXUS": (28, 100), "BND": (18, 100)})
    plan = plan_cash_flow(snap, THREE_FUND, settings(), withdrawal=D(500))
    assert orders(plan) == [("VTI", Side.SELL, D(5), None)]
    assert plan.buys == ()
    assert plan.decision.reason.startswith(
        "cash $0.00 is $500.00 short of withdrawal $500.00 + cash buffer $0.00: "
        "sell the most overweight first"
    )
    assert (
        "sell the most overweight first: VTI $500.00, leaving each +1.58pp from target"
        in plan.decision.reason
    )


def test_withdrawal_sells_round_up_to_cover_it() -> None:
    # withdraw $1,050 from the same portfolio in whole shares: equity after $8,950, goals VTI $4,475,
    # VXUS $2,685, BND $1,790; excess VTI $925, VXUS $115, BND $10 = $1,050 exactly: all of it.
    # Rounded UP: VTI 10 shares, VXUS 2, BND 1 ($1,300 >= $1,050)
    snap = snapshot({"VTI": (54, 100), "VXUS": (28, 100), "BND": (18, 100)}, fractional=False)
    plan = plan_cash_flow(snap, THREE_FUND, settings(), withdrawal=D(1050))
    assert orders(plan) == [
        ("BND", Side.SELL, D(1), None),
        ("VTI", Side.SELL, D(10), None),
        ("VXUS", Side.SELL, D(2), None),
    ]
    assert plan.cash_after >= D(1050)


def test_cash_below_its_goal_with_nothing_overweight_is_raised_pro_rata() -> None:
    # on target, no cash, a 1% cash buffer: $100 to raise and no asset over target, so 1% of every holding
    snap = snapshot({"VTI": (50, 100), "VXUS": (30, 100), "BND": (20, 100)})
    plan = plan_cash_flow(snap, THREE_FUND, settings(cash_buffer=D("0.01")))
    assert orders(plan) == [
        ("BND", Side.SELL, D("0.2"), None),
        ("VTI", Side.SELL, D("0.5"), None),
        ("VXUS", Side.SELL, D("0.3"), None),
    ]
    assert "the other $100.00 pro rata to holdings (1.00% of every holding)" in plan.decision.reason


def test_cash_below_its_target_but_above_the_buffer_sells_nothing() -> None:
    # a 10% cash target, a 1% buffer; cash $500 of $10,000 (5%): $500 short of the target, but above the $100
    # buffer. Nothing is owed, so nothing is sold: restoring the cash target is the policy's rebalance (which
    # prices the spread and the tax of the sale); the allocator only raises what must be paid out.
    with_cash = targets(VTI="0.45", VXUS="0.27", BND="0.18", **{CASH: "0.10"})
    snap = snapshot({"VTI": (50, 100), "VXUS": (27, 100), "BND": (18, 100)}, cash=500)
    plan = plan_cash_flow(snap, with_cash, settings(cash_buffer=D("0.01")))
    assert plan.is_empty and not plan.decision.fired
    assert "bringing cash back up to it is a rebalance, left to the policy" in plan.decision.reason
    # a $1,000 tax bill is paid from that cash down to the buffer: only the $600 below it is raised
    plan = plan_cash_flow(snap, with_cash, settings(cash_buffer=D("0.01")), withdrawal=D(1000))
    assert sum(o.qty * D(100) for o in plan.orders) >= D(590)
    assert sum(o.qty * D(100) for o in plan.orders) <= D(700)
    assert all(o.side is Side.SELL for o in plan.orders)


def test_cash_at_its_goal_plans_nothing_and_open_orders_are_respected() -> None:
    at_goal = snapshot({"VTI": (50, 100), "VXUS": (30, 100), "BND": (20, 100)})
    plan = plan_cash_flow(at_goal, THREE_FUND, settings())
    assert plan.is_empty and not plan.decision.fired
    # a working sell of 1 VXUS counts as done (VXUS 25 sh, cash $500: the $500-deposit case above, VXUS $450
    # and BND $50), but the VXUS buy is skipped rather than sent against the open sell
    working = (OpenOrder("VXUS", Side.SELL, qty=D(1)),)
    snap = snapshot({"VTI": (51, 100), "VXUS": (26, 100), "BND": (19, 100)}, cash=400, open_orders=working)
    plan = plan_cash_flow(snap, THREE_FUND, settings())
    assert orders(plan) == [("BND", Side.BUY, None, D("50.00"))]
    assert [s.symbol for s in plan.skipped] == ["VXUS"]
    assert "a sell order on VXUS is still open" in plan.skipped[0].reason


# --- as the backtester calls it: the flow already in cash (a withdrawal debited, cash below zero) -----------

SIXTY_FORTY = targets(SPY="0.6", AGG="0.4")


def test_a_deposit_that_covers_every_shortfall_closes_them_all() -> None:
    # after a $20,000 deposit: equity 120k; SPY 66k (goal 72k: short 6k), AGG 34k (goal 48k: short 14k)
    snap = snapshot({"SPY": (132, 500), "AGG": (340, 100)}, cash=20_000)
    plan = plan_cash_flow(snap, SIXTY_FORTY, settings())
    assert {o.symbol: (o.side, o.notional) for o in plan.orders} == {
        "SPY": (Side.BUY, D("6000.00")),
        "AGG": (Side.BUY, D("14000.00")),
    }


def test_a_deposit_skips_overweight_assets() -> None:
    snap = snapshot({"SPY": (160, 500), "AGG": (200, 100)}, cash=10_000)  # SPY 80k of 110k: overweight
    plan = plan_cash_flow(snap, SIXTY_FORTY, settings())
    assert orders(plan) == [("AGG", Side.BUY, None, D("10000.00"))]


def test_a_debited_withdrawal_is_raised_from_overweight_assets_only_and_exactly() -> None:
    # $10,000 withdrawn from cash: cash -10k, equity 90k; SPY 63k (goal 54k, +9k), AGG 37k (goal 36k, +1k)
    snap = snapshot({"SPY": (126, 500), "AGG": (370, 100)}, cash=-10_000)
    plan = plan_cash_flow(snap, SIXTY_FORTY, settings())
    assert plan.decision.fired and {r.symbol for r in plan.decision.breached} == {"SPY", "AGG"}
    assert orders(plan) == [("AGG", Side.SELL, D(10), None), ("SPY", Side.SELL, D(18), None)]
    assert plan.cash_after == 0


def test_a_small_debited_withdrawal_comes_from_the_overweight_asset_alone() -> None:
    # cash -2k, equity 98k: SPY 63k vs goal 58.8k (+4.2k); AGG 37k vs 39.2k (under): 2k from SPY only
    snap = snapshot({"SPY": (126, 500), "AGG": (370, 100)}, cash=-2_000)
    plan = plan_cash_flow(snap, SIXTY_FORTY, settings())
    assert orders(plan) == [("SPY", Side.SELL, D(4), None)]


def test_trade_to_does_not_shrink_a_deposit() -> None:
    # trade_to is the policy's (how far a breach is traded back); a deposit is invested whole all the same
    snap = snapshot({"SPY": (120, 500), "AGG": (400, 100)}, cash=10_000)
    plan = plan_cash_flow(snap, SIXTY_FORTY, settings(trade_to=TradeTo.PARTIAL))
    assert sum(o.notional for o in plan.orders) == D("10000.00")
