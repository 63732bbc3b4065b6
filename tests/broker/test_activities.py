"""FILL activities, paged through with page_token until the broker has no more."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from bot.broker.alpaca import AlpacaBroker
from bot.broker.models import OrderIntent
from bot.paper_broker.server import PaperBroker

STARTING_FILLS = 2
"""The paper broker books the test account's two starting SPY lots as fills in 2018 and 2019."""


def many_fills(paper: PaperBroker, adapter: AlpacaBroker, n: int, prefix: str) -> None:
    for i in range(n):
        adapter.submit(OrderIntent(f"{prefix}-{i}", "SPY", "buy", qty=Decimal("1")))
    paper.advance(minutes=1)


def test_fill_activities_pages_through_more_than_100(broker: PaperBroker, adapter: AlpacaBroker) -> None:
    many_fills(broker, adapter, 105, "tiny")
    before = adapter.request_count
    fills = adapter.fill_activities()
    assert adapter.request_count - before == 2  # pages of 100 and 7
    assert len(fills) == 105 + STARTING_FILLS and len({f["id"] for f in fills}) == len(fills)
    first = fills[STARTING_FILLS]
    assert first["activity_type"] == "FILL" and first["symbol"] == "SPY" and first["side"] == "buy"
    assert Decimal(first["qty"]) == 1 and Decimal(first["price"]) > 0
    ours = {o.id for o in adapter.orders() if o.client_order_id.startswith("tiny")}
    assert {f["order_id"] for f in fills[STARTING_FILLS:]} == ours


@pytest.mark.parametrize(("fills", "requests"), [(20, 4), (12, 3), (4, 1)])
def test_fill_activities_page_size(broker: PaperBroker, adapter: AlpacaBroker, fills: int, requests: int):
    many_fills(broker, adapter, fills, "p")
    before = adapter.request_count
    got = adapter.fill_activities(page_size=7)
    total = fills + STARTING_FILLS
    assert len(got) == total and len({f["id"] for f in got}) == total
    assert adapter.request_count - before == requests  # a full last page needs one more (empty) page
    times = [f["transaction_time"] for f in got]
    assert times == sorted(times)  # oldest first


def test_fill_activities_after(broker: PaperBroker, adapter: AlpacaBroker) -> None:
    many_fills(broker, adapter, 3, "early")
    cut = broker.now
    broker.advance(minutes=1)
    many_fills(broker, adapter, 2, "late")
    later = adapter.fill_activities(after=cut + timedelta(seconds=1))
    assert len(later) == 2
    assert len(adapter.fill_activities()) == 5 + STARTING_FILLS


def test_fill_activities_rejects_a_page_size_alpaca_would(adapter: AlpacaBroker) -> None:
    with pytest.raises(ValueError):
        adapter.fill_activities(page_size=101)
