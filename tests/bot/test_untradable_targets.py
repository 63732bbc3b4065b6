"""A target the broker cannot trade (issue 17, item 9) is refused before anything trades: the cycle plans
nothing and says why (outcome, status, audit), and ``check-config --online`` names it, against the real
paper broker's ``/v2/assets`` over HTTP."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from bot.cli import app
from bot.reports import print_status
from tests.bot.harness import KEY, OPEN_TIME, SECRET, make_harness


def _status(harness) -> str:  # noqa: ANN001
    out = io.StringIO()
    print_status(harness.bot.config, harness.store, Console(file=out, width=250))
    return out.getvalue()


def test_a_target_the_broker_does_not_know_refuses_the_cycle_and_nothing_is_traded(tmp_path: Path):
    harness = make_harness(
        tmp_path,
        start=OPEN_TIME + timedelta(minutes=15),
        targets={"SPY": 0.5, "AGG": 0.3, "ZZZZ": 0.2},
    )
    try:
        outcome = harness.bot.tick()["main"]
        assert outcome.action == "refused"
        assert "ZZZZ is unknown to the broker" in outcome.detail
        harness.broker.advance(minutes=30)
        assert harness.bot.tick()["main"].action == "refused"  # every cycle, until the targets are fixed
        assert harness.store.plans(account="main") == [] and harness.store.orders() == []
        assert not [
            o for o in harness.broker.engine.orders.values() if not o.client_order_id.startswith("starting")
        ]
        assert "REFUSED (main): targets the broker cannot trade: ZZZZ is unknown to the broker" in _status(
            harness
        )
        assert len(harness.store.audit_trail(event="targets_untradable")) == 1  # said once, not every cycle
    finally:
        harness.broker.stop()


def test_check_config_online_names_a_target_the_broker_cannot_trade(tmp_path: Path):
    harness = make_harness(tmp_path)
    try:
        config = tmp_path / "bot.yaml"
        config.write_text(
            "accounts:\n"
            f"  - {{name: main, broker: embedded, base_url: '{harness.broker.url}', key_id_env: RB_KEY,"
            " secret_key_env: RB_SECRET}\n"
            "targets: {SPY: 0.6, ZZZZ: 0.4}\n"
            f"state_dir: {tmp_path / 'state'}\n"
        )
        env = {"RB_KEY": KEY, "RB_SECRET": SECRET}
        offline = CliRunner().invoke(app, ["check-config", "-c", str(config)], env=env)
        assert offline.exit_code == 0  # a broker at a URL is only asked online
        online = CliRunner().invoke(app, ["check-config", "--online", "-c", str(config)], env=env)
        assert online.exit_code == 2, online.output
        assert "targets.ZZZZ: ZZZZ is unknown to the broker (account main, asked online)" in online.output
        assert "SPY" not in online.output.split("error:", 1)[1]
    finally:
        harness.broker.stop()
