"""A new user's first run, scripted from the README (issue 16): the example config pointed at a paper account
with cash to invest, through ``check-config``, ``plan``, ``run`` (the bot ticking on the broker's time) and
``status``, with one notification channel.

The broker is the embedded paper broker over HTTP (alpaca-py), reached like Alpaca with key variables; the
alerts are real Apprise ``json://`` posts to a local receiver. Time is stepped, never slept on.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from structlog.testing import capture_logs
from typer.testing import CliRunner

from bot.cli import announce_start, app
from bot.config import load_config
from bot.state.store import StateStore
from bot.worker import Bot, connect
from tests.first_run.readme import KEY, SECRET, raise_limits, readme_config, run_bot, suggested_limits

runner = CliRunner()


def test_a_first_investment_above_the_example_limits_is_shown_and_alerted_once_naming_the_setting(
    tmp_path, monkeypatch, paper_account, receiver
):
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.chdir(tmp_path)
    path = readme_config(tmp_path, paper_account.url, receiver.url())

    checked = runner.invoke(app, ["check-config", "-c", str(path)])
    assert checked.exit_code == 0, checked.output

    dry = runner.invoke(app, ["plan", "-c", str(path)])
    assert dry.exit_code == 0, dry.output
    assert "REFUSED if run now, by a hard limit" in dry.output
    assert "exceeds limits.max_plan_notional $25,000.00" in dry.output
    assert "set limits.max_order_notional: " in dry.output and "limits.max_plan_notional: " in dry.output

    # 40 simulated minutes over 10:00, when the objective makes the session's decision: refused
    bot = run_bot(path, paper_account, minutes=40)
    assert len(bot.store.plans(account="paper", status="refused", limit=50)) >= 1
    # deciding at every check instead: the same first investment is refused again and again, alerted once
    text = path.read_text()
    assert "  tracking: balanced" in text
    path.write_text(text.replace("  tracking: balanced", "  tracking: balanced\n  decide_at: null", 1))
    receiver.messages.clear()  # a restarted bot tells the person again, once
    bot = run_bot(path, paper_account, minutes=40)
    refused = bot.store.plans(account="paper", status="refused", limit=50)
    assert len(refused) >= 5
    assert bot.store.orders() == []  # nothing traded
    alerts = [m for m in receiver.messages if "refused by a hard limit" in m.get("title", "")]
    assert len(alerts) == 1, [m.get("title") for m in receiver.messages]
    body = alerts[0]["message"]
    assert "limits.max_plan_notional $25,000.00" in body
    assert "set limits.max_order_notional: " in body and "in the config" in body

    status = runner.invoke(app, ["status", "-c", str(path)])
    assert status.exit_code == 0, status.output
    assert "REFUSED (paper): plan refused by a hard limit" in status.output
    assert "limits.max_plan_notional" in status.output

    # history says why each plan was refused, in one short line; the whole reason with --verbose
    history = runner.invoke(app, ["history", "-c", str(path), "--limit", "2"])
    assert history.exit_code == 0, history.output
    assert "refused (plan refused by a hard limit: order buy" in history.output
    assert "--verbose for all" in history.output
    assert "  why: trade: forecast tracking error" in history.output
    assert max(len(line) for line in history.output.splitlines()) < 200
    full = runner.invoke(app, ["history", "-c", str(path), "--limit", "1", "--verbose"]).output
    assert "limits.max_plan_notional $25,000.00" in full and "set limits.max_order_notional: " in full

    # the user does what the alert says: the plan now passes the limits and waits for approval instead
    suggested = suggested_limits(body)
    assert set(suggested) >= {"limits.max_order_notional", "limits.max_plan_notional"}
    readme_config(tmp_path, paper_account.url, receiver.url(), raise_limits(suggested))
    bot = run_bot(path, paper_account, minutes=6)
    [held] = bot.store.plans(account="paper", status="held", limit=5)
    assert "first plan" in held.status_reason
    status = runner.invoke(app, ["status", "-c", str(path)])
    assert "REFUSED" not in status.output


class NotAnApi:
    """A web server that is not Alpaca's API (a wrong base_url): every path answers 404 with an HTML page."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                body = b"<html><body>Not Found</body></html>"
                self.send_response(404)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


