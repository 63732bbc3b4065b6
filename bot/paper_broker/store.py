"""SQLite persistence for the paper broker: accounts, positions, orders, activities, watchlists and the
simulated time.

Like a real paper account, state survives a server restart. The engine keeps the live state in memory and
writes every change through this store inside one transaction per request or per clock step, so an
acknowledged order is on disk before its response leaves the server.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from bot.paper_broker.models import Account, Activity, Order, Position, Watchlist, decode, to_record
from bot.state.private import private_file

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS positions (
    account_id TEXT NOT NULL, symbol TEXT NOT NULL, record TEXT NOT NULL, PRIMARY KEY (account_id, symbol));
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, client_order_id TEXT NOT NULL, record TEXT NOT NULL,
    UNIQUE (account_id, client_order_id));
CREATE TABLE IF NOT EXISTS activities (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, time TEXT NOT NULL, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS watchlists (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, name TEXT NOT NULL, record TEXT NOT NULL,
    UNIQUE (account_id, name));
"""


class BrokerStore:
    """A SQLite file (WAL) holding the broker's state; ``path=None`` keeps it in memory."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        target = str(path) if path is not None else ":memory:"
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            private_file(path)  # 0600 like all state; its -wal and -shm files copy this mode
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.RLock()
        self._depth = 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes; nested calls join the outer transaction."""
        with self._lock:
            if self._depth == 0:
                self._db.execute("BEGIN")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if self._depth == 0:
                self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def reset(self) -> None:
        with self.transaction():
            for table in ("meta", "accounts", "positions", "orders", "activities", "watchlists"):
                self._db.execute(f"DELETE FROM {table}")

    # -- writes -------------------------------------------------------------------------------------------
    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def save_account(self, account: Account) -> None:
        record = to_record(account)
        record.pop("positions")
        with self.transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO accounts VALUES (?, ?)", (account.id, json.dumps(record))
            )

    def save_position(self, account_id: str, position: Position) -> None:
        with self.transaction():
            if position.qty == 0:
                self._db.execute(
                    "DELETE FROM positions WHERE account_id=? AND symbol=?", (account_id, position.symbol)
                )
            else:
                self._db.execute(
                    "INSERT OR REPLACE INTO positions VALUES (?, ?, ?)",
                    (account_id, position.symbol, json.dumps(to_record(position))),
                )

    def save_order(self, order: Order) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO orders VALUES (?, ?, ?, ?)",
                (order.id, order.account_id, order.client_order_id, json.dumps(to_record(order))),
            )

    def add_activity(self, activity: Activity) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT INTO activities VALUES (?, ?, ?, ?)",
                (
                    activity.id,
                    activity.account_id,
                    activity.time.isoformat(),
                    json.dumps(to_record(activity)),
                ),
            )

    def save_watchlist(self, watchlist: Watchlist) -> None:
        with self.transaction():
            self._db.execute(
                # An upsert, not INSERT OR REPLACE: a clash of names must fail, never delete the other list.
                "INSERT INTO watchlists VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "name = excluded.name, record = excluded.record",
                (watchlist.id, watchlist.account_id, watchlist.name, json.dumps(to_record(watchlist))),
            )

    def delete_watchlist(self, watchlist_id: str) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM watchlists WHERE id=?", (watchlist_id,))

    # -- reads (at start-up) --------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def load_accounts(self) -> list[Account]:
        with self._lock:
            accounts = [_build(Account, row[0]) for row in self._db.execute("SELECT record FROM accounts")]
            for account in accounts:
                rows = self._db.execute("SELECT record FROM positions WHERE account_id=?", (account.id,))
                for (record,) in rows:
                    position = _build(Position, record)
                    account.positions[position.symbol] = position
        return accounts

    def load_orders(self) -> list[Order]:
        with self._lock:
            return [_build(Order, row[0]) for row in self._db.execute("SELECT record FROM orders")]

    def load_activities(self) -> list[Activity]:
        with self._lock:
            rows = self._db.execute("SELECT record FROM activities ORDER BY time, id")
            return [_build(Activity, row[0]) for row in rows]

    def load_watchlists(self) -> list[Watchlist]:
        with self._lock:
            rows = self._db.execute("SELECT record FROM watchlists")
            return [_build(Watchlist, row[0]) for row in rows]


def _build(cls: type, record: str):  # noqa: ANN202 - returns an instance of cls
    fields = {k: decode(v) for k, v in json.loads(record).items()}
    fields.pop("positions", None)
    return cls(**fields)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)
