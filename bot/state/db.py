"""The engine under the state: SQLite (the embedded default) or PostgreSQL, with the same transaction rules.

Every write is one short transaction that holds the database's write lock from its first statement, so a
read-check-write (is this plan still ``held``? is this order id taken?) cannot interleave with another
writer's: on SQLite ``BEGIN IMMEDIATE`` (with a busy timeout, so the CLI's approve or halt and the running bot
share the file), on PostgreSQL a transaction-scoped advisory lock taken first, under READ COMMITTED so the
statements after it see everything committed before. Reads on SQLite are single statements in autocommit
(as the hand-written store read), on PostgreSQL one short transaction.

SQLite: WAL journal with ``synchronous=FULL`` (a committed transaction survives a power cut) and foreign keys
on, set on every connection. One connection per store, shared between threads behind a lock, as the
hand-written store had it (``:memory:`` scratch stores need exactly that: a second connection would be a
second, empty database). PostgreSQL: a small pool of psycopg 3 connections.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    CursorResult,
    Engine,
    Insert,
    Integer,
    Row,
    Select,
    Table,
    Update,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    make_url,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.pool import StaticPool

from bot.state.errors import StateError
from bot.state.private import private_dir, private_file

BUSY_TIMEOUT_MS = 15_000
CONNECT_TIMEOUT = 10
"""Seconds to reach a PostgreSQL server before saying it cannot be reached (libpq would wait for TCP's)."""
LOCK_NAMESPACE = 0x72626F74  # "rbot": the first key of the bot's advisory locks on PostgreSQL
WRITE_LOCK = 1
"""Second key of the lock every write transaction takes (with the schema's hash: one writer per state)."""
BOT_LOCK = 2
"""Second key of the session lock the running bot holds: one bot per state, whatever the host."""
BOT_LOCK_WAIT = 3.0
"""Seconds a starting bot waits for the lock: a killed holder's session takes the server a moment to end."""
_OPTIONS = {"preserve_rowcount": True}
"""Keep INSERTs' row counts: ``ON CONFLICT DO NOTHING`` tells "new" from "already there" by them."""
T = TypeVar("T")


class Database:
    """One state database. ``target``: a SQLite file path, None (a scratch store in memory) or a SQLAlchemy
    URL (``sqlite:///...``, ``postgresql+psycopg://...``)."""

    def __init__(self, target: Path | str | None) -> None:
        self.path = _sqlite_path(target)
        if self.path is not None:
            private_dir(self.path.parent)
            private_file(self.path)  # before SQLite opens it: its -wal and -shm files copy this mode
        if target is not None and self.path is None and make_url(str(target)).get_backend_name() != "sqlite":
            self.engine = create_engine(
                str(target),
                pool_pre_ping=True,  # a connection the server dropped is replaced, not failed on
                connect_args={"connect_timeout": CONNECT_TIMEOUT},
                execution_options=_OPTIONS,
            )
        else:
            self.engine = _sqlite_engine(self.path)
        self.dialect = self.engine.dialect.name
        if self.dialect not in ("sqlite", "postgresql"):
            raise StateError(f"the state database must be SQLite or PostgreSQL, not {self.dialect}")
        self._lock = threading.RLock()
        self._local = threading.local()
        """This thread's open write transaction on PostgreSQL (nested writes join it)."""
        self._shared: Connection | None = None
        if self.is_sqlite:
            self._open_shared()

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
        """One write transaction holding the write lock from its start; committed when the block ends.

        Writes nest: a write inside this thread's open write joins its transaction. Several repositories'
        writes wrapped in one outer ``write()`` are then one unit (all or none after a crash) and take the
        lock once, where each on its own commits apart (a plan held without its approval request after a
        crash between them; a lock round trip each on PostgreSQL)."""
        if self._shared is not None:
            with self._lock:
                if self._writing:  # this thread's own write is open: join it
                    yield self._shared
                    return
                self._writing = True  # read by the "begin" hook: BEGIN IMMEDIATE
                try:
                    with self._shared.begin():
                        yield self._shared
                finally:
                    self._writing = False
            return
        joined = getattr(self._local, "write", None)
        if joined is not None:
            yield joined
            return
        with self.engine.begin() as conn:
            conn.execute(_WRITE_LOCK)
            self._local.write = conn
            try:
                yield conn
            finally:
                self._local.write = None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """Reads: on SQLite each statement on its own (autocommit, as the hand-written store read), on
        PostgreSQL one transaction, rolled back at the end."""
        if self._shared is not None:
            with self._lock:
                if self._writing:  # inside this thread's own write: read in its transaction, never end it
                    yield self._shared
                    return
                try:
                    yield self._shared
                finally:
                    self._shared.rollback()
            return
        joined = getattr(self._local, "write", None)
        if joined is not None:  # inside this thread's own write: read what it wrote, never end it
            yield joined
            return
        with self.engine.connect() as conn:
            yield conn

    def _open_shared(self) -> None:
        """SQLite's one connection, kept open: shared by the store's threads behind the lock."""
        self._writing = False

        @event.listens_for(self.engine, "begin")
        def _begin(conn: Connection) -> None:
            # A writer takes the write lock up front, so it cannot deadlock upgrading a read lock; a reader
            # starts no transaction at all.
            if self._writing:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        self._shared = self.engine.connect()
        if self.path is not None:
            mode = self._shared.exec_driver_sql("PRAGMA journal_mode").scalar()
            self._shared.rollback()
            if str(mode).lower() != "wal":
                self.close()
                raise StateError(f"{self.path}: cannot use WAL journal mode (got {mode})")

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

    def upsert(
        self, table: Table, key: tuple[str, ...], replace: tuple[str, ...] = (), where: Any = None
    ) -> Any:
        """INSERT ... ON CONFLICT (``key``) DO NOTHING, or DO UPDATE SET the ``replace`` columns to the new
        row's (``where``: a function of the new row's columns, for a conditional update). Built once per
        engine and shape; executed with the row's values as parameters."""
        return _upsert(self.dialect, table, key, replace, where)

    def close(self) -> None:
        with self._lock:
            shared, self._shared = self._shared, None
            if shared is not None:
                shared.close()
            self.engine.dispose()


@cache
def _upsert(dialect: str, table: Table, key: tuple[str, ...], replace: tuple[str, ...], where: Any) -> Any:
    statement = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    if not replace:
        return statement.on_conflict_do_nothing(index_elements=list(key))
    new = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=list(key),
        set_={name: new[name] for name in replace},
        where=where(new) if where is not None else None,
    )


