"""``backtest`` shows its progress (issue 16: 44 s with nothing on the screen): a bar per policy on a
terminal, nothing in piped output; the runs report every session they replay, on the bundled real data."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from bot.backtest.data import load_history
from bot.backtest.engine import SimOptions
from bot.backtest.policies import TARGET_PRESETS, policies_for
from bot.backtest.progress import Progress
from bot.backtest.runner import run_policies
from bot.cli import app
from bot.cli_checks import load_for_backtest

runner = CliRunner()
SHORT = ["--targets", "60-40", "--policies", "never,monthly", "--start", "2018-01-02", "--end", "2019-12-31"]


class Recorder(Progress):
    def __init__(self) -> None:
        self.phases: list[tuple[str, int, list[int]]] = []

    def phase(self, name: str, total: int) -> None:
        self.phases.append((name, total, []))

    def step(self, count: int = 1) -> None:
        self.phases[-1][2].append(count)


def test_each_policy_is_a_phase_stepped_through_every_session_it_replays():
    history = load_history(["SPY", "AGG"], date(2018, 1, 2), date(2019, 12, 31))
    config = load_for_backtest(Path("absent.yaml"), "60-40", given=False)
    policies = policies_for(["never", "monthly"], config)
    recorder = Recorder()
    start = date(2019, 1, 2)
    run_policies(history, TARGET_PRESETS["60-40"], policies, SimOptions(start=start), progress=recorder)

    sessions = len([d for d in history.days if d >= start])
    assert [(name, total) for name, total, _ in recorder.phases] == [
        ("policy never", sessions),
        ("policy monthly", sessions),
    ]
    for _, total, steps in recorder.phases:
        assert all(step >= 0 for step in steps) and sum(steps) == total  # never back, and to the end
    monthly = recorder.phases[1][2]
    assert len([s for s in monthly if s > 0]) >= 12  # it moves along the year, not once at the end


def test_the_bar_is_shown_on_a_terminal_and_not_in_piped_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REBALANCE_BOT_CONFIG", raising=False)
    terminal = runner.invoke(app, ["backtest", *SHORT], env={"TTY_COMPATIBLE": "1", "COLUMNS": "160"})
    assert terminal.exit_code == 0, terminal.output
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", terminal.output)
    for policy in ("never", "monthly"):  # each bar ends full: all 503 sessions of 2018-2019 replayed
        assert re.search(rf"policy {policy}\s+━+\s+503/503", plain), plain[-2000:]

    piped = runner.invoke(app, ["backtest", *SHORT])
    assert piped.exit_code == 0, piped.output
    assert "policy monthly" not in piped.output and "503/503" not in piped.output
    assert "monthly" in piped.output  # the report itself
