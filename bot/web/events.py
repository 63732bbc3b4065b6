"""Server-sent events for an open dashboard: a new fill, plan, decision or equity point shows with no reload.

The dashboard lives in the trading process, so a stream must cost next to nothing while nothing happens:

- Each open page holds one stream (``EventSource`` on ``/events``), and at most ``max_streams`` are open at
  once (each holds one of the guard's request slots); the one past that gets 503 and the browser retries.
- Once a second the stream compares a fingerprint of the state that the page shows (a few indexed SELECTs of
  plan, order, approval and flag statuses, the fill count and the history's last day: no broker request) with
  the one the page was drawn from. Only when it changed does the server render the page's parts again (and
  read the broker once) and send them, with the charts' data, as one ``refresh`` event.
- Every ``heartbeat`` seconds it sends a ``clock`` event (the market time, for the countdowns on pending
  decisions), and sooner when the market clock jumped ahead of the wall clock (a stepped or sped-up paper
  broker), so a countdown never runs on a stale time. Writing it is also how a closed tab is noticed: the
  stream ends at the next write, or sooner when the server sees the disconnect; a session signed out ends
  it too.
- ``close()`` (the server stopping) ends every stream within a poll, so shutdown never waits on an open page.

Plain ``StreamingResponse`` with ``text/event-stream`` is enough (the format is three lines); the browser's
own ``EventSource`` reconnects, so no client library is needed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from bot.state.schema import approvals, equity_history, fills, flags, orders, plans

if TYPE_CHECKING:
    from bot.state.store import StateStore

MAX_STREAMS = 4
POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
CLOCK_SLACK = 5.0
"""Seconds the market clock may run ahead of the page's reckoning before a ``clock`` event corrects it."""
RETRY_MS = 5000
"""How long a browser waits before it reconnects a dropped stream."""

_FINGERPRINT_QUERIES = (
    select(plans.c.plan_id, plans.c.status).order_by(plans.c.created_at.desc()).limit(30),
    select(orders.c.client_order_id, orders.c.status, orders.c.filled_qty)
    .order_by(orders.c.created_at.desc())
    .limit(50),
    select(func.count()).select_from(fills),
    select(approvals.c.plan_id, approvals.c.status, approvals.c.expires_at)
    .order_by(approvals.c.requested_at.desc())
    .limit(30),
    select(func.count(), func.max(equity_history.c.day)).select_from(equity_history),
    select(flags.c.name, flags.c.value).order_by(flags.c.name),
)


def fingerprint(store: StateStore) -> str:
    """A short digest of what the dashboard shows from the state: equal digests, nothing to redraw."""
    digest = hashlib.sha256()
    with store.db.read() as conn:  # one read transaction: the six readings are of one moment
        for query in _FINGERPRINT_QUERIES:
            digest.update(repr([tuple(row) for row in conn.execute(query)]).encode())
    return digest.hexdigest()[:16]


def event(kind: str, data: Any) -> str:
    """One server-sent event (JSON data on one line)."""
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


class EventStreams:
    """The dashboard's open streams: bounded in number, all ended by :meth:`close`."""

    def __init__(
        self,
        max_streams: int = MAX_STREAMS,
        poll: float = POLL_SECONDS,
        heartbeat: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.max_streams = max_streams
        self.poll = poll
        self.heartbeat = heartbeat
        self.closing = threading.Event()
        self._open = 0
        self._lock = threading.Lock()

    @property
    def open(self) -> int:
        return self._open

    def close(self) -> None:
        """End every stream (at its next poll) and refuse new ones: the server is stopping."""
        self.closing.set()

    def reserve(self) -> bool:
        """Take a stream slot; False when all are taken or the server is stopping."""
        with self._lock:
            if self.closing.is_set() or self._open >= self.max_streams:
                return False
            self._open += 1
            return True

    def _release(self) -> None:
        with self._lock:
            self._open -= 1

    def response(self, events: AsyncIterator[str]) -> StreamingResponse:
        """``events`` as a ``text/event-stream`` response that gives its slot back however it ends (the
        client gone, the server stopping, an error)."""
        return _Stream(events, self._release)

    async def stream(
        self,
        since: str,
        version: Callable[[], str],
        render: Callable[[], dict[str, Any]],
        market_time: Callable[[], datetime | None],
        allowed: Callable[[], bool],
        disconnected: Callable[[], Any],
    ) -> AsyncIterator[str]:
        """The events for one page drawn at state ``since``. ``version``, ``render`` and ``allowed`` read
        the state (they run on the thread pool); ``disconnected`` is the request's awaitable check."""
        yield f"retry: {RETRY_MS}\n\n"
        seen = since
        beat_at = 0.0
        synced: tuple[float, datetime | None] = (0.0, None)
        while not self.closing.is_set():
            now = await run_in_threadpool(version)
            if now != seen:
                seen = now
                yield event("refresh", {**await run_in_threadpool(render), "version": now})
            market = market_time()
            if time.monotonic() - beat_at >= self.heartbeat or _jumped(synced, market):
                if not await run_in_threadpool(allowed):
                    yield event("signed-out", {})
                    return
                beat_at = time.monotonic()
                synced = (beat_at, market)
                yield event("clock", {"market_time": market.isoformat() if market else None})
            await asyncio.sleep(self.poll)
            if await disconnected():
                return


def _jumped(synced: tuple[float, datetime | None], market: datetime | None) -> bool:
    """True when the market clock is more than CLOCK_SLACK ahead of where the page reckons it (the time last
    sent plus the wall time since): stepped or sped up, so the page's countdowns need the new time now. A
    clock that stands still (a manual paper broker between steps) waits for the heartbeat."""
    at, sent = synced
    if sent is None or market is None:
        return False
    reckoned = sent.timestamp() + (time.monotonic() - at)
    return market.timestamp() - reckoned > CLOCK_SLACK


class _Stream(StreamingResponse):
    """A streaming response that runs ``release`` when it ends and closes its generator at once (an async
    generator left to the garbage collector would keep its slot until then)."""

    def __init__(self, events: AsyncIterator[str], release: Callable[[], None]) -> None:
        super().__init__(events, media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})
        self._events = events
        self._release_slot = release

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release_slot()
            aclose = getattr(self._events, "aclose", None)
            if aclose is not None:
                await aclose()