def _lock_keys(kind: int) -> tuple[Any, Any]:
    """An advisory lock's two keys: the bot's namespace and kind, and the schema (states in two schemas of
    one database are two states)."""
    return LOCK_NAMESPACE + kind, func.hashtext(func.current_schema())


_WRITE_LOCK = select(func.pg_advisory_xact_lock(*_lock_keys(WRITE_LOCK)))


def _sqlite_path(target: Path | str | None) -> Path | None:
    """The file of a SQLite target (None: in memory, or not SQLite)."""
    if isinstance(target, Path) or (target is not None and "://" not in target):
        return Path(target)
    if target is None or make_url(target).get_backend_name() != "sqlite":
        return None
    database = make_url(target).database
    return Path(database) if database and database != ":memory:" else None


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
        # off and let the Database's "begin" hook say how each transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if file_backed:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    return engine


def find(
    conn: Connection,
    table: Table,
    order_by: tuple[str, ...] = (),
    *conditions: ColumnElement[bool],
    limit: int | None = None,
    **columns: Any,
) -> list[Row[Any]]:
    """The rows of ``table`` whose columns equal the given values (None = no filter; a tuple = one of), plus
    ``conditions`` (module constants), in ``order_by`` (``"col"``, ``"col desc"``, ``"col not null"``).

    The statement is built once per shape of the question and reused with new values: building and keying a
    statement costs SQLAlchemy far more than running it on SQLite, and the bot asks the same few questions
    every tick.
    """
    shape = tuple((name, isinstance(value, tuple)) for name, value in columns.items() if value is not None)
    params = {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in columns.items()
        if value is not None
    }
    if limit is not None:
        params["limit_"] = limit
    query = _query(table, shape, order_by, conditions, limit is not None)
    return conn.execute(query, params).all()


@cache
def _query(
    table: Table,
    shape: tuple[tuple[str, bool], ...],
    order_by: tuple[str, ...],
    conditions: tuple[ColumnElement[bool], ...],
    limited: bool,
) -> Select[Any]:
    where = [
        table.c[name].in_(bindparam(name, expanding=True)) if several else table.c[name] == bindparam(name)
        for name, several in shape
    ]
    query = select(table).where(*where, *conditions).order_by(*(_ordering(table, term) for term in order_by))
    return query.limit(bindparam("limit_", type_=Integer)) if limited else query


def _ordering(table: Table, term: str) -> ColumnElement[Any]:
    name, _, how = term.partition(" ")
    column = table.c[name]
    return {"": column, "desc": column.desc(), "not null": column.is_not(None)}[how]


def insert_row(conn: Connection, table: Table, values: dict[str, Any]) -> CursorResult[Any]:
    """INSERT one row (the statement is shared: SQLAlchemy compiles it once per set of columns given)."""
    return conn.execute(_insert(table), values)


def update_rows(
    conn: Connection, table: Table, where: dict[str, Any], values: dict[str, Any]
) -> CursorResult[Any]:
    """UPDATE ``table`` SET ``values`` WHERE each ``where`` column equals its value (statement built once
    per shape, like :func:`find`)."""
    statement = _update(table, tuple(where), tuple(values))
    params = {**{f"k_{k}": v for k, v in where.items()}, **{f"v_{k}": v for k, v in values.items()}}
    return conn.execute(statement, params)


@cache
def _insert(table: Table) -> Insert:
    return insert(table)


@cache
def _update(table: Table, where: tuple[str, ...], columns: tuple[str, ...]) -> Update:
    conditions = (table.c[name] == bindparam(f"k_{name}") for name in where)
    return update(table).where(*conditions).values({name: bindparam(f"v_{name}") for name in columns})


def record(cls: type[T], row: Row[Any], **extra: Any) -> T:
    """A record dataclass from a row: its fields by name (columns it has no field for are left out)."""
    values = row._mapping
    return cls(**{name: extra[name] if name in extra else values[name] for name in _field_names(cls)})


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))
