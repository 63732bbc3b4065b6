"""Lot relief by hand-computed cases (FIFO, HIFO, minimum-tax, specific, partial lots), the one-year
boundary, replaying broker FILL activities into a ledger, and reconciliation against broker positions."""

from __future__ import annotations

import ast
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

import strategies.tax
from strategies.portfolio import Side
from strategies.tax.lots import (
    Fill,
    GainSummary,
    Lot,
    ReliefMethod,
    Term,
    build_ledger,
    fill_from_activity,
    holding_term,
    long_term_from,
    reconcile,
    relief_order,
    relieve,
)
from tests.strategies.test_plan import FORBIDDEN_CALLS, FORBIDDEN_MODULES


def D(value: str | int) -> Decimal:
    return Decimal(str(value))


SOLD = date(2025, 6, 2)
PRICE = D(200)


def vti_lots() -> list[Lot]:
    """Five lots of 10 VTI, sold at $200 on 2025-06-02:

    A  $150  2023-01-10  long term,  +$50/sh
    B  $230  2024-03-01  long term,  -$30/sh  (anniversary 2025-03-01 is before the sale)
    E  $120  2024-12-01  short term, +$80/sh
    C  $260  2025-02-03  short term, -$60/sh
    D  $180  2025-04-01  short term, +$20/sh
    """
    spec = {
        "A": ("150", date(2023, 1, 10)),
        "B": ("230", date(2024, 3, 1)),
        "C": ("260", date(2025, 2, 3)),
        "D": ("180", date(2025, 4, 1)),
        "E": ("120", date(2024, 12, 1)),
    }
    return [Lot("taxable", "VTI", D(10), D(cost), day, lot_id=name) for name, (cost, day) in spec.items()]


def sell(qty: str, method: ReliefMethod, **kw):
    return relieve(vti_lots(), "taxable", "VTI", D(qty), PRICE, SOLD, method, **kw)


def taken(relief) -> list[tuple[str, Decimal]]:
    return [(r.lot_id, r.qty) for r in relief.realisations]


def test_fifo_sells_oldest_acquisitions_first_and_splits_the_last_lot() -> None:
    # A 10 (+500 LT), B 10 (-300 LT), E 5 of 10 (+400 ST)
    relief = sell("25", ReliefMethod.FIFO)
    assert taken(relief) == [("A", 10), ("B", 10), ("E", 5)]
    assert relief.summary.short_term == D(400)
    assert relief.summary.long_term == D(200)
    assert relief.summary.total == D(600)
    left = {lot.lot_id: (lot.qty, lot.basis) for lot in relief.remaining}
    assert left == {"E": (D(5), D(600)), "C": (D(10), D(2600)), "D": (D(10), D(1800))}


def test_hifo_sells_highest_basis_first() -> None:
    # C $260 (10: -600 ST), B $230 (10: -300 LT), D $180 (5: +100 ST)
    relief = sell("25", ReliefMethod.HIFO)
    assert taken(relief) == [("C", 10), ("B", 10), ("D", 5)]
    assert (relief.summary.short_term, relief.summary.long_term) == (D(-500), D(-300))


def test_min_tax_order_st_losses_lt_losses_lt_gains_st_gains() -> None:
    # 25 sh: C (-600 ST), B (-300 LT), A 5 of 10 (+250 LT)
    relief = sell("25", ReliefMethod.MIN_TAX)
    assert taken(relief) == [("C", 10), ("B", 10), ("A", 5)]
    assert (relief.summary.short_term, relief.summary.long_term) == (D(-600), D(-50))
    # 35 sh: ... all of A (+500 LT), then the smallest short-term gain first: D 5 (+100 ST), not E (+80/sh)
    relief = sell("35", ReliefMethod.MIN_TAX)
    assert taken(relief) == [("C", 10), ("B", 10), ("A", 10), ("D", 5)]
    assert (relief.summary.short_term, relief.summary.long_term) == (D(-500), D(200))


def test_min_tax_ranks_larger_losses_first_within_a_class() -> None:
    lots = [
        Lot("t", "X", D(1), D(110), date(2025, 5, 1), lot_id="small-loss"),
        Lot("t", "X", D(1), D(150), date(2025, 5, 2), lot_id="big-loss"),
    ]
    order = relief_order(lots, ReliefMethod.MIN_TAX, price=D(100), sold=SOLD)
    assert [lot.lot_id for lot in order] == ["big-loss", "small-loss"]


def test_specific_lot_relief_with_fractional_partial_lots() -> None:
    # E 4 sh: 4 x (200 - 120) = +320 ST;  A 2.5 sh: 2.5 x (200 - 150) = +125 LT; A keeps 7.5 sh, $1,125
    relief = sell("6.5", ReliefMethod.SPECIFIC, selections=[("E", D(4)), ("A", D("2.5"))])
    assert taken(relief) == [("E", 4), ("A", D("2.5"))]
    assert (relief.summary.short_term, relief.summary.long_term) == (D(320), D(125))
    a = next(lot for lot in relief.remaining if lot.lot_id == "A")
    assert (a.qty, a.basis) == (D("7.5"), D(1125))


