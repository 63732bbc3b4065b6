"""Fixtures of the new-user walks: a paper account, the right keys, an Apprise receiver (see readme.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.logging_setup import reset_logging
from bot.paper_broker.server import PaperBroker
from tests.approval.receiver import Receiver
from tests.first_run.readme import KEY, SECRET, start_paper_account


@pytest.fixture(autouse=True)
def _logging_undone() -> Iterator[None]:
    """``run`` sets up the log handlers on the runner's streams; later tests must not write to them."""
    yield
    reset_logging()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def paper_account(tmp_path: Path) -> Iterator[PaperBroker]:
    broker = start_paper_account(tmp_path / "broker.sqlite")
    yield broker
    broker.stop()


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The right keys in the environment, run from the user's own directory."""
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.chdir(tmp_path)
