"""The live picture (issue 16, item 4): ``status`` reads the broker, not the last plan's snapshot; the bot
keeps one equity row per session; with the broker gone ``status`` says so and shows the last known picture.

Real parts: the embedded paper broker over HTTP (alpaca-py), the SQLite state, time stepped on the broker.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import yaml
from typer.testing import CliRunner

from bot.cli import app
from bot.state.equity_history import EquityHistory
from bot.state.store import StateStore
from bot.worker import Bot
from tests.bot.harness import KEY, OPEN_TIME, SECRET, BrokerTime, Harness, make_harness

runner = CliRunner()
CLOSE_TIME = OPEN_TIME + timedelta(hours=6, minutes=30)


def status_config(tmp_path: Path, harness: Harness) -> Path:
    """The harness's config as a file ``status`` can read, reaching its broker with key variables."""
    config = harness.bot.config.model_dump(mode="json", exclude_defaults=True)
    path = tmp_path / "bot.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def status_output(path: Path, monkeypatch) -> str:  # noqa: ANN001
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    result = runner.invoke(app, ["status", "-c", str(path)])
    assert result.exit_code == 0, result.output
    return result.output


def row(output: str, symbol: str) -> list[str]:
    [line] = [line for line in output.splitlines() if line.strip("│ ").startswith(symbol + " ")]
    return [cell.strip() for cell in line.strip("│ ").split("│")]


def test_status_shows_the_positions_and_pnl_after_a_fill_not_the_plans_snapshot(tmp_path, monkeypatch):
    harness = make_harness(tmp_path)
    harness.run_until(OPEN_TIME + timedelta(hours=2))
    [plan] = harness.store.plans(account="main")
    assert plan.status == "done"
    before = {a["symbol"]: Decimal(a["weight"]) for a in plan.details["trigger"]["assets"]}
    harness.store.close()
    positions = {p.symbol: p for p in harness.adapter.positions()}
    account = harness.adapter.account()

    output = status_output(status_config(tmp_path, harness), monkeypatch)

    assert "BROKER UNREACHABLE" not in output
    for symbol in ("SPY", "AGG"):
        cells = row(output, symbol)
        held = positions[symbol]
        assert cells[1] == f"{held.qty.normalize():f}"  # shares now, after the plan's trades
        assert cells[3] == f"${held.market_value:,.2f}"
        weight = held.market_value / account.equity
        assert cells[4] == f"{weight * 100:.2f}%"
        assert cells[4] != f"{before[symbol] * 100:.2f}%"  # the snapshot's weight was before the trades
        assert abs(weight - Decimal("0.6" if symbol == "SPY" else "0.4")) < Decimal("0.05")
        assert cells[8] == f"{'-' if held.unrealized_pl < 0 else '+'}${abs(held.unrealized_pl):,.2f}"
    day_pl = account.equity - account.last_equity
    assert f"equity ${account.equity:,.2f}" in output
    assert f"day P&L {'-' if day_pl < 0 else '+'}${abs(day_pl):,.2f}" in output


def test_one_equity_row_per_session_across_two_sessions_kept_over_a_restart(tmp_path, monkeypatch):
    harness = make_harness(tmp_path)
    step = timedelta(minutes=30)
    harness.run_until(CLOSE_TIME + timedelta(hours=1), step=step)  # session 1 and its close
    harness.run_until(OPEN_TIME + timedelta(days=1, hours=7, minutes=30), step=step)  # session 2, its close
    days = EquityHistory(harness.store).days("main")
    assert [d.day.isoformat() for d in days] == ["2019-12-17", "2019-12-18"]
    second = days[1]
    account = harness.adapter.account()
    assert second.equity == account.equity  # read after the close: nothing moves until the next open
    assert second.weights["SPY"] + second.weights["AGG"] + second.weights["cash"] == 1
    assert second.targets == {"SPY": Decimal("0.6"), "AGG": Decimal("0.4"), "cash": Decimal(0)}
    assert second.day_pl == second.equity - days[0].equity != 0  # the session's change, close to close

    # a restarted bot that sees the same close again adds nothing; the rows are in the state file
    harness.store.close()
    store = StateStore(tmp_path / "state" / "bot.sqlite")
    bot = Bot(harness.bot.config, {"main": harness.adapter}, store, clock=BrokerTime(harness.broker))
    bot.tick()
    harness.broker.advance(seconds=600)
    bot.record_session(second.day)
    assert [d.day for d in EquityHistory(store).days("main")] == [days[0].day, second.day]
    store.close()

    output = status_output(status_config(tmp_path, harness), monkeypatch)
    assert "equity at each close" in output
    assert f"2019-12-18 │ ${second.equity:,.2f} │ {'-' if second.day_pl < 0 else '+'}$" in output


def test_with_the_broker_gone_status_says_so_and_shows_the_last_known_picture(tmp_path, monkeypatch):
    harness = make_harness(tmp_path)
    harness.run_until(OPEN_TIME + timedelta(minutes=30))
    path = status_config(tmp_path, harness)
    harness.store.close()
    live = status_output(path, monkeypatch)  # read live: kept as the last known picture
    when = harness.broker.now
    spy = row(live, "SPY")
    harness.broker.stop()

    output = status_output(path, monkeypatch)
    assert "BROKER UNREACHABLE (main): cannot reach the broker" in output
    assert f"last known picture from {when:%Y-%m-%d %H:%M} UTC" in output
    assert row(output, "SPY") == spy
