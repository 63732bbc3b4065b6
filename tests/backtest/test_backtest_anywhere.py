"""``backtest`` with preset targets runs from any directory (issue 16): no config file is needed for them."""

from __future__ import annotations

from typer.testing import CliRunner

from bot.cli import app

runner = CliRunner()
SHORT = ["--policies", "never,monthly", "--start", "2018-01-02", "--end", "2019-12-31"]


def test_backtest_of_preset_targets_runs_outside_the_repository_and_writes_its_report(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REBALANCE_BOT_CONFIG", raising=False)
    result = runner.invoke(app, ["backtest", "--targets", "60-40", *SHORT, "--out", "report"])
    assert result.exit_code == 0, result.output
    assert "monthly" in result.output
    assert (tmp_path / "report" / "report.html").is_file()


def test_backtest_of_the_config_targets_still_needs_the_config_and_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REBALANCE_BOT_CONFIG", raising=False)
    result = runner.invoke(app, ["backtest", *SHORT])
    assert result.exit_code == 2
    assert "config file not found" in result.output and "Traceback" not in result.output
