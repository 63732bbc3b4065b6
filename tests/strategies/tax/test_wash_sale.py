"""The wash-sale rule, from the examples in IRS Publication 550 ("Wash Sales", chapter 4), then the household
cases: substantially identical groups, an IRA replacement (Rev. Rul. 2008-5) and the planner's guards.

Publication 550 states its examples in dollars for whole lots; the per-share prices below are those totals
divided by the share counts. Example years follow the edition the facts were taken from.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from strategies.portfolio import Side
from strategies.tax.lots import Fill, GainSummary, ReliefMethod, Term, build_ledger
from strategies.tax.wash_sale import (
    WashSaleRules,
    blocked_purchases,
    build_household_ledger,
    loss_sale_risk,
)


def D(value: str | int) -> Decimal:
    return Decimal(str(value))


def buy(
    fill_id: str, day: date, qty: int | str, price: str, symbol: str = "X", account: str = "taxable"
) -> Fill:
    return Fill(account, symbol, Side.BUY, D(qty), D(price), day, fill_id)


def sell(
    fill_id: str, day: date, qty: int | str, price: str, symbol: str = "X", account: str = "taxable"
) -> Fill:
    return Fill(account, symbol, Side.SELL, D(qty), D(price), day, fill_id)


INDEX_TRACKERS = WashSaleRules(groups=(frozenset({"SPY", "IVV", "VOO"}),), tax_advantaged=frozenset({"ira"}))
PLAIN = WashSaleRules()


def lots_by_id(ledger) -> dict[str, tuple[Decimal, Decimal, date]]:
    return {lot.lot_id: (lot.qty, lot.basis, lot.start) for lot in ledger.lots}


# -- Publication 550, Example 1 ----------------------------------------------------------------------------
# "You buy 100 shares of X stock for $1,000. You sell these shares for $750 and within 30 days from the sale
# you buy 100 shares of the same stock for $800. Because you bought substantially identical stock, you can't
# deduct your loss of $250 on the sale. However, you add the disallowed loss ($250) to the cost of the new
# stock ($800) to obtain your basis in the new stock, which is $1,050."
# Dates (ours): bought 2024-01-02, sold 2024-03-01 (held 59 days), rebought 2024-03-15.
# Expected: loss $250 disallowed, recognised $0; new lot basis $1,050; its holding period includes the 59
# days of the old shares, so it starts 2024-03-15 - 59 days = 2024-01-16.
EXAMPLE_1 = [
    buy("b1", date(2024, 1, 2), 100, "10"),
    sell("s1", date(2024, 3, 1), 100, "7.50"),
    buy("b2", date(2024, 3, 15), 100, "8"),
]


def test_pub550_example_1_full_replacement() -> None:
    ledger = build_household_ledger(EXAMPLE_1, PLAIN)
    (sale,) = ledger.realisations
    assert (sale.gain, sale.disallowed, sale.recognised) == (D(-250), D(250), D(0))
    assert lots_by_id(ledger) == {"b2/w1": (D(100), D(1050), date(2024, 1, 16))}
    (wash,) = ledger.wash_sales
    assert (wash.replacement_fill_id, wash.qty, wash.disallowed, wash.permanent) == (
        "b2",
        D(100),
        D(250),
        False,
    )
    assert wash.holding_carried == timedelta(days=59)
    assert wash.loss_sale == sale


def test_pub550_example_1_the_loss_comes_back_when_the_replacement_is_sold() -> None:
    # Continuing: the replacement is sold 2024-06-03 for $700 with no further buy: basis $1,050, so the loss
    # recognised is $350 = the $100 economic loss on the new shares + the $250 carried in.
    ledger = build_household_ledger([*EXAMPLE_1, sell("s2", date(2024, 6, 3), 100, "7")], PLAIN)
    first, second = ledger.realisations
    assert first.recognised == D(0)
    assert (second.basis, second.recognised, second.disallowed) == (D(1050), D(-350), D(0))


def test_pub550_example_1_the_holding_period_carries_over() -> None:
    # Sold for $1,200 on 2025-01-20: only ~10 months after the 2024-03-15 buy, but the carried holding period
    # starts 2024-01-16, so the gain ($1,200 - $1,050 = $150) is long term.
    ledger = build_household_ledger([*EXAMPLE_1, sell("s2", date(2025, 1, 20), 100, "12")], PLAIN)
    gain = ledger.realisations[-1]
    assert (gain.recognised, gain.term, gain.acquired) == (D(150), Term.LONG, date(2024, 3, 15))


# -- Publication 550, Example 2 (fewer replacement shares than shares sold; bought BEFORE the sale) ---------
# "You bought 100 shares of M stock on September 24, 2021, for $5,000. On December 21, 2021, you bought 50
# shares of substantially identical stock for $2,750. On December 28, 2021, you sold for $4,000 the 100
# shares you bought in September. You have a $1,000 loss on the sale. However, because you bought 50 shares
# of substantially identical stock within 30 days before the sale, you can't deduct the loss ($500) on 50
# shares. Your basis in the 50 new shares is $3,250 ($2,750 + $500). You can deduct the loss ($500) on the
# other 50 shares."
# (FIFO relieves the September lot, as the example requires.)
def test_pub550_example_2_partial_replacement_bought_before_the_sale() -> None:
    fills = [
        buy("sep", date(2021, 9, 24), 100, "50", "M"),
        buy("dec", date(2021, 12, 21), 50, "55", "M"),
        sell("s", date(2021, 12, 28), 100, "40", "M"),
    ]
    ledger = build_household_ledger(fills, PLAIN)
    (sale,) = ledger.realisations
    assert (sale.gain, sale.disallowed, sale.recognised) == (D(-1000), D(500), D(-500))
    (lot,) = ledger.lots
    assert (lot.qty, lot.basis) == (D(50), D(3250))
    # holding period: Sept 24 -> Dec 28 is 95 days, tacked onto the Dec 21 buy
    assert lot.start == date(2021, 12, 21) - timedelta(days=95)


# -- Publication 550, Example 3 (more replacement shares than sold: match in the order bought) --------------
# "You bought 100 shares of M stock on September 24, 2021. On February 3, 2022, you sold those shares at a
# $1,000 loss. On each of the 4 days from February 10, 2022, to February 13, 2022, you bought 50 shares of
# substantially identical stock. You can't deduct your $1,000 loss. You must add half the disallowed loss
# ($500) to the basis of the 50 shares bought on February 10. Add the other half ($500) to the basis of the
# shares bought on February 11."
# Prices (ours): bought at $50, sold at $40 (100 x $10 = $1,000 loss), rebought at $42 (50 x $42 = $2,100).
def test_pub550_example_3_replacements_matched_in_the_order_bought() -> None:
    fills = [
        buy("sep", date(2021, 9, 24), 100, "50", "M"),
        sell("s", date(2022, 2, 3), 100, "40", "M"),
        *(buy(f"feb{d}", date(2022, 2, d), 50, "42", "M") for d in (10, 11, 12, 13)),
    ]
    ledger = build_household_ledger(fills, PLAIN)
    (sale,) = ledger.realisations
    assert (sale.disallowed, sale.recognised) == (D(1000), D(0))
    basis = {lot.fill_id: lot.basis for lot in ledger.lots}
    assert basis == {"feb10": D(2600), "feb11": D(2600), "feb12": D(2100), "feb13": D(2100)}
    assert [(w.replacement_fill_id, w.qty, w.disallowed) for w in ledger.wash_sales] == [
        ("feb10", D(50), D(500)),
        ("feb11", D(50), D(500)),
    ]


# -- the 61-day window --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("offset", "washed"), [(-31, False), (-30, True), (0, True), (30, True), (31, False)]
)
def test_the_window_is_30_days_either_side(offset: int, washed: bool) -> None:
    sale_day = date(2024, 6, 14)
    fills = [
        buy("old", date(2024, 1, 2), 10, "100"),
        buy("new", sale_day + timedelta(days=offset), 10, "95"),
        sell("s", sale_day, 10, "90"),
    ]
    ledger = build_household_ledger(fills, PLAIN)
    loss = next(r for r in ledger.realisations if r.sale_fill_id == "s")
    assert loss.buy_fill_id == "old"
    assert loss.disallowed == (D(100) if washed else D(0))


def test_gains_are_never_washed_and_own_lot_is_not_a_replacement() -> None:
    fills = [buy("b", date(2024, 1, 2), 10, "100"), sell("s", date(2024, 1, 10), 10, "90")]
    assert build_household_ledger(fills, PLAIN).realisations[0].recognised == D(-100)  # bought 8 days before
    fills = [buy("b", date(2024, 1, 2), 10, "100"), sell("s", date(2024, 1, 10), 10, "110"),
             buy("c", date(2024, 1, 11), 10, "111")]  # fmt: skip
    ledger = build_household_ledger(fills, PLAIN)
    assert ledger.wash_sales == () and ledger.realisations[0].recognised == D(100)


# -- substantially identical groups and the household ------------------------------------------------------
def test_a_group_member_in_another_taxable_account_washes_the_loss() -> None:
    # sell 10 SPY bought at $400 for $350 (-$500); the spouse's account buys 10 VOO at $352 12 days later
    fills = [
        buy("spy", date(2024, 1, 2), 10, "400", "SPY"),
        sell("s", date(2024, 8, 5), 10, "350", "SPY"),
        buy("voo", date(2024, 8, 17), 10, "352", "VOO", account="spouse"),
    ]
    ledger = build_household_ledger(fills, INDEX_TRACKERS)
    assert ledger.realisations[0].recognised == D(0)
    (lot,) = ledger.lots
    assert (lot.account, lot.symbol, lot.basis) == ("spouse", "VOO", D(4020))


def test_a_different_index_is_not_substantially_identical() -> None:
    # VTI (CRSP total market) swapped for ITOT (S&P total market): the usual tax-loss-harvest pair
    fills = [
        buy("vti", date(2024, 1, 2), 10, "250", "VTI"),
        sell("s", date(2024, 8, 5), 10, "230", "VTI"),
        buy("itot", date(2024, 8, 5), 20, "115", "ITOT"),
    ]
    ledger = build_household_ledger(fills, INDEX_TRACKERS)
    assert ledger.realisations[0].recognised == D(-200) and ledger.wash_sales == ()


def test_an_ira_replacement_makes_the_loss_permanent_rev_rul_2008_5() -> None:
    # Taxable: 10 VOO bought at $400, sold 2024-08-05 at $350: -$500. The IRA buys 10 IVV at $355 on 08-20.
    # Rev. Rul. 2008-5: the $500 is disallowed AND the IRA's basis is not increased: it is lost for good.
    fills = [
        buy("voo", date(2024, 1, 2), 10, "400", "VOO"),
        sell("s", date(2024, 8, 5), 10, "350", "VOO"),
        buy("ivv", date(2024, 8, 20), 10, "355", "IVV", account="ira"),
    ]
    ledger = build_household_ledger(fills, INDEX_TRACKERS)
    (sale,) = ledger.realisations
    assert (sale.recognised, sale.disallowed, sale.permanently_disallowed) == (D(0), D(500), D(500))
    (lot,) = ledger.lots
    assert (lot.account, lot.basis, lot.start) == ("ira", D(3550), date(2024, 8, 20))
    (wash,) = ledger.wash_sales
    assert wash.permanent and wash.replacement_account == "ira"


def test_an_ira_buy_before_the_sale_is_also_permanent_and_matched_once() -> None:
    # IRA bought 5 SPY 10 days before; taxable sells 10 SPY at -$10/sh: 5 sh washed permanently, 5 deductible
    fills = [
        buy("t", date(2024, 1, 2), 10, "100", "SPY"),
        buy("i", date(2024, 3, 1), 5, "95", "SPY", account="ira"),
        sell("s", date(2024, 3, 11), 10, "90", "SPY"),
    ]
    ledger = build_household_ledger(fills, INDEX_TRACKERS)
    (sale,) = ledger.realisations
    assert (sale.recognised, sale.permanently_disallowed) == (D(-50), D(50))


def test_a_loss_in_the_ira_is_not_a_wash_sale_and_is_not_deductible() -> None:
    fills = [
        buy("i", date(2024, 1, 2), 10, "100", "SPY", account="ira"),
        sell("s", date(2024, 3, 11), 10, "90", "SPY", account="ira"),
        buy("t", date(2024, 3, 12), 10, "91", "SPY"),
    ]
    ledger = build_household_ledger(fills, INDEX_TRACKERS)
    assert ledger.realisations[0].recognised == D(0) and ledger.wash_sales == ()
    assert ledger.lots[0].basis == D(910)


def test_groups_must_not_overlap() -> None:
    with pytest.raises(ValueError, match="two"):
        WashSaleRules(groups=(frozenset({"SPY", "IVV"}), frozenset({"IVV", "VOO"})))


# -- guards for the planner --------------------------------------------------------------------------------
def harvested() -> list:
    """Taxable sold 10 SPY at a $500 loss on 2024-08-05, no replacement yet."""
    fills = [buy("spy", date(2024, 1, 2), 10, "400", "SPY"), sell("s", date(2024, 8, 5), 10, "350", "SPY")]
    ledger = build_household_ledger(fills, INDEX_TRACKERS)
    return [*fills, *ledger.realisations]


def test_blocked_purchases_for_30_days_after_a_loss_sale() -> None:
    events = harvested()
    (block,) = blocked_purchases(events, "IVV", date(2024, 9, 4), INDEX_TRACKERS)
    assert (block.washable_loss, block.allowed_from, block.permanent) == (D(500), date(2024, 9, 5), False)
    assert "wait until 2024-09-05" in block.describe()
    assert blocked_purchases(events, "IVV", date(2024, 9, 5), INDEX_TRACKERS) == ()
    assert blocked_purchases(events, "VTI", date(2024, 8, 6), INDEX_TRACKERS) == ()
    assert blocked_purchases(events, "SPY", date(2024, 8, 4), INDEX_TRACKERS) == ()  # before the sale
    (ira,) = blocked_purchases(events, "VOO", date(2024, 8, 6), INDEX_TRACKERS, account="ira")
    assert ira.permanent and "lost for good" in ira.describe()


def test_a_loss_already_washed_does_not_block() -> None:
    fills = [*EXAMPLE_1]
    ledger = build_household_ledger(fills, PLAIN)
    assert blocked_purchases([*fills, *ledger.realisations], "X", date(2024, 3, 20)) == ()


def test_loss_sale_risk_from_buys_in_the_30_days_before() -> None:
    events = [
        buy("old", date(2024, 1, 2), 10, "400", "VOO"),
        buy("ira", date(2024, 7, 20), 3, "390", "SPY", account="ira"),
        buy("t", date(2024, 7, 10), 2, "385", "IVV"),
    ]
    risk = loss_sale_risk(events, "VOO", date(2024, 8, 5), INDEX_TRACKERS)
    assert risk.at_risk and risk.permanent
    assert [f.fill_id for f in risk.recent_buys] == ["t", "ira"]
    assert (risk.replacement_qty, risk.defer_until) == (D(5), date(2024, 8, 20))
    assert "defer to 2024-08-20" in risk.describe()
    later = loss_sale_risk(events, "VOO", date(2024, 8, 20), INDEX_TRACKERS)
    assert not later.at_risk and "clear" in later.describe()
    # the lot being sold is not its own replacement
    own = loss_sale_risk(events[:1], "VOO", date(2024, 1, 20), INDEX_TRACKERS, exclude_fill_ids=["old"])
    assert not own.at_risk


def test_a_washed_loss_can_be_washed_again_and_holding_periods_chain() -> None:
    # b1 10 @ $100 (Jan 2); s1 @ $90 Feb 1: -$100, held 30 days; b2 10 @ $92 Feb 10 -> basis $1,020,
    # holding from Feb 10 - 30 days = Jan 11. s2 @ $85 Mar 1: -$170 (held Jan 11 -> Mar 1 = 50 days);
    # b3 10 @ $86 Mar 20 -> basis $860 + $170 = $1,030, holding from Mar 20 - 50 days = Jan 30.
    fills = [
        buy("b1", date(2024, 1, 2), 10, "100"),
        sell("s1", date(2024, 2, 1), 10, "90"),
        buy("b2", date(2024, 2, 10), 10, "92"),
        sell("s2", date(2024, 3, 1), 10, "85"),
        buy("b3", date(2024, 3, 20), 10, "86"),
    ]
    ledger = build_household_ledger(fills, PLAIN)
    assert [(r.gain, r.disallowed, r.recognised) for r in ledger.realisations] == [
        (D(-100), D(100), D(0)),
        (D(-170), D(170), D(0)),
    ]
    assert lots_by_id(ledger) == {"b3/w2": (D(10), D(1030), date(2024, 1, 30))}


def test_only_replacement_shares_still_held_are_matched() -> None:
    # the spouse bought 10 X on Mar 1 and sold 6 on Mar 5; taxable sells 10 at -$10/sh on Mar 10: the 4 shares
    # still held are the replacement (-$40 disallowed, their basis 4 x $95 + $40 = $420); -$60 is deductible
    fills = [
        buy("old", date(2024, 1, 2), 10, "100"),
        buy("r", date(2024, 3, 1), 10, "95", account="spouse"),
        sell("rs", date(2024, 3, 5), 6, "96", account="spouse"),
        sell("s", date(2024, 3, 10), 10, "90"),
    ]
    ledger = build_household_ledger(fills, PLAIN)
    loss = ledger.realisations[-1]
    assert (loss.disallowed, loss.recognised) == (D(40), D(-60))
    (lot,) = ledger.lots
    assert (lot.account, lot.qty, lot.basis) == ("spouse", D(4), D(420))


def test_without_losses_the_household_ledger_is_the_plain_ledger() -> None:
    fills = [
        buy("a", date(2024, 1, 2), 10, "100"),
        buy("b", date(2024, 1, 5), 10, "110"),
        sell("s", date(2024, 2, 1), 15, "120"),
        buy("c", date(2024, 2, 2), 1, "121"),
    ]
    plain, household = build_ledger(fills), build_household_ledger(fills, PLAIN)
    assert household.lots == plain.lots and household.realisations == plain.realisations


# -- replacement shares from another lot relieved in the same sale (Pub 550; Rev. Rul. 56-602) -------------
# Taxable VTI: 100 @ $10 on 2024-01-02 and 100 @ $9 on 2024-05-25; 150 sold @ $7.50 on 2024-06-03 (FIFO).
# FIFO sells all 100 January shares (-$250) and 50 May shares (-$75). The 50 May shares still held were
# bought 9 days before the sale and were not sold by it: they replace 50 of the 100 January loss shares, so
# $125 of the January loss is disallowed and goes onto their basis (50 x $9 + $125 = $575), with the January
# shares' 153 days tacked on (holding from 2024-05-25 - 153 days = 2023-12-24). The May shares sold have no
# replacement: their own purchase is not one (Rev. Rul. 56-602), and the January buy is 153 days before.
PARTLY_RELIEVED = [
    buy("jan", date(2024, 1, 2), 100, "10", "VTI"),
    buy("may", date(2024, 5, 25), 100, "9", "VTI"),
    sell("s", date(2024, 6, 3), 150, "7.50", "VTI"),
]


def test_the_unsold_rest_of_a_lot_sold_in_part_replaces_the_other_lots_loss_shares() -> None:
    ledger = build_household_ledger(PARTLY_RELIEVED, PLAIN)
    assert [(r.buy_fill_id, r.qty, r.gain, r.disallowed, r.recognised) for r in ledger.realisations] == [
        ("jan", D(100), D(-250), D(125), D(-125)),
        ("may", D(50), D(-75), D(0), D(-75)),
    ]
    assert GainSummary.of(ledger.realisations) == GainSummary(short_term=D(-200), disallowed=D(125))
    assert lots_by_id(ledger) == {"may/w1": (D(50), D(575), date(2023, 12, 24))}
    (wash,) = ledger.wash_sales
    assert (wash.loss_sale.buy_fill_id, wash.replacement_fill_id, wash.qty, wash.disallowed) == (
        "jan",
        "may",
        D(50),
        D(125),
    )


def test_a_lots_own_unsold_shares_are_not_its_replacement_rev_rul_56_602() -> None:
    # 50 @ $10 (Jan) and 100 @ $9 (May 25); 70 sold @ $7.50 on Jun 3: January -$125, 20 May shares -$30.
    # 50 of the 80 May shares left replace the 50 January loss shares (all $125 disallowed); the other 30 were
    # bought with the 20 May shares sold, so they do not replace them: the $30 loss is deductible.
    fills = [
        buy("jan", date(2024, 1, 2), 50, "10", "VTI"),
        buy("may", date(2024, 5, 25), 100, "9", "VTI"),
        sell("s", date(2024, 6, 3), 70, "7.50", "VTI"),
    ]
    ledger = build_household_ledger(fills, PLAIN)
    assert [(r.buy_fill_id, r.disallowed, r.recognised) for r in ledger.realisations] == [
        ("jan", D(125), D(0)),
        ("may", D(0), D(-30)),
    ]
    assert sorted((lot.qty, lot.basis) for lot in ledger.lots) == [(D(30), D(270)), (D(50), D(575))]
    # a later buy within 30 days is another purchase: it does replace the 20 May shares sold
    later = build_household_ledger([*fills, buy("jun", date(2024, 6, 10), 20, "8", "VTI")], PLAIN)
    assert [(r.buy_fill_id, r.disallowed, r.recognised) for r in later.realisations] == [
        ("jan", D(125), D(0)),
        ("may", D(30), D(0)),
    ]
    assert {lot.fill_id: lot.basis for lot in later.lots if lot.fill_id == "jun"} == {"jun": D(190)}


def test_an_ira_buy_after_a_partly_relieved_sale_loses_the_rest_of_the_loss_for_good() -> None:
    # PARTLY_RELIEVED, then the IRA buys 60 VTI on Jun 10. Replacements in the order bought: the 50 May shares
    # left (Jan loss shares 1-50: $125 onto their basis), then 50 IRA shares (Jan shares 51-100: $125 lost for
    # good), then 10 IRA shares for 10 of the May shares sold (10 x $1.50 = $15 lost for good).
    rules = WashSaleRules(tax_advantaged=frozenset({"ira"}))
    ledger = build_household_ledger(
        [*PARTLY_RELIEVED, buy("ira", date(2024, 6, 10), 60, "8", "VTI", account="ira")], rules
    )
    assert [
        (r.buy_fill_id, r.disallowed, r.permanently_disallowed, r.recognised) for r in ledger.realisations
    ] == [
        ("jan", D(250), D(125), D(0)),
        ("may", D(15), D(15), D(-60)),
    ]
    assert {lot.account: lot.basis for lot in ledger.lots} == {"taxable": D(575), "ira": D(480)}


def test_fewer_replacements_go_to_the_loss_shares_acquired_first() -> None:
    # Reg. 1.1091-1(c): replacement shares are matched to the loss shares in the order those were acquired,
    # whatever order the lots were relieved in. HIFO sells the $12 May lot first (100 x -$4.50), then 50 of
    # the $10 January lot (50 x -$2.50); 40 shares bought Jun 10 replace 40 January shares: $100 disallowed
    # (matching in relief order would have disallowed 40 x $4.50 = $180 of the May loss).
    fills = [
        buy("jan", date(2024, 1, 2), 100, "10", "VTI"),
        buy("may", date(2024, 5, 1), 100, "12", "VTI"),
        sell("s", date(2024, 6, 3), 150, "7.50", "VTI"),
        buy("jun", date(2024, 6, 10), 40, "8", "VTI"),
    ]
    ledger = build_household_ledger(fills, PLAIN, {"taxable": ReliefMethod.HIFO})
    assert [(r.buy_fill_id, r.gain, r.disallowed) for r in ledger.realisations] == [
        ("may", D(-450), D(0)),
        ("jan", D(-125), D(100)),
    ]
