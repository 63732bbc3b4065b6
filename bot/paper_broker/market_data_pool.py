"""Where the paper broker's market-data requests run: off the event loop, without the engine's lock, and a
large page of bars not even in the broker's process.

Why a process: alpaca-py sends trading calls with no timeout, so they must not wait behind market data. Run
on threads, a large bars page still held the interpreter's lock (the GIL) that the trading routes need, and
Python hands it to a waiting thread only every 5 ms: ``GET /v2/account`` took 155 ms at the 99th percentile
while years of minute bars were paged (BENCHMARKS.md, issue 18). A page of at least `PROCESS_PAGE_BARS` bars
is therefore built and encoded in a worker process holding its own copy of the simulated market (a pure,
read-only function of data, calendar and config, so a copy answers exactly as the original); the broker only
forwards the bytes. Smaller pages, and the latest quotes and trades, cost less than starting that process
and stay on threads.

The worker starts on the first large page (most brokers, every short test's among them, never ask for one
and never pay its start-up, one to three seconds) with the ``spawn`` method: forking a process that runs
server threads could copy a lock some thread holds. It runs at a lower priority (`WORKER_NICENESS`) and
ignores Ctrl-C (the broker stops it). `MarketDataPool.shutdown`, which the broker calls when it stops,
stops it and waits for it; if the broker's process is killed instead, the worker sees its parent gone and
exits. A worker that died mid-page (killed from outside) is replaced on the next large page, and the page
it was building is built on a thread instead. Like every program that starts processes with ``spawn``, a
script that embeds the broker and asks it for large pages runs it under ``if __name__ == "__main__":`` (the
worker imports the script's main module; the ``rebalance-bot`` command, pytest and the scripts in
``scripts/`` do).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

import structlog

from bot.paper_broker.market import SimMarket

PROCESS_PAGE_BARS = 5_000
"""Pages expected to hold at least this many bars are built in the worker process (built on a thread, a page
of 10,000 minute bars holds the GIL for 25-55 ms; one of 5,000 for half that)."""
MARKET_DATA_THREADS = 4
WORKER_NICENESS = 10
"""The worker's scheduling priority is lowered by this much: on a busy machine the broker's own process (the
trading calls) gets the CPU first, bulk bar pages what is left."""

T = TypeVar("T")
log = structlog.get_logger(__name__)


class MarketDataPool:
    """The threads and the (lazily started) worker process that market-data requests run on."""

    def __init__(self, market: SimMarket) -> None:
        self.market = market
        self._threads = ThreadPoolExecutor(MARKET_DATA_THREADS, thread_name_prefix="paper-market-data")
        self._processes: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    async def in_thread(self, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)`` on one of the pool's threads."""
        return await asyncio.get_running_loop().run_in_executor(self._threads, work, *args)

    async def page(self, work: Callable[..., bytes], *args: Any, large: bool) -> bytes:
        """``work(market, *args)``: in the worker process when ``large``, else on a thread. Either way the
        event loop only waits (starting the worker, which blocks while it boots, happens on a thread)."""
        if not large:
            return await self.in_thread(work, self.market, *args)
        return await self.in_thread(self._in_process, work, args)

    def shutdown(self) -> None:
        """Stop taking work, stop the worker process and wait for it (a page in progress is finished, a
        fraction of a second): no process of the broker outlives its stop."""
        with self._lock:
            self._closed = True
            processes, self._processes = self._processes, None
        self._threads.shutdown(wait=False, cancel_futures=True)
        if processes is not None:
            processes.shutdown(wait=True, cancel_futures=True)

    def _in_process(self, work: Callable[..., bytes], args: tuple) -> bytes:
        pool = self._process_pool()
        if pool is None:  # shutting down: answer from here rather than start a worker nobody will stop
            return work(self.market, *args)
        try:
            return pool.submit(_in_worker, work, *args).result()
        except (BrokenProcessPool, OSError) as exc:  # it died (killed from outside) or could not start
            log.warning(
                "paper broker: market-data worker process died or could not start; building this page on a "
                "thread (the next large page starts a new worker)",
                error=repr(exc),
            )
            with self._lock:
                if self._processes is pool:
                    self._processes = None
            pool.shutdown(wait=False, cancel_futures=True)
            return work(self.market, *args)

    def _process_pool(self) -> ProcessPoolExecutor | None:
        with self._lock:
            if self._processes is None and not self._closed:
                self._processes = ProcessPoolExecutor(
                    1,  # large pages take turns: a second worker would cost another start-up and copy
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                    initargs=(self.market,),
                )
            return self._processes


_market: SimMarket | None = None
"""The worker process's copy of the market (set once, by `_start_worker`)."""


def _start_worker(market: SimMarket) -> None:
    global _market  # noqa: PLW0603 - one market per worker process, received once at its start
    _market = market
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(AttributeError, OSError):  # no os.nice on Windows
        os.nice(WORKER_NICENESS)
    threading.Thread(target=_exit_with_broker, daemon=True, name="exit-with-broker").start()


def _exit_with_broker() -> None:
    """Exit when the broker's process is gone without having stopped this worker (killed): its task queue
    never reports that (the worker holds both ends), the parent's sentinel pipe does."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        multiprocessing.connection.wait([parent.sentinel])
    os._exit(0)


def _in_worker(work: Callable[..., bytes], *args: Any) -> bytes:
    assert _market is not None, "the worker's market is set by its initializer"
    return work(_market, *args)
