"""A position the ledger cannot explain raises one alert and stops tax-aware trading in that symbol only,
until an import of its lots makes the ledger agree again."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from rich.console import Console

from bot.paper_broker.models import Activity
from bot.reports import print_status
from bot.tax.importer import import_lots
from tests.approval.receiver import Receiver
from tests.bot.harness import OPEN_TIME
from tests.tax_bot.common import TAX, account, drop_fill_activities, lot, messages, rigged

TARGETS = {"SPY": 0.3, "VTI": 0.3, "AGG": 0.4}


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def overweight_stocks():  # noqa: ANN201
    """SPY and VTI bought in 2018, both far above their 30% targets by December 2019; AGG below its 40%."""
    return account(
        "5000",
        SPY=(lot(130, 250, date(2018, 1, 2)),),
        VTI=(lot(250, 130, date(2018, 1, 2)),),
        AGG=(lot(150, 105, date(2018, 1, 2)),),
    )


def test_a_mismatch_alerts_once_and_blocks_tax_aware_trading_in_that_symbol_until_fixed(tmp_path, receiver):
    harness = rigged(
        tmp_path,
        receiver,
        overweight_stocks(),
        targets=TARGETS,
        tax=TAX,
        approval={"max_plan_notional": 1000},
    )
    drop_fill_activities(harness, "SPY")  # SPY transferred in: the broker holds it, no fill explains it
    harness.run_until(OPEN_TIME + timedelta(minutes=45))

    [block] = harness.store.tax_blocks()
    assert (block.account, block.symbol, block.ledger_qty, block.broker_qty) == ("main", "SPY", 0, 130)
    alerts = [m for m in messages(harness, receiver) if "tax ledger mismatch" in m.get("title", "")]
    assert len(alerts) == 1  # several cycles, one alert
    assert "SPY" in alerts[0]["title"] and "lots import" in alerts[0]["message"]
    assert harness.store.audit_trail(event="tax_ledger_mismatch")
    out = io.StringIO()
    print_status(harness.bot.config, harness.store, Console(file=out, width=150))
    assert "tax ledger mismatches (no tax-aware trading): 1" in out.getvalue()
    assert "main SPY: ledger 0 vs broker 130" in out.getvalue()

    [held] = harness.store.plans(status="held")
    tax = held.details["tax"]
    assert tax["blocked"] == ["SPY"]
    # SPY: no per-lot estimate and no tax-aware change; average cost instead, and said so
    assert [f["symbol"] for f in tax["fallbacks"]] == ["SPY"]
    assert "SPY" not in {o["symbol"] for o in tax["orders"]}
    assert not [d for d in tax["decisions"] if d["symbol"] == "SPY"]
    assert "ledger mismatch in SPY" in held.explanation
    # VTI, in the same plan, is still estimated lot by lot and traded tax-aware
    [vti] = [o for o in tax["orders"] if o["symbol"] == "VTI"]
    assert vti["lots"][0]["acquired"] == "2018-01-02" and vti["lots"][0]["term"] == "long"
    assert "trimmed" in [d["action"] for d in tax["decisions"] if d["symbol"] == "VTI"]

    # the missing lots are imported: the next cycle agrees, lifts the block and says so
    csv = tmp_path / "spy.csv"
    csv.write_text("symbol,qty,price,date\nSPY,130,250.00,2018-01-02\n")
    import_lots(harness.store, "main", csv)
    harness.run_until(harness.broker.now + timedelta(minutes=10))
    assert harness.store.tax_blocks() == []
    assert harness.store.audit_trail(event="tax_ledger_mismatch_resolved")
    assert any("agrees with the broker again" in m.get("title", "") for m in messages(harness, receiver))
    [again] = harness.store.plans(status="held")  # the held plan's tax picture changed: it is replaced
    assert harness.store.get_plan(held.plan_id).status == "superseded"
    assert again.details["tax"]["blocked"] == [] and again.details["tax"]["fallbacks"] == []
    assert "SPY" in {o["symbol"] for o in again.details["tax"]["orders"]}


def test_an_activity_the_ledger_cannot_take_pauses_tax_awareness_but_not_the_rebalance(tmp_path, receiver):
    harness = rigged(tmp_path, receiver, overweight_stocks(), targets=TARGETS, tax=TAX)
    engine = harness.broker.engine
    with engine.lock:  # a short sale made by hand: the long-only ledger has no rules for it
        account_id = next(iter(engine.accounts.values())).id
        engine.record_activity(
            Activity(
                "20191216150000000::short",
                account_id,
                "FILL",
                datetime(2019, 12, 16, 15, 0, tzinfo=UTC),
                {"symbol": "VTI", "side": "sell_short", "qty": Decimal(1), "price": Decimal(160)},
            )
        )
    harness.run_until(OPEN_TIME + timedelta(minutes=25))
    [plan] = harness.store.plans()
    assert plan.details["orders"]  # the rebalance goes on...
    assert plan.details["tax"]["blocked"] == ["AGG", "SPY", "VTI"]  # ...with no tax-aware decision
    assert plan.details["tax"]["decisions"] == [] and plan.details["tax"]["orders"] == []
    assert "tax ledger not up to date" in plan.explanation and "sell_short" in plan.explanation
    assert harness.store.tax_blocks() == []  # nothing recorded: the next cycle tries again
