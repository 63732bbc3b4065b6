"""State files as the hand-written SQLite store (before Alembic) left them, at any of its schema versions.

The committed ``fixtures/v6-crashed/bot.sqlite`` was written by that store at version 6. Its schema steps only
ever added whole tables, so the file of an older version is that one without the tables of the later steps:
:func:`legacy_state_file` copies it, empties it and drops those tables, and sets ``PRAGMA user_version``.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
V6_CRASHED = FIXTURES / "v6-crashed"
TABLES_ADDED_BY_VERSION = {
    1: ("runs", "plans", "orders", "fills", "approvals", "flags", "audit"),
    2: ("used_links",),
    3: ("exec_parents", "exec_children", "execution_reports"),
    4: ("tax_fills", "tax_blocks", "tax_wash_sales"),
    5: ("web_sessions",),
    6: ("equity_history", "last_pictures"),
}


def legacy_state_file(path: Path, version: int) -> Path:
    """An empty state file of the hand-written store's schema ``version`` (1 to 6) at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(V6_CRASHED / "bot.sqlite", path)
    with sqlite3.connect(path, isolation_level=None) as raw:
        for added in range(6, 0, -1):  # children before the tables they reference
            for table in reversed(TABLES_ADDED_BY_VERSION[added]):
                raw.execute(f"DROP TABLE {table}" if added > version else f"DELETE FROM {table}")
        raw.execute(f"PRAGMA user_version = {version}")
    return path
