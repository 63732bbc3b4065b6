"""The read retry policy and the transport settings, against real faults injected by the paper broker."""

from __future__ import annotations

import time

import pytest

from bot.broker.models import BrokerError, BrokerUnavailable
from bot.paper_broker.faults import FaultConfig
from tests.broker.conftest import AdapterFactory, Wall


def faults(**fields: object) -> FaultConfig:
    return FaultConfig(**{"rate_limit_per_minute": None, **fields})


def test_a_burst_of_server_errors_on_a_read_is_retried_with_backoff(make_broker, make_adapter, wall: Wall):
    adapter = make_adapter(make_broker(faults=faults(error_next=3, error_statuses=(500, 503))))
    account = adapter.account()
    assert account.status == "ACTIVE"
    assert adapter.request_count == 4
    assert len(wall.sleeps) == 3
    for attempt, waited in enumerate(wall.sleeps, start=1):
        base = 0.5 * 2 ** (attempt - 1)
        assert base <= waited <= base + 0.5  # exponential backoff with jitter


def test_a_read_gives_up_after_max_attempts(make_broker, make_adapter, wall: Wall):
    adapter = make_adapter(make_broker(faults=faults(error_next=10)), max_attempts=3)
    with pytest.raises(BrokerUnavailable):
        adapter.positions()
    assert adapter.request_count == 3 and len(wall.sleeps) == 2


def test_backoff_is_capped_by_max_wait(make_broker, make_adapter, wall: Wall):
    adapter = make_adapter(make_broker(faults=faults(error_next=6)), max_attempts=7, max_wait=1.25)
    adapter.clock()
    assert max(wall.sleeps) <= 1.25 and wall.sleeps[-1] == 1.25


def test_a_client_error_is_not_retried(make_broker, make_adapter, wall: Wall):
    adapter = make_adapter(make_broker())
    with pytest.raises(BrokerError) as caught:
        adapter.order("no-such-order")
    assert caught.value.status == 404 and caught.value.code == 40410000
    assert "not found" in caught.value.message
    assert adapter.request_count == 1 and wall.sleeps == []


def test_429_waits_until_the_rate_limit_resets(make_broker, make_adapter, wall: Wall):
    adapter = make_adapter(make_broker(wall_clock=wall, faults=FaultConfig(rate_limit_per_minute=2)))
    window_start = wall.now
    adapter.clock()
    adapter.account()
    wall.now += 42.5
    adapter.positions()  # third request in the window: 429 with X-RateLimit-Reset = window start + 60
    assert wall.sleeps == [pytest.approx(17.5)]
    assert wall.now == pytest.approx(window_start + 60)
    assert adapter.request_count == 4


def test_429_wait_is_capped_by_max_wait(make_broker, make_adapter, wall: Wall):
    adapter = make_adapter(
        make_broker(wall_clock=wall, faults=FaultConfig(rate_limit_per_minute=1)), max_wait=20.0
    )
    adapter.clock()
    adapter.clock()  # 429, reset in 60 s: waits 20, 20, 20 (still limited each time), then it is through
    assert wall.sleeps == [20.0, 20.0, 20.0]
    assert adapter.request_count == 5


def test_429_that_never_clears_ends_in_broker_unavailable(make_broker, make_adapter, wall: Wall):
    paper = make_broker(wall_clock=wall, faults=FaultConfig(rate_limit_per_minute=1))
    adapter = make_adapter(paper, max_wait=5.0, max_attempts=3)
    adapter.clock()
    with pytest.raises(BrokerUnavailable):
        adapter.clock()
    assert wall.sleeps == [5.0, 5.0]


def test_a_slow_answer_times_out_and_the_read_is_retried(make_broker, make_adapter: AdapterFactory, wall):
    adapter = make_adapter(make_broker(faults=faults(slow_next=1, slow_seconds=1.0)), timeout=0.2)
    started = time.monotonic()
    clock = adapter.clock()
    elapsed = time.monotonic() - started
    assert clock.is_open
    assert elapsed < 0.9  # did not wait for the slow answer
    assert adapter.request_count == 2 and len(wall.sleeps) == 1


def test_alpaca_py_own_retries_are_off(make_broker, make_adapter):
    adapter = make_adapter(make_broker())
    for client in (adapter._trading, adapter._data):
        assert client._retry == 0 and client._retry_codes == []
