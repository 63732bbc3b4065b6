"""The CLI on bad configs (exit 2, one clear line, no trading); secrets kept out of logs and state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import app
from bot.logging_setup import configure_logging, reset_logging
from bot.paper_broker.accounts import AccountsFile, AccountSpec
from bot.paper_broker.faults import FaultConfig
from bot.paper_broker.server import ClockConfig, PaperBroker, ServerConfig
from bot.state.store import StateStore
from bot.worker import Bot, connect
from tests.bot.harness import BrokerTime, bot_config, drifted_60_40

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.yaml"


def write_config(tmp_path: Path, change) -> Path:  # noqa: ANN001 - a function editing the dict
    config = yaml.safe_load(EXAMPLE.read_text())
    config["state_dir"] = str(tmp_path / "state")
    change(config)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_the_example_config_is_valid():
    result = runner.invoke(app, ["check-config", "-c", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output


BAD_CONFIGS = [
    (lambda c: c["targets"].update(VTI=0.30), "targets: weights sum to"),
    (lambda c: c["bands"]["default"].update(absolute=-0.05), "bands.default.absolute"),
    (lambda c: c.update(shedule={"interval_minutes": 5}), "shedule"),
    (lambda c: c["schedule"].update(interval_minutes=0), "schedule.interval_minutes"),
    (lambda c: c["accounts"][0].update(broker="robinhood"), "accounts[0].broker: must be"),
    (lambda c: c["limits"].update(max_order_notional=10**9), "max_order_notional"),
    (lambda c: c["approval"].update(mode="sometimes"), "approval.mode"),
]


@pytest.mark.parametrize(("change", "message"), BAD_CONFIGS)
def test_each_bad_config_gets_its_message_and_exit_code_2(tmp_path, change, message):
    path = write_config(tmp_path, change)
    result = runner.invoke(app, ["check-config", "-c", str(path)])
    assert result.exit_code == 2
    assert message in result.output


def test_a_missing_or_broken_file_gets_exit_code_2(tmp_path):
    assert runner.invoke(app, ["check-config", "-c", str(tmp_path / "nope.yaml")]).exit_code == 2
    broken = tmp_path / "broken.yaml"
    broken.write_text("targets: [unclosed\n")
    result = runner.invoke(app, ["check-config", "-c", str(broken)])
    assert result.exit_code == 2 and "broken.yaml" in result.output


def test_run_refuses_a_bad_config_before_touching_any_broker(tmp_path):
    path = write_config(tmp_path, lambda c: c["targets"].update(VTI=0.9))
    result = runner.invoke(app, ["run", "-c", str(path)])
    assert result.exit_code == 2
    assert not (tmp_path / "state").exists()  # no state, no embedded broker, no orders


def test_run_names_a_missing_key_variable_without_trading(tmp_path, monkeypatch):
    monkeypatch.delenv("APCA_API_KEY_ID", raising=False)
    monkeypatch.delenv("APCA_API_SECRET_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    path = write_config(
        tmp_path, lambda c: c["accounts"].__setitem__(0, {"name": "p", "broker": "alpaca_paper"})
    )
    result = runner.invoke(app, ["run", "-c", str(path)])
    assert result.exit_code == 2
    assert "APCA_API_KEY_ID" in result.output


def test_secrets_never_reach_the_log_file_or_the_state_database(tmp_path):
    key_id, secret = "PKSECRETKEYID0000001", "sEcReT-value-that-must-never-leak-42"
    accounts = AccountsFile(
        accounts=(
            AccountSpec(
                name="main",
                key_id=key_id,
                secret_key=secret,
                cash=10000,
                positions=drifted_60_40().accounts[0].positions,
            ),
        )
    )
    broker = PaperBroker(
        ServerConfig(
            accounts=accounts,
            clock=ClockConfig(start=datetime(2019, 12, 17).date()),
            database=tmp_path / "broker.sqlite",
            faults=FaultConfig(rate_limit_per_minute=None, error_next=2),
        )
    ).start()
    try:
        config = bot_config(broker.url, tmp_path / "state")
        environ = {"APCA_API_KEY_ID": key_id, "APCA_API_SECRET_KEY": secret}
        connections = connect(config, environ=environ)
        log_file = tmp_path / "state" / "bot.log"
        configure_logging(log_file, level="DEBUG", console=False, secrets=connections.secrets)
        store = StateStore(tmp_path / "state" / "bot.sqlite")
        bot = Bot(config, connections.brokers, store, clock=BrokerTime(broker))
        import structlog

        structlog.get_logger("test").error("a careless message", detail=f"key {key_id} secret {secret}")
        while broker.now < datetime(2019, 12, 17, 16, 0, tzinfo=UTC):
            bot.tick()
            broker.advance(minutes=5)
        assert store.plans(account="main"), "the bot should have traded, so the log has real content"
        store.close()
    finally:
        reset_logging()
        broker.stop()
    logged = log_file.read_bytes()
    assert b"a careless message" in logged and b"order submitted" in logged
    for path in [log_file, tmp_path / "state" / "bot.sqlite", *Path(tmp_path / "state").glob("*.sqlite-wal")]:
        content = path.read_bytes()
        assert secret.encode() not in content, path
        assert key_id.encode() not in content, path


def test_halt_and_resume_commands_set_the_kill_switch(tmp_path):
    path = write_config(tmp_path, lambda c: None)
    assert runner.invoke(app, ["halt", "-c", str(path), "--reason", "market chaos"]).exit_code == 0
    store = StateStore(tmp_path / "state" / "bot.sqlite")
    assert store.get_flag("halted") == "market chaos"
    assert runner.invoke(app, ["resume", "-c", str(path)]).exit_code == 0
    assert store.get_flag("halted") is None
    assert [e.event for e in store.audit_trail(limit=5)][:2] == ["resumed", "halted"]


def test_approve_command_refuses_an_unknown_plan(tmp_path):
    path = write_config(tmp_path, lambda c: None)
    result = runner.invoke(app, ["approve", "no-such-plan", "-c", str(path)])
    assert result.exit_code == 1 and "no plan" in result.output


def test_plan_command_is_a_dry_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_config(tmp_path, lambda c: None)
    result = runner.invoke(app, ["plan", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert "Rebalance plan" in result.output and "BUY" in result.output  # all cash: it would invest
    store = StateStore(tmp_path / "state" / "bot.sqlite")
    assert store.plans() == []  # nothing stored, nothing submitted
    _ = timedelta
