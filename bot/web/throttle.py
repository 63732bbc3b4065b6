"""Slow down whoever guesses the dashboard's access token: failures are counted per source address.

The token is long and random, so guessing it is hopeless - as long as guesses are slow. Without a limit a
client made 100 guesses in 0.3 s and every one of them wrote a warning, so the same client also pushed
everything useful out of the dashboard's log tail. Here:

- a source may fail ``free`` times; after that it is locked out for ``base`` seconds, doubling with every
  further failure up to ``ceiling`` (exponential back-off);
- while locked out, its requests are answered 429 with ``Retry-After`` without looking at the token at all
  (so a lock-out cannot be used to keep testing guesses);
- a source's failures are logged once per episode (at its first failure), never once per attempt;
- a success from the source, or ``forget_after`` quiet seconds, clears its record.

A "source" is the peer address. Behind a reverse proxy every client has the proxy's address, so a guesser
then locks out everyone for a while: the safe side, since a running bot does not need the dashboard.
At most ``max_sources`` addresses are remembered (the oldest are dropped), so a flood of addresses cannot
grow memory without bound.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger(__name__)


@dataclass
class _Record:
    failures: int = 0
    locked_until: float = 0.0
    last: float = 0.0
    logged: bool = False


class FailureThrottle:
    """Per-source failure counting with exponential lock-out. Thread-safe (routes run on a thread pool)."""

    def __init__(
        self,
        free: int = 5,
        base: float = 1.0,
        ceiling: float = 900.0,
        forget_after: float = 3600.0,
        max_sources: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free = free
        self.base = base
        self.ceiling = ceiling
        self.forget_after = forget_after
        self.max_sources = max_sources
        self.clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, source: str) -> float:
        """Seconds ``source`` must still wait (0: it may try now)."""
        with self._lock:
            record = self._current(source)
            return 0.0 if record is None else max(0.0, record.locked_until - self.clock())

    def failed(self, source: str, what: str) -> None:
        """Count a failure of ``source`` (``what``: sign-in, bearer token) and lock it out past ``free``."""
        now = self.clock()
        with self._lock:
            record = self._current(source) or _Record()
            record.failures += 1
            record.last = now
            self._records[source] = record
            self._records.move_to_end(source)
            while len(self._records) > self.max_sources:
                self._records.popitem(last=False)
            over = record.failures - self.free
            if over > 0:
                record.locked_until = now + min(self.ceiling, self.base * 2 ** (over - 1))
            if record.logged:
                return
            record.logged = True
        log.warning(
            f"dashboard {what} failed; further failures from this source are not logged one by one, and "
            f"after {self.free} it is locked out for a delay that doubles with each further failure",
            source=source,
        )

    def succeeded(self, source: str) -> None:
        with self._lock:
            self._records.pop(source, None)

    def _current(self, source: str) -> _Record | None:
        record = self._records.get(source)
        if record is not None and self.clock() - record.last > self.forget_after:
            del self._records[source]
            return None
        return record
