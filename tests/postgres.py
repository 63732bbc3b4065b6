"""A throwaway PostgreSQL server for tests: Debian's ``postgresql`` binaries, a cluster in a temporary
directory, reachable only through a unix socket there (no TCP port, nothing shared with other runs).

``.ci/run`` installs the package; on a developer's machine without it the PostgreSQL cases skip, saying so,
and under CI (``CI`` set) they fail instead, so a missing server can never pass silently. PostgreSQL refuses
to run as root, so as root the cluster is run as the ``postgres`` user the package creates. Durability is off
(``fsync=off``): the server's crash-safety is not what these tests are about, their speed is.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from bot.state.schema import metadata

SUPERUSER = "postgres"
TEST_DATABASE = "rebalance_bot"
PORT = 5432
"""Only names the socket file (``.s.PGSQL.5432``) in the cluster's own directory."""


def binaries() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` that has the server, or None."""
    found = [
        path.parent
        for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")
        if (path.parent / "pg_ctl").exists() and path.parent.parent.name.isdigit()
    ]
    return max(found, key=lambda p: int(p.parent.name)) if found else None


class PostgresServer:
    """One cluster; :meth:`database` hands out empty databases on it."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="rb-pg-"))
        self.data = self.root / "data"
        self._as: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, SUPERUSER)
            self._as = ["runuser", "-u", SUPERUSER, "--"]
        self._count = 0
        self._clean: str | None = None
        self._engines: dict[str, Engine] = {}

    def start(self) -> PostgresServer:
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "--no-sync", "-E", "UTF8")
        options = f"-c listen_addresses='' -k {self.root} -p {PORT} -c fsync=off -c full_page_writes=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w", "start"
        )
        self._create_test_database()
        return self

    def stop(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.root}&port={PORT}"

    def clean_database(self) -> str:
        """The URL of a database at the current schema and without rows: one migrated database, emptied
        for each caller (migrating a new one for every test would cost each a second of DDL). Tests that
        need a database no bot has opened yet take :meth:`database`."""
        if self._clean is None:
            from bot.state.store import StateStore

            self._clean = self.database()
            StateStore(self._clean).close()
        else:
            schema = self._clean.rsplit("%3D", 1)[1]
            tables = ", ".join(f"{schema}.{t.name}" for t in metadata.sorted_tables)
            self._admin(f"SET lock_timeout = '10s'; TRUNCATE {tables} RESTART IDENTITY", TEST_DATABASE)
        return self._clean

    def database(self) -> str:
        """The URL of a new, empty database (a schema of its own in the server's test database, first on the
        connection's search path: creating a whole database takes PostgreSQL a second)."""
        self._count += 1
        schema = f"state{self._count}"
        self._admin(f"CREATE SCHEMA {schema}", database=TEST_DATABASE)
        return self.url(TEST_DATABASE) + f"&options=-csearch_path%3D{schema}"

    def _create_test_database(self) -> None:
        # Its default collation is ICU's English one ("a" before "B"), unlike SQLite's byte order, so a
        # text column that forgot the byte-order collation sorts differently on the two engines.
        self._admin(
            f"CREATE DATABASE {TEST_DATABASE} TEMPLATE template0 ENCODING 'UTF8'"
            " LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
        )

    def _admin(self, statement: str, database: str = "postgres") -> None:
        if database not in self._engines:
            self._engines[database] = create_engine(self.url(database), isolation_level="AUTOCOMMIT")
        with self._engines[database].connect() as conn:
            conn.execute(text(statement))

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [*self._as, str(self.bindir / program), *args], check=True, capture_output=True, timeout=120
        )


def start_or_skip() -> PostgresServer:
    """A started server; skips (fails under CI) when the binaries are missing."""
    bindir = binaries()
    if bindir is None:
        reason = "PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(reason + "; CI must test the PostgreSQL engine")
        pytest.skip(reason)
    return PostgresServer(bindir).start()
