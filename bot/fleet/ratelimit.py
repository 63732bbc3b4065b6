"""A per-key request budget shared by every worker of the fleet: a token bucket row in PostgreSQL.

Alpaca allows 200 requests a minute per key, and with the Broker API one key serves every customer account,
so the households of a fleet spend one budget from many processes on many machines. The bucket lives in the
state database the fleet already shares (:data:`bot.fleet.tables.rate_buckets`), not in the Dask scheduler:
it then holds across passes, scheduler restarts and several fleets on one key, needs no extra service, and a
worker killed mid-request loses nothing (its taken tokens are simply spent). Tokens are taken a few at a time
(:data:`BATCH`) by one atomic ``UPDATE`` on the server's own clock (``clock_timestamp()``), so the machines'
clocks need not agree.

A bucket of capacity C refilled at r tokens a second lets through at most C + 60 r requests in any 60
seconds; C is a quarter of the limit and r = (limit - C) / 60, so no minute window ever exceeds the limit
while bursts still go at once: a household of four accounts reads in a few dozen requests, more than a tenth
of the limit (20), which made every such visit wait for refills on a key it had to itself.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from sqlalchemy import text

from bot.fleet.tables import ensure_tables
from bot.state.db import Database

_TAKE = text(
    """
    WITH bucket AS (
        SELECT LEAST(:cap, tokens + EXTRACT(EPOCH FROM clock_timestamp() - updated_at) * :rate) AS level
        FROM fleet_rate_buckets WHERE key = :key FOR UPDATE
    )
    UPDATE fleet_rate_buckets
    SET tokens = bucket.level - LEAST(:want, FLOOR(bucket.level)), updated_at = clock_timestamp()
    FROM bucket
    WHERE fleet_rate_buckets.key = :key AND bucket.level >= 1
    RETURNING LEAST(:want, FLOOR(bucket.level))
    """
)
_LEVEL = text(
    "SELECT LEAST(:cap, tokens + EXTRACT(EPOCH FROM clock_timestamp() - updated_at) * :rate)"
    " FROM fleet_rate_buckets WHERE key = :key"
)
_CREATE = text(
    "INSERT INTO fleet_rate_buckets (key, tokens, updated_at) VALUES (:key, :cap, clock_timestamp())"
    " ON CONFLICT (key) DO NOTHING"
)


BATCH = 5
"""Tokens a process takes from the bucket in one round trip (when the bucket has them): a request then
costs a database round trip one time in five, not every time. Tokens taken are spent or lost, never
returned, so no minute window can exceed the limit; a process holds at most four unspent."""


def key_hash(key_id: str) -> str:
    """The bucket's name for a key: a hash, so the database never holds a key id."""
    return hashlib.sha256(key_id.encode()).hexdigest()[:24]


class KeyBudget:
    """The bucket of one broker key; :meth:`take` blocks until a request may be sent."""

    def __init__(
        self,
        db: Database,
        key_id: str,
        per_minute: int,
        sleep: Callable[[float], None] = time.sleep,
        batch: int = BATCH,
    ) -> None:
        self.db = db
        self.key = key_hash(key_id)
        self.capacity = max(1.0, per_minute / 4)
        self.rate = (per_minute - self.capacity) / 60 if per_minute > self.capacity else per_minute / 60
        self.sleep = sleep
        self.batch = max(1, batch)
        self.held = 0
        """Tokens this process took from the bucket and has not spent yet."""
        self.waited = 0.0
        """Seconds this process spent waiting for tokens of this key (for the benchmark and the log)."""
        ensure_tables(db)
        with db.engine.begin() as conn:
            conn.execute(_CREATE, self._params())

    def _params(self) -> dict[str, object]:
        return {"key": self.key, "cap": self.capacity, "rate": self.rate, "want": self.batch}

    def take(self) -> None:
        """One token: from this process's own few if it has one, else from the bucket (up to ``batch`` at
        once), else after sleeping until the bucket should have one."""
        if self.held > 0:
            self.held -= 1
            return
        while True:
            with self.db.engine.begin() as conn:
                taken = conn.execute(_TAKE, self._params()).scalar()
                if taken is not None:
                    self.held = int(taken) - 1
                    return
                level = conn.execute(_LEVEL, self._params()).scalar() or 0.0
            pause = max((1 - float(level)) / self.rate, 0.005)
            self.waited += pause
            self.sleep(pause)
