"""The ``telegram:`` section of the config, in a module of its own (``bot/config.py`` is long enough).

The bot token is a password to the bot: whoever has it can read the chats and impersonate the bot. So the
file only names the environment variable holding it (as accounts do with their Alpaca keys), and
:func:`resolve_token` reads it when the bot starts; the value is then registered with the log redaction.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.config_checks import http_url

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TOKEN_SHAPE = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")
"""What BotFather hands out: the bot's numeric id, a colon and a long key. Used to catch a token pasted
into ``token_env`` by mistake."""


class TelegramConfig(BaseModel):
    """Approve, reject, ``/status``, ``/halt`` and ``/resume`` from Telegram, only from ``allowed_chats``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    token_env: str = "TELEGRAM_BOT_TOKEN"
    """Name of the environment variable (or ``.env`` entry) holding the bot token from BotFather."""
    allowed_chats: tuple[int, ...] = Field(min_length=1)
    """Chat ids obeyed (a person's id for a private chat; a group's negative id lets every member of the
    group decide). Messages from any other chat are refused and logged."""
    base_url: str | None = None
    """Root of the Bot API server (default Telegram's, https://api.telegram.org); for a self-hosted Bot API
    server or a local stand-in."""
    poll_seconds: int = Field(30, ge=1, le=50)
    """Long-poll timeout of each getUpdates: how long one request waits for a message before asking again."""

    @field_validator("token_env")
    @classmethod
    def _is_variable_name(cls, name: str) -> str:
        if TOKEN_SHAPE.match(name):
            raise ValueError(
                "looks like a bot token: put the token in an environment variable and name the variable here"
            )
        if not ENV_NAME.match(name):
            raise ValueError("must be the NAME of an environment variable (e.g. TELEGRAM_BOT_TOKEN)")
        return name

    @field_validator("allowed_chats")
    @classmethod
    def _no_zero(cls, chats: tuple[int, ...]) -> tuple[int, ...]:
        if 0 in chats:
            raise ValueError("0 is not a chat id (send /start to the bot and read the id from getUpdates)")
        return chats

    @field_validator("base_url")
    @classmethod
    def _is_http_url(cls, url: str | None) -> str | None:
        return http_url(url)

    @property
    def api_root(self) -> str:
        return self.base_url or "https://api.telegram.org"


def resolve_token(
    settings: TelegramConfig,
    environ: Mapping[str, str] | None = None,
    dotenv_path: str | Path | None = ".env",
) -> str:
    """The bot token from ``environ`` (default ``os.environ``), else ``dotenv_path``. A missing one raises
    :class:`bot.config.ConfigError` naming the key and the VARIABLE, never a value."""
    from bot.config import ConfigError  # bot.config imports this module

    environ = os.environ if environ is None else environ
    value = environ.get(settings.token_env)
    if not value and dotenv_path is not None and Path(dotenv_path).is_file():
        value = dotenv_values(dotenv_path).get(settings.token_env)
    if not value:
        raise ConfigError(
            f"telegram.token_env: {settings.token_env} is not set (looked in the environment and .env); "
            "set it to the token BotFather gave you, or fix telegram.token_env"
        )
    return value
