"""The single-account bot, configured for the Broker API, rebalances a customer account of the paper broker.

The bot holds only the adviser's key pair (from the environment, as ``run`` reads it): every read and order
goes through ``/v1/trading/accounts/{id}``, built by the same ``connect`` that ``rebalance-bot run`` uses.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from bot.broker import AlpacaBrokerApi
from bot.paper_broker.accounts import BrokerApiKeys
from bot.paper_broker.faults import FaultConfig
from bot.paper_broker.server import ClockConfig, PaperBroker, ServerConfig
from bot.state.store import StateStore
from bot.worker import Bot, connect
from tests.bot.harness import OPEN_TIME, BrokerTime, bot_config, drifted_60_40

pytestmark = pytest.mark.slow  # a whole bot run; the adapter's own tests are in the quick tier

ENV = {"APCA_BROKER_API_KEY": "adviser-key", "APCA_BROKER_API_SECRET": "adviser-secret"}


def test_a_drifted_customer_account_is_rebalanced_through_the_broker_api(tmp_path):
    keys = BrokerApiKeys(key_id=ENV["APCA_BROKER_API_KEY"], secret_key=ENV["APCA_BROKER_API_SECRET"])
    paper = PaperBroker(
        ServerConfig(
            accounts=drifted_60_40().model_copy(update={"broker_api": keys}),
            clock=ClockConfig(start=OPEN_TIME.date()),
            database=tmp_path / "broker.sqlite",
            faults=FaultConfig(rate_limit_per_minute=None),
        )
    ).start()
    try:
        account_id = next(iter(paper.engine.accounts))
        account = {"name": "main", "broker": "alpaca_broker_api", "base_url": paper.url}
        config = bot_config(
            paper.url, tmp_path / "state", accounts=[account | {"broker_api": {"account_id": account_id}}]
        )
        connections = connect(config, environ=ENV)
        adapter = connections.brokers["main"]
        assert isinstance(adapter, AlpacaBrokerApi) and adapter.account_id == account_id
        assert set(ENV.values()) <= set(connections.secrets)  # redacted from the logs like any key
        store = StateStore(tmp_path / "state" / "bot.sqlite")
        bot = Bot(config, connections.brokers, store, clock=BrokerTime(paper))

        while paper.now < OPEN_TIME + timedelta(hours=2):
            bot.tick()
            paper.advance(minutes=5)

        assert [p.status for p in store.plans(account="main")] == ["done"]
        orders = [o for o in paper.engine.orders.values() if not o.client_order_id.startswith("starting-lot")]
        assert orders and all(o.status == "filled" and o.account_id == account_id for o in orders)
        assert {(o.symbol, o.side) for o in orders} >= {("SPY", "sell"), ("AGG", "buy")}
        state, values = adapter.account(), {p.symbol: p.market_value for p in adapter.positions()}
        assert abs(values["SPY"] / state.equity - Decimal("0.6")) <= Decimal("0.05")
        assert abs(values["AGG"] / state.equity - Decimal("0.4")) <= Decimal("0.05")
    finally:
        paper.stop()
