"""Estimated tax of planned sells: per-lot FIFO relief at configured short/long-term rates, 0 in an IRA."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from strategies.plan import PlannedOrder
from strategies.portfolio import Side
from strategies.tax.estimate import TaxRates, annotate_orders, estimate_sale, plan_tax
from strategies.tax.lots import Fill, GainSummary, Lot, ReliefMethod
from strategies.tax.wash_sale import WashSaleRules, build_household_ledger
from tests.strategies.tax.test_lots import PRICE, SOLD, vti_lots
from tests.strategies.tax.test_wash_sale import PARTLY_RELIEVED, PLAIN

RATES = TaxRates(short_term=Decimal("0.35"), long_term=Decimal("0.15"))


def D(value: str | int) -> Decimal:
    return Decimal(str(value))


def test_fifo_estimate_taxes_each_term_at_its_rate() -> None:
    # FIFO 25 VTI @ $200 (see test_lots): ST +$400 x 35% = $140, LT +$200 x 15% = $30 -> $170.00
    estimate, left = estimate_sale(vti_lots(), "taxable", "VTI", D(25), PRICE, SOLD, RATES)
    assert (estimate.short_term_gain, estimate.long_term_gain, estimate.realised_gain) == (
        D(400),
        D(200),
        D(600),
    )
    assert estimate.estimated_tax == D("170.00")
    assert sum(lot.qty for lot in left) == D(25)


def test_a_net_loss_estimates_a_saving_and_the_method_matters() -> None:
    # HIFO 25: ST -$500 x 35% = -$175, LT -$300 x 15% = -$45 -> -$220.00
    estimate, _ = estimate_sale(
        vti_lots(), "taxable", "VTI", D(25), PRICE, SOLD, RATES, method=ReliefMethod.HIFO
    )
    assert estimate.estimated_tax == D("-220.00")


def test_tax_advantaged_accounts_pay_no_tax() -> None:
    lots = [Lot("ira", "VTI", D(10), D(100), date(2025, 1, 2))]
    estimate, _ = estimate_sale(lots, "ira", "VTI", D(10), PRICE, SOLD, RATES, tax_advantaged=True)
    assert (estimate.realised_gain, estimate.estimated_tax) == (D(0), D(0))


def test_a_loss_at_wash_sale_risk_saves_nothing() -> None:
    # 10 sh @ $260 sold at $200: -$600 ST would save $210, but 10 were bought 13 days before in the IRA
    lots = [Lot("taxable", "VTI", D(10), D(260), date(2025, 2, 3), lot_id="c", fill_id="c")]
    events = [Fill("ira", "VTI", Side.BUY, D(10), D(190), date(2025, 5, 20), "ira-buy")]
    plain, _ = estimate_sale(lots, "taxable", "VTI", D(10), PRICE, SOLD, RATES)
    assert plain.estimated_tax == D("-210.00") and plain.wash_risk is None
    rules = WashSaleRules(tax_advantaged=frozenset({"ira"}))
    risky, _ = estimate_sale(
        lots, "taxable", "VTI", D(10), PRICE, SOLD, RATES, household_events=events, rules=rules
    )
    assert risky.estimated_tax == D(0) and risky.summary.disallowed == D(600)
    assert risky.summary.permanently_disallowed == D(600)
    assert risky.wash_risk is not None and risky.wash_risk.permanent


def test_unknown_shares_are_reported_not_invented() -> None:
    estimate, _ = estimate_sale([], "taxable", "VTI", D(3), PRICE, SOLD, RATES)
    assert (estimate.unmatched_qty, estimate.estimated_tax) == (D(3), D(0))


def test_annotate_a_plan_sells_consume_lots_in_order() -> None:
    orders = [
        PlannedOrder("VTI", Side.SELL, D(25), None, PRICE, D(5000), "over target"),
        PlannedOrder("VTI", Side.SELL, None, D(1000), PRICE, D(1000), "more"),  # 5 sh, from what is left
        PlannedOrder("AGG", Side.BUY, None, D(6000), D(100), D(6000), "under target"),
    ]
    annotated = annotate_orders(orders, vti_lots(), "taxable", SOLD, RATES)
    first, second, buy = annotated
    assert (first.realised_gain, first.estimated_tax) == (D(600), D("170.00"))
    # what FIFO leaves first: E, 5 sh @ $120 -> 5 x $80 = +$400 ST -> $140.00
    assert (second.short_term_gain, second.long_term_gain, second.estimated_tax) == (
        D(400),
        D(0),
        D("140.00"),
    )
    assert (buy.estimated_tax, buy.estimate) == (D(0), None)
    assert plan_tax(annotated) == D("310.00")
    assert "realises +600.00 (ST +400.00, LT +200.00), est. tax 170.00" in first.describe()
    assert buy.describe() == orders[2].describe()


def test_rates_are_validated() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        TaxRates(D("35"), D("0.15"))


def test_a_smaller_recent_buy_washes_only_its_share_count() -> None:
    # 10 sh @ $260 sold at $200 (-$600 ST); only 4 were bought in the 30 days before (taxable): -$240 washed,
    # -$360 deductible -> -$126.00
    lots = [Lot("taxable", "VTI", D(10), D(260), date(2025, 2, 3), lot_id="c", fill_id="c")]
    events = [Fill("taxable", "VTI", Side.BUY, D(4), D(190), date(2025, 5, 20), "recent")]
    estimate, _ = estimate_sale(lots, "taxable", "VTI", D(10), PRICE, SOLD, RATES, household_events=events)
    assert (estimate.short_term_gain, estimate.summary.disallowed) == (D(-360), D(240))
    assert estimate.estimated_tax == D("-126.00") and estimate.summary.permanently_disallowed == D(0)


def test_the_estimate_foresees_the_wash_by_the_unsold_rest_of_a_recent_lot() -> None:
    # test_wash_sale's PARTLY_RELIEVED: 100 VTI @ $10 (Jan 2), 100 @ $9 (May 25); sell 150 @ $7.50 on Jun 3.
    # FIFO realises -$250 (Jan) and -$75 (50 May shares); the 50 May shares kept replace 50 January shares:
    # $125 disallowed, -$200 recognised, saving $70.00 at 35% (not the $113.75 a -$325 loss would save), and
    # the ledger records the same once the sale is made.
    buys, sale = PARTLY_RELIEVED[:2], PARTLY_RELIEVED[2]
    lots = build_household_ledger(buys, PLAIN).lots
    estimate, _ = estimate_sale(
        lots, "taxable", "VTI", sale.qty, sale.price, sale.day, RATES, household_events=buys
    )
    assert (estimate.short_term_gain, estimate.summary.disallowed) == (D(-200), D(125))
    assert estimate.estimated_tax == D("-70.00")
    assert estimate.wash_risk is not None and estimate.wash_risk.defer_until == date(2024, 6, 25)
    assert estimate.summary == GainSummary.of(build_household_ledger(PARTLY_RELIEVED, PLAIN).realisations)


def test_a_washed_loss_lot_inside_a_net_gain_is_still_washed() -> None:
    # 100 @ $10 (Jan 2) and 100 @ $2 (May 25), 150 sold @ $7.50 on Jun 3: -$250 and +$275, net +$25. The
    # 50 May shares kept still replace 50 January shares: $125 of the loss is disallowed, +$150 is taxed
    # ($52.50).
    buys = [
        Fill("taxable", "VTI", Side.BUY, D(100), D(10), date(2024, 1, 2), "jan"),
        Fill("taxable", "VTI", Side.BUY, D(100), D(2), date(2024, 5, 25), "may"),
    ]
    lots = build_household_ledger(buys, PLAIN).lots
    estimate, _ = estimate_sale(
        lots, "taxable", "VTI", D(150), D("7.50"), date(2024, 6, 3), RATES, household_events=buys
    )
    assert (estimate.short_term_gain, estimate.estimated_tax) == (D(150), D("52.50"))
    sold = [*buys, Fill("taxable", "VTI", Side.SELL, D(150), D("7.50"), date(2024, 6, 3), "s")]
    assert estimate.summary == GainSummary.of(build_household_ledger(sold, PLAIN).realisations)
