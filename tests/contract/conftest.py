"""Contract-test fixtures: alpaca-py clients whose every response is recorded and checked against the spec."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.trading.client import TradingClient

from bot.paper_broker.server import PaperBroker
from tests.conftest import KEY, SECRET
from tests.contract.schema import Recorder


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """Every response the clients below receive; all are checked against Alpaca's spec when the test ends."""
    recording = Recorder()
    yield recording
    recording.validate_all()


@pytest.fixture
def client(broker: PaperBroker, recorder: Recorder) -> TradingClient:
    return recorder.attach(TradingClient(KEY, SECRET, url_override=broker.url))


@pytest.fixture
def data(broker: PaperBroker, recorder: Recorder) -> StockHistoricalDataClient:
    return recorder.attach(StockHistoricalDataClient(KEY, SECRET, url_override=broker.url))
