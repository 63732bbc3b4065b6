"""`rebalance-bot run` as a process (SIGTERM, one bot per state dir), reconciliation, reports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import LimitOrderRequest
from typer.testing import CliRunner

from bot.cli import app
from bot.logging_setup import configure_logging, reset_logging
from bot.state.store import StateStore
from tests.bot.harness import KEY, OPEN_TIME, SECRET, make_harness

# Slow tier: `run` as a process: signals, one bot per state dir, reports
# (CI runs the slow tier; the README's quick command skips it.)
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def embedded_config(tmp_path: Path) -> Path:
    config = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())
    config["state_dir"] = str(tmp_path / "state")
    config["embedded"] = {"start": "2020-01-02", "session_seconds": 600, "closed_seconds": 1}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def wait_for(predicate, timeout: float = 60.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.2)


def test_run_stops_cleanly_on_sigterm_and_allows_one_bot_per_state_dir(tmp_path):
    config = embedded_config(tmp_path)
    command = [sys.executable, "-m", "bot.cli", "run", "-c", str(config)]
    first = subprocess.Popen(
        command,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        log = tmp_path / "state" / "bot.log"
        wait_for(lambda: log.exists() and b"bot running" in log.read_bytes())
        second = subprocess.run(
            command,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert second.returncode == 1
        assert "already running" in (second.stdout + second.stderr).lower()
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=60) == 0
    finally:
        if first.poll() is None:
            first.kill()
    store = StateStore(tmp_path / "state" / "bot.sqlite")
    last = store.last_run()
    assert last.status == "stopped" and last.summary.get("signal") == "SIGTERM"
    assert b"bot stopped" in (tmp_path / "state" / "bot.log").read_bytes()


def test_start_up_reconciliation_reports_open_orders_unknown_to_the_bot(tmp_path):
    harness = make_harness(tmp_path)
    stranger = TradingClient(KEY, SECRET, url_override=harness.broker.url)
    stranger.submit_order(
        LimitOrderRequest(
            symbol="SPY",
            qty=1,
            side=OrderSide.BUY,
            limit_price=100,
            time_in_force=TimeInForce.GTC,
            client_order_id="placed-by-hand",
        )
    )
    harness.bot.start()
    [event] = harness.store.audit_trail(event="unknown_open_order")
    assert event.client_order_id == "placed-by-hand" and event.account == "main"


def test_status_history_and_logs_show_what_the_bot_did(tmp_path):
    configure_logging(tmp_path / "state" / "bot.log", level="INFO", console=False)
    try:
        harness = make_harness(tmp_path)
        harness.run_until(OPEN_TIME + timedelta(hours=2))
    finally:
        reset_logging()
    [plan] = harness.store.plans(account="main")
    config = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())
    config.update(
        state_dir=str(tmp_path / "state"),
        accounts=[{"name": "main", "broker": "embedded"}],
        targets={"SPY": 0.6, "AGG": 0.4},
        bands={"default": {"absolute": 0.05}},
    )
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    runner = CliRunner()
    history = runner.invoke(app, ["history", "-c", str(path)])
    assert history.exit_code == 0 and plan.plan_id in history.output and "filled" in history.output
    status = runner.invoke(app, ["status", "-c", str(path)])
    assert status.exit_code == 0 and "SPY" in status.output and "pending approvals: 0" in status.output
    logs = runner.invoke(app, ["logs", "-c", str(path), "--account", "main", "--limit", "500"])
    assert logs.exit_code == 0 and "order submitted" in logs.output and plan.plan_id in logs.output
    warnings = runner.invoke(app, ["logs", "-c", str(path), "--level", "error"])
    assert "order submitted" not in warnings.output
