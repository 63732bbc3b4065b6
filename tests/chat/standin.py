"""A local stand-in of the Telegram Bot API, at the network boundary: python-telegram-bot on the bot's side
is the real library, pointed here with ``telegram.base_url``.

It implements the methods the library calls (getMe, deleteWebhook, getUpdates with a long poll, sendMessage,
editMessageText, answerCallbackQuery) the way the Bot API does: ``POST /bot<token>/<method>`` with form or
JSON parameters, answered ``{"ok": true, "result": ...}``; a wrong token gets 401 as from Telegram. A test
plays the people in the chats by injecting updates (a message, a button press) and reads what the bot sent.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bot.web.server import WebServer

BOT_USER = {"id": 424242, "is_bot": True, "first_name": "Rebalance", "username": "rebalance_test_bot"}
JSON_FIELDS = {"reply_markup", "allowed_updates", "reply_parameters", "entities", "commands"}
MAX_POLL_SECONDS = 2.0


class BotApiStandIn:
    """The Bot API for one bot token, with a recorder of every call."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.sent: list[dict[str, Any]] = []
        """Messages the bot sent (sendMessage), as stored: later edits change them in place."""
        self.answers: list[dict[str, Any]] = []
        self.refused_tokens = 0
        self.faults: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        """Per method, answers to give instead of the next calls (status, body), for outages and refusals."""
        self._updates: list[dict[str, Any]] = []
        self._next_update = 1
        self._next_message = 1
        self._lock = threading.Lock()
        self.server = WebServer(self._app())

    # -- running -------------------------------------------------------------------------------------------
    def start(self) -> BotApiStandIn:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url

    def fail_next(self, method: str, status: int, description: str, **parameters: Any) -> None:
        """Answer the next call of ``method`` with an error, as Telegram does (e.g. 429 with retry_after)."""
        body: dict[str, Any] = {"description": description}
        if parameters:
            body["parameters"] = parameters
        with self._lock:
            self.faults.setdefault(method, []).append((status, body))

    # -- the people in the chats ---------------------------------------------------------------------------
    def say(self, chat_id: int, text: str, user_id: int | None = None, username: str = "alice") -> None:
        """A message typed in ``chat_id`` (a command when it starts with /)."""
        message = self._message(chat_id, text, _user(user_id or chat_id, username))
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        self._push({"message": message})

    def press(self, message: dict[str, Any], button: str, user_id: int | None = None, username: str = "alice",
              chat_id: int | None = None) -> str:  # fmt: skip
        """Press the button labelled ``button`` under ``message`` (one the bot sent); ``chat_id`` overrides
        the chat the press comes from. Returns the callback query id."""
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        data = next(b["callback_data"] for row in rows for b in row if b["text"] == button)
        return self.press_data(message, data, user_id, username, chat_id)

    def press_data(self, message: dict[str, Any], data: str, user_id: int | None = None,
                   username: str = "alice", chat_id: int | None = None) -> str:  # fmt: skip
        shown = {**message, "chat": {**message["chat"], "id": chat_id or message["chat"]["id"]}}
        with self._lock:
            query_id = f"q{self._next_update}"
        query = {
            "id": query_id,
            "from": _user(user_id or shown["chat"]["id"], username),
            "chat_instance": "ci",
            "message": shown,
            "data": data,
        }
        self._push({"callback_query": query})
        return query_id

    # -- what the bot did ----------------------------------------------------------------------------------
    def to_chat(self, chat_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self.sent if m["chat"]["id"] == chat_id]

    def answer_to(self, query_id: str) -> dict[str, Any] | None:
        with self._lock:
            return next((a for a in self.answers if a.get("callback_query_id") == query_id), None)

    def method_calls(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [params for name, params in self.calls if name == method]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
        """Wait (wall time: the network, not the market) until ``predicate`` returns something truthy."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"not reached in {timeout} s; calls: {[c[0] for c in self.calls][-20:]}")
            time.sleep(0.02)

    def wait_reply(self, chat_id: int, after: int, contains: str = "") -> dict[str, Any]:
        """The first message to ``chat_id`` beyond the first ``after`` ones (containing ``contains``)."""
        return self.wait_for(
            lambda: next((m for m in self.to_chat(chat_id)[after:] if contains in m["text"]), None)
        )

    # -- the API -------------------------------------------------------------------------------------------
    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/bot{token}/{method}")
        async def call(token: str, method: str, request: Request) -> JSONResponse:
            if token != self.token:
                self.refused_tokens += 1
                return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
            params = await _params(request)
            with self._lock:
                self.calls.append((method, params))
                fault = self.faults.get(method, []).pop(0) if self.faults.get(method) else None
            if fault is not None:
                return JSONResponse({"ok": False, "error_code": fault[0], **fault[1]}, fault[0])
            handler = getattr(self, f"_api_{method}", None)
            if handler is None:
                return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
            result = await handler(params) if method == "getUpdates" else handler(params)
            return JSONResponse({"ok": True, "result": result})

        return app

    def _api_getMe(self, _params: dict) -> dict:  # noqa: N802 - the API's method names
        return BOT_USER

    def _api_deleteWebhook(self, _params: dict) -> bool:  # noqa: N802
        return True

    async def _api_getUpdates(self, params: dict) -> list[dict]:  # noqa: N802
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), MAX_POLL_SECONDS)
        while True:
            with self._lock:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]  # confirmed: gone
                ready = list(self._updates)
            if ready or time.monotonic() >= deadline:
                return ready
            await asyncio.sleep(0.02)

    def _api_sendMessage(self, params: dict) -> dict:  # noqa: N802
        message = self._message(int(params["chat_id"]), params["text"], BOT_USER)
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        with self._lock:
            self.sent.append(message)
        return message

    def _api_editMessageText(self, params: dict) -> dict:  # noqa: N802
        with self._lock:
            message = next(
                m
                for m in self.sent
                if m["message_id"] == int(params["message_id"]) and m["chat"]["id"] == int(params["chat_id"])
            )
            message["text"] = params["text"]
            message.pop("reply_markup", None)
            if params.get("reply_markup"):
                message["reply_markup"] = params["reply_markup"]
            message["edited"] = True
        return message

    def _api_answerCallbackQuery(self, params: dict) -> bool:  # noqa: N802
        with self._lock:
            self.answers.append(params)
        return True

    # -- helpers -------------------------------------------------------------------------------------------
    def _message(self, chat_id: int, text: str, sender: dict) -> dict[str, Any]:
        with self._lock:
            message_id = self._next_message
            self._next_message += 1
        chat = {"id": chat_id, "type": "private" if chat_id > 0 else "group", "title": "chat"}
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": sender,
            "text": text,
        }

    def _push(self, update: dict[str, Any]) -> None:
        with self._lock:
            self._updates.append({"update_id": self._next_update, **update})
            self._next_update += 1


def _user(user_id: int, username: str) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": username.title(), "username": username}


async def _params(request: Request) -> dict[str, Any]:
    """The call's parameters: python-telegram-bot posts a form whose complex values are JSON text."""
    body = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        return json.loads(body or b"{}")
    params: dict[str, Any] = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
    for key in JSON_FIELDS & params.keys():
        params[key] = json.loads(params[key])
    return params
