"""Importing lots bought before the bot: every bad row is named by row and column, and nothing is imported
unless every row is good; a second import replaces the first."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import app
from bot.state.store import StateStore
from bot.tax.importer import LotsImportError, parse_lots

runner = CliRunner()


def config_file(tmp_path, accounts=("main",)):  # noqa: ANN001, ANN201
    config = {
        "accounts": [{"name": n, "broker": "embedded"} for n in accounts],
        "targets": {"VTI": 0.6, "AGG": 0.4},
        "tax": {"accounts": {accounts[0]: {"type": "taxable"}}},
        "state_dir": str(tmp_path / "state"),
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_good_rows_become_lots_with_price_or_total_cost():
    text = "symbol,qty,price,cost_basis,date\nVTI,100,120.50,,2018-03-01\nagg,40,,4200,2019-06-03\n"
    lots = parse_lots(text)
    assert [(x.symbol, x.qty, x.price, x.acquired, x.row) for x in lots] == [
        ("VTI", Decimal(100), Decimal("120.50"), date(2018, 3, 1), 2),
        ("AGG", Decimal(40), Decimal(105), date(2019, 6, 3), 3),
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("symbol,qty,price,date\nVTI,abc,1,2018-01-02\n", "row 2, column qty: must be a positive number"),
        ("symbol,qty,price,date\nVTI,1,1,2018-01-02\nVTI,-5,1,2018-01-02\n", "row 3, column qty"),
        ("symbol,qty,price,date\nVTI,1,1,2018-02-30\n", "row 2, column date: must be a date YYYY-MM-DD"),
        ("symbol,qty,price,date\n1VTI,1,1,2018-01-02\n", "row 2, column symbol"),
        ("symbol,qty,price,date\nVTI,1,,2018-01-02\n", "row 2, column price: is empty"),
        ("symbol,qty,date\nVTI,1,2018-01-02\n", "row 1, column price: missing from the header"),
        ("symbol,qty,price\nVTI,1,1\n", "row 1, column date: missing from the header"),
        ("symbol,qty,price,date,fees\nVTI,1,1,2018-01-02,0\n", "row 1, column fees: unknown column"),
        ("symbol,qty,price,date\nVTI,1,1,2030-01-02\n", "row 2, column date: 2030-01-02 is in the future"),
    ],
)
def test_each_bad_row_is_named_by_row_and_column(text, problem):
    with pytest.raises(LotsImportError) as caught:
        parse_lots(text, today=date(2026, 1, 1))
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_every_problem_is_reported_at_once():
    with pytest.raises(LotsImportError) as caught:
        parse_lots("symbol,qty,price,date\nVTI,x,1,2018-01-02\nAGG,1,y,nope\n")
    assert [p.split(":")[0] for p in caught.value.problems] == [
        "row 2, column qty",
        "row 3, column price",
        "row 3, column date",
    ]


def test_the_command_imports_nothing_from_a_file_with_a_bad_row(tmp_path):
    path = config_file(tmp_path)
    lots = tmp_path / "lots.csv"
    lots.write_text("symbol,qty,price,date\nVTI,100,120.50,2018-03-01\nAGG,forty,105,2019-06-03\n")
    result = runner.invoke(app, ["lots", "import", str(lots), "-c", str(path)])
    assert result.exit_code == 2
    assert "nothing imported" in result.output and "row 3, column qty" in result.output
    with StateStore(tmp_path / "state" / "bot.sqlite") as store:
        assert store.tax_fills() == []


def test_the_command_imports_a_good_file_and_a_second_import_replaces_the_first(tmp_path):
    path = config_file(tmp_path)
    lots = tmp_path / "lots.csv"
    lots.write_text("symbol,qty,price,date\nVTI,100,120.50,2018-03-01\nAGG,40,105,2019-06-03\n")
    result = runner.invoke(app, ["lots", "import", str(lots), "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert "imported 2 lots of AGG, VTI into account main" in result.output
    lots.write_text("symbol,qty,price,date\nVTI,60,118,2018-03-01\n")
    assert runner.invoke(app, ["lots", "import", str(lots), "-c", str(path)]).exit_code == 0
    with StateStore(tmp_path / "state" / "bot.sqlite") as store:
        [only] = store.tax_fills(account="main")
    assert (only.symbol, only.qty, only.price, only.source, only.side) == ("VTI", 60, 118, "import", "buy")
    listed = runner.invoke(app, ["lots", "list", "-c", str(path)])
    assert listed.exit_code == 0 and "VTI" in listed.output and "2018-03-01" in listed.output


def test_the_command_needs_the_account_when_there_are_several(tmp_path):
    path = config_file(tmp_path, accounts=("taxable", "ira"))
    lots = tmp_path / "lots.csv"
    lots.write_text("symbol,qty,price,date\nVTI,1,1,2018-03-01\n")
    result = runner.invoke(app, ["lots", "import", str(lots), "-c", str(path)])
    assert result.exit_code == 2 and "--account" in result.output
    result = runner.invoke(app, ["lots", "import", str(lots), "-c", str(path), "--account", "ira"])
    assert result.exit_code == 0, result.output


def test_without_a_file_the_command_imports_the_configured_lots_csv(tmp_path):
    lots = tmp_path / "main-lots.csv"
    lots.write_text("symbol,qty,price,date\nAGG,40,105,2019-06-03\n")
    path = config_file(tmp_path)
    config = yaml.safe_load(path.read_text())
    config["tax"]["accounts"]["main"]["lots_csv"] = str(lots)
    path.write_text(yaml.safe_dump(config))
    result = runner.invoke(app, ["lots", "import", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert "imported 1 lots of AGG into account main" in result.output
    (tmp_path / "other").mkdir()
    without = config_file(tmp_path / "other")  # no lots_csv and no FILE: nothing to import
    assert runner.invoke(app, ["lots", "import", "-c", str(without)]).exit_code == 2
