"""Each read of AlpacaBroker against the paper broker over HTTP, parsed into the bot's models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.broker.alpaca import AlpacaBroker
from bot.broker.models import (
    AccountState,
    AssetInfo,
    BrokerClock,
    BrokerError,
    OrderIntent,
    OrderState,
    PositionState,
    QuoteState,
)
from bot.paper_broker.server import PaperBroker
from tests.broker.conftest import AdapterFactory, Wall

OPEN_UTC = datetime(2019, 12, 17, 14, 30, tzinfo=UTC)
CLOSE_UTC = datetime(2019, 12, 17, 21, 0, tzinfo=UTC)


def ours(orders: list[OrderState]) -> list[str]:
    """Client order ids, leaving out the filled orders the paper broker books for the starting lots."""
    return [o.client_order_id for o in orders if not o.client_order_id.startswith("starting-lot-")]


def counted(adapter: AlpacaBroker, call):  # noqa: ANN001, ANN201 - a zero-argument callable and its result
    before = adapter.request_count
    result = call()
    return result, adapter.request_count - before


def test_clock(adapter: AlpacaBroker) -> None:
    clock, requests = counted(adapter, adapter.clock)
    assert requests == 1
    assert isinstance(clock, BrokerClock)
    assert clock.timestamp == OPEN_UTC and clock.timestamp.tzinfo is UTC
    assert clock.is_open is True
    assert clock.next_close == CLOSE_UTC
    assert clock.next_open == datetime(2019, 12, 18, 14, 30, tzinfo=UTC)


def test_account(adapter: AlpacaBroker) -> None:
    account = adapter.account()
    assert isinstance(account, AccountState)
    assert account.cash == Decimal("100000")
    assert isinstance(account.equity, Decimal) and account.equity > account.cash  # 80 SPY held
    # a margin account (Alpaca paper's kind): Reg T's 2x on the equity above the 50% initial margin
    reg_t = (account.equity - (account.equity - account.cash) / 2) * 2
    assert abs(account.buying_power - reg_t) <= Decimal("0.02")  # margins are rounded to the cent
    assert account.buying_power > account.cash
    assert account.status == "ACTIVE"


def test_positions(adapter: AlpacaBroker) -> None:
    (spy,) = adapter.positions()
    assert isinstance(spy, PositionState)
    assert spy.symbol == "SPY" and spy.qty == Decimal("80")
    expected_avg = (50 * Decimal("270.00") + 30 * Decimal("290.50")) / 80
    assert spy.avg_entry_price == expected_avg.quantize(Decimal("0.0001"))
    assert spy.current_price > 0
    assert spy.market_value == (spy.qty * spy.current_price).quantize(Decimal("0.01"))


def test_latest_quotes_is_one_batched_request(adapter: AlpacaBroker) -> None:
    quotes, requests = counted(adapter, lambda: adapter.latest_quotes(["SPY", "agg", "VTI", "NOPE"]))
    assert requests == 1
    assert set(quotes) == {"SPY", "AGG", "VTI"}  # an unknown symbol has no quote
    for symbol, quote in quotes.items():
        assert isinstance(quote, QuoteState) and quote.symbol == symbol
        assert isinstance(quote.bid, Decimal) and 0 < quote.bid < quote.ask
        assert quote.bid < quote.mid < quote.ask and quote.is_two_sided
        assert quote.timestamp is not None and quote.timestamp.tzinfo is UTC
        assert quote.timestamp <= OPEN_UTC
    assert adapter.latest_quotes([]) == {}


def test_assets(make_broker, make_adapter: AdapterFactory) -> None:
    adapter = make_adapter(make_broker(matching={"non_fractionable": ["VTI"]}))
    assets, requests = counted(adapter, lambda: adapter.assets(["SPY", "VTI", "ZZZZ"]))
    assert requests == 3
    assert assets["SPY"] == AssetInfo("SPY", tradable=True, fractionable=True, status="active")
    assert assets["VTI"] == AssetInfo("VTI", tradable=True, fractionable=False, status="active")
    assert assets["ZZZZ"] == AssetInfo("ZZZZ", tradable=False, fractionable=False, status="not_found")


def test_orders_reads_and_lookups(broker: PaperBroker, adapter: AlpacaBroker) -> None:
    resting = adapter.submit(
        OrderIntent("rest-1", "SPY", "buy", qty=Decimal("2"), type="limit", limit_price=Decimal("100.009"))
    )
    market = adapter.submit(OrderIntent("mkt-1", "AGG", "buy", notional=Decimal("500")))
    broker.advance(minutes=1)

    assert [o.client_order_id for o in adapter.open_orders()] == ["rest-1"]
    assert set(ours(adapter.orders())) == {"rest-1", "mkt-1"}

    got = adapter.order(resting.id)
    assert isinstance(got, OrderState)
    assert got == adapter.order_by_client_id("rest-1")
    assert (got.symbol, got.side, got.type, got.time_in_force) == ("SPY", "buy", "limit", "day")
    assert got.qty == Decimal("2") and got.notional is None
    assert got.limit_price == Decimal("100.00")  # a buy limit is rounded down to cents
    assert got.filled_qty == 0 and got.filled_avg_price is None
    assert got.status == "new" and got.is_open and not got.is_final
    assert got.submitted_at == OPEN_UTC and got.updated_at is not None and got.updated_at.tzinfo is UTC

    filled = adapter.order(market.id)
    assert filled.status == "filled" and filled.is_final and not filled.is_open
    assert filled.qty is None and filled.notional == Decimal("500")
    assert filled.filled_qty > 0 and filled.filled_avg_price is not None
    assert abs(filled.filled_qty * filled.filled_avg_price - Decimal("500")) < Decimal("0.05")

    assert adapter.order_by_client_id("never-sent") is None
    with pytest.raises(BrokerError) as caught:
        adapter.order("00000000-0000-0000-0000-000000000000")
    assert caught.value.status == 404 and caught.value.code == 40410000


def test_orders_after_and_status_filters(broker: PaperBroker, adapter: AlpacaBroker) -> None:
    adapter.submit(OrderIntent("early", "SPY", "buy", qty=Decimal("1")))
    broker.advance(minutes=5)
    adapter.submit(OrderIntent("late", "SPY", "buy", qty=Decimal("1")))
    after = [o.client_order_id for o in adapter.orders(after=OPEN_UTC + timedelta(minutes=1))]
    assert after == ["late"]
    assert ours(adapter.orders(status="closed")) == ["early"]
    assert ours(adapter.orders(direction="asc")) == ["early", "late"]
    assert len(adapter.orders(limit=1)) == 1


def test_cancel_and_cancel_all(adapter: AlpacaBroker) -> None:
    def resting(cid: str) -> OrderState:
        return adapter.submit(
            OrderIntent(cid, "SPY", "buy", qty=Decimal("1"), type="limit", limit_price=Decimal("50"))
        )

    first = resting("c-1")
    adapter.cancel(first.id)
    assert adapter.order(first.id).status == "canceled"
    adapter.cancel(first.id)  # already final: quiet
    adapter.cancel("00000000-0000-0000-0000-000000000000")  # unknown: quiet
    resting("c-2")
    resting("c-3")
    assert adapter.cancel_all() == 2
    assert adapter.open_orders() == []
    assert adapter.cancel_all() == 0


def test_bad_keys_are_a_definite_refusal(broker: PaperBroker, wall: Wall) -> None:
    adapter = AlpacaBroker("wrong", "keys", trading_url=broker.url, sleep=wall.sleep, wall_clock=wall)
    with pytest.raises(BrokerError) as caught:
        adapter.account()
    assert caught.value.status == 401
    assert adapter.request_count == 1 and wall.sleeps == []


def test_request_count_counts_every_request(adapter: AlpacaBroker) -> None:
    assert adapter.request_count == 0
    adapter.clock()
    adapter.account()
    adapter.positions()
    adapter.latest_quotes(["SPY"])
    assert adapter.request_count == 4


def test_bars_of_several_symbols_follow_every_page(
    broker: PaperBroker, adapter: AlpacaBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker.advance(minutes=90)
    start = broker.now - timedelta(minutes=60)
    monkeypatch.setattr("bot.broker.alpaca.BARS_MAX_PAGE", 25)  # 2 symbols x 60 minutes: 5 pages
    bars, requests = counted(adapter, lambda: adapter.bars(["spy", "AGG"], "1Min", start, broker.now))
    assert requests == 5
    assert {s: len(b) for s, b in bars.items()} == {"AGG": 60, "SPY": 60}
    spy = bars["SPY"]
    assert spy[0].t == start and spy[-1].t == broker.now - timedelta(minutes=1)
    assert all(isinstance(b.volume, Decimal) and b.volume > 0 and b.low <= b.close <= b.high for b in spy)
    daily = adapter.bars(["SPY"], "1Day", start - timedelta(days=10), broker.now)["SPY"]
    assert len(daily) == 7 and daily[-1].t.date() == broker.now.date()  # the running session's bar last


@pytest.mark.parametrize(
    ("trading_url", "data_host"),
    [
        ("https://paper-api.alpaca.markets", "https://data.alpaca.markets"),
        ("https://api.alpaca.markets", "https://data.alpaca.markets"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
    ],
)
def test_market_data_goes_to_alpacas_data_host_and_to_the_paper_broker_itself(
    trading_url: str, data_host: str
) -> None:
    # Alpaca serves bars and quotes from data.alpaca.markets for paper and live accounts alike; the
    # embedded paper broker serves both APIs from one server
    adapter = AlpacaBroker("KEY", "SECRET", trading_url=trading_url, paper="paper" in trading_url)
    assert adapter._data._base_url == data_host
    assert adapter._trading._base_url == trading_url
