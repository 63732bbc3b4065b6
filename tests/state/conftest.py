"""The state's tests run on both engines (``state_target``, from ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.state.store import StateStore


@pytest.fixture
def store(state_target: Path | str) -> Iterator[StateStore]:
    with StateStore(state_target) as opened:
        yield opened
