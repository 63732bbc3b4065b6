"""Dashboard sign-in sessions, kept server-side in the state database so that signing out really ends them.

A signed cookie alone cannot be taken back: whoever copied it could use it until it expired, sign-out or not.
So the cookie only names a session (a random id, signed so that garbage never reaches the database) and the
session itself lives here; the dashboard accepts a cookie only while its row exists and has not expired.
Signing out deletes the row; "sign out everywhere" deletes them all.

Why the state database rather than memory: a session then survives a restart of the bot (a systemd restart
or a crash must not sign a person out in the middle of a decision), and a revocation is as durable as the
approval decisions it protects - written in the same database, in the same kind of transaction. Only a hash
of the session id is stored, so a copy of the database opens no dashboard. ``StateStore(None)`` keeps the
table in memory, which is the right behaviour for dry runs and tests.

Times here are wall-clock Unix seconds (sessions are about people's time, not the market's), read from the
signer's clock so that tests can move it.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, insert, select

from bot.state.schema import web_sessions

if TYPE_CHECKING:
    from bot.state.store import StateStore


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


class WebSessions:
    """Create, look up and revoke dashboard sessions in ``store``."""

    def __init__(self, store: StateStore, wall: Callable[[], float] = time.time) -> None:
        self.db = store.db
        self.wall = wall

    def create(self, who: str, ttl_seconds: float) -> str:
        """A new session for ``who``; returns its id (only its hash is stored). Expired rows are pruned."""
        sid = secrets.token_urlsafe(24)
        now = self.wall()
        with self.db.write() as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.expires_at <= now))
            conn.execute(
                insert(web_sessions).values(
                    sid_hash=_digest(sid), who=who[:60], created_at=now, expires_at=now + ttl_seconds
                )
            )
        return sid

    def active(self, sid: str) -> bool:
        """Whether ``sid`` names a session that exists and has not expired."""
        if not sid:
            return False
        query = select(web_sessions.c.expires_at).where(web_sessions.c.sid_hash == _digest(sid))
        with self.db.read() as conn:
            expires_at = conn.execute(query).scalar()
        return expires_at is not None and self.wall() < expires_at

    def revoke(self, sid: str) -> bool:
        """End one session; True if it existed."""
        with self.db.write() as conn:
            result = conn.execute(delete(web_sessions).where(web_sessions.c.sid_hash == _digest(sid)))
            return result.rowcount == 1

    def revoke_all(self) -> int:
        """End every session (sign out everywhere); returns how many were open."""
        with self.db.write() as conn:
            return conn.execute(delete(web_sessions)).rowcount

    def count(self) -> int:
        """Sessions not yet expired."""
        query = select(func.count()).select_from(web_sessions).where(web_sessions.c.expires_at > self.wall())
        with self.db.read() as conn:
            return int(conn.execute(query).scalar_one())
