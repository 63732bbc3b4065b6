"""Tax-loss harvesting (strategies/tax/harvest.py): thresholds, substitutes, wash-sale guards, switch-back.

Hand-computed cases on round prices (no quotes: orders are estimated at the mid); 2024-06-03 is the day.
"""

from __future__ import annotations

from datetime import date, timedelta

from strategies.portfolio import OpenOrder, Side, current_weights
from strategies.targets import CASH
from strategies.tax.estimate import TaxRates
from strategies.tax.harvest import HarvestKind, plan_harvest
from strategies.tax.lots import Fill, Lot, Realisation
from strategies.tax.planning import AccountType, HarvestSettings, TaxSettings, fold_substitutes
from tests.strategies.builders import D, settings, snapshot, targets

DAY = date(2024, 6, 3)
RATES = TaxRates(D("0.35"), D("0.15"))
TAX = TaxSettings(
    rates=RATES,
    substitutes=(("VTI", "ITOT", "SCHB"), ("AGG", "BND")),
    harvest=HarvestSettings(enabled=True, min_loss=D(1000), min_loss_fraction=D("0.05")),
)
PRICES = {"VTI": 100, "ITOT": 50, "SCHB": 25, "AGG": 100, "BND": 80}


def lot(symbol: str, qty: int, cost: str | int, acquired: date, fill_id: str = "") -> Lot:
    fid = fill_id or f"{symbol}-{acquired}"
    return Lot("taxable", symbol, D(qty), D(cost), acquired, lot_id=fid, fill_id=fid)


def snap(**holdings: int):  # noqa: ANN201
    return snapshot({s: (q, PRICES[s]) for s, q in holdings.items()}, extra_prices=PRICES)


def harvest(s, lots, tax=TAX, events=()):  # noqa: ANN001, ANN201
    return plan_harvest(s, lots, DAY, tax, household_events=events, planner_settings=settings())


def test_a_loss_past_both_thresholds_is_sold_and_the_substitute_keeps_the_allocation() -> None:
    # 600 VTI bought at $110, now $100: a $6,000 short-term loss (9.1% of the $66,000 basis), over $1,000
    # and 5%. Sell the 600 VTI ($60,000) and buy $60,000 of ITOT; the VTI sleeve stays at 60%.
    before = snap(VTI=600, AGG=400)
    plan = harvest(before, [lot("VTI", 600, 110, date(2024, 1, 10))])
    [trade] = plan.trades
    assert trade.kind is HarvestKind.HARVEST
    assert (trade.sell.symbol, trade.sell.qty) == ("VTI", D(600))
    assert (trade.buy.symbol, trade.buy.notional) == ("ITOT", D("60000.00"))
    assert trade.realised.short_term == D(-6000) and trade.estimated_tax == D("-2100.00")
    assert plan.harvested_loss == D(6000)
    after = snap(ITOT=1200, AGG=400)  # $60,000 of ITOT at $50
    alloc = targets(VTI="0.6", AGG="0.4")
    assert current_weights(fold_substitutes(after, alloc, TAX)) == current_weights(before)
    assert [o.side for o in plan.orders] == [Side.SELL, Side.BUY]


def test_both_thresholds_must_be_met() -> None:
    # $900 loss (below $1,000) on a small position; then a $2,000 loss that is only 2% of a big position
    assert harvest(snap(VTI=90, AGG=10), [lot("VTI", 90, 110, date(2024, 1, 10))]).is_empty
    assert harvest(snap(VTI=1000), [lot("VTI", 1000, 102, date(2024, 1, 10))]).is_empty
    assert not harvest(snap(VTI=1000), [lot("VTI", 1000, "105.27", date(2024, 1, 10))]).is_empty  # 5.01%


def test_fifo_harvests_the_oldest_lots_up_to_the_largest_loss() -> None:
    # FIFO: 100 sh at $120 (-$2,000), then 100 at $115 (-$1,500), then 100 at $60 (+$4,000). Selling the
    # first 200 realises -$3,500 (the most); the third lot's gain would cancel it, so it is kept.
    lots = [
        lot("VTI", 100, 120, date(2023, 1, 3)),
        lot("VTI", 100, 115, date(2023, 9, 1)),
        lot("VTI", 100, 60, date(2024, 2, 1)),
    ]
    [trade] = harvest(snap(VTI=300), lots).trades
    assert trade.sell.qty == D(200)
    assert trade.realised.long_term == D(-2000) and trade.realised.short_term == D(-1500)


def test_a_recent_identical_buy_defers_the_harvest() -> None:
    # 20 days ago VTI was bought in the IRA: a loss sale now would be washed (for good). The rebalance buy
    # being part of the sold lots would not count, this one is in another account.
    events = [Fill("ira", "VTI", Side.BUY, D(5), D(104), DAY - timedelta(days=20), "ira-1")]
    plan = harvest(snap(VTI=600), [lot("VTI", 600, 110, date(2024, 1, 10))], events=events)
    assert plan.is_empty
    assert "deferred" in plan.skipped[0].reason and "ira" in plan.skipped[0].reason


def test_the_buy_of_a_lot_being_sold_is_not_a_replacement() -> None:
    # the whole position, including the lot bought 10 days ago, is sold: no wash sale
    lots = [lot("VTI", 500, 112, date(2024, 1, 10)), lot("VTI", 100, 108, DAY - timedelta(days=10), "recent")]
    events = [Fill("taxable", "VTI", Side.BUY, D(100), D(108), DAY - timedelta(days=10), "recent")]
    [trade] = harvest(snap(VTI=600), lots, events=events).trades
    assert trade.sell.qty == D(600)


