"""plan_rebalance on hand-computed cases; the arithmetic is written out above each assertion.

Unless a test says otherwise: mid prices only (no bid/ask), everything fractionable, cash buffer 0,
min trade $10, absolute band 5pp, trade_to target.
"""

from __future__ import annotations

from decimal import Decimal

from strategies.planner import PlannerSettings, TradeTo, plan_rebalance
from strategies.portfolio import OpenOrder, PortfolioSnapshot, Side
from strategies.targets import CASH
from tests.strategies.builders import D, bands, settings, snapshot, targets

SIXTY_FORTY = targets(SPY="0.6", AGG="0.4")


def seventy_thirty(**kwargs: object) -> PortfolioSnapshot:
    """SPY 140 x $500 = 70,000 and AGG 300 x $100 = 30,000: equity 100,000 at 70/30."""
    return snapshot({"SPY": (140, 500), "AGG": (300, 100)}, **kwargs)  # type: ignore[arg-type]


def order_rows(plan) -> list[tuple[str, Side, Decimal | None, Decimal | None]]:
    return [(o.symbol, o.side, o.qty, o.notional) for o in plan.orders]


def test_sixty_forty_drifted_to_seventy_thirty_trades_back_to_target_to_the_cent() -> None:
    # SPY 70% vs 60% (+10pp > 5pp): target 60,000 -> sell 10,000 = 20 shares at $500
    # AGG 30% vs 40% (-10pp):       target 40,000 -> buy 10,000.00 (notional, fractionable)
    plan = plan_rebalance(seventy_thirty(), SIXTY_FORTY, bands("0.05"), settings())
    assert order_rows(plan) == [("SPY", Side.SELL, D(20), None), ("AGG", Side.BUY, None, D("10000.00"))]
    assert plan.sell_notional == plan.buy_notional == D("10000.00")
    assert plan.skipped == ()
    assert plan.weights_after == {"AGG": D("0.4"), "SPY": D("0.6"), CASH: D(0)}
    assert plan.drift_before == {"AGG": D("-0.1"), "SPY": D("0.1"), CASH: D(0)}
    assert plan.drift_after == {"AGG": D(0), "SPY": D(0), CASH: D(0)}


def test_inexact_share_counts_round_down_to_nine_decimals_without_losing_cents() -> None:
    # SPY 150 x $450 = 67,500 (67.5%), AGG 325 x $100 = 32,500; equity 100,000
    # sell 7,500 / 450 = 16.6666666666... -> 16.666666666 shares (rounded DOWN to 9 decimals)
    #   estimated proceeds 16.666666666 x 450 = 7,499.9999997 -> $7,500.00 to the cent
    # buy AGG 40,000 - 32,500 = $7,500.00: fully funded, no scaling from the sub-cent remainder
    snap = snapshot({"SPY": (150, 450), "AGG": (325, 100)})
    plan = plan_rebalance(snap, SIXTY_FORTY, bands("0.05"), settings())
    assert order_rows(plan) == [
        ("SPY", Side.SELL, D("16.666666666"), None),
        ("AGG", Side.BUY, None, D("7500.00")),
    ]
    assert plan.orders[0].est_notional == D("7500.00")


def test_inside_bands_plans_nothing() -> None:
    # SPY 126 x 500 = 63,000 (+3pp), AGG 370 x 100 = 37,000 (-3pp): both inside 5pp
    snap = snapshot({"SPY": (126, 500), "AGG": (370, 100)})
    plan = plan_rebalance(snap, SIXTY_FORTY, bands("0.05"), settings())
    assert not plan.decision.fired
    assert plan.is_empty and plan.skipped == ()
    assert plan.weights_after == plan.weights_before


