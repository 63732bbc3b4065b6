"""Tax-aware planning (strategies/tax/planning.py): each decision on a hand-computed case.

Every case is a small portfolio of $100,000 at round prices (mid = bid = ask: no quotes), no cash buffer,
5 pp absolute bands, the planner trading back to target. Rates: 35% short term, 15% long term. The day of
every plan is 2024-06-03.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from strategies.planner import plan_rebalance
from strategies.portfolio import OpenOrder, Side
from strategies.targets import CASH
from strategies.tax.estimate import TaxRates
from strategies.tax.lots import Fill, Lot, Realisation, ReliefMethod
from strategies.tax.planning import (
    AccountType,
    Action,
    TaxSettings,
    fold_substitutes,
    plan_tax_aware,
)
from tests.strategies.builders import D, bands, settings, snapshot, targets

DAY = date(2024, 6, 3)
OLD = date(2020, 1, 2)  # long term on DAY
RATES = TaxRates(D("0.35"), D("0.15"))
TAX = TaxSettings(
    rates=RATES,
    substitutes=(("VTI", "ITOT", "SCHB"), ("AGG", "BND")),
    identical=(("SPY", "IVV"),),
    gain_band_fraction=1,
)


def lot(symbol: str, qty: str | int, cost: str | int, acquired: date = OLD, account: str = "taxable") -> Lot:
    return Lot(
        account,
        symbol,
        D(qty),
        D(cost),
        acquired,
        lot_id=f"{symbol}-{acquired}",
        fill_id=f"{symbol}-{acquired}",
    )


def run(holdings, weights, lots, tax=TAX, events=(), cash=0, account="taxable", day=DAY):  # noqa: ANN001, ANN201
    snap = snapshot(holdings, cash)
    alloc = targets(**weights)
    plan = plan_rebalance(fold_substitutes(snap, alloc, tax), alloc, bands("0.05"), settings())
    return plan, plan_tax_aware(
        plan, snap, lots, day, tax, account=account, household_events=events, planner_settings=settings()
    )


def orders(result) -> dict[tuple[str, Side], Decimal]:  # noqa: ANN001
    plan = getattr(result, "plan", result)
    return {(o.symbol, o.side): (o.qty if o.qty is not None else o.notional) for o in plan.orders}


def test_gains_are_sold_only_to_the_band_edge() -> None:
    # SPY 70% vs 60% (+10 pp, band 5 pp): the planner sells $10,000 of SPY and buys $10,000 of AGG. The only
    # SPY lot is a long-term gain of $50/share, so only the part that restores the band is sold: down to
    # 60% + 5 pp - 0.01 pp = 64.99%, i.e. $5,010 = 50.1 shares, realising 50.1 x $50 = $2,505 LT (tax 15%:
    # $375.75); AGG is bought back just inside its band with those proceeds: $5,010.
    plan, result = run(
        {"SPY": (700, 100), "AGG": (300, 100)},
        {"SPY": "0.6", "AGG": "0.4"},
        [lot("SPY", 700, 50), lot("AGG", 300, 100)],
    )
    assert orders(plan) == {("SPY", Side.SELL): D(100), ("AGG", Side.BUY): D("10000.00")}
    assert orders(result) == {("SPY", Side.SELL): D("50.1"), ("AGG", Side.BUY): D("5010.00")}
    assert result.estimated_tax == D("375.75")
    assert result.summary.long_term == D("2505.00")
    assert [d.action for d in result.decisions] == [Action.TRIMMED, Action.SCALED]
    assert result.plan.weights_after["SPY"] == D("0.6499")
    assert "gains beyond what the band needs" in result.explain()


def test_gains_can_stop_half_way_into_the_band() -> None:
    # gain_band_fraction 0.5: SPY goes to 60% + 2.5 pp - 0.01 pp = 62.49%: $7,510 = 75.1 sh, AGG +$7,510
    tax = replace(TAX, gain_band_fraction=D("0.5"))
    _, result = run(
        {"SPY": (700, 100), "AGG": (300, 100)}, {"SPY": "0.6", "AGG": "0.4"}, [lot("SPY", 700, 50)], tax
    )
    assert orders(result) == {("SPY", Side.SELL): D("75.1"), ("AGG", Side.BUY): D("7510.00")}


def test_without_trimming_the_plan_sells_to_target_with_the_tax_shown() -> None:
    tax = TaxSettings(rates=RATES, gains_to_band_edge=False)
    _, result = run(
        {"SPY": (700, 100), "AGG": (300, 100)}, {"SPY": "0.6", "AGG": "0.4"}, [lot("SPY", 700, 50)], tax
    )
    assert orders(result) == {("SPY", Side.SELL): D(100), ("AGG", Side.BUY): D("10000.00")}
    assert result.estimated_tax == D("750.00")  # 100 sh x $50 LT x 15%
    assert result.decisions == ()


def test_losses_of_an_overweight_asset_fund_the_buys_instead_of_gains() -> None:
    # SPY +6 pp (breach), EFA +2 pp (inside), AGG -6 pp (breach), VNQ -2 pp (inside). The planner sells $6,000
    # SPY and buys $6,000 AGG. SPY only has gains: $1,010 (10.1 sh) restores its band (55.99% -> 54.99%).
    # EFA is overweight by $2,000 and its lot ($150/share) is a short-term loss: 20 sh are sold at a $1,000
    # loss (saving $350) instead. AGG gets its mandatory $1,010 plus the $2,000: $3,010.
    holdings = {"SPY": (560, 100), "EFA": (120, 100), "AGG": (240, 100), "VNQ": (80, 100)}
    weights = {"SPY": "0.5", "EFA": "0.1", "AGG": "0.3", "VNQ": "0.1"}
    lots = [lot("SPY", 560, 50), lot("EFA", 120, 150, date(2024, 1, 2))]
    plan, result = run(holdings, weights, lots)
    assert orders(plan) == {("SPY", Side.SELL): D(60), ("AGG", Side.BUY): D("6000.00")}
    assert orders(result) == {
        ("SPY", Side.SELL): D("10.1"),
        ("EFA", Side.SELL): D(20),
        ("AGG", Side.BUY): D("3010.00"),
    }
    assert {d.action for d in result.decisions} == {Action.TRIMMED, Action.LOSS_FUNDED, Action.SCALED}
    assert result.summary.short_term == D("-1000.00") and result.summary.long_term == D("505.00")
    assert result.estimated_tax == D("-274.25")  # 505 x 15% - 1000 x 35%


def test_a_short_term_gain_waits_for_long_term_inside_the_outer_band() -> None:
    # SPY +6 pp: outside its 5 pp band but inside the outer band (1.5 x 5 = 7.5 pp). Its only lot, bought
    # 2023-06-20, turns long term on 2024-06-21, 18 days away (<= 30): the sale waits and, with no proceeds,
    # AGG's buy waits too.
    lots = [lot("SPY", 660, 50, date(2023, 6, 20))]
    _, result = run({"SPY": (660, 100), "AGG": (340, 100)}, {"SPY": "0.6", "AGG": "0.4"}, lots)
    assert result.plan.orders == ()
    assert [d.action for d in result.decisions][0] is Action.WAITING
    assert result.waiting_until == date(2024, 6, 21)
    assert any("turns long term on 2024-06-21" in s.reason for s in result.plan.skipped)


def test_a_february_28_lot_waits_until_march_1_not_the_leap_day() -> None:
    # The same +6 pp SPY on 2024-02-20, its lot bought 2023-02-28: held exactly one year on 2024-02-29 (still
    # short term), so the wait runs to 2024-03-01; selling on the leap day would pay 35% instead of 15%.
    lots = [lot("SPY", 660, 50, date(2023, 2, 28))]
    _, result = run(
        {"SPY": (660, 100), "AGG": (340, 100)}, {"SPY": "0.6", "AGG": "0.4"}, lots, day=date(2024, 2, 20)
    )
    assert result.plan.orders == ()
    assert result.waiting_until == date(2024, 3, 1)
    assert any("turns long term on 2024-03-01" in s.reason for s in result.plan.skipped)


def test_outside_the_outer_band_or_too_far_from_long_term_the_gain_is_sold() -> None:
    far = [lot("SPY", 680, 50, date(2023, 6, 20))]  # +8 pp: outside the 7.5 pp outer band
    _, result = run({"SPY": (680, 100), "AGG": (320, 100)}, {"SPY": "0.6", "AGG": "0.4"}, far)
    assert orders(result)[("SPY", Side.SELL)] == D("30.1")  # (68% - 64.99%) x $100,000 / $100
    assert result.summary.short_term == D("1505.00")
    early = [lot("SPY", 660, 50, date(2023, 8, 1))]  # long term only on 2024-08-02, 60 days away
    _, result = run({"SPY": (660, 100), "AGG": (340, 100)}, {"SPY": "0.6", "AGG": "0.4"}, early)
    assert orders(result)[("SPY", Side.SELL)] == D("10.1")


def test_a_loss_sale_is_deferred_when_an_identical_security_was_bought_in_the_30_days_before() -> None:
    # SPY's lot is at a loss, but IVV (same index) was bought 10 days ago in the household's IRA: selling now
    # would wash the loss for good (Rev. Rul. 2008-5). The sale waits until 31 days after that buy.
    events = [Fill("ira", "IVV", Side.BUY, D(5), D(100), DAY - timedelta(days=10), "ira-b1")]
    tax = TaxSettings(rates=RATES, identical=(("SPY", "IVV"),), household_tax_advantaged=frozenset({"ira"}))
    _, result = run(
        {"SPY": (700, 100), "AGG": (300, 100)},
        {"SPY": "0.6", "AGG": "0.4"},
        [lot("SPY", 700, 120)],
        tax,
        events,
    )
    assert all(o.symbol != "SPY" for o in result.plan.orders)
    deferred = result.decisions_of(Action.WASH_DEFERRED)
    assert [d.symbol for d in deferred] == ["SPY"]
    assert "IVV" in deferred[0].reason and "permanently" in deferred[0].reason
    assert result.waiting_until == DAY - timedelta(days=10) + timedelta(days=31)


def test_a_loss_sale_with_no_recent_identical_buy_is_sold_to_target() -> None:
    # the same sale without the IRA buy: a loss is discretionary-friendly, so the whole $10,000 is sold
    _, result = run(
        {"SPY": (700, 100), "AGG": (300, 100)}, {"SPY": "0.6", "AGG": "0.4"}, [lot("SPY", 700, 120)]
    )
    assert orders(result) == {("SPY", Side.SELL): D(100), ("AGG", Side.BUY): D("10000.00")}
    assert result.estimated_tax == D("-300.00")  # 100 x -$20 LT x 15%


def loss_sale(symbol: str, days_ago: int, account: str = "taxable") -> Realisation:
    sold = DAY - timedelta(days=days_ago)
    return Realisation(account, symbol, D(10), sold, D(900), D(1000), OLD, OLD, "l", "b")


def test_a_buy_blocked_by_a_recent_loss_sale_goes_to_the_substitute() -> None:
    # AGG was sold at a loss 10 days ago: buying it now would wash that loss; BND (same sleeve, a different
    # index) is bought instead, for the same amount.
    _, result = run(
        {"SPY": (700, 100), "AGG": (300, 100), "BND": (0, 80)},
        {"SPY": "0.6", "AGG": "0.4"},
        [lot("SPY", 700, 120)],
        events=[loss_sale("AGG", 10)],
    )
    assert orders(result) == {("SPY", Side.SELL): D(100), ("BND", Side.BUY): D("10000.00")}
    assert [d.action for d in result.decisions] == [Action.SUBSTITUTED]
    assert "wash the 100.00 loss on AGG" in result.plan.explain()


def test_after_the_window_the_primary_is_bought_again() -> None:
    _, result = run(
        {"SPY": (700, 100), "AGG": (300, 100), "BND": (0, 80)},
        {"SPY": "0.6", "AGG": "0.4"},
        [lot("SPY", 700, 120)],
        events=[loss_sale("AGG", 31)],
    )
    assert ("AGG", Side.BUY) in orders(result)


def test_an_ira_buy_is_blocked_by_a_taxable_loss_sale_and_pays_no_tax() -> None:
    # In the IRA: the taxable account sold AGG at a loss 5 days ago, so an IRA buy of AGG would lose that loss
    # for good; BND is bought. The SPY sale realises a $5,000 gain, taxed 0 in an IRA, and is not trimmed.
    ira = TaxSettings(rates=RATES, account_type=AccountType.IRA, substitutes=(("AGG", "BND"),))
    _, result = run(
        {"SPY": (700, 100), "AGG": (300, 100), "BND": (0, 80)},
        {"SPY": "0.6", "AGG": "0.4"},
        [lot("SPY", 700, 50, account="ira")],
        ira,
        [loss_sale("AGG", 5)],
        account="ira",
    )
    assert orders(result) == {("SPY", Side.SELL): D(100), ("BND", Side.BUY): D("10000.00")}
    assert result.estimated_tax == D(0)
    assert "tax-advantaged account" in result.decisions[0].reason


def test_every_member_blocked_drops_the_buy() -> None:
    events = [loss_sale("AGG", 3), loss_sale("BND", 3)]
    _, result = run(
        {"SPY": (700, 100), "AGG": (300, 100), "BND": (0, 80)},
        {"SPY": "0.6", "AGG": "0.4"},
        [lot("SPY", 700, 120)],
        events=events,
    )
    assert ("AGG", Side.BUY) not in orders(result) and ("BND", Side.BUY) not in orders(result)
    assert [d.action for d in result.decisions] == [Action.DROPPED]
    assert any(s.symbol == "AGG" and "dropped" in s.reason for s in result.plan.skipped)


def test_substitutes_are_folded_into_their_sleeve() -> None:
    # 300 ITOT at $50 are worth $15,000 = 150 VTI at $100: VTI is at its 60% target, nothing to do
    snap = snapshot({"VTI": (450, 100), "ITOT": (300, 50), "AGG": (400, 100)})
    alloc = targets(VTI="0.6", AGG="0.4")
    folded = fold_substitutes(snap, alloc, TAX)
    assert folded.positions["VTI"] == D(600) and "ITOT" not in folded.positions
    assert not plan_rebalance(folded, alloc, bands("0.05"), settings()).decision.fired


def test_a_sleeve_sell_takes_the_cheapest_lots_across_its_symbols() -> None:
    # VTI sleeve +10 pp: $10,000 to sell, trimmed to the band-edge $5,010 ... but ITOT holds a loss, so the
    # whole $10,000 comes from ITOT's loss lot first ($15,000 available), no gain is realised
    holdings = {"VTI": (400, 100), "ITOT": (300, 100), "AGG": (300, 100)}
    lots = [lot("VTI", 400, 50), lot("ITOT", 300, 130, date(2024, 3, 1))]
    _, result = run(holdings, {"VTI": "0.6", "AGG": "0.4"}, lots)
    assert orders(result) == {("ITOT", Side.SELL): D(100), ("AGG", Side.BUY): D("10000.00")}
    assert result.summary.short_term == D("-3000.00")
    assert "sold as ITOT" in result.plan.orders[0].reason


def test_hifo_relieves_the_highest_basis_lot() -> None:
    tax = TaxSettings(rates=RATES, relief_method=ReliefMethod.HIFO, gains_to_band_edge=False)
    lots = [lot("SPY", 350, 50), lot("SPY", 350, 95, date(2021, 1, 4))]
    _, result = run({"SPY": (700, 100), "AGG": (300, 100)}, {"SPY": "0.6", "AGG": "0.4"}, lots, tax)
    assert result.summary.long_term == D("500.00")  # 100 sh of the $95 lot
    assert result.lot_selections == {"SPY": (("SPY-2021-01-04", D(100)),)}


def test_specific_lot_relief_names_the_lots_for_the_broker() -> None:
    # a short-term loss lot, a long-term gain lot: min-tax order sells the loss lot first, then 50 of the gain
    tax = TaxSettings(rates=RATES, relief_method=ReliefMethod.SPECIFIC, gains_to_band_edge=False)
    lots = [lot("SPY", 600, 50), lot("SPY", 50, 120, date(2024, 3, 1))]
    _, result = run({"SPY": (650, 100), "AGG": (350, 100)}, {"SPY": "0.5", "AGG": "0.5"}, lots, tax)
    assert result.lot_selections["SPY"] == (("SPY-2024-03-01", D(50)), ("SPY-2020-01-02", D(100)))
    assert result.summary.short_term == D("-1000.00") and result.summary.long_term == D("5000.00")


def test_settings_from_plain_values_are_validated() -> None:
    built = TaxSettings(
        rates=("0.3", 0.15),
        account_type="roth",
        relief_method="hifo",
        substitutes=[["vti", "itot"]],
        harvest={"enabled": True, "min_loss": 500},
    )
    assert (
        built.rates.short_term == D("0.3")
        and built.tax_advantaged
        and built.sleeve("ITOT") == ("VTI", "ITOT")
    )
    assert built.harvest.min_loss == D(500) and built.effective_rates.long_term == 0
    with pytest.raises(ValueError, match="substantially identical"):
        TaxSettings(substitutes=[["SPY", "IVV"]], identical=[["SPY", "IVV"]])
    with pytest.raises(ValueError, match="two substitute groups"):
        TaxSettings(substitutes=[["VTI", "ITOT"], ["ITOT", "SCHB"]])


def test_cash_is_left_as_the_plan_left_it() -> None:
    _, result = run(
        {"SPY": (700, 100), "AGG": (300, 100)}, {"SPY": "0.6", "AGG": "0.4"}, [lot("SPY", 700, 50)]
    )
    assert result.plan.cash_after == D(0) and result.plan.weights_after[CASH] == D(0)


def test_never_trades_against_an_open_order_in_a_sleeve() -> None:
    # the loss-funding case, but EFA has a $1 buy working: its loss lot is not sold to fund the buys (the
    # planner's rule: never trade against an open order), so AGG only gets its band-restoring $1,010, paid by
    # SPY's $1,010 and $1 more for the $1 the open order will take from cash
    holdings = {"SPY": (560, 100), "EFA": (120, 100), "AGG": (240, 100), "VNQ": (80, 100)}
    snap = snapshot(holdings, 0, open_orders=(OpenOrder("EFA", Side.BUY, notional=D(1)),))
    alloc = targets(SPY="0.5", EFA="0.1", AGG="0.3", VNQ="0.1")
    plan = plan_rebalance(fold_substitutes(snap, alloc, TAX), alloc, bands("0.05"), settings())
    lots = [lot("SPY", 560, 50), lot("EFA", 120, 150, date(2024, 1, 2))]
    result = plan_tax_aware(plan, snap, lots, DAY, TAX, planner_settings=settings())
    assert orders(result) == {("SPY", Side.SELL): D("10.11"), ("AGG", Side.BUY): D("1010.00")}
