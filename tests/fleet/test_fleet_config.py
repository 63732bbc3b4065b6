"""The fleet file: the shipped example loads, and every mistake an adviser can make in one is named at once,
exit code 2, before any worker starts or any household is read."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from bot.cli import app
from bot.fleet.config import load_fleet

EXAMPLE = Path("config/fleet.yaml")


def test_the_shipped_example_is_a_valid_fleet() -> None:
    fleet = load_fleet(EXAMPLE)
    assert list(fleet.households) == ["smith", "jones"]
    assert fleet.settings.state_url.startswith("postgresql")
    assert fleet.households["jones"].state_url == fleet.settings.state_url  # one shared state


def test_a_bad_fleet_file_names_every_problem_and_exits_2(tmp_path: Path) -> None:
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["state_url"] = "sqlite:///fleet.sqlite"  # a fleet's workers share one server, not a file
    raw["scheduler"] = "10.0.0.5:8786"
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(app, ["fleet", "-c", str(path), "--once", "--workers", "0"])
    assert result.exit_code == 2
    assert "PostgreSQL" in result.output and "tcp://host:8786" in result.output
    assert "Traceback" not in result.output


def test_household_and_account_clashes_are_named(tmp_path: Path) -> None:
    def problems(raw: dict) -> str:
        path = tmp_path / "fleet.yaml"
        path.write_text(yaml.safe_dump(raw))
        result = CliRunner().invoke(app, ["fleet", "-c", str(path), "--once", "--workers", "0"])
        assert result.exit_code == 2
        return result.output

    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["households"][1]["household"]["name"] = "smith"
    assert "household name 'smith' is used twice" in problems(raw)
    raw = yaml.safe_load(EXAMPLE.read_text())
    jones = raw["households"][1]
    jones["accounts"][0]["name"] = "smith-taxable"
    jones["tax"]["accounts"] = {"smith-taxable": {"type": "taxable"}, "jones-roth": {"type": "roth"}}
    jones["household"]["accounts"][0]["account"] = "smith-taxable"
    assert "account name 'smith-taxable' is also in household 'smith'" in problems(raw)
