"""The short "why" (issue 16, item 10): the objective's reason runs to hundreds of characters; the approval
prompt, the confirmation page and ``plan`` show it in one line of at most 160, the whole of it behind
``--verbose`` or a disclosure. The reason is a real one: the objective's, for the first investment of an
all-cash account on the embedded paper broker (alpaca-py over HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from bot.cli import app
from bot.clock import BrokerFollowingClock
from bot.config import load_config
from bot.cycle import AccountBot, plan_details
from bot.notify import render_prompt
from bot.state.store import PlanRecord, StateStore
from bot.web.pages import confirm
from bot.worker import connect
from strategies.formatting import WHY_WIDTH, why_line
from tests.bot.harness import OPEN_TIME
from tests.test_init import KEY, SECRET, holdings

runner = CliRunner()


@pytest.fixture
def config_path(tmp_path, monkeypatch, make_broker) -> Path:  # noqa: ANN001
    """A config written by ``init`` for an all-cash $124k paper account, a quarter hour after the open."""
    from bot.paper_broker.server import ClockConfig

    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.chdir(tmp_path)
    broker = make_broker(
        accounts=holdings("124000", {}), clock=ClockConfig(start=OPEN_TIME + timedelta(minutes=15))
    )
    path = tmp_path / "mine.yaml"
    flags = ["--broker", "embedded", "--base-url", broker.url, "--targets", "VTI=60,AGG=35,cash=5"]
    written = runner.invoke(app, ["init", "-c", str(path), "-y", "--account-value", "124000", *flags])
    assert written.exit_code == 0, written.output
    return path


def trigger_line(output: str) -> str:
    [line] = [line for line in output.splitlines() if line.startswith("Trigger ")]
    return line


def test_plan_shows_the_why_in_one_line_and_all_of_it_with_verbose(config_path):
    brief = runner.invoke(app, ["plan", "-c", str(config_path)])
    assert brief.exit_code == 0, brief.output
    line = trigger_line(brief.output)
    assert len(line) <= WHY_WIDTH
    assert "net benefit" in line and line.endswith("(--verbose for all)")
    assert "fitted on the last" not in brief.output

    full = runner.invoke(app, ["plan", "-c", str(config_path), "--verbose"])
    assert full.exit_code == 0, full.output
    line = trigger_line(full.output)
    assert len(line) > 250 and "risk cost" in line and "fitted on the last 504 sessions" in line


def held_plan(config_path: Path) -> PlanRecord:
    """The plan the bot would hold now, as the store keeps it."""
    config = load_config(config_path).deciding_now()
    connections = connect(config, speed=False)
    try:
        account = config.accounts[0]
        broker = connections.brokers[account.name]
        clock = BrokerFollowingClock()
        clock.observe(broker.clock().timestamp)
        plan, _ = AccountBot(config, account, broker, StateStore(None), clock).preview()
    finally:
        connections.close()
    now = datetime(2019, 12, 17, 14, 45, tzinfo=UTC)
    return PlanRecord(
        "rb-x-1", "run", account.name, plan.content_hash(), "held", "", plan.explain(), plan_details(plan),
        now, now,
    )  # fmt: skip


def test_the_prompt_and_the_confirmation_page_say_why_in_one_line(config_path):
    record = held_plan(config_path)
    reason = record.details["trigger"]["reason"]
    assert len(reason) > 300  # the wall of text the issue saw, at its smallest

    prompt = render_prompt(record, None).body
    [why] = [line for line in prompt.splitlines() if line.startswith("Why now:")]
    assert len(why) <= WHY_WIDTH and "net benefit" in why and "fitted on" not in prompt
    assert max(len(line) for line in prompt.splitlines()) <= WHY_WIDTH

    page = unescape(confirm(record, None, "approve", "token", "PAPER", None))
    shown = page.split("<b>Why now:</b> ", 1)[1].split("<br>", 1)[0]
    assert len(shown) <= WHY_WIDTH and shown.startswith("trade: forecast tracking error")
    disclosure = page.split("<details", 1)[1].split("</details>", 1)[0]
    assert "Why now, in full" in disclosure and " ".join(reason.split()) in disclosure


@given(st.text(alphabet=st.sampled_from("ab ;,()[]\n"), max_size=600), st.integers(60, 200))
def test_a_why_line_never_exceeds_its_width_and_a_short_reason_is_kept_whole(text, width):
    line = why_line(text, width, " (--verbose for all)")
    assert len(line) <= width and "\n" not in line
    if len(" ".join(text.split())) <= width:
        assert line == " ".join(text.split())


def test_the_conclusion_stays_when_the_middle_is_left_out():
    reason = "wait: forecast tracking error 1.20% a year (risk cost 3.1 bp)" + ", x" * 80 + "; no trade pays"
    line = why_line(reason, 120)
    assert line.startswith("wait: forecast tracking error 1.20% a year")
    assert line.endswith("...; no trade pays")
    assert len(line) <= 120
