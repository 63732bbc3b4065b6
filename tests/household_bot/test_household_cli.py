"""The shipped household example: it validates, its embedded accounts start with the lots it lists, and
``rebalance-bot plan`` shows the household plan with its explanation (nothing is sent)."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from bot.cli import app
from bot.config import load_config
from bot.worker import _embedded_spec

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "household.yaml"
runner = CliRunner()


def test_the_household_example_is_valid_and_seeds_lots_at_a_gain_and_a_loss():
    config = load_config(EXAMPLE)
    assert config.household is not None
    assert [config.household_type(n) for n in config.household.names] == ["taxable", "ira", "roth"]
    taxable = _embedded_spec(config, "taxable")
    [vti] = [p for p in taxable.positions if p.symbol == "VTI"]
    prices = sorted(lot.price for lot in vti.lots)
    assert len(prices) == 2 and prices[0] < 130 < 160 < prices[1]  # a lot at a gain and one at a loss
    assert taxable.settings.account_type == "taxable"
    assert _embedded_spec(config, "ira").settings.account_type == "ira"


def test_plan_shows_the_household_plan_and_sends_nothing(tmp_path):
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["state_dir"] = str(tmp_path / "state")
    path = tmp_path / "household.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = runner.invoke(app, ["plan", "-c", str(path)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "== household family (taxable, ira, roth)" in out
    assert "objective: tax" in out and "binding:" in out
    for name in ("taxable", "ira", "roth"):
        assert f"    {name}" in out and "est. tax $" in out
    assert not (tmp_path / "state" / "bot.sqlite").exists()  # a dry run stores nothing
