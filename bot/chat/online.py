"""``check-config --online`` for the ``telegram`` section: one authenticated request (getMe), so a wrong
token or an unreachable Bot API server shows before ``run``, in one line naming the key to fix."""

from __future__ import annotations

import asyncio

from telegram import Bot
from telegram.error import InvalidToken, NetworkError, TelegramError

from bot.chat.settings import TelegramConfig


def telegram_problem(settings: TelegramConfig, token: str) -> str | None:
    """None when the Bot API at ``settings.api_root`` accepts ``token``; else what to fix (not the token)."""
    root = settings.api_root
    try:
        asyncio.run(_get_me(token, root))
    except InvalidToken:
        return (
            f"telegram.token_env: {root} refused the token in {settings.token_env}; copy it again from "
            "BotFather (or fix telegram.base_url if this is not the server the bot lives on)"
        )
    except NetworkError as exc:
        text = str(exc).replace(token, "<token>")
        return (
            f"telegram.base_url: cannot reach the Bot API at {root} ({text}); check the URL and the network"
        )
    except TelegramError as exc:
        return f"telegram: the Bot API at {root} answered: {str(exc).replace(token, '<token>')}"
    return None


async def _get_me(token: str, root: str) -> None:
    async with Bot(token, base_url=f"{root}/bot", base_file_url=f"{root}/file/bot") as bot:  # getMe
        await bot.get_me()
