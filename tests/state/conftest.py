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


HEAVY_ON_POSTGRESQL = {
    "test_two_threads_share_one_store",
    "test_a_committed_intent_survives_the_writer_being_killed",
}
"""Their PostgreSQL legs (threads, a killed process) run in the slow tier: the quick one keeps its budget."""


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if (
            getattr(item, "originalname", None) in HEAVY_ON_POSTGRESQL
            and callspec is not None
            and callspec.params.get("state_target") == "postgresql"
        ):
            item.add_marker(pytest.mark.slow)
