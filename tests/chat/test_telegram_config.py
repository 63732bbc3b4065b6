"""The ``telegram:`` section: check-config refuses what ``run`` could not use (exit 2, naming the key), the
token only ever comes from the environment, and a token Telegram refuses stops the chat, not the bot."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bot.chat.service import TelegramService
from bot.cli import app
from bot.logging_setup import reset_logging
from tests.bot.harness import make_harness
from tests.chat.conftest import CHAT, TOKEN
from tests.chat.standin import BotApiStandIn

runner = CliRunner()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN202
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    yield
    reset_logging()


def write(tmp_path: Path, telegram: dict) -> Path:
    config = {
        "accounts": [{"name": "main", "broker": "embedded"}],
        "targets": {"SPY": 0.6, "AGG": 0.4},
        "state_dir": str(tmp_path / "state"),
        "telegram": telegram,
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_check_config_names_an_unset_token_variable_and_exits_2(tmp_path, monkeypatch):
    path = write(tmp_path, {"allowed_chats": [CHAT]})
    result = runner.invoke(app, ["check-config", "-c", str(path)])
    assert result.exit_code == 2
    assert "telegram.token_env: TELEGRAM_BOT_TOKEN is not set" in result.output
    assert "Traceback" not in result.output

    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    result = runner.invoke(app, ["check-config", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert f"telegram: obeys chats {CHAT} (bot token from TELEGRAM_BOT_TOKEN)" in result.output
    assert TOKEN not in result.output


def test_run_without_the_token_is_one_line_and_exit_2(tmp_path):
    path = write(tmp_path, {"allowed_chats": [CHAT], "token_env": "MY_CHAT_TOKEN"})
    result = runner.invoke(app, ["run", "-c", str(path)])
    assert result.exit_code == 2
    assert "telegram.token_env: MY_CHAT_TOKEN is not set" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("telegram", "expected"),
    [
        ({"allowed_chats": [CHAT], "token_env": TOKEN}, "telegram.token_env: looks like a bot token"),
        ({"allowed_chats": []}, "telegram.allowed_chats:"),
        ({"allowed_chats": ["me"]}, "telegram.allowed_chats[0]: must be a whole number"),
        (
            {"allowed_chats": [CHAT], "base_url": "api.telegram.org"},
            "telegram.base_url: must be an http(s) URL",
        ),
        ({"allowed_chat": [CHAT]}, "did you mean 'allowed_chats'"),
        ({"allowed_chats": [CHAT], "poll_seconds": 0}, "telegram.poll_seconds:"),
    ],
)
def test_check_config_names_the_wrong_key(tmp_path, telegram, expected):
    result = runner.invoke(app, ["check-config", "-c", str(write(tmp_path, telegram))])
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert TOKEN not in result.output  # a pasted token is never echoed back


def test_a_token_telegram_refuses_stops_the_chat_with_a_reason_that_does_not_show_it(tmp_path):
    api = BotApiStandIn("1234:the-right-token").start()
    harness = make_harness(
        tmp_path, telegram={"allowed_chats": [CHAT], "base_url": api.url, "poll_seconds": 1}
    )
    service = TelegramService(harness.bot, harness.bot.config.telegram, TOKEN)
    try:
        with pytest.raises(RuntimeError, match="Telegram refused to start: InvalidToken") as refused:
            service.start()
        assert TOKEN not in str(refused.value) and refused.value.__cause__ is None
        assert api.refused_tokens == 1 and harness.bot.chat is None  # prompts keep to the other channels
    finally:
        service.stop()
        api.stop()
        harness.broker.stop()


def test_check_config_online_asks_telegram_whether_it_knows_the_token(tmp_path, monkeypatch):
    api = BotApiStandIn(TOKEN).start()
    try:
        path = write(tmp_path, {"allowed_chats": [CHAT], "base_url": api.url})
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "1234:not-the-token-BotFather-gave-you")
        result = runner.invoke(app, ["check-config", "--online", "-c", str(path)])
        assert result.exit_code == 2, result.output
        assert f"telegram.token_env: {api.url} refused the token in TELEGRAM_BOT_TOKEN" in result.output
        assert "not-the-token" not in result.output

        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
        result = runner.invoke(app, ["check-config", "--online", "-c", str(path)])
        assert result.exit_code == 0, result.output
        assert api.method_calls("getMe")

        path = write(tmp_path, {"allowed_chats": [CHAT], "base_url": "http://127.0.0.1:9"})  # nothing there
        result = runner.invoke(app, ["check-config", "--online", "-c", str(path)])
        assert result.exit_code == 2, result.output
        assert "telegram.base_url: cannot reach the Bot API at http://127.0.0.1:9" in result.output
    finally:
        api.stop()
