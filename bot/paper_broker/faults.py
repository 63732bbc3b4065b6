"""Fault injection: the failures a bot meets on a real broker, on demand.

* a rate limit (Alpaca's 200 requests per minute per account) answered with 429 and ``X-RateLimit-*`` headers;
* bursts of 500/503 answers;
* slow responses (to exercise client timeouts);
* the hardest one: an order that is accepted (and booked) and then the connection is dropped before the
  response is sent, so the client cannot know whether its order exists.

Faults are chosen per run (``FaultConfig`` in the server config) and can be changed by tests at run time
(``FaultInjector.configure`` or ``PUT /_paper/faults``). Random faults draw from a seeded generator so a
failing run can be replayed; the ``*_next`` counters give tests exact, deterministic faults.

The rate limiter counts wall-clock minutes (it models Alpaca's HTTP front door, not the market), through an
injectable time function so tests can step it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field


class FaultConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rate_limit_per_minute: int | None = Field(default=200, ge=1)
    """Requests per minute per API key; None switches the limit off."""
    error_rate: float = Field(default=0.0, ge=0, le=1)
    """Probability that a request starts a burst of server errors."""
    error_burst_length: int = Field(default=3, ge=1)
    error_statuses: tuple[int, ...] = (500, 503)
    error_next: int = Field(default=0, ge=0)
    """Answer exactly the next N requests with a server error (deterministic, for tests)."""
    slow_rate: float = Field(default=0.0, ge=0, le=1)
    slow_seconds: float = Field(default=2.0, ge=0)
    slow_next: int = Field(default=0, ge=0)
    drop_after_accept_rate: float = Field(default=0.0, ge=0, le=1)
    """Probability that an accepted order's response is lost (the connection is dropped)."""
    drop_after_accept_next: int = Field(default=0, ge=0)
    """Drop the responses of exactly the next N accepted orders."""
    seed: int = 0


@dataclass
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_epoch: int


class FaultInjector:
    """Decides, request by request, whether a fault happens. Thread-safe."""

    def __init__(self, config: FaultConfig | None = None, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._windows: dict[str, tuple[int, int]] = {}
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self._burst_left = config.error_next
            self._slow_left = config.slow_next
            self._drop_left = config.drop_after_accept_next

    def rate(self, key: str) -> RateDecision | None:
        """Count one request for ``key`` in the current fixed one-minute window."""
        limit = self.config.rate_limit_per_minute
        if limit is None:
            return None
        with self._lock:
            now = self._clock()
            window_start, count = self._windows.get(key, (int(now), 0))
            if now - window_start >= 60:
                window_start, count = int(now), 0
            count += 1
            self._windows[key] = (window_start, count)
        return RateDecision(count <= limit, limit, max(limit - count, 0), window_start + 60)

    def server_error(self) -> int | None:
        """An HTTP status to answer with instead of serving the request, or None."""
        with self._lock:
            if (
                self._burst_left == 0
                and self.config.error_rate
                and self._rng.random() < self.config.error_rate
            ):
                self._burst_left = self.config.error_burst_length
            if self._burst_left > 0:
                self._burst_left -= 1
                return self._rng.choice(self.config.error_statuses)
        return None

    def delay(self) -> float:
        with self._lock:
            if self._slow_left > 0:
                self._slow_left -= 1
                return self.config.slow_seconds
            if self.config.slow_rate and self._rng.random() < self.config.slow_rate:
                return self.config.slow_seconds
        return 0.0

    def drop_accepted_order(self) -> bool:
        with self._lock:
            if self._drop_left > 0:
                self._drop_left -= 1
                return True
            rate = self.config.drop_after_accept_rate
            return bool(rate) and self._rng.random() < rate
