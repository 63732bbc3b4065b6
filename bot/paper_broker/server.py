"""Starting the paper broker: from the command line, or in-process on a free port for the demo and tests.

``PaperBroker`` wires data, calendar, market, store, engine and HTTP app together and runs uvicorn in a
background thread. Time either stands still until a caller steps it (``clock.mode = "manual"``, what tests
use) or runs at a configurable speed (``"speed"``: by default a trading session in ten wall seconds and the
night in one), driven by a small thread that only ever calls ``engine.advance_to``.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

import uvicorn
from pydantic import BaseModel, ConfigDict, Field

from bot.paper_broker.accounts import AccountsFile, default_accounts, load_accounts
from bot.paper_broker.app import create_app
from bot.paper_broker.calendar import TradingCalendar
from bot.paper_broker.engine import PaperBrokerEngine
from bot.paper_broker.faults import FaultConfig, FaultInjector
from bot.paper_broker.market import MarketConfig, SimMarket
from bot.paper_broker.marketdata import MarketData
from bot.paper_broker.matching import MatchingConfig
from bot.paper_broker.store import BrokerStore


class ClockConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    mode: Literal["manual", "speed"] = "manual"
    start: datetime | date = date(2020, 1, 2)
    """Simulated start: a date means 09:30 New York time that day (or the next session's open)."""
    session_seconds: float = Field(default=10.0, gt=0)
    """Wall seconds one regular trading session lasts in speed mode."""
    closed_seconds: float = Field(default=1.0, ge=0)
    """Wall seconds the closed time between two sessions lasts in speed mode."""
    tick_seconds: float = Field(default=0.02, gt=0)


class ServerConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    """0 picks a free port."""
    database: Path | None = None
    """SQLite file for durable state; None keeps state in memory only."""
    reset: bool = False
    accounts: AccountsFile = Field(default_factory=default_accounts)
    data_dir: Path | None = None
    """A directory of daily CSVs in the bundled layout; None uses the bundled real data."""
    symbols: tuple[str, ...] | None = None
    clock: ClockConfig = ClockConfig()
    market: dict = Field(default_factory=dict)
    """MarketConfig fields: default_spread_bps (unset: the calibrated table), spread_bps, seed."""
    matching: dict = Field(default_factory=dict)
    """MatchingConfig fields: impact_coefficient, impact_half_life_minutes, max_minute_participation, ..."""
    faults: FaultConfig = FaultConfig()


@dataclass
class _SpeedDriver:
    """Moves simulated time with wall time: a session in `session_seconds`, a night in `closed_seconds`."""

    engine: PaperBrokerEngine
    config: ClockConfig
    stop: threading.Event

    def run(self) -> None:
        last = time.monotonic()
        while not self.stop.wait(self.config.tick_seconds):
            now = time.monotonic()
            self.advance_by_wall(now - last)
            last = now

    def advance_by_wall(self, wall_seconds: float) -> None:
        engine = self.engine
        remaining = wall_seconds
        while remaining > 1e-9:
            t = engine.now
            session = engine.calendar.session_at(t)
            if session is not None:
                span_end, span = session.close, (session.close - session.open).total_seconds()
                wall_span = self.config.session_seconds
            else:
                span_end = engine.calendar.next_open(t)
                previous_close = _previous_close(engine, t)
                span = (span_end - previous_close).total_seconds()
                wall_span = self.config.closed_seconds
            rate = span / wall_span if wall_span > 0 else float("inf")
            left = (span_end - t).total_seconds()
            wall_needed = left / rate if rate != float("inf") else 0.0
            if wall_needed >= remaining:
                engine.advance_to(t + timedelta(seconds=remaining * rate))
                return
            engine.advance_to(span_end)
            remaining -= wall_needed


def _previous_close(engine: PaperBrokerEngine, t: datetime) -> datetime:
    session = engine.calendar.previous_session(t.date() + timedelta(days=1))
    while session is not None and session.close > t:
        session = engine.calendar.previous_session(session.date)
    return session.close if session is not None else t - timedelta(hours=17, minutes=30)


class PaperBroker:
    """An in-process paper broker; point alpaca-py at it with ``url_override=broker.url``."""

    def __init__(
        self,
        config: ServerConfig | None = None,
        wall_clock: Callable[[], float] = time.time,
        *,
        data: MarketData | None = None,
        calendar: TradingCalendar | None = None,
    ) -> None:
        """``wall_clock`` feeds only the HTTP rate limiter (a wall-time concern); tests pass a stepped one.
        ``data`` and ``calendar`` let many short-lived brokers share one read-only copy."""
        self.config = config or ServerConfig()
        if data is None:
            data = (
                MarketData.from_dir(self.config.data_dir, self.config.symbols)
                if self.config.data_dir
                else MarketData.bundled(self.config.symbols)
            )
        calendar = calendar or TradingCalendar.for_span(data.first_day(), data.last_day())
        self.market = SimMarket(data, calendar, MarketConfig(**self.config.market))
        self.store = BrokerStore(self.config.database)
        if self.config.reset:
            self.store.reset()
        matching = dict(self.config.matching)
        if "non_fractionable" in matching:
            matching["non_fractionable"] = frozenset(matching["non_fractionable"])
        self.engine = PaperBrokerEngine(
            self.market,
            self.store,
            self.config.accounts,
            self._start_time(calendar),
            MatchingConfig(**matching),
        )
        self.faults = FaultInjector(self.config.faults, clock=wall_clock)
        self.app = create_app(self.engine, self.faults)
        self._market_data_pool = self.app.state.market_data_pool
        self.trade_updates = self.app.state.trade_updates
        """Kept here: callers may wrap ``self.app`` in middleware of their own before ``start``."""
        self._server: uvicorn.Server | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self.port: int | None = None

    def _start_time(self, calendar: TradingCalendar) -> datetime:
        start = self.config.clock.start
        if isinstance(start, datetime):
            return start.astimezone(UTC) if start.tzinfo else start.replace(tzinfo=UTC)
        session = calendar.session(start)
        if session is None:
            midnight = datetime(start.year, start.month, start.day, tzinfo=UTC)
            return calendar.next_open(midnight)
        return session.open

    @property
    def url(self) -> str:
        """What to pass as alpaca-py's ``url_override`` (no ``/v2``, no trailing slash)."""
        return f"http://{self.config.host}:{self.port}"

    @property
    def stream_url(self) -> str:
        """What to pass as alpaca-py ``TradingStream``'s ``url_override``: the trade_updates websocket."""
        return f"ws://{self.config.host}:{self.port}/stream"

    def start(self) -> PaperBroker:
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only when the listening
        # socket says it is TCP; without it every keep-alive response stalls ~40 ms on Nagle + delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.config.host, self.config.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="off", proxy_headers=False
        )
        self._server = uvicorn.Server(config)
        thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="paper-broker"
        )
        thread.start()
        self._threads.append(thread)
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("paper broker did not start")
            time.sleep(0.01)
        if self.config.clock.mode == "speed":
            driver = _SpeedDriver(self.engine, self.config.clock, self._stop)
            speed = threading.Thread(target=driver.run, daemon=True, name="paper-broker-clock")
            speed.start()
            self._threads.append(speed)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.should_exit = True
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()
        self._market_data_pool.shutdown()
        with contextlib.suppress(Exception):
            self.store.close()

    def serve_forever(self) -> None:
        """Block until SIGINT/SIGTERM, then stop cleanly (the CLI's ``paper-broker`` command)."""
        if self._server is None:
            self.start()
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        try:
            while not stop.is_set() and all(t.is_alive() for t in self._threads):
                stop.wait(0.5)
        finally:
            self.stop()

    def __enter__(self) -> PaperBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- conveniences for tests and the demo -----------------------------------------------------------------
    def advance(self, **delta: float) -> datetime:
        """Step simulated time, e.g. ``broker.advance(minutes=5)``; returns the new time."""
        self.engine.advance(timedelta(**delta))
        return self.engine.now

    def advance_to(self, when: datetime) -> datetime:
        self.engine.advance_to(when)
        return self.engine.now

    @property
    def now(self) -> datetime:
        return self.engine.now


def load_accounts_file(path: Path | None) -> AccountsFile:
    return load_accounts(path) if path is not None else default_accounts()
