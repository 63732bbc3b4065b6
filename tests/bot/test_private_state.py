"""State is private to the bot's user (issue 17, item 5): the state directory 0700, its files 0600 (database,
journal, log and rotated logs, keys, lock), and the first-run dashboard token never goes to a journal."""

from __future__ import annotations

import io
import os
import pty
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from bot.approval.links import access_token, signing_key
from bot.cli import announce_token
from bot.logging_setup import configure_logging, reset_logging
from bot.paper_broker.store import BrokerStore
from bot.state.lock import StateLock
from bot.state.store import StateStore


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # the common default, under which files come out 0644
    try:
        yield
    finally:
        os.umask(previous)


def test_state_files_are_0600_and_the_state_directory_0700(tmp_path, usual_umask):
    state = tmp_path / "state"
    with StateLock(state):
        store = StateStore(state / "bot.sqlite")
        store.set_flag("x", "y")  # the WAL file exists once something is written
        signing_key(state, environ={})
        access_token(state, environ={})
        BrokerStore(state / "paper-broker.sqlite")
        configure_logging(state / "bot.log", level="INFO", console=False, max_bytes=2000, backups=2)
        try:
            for i in range(100):
                structlog.get_logger("test").info("a line to rotate the log", i=i)
        finally:
            reset_logging()
        assert mode(state / "bot.sqlite-wal") == mode(state / "bot.sqlite-shm") == 0o600
        store.close()  # (closing the last connection removes the -wal and -shm files)
        assert mode(state) == 0o700
        files = sorted(p for p in state.iterdir() if p.is_file())
        names = {p.name for p in files}
        assert {"bot.sqlite", "bot.log", "bot.log.1", "web-secret", "web-token"} <= names
        assert {"bot.lock", "paper-broker.sqlite"} <= names
        assert {p.name: oct(mode(p)) for p in files} == {p.name: oct(0o600) for p in files}


def test_an_existing_open_state_is_tightened_when_the_bot_opens_it(tmp_path, usual_umask):
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    (state / "bot.log").write_text("")
    StateStore(state / "bot.sqlite").close()
    for path in (state, state / "bot.sqlite", state / "bot.log"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    StateStore(state / "bot.sqlite").close()
    configure_logging(state / "bot.log", level="INFO", console=False)
    reset_logging()
    assert (mode(state), mode(state / "bot.sqlite"), mode(state / "bot.log")) == (0o700, 0o600, 0o600)


def test_the_first_run_token_is_shown_on_a_terminal_only(tmp_path):
    token, path = "first-run-token-0123456789abcdef", tmp_path / "web-token"
    piped = io.StringIO()  # stdout under systemd: a pipe to the journal
    announce_token(token, path, piped)
    assert token not in piped.getvalue() and str(path) in piped.getvalue()
    assert "not a terminal" in piped.getvalue()
    leader, follower = pty.openpty()
    try:
        with os.fdopen(follower, "w", closefd=False) as terminal:
            announce_token(token, path, terminal)
        shown = os.read(leader, 4096).decode()
    finally:
        os.close(leader)
        os.close(follower)
    assert token in shown and str(path) in shown
