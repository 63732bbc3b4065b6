"""Fixtures for the broker adapter: AlpacaBroker instances pointed at the in-process paper broker over HTTP.

``Wall`` is a stepped wall clock shared by the paper broker's rate limiter and the adapter; its ``sleep``
records each wait and moves the clock instead of sleeping, so retry tests take no wall time.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.broker.alpaca import AlpacaBroker
from bot.paper_broker.server import PaperBroker
from tests.conftest import KEY, SECRET


class Wall:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


AdapterFactory = Callable[..., AlpacaBroker]


@pytest.fixture
def wall() -> Wall:
    return Wall()


@pytest.fixture
def make_adapter(wall: Wall) -> AdapterFactory:
    """An AlpacaBroker for a paper broker, sleeping on (and reading) the shared stepped wall clock."""

    def factory(paper_broker: PaperBroker, **overrides: object) -> AlpacaBroker:
        settings: dict = {"trading_url": paper_broker.url, "timeout": 5.0, "sleep": wall.sleep}
        settings["wall_clock"] = wall
        settings.update(overrides)
        return AlpacaBroker(KEY, SECRET, **settings)

    return factory


@pytest.fixture
def adapter(broker: PaperBroker, make_adapter: AdapterFactory) -> AlpacaBroker:
    return make_adapter(broker)
