"""The demo's last lines tell a new user how to look at what it did: that command must work as printed."""

from __future__ import annotations

import shlex

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.demo import run_demo
from bot.logging_setup import reset_logging


@pytest.mark.slow
def test_the_command_the_demo_prints_at_the_end_works_as_is_from_another_directory(
    tmp_path, monkeypatch, capsys
):
    try:
        assert run_demo(tmp_path / "demo", session_seconds=0.1) == 0
    finally:
        reset_logging()
    printed = capsys.readouterr().out
    hint = [line.strip() for line in printed.splitlines() if line.strip()][-2]  # the last but the log
    words = shlex.split(hint)
    assert words[:2] == ["rebalance-bot", "history"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = CliRunner().invoke(app, words[1:])
    assert result.exit_code == 0, result.output
    assert "rb-demo-" in result.output and "done" in result.output
