"""A per-key request budget shared by every worker of the fleet: a token bucket row in PostgreSQL.

Alpaca allows 200 requests a minute per key, and with the Broker API one key serves every customer account,
so the households of a fleet spend one budget from many processes on many machines. The bucket lives in the
state database the fleet already shares (:data:`bot.fleet.tables.rate_buckets`), not in the Dask scheduler:
it then holds across passes, scheduler restarts and several fleets on one key, needs no extra service, and a
worker killed mid-request loses nothing (its taken token is simply spent). A token is one atomic ``UPDATE``
on the server's own clock (``clock_timestamp()``), so the machines' clocks need not agree.

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
    UPDATE fleet_rate_buckets
    SET tokens = LEAST(:cap, tokens + EXTRACT(EPOCH FROM clock_timestamp() - updated_at) * :rate) - 1,
        updated_at = clock_timestamp()
    WHERE key = :key
      AND LEAST(:cap, tokens + EXTRACT(EPOCH FROM clock_timestamp() - updated_at) * :rate) >= 1
    RETURNING tokens
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
    ) -> None:
        self.db = db
        self.key = key_hash(key_id)
        self.capacity = max(1.0, per_minute / 4)
        self.rate = (per_minute - self.capacity) / 60 if per_minute > self.capacity else per_minute / 60
        self.sleep = sleep
        self.waited = 0.0
        """Seconds this process spent waiting for tokens of this key (for the benchmark and the log)."""
        ensure_tables(db)
        with db.engine.begin() as conn:
            conn.execute(_CREATE, self._params())

    def _params(self) -> dict[str, object]:
        return {"key": self.key, "cap": self.capacity, "rate": self.rate}

    def take(self) -> None:
        """One token: at once if the bucket has one, else after sleeping until it should."""
        while True:
            with self.db.engine.begin() as conn:
                if conn.execute(_TAKE, self._params()).first() is not None:
                    return
                level = conn.execute(_LEVEL, self._params()).scalar() or 0.0
            pause = max((1 - float(level)) / self.rate, 0.005)
            self.waited += pause
            self.sleep(pause)
