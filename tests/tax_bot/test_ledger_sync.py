"""The lot ledger is rebuilt from the broker's FILL activities (all pages, then only what is new) and agrees
with the broker's positions, before and after the bot trades."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from bot.tax.ledger import household_ledger
from bot.tax.reconcile import mismatches
from bot.tax.sync import refresh_fills
from tests.bot.harness import OPEN_TIME, make_harness
from tests.tax_bot.common import TAX, account, lot


def broker_positions(harness) -> dict[str, Decimal]:  # noqa: ANN001
    return {p.symbol: p.qty for p in harness.adapter.positions()}


def test_the_ledger_built_from_paged_fill_activities_matches_the_broker(tmp_path):
    spy = tuple(lot(1 + i % 3, 200 + i, date(2018, 1, 2) + timedelta(days=i)) for i in range(120))
    agg = (lot(50, 105, date(2018, 6, 1)),)
    harness = make_harness(tmp_path, account("20000", SPY=spy, AGG=agg), tax=TAX)
    before = harness.adapter.request_count
    assert refresh_fills(harness.adapter, harness.store, "main") == 121
    assert harness.adapter.request_count - before == 2  # a page of 100, then one of 21
    ledger, _ = household_ledger(harness.store, harness.bot.config)
    positions = broker_positions(harness)
    assert positions["SPY"] == sum(1 + i % 3 for i in range(120))
    assert ledger.quantities() == {("main", s): q for s, q in positions.items()}
    assert mismatches(ledger, "main", positions, Decimal(0)) == ()
    assert len(ledger.lots_of("main", "SPY")) == 120
    assert ledger.lots_of("main", "SPY")[5].cost_per_share == 205
    # the next refresh asks only for what is new (one short page), and records nothing twice
    before = harness.adapter.request_count
    assert refresh_fills(harness.adapter, harness.store, "main") == 0
    assert harness.adapter.request_count - before == 1
    assert len(harness.store.tax_fills(account="main")) == 121


def test_after_the_bot_sells_the_ledger_still_matches_and_fifo_relieved_the_oldest_lot(tmp_path):
    accounts = account(
        "10000",
        SPY=(lot(100, 250, date(2018, 1, 2)), lot(150, 290, date(2019, 6, 3))),
        AGG=(lot(100, 105, date(2018, 1, 2)),),
    )
    harness = make_harness(tmp_path, accounts, tax=TAX, approval={"mode": "never"})
    harness.run_until(OPEN_TIME + timedelta(hours=2))
    plans = harness.store.plans()
    assert plans and {p.status for p in plans} == {"done"}
    sold = sum((o.filled_qty or 0) for o in harness.store.orders(account="main") if o.side == "sell")
    assert 0 < sold < 100
    refresh_fills(harness.adapter, harness.store, "main")
    ledger, _ = household_ledger(harness.store, harness.bot.config)
    positions = broker_positions(harness)
    assert mismatches(ledger, "main", positions, Decimal("0.000001")) == ()
    assert {r.acquired for r in ledger.realisations} == {date(2018, 1, 2)}  # FIFO: the 2018 lot goes first
    spy = sorted(ledger.lots_of("main", "SPY"), key=lambda x: x.acquired)
    assert [x.acquired for x in spy] == [date(2018, 1, 2), date(2019, 6, 3)]
    assert spy[1].qty == 150 and spy[0].qty == 100 - sold
    assert sum(r.qty for r in ledger.realisations) == sold
    bought = [lot_ for lot_ in ledger.lots_of("main", "AGG") if lot_.acquired == date(2019, 12, 17)]
    assert bought and sum(x.qty for x in bought) == positions["AGG"] - 100
    assert harness.store.tax_blocks() == []