def test_band_edge_trades_only_to_just_inside_the_band() -> None:
    # edge = target +/- (5pp band - 0.01pp inset): SPY to 64.99% -> sell 5,010 = 10.02 shares;
    # AGG to 35.01% -> buy 5,010.00. Half the to-target trade, and inside the band afterwards.
    plan = plan_rebalance(seventy_thirty(), SIXTY_FORTY, bands("0.05"), settings(trade_to=TradeTo.BAND_EDGE))
    assert order_rows(plan) == [("SPY", Side.SELL, D("10.02"), None), ("AGG", Side.BUY, None, D("5010.00"))]
    assert plan.weights_after["SPY"] == D("0.6499") and plan.weights_after["AGG"] == D("0.3501")
    to_target = plan_rebalance(seventy_thirty(), SIXTY_FORTY, bands("0.05"), settings())
    assert plan.gross_notional < to_target.gross_notional


def test_partial_trades_the_given_fraction_of_the_way_back() -> None:
    # 50% of the way: SPY 70% -> 65% = sell 5,000 = 10 shares; AGG 30% -> 35% = buy 5,000.00
    # 25% of the way: SPY 70% -> 67.5% = sell 2,500 = 5 shares; AGG buy 2,500.00
    half = plan_rebalance(
        seventy_thirty(),
        SIXTY_FORTY,
        bands("0.05"),
        settings(trade_to=TradeTo.PARTIAL, partial_fraction=D("0.5")),
    )
    assert order_rows(half) == [("SPY", Side.SELL, D(10), None), ("AGG", Side.BUY, None, D("5000.00"))]
    quarter = plan_rebalance(
        seventy_thirty(),
        SIXTY_FORTY,
        bands("0.05"),
        settings(trade_to=TradeTo.PARTIAL, partial_fraction=D("0.25")),
    )
    assert order_rows(quarter) == [("SPY", Side.SELL, D(5), None), ("AGG", Side.BUY, None, D("2500.00"))]


def test_cash_buffer_is_never_spent() -> None:
    # buffer 2% of 100,000 = 2,000 stays in cash. Sell SPY 10,000 as usual; spendable = 0 + 10,000 - 2,000
    # = 8,000, so the 10,000 AGG buy is scaled to 8,000.00 and cash ends at 2,000 (2%)
    plan = plan_rebalance(seventy_thirty(), SIXTY_FORTY, bands("0.05"), settings(cash_buffer=D("0.02")))
    assert order_rows(plan) == [("SPY", Side.SELL, D(20), None), ("AGG", Side.BUY, None, D("8000.00"))]
    assert plan.cash_after == D("2000.00")
    assert plan.weights_after[CASH] == D("0.02")
    assert "scaled to 80.00% of $10,000.00" in plan.orders[1].reason


def test_cash_target_is_kept_and_excess_cash_is_invested() -> None:
    # targets SPY 50%, AGG 45%, cash 5%. SPY 92 x 500 = 46,000 (-4pp), AGG 414 x 100 = 41,400 (-3.6pp),
    # cash 12,600 (+7.6pp > 5pp: money to invest). Keep 5,000 -> invest 7,600 pro rata to shortfall:
    # SPY short 4,000, AGG short 3,600 (total 7,600) -> buy SPY 4,000.00 and AGG 3,600.00: both at target
    snap = snapshot({"SPY": (92, 500), "AGG": (414, 100)}, cash=12_600)
    alloc = targets(cash="0.05", SPY="0.5", AGG="0.45")
    plan = plan_rebalance(snap, alloc, bands("0.05"), settings())
    assert order_rows(plan) == [("AGG", Side.BUY, None, D("3600.00")), ("SPY", Side.BUY, None, D("4000.00"))]
    assert plan.weights_after == {"AGG": D("0.45"), "SPY": D("0.5"), CASH: D("0.05")}