def test_specific_lot_relief_is_checked() -> None:
    with pytest.raises(ValueError, match="add up"):
        sell("5", ReliefMethod.SPECIFIC, selections=[("A", D(4))])
    with pytest.raises(ValueError, match="no open lot"):
        sell("5", ReliefMethod.SPECIFIC, selections=[("Z", D(5))])
    with pytest.raises(ValueError, match="cannot take"):
        sell("11", ReliefMethod.SPECIFIC, selections=[("A", D(11))])


def test_selling_more_than_held_raises_or_reports_the_shortfall() -> None:
    with pytest.raises(ValueError, match="holds only 50"):
        sell("51", ReliefMethod.FIFO)
    relief = sell("51", ReliefMethod.FIFO, strict=False)
    assert relief.unmatched_qty == D(1) and relief.remaining == ()


def test_partial_lot_basis_is_conserved_exactly() -> None:
    # 3 shares for $100: selling one leaves 2 whose basis plus the sold basis is exactly $100
    lot = Lot("t", "X", D(3), D(100) / 3, date(2025, 1, 2), adjusted_basis=D(100), lot_id="L")
    relief = relieve([lot], "t", "X", D(1), D(40), SOLD)
    (sold,) = relief.realisations
    (rest,) = relief.remaining
    assert sold.basis + rest.basis == D(100)
    assert rest.qty == D(2)


def test_other_accounts_and_symbols_are_untouched() -> None:
    other = [
        Lot("ira", "VTI", D(5), D(1), date(2020, 1, 2)),
        Lot("taxable", "AGG", D(5), D(1), date(2020, 1, 2)),
    ]
    relief = relieve(vti_lots() + other, "taxable", "VTI", D(50), PRICE, SOLD)
    assert list(relief.remaining) == other


@pytest.mark.parametrize(
    ("bought", "last_short", "first_long"),
    [
        (date(2024, 1, 10), date(2025, 1, 10), date(2025, 1, 11)),  # exactly one year: still short term
        (date(2023, 3, 15), date(2024, 3, 15), date(2024, 3, 16)),
        # last day of a month: each holding month ends on the last day of a later month
        (date(2023, 2, 28), date(2024, 2, 29), date(2024, 3, 1)),  # one year ends on the leap day
        (date(2023, 1, 31), date(2024, 1, 31), date(2024, 2, 1)),
        (date(2023, 4, 30), date(2024, 4, 30), date(2024, 5, 1)),
        (date(2024, 2, 29), date(2025, 2, 28), date(2025, 3, 1)),  # leap-day purchase
        (date(2024, 2, 28), date(2025, 2, 28), date(2025, 3, 1)),  # counting from the leap day
        (date(2023, 12, 31), date(2024, 12, 31), date(2025, 1, 1)),
    ],
)
def test_long_term_means_held_more_than_one_year_counted_from_the_day_after(
    bought: date, last_short: date, first_long: date
) -> None:
    assert holding_term(bought, last_short) is Term.SHORT
    assert holding_term(bought, first_long) is Term.LONG
    assert long_term_from(bought) == first_long


@pytest.mark.parametrize(
    ("sold", "expected"),
    [(date(2024, 2, 29), GainSummary(short_term=D(500))), (date(2024, 3, 1), GainSummary(long_term=D(500)))],
)
def test_a_february_28_buy_sold_on_the_leap_day_is_short_term_in_the_ledger(
    sold: date, expected: GainSummary
) -> None:
    # 10 sh bought 2023-02-28 at $100, sold at $150: the $500 gain is held exactly one year on 2024-02-29
    # (short term, the ordinary rate) and more than one year from 2024-03-01
    fills = [
        Fill("taxable", "VTI", Side.BUY, D(10), D(100), date(2023, 2, 28), "b"),
        Fill("taxable", "VTI", Side.SELL, D(10), D(150), sold, "s"),
    ]
    assert GainSummary.of(build_ledger(fills).realisations) == expected


def activity(id_: str, when: str, side: str, symbol: str, qty: str, price: str) -> dict[str, str]:
    """A FILL activity as Alpaca (and the paper broker's activity_json) returns it."""
    return {
        "id": id_,
        "account_id": "acc",
        "activity_type": "FILL",
        "transaction_time": when,
        "type": "fill",
        "price": price,
        "qty": qty,
        "side": side,
        "symbol": symbol,
        "leaves_qty": "0",
        "order_id": f"order-{id_}",
        "cum_qty": qty,
        "order_status": "filled",
    }


