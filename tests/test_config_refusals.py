"""The malformed configs issue 17 found crashing or passing (item 8, 9): ``check-config`` and ``plan`` both
refuse each with exit code 2 and the same line naming the key, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app

BASE = """accounts:
  - name: main
    broker: embedded
targets:
  SPY: 0.6
  AGG: 0.4
state_dir: {state}
"""

CASES = {
    "a 5,000-level nested YAML": ("embedded: " + "[" * 5000 + "]" * 5000 + "\n", "nests too deeply"),
    "a 5,000-digit number": ("schedule:\n  interval_minutes: " + "9" * 5000 + "\n", "cannot be read"),
    "min_trade_notional 1e300": ("execution:\n  min_trade_notional: 1e300\n", "execution.min_trade_notional"),
    "order_timeout_minutes 1e18": (
        "execution:\n  order_timeout_minutes: 1000000000000000000\n",
        "execution.order_timeout_minutes",
    ),
    "policy.lookback 1e9": ("policy:\n  kind: dynamic\n  lookback: 1000000000\n", "policy.lookback"),
    "an infinite policy number": ("policy:\n  gamma: .inf\n", "policy.gamma: must be a finite number"),
    "state_dir /dev/null": ("state_dir: /dev/null\n", "state_dir: /dev/null exists and is not a directory"),
    "a NUL byte in state_dir": ('state_dir: "/tmp/a\\0b"\n', "state_dir: contains a NUL character"),
    "an unwritable logging.file": ("logging:\n  file: /proc/rebalance-bot.log\n", "logging.file: cannot"),
    "the embedded start outside its data": ("embedded:\n  start: 1990-01-02\n", "embedded.start"),
}


def _write(tmp_path: Path, extra: str) -> Path:
    text = BASE.format(state=tmp_path / "state")
    if extra.startswith("state_dir:"):
        text = text.replace(f"state_dir: {tmp_path / 'state'}\n", "")
    path = tmp_path / "bot.yaml"
    path.write_text(text + extra)
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_a_malformed_config_is_refused_by_check_config_and_plan_alike_naming_the_key(tmp_path, case):
    extra, expected = CASES[case]
    path = _write(tmp_path, extra)
    outputs = []
    for command in ("check-config", "plan"):
        result = CliRunner().invoke(app, [command, "-c", str(path)])
        assert result.exit_code == 2, (command, result.output)
        assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
        assert expected in result.output, (command, result.output)
        outputs.append(result.output)
    assert outputs[0] == outputs[1]  # the same message wherever the config is loaded


@pytest.mark.parametrize("ticker", ["ZZZZ", "BRK.B", "BTC/USD"])
def test_a_ticker_the_embedded_broker_cannot_trade_is_refused_by_name(tmp_path, ticker):
    path = _write(tmp_path, "")
    path.write_text(path.read_text().replace("AGG: 0.4", f"'{ticker}': 0.4"))
    result = CliRunner().invoke(app, ["check-config", "-c", str(path)])
    assert result.exit_code == 2
    assert f"targets.{ticker}: the embedded paper broker has no data for {ticker}" in result.output


def test_the_example_config_still_passes():
    root = Path(__file__).resolve().parents[1]
    result = CliRunner().invoke(app, ["check-config", "-c", str(root / "config" / "example.yaml")])
    assert result.exit_code == 0, result.output
