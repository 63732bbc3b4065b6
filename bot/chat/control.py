"""What each chat command does, as plain functions over the running bot, returning the reply to send.

Kept apart from python-telegram-bot (:mod:`bot.chat.service` only turns updates into these calls), so the
decisions read like the CLI's and the dashboard's: every approval, rejection, halt and resume goes through
:mod:`bot.actions` with channel ``telegram`` - the same checks (plan held, version, expiry on the broker's
clock) and the same audit trail - and nothing here writes to the state on its own except the record of a
refused chat.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from bot import actions
from bot.actions import ActionError
from bot.chat.messages import status_text
from bot.live_picture import picture_or_last
from bot.reports import attention_lines

if TYPE_CHECKING:
    from bot.worker import Bot

log = structlog.get_logger(__name__)

CHANNEL = "telegram"


class ChatControl:
    """The commands of one running bot, for people in the allowed chats."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.store = bot.store

    # -- decisions -----------------------------------------------------------------------------------------
    def approve(self, plan_id: str, who: str, **context: Any) -> str:
        """``/approve PLAN_ID``: like ``rebalance-bot approve``, on the version the bot holds."""
        return self._decide("approve", plan_id, None, who, "", context)[0]

    def reject(self, plan_id: str, who: str, reason: str = "", **context: Any) -> str:
        return self._decide("reject", plan_id, None, who, reason, context)[0]

    def press(self, action: str, version: str, who: str, **context: Any) -> tuple[str, bool]:
        """A button of a prompt: decide on the plan shown with ``version`` (a prefix of the plan version).
        Returns the reply and whether this press decided; a button of a plan that changed, or was decided,
        expired or superseded since, decides nothing and says why."""
        pending = [a for a in self.store.pending_approvals() if a.content_hash.startswith(version)]
        if pending:
            approval = pending[0]
            return self._decide(action, approval.plan_id, approval.content_hash, who, "", context)
        shown = next((p for p in self.store.plans(limit=500) if p.content_hash.startswith(version)), None)
        if shown is None:
            return "Not done: this button is for a plan the bot no longer knows. See /status.", False
        return self._decide(action, shown.plan_id, shown.content_hash, who, "", context)

    def _decide(
        self, action: str, plan_id: str, version: str | None, who: str, reason: str, context: dict[str, Any]
    ) -> tuple[str, bool]:
        """The reply, and whether the decision was taken (:mod:`bot.actions` refuses what it must)."""
        try:
            if action == "approve":
                actions.approve_plan(
                    self.store, plan_id, who, CHANNEL, version, now=self._broker_now(), **context
                )
            else:
                actions.reject_plan(
                    self.store, plan_id, who, CHANNEL, reason, version, now=self._broker_now(), **context
                )
        except ActionError as exc:
            return f"Not done: {exc}", False
        if action == "approve":
            return (
                f"Approved {plan_id} (by {who}). The bot checks it on fresh quotes and sends it on its next "
                "tick; if prices moved too much it asks again."
            ), True
        return f"Rejected {plan_id} (by {who}): nothing of it is sent.", True

    def _broker_now(self) -> datetime | None:
        """The broker's time, so that a request past its expiry is refused (as on the dashboard)."""
        try:
            return self.bot.clock.now()
        except Exception:  # noqa: BLE001 - the broker's clock not read yet: the bot expires it on its tick
            return None

    # -- halt ----------------------------------------------------------------------------------------------
    def halt(self, who: str, reason: str = "") -> str:
        halted = self.store.get_flag("halted")
        if halted:
            return f"Already halted ({halted}). /resume to undo."
        actions.halt(self.store, who, reason or f"halted by {who} from Telegram", channel=CHANNEL)
        return (
            "Halted: nothing more is sent; the bot cancels its open orders on its next tick. /resume to undo."
        )

    def resume(self, who: str) -> str:
        if not self.store.get_flag("halted"):
            return "Not halted: nothing to resume."
        actions.resume(self.store, who, channel=CHANNEL)
        return "Resumed: the bot trades again from its next cycle."

    # -- status --------------------------------------------------------------------------------------------
    def status(self) -> str:
        """Mode, each account as its broker shows it now (or its last known picture and why), what waits for
        a decision, and whether the bot is halted."""
        config = self.bot.config
        live = any(a.is_live for a in config.accounts)
        pictures = {
            a.name: picture_or_last(config, self.store, a.name, self.bot.brokers.get(a.name))
            for a in config.accounts
        }
        return status_text(
            "LIVE - real money" if live else "PAPER",
            self.store.get_flag("halted"),
            pictures,
            self.store.pending_approvals(),
            attention_lines(self.store.flags()),
        )

    # -- strangers -----------------------------------------------------------------------------------------
    def refuse(self, chat_id: int | None, user_id: int | None, what: str) -> None:
        """A message or button from a chat not in ``telegram.allowed_chats``: logged and audited, nothing
        else (no reply, so the bot tells a stranger nothing about the portfolio)."""
        log.warning("telegram message refused: chat not allowed", chat_id=chat_id, user_id=user_id, what=what)
        self.store.audit("chat_refused", channel=CHANNEL, chat_id=chat_id, user_id=user_id, what=what)