def test_a_deposit_into_a_drifted_portfolio_buys_the_most_underweight_first_and_sells_nothing() -> None:
    # targets SPY 40 / AGG 40 / GLD 20; SPY 43,000 (+3pp), AGG 36,000 (-4pp), GLD 15,000 (-5pp): all inside
    # 5pp. A $6,000 deposit: cash 6pp > 5pp breaches. Shortfalls GLD 5,000, AGG 4,000; investing 6,000 most
    # underweight first leaves both at the same gap L: (5,000 + 4,000 - 6,000) / 2 = 1,500 -> GLD +3,500,
    # AGG +2,500 (in proportion: 3,333.33 and 2,666.67, leaving GLD the worst off). SPY is not sold.
    snap = snapshot({"SPY": (86, 500), "AGG": (360, 100), "GLD": (100, 150)}, cash=6_000)
    alloc = targets(SPY="0.4", AGG="0.4", GLD="0.2")
    plan = plan_rebalance(snap, alloc, bands("0.05"), settings())
    assert order_rows(plan) == [("AGG", Side.BUY, None, D("2500.00")), ("GLD", Side.BUY, None, D("3500.00"))]
    assert plan.sells == ()
    assert plan.drift_after == {"AGG": D("-0.015"), "GLD": D("-0.015"), "SPY": D("0.03"), CASH: D(0)}
    assert max(abs(d) for d in plan.drift_after.values()) < max(abs(d) for d in plan.drift_before.values())
    assert "most underweight first" in plan.orders[1].reason


def test_trade_below_minimum_is_skipped_and_recorded() -> None:
    # targets SPY 60 / AGG 30 / GLD 10. SPY 140 x 500 = 70,000 (+10pp), AGG 200.05 x 100 = 20,005
    # (-9.995pp), GLD 99.95 x 100 = 9,995 (-0.05pp, inside). Sell SPY 10,000, buy AGG 9,995 -> 5 cash left
    # over, invested toward GLD's 5 shortfall: a $5.00 buy, below the $10 minimum -> skipped with reason
    snap = snapshot({"SPY": (140, 500), "AGG": ("200.05", 100), "GLD": ("99.95", 100)})
    alloc = targets(SPY="0.6", AGG="0.3", GLD="0.1")
    plan = plan_rebalance(snap, alloc, bands("0.05"), settings())
    assert order_rows(plan) == [("SPY", Side.SELL, D(20), None), ("AGG", Side.BUY, None, D("9995.00"))]
    assert [s.symbol for s in plan.skipped] == ["GLD"]
    assert "buy of ~$5.00 is below min_trade_notional $10.00" in plan.skipped[0].reason


def test_non_fractionable_assets_trade_whole_shares_rounded_down() -> None:
    # SPY 155 x 450 = 69,750, AGG 302 x 100 = 30,200, cash 50; equity 100,000; whole shares only.
    # SPY: sell 9,750 / 450 = 21.67 -> 21 shares = 9,450.00
    # AGG: wants 40,000 - 30,200 = 9,800, but only 50 + 9,450 = 9,500 is available -> scaled to 9,500
    #      -> 95 shares = 9,500.00
    snap = snapshot({"SPY": (155, 450), "AGG": (302, 100)}, cash=50, fractional=False)
    plan = plan_rebalance(snap, SIXTY_FORTY, bands("0.05"), settings())
    assert order_rows(plan) == [("SPY", Side.SELL, D(21), None), ("AGG", Side.BUY, D(95), None)]
    assert plan.orders[1].est_notional == D("9500.00")


def test_fractional_switched_off_in_settings_wins_over_the_asset() -> None:
    plan = plan_rebalance(seventy_thirty(), SIXTY_FORTY, bands("0.05"), settings(fractional=False))
    assert order_rows(plan) == [("SPY", Side.SELL, D(20), None), ("AGG", Side.BUY, D(100), None)]


def test_open_opposite_order_is_never_traded_against_and_its_cash_is_spoken_for() -> None:
    # SPY 140 x 500, AGG 200 x 100, cash 10,000, plus an open BUY of 2 SPY (1,000): projected SPY 142 sh =
    # 71,000 (71%, +11pp), AGG 20,000 (20%, -20pp), cash 9,000.
    # SPY should be sold, but a buy is working on it -> skipped with the reason.
    # AGG wants 20,000 but only the 9,000 not already committed to the open buy is there -> buy 9,000.00
    working = (OpenOrder("SPY", Side.BUY, qty=D(2)),)
    snap = snapshot({"SPY": (140, 500), "AGG": (200, 100)}, cash=10_000, open_orders=working)
    plan = plan_rebalance(snap, SIXTY_FORTY, bands("0.05"), settings())
    assert order_rows(plan) == [("AGG", Side.BUY, None, D("9000.00"))]
    assert [s.symbol for s in plan.skipped] == ["SPY"]
    assert "a buy order on SPY is still open" in plan.skipped[0].reason


