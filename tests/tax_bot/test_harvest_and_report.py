"""Harvesting a loss into a substitute, a wash sale that happens anyway (a buy the bot did not make), one the
bot avoids, and the tax report over all of it: the real bot against the paper broker."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import yaml
from typer.testing import CliRunner

from bot.actions import approve_plan
from bot.broker.models import OrderIntent
from bot.cli import app
from bot.tax.ledger import household_ledger
from bot.tax.reports import tax_report
from tests.approval.receiver import Receiver
from tests.bot.harness import KEY, OPEN_TIME, SECRET
from tests.tax_bot.common import TAX, account, lot, messages, rigged

TARGETS = {"VTI": 0.6, "AGG": 0.4}
HARVEST_TAX = {
    **TAX,
    "substitutes": {"VTI": ["ITOT", "SCHB"]},
    "harvest": {"enabled": True, "min_loss": 1000, "min_loss_fraction": 0.05},
}


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def deposit(harness, amount: str) -> None:  # noqa: ANN001
    engine = harness.broker.engine
    with engine.lock:
        next(iter(engine.accounts.values())).cash += Decimal(amount)


def test_harvest_wash_sales_and_the_tax_report(tmp_path, receiver, monkeypatch):
    # VTI bought in June 2019 at $200 (~$163 in December: a short-term loss); AGG bought in 2018 (a gain)
    accounts = account("500", VTI=(lot(110, 200, date(2019, 6, 3)),), AGG=(lot(105, 105, date(2018, 1, 2)),))
    harness = rigged(
        tmp_path,
        receiver,
        accounts,
        targets=TARGETS,
        tax=HARVEST_TAX,
        approval={"max_plan_notional": 10**6, "max_plan_fraction": 2},
    )
    harness.run_until(OPEN_TIME + timedelta(minutes=25))

    # 1. the harvest: sell VTI at a loss, buy ITOT (not substantially identical), held by approval.on_harvest
    [held] = harness.store.plans(status="held")
    assert [(o["side"], o["symbol"]) for o in held.details["orders"]] == [("sell", "VTI"), ("buy", "ITOT")]
    assert "harvests losses (approval.on_harvest)" in held.status_reason
    assert "swaps securities (approval.on_swap)" in held.status_reason
    [harvest] = held.details["tax"]["harvests"]
    assert (harvest["kind"], harvest["symbol"], harvest["buy"]) == ("harvest", "VTI", "ITOT")
    loss = -Decimal(harvest["realised"])
    assert loss > 3000
    assert Decimal(held.details["tax"]["short_term"]) == -loss  # June 2019 lot: short term
    assert Decimal(held.details["tax"]["estimated_tax"]) < 0  # a loss saves tax
    assert "Tax-loss harvesting: harvest: sell VTI" in held.explanation
    approve_plan(harness.store, held.plan_id, who="erin", channel="cli")
    harness.run_until(harness.broker.now + timedelta(minutes=30))
    assert harness.store.get_plan(held.plan_id).status == "done"
    positions = {p.symbol: p.qty for p in harness.adapter.positions()}
    assert "VTI" not in positions and positions["ITOT"] > 0
    ledger, _ = household_ledger(harness.store, harness.bot.config)
    [sale] = ledger.realisations
    assert sale.symbol == "VTI" and sale.qty == 110 and sale.term.value == "short"
    realised = -sale.gain  # at the fill price, not the plan's estimate
    assert abs(realised - loss) < 30

    # 2. a wash sale that happens anyway: a VTI buy the bot did not make (a reinvested dividend, say)
    harness.adapter.submit(OrderIntent("drip-vti-1", "VTI", "buy", qty=Decimal("2")))
    harness.run_until(harness.broker.now + timedelta(minutes=15))
    [wash] = harness.store.wash_sales()
    assert (wash.account, wash.symbol, wash.replacement_symbol, wash.qty) == ("main", "VTI", "VTI", 2)
    assert wash.disallowed == pytest.approx(realised * 2 / 110, abs=Decimal("0.01")) and not wash.permanent
    alerts = [m for m in messages(harness, receiver) if "wash sale in main: VTI" in m.get("title", "")]
    assert len(alerts) == 1 and "added to the basis of the replacement shares" in alerts[0]["message"]
    ledger, _ = household_ledger(harness.store, harness.bot.config)
    [replacement] = ledger.lots_of("main", "VTI")
    assert replacement.basis == replacement.qty * replacement.cost_per_share + wash.disallowed
    assert harness.store.tax_blocks() == []  # the ledger explains the buy: no mismatch

    # 3. a wash sale avoided: new cash to invest; VTI is blocked by the loss sale, so the buy goes to ITOT
    deposit(harness, "20000")
    harness.run_until(harness.broker.now + timedelta(minutes=10))
    [again] = harness.store.plans(status="held")
    bought = {o["symbol"] for o in again.details["orders"] if o["side"] == "buy"}
    assert "VTI" not in bought and "ITOT" in bought
    [avoided] = harness.store.audit_trail(event="wash_sale_avoided")
    assert avoided.fields["symbol"] == "VTI" and "wash" in avoided.fields["reason"]

    # 4. the report: realised by term, harvested, wash sales incurred and avoided, largest gains
    ledger, _ = household_ledger(harness.store, harness.bot.config)
    quotes = harness.adapter.latest_quotes(["AGG", "ITOT", "VTI"])
    report = tax_report(
        harness.bot.config, harness.store, ledger, {s: q.mid for s, q in quotes.items()}, date(2019, 12, 17)
    )
    [main] = report.accounts
    assert main.realised.short_term == pytest.approx(-realised + wash.disallowed, abs=Decimal("0.02"))
    assert main.realised.long_term == 0 and main.realised.disallowed == wash.disallowed
    assert main.harvested == pytest.approx(realised, abs=Decimal("0.01"))
    assert len(report.wash_sales) == 1 and len(report.avoided) == 1
    top = report.largest_gains[0]
    assert (top.lot.symbol, top.lot.acquired, top.term.value) == ("AGG", date(2018, 1, 2), "long")
    text = "\n".join(report.lines())
    assert "main (taxable): realised short term -" in text and "harvested losses $" in text
    assert "Wash sales incurred: 1" in text and "Wash sales avoided: 1" in text
    assert "AGG 105 sh bought 2018-01-02" in text

    # ...and the same through the command line
    config = harness.bot.config.model_dump(mode="json", exclude_none=True)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    result = CliRunner().invoke(app, ["taxes", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert "Taxes 2019 (year to date, as of 2019-12-17)" in result.output
    assert "Wash sales incurred: 1" in result.output and "AGG 105 sh bought 2018-01-02" in result.output
