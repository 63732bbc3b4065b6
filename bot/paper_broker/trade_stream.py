"""Alpaca's ``trade_updates`` websocket at ``/stream``: what alpaca-py's ``TradingStream`` connects to.

Why: a client that follows its orders through the stream (instead of, or before, polling) must be rehearsable
against the paper broker as against Alpaca. The protocol, as Alpaca documents it and alpaca-py 0.44 speaks it:

* the client authenticates first, with ``{"action": "authenticate", "data": {"key_id", "secret_key"}}`` (or
  the newer ``{"action": "auth", "key", "secret"}``); the reply is on the ``authorization`` stream, status
  ``authorized``, or ``unauthorized`` with Alpaca's message, after which the server closes the connection;
* ``{"action": "listen", "data": {"streams": ["trade_updates"]}}`` sets the streams listened to (an empty list
  stops them; ``unlisten`` removes the ones named) and is acknowledged on the ``listening`` stream;
* each order event of the account then arrives as ``{"stream": "trade_updates", "data": {"event",
  "execution_id", "order", "timestamp"}}`` with ``price``, ``qty`` and ``position_qty`` on fills; ``order`` is
  the order's REST JSON at that moment.

Frames are JSON in binary frames, as Alpaca's paper stream sends them (alpaca-py decodes either); a client
that opens with ``Content-Type: application/msgpack`` (Alpaca's switch) gets and sends MessagePack instead.

The engine calls ``TradeUpdates.publish`` under its lock from whichever thread steps it (an HTTP request,
the speed clock, a test); the order is serialised there, so each event shows the order as it was then, and
handed to each listening connection's event loop with ``call_soon_threadsafe``. Events reach a connection in
the order the engine made them. Each connection hears only its own account.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgpack
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from bot.paper_broker import errors
from bot.paper_broker.engine import PaperBrokerEngine
from bot.paper_broker.models import Account, Order
from bot.paper_broker.serialize import dec, order_json, ts

STREAM_PATH = "/stream"
STREAMS = frozenset({"trade_updates"})
MAX_BACKLOG = 10_000
"""Frames a connection may have waiting; a client that falls further behind is disconnected (code 1008)."""


@dataclass(eq=False)
class _Connection:
    """One authenticated websocket: its account, its codec and the frames waiting to be sent."""

    account_id: str
    msgpack: bool
    loop: asyncio.AbstractEventLoop
    outbox: asyncio.Queue = field(default_factory=asyncio.Queue)
    overflowed: bool = False

    def offer(self, message: dict[str, Any]) -> None:
        """Queue a frame (on the connection's own loop)."""
        if self.overflowed:
            return
        if self.outbox.qsize() >= MAX_BACKLOG:
            self.overflowed = True
            self.outbox.put_nowait(None)  # wakes the sender, which closes the connection
            return
        self.outbox.put_nowait(_encode(message, self.msgpack))


class TradeUpdates:
    """Fans the engine's order events out to each account's ``trade_updates`` listeners; thread-safe."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._listeners: dict[str, set[_Connection]] = {}

    def publish(self, event: str, order: Order, **execution: Decimal) -> None:
        """The engine's hook: one order event (``new``, ``fill``, ``canceled``...), ``execution`` being the
        fill's ``price``, ``qty`` and ``position_qty``. Never raises into the engine."""
        with self._changed:
            listeners = list(self._listeners.get(order.account_id, ()))
        if not listeners:
            return
        message = {"stream": "trade_updates", "data": trade_update(event, order, execution)}
        for connection in listeners:
            try:
                connection.loop.call_soon_threadsafe(connection.offer, message)
            except RuntimeError:  # its loop has closed: the server is stopping
                self._remove(connection)

    def wait_listening(self, account_id: str, timeout: float) -> bool:
        """Wait (wall time) until some connection of the account listens; for callers that must not miss
        the first event (tests, the demo)."""
        with self._changed:
            return self._changed.wait_for(lambda: bool(self._listeners.get(account_id)), timeout)

    def _add(self, connection: _Connection) -> None:
        with self._changed:
            self._listeners.setdefault(connection.account_id, set()).add(connection)
            self._changed.notify_all()

    def _remove(self, connection: _Connection) -> None:
        with self._changed:
            self._listeners.get(connection.account_id, set()).discard(connection)
            self._changed.notify_all()


def trade_update(event: str, order: Order, execution: dict[str, Decimal]) -> dict[str, Any]:
    """Alpaca's trade update payload for one event of ``order``."""
    data: dict[str, Any] = {
        "event": event,
        "execution_id": str(uuid.uuid4()),
        "order": order_json(order),
        "timestamp": ts(order.updated_at),
    }
    data.update({name: dec(value) for name, value in execution.items()})
    return data


def trade_stream_route(app: FastAPI, engine: PaperBrokerEngine, updates: TradeUpdates) -> None:
    """Serve ``/stream`` on ``app`` with ``updates`` (which the engine publishes to) behind it."""

    @app.websocket(STREAM_PATH)
    async def stream(websocket: WebSocket) -> None:
        await websocket.accept()
        wants_msgpack = "msgpack" in websocket.headers.get("content-type", "")
        try:
            account = await _authenticate(websocket, engine, wants_msgpack)
            if account is None:
                return
            connection = _Connection(account.id, wants_msgpack, asyncio.get_running_loop())
            sender = asyncio.create_task(_send_all(websocket, connection))
            try:
                await _serve_requests(websocket, connection, updates)
            finally:
                updates._remove(connection)  # noqa: SLF001 - this module's own registry
                sender.cancel()
        except WebSocketDisconnect:
            return


async def _authenticate(
    websocket: WebSocket, engine: PaperBrokerEngine, wants_msgpack: bool
) -> Account | None:
    """Read the first message: the account it authenticates, or None after refusing and closing."""
    message = _decode(await _receive(websocket))
    action = message.get("action") if isinstance(message, dict) else None
    key_id, secret_key = _credentials(message) if action in ("auth", "authenticate") else (None, None)
    try:
        if key_id is None or secret_key is None:
            raise errors.unauthorized()
        account = engine.authenticate(key_id, secret_key)  # as REST does: no lock, which would block the loop
    except errors.BrokerError:
        reason = (
            "access key verification failed"
            if key_id is not None and secret_key is not None
            else "must provide key_id and secret_key"
        )
        reply = {"action": action or "authenticate", "status": "unauthorized", "message": reason}
        await _send(websocket, {"stream": "authorization", "data": reply}, wants_msgpack)
        await websocket.close(code=1008, reason=reason)
        return None
    reply = {"action": "authenticate", "status": "authorized"}
    await _send(websocket, {"stream": "authorization", "data": reply}, wants_msgpack)
    return account


def _credentials(message: dict[str, Any]) -> tuple[str | None, str | None]:
    data = message.get("data") if isinstance(message.get("data"), dict) else {}
    key_id = message.get("key", data.get("key_id"))
    secret_key = message.get("secret", data.get("secret_key"))
    return (
        key_id if isinstance(key_id, str) else None,
        secret_key if isinstance(secret_key, str) else None,
    )


async def _serve_requests(websocket: WebSocket, connection: _Connection, updates: TradeUpdates) -> None:
    """Answer listen / unlisten until the client goes away."""
    streams: set[str] = set()
    while True:
        message = _decode(await _receive(websocket))
        action = message.get("action") if isinstance(message, dict) else None
        data = message.get("data") if isinstance(message, dict) else None
        named = data.get("streams") if isinstance(data, dict) else None
        if action not in ("listen", "unlisten") or not isinstance(named, list):
            connection.offer(
                {"stream": "error", "data": {"error": "expected listen or unlisten with data.streams"}}
            )
            continue
        wanted = {s for s in named if isinstance(s, str)} & STREAMS
        streams = wanted if action == "listen" else streams - wanted
        if "trade_updates" in streams:
            updates._add(connection)  # noqa: SLF001
        else:
            updates._remove(connection)  # noqa: SLF001
        connection.offer({"stream": "listening", "data": {"streams": sorted(streams)}})


async def _send_all(websocket: WebSocket, connection: _Connection) -> None:
    """The connection's only writer: frames in the order they were queued."""
    while True:
        frame = await connection.outbox.get()
        try:
            if frame is None or connection.overflowed:
                await websocket.close(code=1008, reason="too many unread messages")
                return
            await websocket.send_bytes(frame)
        except (WebSocketDisconnect, OSError, RuntimeError):
            return  # the client went away; the reader sees it too and cleans up


async def _receive(websocket: WebSocket) -> str | bytes:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    return message.get("bytes") or message.get("text") or b""


def _decode(frame: str | bytes) -> Any:
    """A client frame as JSON or MessagePack; anything unreadable is None (answered as an error)."""
    try:
        return json.loads(frame)
    except (ValueError, RecursionError):
        pass
    if isinstance(frame, bytes):
        try:
            return msgpack.unpackb(frame)
        except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
            return None
    return None


async def _send(websocket: WebSocket, message: dict[str, Any], wants_msgpack: bool) -> None:
    await websocket.send_bytes(_encode(message, wants_msgpack))


def _encode(message: dict[str, Any], wants_msgpack: bool) -> bytes:
    return msgpack.packb(message) if wants_msgpack else json.dumps(message).encode()