def test_open_same_side_order_counts_as_done() -> None:
    # An open SELL of 10 SPY is working: projected SPY 130 sh = 65,000 (+5pp > 4pp band), cash 5,000.
    # Only the remaining 5,000 (10 shares) is sold; AGG gets 5,000 pending proceeds + 5,000 new = 10,000.00
    working = (OpenOrder("SPY", Side.SELL, qty=D(10)),)
    plan = plan_rebalance(seventy_thirty(open_orders=working), SIXTY_FORTY, bands("0.04"), settings())
    assert order_rows(plan) == [("SPY", Side.SELL, D(10), None), ("AGG", Side.BUY, None, D("10000.00"))]


def test_sells_come_before_buys() -> None:
    # four assets at $100, 25% each: AGG, BND at 20% (buy 5,000 each), SPY, VTI at 30% (sell 50 sh each).
    # Alphabetically the buys would come first; the plan lists the sells first.
    snap = snapshot({"AGG": (200, 100), "BND": (200, 100), "SPY": (300, 100), "VTI": (300, 100)})
    alloc = targets(AGG="0.25", BND="0.25", SPY="0.25", VTI="0.25")
    plan = plan_rebalance(snap, alloc, bands("0.03"), settings())
    assert [(o.side, o.symbol) for o in plan.orders] == [
        (Side.SELL, "SPY"),
        (Side.SELL, "VTI"),
        (Side.BUY, "AGG"),
        (Side.BUY, "BND"),
    ]


def test_zero_target_sells_exactly_the_held_quantity() -> None:
    # GLD is held (3.333333333 sh x 150 = 499.99999995) but not targeted: with a relative band its band is 0
    # -> breached -> sold whole, using the exact held quantity (no rounding of shares).
    # SPY 119.4 x 500 = 59,700, AGG 398 x 100 = 39,800: the ~500 freed is invested pro rata to shortfall:
    # SPY short 300.00..., AGG short 200.00... -> buys of $300.00 and $200.00 (rounded down to the cent)
    snap = snapshot({"SPY": ("119.4", 500), "AGG": (398, 100), "GLD": ("3.333333333", 150)})
    plan = plan_rebalance(snap, SIXTY_FORTY, bands("0.05", "0.25"), settings())
    assert order_rows(plan)[0] == ("GLD", Side.SELL, D("3.333333333"), None)
    assert "sell the whole position" in plan.orders[0].reason
    assert order_rows(plan)[1:] == [
        ("AGG", Side.BUY, None, D("199.99")),
        ("SPY", Side.BUY, None, D("299.99")),
    ]
    assert "GLD" not in plan.weights_after


def test_sell_never_exceeds_the_free_quantity() -> None:
    # 10 of SPY's 140 shares are already promised to an open sell. Target 0 for SPY -> sell the other 130.
    working = (OpenOrder("SPY", Side.SELL, qty=D(10)),)
    plan = plan_rebalance(seventy_thirty(open_orders=working), targets(AGG="1"), bands("0.05"), settings())
    assert plan.orders[0].symbol == "SPY" and plan.orders[0].qty == D(130)


def test_insufficient_cash_scales_buys_pro_rata() -> None:
    # targets SPY 50 / AGG 25 / GLD 25, cash buffer 5%. SPY 70,000 (+20pp), AGG 12,000 (-13pp),
    # GLD 18,000 (-7pp), cash 0. Sell SPY 20,000 (40 sh). Buys wanted: AGG 13,000 + GLD 7,000 = 20,000,
    # spendable 20,000 - 5,000 buffer = 15,000 -> every buy x 0.75: AGG 9,750.00, GLD 5,250.00
    snap = snapshot({"SPY": (140, 500), "AGG": (120, 100), "GLD": (180, 100)})
    alloc = targets(SPY="0.5", AGG="0.25", GLD="0.25")
    plan = plan_rebalance(snap, alloc, bands("0.05"), settings(cash_buffer=D("0.05")))
    assert order_rows(plan) == [
        ("SPY", Side.SELL, D(40), None),
        ("AGG", Side.BUY, None, D("9750.00")),
        ("GLD", Side.BUY, None, D("5250.00")),
    ]
    assert all("scaled to 75.00%" in o.reason for o in plan.buys)
    assert plan.cash_after == D("5000.00")


