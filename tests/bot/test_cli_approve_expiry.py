"""``rebalance-bot approve`` on a request that lapsed while the bot was stopped (issue 17, item 3): refused
with one clear line and exit code 2, decided on the broker's clock by the bot's own expiry rule."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import app
from bot.state.store import StateStore
from tests.bot.harness import KEY, OPEN_TIME, SECRET, Harness, make_harness

# Slow tier: CLI approvals against a broker that is up, down or past expiry
# (CI runs the slow tier; the README's quick command skips it.)
pytestmark = pytest.mark.slow

runner = CliRunner()


def held_with_stopped_bot(tmp_path: Path) -> tuple[Harness, str, Path]:
    """A plan held for approval; then the bot stops (no more ticks), its config written out for the CLI."""
    harness = make_harness(tmp_path, approval={"max_plan_notional": 1000})
    outcomes = harness.run_until(OPEN_TIME + timedelta(minutes=25))
    assert any(o.action == "held for approval" for o in outcomes), outcomes
    [held] = harness.store.plans(status="held")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(harness.bot.config.model_dump(mode="json", exclude_none=True)))
    return harness, held.plan_id, config


def test_approving_an_expired_request_is_refused_with_exit_2(tmp_path, monkeypatch):
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    harness, plan_id, config = held_with_stopped_bot(tmp_path)
    try:
        approval = harness.store.get_approval(plan_id)
        harness.broker.advance(minutes=7 * 60)  # past the close; the stopped bot sees nothing
        assert harness.broker.now >= approval.expires_at
        result = runner.invoke(app, ["approve", plan_id, "-c", str(config)])
        assert result.exit_code == 2, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:") and "expired at" in lines[0], lines
        assert "approved" not in result.output.replace("can no longer be approved", "")
        assert "Traceback" not in result.output
        store = StateStore(tmp_path / "state" / "bot.sqlite")
        assert (store.get_approval(plan_id).status, store.get_plan(plan_id).status) == ("pending", "held")
    finally:
        harness.broker.stop()


def test_approving_before_the_expiry_still_works(tmp_path, monkeypatch):
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    harness, plan_id, config = held_with_stopped_bot(tmp_path)
    try:
        result = runner.invoke(app, ["approve", plan_id, "-c", str(config)])
        assert result.exit_code == 0 and f"approved {plan_id}" in result.output, result.output
        store = StateStore(tmp_path / "state" / "bot.sqlite")
        approval = store.get_approval(plan_id)
        assert (approval.status, approval.channel) == ("approved", "cli")
        assert approval.decided_at == harness.broker.now  # decided on the broker's clock
    finally:
        harness.broker.stop()


def test_an_unreachable_broker_means_no_approval_and_exit_2(tmp_path, monkeypatch):
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    harness, plan_id, config = held_with_stopped_bot(tmp_path)
    harness.broker.stop()
    result = runner.invoke(app, ["approve", plan_id, "-c", str(config)])
    assert result.exit_code == 2 and "cannot read the broker's clock" in result.output, result.output
    assert "Traceback" not in result.output
    assert StateStore(tmp_path / "state" / "bot.sqlite").get_approval(plan_id).status == "pending"
