"""The bot's one notion of time: a clock that follows the broker's.

Every time-dependent rule (is the market open, is a cycle due, has an order timed out, when does an approval
expire) reads ``now()`` from a clock injected into the bot. In production that clock follows the broker's
``/v2/clock``: between two observations it runs on at the rate the broker's time has been moving against
wall time. Against Alpaca that rate is 1; against the paper broker's accelerated market it is whatever the
broker runs at, so the paper broker's time drives the bot. Tests inject a clock that reads the paper broker's
simulated time directly and step that instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class BrokerFollowingClock:
    """Extrapolates the broker's time from its last reading, at the observed rate of broker vs wall time."""

    def __init__(self, wall: Callable[[], float] = time.monotonic, max_rate: float = 1e6) -> None:
        self._wall = wall
        self._max_rate = max_rate
        self._lock = threading.Lock()
        self._broker_time: datetime | None = None
        self._wall_time = 0.0
        self._was_open = False
        self.rate = 1.0

    def observe(self, broker_time: datetime, market_open: bool = True) -> None:
        """Record a fresh reading of the broker's clock and update the rate estimate (smoothed).

        Only readings taken while the market is open (now and at the previous reading) update the rate: an
        accelerated paper market may skip a night in a blink, and that rate says nothing about the session.
        """
        with self._lock:
            wall = self._wall()
            both_open = market_open and self._was_open
            self._was_open = market_open
            if both_open and self._broker_time is not None and wall > self._wall_time:
                elapsed_wall = wall - self._wall_time
                elapsed_broker = (broker_time - self._broker_time).total_seconds()
                if elapsed_broker >= 0 and elapsed_wall > 1e-3:
                    observed = min(max(elapsed_broker / elapsed_wall, 0.0), self._max_rate)
                    self.rate = 0.5 * self.rate + 0.5 * observed
            self._broker_time = broker_time
            self._wall_time = wall

    def now(self) -> datetime:
        with self._lock:
            if self._broker_time is None:
                raise RuntimeError("the broker's clock has not been read yet")
            return self._broker_time + timedelta(seconds=(self._wall() - self._wall_time) * self.rate)


class ManualClock:
    """A clock that moves only when told to: for tests of pure time rules."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, when: datetime) -> None:
        self._now = when