def test_quotes_make_estimates_conservative() -> None:
    # SPY bid 499.50 / ask 500.50; AGG bid 99.90 / ask 100.10. Sell 10,000 / 499.50 = 20.020020020 sh,
    # est. proceeds 20.020020020 x 499.50 = 9,999.99999999 -> $10,000.00; AGG buy by notional, $10,000.00
    snap = PortfolioSnapshot(
        cash=D(0),
        positions={"SPY": D(140), "AGG": D(300)},
        prices={"SPY": D(500), "AGG": D(100)},
        bids={"SPY": D("499.50"), "AGG": D("99.90")},
        asks={"SPY": D("500.50"), "AGG": D("100.10")},
        fractionable={"SPY": True, "AGG": True},
    )
    plan = plan_rebalance(snap, SIXTY_FORTY, bands("0.05"), settings())
    assert order_rows(plan) == [
        ("SPY", Side.SELL, D("20.020020020"), None),
        ("AGG", Side.BUY, None, D("10000.00")),
    ]
    assert plan.orders[0].est_price == D("499.50") and plan.orders[1].est_price == D("100.10")


def test_unpriced_target_is_skipped_not_guessed() -> None:
    # GLD is targeted (10%) but not held and has no price: cannot size a buy -> skipped with the reason
    snap = snapshot({"SPY": (140, 500), "AGG": (300, 100)})
    plan = plan_rebalance(snap, targets(SPY="0.5", AGG="0.4", GLD="0.1"), bands("0.05"), settings())
    assert "no price for GLD" in {s.symbol: s.reason for s in plan.skipped}["GLD"]


def test_default_settings_keep_a_half_percent_buffer() -> None:
    # PlannerSettings() defaults: buffer 0.5% -> 500 stays in cash; AGG buy 10,000 scaled to 9,500.00
    plan = plan_rebalance(seventy_thirty(), SIXTY_FORTY, bands("0.05"), PlannerSettings())
    assert order_rows(plan) == [("SPY", Side.SELL, D(20), None), ("AGG", Side.BUY, None, D("9500.00"))]


def test_planner_is_pure_inputs_unchanged_and_results_repeatable() -> None:
    snap = seventy_thirty()
    before = (dict(snap.positions), snap.cash)
    first = plan_rebalance(snap, SIXTY_FORTY, bands("0.05"), settings())
    second = plan_rebalance(snap, SIXTY_FORTY, bands("0.05"), settings())
    assert first == second
    assert (dict(snap.positions), snap.cash) == before


def test_a_breaching_buy_is_funded_by_selling_an_overweight_asset_still_inside_its_band() -> None:
    # SPY 649 x $100 = 64,900 (+4.9pp: inside 5pp), AGG 346 x $100 = 34,600 (-5.4pp: breach), cash 500
    # equity 100,000; buffer 0.5% = 500, so cash brings nothing; AGG needs 40,000 - 34,600 = 5,400
    # nothing breaches high, so without help nothing is sold and the buy cannot be paid for (the drift
    # would stay forever). SPY is overweight by 4,900 -> sold down to its 60,000 target: 49 shares;
    # AGG then buys what is spendable: 500 + 4,900 - 500 = 4,900.00
    snap = snapshot({"SPY": (649, 100), "AGG": (346, 100)}, cash=500)
    plan = plan_rebalance(snap, SIXTY_FORTY, bands("0.05"), settings(cash_buffer=D("0.005")))
    assert order_rows(plan) == [("SPY", Side.SELL, D(49), None), ("AGG", Side.BUY, None, D("4900.00"))]
    assert "inside its band" in plan.orders[0].reason
