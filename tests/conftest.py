"""Shared fixtures: an in-process paper broker on a free port, driven through alpaca-py over real HTTP.

The broker's clock is manual in tests: nothing moves until a test calls ``broker.advance(...)``, so tests step
time instead of sleeping on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.trading.client import TradingClient

from bot.paper_broker.accounts import AccountsFile, AccountSpec, StartingLot, StartingPosition
from bot.paper_broker.faults import FaultConfig
from bot.paper_broker.server import ClockConfig, PaperBroker, ServerConfig

KEY, SECRET = "test-key", "test-secret"
OTHER_KEY, OTHER_SECRET = "other-key", "other-secret"
START = date(2019, 12, 17)
"""A Tuesday inside the window of real 1-minute bars bundled with the project (Dec 2019 - Jan 2020)."""


def two_accounts() -> AccountsFile:
    """A taxable account with $100k and some SPY bought in 2018, and an IRA with $50k and AGG."""
    return AccountsFile(
        accounts=(
            AccountSpec(
                name="taxable",
                key_id=KEY,
                secret_key=SECRET,
                cash=Decimal("100000"),
                positions=(
                    StartingPosition(
                        symbol="SPY",
                        lots=(
                            StartingLot(qty=Decimal(50), price=Decimal("270.00"), date=date(2018, 3, 1)),
                            StartingLot(qty=Decimal(30), price=Decimal("290.50"), date=date(2019, 6, 3)),
                        ),
                    ),
                ),
            ),
            AccountSpec(
                name="ira",
                key_id=OTHER_KEY,
                secret_key=OTHER_SECRET,
                cash=Decimal("50000"),
                positions=(
                    StartingPosition(
                        symbol="AGG",
                        lots=(StartingLot(qty=Decimal(100), price=Decimal("105"), date=date(2019, 1, 2)),),
                    ),
                ),
                settings={"account_type": "traditional_ira", "margin_type": "cash"},  # an IRA cannot borrow
            ),
        )
    )


BrokerFactory = Callable[..., PaperBroker]


@pytest.fixture
def make_broker(tmp_path: Path) -> Iterator[BrokerFactory]:
    """Build and start brokers with overrides; all are stopped at the end of the test."""
    started: list[PaperBroker] = []

    def factory(wall_clock: Callable[[], float] = time.time, **overrides: object) -> PaperBroker:
        settings: dict = {
            "accounts": two_accounts(),
            "clock": ClockConfig(start=START),
            "database": tmp_path / "broker.sqlite",
            "faults": FaultConfig(rate_limit_per_minute=None),
        }
        settings.update(overrides)
        broker = PaperBroker(ServerConfig(**settings), wall_clock=wall_clock).start()
        started.append(broker)
        return broker

    yield factory
    for broker in started:
        broker.stop()


@pytest.fixture
def broker(make_broker: BrokerFactory) -> PaperBroker:
    return make_broker()


@pytest.fixture
def trading(broker: PaperBroker) -> TradingClient:
    return TradingClient(KEY, SECRET, url_override=broker.url)


@pytest.fixture
def other_trading(broker: PaperBroker) -> TradingClient:
    return TradingClient(OTHER_KEY, OTHER_SECRET, url_override=broker.url)


@pytest.fixture
def market_data(broker: PaperBroker) -> StockHistoricalDataClient:
    return StockHistoricalDataClient(KEY, SECRET, url_override=broker.url)


@pytest.fixture(scope="session")
def postgres() -> Iterator[object]:
    """A throwaway PostgreSQL server for this test process (``tests/postgres.py``); ``.database()`` gives the
    URL of a new, empty database on it."""
    from tests.postgres import start_or_skip

    server = start_or_skip()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=("sqlite", "postgresql"))
def state_target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """What a ``StateStore`` is opened on, once per engine: a fresh SQLite file (the embedded default), or the
    URL of an empty database on the throwaway PostgreSQL server. Store tests take it to run on both."""
    if request.param == "sqlite":
        return tmp_path / "state" / "bot.sqlite"
    return request.getfixturevalue("postgres").clean_database()


@pytest.fixture(params=("sqlite", "postgresql"))
def new_state_target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Like ``state_target``, but a database no store has opened yet (for tests of creating and migrating)."""
    if request.param == "sqlite":
        return tmp_path / "state" / "bot.sqlite"
    return request.getfixturevalue("postgres").database()
