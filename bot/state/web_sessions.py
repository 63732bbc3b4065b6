"""Dashboard sign-in sessions, kept server-side in the state database so that signing out really ends them.

A signed cookie alone cannot be taken back: whoever copied it could use it until it expired, sign-out or not.
So the cookie only names a session (a random id, signed so that garbage never reaches the database) and the
session itself lives here; the dashboard accepts a cookie only while its row exists and has not expired.
Signing out deletes the row; "sign out everywhere" deletes them all.

Why the state database rather than memory: a session then survives a restart of the bot (a systemd restart
or a crash must not sign a person out in the middle of a decision), and a revocation is as durable as the
approval decisions it protects - written in the same WAL database, with the same fsync. Only a hash of the
session id is stored, so a copy of the database opens no dashboard. ``StateStore(None)`` keeps the table in
memory, which is the right behaviour for dry runs and tests.

Times here are wall-clock Unix seconds (sessions are about people's time, not the market's), read from the
signer's clock so that tests can move it.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.state.store import StateStore

_SCHEMA = """CREATE TABLE web_sessions (
    sid_hash TEXT PRIMARY KEY,
    who TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
)"""


def migrate_web_sessions(conn: sqlite3.Connection) -> None:
    """Schema step: the dashboard's server-side sessions (revocable sign-in)."""
    conn.execute(_SCHEMA)


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


class WebSessions:
    """Create, look up and revoke dashboard sessions in ``store``."""

    def __init__(self, store: StateStore, wall: Callable[[], float] = time.time) -> None:
        self.store = store
        self.wall = wall

    def create(self, who: str, ttl_seconds: float) -> str:
        """A new session for ``who``; returns its id (only its hash is stored). Expired rows are pruned."""
        sid = secrets.token_urlsafe(24)
        now = self.wall()
        with self.store._write() as db:  # noqa: SLF001 - a companion of the store, same transaction rules
            db.execute("DELETE FROM web_sessions WHERE expires_at <= ?", (now,))
            db.execute(
                "INSERT INTO web_sessions (sid_hash, who, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (_digest(sid), who[:60], now, now + ttl_seconds),
            )
        return sid

    def active(self, sid: str) -> bool:
        """Whether ``sid`` names a session that exists and has not expired."""
        if not sid:
            return False
        rows = self.store._query(  # noqa: SLF001
            "SELECT expires_at FROM web_sessions WHERE sid_hash = ?", (_digest(sid),)
        )
        return bool(rows) and self.wall() < rows[0]["expires_at"]

    def revoke(self, sid: str) -> bool:
        """End one session; True if it existed."""
        with self.store._write() as db:  # noqa: SLF001
            return db.execute("DELETE FROM web_sessions WHERE sid_hash = ?", (_digest(sid),)).rowcount == 1

    def revoke_all(self) -> int:
        """End every session (sign out everywhere); returns how many were open."""
        with self.store._write() as db:  # noqa: SLF001
            return db.execute("DELETE FROM web_sessions").rowcount

    def count(self) -> int:
        """Sessions not yet expired."""
        rows = self.store._query(  # noqa: SLF001
            "SELECT COUNT(*) AS n FROM web_sessions WHERE expires_at > ?", (self.wall(),)
        )
        return int(rows[0]["n"])
