"""The Telegram front-end as a service of the running bot: python-telegram-bot polling on its own thread.

``rebalance-bot run`` starts it after the state lock is taken and stops it with the bot (SIGTERM included:
:func:`bot.worker.run_forever` stops its services on the way out). It runs an ``Application`` with long
polling on an event loop of its own thread, so the scheduler's ticks never wait for Telegram, and Telegram
never waits for a tick.

Prompts with buttons go out through python-telegram-bot, not Apprise, when this service runs: Apprise's
Telegram plugin sends text only, and a button press comes back as an update to the bot that sent it, so
sending and receiving belong to one client. Other Apprise channels still get their prompts.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import warnings
from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Any

import structlog
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.warnings import PTBDeprecationWarning

from bot.chat.control import ChatControl
from bot.chat.messages import HELP, callback_data, decided_text, parse_callback, prompt_text
from bot.chat.settings import TelegramConfig

if TYPE_CHECKING:
    from bot.worker import Bot

log = structlog.get_logger(__name__)

START_SECONDS = 30.0
MAX_TEXT = 4000
"""Telegram takes 4,096 characters a message."""
SEND_ATTEMPTS = 3
Context = ContextTypes.DEFAULT_TYPE


class TelegramService:
    """Polls Telegram for commands and button presses from the allowed chats, and sends them prompts and
    alerts. ``start`` returns once the bot token is accepted (``getMe``) and polling runs; it raises when
    Telegram refuses the token or cannot be reached, and the bot then runs without it (and says so)."""

    name = "telegram"

    def __init__(self, bot: Bot, settings: TelegramConfig, token: str) -> None:
        self.bot = bot
        self.settings = settings
        self.control = ChatControl(bot)
        self._token = token
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._sending: set[concurrent.futures.Future] = set()
        self._app: Application | None = None

    def __repr__(self) -> str:  # never the token
        return f"TelegramService(chats={list(self.settings.allowed_chats)})"

    # -- life cycle ----------------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="telegram", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_SECONDS):
            self.stop()  # the bot does not stop a service that did not start: end its thread here
            raise RuntimeError(f"Telegram did not answer within {START_SECONDS:.0f} s")
        if self._failure is not None:
            # not chained: python-telegram-bot puts the token in the text of InvalidToken
            raise RuntimeError(f"Telegram refused to start: {self._why(self._failure)}") from None
        self.bot.chat = self
        log.info("telegram control running", chats=list(self.settings.allowed_chats))
        if any(url.startswith("tgram://") for url in self.bot.config.notifications.urls):
            log.warning(
                "notifications.urls has a tgram:// URL as well: a chat there gets each prompt twice, once "
                "without buttons; drop the URL if it is one of telegram.allowed_chats"
            )

    def stop(self) -> None:
        """Stop polling (the update in hand is finished first) and close the connection pool."""
        if self.bot.chat is self:
            self.bot.chat = None
        self.flush(timeout=10)
        if self._loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed: nothing left to stop
                self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=15)
        self._thread = None

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        app = self._application()
        self._app = app
        try:
            await app.initialize()  # getMe: a wrong token fails here
            await app.start()
            await app.updater.start_polling(  # type: ignore[union-attr]
                timeout=self.settings.poll_seconds,
                allowed_updates=["message", "callback_query"],
                error_callback=self._polling_error,
            )
        except BaseException as exc:  # noqa: BLE001 - reported by start() in the bot's thread
            self._failure = exc
            self._ready.set()
            if app.running:
                await _quietly(app.stop())
            await _quietly(app.shutdown())
            return
        self._ready.set()
        await self._stopping.wait()
        await _quietly(app.updater.stop())  # type: ignore[union-attr]
        await _quietly(app.stop())
        await _quietly(app.shutdown())
        log.info("telegram control stopped")

    def _application(self) -> Application:
        root = self.settings.api_root
        app = (
            ApplicationBuilder()
            .token(self._token)
            .base_url(f"{root}/bot")
            .base_file_url(f"{root}/file/bot")
            .build()
        )
        app.add_handler(TypeHandler(Update, self._gate), group=-1)
        app.add_handler(CommandHandler("status", self._status))
        app.add_handler(CommandHandler("approve", self._approve))
        app.add_handler(CommandHandler("reject", self._reject))
        app.add_handler(CommandHandler("halt", self._halt))
        app.add_handler(CommandHandler("resume", self._resume))
        app.add_handler(CallbackQueryHandler(self._button))
        app.add_handler(MessageHandler(filters.TEXT, self._help))
        app.add_error_handler(self._failed)
        return app

    # -- handlers ------------------------------------------------------------------------------------------
    async def _gate(self, update: Update, _context: Context) -> None:
        """Runs before every handler: updates from other chats stop here, logged and audited."""
        chat = update.effective_chat
        if chat is not None and chat.id in self.settings.allowed_chats:
            return
        message = update.effective_message
        what = "button" if update.callback_query else ((message.text or "")[:40] if message else "update")
        user = update.effective_user
        await asyncio.to_thread(
            self.control.refuse, chat.id if chat else None, user.id if user else None, what
        )
        raise ApplicationHandlerStop

    async def _status(self, update: Update, _context: Context) -> None:
        await _reply(update, await asyncio.to_thread(self.control.status))

    async def _approve(self, update: Update, context: Context) -> None:
        if not context.args:
            await _reply(update, "Usage: /approve PLAN_ID (the ids are in /status)")
            return
        reply = await asyncio.to_thread(self.control.approve, context.args[0], _who(update), **_where(update))
        await _reply(update, reply)

    async def _reject(self, update: Update, context: Context) -> None:
        if not context.args:
            await _reply(update, "Usage: /reject PLAN_ID [reason] (the ids are in /status)")
            return
        reason = " ".join(context.args[1:])[:300]
        reply = await asyncio.to_thread(
            self.control.reject, context.args[0], _who(update), reason, **_where(update)
        )
        await _reply(update, reply)

    async def _halt(self, update: Update, context: Context) -> None:
        reason = " ".join(context.args or [])[:300]
        await _reply(update, await asyncio.to_thread(self.control.halt, _who(update), reason))

    async def _resume(self, update: Update, _context: Context) -> None:
        await _reply(update, await asyncio.to_thread(self.control.resume, _who(update)))

    async def _help(self, update: Update, _context: Context) -> None:
        await _reply(update, HELP)

    async def _button(self, update: Update, _context: Context) -> None:
        query = update.callback_query
        assert query is not None  # noqa: S101 - CallbackQueryHandler only runs for them
        parsed = parse_callback(query.data)
        if parsed is None:
            await query.answer("This button is not one of the bot's.")
            return
        reply, decided = await asyncio.to_thread(
            self.control.press, parsed[0], parsed[1], _who(update), **_where(update)
        )
        await query.answer(reply[:200])
        prompt = getattr(query.message, "text", None)
        if decided and prompt:
            await query.edit_message_text(decided_text(prompt, reply)[:MAX_TEXT])  # the buttons go
        else:
            await _reply(update, reply)

    async def _failed(self, update: object, context: Context) -> None:
        log.error("telegram update not handled", error=self._why(context.error))

    def _polling_error(self, error: TelegramError) -> None:
        """Getting updates failed (network, Telegram down): the library retries with backoff; say so."""
        log.warning("telegram: could not get updates; retrying", error=self._why(error))

    def _why(self, error: BaseException | None) -> str:
        """An error as text without the token: python-telegram-bot names it in some messages, and this text
        also goes into alerts, which no log redaction covers."""
        text = "unknown error" if error is None else f"{type(error).__name__}: {error}"
        return text.replace(self._token, "<token>") if self._token else text

    # -- sending, from the bot's thread ----------------------------------------------------------------------
    def prompt(self, plan_id: str) -> None:
        """Send the approval prompt of a held plan to every allowed chat, with Approve / Reject buttons bound
        to the plan version shown."""
        plan = self.bot.store.get_plan(plan_id)
        if plan is None:
            return
        buttons = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        "Approve", callback_data=callback_data("approve", plan.content_hash)
                    ),
                    InlineKeyboardButton("Reject", callback_data=callback_data("reject", plan.content_hash)),
                ]
            ]
        )
        text = prompt_text(plan, self.bot.store.get_approval(plan_id), self.bot.base_url)
        self._submit(self._send(text, buttons, "prompt"))

    def alert(self, title: str, lines: Sequence[str]) -> None:
        self._submit(self._send("\n".join([f"rebalance-bot: {title}", *lines]), None, "alert"))

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every message handed over so far has been sent or given up on; False on timeout."""
        done, pending = concurrent.futures.wait(list(self._sending), timeout=timeout)
        return not pending

    def _submit(self, coroutine: Coroutine[Any, Any, None]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed() or not self._ready.is_set():
            coroutine.close()
            log.error("telegram message not sent: the telegram service is not running")
            return
        future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        self._sending.add(future)
        future.add_done_callback(self._sending.discard)

    async def _send(self, text: str, markup: InlineKeyboardMarkup | None, topic: str) -> None:
        """To each allowed chat; a failure is logged, never raised into the bot."""
        for chat_id in self.settings.allowed_chats:
            error = await self._deliver(chat_id, text[:MAX_TEXT], markup)
            if error is None:
                log.info("telegram message sent", topic=topic, chat_id=chat_id)
            else:
                log.error("telegram message not delivered", topic=topic, chat_id=chat_id, error=error)

    async def _deliver(self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None) -> str | None:
        """Send, retrying network errors and flood waits (a prompt sent twice is better than one lost);
        None when sent, else why not."""
        assert self._app is not None  # noqa: S101 - _submit only runs once the application started
        error = "not attempted"
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                await self._app.bot.send_message(chat_id, text, reply_markup=markup)
                return None
            except RetryAfter as exc:  # Telegram's flood control says how long to wait
                error = self._why(exc)
                await asyncio.sleep(_seconds(exc))
            except NetworkError as exc:
                error = self._why(exc)
                if attempt < SEND_ATTEMPTS:
                    await asyncio.sleep(attempt)
            except TelegramError as exc:  # refused (chat not found, bot blocked...): trying again won't help
                return self._why(exc)
        return error


# -- helpers ------------------------------------------------------------------------------------------


async def _reply(update: Update, text: str) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(text[:MAX_TEXT])


def _who(update: Update) -> str:
    """The person, as the audit trail names them: their @username, else their name."""
    user = update.effective_user
    if user is None:
        return "telegram user"
    return f"@{user.username}" if user.username else (user.full_name or f"telegram user {user.id}")


def _where(update: Update) -> dict[str, Any]:
    """The audit event's context: which chat and which Telegram account decided."""
    chat, user = update.effective_chat, update.effective_user
    return {"chat_id": chat.id if chat else None, "telegram_user_id": user.id if user else None}


def _seconds(flood: RetryAfter) -> float:
    """The wait a flood error asks for: seconds (int) before python-telegram-bot 23, a timedelta after;
    reading it warns about that change, which is handled here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        wait = flood.retry_after
    return wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait)


async def _quietly(step: Coroutine[Any, Any, Any]) -> None:
    """A shutdown step that fails (e.g. the network is gone) must not keep the others from running."""
    try:
        await step
    except Exception as exc:  # noqa: BLE001
        log.warning("telegram: shutdown step failed", error=type(exc).__name__)
