"""Each account's equity and weights, one row per trading session, and its last known live picture.

The running bot writes a session's row once, at its first tick after the close (on the broker's clock), from
a fresh reading of the broker: equity, cash, the day's P&L, the weights (cash included) and the targets then
in force, so that "weights against targets over time" stays true after the targets are changed. The row's
key is (account, session day): a second write for the same session (a restart in the evening) is ignored,
so there is one row per session whatever happens.

The last known picture is the latest live reading of each account (``status``, the dashboard, the bot at the
close), kept whole as JSON: when the broker cannot be reached, ``status`` shows it with its time. Money is
stored as text (Decimal, exact). A companion of :class:`bot.state.store.StateStore` like
:mod:`bot.state.web_sessions`, in the same database under the same transaction rules.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.state.store import StateStore

_SCHEMA = (
    """CREATE TABLE equity_history (
        account TEXT NOT NULL,
        day TEXT NOT NULL,
        at TEXT NOT NULL,
        equity TEXT NOT NULL,
        cash TEXT NOT NULL,
        day_pl TEXT,
        weights TEXT NOT NULL,
        targets TEXT,
        PRIMARY KEY (account, day)
    )""",
    """CREATE TABLE last_pictures (
        account TEXT PRIMARY KEY,
        at TEXT NOT NULL,
        picture TEXT NOT NULL
    )""",
)


def migrate_equity_history(conn: sqlite3.Connection) -> None:
    """Schema step: the daily equity and weights history, and the last known picture per account."""
    for statement in _SCHEMA:
        conn.execute(statement)


@dataclass(frozen=True)
class EquityDay:
    """One account's session, as the bot read it after the close."""

    account: str
    day: date
    """The session's date (New York)."""
    at: datetime
    """When it was read (the broker's time)."""
    equity: Decimal
    cash: Decimal
    day_pl: Decimal | None
    weights: dict[str, Decimal] = field(hash=False)
    targets: dict[str, Decimal] | None = field(default=None, hash=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "day": self.day.isoformat(),
            "at": self.at.isoformat(),
            "equity": str(self.equity),
            "cash": str(self.cash),
            "day_pl": None if self.day_pl is None else str(self.day_pl),
            "weights": {k: str(v) for k, v in self.weights.items()},
            "targets": None if self.targets is None else {k: str(v) for k, v in self.targets.items()},
        }


class EquityHistory:
    """Read and write the history and the last known pictures in ``store``."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def record(self, entry: EquityDay) -> bool:
        """Store one session's row; False when that session of that account has one already."""
        with self.store._write() as db:  # noqa: SLF001 - a companion of the store, same transaction rules
            cursor = db.execute(
                "INSERT INTO equity_history (account, day, at, equity, cash, day_pl, weights, targets)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, day) DO NOTHING",
                (
                    entry.account,
                    entry.day.isoformat(),
                    entry.at.isoformat(),
                    str(entry.equity),
                    str(entry.cash),
                    None if entry.day_pl is None else str(entry.day_pl),
                    _json(entry.weights),
                    None if entry.targets is None else _json(entry.targets),
                ),
            )
            return cursor.rowcount == 1

    def days(self, account: str | None = None, limit: int = 400) -> list[EquityDay]:
        """The latest ``limit`` sessions, oldest first (the order a chart draws them in)."""
        where, params = ("WHERE account = ?", [account]) if account is not None else ("", [])
        rows = self.store._query(  # noqa: SLF001
            f"SELECT * FROM equity_history {where} ORDER BY day DESC, account LIMIT ?", [*params, limit]
        )
        return [_day(row) for row in reversed(rows)]

    def save_picture(self, account: str, at: datetime, picture: Mapping[str, Any]) -> None:
        """Keep ``picture`` (JSON) as the account's last known one, unless a later one is kept already."""
        with self.store._write() as db:  # noqa: SLF001
            db.execute(
                "INSERT INTO last_pictures (account, at, picture) VALUES (?, ?, ?)"
                " ON CONFLICT (account) DO UPDATE SET at = excluded.at, picture = excluded.picture"
                " WHERE excluded.at >= last_pictures.at",
                (account, at.isoformat(), json.dumps(picture)),
            )

    def last_picture(self, account: str) -> dict[str, Any] | None:
        rows = self.store._query("SELECT picture FROM last_pictures WHERE account = ?", (account,))  # noqa: SLF001
        return json.loads(rows[0]["picture"]) if rows else None


def _json(values: Mapping[str, Decimal]) -> str:
    return json.dumps({k: str(v) for k, v in values.items()})


def _decimals(text: str | None) -> dict[str, Decimal] | None:
    return None if text is None else {k: Decimal(v) for k, v in json.loads(text).items()}


def _day(row: sqlite3.Row) -> EquityDay:
    return EquityDay(
        account=row["account"],
        day=date.fromisoformat(row["day"]),
        at=datetime.fromisoformat(row["at"]),
        equity=Decimal(row["equity"]),
        cash=Decimal(row["cash"]),
        day_pl=None if row["day_pl"] is None else Decimal(row["day_pl"]),
        weights=_decimals(row["weights"]) or {},
        targets=_decimals(row["targets"]),
    )
