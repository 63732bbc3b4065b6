"""A real bot (harness + embedded paper broker) with its Telegram service polling the local Bot API
stand-in: python-telegram-bot's base URL points at it, everything else is as in ``run``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from bot.chat.service import TelegramService
from bot.logging_setup import configure_logging, reset_logging
from bot.state.store import PlanRecord
from tests.bot.harness import OPEN_TIME, Harness, make_harness
from tests.chat.standin import BotApiStandIn

TOKEN = "5550001234:AAF-stand-in-token-never-logged_0123"
CHAT = 7001
"""The allowed chat (a person's private chat)."""
STRANGER = 9009


@dataclass
class ChatRig:
    harness: Harness
    api: BotApiStandIn
    service: TelegramService
    log_file: Path

    @property
    def store(self):  # noqa: ANN201
        return self.harness.store

    def hold_plan(self) -> PlanRecord:
        """Run the bot until it holds a plan (the drifted 60/40 account is far outside its bands)."""
        outcomes = self.harness.run_until(OPEN_TIME + timedelta(minutes=25))
        assert any(o.action == "held for approval" for o in outcomes), outcomes
        [held] = self.store.plans(account="main", status="held")
        return held

    def prompt(self, plan: PlanRecord) -> dict:
        """The prompt the allowed chat got for ``plan``."""
        self.service.flush()
        return self.api.wait_for(
            lambda: next((m for m in self.api.to_chat(CHAT) if plan.plan_id in m["text"]), None)
        )

    def command(self, text: str, contains: str = "", chat_id: int = CHAT) -> str:
        """Type ``text`` in the allowed chat; the bot's answer."""
        seen = len(self.api.to_chat(chat_id))
        self.api.say(chat_id, text)
        return self.api.wait_reply(chat_id, seen, contains)["text"]

    def bot_orders(self) -> list:
        """Orders the bot POSTed to the paper broker (its starting lots are not orders of the bot)."""
        return [
            o
            for o in self.harness.broker.engine.orders.values()
            if not o.client_order_id.startswith("starting-lot")
        ]


@pytest.fixture
def chat_rig(tmp_path: Path) -> Iterator[ChatRig]:
    log_file = tmp_path / "state" / "bot.log"
    # the token is deliberately NOT registered with the redaction: it must not reach the log at all
    configure_logging(log_file, level="DEBUG", console=False)
    api = BotApiStandIn(TOKEN).start()
    harness = make_harness(
        tmp_path,
        approval={"max_plan_notional": 1000},
        telegram={"allowed_chats": [CHAT], "base_url": api.url, "poll_seconds": 1},
    )
    service = TelegramService(harness.bot, harness.bot.config.telegram, TOKEN)
    service.start()
    try:
        yield ChatRig(harness, api, service, log_file)
    finally:
        service.stop()
        api.stop()
        harness.broker.stop()
        reset_logging()
