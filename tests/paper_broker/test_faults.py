"""Fault injection: rate limits, server-error bursts, slow answers and an order whose response is lost."""

from __future__ import annotations

import pytest
import requests
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import MarketOrderRequest

from bot.paper_broker.faults import FaultConfig
from tests.conftest import KEY, OTHER_KEY, OTHER_SECRET, SECRET

HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}


class SteppedClock:
    """A wall clock that only moves when told to, for the rate limiter's one-minute window."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limit_answers_429_with_alpacas_headers_and_resets_after_the_window(make_broker):
    clock = SteppedClock()
    broker = make_broker(wall_clock=clock, faults=FaultConfig(rate_limit_per_minute=5))
    answers = [requests.get(f"{broker.url}/v2/account", headers=HEADERS, timeout=5) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert answers[0].headers["X-RateLimit-Limit"] == "5"
    assert [a.headers["X-RateLimit-Remaining"] for a in answers[:5]] == ["4", "3", "2", "1", "0"]
    assert int(answers[5].headers["X-RateLimit-Reset"]) == int(clock.now) + 60
    assert answers[5].json()["code"] == 42910000 and "message" in answers[5].json()
    other = {"APCA-API-KEY-ID": OTHER_KEY, "APCA-API-SECRET-KEY": OTHER_SECRET}
    assert (
        requests.get(f"{broker.url}/v2/account", headers=other, timeout=5).status_code == 200
    )  # per account
    clock.now += 60
    assert requests.get(f"{broker.url}/v2/account", headers=HEADERS, timeout=5).status_code == 200


def test_alpacas_default_limit_is_200_per_minute(make_broker):
    broker = make_broker(wall_clock=SteppedClock(), faults=FaultConfig())
    statuses = [
        requests.get(f"{broker.url}/v2/clock", headers=HEADERS, timeout=5).status_code for _ in range(201)
    ]
    assert statuses.count(200) == 200 and statuses[-1] == 429


def test_bursts_of_server_errors(make_broker):
    broker = make_broker(
        faults=FaultConfig(rate_limit_per_minute=None, error_next=3, error_statuses=(500, 503))
    )
    statuses = [requests.get(f"{broker.url}/v2/clock", headers=HEADERS, timeout=5) for _ in range(4)]
    assert all(s.status_code in (500, 503) for s in statuses[:3])
    assert all({"code", "message"} <= set(s.json()) for s in statuses[:3])
    assert statuses[3].status_code == 200


def test_random_error_bursts_are_reproducible_from_the_seed(make_broker):
    config = FaultConfig(rate_limit_per_minute=None, error_rate=0.2, error_burst_length=2, seed=7)
    runs = []
    for _ in range(2):
        broker = make_broker(faults=config)
        runs.append(
            [
                requests.get(f"{broker.url}/v2/clock", headers=HEADERS, timeout=5).status_code
                for _ in range(30)
            ]
        )
        broker.stop()
    assert runs[0] == runs[1]
    assert 0 < sum(s != 200 for s in runs[0]) < 30


def test_slow_responses_trip_a_client_timeout(make_broker):
    broker = make_broker(faults=FaultConfig(rate_limit_per_minute=None, slow_next=1, slow_seconds=1.0))
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(f"{broker.url}/v2/clock", headers=HEADERS, timeout=0.2)
    assert requests.get(f"{broker.url}/v2/clock", headers=HEADERS, timeout=5).status_code == 200


def test_order_accepted_then_connection_dropped_is_booked_and_can_be_looked_up(make_broker):
    broker = make_broker(faults=FaultConfig(rate_limit_per_minute=None, drop_after_accept_next=1))
    client = TradingClient(KEY, SECRET, url_override=broker.url)
    request = MarketOrderRequest(
        symbol="SPY",
        qty=1,
        side=OrderSide.BUY,
        time_in_force=TimeInForce.DAY,
        client_order_id="lost-response",
    )
    with pytest.raises(requests.exceptions.ConnectionError):
        client.submit_order(request)
    booked = client.get_order_by_client_id("lost-response")  # the order exists although no answer came back
    assert booked.status == OrderStatus.NEW
    broker.advance(minutes=1)
    assert client.get_order_by_client_id("lost-response").status == OrderStatus.FILLED


def test_rejected_orders_are_answered_even_when_drops_are_on(make_broker):
    broker = make_broker(faults=FaultConfig(rate_limit_per_minute=None, drop_after_accept_rate=1.0))
    answer = requests.post(
        f"{broker.url}/v2/orders",
        headers=HEADERS,
        timeout=5,
        json={"symbol": "SPY", "qty": "100000", "side": "buy", "type": "market", "time_in_force": "day"},
    )
    assert answer.status_code == 403


def test_faults_can_be_changed_while_running(make_broker):
    broker = make_broker()
    answer = requests.put(
        f"{broker.url}/_paper/faults", json={"error_next": 1, "rate_limit_per_minute": None}, timeout=5
    )
    assert answer.status_code == 200
    assert requests.get(f"{broker.url}/v2/clock", headers=HEADERS, timeout=5).status_code in (500, 503)
    assert requests.get(f"{broker.url}/v2/clock", headers=HEADERS, timeout=5).status_code == 200
    bad = requests.put(f"{broker.url}/_paper/faults", json={"error_rate": 7}, timeout=5)
    assert bad.status_code == 422 and "error_rate" in bad.json()["message"]
