"""Schema migrations with Alembic: a state file of the hand-written store upgrades in place and the bot
resumes on it; new databases get exactly the schema the code uses, on both engines."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from bot.paper_broker.faults import FaultConfig
from bot.state.db import Database
from bot.state.migrate import ALEMBIC_USER_VERSION, BASELINE, compare_type, head, run_migrations
from bot.state.schema import metadata
from bot.state.store import StateStore
from tests.bot.test_crash_recovery import start_broker
from tests.state.legacy import TABLES_ADDED_BY_VERSION, V6_CRASHED, legacy_state_file

ROOT = Path(__file__).resolve().parents[2]
PLAN = "rb-main-201912171445-28bb8f9d"
"""The plan the v6 bot was executing when it was killed: its first order was at the broker, only an intent in
the state (``fixtures/make_v6_crashed.py``)."""
FIRST_ORDER = f"{PLAN}-0"


def differences(store: StateStore) -> list:
    """What Alembic's autogenerate sees between the database and :data:`bot.state.schema.metadata`, but for
    SQLite's own quirk: a TEXT primary key the hand-written store declared without NOT NULL reads as nullable
    (it never holds a NULL: every insert names it)."""
    with store.db.read() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": compare_type})
        found = compare_metadata(context, metadata)
    return [diff for diff in found if not (store.db.is_sqlite and _is_pk_nullability(diff))]


def _is_pk_nullability(diff: object) -> bool:
    if not isinstance(diff, list) or len(diff) != 1 or diff[0][0] != "modify_nullable":
        return False
    _op, _schema, table, column, *_rest = diff[0]
    return metadata.tables[table].c[column].primary_key


def test_a_new_database_gets_exactly_the_schema_the_code_uses(new_state_target: Path | str) -> None:
    with StateStore(new_state_target) as store:
        assert store.schema_version == head()
        assert differences(store) == []


def test_a_new_sqlite_file_gets_exactly_what_the_migrations_create(tmp_path: Path) -> None:
    """New SQLite states replay the statements Alembic ran once on a scratch database: the result must be the
    schema running the migrations on the file itself gives."""
    direct = Database(tmp_path / "migrated.sqlite")
    try:
        with direct.write() as conn:
            run_migrations(conn)
    finally:
        direct.close()
    StateStore(tmp_path / "replayed.sqlite").close()
    schema = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid"
    with (
        sqlite3.connect(tmp_path / "migrated.sqlite") as a,
        sqlite3.connect(tmp_path / "replayed.sqlite") as b,
    ):
        assert a.execute(schema).fetchall() == b.execute(schema).fetchall()
        assert a.execute("SELECT * FROM alembic_version").fetchall() == [(head(),)]
        assert b.execute("SELECT * FROM alembic_version").fetchall() == [(head(),)]


@pytest.mark.parametrize("version", sorted(TABLES_ADDED_BY_VERSION))
def test_a_file_of_every_pre_alembic_schema_version_upgrades_in_place(tmp_path: Path, version: int) -> None:
    path = legacy_state_file(tmp_path / "bot.sqlite", version)
    with StateStore(path) as store:
        assert store.schema_version == head()
        assert store.pragma("user_version") == ALEMBIC_USER_VERSION
        assert differences(store) == []
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT version_num FROM alembic_version").fetchall() == [(head(),)]


def v6_state(tmp_path: Path) -> Path:
    """A copy of the v6 fixture: ``state/bot.sqlite`` and the paper broker's ``broker.sqlite`` beside it."""
    shutil.copy(V6_CRASHED / "broker.sqlite", tmp_path / "broker.sqlite")
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    shutil.copy(V6_CRASHED / "bot.sqlite", state / "bot.sqlite")
    with sqlite3.connect(state / "bot.sqlite") as raw:
        assert raw.execute("PRAGMA user_version").fetchone() == (6,)
    return state


def test_a_v6_file_left_by_a_killed_bot_upgrades_in_place_with_its_plan_and_intent(tmp_path: Path) -> None:
    state = v6_state(tmp_path)
    with StateStore(state / "bot.sqlite") as store:
        assert store.schema_version == head() and BASELINE in _revisions()
        assert store.pragma("user_version") == ALEMBIC_USER_VERSION
        assert differences(store) == []
        assert [p.plan_id for p in store.unfinished_plans("main")] == [PLAN]
        assert [(o.client_order_id, o.status) for o in store.orders(account="main", open_only=True)] == [
            (FIRST_ORDER, "intent")
        ]
        assert len(store.exec_parents(plan_id=PLAN)) == 4
        assert store.orders_and_executions.get_order(FIRST_ORDER) == store.get_order(FIRST_ORDER)


@pytest.mark.slow
def test_a_v6_file_left_by_a_killed_bot_upgrades_and_the_bot_resumes_without_sending_twice(
    tmp_path: Path,
) -> None:
    """The proof of issue 19's migration item: the file the pre-Alembic store wrote, killed mid-plan, is
    upgraded by Alembic when the restarted bot opens it, and the bot, against the broker of that moment,
    finds the order the broker already has instead of sending it again, then finishes the plan."""
    state = v6_state(tmp_path)
    broker, recorder = start_broker(tmp_path, FaultConfig(rate_limit_per_minute=None))
    try:
        argv = ["--url", broker.url, "--state-dir", str(state), "--events", str(tmp_path / "events.log")]
        run = subprocess.run(
            [sys.executable, "-m", "tests.bot.crash_child", *argv],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert "state database upgraded" in run.stdout + run.stderr
        posted = recorder.client_order_ids
        assert FIRST_ORDER not in posted, "the order the broker already had was sent again"
        assert [cid for cid, n in Counter(posted).items() if n > 1] == []
        assert {f"{PLAN}-1", f"{PLAN}-2", f"{PLAN}-3"} <= set(posted)
    finally:
        broker.stop()
    with StateStore(state / "bot.sqlite") as store:
        assert store.schema_version == head()
        assert store.get_plan(PLAN).status == "done"
        first = store.get_order(FIRST_ORDER)
        assert first.status == "filled" and first.broker_id is not None


def _revisions() -> list[str]:
    from bot.state.migrate import _scripts

    return [script.revision for script in _scripts().walk_revisions()]
