"""``rebalance-bot paper-broker`` as a process: it serves alpaca-py, keeps state, and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from alpaca.trading.client import TradingClient

ROOT = Path(__file__).resolve().parents[2]


def start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, str]:
    command = [
        sys.executable,
        "-m",
        "bot.cli",
        "paper-broker",
        "--port",
        "0",
        "--database",
        str(tmp_path / "broker.sqlite"),
        *args,
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    first = process.stdout.readline()
    assert first.startswith("paper broker on http://127.0.0.1:"), first
    return process, first.split()[3]


def test_the_command_serves_alpaca_py_and_stops_on_sigterm(tmp_path):
    process, url = start(tmp_path, "--speed", "0", "--start", "2020-03-16")
    try:
        client = TradingClient("paper-key", "paper-secret", url_override=url)
        clock = client.get_clock()
        assert clock.is_open and clock.timestamp.date().isoformat() == "2020-03-16"
        assert client.get_account().cash == "100000"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def test_a_bad_accounts_file_exits_2_with_the_problem(tmp_path):
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text("accounts:\n  - name: a\n    key_id: k\n    secret_key: s\n    cash: -5\n")
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "paper-broker", "--accounts", str(accounts)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 2
    assert "accounts.0.cash" in result.stderr
