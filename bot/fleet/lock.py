"""One worker per household at a time: a session-level advisory lock on PostgreSQL per household name.

Dask may run a household's task twice (a worker presumed dead whose task is retried elsewhere, two fleet
drivers on one database); two ticks of one household at once could both plan, or both drive the same plan.
The lock is held on a connection of its own for the whole visit; the server drops it when that connection
ends, so a SIGKILLed worker leaves no stale lock, and the next visit waits for nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from bot.state.db import Database

NAMESPACE = 0x72626668  # "rbfh": first key of the fleet's household locks (the bot's own use 0x72626F74)


@contextmanager
def household_lock(db: Database, name: str) -> Iterator[bool]:
    """Yields True while this process holds ``name``'s lock, False (at once) when another holds it."""
    conn = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        held = bool(
            conn.execute(
                text("SELECT pg_try_advisory_lock(:ns, hashtext(:name))"), {"ns": NAMESPACE, "name": name}
            ).scalar()
        )
        try:
            yield held
        finally:
            if held:
                conn.execute(
                    text("SELECT pg_advisory_unlock(:ns, hashtext(:name))"), {"ns": NAMESPACE, "name": name}
                )
    finally:
        conn.close()
