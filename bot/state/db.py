"""The engine under the state: SQLite (the embedded default) or PostgreSQL, with the same transaction rules.

Every write is one short transaction that holds the database's write lock from its first statement, so a
read-check-write (is this plan still ``held``? is this order id taken?) cannot interleave with another
writer's: on SQLite ``BEGIN IMMEDIATE`` (with a busy timeout, so the CLI's approve or halt and the running bot
share the file), on PostgreSQL a transaction-scoped advisory lock taken first, under READ COMMITTED so the
statements after it see everything committed before. Reads run in their own short transaction.

SQLite: WAL journal with ``synchronous=FULL`` (a committed transaction survives a power cut) and foreign keys
on, set on every connection. One connection per store, shared between threads behind a lock, as the
hand-written store had it (``:memory:`` scratch stores need exactly that: a second connection would be a
second, empty database). PostgreSQL: a small pool of psycopg 3 connections.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    Table,
    create_engine,
    event,
    func,
    make_url,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.pool import StaticPool

from bot.state.errors import StateError
from bot.state.private import private_dir, private_file

BUSY_TIMEOUT_MS = 15_000
LOCK_NAMESPACE = 0x72626F74  # "rbot": the first key of the bot's advisory locks on PostgreSQL
WRITE_LOCK = 1
"""Second key of the lock every write transaction takes (with the schema's hash: one writer per state)."""
BOT_LOCK = 2
"""Second key of the session lock the running bot holds: one bot per state, whatever the host."""
BOT_LOCK_WAIT = 3.0
"""Seconds a starting bot waits for the lock: a killed holder's session takes the server a moment to end."""
_WRITE = "state_write"
_OPTIONS = {"preserve_rowcount": True}
"""Keep INSERTs' row counts: ``ON CONFLICT DO NOTHING`` tells "new" from "already there" by them."""
T = TypeVar("T")


class Database:
    """One state database. ``target``: a SQLite file path, None (a scratch store in memory) or a SQLAlchemy
    URL (``sqlite:///...``, ``postgresql+psycopg://...``)."""

    def __init__(self, target: Path | str | None) -> None:
        self.path: Path | None = None
        if target is None:
            self.engine = _sqlite_engine(None)
        elif isinstance(target, Path) or "://" not in str(target):
            self.path = Path(target)
            private_dir(self.path.parent)
            private_file(self.path)  # before SQLite opens it: its -wal and -shm files copy this mode
            self.engine = _sqlite_engine(self.path)
        elif make_url(str(target)).get_backend_name() == "sqlite":
            database = make_url(str(target)).database
            self.path = Path(database) if database and database != ":memory:" else None
            if self.path is not None:
                private_dir(self.path.parent)
                private_file(self.path)
            self.engine = _sqlite_engine(self.path)
        else:
            self.engine = create_engine(str(target), pool_pre_ping=True, execution_options=_OPTIONS)
        self.dialect = self.engine.dialect.name
        if self.dialect not in ("sqlite", "postgresql"):
            raise StateError(f"the state database must be SQLite or PostgreSQL, not {self.dialect}")
        self._writer = self.engine.execution_options(**{_WRITE: True})
        # SQLite: one shared connection, one user at a time; PostgreSQL connections are per thread.
        self._lock: threading.RLock | nullcontext[None] = (
            threading.RLock() if self.dialect == "sqlite" else nullcontext()
        )
        if self.dialect == "sqlite" and self.path is not None:
            with self.read() as conn:
                mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            if str(mode).lower() != "wal":
                raise StateError(f"{self.path}: cannot use WAL journal mode (got {mode})")

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def describe(self) -> str:
        """Where the state is, for messages (never with a password)."""
        if self.is_sqlite:
            return str(self.path) if self.path is not None else "memory"
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction holding the write lock from its start; committed when the block ends."""
        with self._lock, self._writer.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(select(func.pg_advisory_xact_lock(*_lock_keys(WRITE_LOCK))))
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One read transaction (rolled back at the end: reads change nothing)."""
        with self._lock, self.engine.connect() as conn:
            yield conn

    def hold_bot_lock(self) -> Connection | None:
        """PostgreSQL: take the one-bot-per-database lock on a connection of its own, held until that
        connection closes (the server drops it when the bot dies, even on SIGKILL or a lost host); None when
        another bot holds it. SQLite files are guarded by the state directory's lock file alone."""
        if self.dialect != "postgresql":
            raise StateError("the bot lock on the database is for PostgreSQL")
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            deadline = time.monotonic() + BOT_LOCK_WAIT
            while not conn.execute(select(func.pg_try_advisory_lock(*_lock_keys(BOT_LOCK)))).scalar():
                if time.monotonic() > deadline:
                    conn.close()
                    return None
                time.sleep(0.1)
        except BaseException:
            conn.close()
            raise
        return conn

    def insert(self, table: Table) -> Any:
        """An INSERT that takes ``on_conflict_do_nothing`` / ``on_conflict_do_update`` (both engines have the
        same ON CONFLICT clause, through their own dialect's construct)."""
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        return dialect.insert(table)

    def close(self) -> None:
        with self._lock:
            self.engine.dispose()


def _lock_keys(kind: int) -> tuple[Any, Any]:
    """An advisory lock's two keys: the bot's namespace and kind, and the schema (states in two schemas of
    one database are two states)."""
    return LOCK_NAMESPACE + kind, func.hashtext(func.current_schema())


def _sqlite_engine(path: Path | None) -> Engine:
    engine = create_engine(
        f"sqlite+pysqlite:///{path}" if path is not None else "sqlite+pysqlite://",
        poolclass=StaticPool,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        execution_options=_OPTIONS,
    )
    file_backed = path is not None

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own transaction handling would COMMIT before DDL and never BEGIN IMMEDIATE: turn it
        # off and let the "begin" hook below say how each transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if file_backed:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # A writer takes the write lock up front, so it cannot deadlock upgrading a read lock.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")

    return engine


def matching(table: Table, **columns: Any) -> list[ColumnElement[bool]]:
    """WHERE conditions for the given column filters (None = no filter; a tuple = one of)."""
    conditions: list[ColumnElement[bool]] = []
    for name, value in columns.items():
        if value is None:
            continue
        column = table.c[name]
        conditions.append(column.in_(value) if isinstance(value, tuple) else column == value)
    return conditions


def record(cls: type[T], row: Row[Any], **extra: Any) -> T:
    """A record dataclass from a row: its fields by name (columns it has no field for are left out)."""
    values = row._mapping
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    return cls(**{name: extra[name] if name in extra else values[name] for name in names})