def test_fill_from_activity_uses_the_new_york_trade_date() -> None:
    # 00:30 UTC on 11 Jan is 19:30 EST on 10 Jan (after-hours): the trade date is 10 Jan
    fill = fill_from_activity("taxable", activity("1", "2024-01-11T00:30:00Z", "buy", "SPY", "1.5", "470.12"))
    assert fill == Fill("taxable", "SPY", Side.BUY, D("1.5"), D("470.12"), date(2024, 1, 10), "1")
    # the paper broker's starting lots are booked at 15:00 on their purchase date
    start = fill_from_activity("t", activity("2", "2019-06-03T15:00:00-04:00", "buy", "AGG", "10", "110"))
    assert start.day == date(2019, 6, 3)
    with pytest.raises(ValueError, match="unsupported side"):
        fill_from_activity("t", activity("3", "2024-01-11T15:00:00Z", "sell_short", "SPY", "1", "1"))


def test_ledger_from_fill_activities_fifo() -> None:
    # buy 10 SPY @100 (Jan 2), buy 5 @120 (Feb 1), sell 12 @130 (Mar 1), FIFO:
    # 10 x (130 - 100) = +300 and 2 x (130 - 120) = +20, all short term; 3 sh @ $120 left
    raw = [
        activity("1", "2024-01-02T15:00:00Z", "buy", "SPY", "10", "100"),
        activity("2", "2024-02-01T15:00:00Z", "buy", "SPY", "5", "120"),
        activity("3", "2024-03-01T15:00:00Z", "sell", "SPY", "12", "130"),
    ]
    ledger = build_ledger(fill_from_activity("taxable", a) for a in raw)
    assert [(r.buy_fill_id, r.qty, r.gain, r.term) for r in ledger.realisations] == [
        ("1", D(10), D(300), Term.SHORT),
        ("2", D(2), D(20), Term.SHORT),
    ]
    assert [(lot.lot_id, lot.qty, lot.basis) for lot in ledger.lots] == [("2", D(3), D(360))]
    assert ledger.quantities() == {("taxable", "SPY"): D(3)}
    assert ledger.unmatched_sells == ()


def test_ledger_uses_each_accounts_method_and_shelters_iras() -> None:
    fills = [
        Fill("t", "X", Side.BUY, D(1), D(100), date(2024, 1, 2), "b1"),
        Fill("t", "X", Side.BUY, D(1), D(150), date(2024, 1, 3), "b2"),
        Fill("ira", "X", Side.BUY, D(1), D(100), date(2024, 1, 2), "b3"),
        Fill("t", "X", Side.SELL, D(1), D(120), date(2024, 2, 1), "s1"),
        Fill("ira", "X", Side.SELL, D(1), D(120), date(2024, 2, 1), "s2"),
    ]
    ledger = build_ledger(fills, {"t": ReliefMethod.HIFO}, tax_advantaged={"ira"})
    taxable, ira = ledger.realisations
    assert (taxable.buy_fill_id, taxable.recognised) == ("b2", D(-30))
    assert (ira.gain, ira.recognised, ira.tax_advantaged) == (D(20), D(0), True)
    with pytest.raises(ValueError, match="cannot be replayed"):
        build_ledger(fills, {"t": ReliefMethod.SPECIFIC})


def test_reconciliation_lists_every_mismatch() -> None:
    fills = [
        Fill("taxable", "SPY", Side.BUY, D(10), D(100), date(2024, 1, 2), "1"),
        Fill("taxable", "AGG", Side.BUY, D(4), D(100), date(2024, 1, 2), "2"),
        Fill("taxable", "GLD", Side.SELL, D(2), D(180), date(2024, 1, 5), "3"),  # bought before the history
        Fill("ira", "BND", Side.BUY, D(7), D(70), date(2024, 1, 2), "4"),
    ]
    ledger = build_ledger(fills)
    assert [(f.fill_id, q) for f, q in ledger.unmatched_sells] == [("3", D(2))]
    broker = {"taxable": {"SPY": D(10), "AGG": D("4.5"), "VTI": D(3)}}  # the IRA was not read
    mismatches = reconcile(ledger, broker)
    assert [(m.account, m.symbol, m.ledger_qty, m.broker_qty, m.difference) for m in mismatches] == [
        ("taxable", "AGG", D(4), D("4.5"), D("0.5")),
        ("taxable", "VTI", D(0), D(3), D(3)),
    ]
    assert mismatches[0].describe() == "taxable AGG: ledger 4 vs broker 4.5 (+0.5)"
    assert reconcile(ledger, {"taxable": {"SPY": D(10), "AGG": D(4)}, "ira": {"BND": D(7)}}) == ()
    assert reconcile(ledger.lots, {"ira": {}}) == (reconcile(ledger, {"ira": {}})[0],)
    assert reconcile(ledger, broker, tolerance=D(1)) == (mismatches[1],)


def test_tax_modules_are_pure() -> None:
    """Same rule as tests/strategies/test_plan.py, whose glob does not reach the strategies/tax package."""
    for path in sorted(Path(strategies.tax.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN_MODULES, f"{path} imports {name}"
            if isinstance(node, ast.Call):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                assert called not in FORBIDDEN_CALLS, f"{path}:{node.lineno} calls {called}()"
