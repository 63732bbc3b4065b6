"""The paper broker's Broker API via alpaca-py's BrokerClient over HTTP: one adviser key, many accounts."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests
from alpaca.broker import BrokerClient
from alpaca.broker.requests import GetAccountActivitiesRequest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import GetOrdersRequest, MarketOrderRequest

from bot.paper_broker.accounts import BrokerApiKeys, load_accounts
from bot.paper_broker.server import PaperBroker
from tests.conftest import KEY, OTHER_KEY, OTHER_SECRET, SECRET, two_accounts

BROKER_KEY, BROKER_SECRET = "adviser-key", "adviser-secret"
UNKNOWN_ACCOUNT = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def paper(make_broker) -> PaperBroker:  # noqa: ANN001 - the conftest factory
    keys = BrokerApiKeys(key_id=BROKER_KEY, secret_key=BROKER_SECRET)
    return make_broker(accounts=two_accounts().model_copy(update={"broker_api": keys}))


@pytest.fixture
def adviser(paper: PaperBroker) -> BrokerClient:
    return BrokerClient(BROKER_KEY, BROKER_SECRET, url_override=paper.url)


def account_id(paper: PaperBroker, name: str) -> str:
    return next(a.id for a in paper.engine.accounts.values() if a.name == name)


def buy(symbol: str, cid: str, qty: int = 1) -> MarketOrderRequest:
    return MarketOrderRequest(
        symbol=symbol, qty=qty, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, client_order_id=cid
    )


def refused(call) -> APIError:  # noqa: ANN001 - a zero-argument callable
    with pytest.raises(APIError) as caught:
        call()
    return caught.value


def test_one_broker_key_reads_each_account_as_its_own_trading_api_shows_it(paper, adviser):
    for name, key, secret in (("taxable", KEY, SECRET), ("ira", OTHER_KEY, OTHER_SECRET)):
        own = TradingClient(key, secret, url_override=paper.url)
        trade = adviser.get_trade_account_by_id(account_id(paper, name))  # alpaca-py's Broker TradeAccount
        mine = own.get_account()
        assert (str(trade.id), trade.cash, trade.equity) == (str(mine.id), mine.cash, mine.equity)
        assert trade.previous_close is not None and trade.cash_withdrawable == mine.cash
        held = adviser.get_all_positions_for_account(account_id(paper, name))
        assert [(p.symbol, p.qty) for p in held] == [(p.symbol, p.qty) for p in own.get_all_positions()]
    assert {p.symbol for p in adviser.get_all_positions_for_account(account_id(paper, "ira"))} == {"AGG"}


def test_orders_go_to_the_account_in_the_path_and_each_account_sees_only_its_own(paper, adviser):
    taxable, ira = account_id(paper, "taxable"), account_id(paper, "ira")
    placed = adviser.submit_order_for_account(ira, buy("AGG", "same-cid", 2))
    in_taxable = adviser.submit_order_for_account(taxable, buy("SPY", "same-cid"))  # ids are per account
    assert placed.id != in_taxable.id
    assert adviser.get_order_for_account_by_client_id(ira, "same-cid").id == placed.id
    assert adviser.get_order_for_account_by_client_id(taxable, "same-cid").id == in_taxable.id
    ira_orders = adviser.get_orders_for_account(ira, GetOrdersRequest(status=QueryOrderStatus.OPEN))
    assert [o.id for o in ira_orders] == [placed.id]
    assert refused(lambda: adviser.get_order_for_account_by_id(taxable, placed.id)).status_code == 404
    own_view = TradingClient(OTHER_KEY, OTHER_SECRET, url_override=paper.url).get_orders()
    assert [o.id for o in own_view] == [placed.id]  # the customer's own keys see the adviser's order

    adviser.cancel_order_for_account_by_id(ira, placed.id)
    assert adviser.get_order_for_account_by_id(ira, placed.id).status == "canceled"
    assert adviser.get_order_for_account_by_id(taxable, in_taxable.id).status == "new"


def test_refusals_carry_alpacas_codes(paper, adviser):
    ira = account_id(paper, "ira")
    too_big = refused(lambda: adviser.submit_order_for_account(ira, buy("SPY", "too-big", 10_000)))
    assert (too_big.status_code, too_big.code) == (403, 40310000)
    adviser.submit_order_for_account(ira, buy("AGG", "once"))
    duplicate = refused(lambda: adviser.submit_order_for_account(ira, buy("AGG", "once")))
    assert (duplicate.status_code, duplicate.code, duplicate.message) == (
        422,
        40010001,
        "client_order_id must be unique",
    )


def test_fills_are_listed_for_the_account_asked_for(paper, adviser):
    ira = account_id(paper, "ira")
    fills = adviser.get_account_activities(
        GetAccountActivitiesRequest(account_id=ira, activity_types=["FILL"])
    )
    assert [(str(f.account_id), f.symbol, f.qty) for f in fills] == [(ira, "AGG", 100)]
    raw = adviser.get("/accounts/activities/FILL", {"account_id": ira, "direction": "asc"})
    assert [a["symbol"] for a in raw] == ["AGG"]
    everyone = refused(lambda: adviser.get("/accounts/activities/FILL", {"direction": "asc"}))
    assert everyone.status_code == 422 and "account_id" in everyone.message


def test_wrong_or_missing_broker_keys_are_refused_with_401(make_broker, paper, adviser):
    ira = account_id(paper, "ira")
    for key, secret in ((BROKER_KEY, "wrong"), ("wrong", BROKER_SECRET), (OTHER_KEY, OTHER_SECRET)):
        error = refused(
            lambda k=key, s=secret: BrokerClient(k, s, url_override=paper.url).get_trade_account_by_id(ira)
        )
        assert (error.status_code, error.code) == (401, 40110000)
    assert not [o for o in paper.engine.orders.values() if not o.client_order_id.startswith("starting-lot")]
    without = make_broker()  # an accounts file with no broker_api keys: the Broker API refuses everyone
    error = refused(lambda: BrokerClient(BROKER_KEY, BROKER_SECRET, url_override=without.url).get_clock())
    assert error.status_code == 401


def test_an_unknown_or_malformed_account_id_is_named_in_the_error(paper):
    def get(account: str) -> requests.Response:
        url = f"{paper.url}/v1/trading/accounts/{account}/account"
        return requests.get(url, auth=(BROKER_KEY, BROKER_SECRET), timeout=5)

    unknown = get(UNKNOWN_ACCOUNT)
    assert unknown.status_code == 404
    assert unknown.json() == {"code": 40410000, "message": f"account not found for {UNKNOWN_ACCOUNT}"}
    malformed = get("not-a-uuid")
    assert malformed.status_code == 422 and "account_id" in malformed.json()["message"]


def test_the_broker_key_reads_the_clock_assets_and_market_data(paper, adviser):
    assert adviser.get_clock().is_open
    assert adviser.get_asset("SPY").fractionable
    quotes = requests.get(
        f"{paper.url}/v2/stocks/quotes/latest",
        {"symbols": "SPY"},
        auth=(BROKER_KEY, BROKER_SECRET),
        timeout=5,
    )
    assert quotes.status_code == 200 and Decimal(str(quotes.json()["quotes"]["SPY"]["ap"])) > 0
    wrong = requests.get(
        f"{paper.url}/v2/stocks/quotes/latest", {"symbols": "SPY"}, auth=(BROKER_KEY, "x"), timeout=5
    )
    assert wrong.status_code == 401


def test_the_accounts_file_takes_the_broker_key_pair(tmp_path):
    path = tmp_path / "accounts.yaml"
    path.write_text(
        "broker_api: {key_id: adviser, secret_key: s3cret}\n"
        "accounts:\n  - {name: a, key_id: ka, secret_key: sa, cash: 1000}\n"
    )
    loaded = load_accounts(path)
    assert loaded.broker_api is not None and loaded.broker_api.key_id == "adviser"
    assert "s3cret" not in repr(loaded)
