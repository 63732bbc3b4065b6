"""The Broker API adapter over real HTTP: one adviser key pair, two customer accounts, each its own orders."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.broker import AlpacaBrokerApi, BrokerError, OrderIntent, SubmitOutcomeUnknown
from bot.paper_broker.accounts import BrokerApiKeys
from bot.paper_broker.faults import FaultConfig
from bot.paper_broker.server import PaperBroker
from tests.broker.conftest import Wall
from tests.conftest import two_accounts

BROKER_KEY, BROKER_SECRET = "adviser-key", "adviser-secret"
UNKNOWN_ACCOUNT = "00000000-0000-4000-8000-000000000000"


def with_broker_key(**faults: object) -> dict:
    keys = BrokerApiKeys(key_id=BROKER_KEY, secret_key=BROKER_SECRET)
    return {
        "accounts": two_accounts().model_copy(update={"broker_api": keys}),
        "faults": FaultConfig(**{"rate_limit_per_minute": None, **faults}),
    }


def account_id(paper: PaperBroker, name: str) -> str:
    return next(a.id for a in paper.engine.accounts.values() if a.name == name)


def customer(paper: PaperBroker, account: str, wall: Wall, **settings: object) -> AlpacaBrokerApi:
    """The adapter for one customer account, signed with the adviser's key pair unless told otherwise."""
    key, secret = settings.pop("key", BROKER_KEY), settings.pop("secret", BROKER_SECRET)
    options = {"broker_url": paper.url, "timeout": 5.0, "sleep": wall.sleep, "wall_clock": wall, **settings}
    return AlpacaBrokerApi(key, secret, account, **options)


def booked(paper: PaperBroker, client_order_id: str) -> list:
    with paper.engine.lock:
        return [o for o in paper.engine.orders.values() if o.client_order_id == client_order_id]


def buy(cid: str, symbol: str, qty: str = "1") -> OrderIntent:
    return OrderIntent(cid, symbol, "buy", qty=Decimal(qty))


@pytest.fixture
def paper(make_broker) -> PaperBroker:  # noqa: ANN001 - the conftest factory
    return make_broker(**with_broker_key())


def test_one_key_pair_reads_and_trades_two_accounts_each_seeing_only_its_own(paper, wall):
    taxable = customer(paper, account_id(paper, "taxable"), wall)
    ira = customer(paper, account_id(paper, "ira"), wall)
    assert (taxable.account().cash, ira.account().cash) == (Decimal("100000"), Decimal("50000"))
    assert [(p.symbol, p.qty) for p in taxable.positions()] == [("SPY", Decimal(80))]
    assert [(p.symbol, p.qty) for p in ira.positions()] == [("AGG", Decimal(100))]
    assert [f["symbol"] for f in ira.fill_activities()] == ["AGG"]  # its starting lot, not the other's

    for_ira = ira.submit(buy("ira-agg", "AGG", "3"))
    for_taxable = taxable.submit(buy("taxable-spy", "SPY"))
    engine = paper.engine
    assert engine.orders[for_ira.id].account_id == account_id(paper, "ira")
    assert engine.orders[for_taxable.id].account_id == account_id(paper, "taxable")
    assert [o.id for o in ira.open_orders()] == [for_ira.id]
    assert [o.id for o in taxable.open_orders()] == [for_taxable.id]
    assert ira.order_by_client_id("ira-agg") == ira.order(for_ira.id)
    assert taxable.order_by_client_id("ira-agg") is None

    paper.advance(minutes=2)
    assert ira.order(for_ira.id).status == "filled"
    assert [p.symbol for p in taxable.positions()] == ["SPY"] and taxable.positions()[0].qty == Decimal(81)
    assert {f["symbol"] for f in ira.fill_activities()} == {"AGG"} and len(ira.fill_activities()) == 2
    assert ira.latest_quotes(["AGG"])["AGG"].is_two_sided  # market data signed with the broker key too


def test_a_connection_dropped_after_the_order_was_booked_is_resolved_by_lookup(make_broker, wall):
    paper = make_broker(**with_broker_key(drop_after_accept_next=1))
    ira = customer(paper, account_id(paper, "ira"), wall)
    order = ira.submit(buy("dropped", "AGG", "2"))
    assert [o.id for o in booked(paper, "dropped")] == [order.id]
    assert ira.request_count == 2  # the POST whose answer was lost, then the lookup that found it
    assert wall.sleeps == []


def test_a_server_error_before_booking_is_looked_up_and_sent_once_more(make_broker, wall):
    paper = make_broker(**with_broker_key(error_next=1, error_statuses=(503,)))
    taxable = customer(paper, account_id(paper, "taxable"), wall)
    order = taxable.submit(buy("after-503", "SPY"))
    assert [o.id for o in booked(paper, "after-503")] == [order.id]
    assert taxable.request_count == 3  # POST 503, lookup 404 (absent), POST booked


def test_lookups_that_keep_failing_leave_the_outcome_unknown_and_nothing_resent(make_broker, wall):
    paper = make_broker(**with_broker_key(error_next=1 + 3))
    ira = customer(paper, account_id(paper, "ira"), wall, max_attempts=3)
    with pytest.raises(SubmitOutcomeUnknown):
        ira.submit(buy("unknown", "AGG"))
    assert ira.request_count == 1 + 3 and booked(paper, "unknown") == []


def test_wrong_broker_keys_are_a_401_and_nothing_is_booked(paper, wall):
    for key, secret in ((BROKER_KEY, "wrong"), ("test-key", "test-secret")):  # a customer's own keys too
        adapter = customer(paper, account_id(paper, "ira"), wall, key=key, secret=secret)
        with pytest.raises(BrokerError) as caught:
            adapter.account()
        assert (caught.value.status, caught.value.code) == (401, 40110000)
        with pytest.raises(BrokerError):
            adapter.submit(buy("not-mine", "AGG"))
        assert adapter.request_count == 2  # refusals are definite: not retried, not looked up
    assert booked(paper, "not-mine") == []


def test_an_unknown_account_is_an_error_not_an_absent_order(paper, wall):
    stranger = customer(paper, UNKNOWN_ACCOUNT, wall)
    with pytest.raises(BrokerError) as caught:
        stranger.order_by_client_id("anything")
    assert caught.value.status == 404 and f"account not found for {UNKNOWN_ACCOUNT}" in caught.value.message
    with pytest.raises(BrokerError):
        stranger.cancel("00000000-0000-4000-8000-000000000001")
    with pytest.raises(ValueError, match="not a Broker API account id"):
        customer(paper, "acct-1", wall)