BROKER_COMMANDS = (["plan"], ["taxes"], ["check-config", "--online"], ["run"])


def one_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.parametrize("command", BROKER_COMMANDS, ids=" ".join)
def test_wrong_keys_end_every_broker_command_with_one_line_naming_the_key_variables(
    tmp_path, monkeypatch, paper_account, receiver, command
):
    monkeypatch.setenv("APCA_API_KEY_ID", "PKTYPO")
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.chdir(tmp_path)
    path = readme_config(tmp_path, paper_account.url, receiver.url())
    result = runner.invoke(app, [*command, "-c", str(path)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2, result.output  # run also logs the line it stops on
    assert lines[-1].startswith("error: the broker refused the API keys")
    assert "check APCA_API_KEY_ID and APCA_API_SECRET_KEY (account paper)" in lines[-1]
    assert "Traceback" not in result.output


def test_a_typo_in_key_id_env_fails_check_config_naming_the_variable(tmp_path, monkeypatch, receiver):
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.chdir(tmp_path)
    path = readme_config(
        tmp_path,
        "http://127.0.0.1:9",
        receiver.url(),
        lambda c: c["accounts"][0].update(key_id_env="APCA_API_KEYID"),
    )
    result = runner.invoke(app, ["check-config", "-c", str(path)])
    assert result.exit_code == 2
    assert "APCA_API_KEYID is not set" in result.output and "fix key_id_env" in result.output
    plan = runner.invoke(app, ["plan", "-c", str(path)])
    assert plan.exit_code == 2
    assert "APCA_API_KEYID is not set" in one_line(plan.output)


def test_a_base_url_that_is_not_the_api_or_does_not_answer_is_one_line_saying_to_check_base_url(
    tmp_path, monkeypatch, receiver
):
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.chdir(tmp_path)
    site = NotAnApi()
    try:
        path = readme_config(tmp_path, site.url, receiver.url())
        for command in (["plan"], ["check-config", "--online"]):
            result = runner.invoke(app, [*command, "-c", str(path)])
            assert result.exit_code == 2
            line = one_line(result.output)
            assert f"the server at {site.url} is not an Alpaca API" in line and "check base_url" in line
    finally:
        site.close()


def test_debug_shows_the_full_trace_before_the_one_line(tmp_path, monkeypatch, paper_account, receiver):
    monkeypatch.setenv("APCA_API_KEY_ID", "PKTYPO")
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.chdir(tmp_path)
    path = readme_config(tmp_path, paper_account.url, receiver.url())
    result = runner.invoke(app, ["--debug", "plan", "-c", str(path)])
    assert result.exit_code == 2
    assert "Traceback (most recent call last)" in result.output
    assert result.output.rstrip().splitlines()[-1].startswith("error: the broker refused the API keys")


def test_run_starts_with_a_banner_and_says_when_the_market_closes(
    tmp_path, monkeypatch, paper_account, receiver
):
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.chdir(tmp_path)
    path = readme_config(tmp_path, paper_account.url, receiver.url(), lambda c: c["web"].update(enabled=True))
    config = load_config(path)
    connections = connect(config)
    bot = Bot(config, connections.brokers, StateStore(tmp_path / "state" / "bot.sqlite"))
    with capture_logs() as logs:
        announce_start(config, bot, connections)
    [started] = [e for e in logs if e["event"] == "bot starting"]
    text = started["banner"]
    assert text[0] == "rebalance-bot starting: PAPER - no real money"
    assert f"  account paper: embedded paper broker at {paper_account.url}" in text
    assert "  targets: VTI 35%, VEA 15%, VWO 5%, AGG 25%, TIP 5%, VNQ 5%, GLD 5%, cash 5%" in text
    assert (
        "  schedule: every 5 min while the market is open; next check now (2019-12-17 14:45 UTC, market open)"
        in text
    )
    assert f"  state: {tmp_path / 'state'}" in text and "  dashboard: http://127.0.0.1:8780" in text

    paper_account.advance(hours=7)  # past the close
    with capture_logs() as logs:
        bot.tick()
    [closed] = [e for e in logs if e["event"] == "market closed; waiting"]
    assert closed["next_check"].startswith("2019-12-18 14:45 UTC (market closed; opens in ")
