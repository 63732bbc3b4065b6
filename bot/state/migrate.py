"""Bring a state database to the current schema with Alembic, from code, when a store opens.

* A new database (no tables) is created by the migrations (``bot/state/migrations/versions``); on SQLite by
  replaying the statements they emitted on a scratch database earlier in the process
  (:func:`new_sqlite_schema`).
* A SQLite file of the hand-written store (``PRAGMA user_version`` 1 to 6, no ``alembic_version`` table) is
  upgraded in place: the baseline revision creates the tables its schema version lacked (none at version 6:
  it is simply stamped at the baseline), then later revisions run.
* Once Alembic manages a SQLite file its ``user_version`` is set to :data:`ALEMBIC_USER_VERSION` (7), so a
  bot from before Alembic refuses it ("newer than this bot's 6; upgrade the bot") instead of writing to a
  schema it does not know.
* A database at a revision this bot does not have (a newer bot wrote it) is refused, never guessed at.

The whole upgrade runs in one write transaction: on SQLite and PostgreSQL alike, DDL is transactional, so a
crash halfway leaves the database as it was, and a second process opening it meanwhile waits, then finds it
current.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import Connection, text
from sqlalchemy.types import TypeDecorator, TypeEngine

from bot.state.db import Database
from bot.state.errors import StateError

if TYPE_CHECKING:  # Alembic is imported when a store first opens, not by every module importing the store
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

log = structlog.get_logger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
ALEMBIC_USER_VERSION = 7
"""``PRAGMA user_version`` of a SQLite file managed by Alembic (the hand-written store's last was 6)."""
BASELINE = "0001"


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration without an ini file: the migrations shipped inside the package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@cache
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The newest revision this bot has."""
    revision = _scripts().get_current_head()
    assert revision is not None
    return revision


def current_revision(conn: Connection) -> str | None:
    """The database's Alembic revision (None: not managed by Alembic yet)."""
    if conn.dialect.name == "sqlite":
        exists = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    else:  # the search path's first schema, as every other statement of the store
        exists = "SELECT to_regclass('alembic_version') IS NOT NULL"
    if not conn.exec_driver_sql(exists).scalar():
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(db: Database) -> str:
    """Upgrade ``db`` to :func:`head` (see the module's docstring); returns the revision it is at."""
    with db.read() as conn:
        if current_revision(conn) == head() and (
            not db.is_sqlite or _user_version(conn) == ALEMBIC_USER_VERSION
        ):
            return head()
    with db.write() as conn:
        before = current_revision(conn)
        legacy = _user_version(conn) if db.is_sqlite else 0
        _refuse_newer(db, before, legacy)
        if db.is_sqlite and not legacy and not _has_tables(conn):
            _replay_new_sqlite_schema(conn)
        else:
            run_migrations(conn)
        if db.is_sqlite:
            conn.exec_driver_sql(f"PRAGMA user_version = {ALEMBIC_USER_VERSION}")
    if before is None and legacy:
        log.info("state database upgraded", state=db.describe(), from_schema_version=legacy, revision=head())
    elif before is not None and before != head():
        log.info("state database upgraded", state=db.describe(), from_revision=before, revision=head())
    return head()


def run_migrations(conn: Connection) -> None:
    """Alembic's upgrade to head on ``conn``, inside the caller's transaction."""
    from alembic import command

    command.upgrade(alembic_config(conn), "head")


@cache
def new_sqlite_schema() -> tuple[tuple[str, ...], str]:
    """The DDL Alembic's migrations emit on a new SQLite database, in order, and the revision they leave.

    The migrations run for real once per process, on an in-memory database, and a new SQLite state gets
    their statements replayed: the same schema to the byte, in a millisecond rather than the ~60 ms Alembic
    takes to plan and run them (the test suite opens hundreds of new stores; a bot opens one).
    """
    scratch = Database(None)
    try:
        with scratch.write() as conn:
            run_migrations(conn)
        with scratch.read() as conn:
            statements = tuple(
                conn.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
                    " ORDER BY rowid"
                ).scalars()
            )
            revision = current_revision(conn)
    finally:
        scratch.close()
    assert revision is not None
    return statements, revision


def _replay_new_sqlite_schema(conn: Connection) -> None:
    statements, revision = new_sqlite_schema()
    for statement in statements:
        conn.exec_driver_sql(statement)
    conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:revision)"), {"revision": revision})


def _has_tables(conn: Connection) -> bool:
    return bool(conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE type = 'table'").scalar())


def compare_type(
    context: MigrationContext,
    inspected_column: Any,
    metadata_column: Any,
    inspected_type: TypeEngine[Any],
    metadata_type: TypeEngine[Any],
) -> bool | None:
    """For autogenerate: a column's type changed only if its DDL did (the schema's column types are Python
    conversions over plain TEXT, which Alembic would otherwise report as changed on PostgreSQL)."""
    dialect = context.dialect
    if isinstance(metadata_type, TypeDecorator):
        metadata_type = metadata_type.load_dialect_impl(dialect)
    if inspected_type.compile(dialect=dialect) == metadata_type.compile(dialect=dialect):
        return False
    return None


def _refuse_newer(db: Database, revision: str | None, user_version: int) -> None:
    newer = user_version > ALEMBIC_USER_VERSION
    if revision is not None:
        try:
            newer = newer or _scripts().get_revision(revision) is None
        except Exception:  # noqa: BLE001 - alembic raises its own errors for an unknown revision
            newer = True
    if newer:
        found = f"revision {revision}" if revision else f"schema version {user_version}"
        raise StateError(
            f"the state database {db.describe()} has {found}, newer than this bot's {head()}; upgrade the bot"
        )


def _user_version(conn: Connection) -> int:
    return int(conn.exec_driver_sql("PRAGMA user_version").scalar() or 0)
