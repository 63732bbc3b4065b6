"""``state_url``: the state on PostgreSQL instead of ``<state_dir>/bot.sqlite`` - checked like every setting,
used by the CLI, and guarded by a lock on the database itself (bots on other hosts share no lock file)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.state.lock import AlreadyRunning, StateLock
from bot.state.store import StateStore
from tests.bot.test_cli_and_secrets import write_config

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://bot@db/rebalance", "state_url: must be a postgresql:// (psycopg 3) or sqlite:/// URL"),
        ("postgresql://bot:hunter2@db/rebalance", "state_url: must not contain a password: set PGPASSWORD"),
        ("postgresql://bot@db", "state_url: names no database"),
        ("sqlite://", "state_url: names no file"),
    ],
)
def test_a_bad_state_url_is_refused_by_name_with_exit_code_2(tmp_path: Path, url: str, message: str) -> None:
    path = write_config(tmp_path, lambda c: c.update(state_url=url))
    result = runner.invoke(app, ["check-config", "-c", str(path)])
    assert result.exit_code == 2
    assert message in result.output
    assert "hunter2" not in result.output


def test_the_cli_keeps_its_state_where_state_url_says(tmp_path: Path, postgres) -> None:  # noqa: ANN001
    url = postgres.clean_database().replace("postgresql+psycopg://", "postgresql://")  # the driver is implied
    path = write_config(tmp_path, lambda c: c.update(state_url=url))
    assert runner.invoke(app, ["halt", "-c", str(path), "--reason", "market chaos"]).exit_code == 0
    with StateStore("postgresql+psycopg://" + url.removeprefix("postgresql://")) as store:
        assert store.get_flag("halted") == "market chaos"
    assert not (tmp_path / "state" / "bot.sqlite").exists()


def test_a_state_database_that_cannot_be_reached_is_an_error_with_exit_code_2(tmp_path: Path) -> None:
    url = f"postgresql://bot@/rebalance?host={tmp_path}"  # no server listens there
    path = write_config(tmp_path, lambda c: c.update(state_url=url))
    result = runner.invoke(app, ["halt", "-c", str(path), "--reason", "x"])
    assert result.exit_code == 2
    assert "error: cannot open the state database postgresql+psycopg://bot@/rebalance" in result.output
    assert "Traceback" not in result.output


HOLDER = """
import sys, time
from bot.state.lock import StateLock
from bot.state.store import StateStore
store = StateStore(sys.argv[2])
lock = StateLock(sys.argv[1], database=store.db).acquire()
print("locked", flush=True)
time.sleep(120)
"""


@pytest.mark.slow
def test_one_bot_per_postgresql_state_whatever_its_state_dir(tmp_path: Path, postgres, monkeypatch) -> None:  # noqa: ANN001
    """Two hosts have two state directories but one database: the second bot is refused, naming it; the
    lock goes with its holder, even SIGKILLed."""
    monkeypatch.setattr("bot.state.db.BOT_LOCK_WAIT", 0.5)  # the refusals below need not wait the full time
    url = postgres.clean_database()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "host-a"), url],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with StateStore(url) as store:
            with pytest.raises(AlreadyRunning, match="already running on the state database postgresql"):
                StateLock(tmp_path / "host-b", database=store.db).acquire()
            holder.send_signal(signal.SIGKILL)
            holder.wait(30)
            with StateLock(tmp_path / "host-b", database=store.db) as lock:
                assert lock.held
                with pytest.raises(AlreadyRunning):
                    StateLock(tmp_path / "host-c", database=store.db).acquire()
            with StateLock(tmp_path / "host-c", database=store.db):
                pass
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait(30)
        holder.stdout.close()


def test_a_sqlite_state_url_is_a_file_a_dry_run_does_not_create(tmp_path: Path) -> None:
    from bot.config import load_config
    from bot.state.location import state_exists, state_target

    file = tmp_path / "elsewhere" / "state.sqlite"
    path = write_config(tmp_path, lambda c: c.update(state_url=f"sqlite:///{file}"))
    config = load_config(path)
    assert state_target(config) == file and not state_exists(config)
    StateStore(state_target(config)).close()
    assert state_exists(config)
