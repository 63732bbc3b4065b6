"""The state's tests run on both engines: SQLite (the embedded default) and PostgreSQL (a throwaway server,
``tests/postgres.py``). ``state_target`` is what ``StateStore`` is opened on: a fresh SQLite file, or the URL
of a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.state.store import StateStore

ENGINES = ("sqlite", "postgresql")


@pytest.fixture(params=ENGINES)
def state_target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    if request.param == "sqlite":
        return tmp_path / "state" / "bot.sqlite"
    return request.getfixturevalue("postgres").database()


@pytest.fixture
def store(state_target: Path | str) -> Iterator[StateStore]:
    with StateStore(state_target) as opened:
        yield opened
