"""A planned sell carries its realised gain, split short and long term, and its estimated tax: in the plan's
explanation and details, in ``rebalance-bot plan``, in the approval prompt, and in the approval policy."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import app
from tests.approval.receiver import Receiver
from tests.bot.harness import KEY, OPEN_TIME, SECRET, make_harness
from tests.tax_bot.common import TAX, account, lot, messages, rigged

TARGETS = {"SPY": 0.6, "AGG": 0.4}


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def two_spy_lots():  # noqa: ANN201
    """FIFO sells the 2018 lot (long term) first, then the June 2019 one (short term in December 2019)."""
    return account(
        "10000",
        SPY=(lot(20, 250, date(2018, 1, 2)), lot(230, 290, date(2019, 6, 3))),
        AGG=(lot(100, 105, date(2018, 1, 2)),),
    )


def test_a_held_plan_shows_short_and_long_term_gains_and_the_tax_and_so_does_its_prompt(tmp_path, receiver):
    tax = {**TAX, "gains_to_band_edge": False}  # sell all the way to target: both lots are touched
    harness = rigged(
        tmp_path, receiver, two_spy_lots(), targets=TARGETS, tax=tax, approval={"max_plan_notional": 1000}
    )
    harness.run_until(OPEN_TIME + timedelta(minutes=25))
    [held] = harness.store.plans(status="held")
    [sell] = held.details["tax"]["orders"]
    short, long = Decimal(sell["short_term"]), Decimal(sell["long_term"])
    assert sell["symbol"] == "SPY" and [x["term"] for x in sell["lots"]] == ["long", "short"]
    assert sell["lots"][0]["qty"] == "20" and sell["lots"][0]["acquired"] == "2018-01-02"
    price = Decimal(held.details["orders"][0]["est_price"])
    assert long == (20 * (price - 250)).quantize(Decimal("0.01"))
    qty_short = Decimal(held.details["orders"][0]["qty"]) - 20
    assert abs(short - qty_short * (price - 290)) < Decimal("0.01")
    tax_due = (short * Decimal("0.35") + long * Decimal("0.15")).quantize(Decimal("0.01"))
    assert Decimal(sell["estimated_tax"]) == tax_due
    assert Decimal(held.details["estimates"]["tax"]) == tax_due  # what the approval policy compares
    assert f"(ST {short:+,.2f}, LT {long:+,.2f}), est. tax {tax_due:,.2f}" in held.explanation
    assert "Taxes (taxable; FIFO relief; rates short 35%, long 15%)" in held.explanation
    [prompt] = [m for m in messages(harness, receiver) if held.plan_id in m.get("message", "")]
    assert f"estimated tax ~${tax_due:,.2f}" in prompt["message"]


def test_the_tax_estimated_from_the_lots_holds_a_plan_above_max_estimated_tax(tmp_path):
    harness = make_harness(
        tmp_path,
        two_spy_lots(),
        targets=TARGETS,
        tax=TAX,
        approval={"max_plan_notional": 10**6, "max_estimated_tax": 100},
    )
    harness.run_until(OPEN_TIME + timedelta(minutes=25))
    [held] = harness.store.plans(status="held")
    estimated = Decimal(held.details["tax"]["estimated_tax"])
    assert estimated > 100
    assert f"estimated tax ~${estimated:,.2f} exceeds approval.max_estimated_tax" in held.status_reason


def test_the_plan_command_shows_the_tax_of_each_sell(tmp_path, monkeypatch):
    tax = {**TAX, "gains_to_band_edge": False}
    harness = make_harness(tmp_path, two_spy_lots(), targets=TARGETS, tax=tax)
    harness.broker.advance(seconds=(OPEN_TIME + timedelta(minutes=20) - harness.broker.now).total_seconds())
    config = harness.bot.config.model_dump(mode="json", exclude_none=True)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["plan", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert "SELL SPY" in result.output and "Taxes (taxable; FIFO relief" in result.output
    line = next(x for x in result.output.splitlines() if "realises" in x and "SPY" in x)
    assert "(ST +" in line and "LT +" in line and "est. tax" in line
    assert harness.store.plans() == []  # a dry run: nothing stored


def test_taxes_the_prompt_and_the_explanation_show_the_planners_one_tax_figure(
    tmp_path, receiver, monkeypatch
):
    """Issue 15 item 5: a held plan selling SPY at a gain (a long-term and a short-term lot, FIFO). The tax
    the planner estimated is stored with the plan once; the explanation, the approval prompt and
    ``rebalance-bot taxes`` all show that figure, to the cent, and it is the lots' tax at the two rates."""
    tax = {**TAX, "gains_to_band_edge": False}
    harness = rigged(
        tmp_path, receiver, two_spy_lots(), targets=TARGETS, tax=tax, approval={"max_plan_notional": 1000}
    )
    harness.run_until(OPEN_TIME + timedelta(minutes=25))
    [held] = harness.store.plans(status="held")
    [sell] = held.details["tax"]["orders"]
    short, long = Decimal(sell["short_term"]), Decimal(sell["long_term"])
    assert short > 0 and long > 0
    figure = (short * Decimal("0.35") + long * Decimal("0.15")).quantize(Decimal("0.01"))

    assert f"estimated tax ${figure:,.2f}" in held.explanation
    [prompt] = [m for m in messages(harness, receiver) if held.plan_id in m.get("message", "")]
    assert f"estimated tax ~${figure:,.2f}" in prompt["message"]

    config = harness.bot.config.model_dump(mode="json", exclude_none=True)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["taxes", "-c", str(path)])
    assert result.exit_code == 0, result.output
    [line] = [x for x in result.output.splitlines() if held.plan_id in x]
    assert f"main (held): realises short term {short:+,.2f}, long term {long:+,.2f}" in line
    assert line.endswith(f"estimated tax ${figure:,.2f}")