def realised_loss(symbol: str, days_ago: int) -> Realisation:
    sold = DAY - timedelta(days=days_ago)
    return Realisation("taxable", symbol, D(10), sold, D(900), D(1000), date(2023, 1, 3), date(2023, 1, 3))


def test_a_blocked_substitute_is_skipped_for_the_next_one() -> None:
    # ITOT was sold at a loss 10 days ago (an earlier harvest): buying it would wash that loss; SCHB is next
    plan = harvest(
        snap(VTI=600), [lot("VTI", 600, 110, date(2024, 1, 10))], events=[realised_loss("ITOT", 10)]
    )
    assert plan.trades[0].buy.symbol == "SCHB"


def test_no_substitute_no_harvest() -> None:
    plan = harvest(snapshot({"TIP": (600, 100)}), [lot("TIP", 600, 110, date(2024, 1, 10))])
    assert plan.is_empty and "no substitute" in plan.skipped[0].reason


def test_switch_back_after_the_window_when_it_costs_no_tax() -> None:
    itot = [lot("ITOT", 1200, 50, date(2024, 4, 1))]  # bought at $50, still $50: no gain
    # 20 days after the VTI loss sale, VTI is still blocked: keep ITOT
    assert harvest(snap(ITOT=1200), itot, events=[realised_loss("VTI", 20)]).is_empty
    # 31 days after: switch back
    [trade] = harvest(snap(ITOT=1200), itot, events=[realised_loss("VTI", 31)]).trades
    assert trade.kind is HarvestKind.SWITCH_BACK
    assert (trade.sell.symbol, trade.sell.qty, trade.buy.symbol) == ("ITOT", D(1200), "VTI")
    assert trade.realised.total == 0


def test_no_switch_back_when_it_would_realise_a_gain() -> None:
    itot = [lot("ITOT", 1200, 45, date(2024, 4, 1))]  # $6,000 gain
    plan = harvest(snap(ITOT=1200), itot, events=[realised_loss("VTI", 40)])
    assert plan.is_empty and "would realise" in plan.skipped[0].reason


def test_tax_advantaged_accounts_and_disabled_harvesting_do_nothing() -> None:
    lots = [lot("VTI", 600, 110, date(2024, 1, 10))]
    ira = TaxSettings(
        rates=RATES, account_type=AccountType.IRA, substitutes=TAX.substitutes, harvest=TAX.harvest
    )
    assert harvest(snap(VTI=600), lots, ira).is_empty
    assert harvest(snap(VTI=600), lots, TaxSettings(rates=RATES, substitutes=TAX.substitutes)).is_empty


def test_two_harvests_in_one_plan_do_not_buy_what_the_other_sold() -> None:
    lots = [lot("VTI", 600, 110, date(2024, 1, 10)), lot("AGG", 400, 110, date(2024, 1, 10))]
    plan = harvest(snap(VTI=600, AGG=400), lots)
    assert {(t.sell.symbol, t.buy.symbol) for t in plan.trades} == {("VTI", "ITOT"), ("AGG", "BND")}
    assert "harvest" in plan.explain() and CASH not in {t.buy.symbol for t in plan.trades}


def test_symbols_with_working_orders_are_left_alone() -> None:
    lots = [lot("VTI", 600, 110, date(2024, 1, 10))]
    busy = snapshot(
        {s: (600 if s == "VTI" else 0, p) for s, p in PRICES.items()},
        open_orders=(OpenOrder("ITOT", Side.BUY, notional=D(100)),),
    )
    [trade] = harvest(busy, lots).trades  # ITOT has a working order: SCHB instead
    assert trade.buy.symbol == "SCHB"
    selling = snapshot(
        {s: (600 if s == "VTI" else 0, p) for s, p in PRICES.items()},
        open_orders=(OpenOrder("VTI", Side.SELL, qty=D(1)),),
    )
    assert harvest(selling, lots).is_empty


def test_the_unsold_rest_of_a_recent_lot_defers_the_harvest() -> None:
    # 100 VTI @ $110 (Jan 2) and 100 @ $105 bought 9 days ago; only 150 can be sold now, so the harvest would
    # sell the January lot (-$1,000) and 50 of the recent shares (-$250). The 50 recent shares kept were not
    # sold: they replace 50 January shares and would wash $500 of the loss, so the harvest waits until the
    # recent buy is 31 days old.
    recent = DAY - timedelta(days=9)
    lots = [lot("VTI", 100, 110, date(2024, 1, 2), "jan"), lot("VTI", 100, 105, recent, "recent")]
    events = [
        Fill("taxable", "VTI", Side.BUY, D(100), D(110), date(2024, 1, 2), "jan"),
        Fill("taxable", "VTI", Side.BUY, D(100), D(105), recent, "recent"),
    ]
    plan = harvest(snap(VTI=150), lots, events=events)
    assert plan.is_empty
    [skipped] = plan.skipped
    assert "harvest of a $1,250.00 loss deferred" in skipped.reason
    assert (
        "washed by 50 of the 100 VTI bought in taxable on 2024-05-25 ($500.00 of the loss" in skipped.reason
    )
    assert "defer to 2024-06-25" in skipped.reason
