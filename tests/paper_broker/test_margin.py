"""Cash and margin accounts through alpaca-py over HTTP: Alpaca's multiplier rules, buying powers,
margins, ``max_margin_multiplier`` and the 403 for buys beyond buying power. Every response is checked
against the spec.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import MarketOrderRequest

from bot.paper_broker.accounts import AccountSettings, AccountsFile, AccountSpec, load_accounts
from tests.conftest import KEY, SECRET
from tests.contract.schema import Recorder

CENT = Decimal("0.01")


def one_account(cash: str, **settings: object) -> AccountsFile:
    return AccountsFile(
        accounts=(
            AccountSpec(
                name="main",
                key_id=KEY,
                secret_key=SECRET,
                cash=Decimal(cash),
                settings=AccountSettings(**settings),
            ),
        )
    )


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recording = Recorder()
    yield recording
    recording.validate_all()


@pytest.fixture
def connect(make_broker, recorder: Recorder):  # noqa: ANN001, ANN201 - a builder
    def build(cash: str = "100000", **settings: object) -> tuple[object, TradingClient]:
        broker = make_broker(accounts=one_account(cash, **settings), database=None)
        return broker, recorder.attach(TradingClient(KEY, SECRET, url_override=broker.url))

    return build


def buy(symbol: str, **amount: float) -> MarketOrderRequest:
    return MarketOrderRequest(symbol=symbol, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, **amount)


def raw_account(client: TradingClient) -> dict:
    return client.get("/account")


def test_a_cash_account_has_multiplier_1_and_buying_power_equal_to_cash(connect) -> None:
    _, client = connect(margin_type="cash")
    account = raw_account(client)
    assert account["multiplier"] == "1"
    assert Decimal(account["buying_power"]) == Decimal(account["cash"]) == Decimal(100_000)
    assert Decimal(account["regt_buying_power"]) == Decimal(100_000)
    assert Decimal(account["daytrading_buying_power"]) == 0
    assert account["initial_margin"] == account["maintenance_margin"] == "0"
    assert account["pattern_day_trader"] is False


def test_a_margin_account_with_2000_or_more_has_reg_t_2x_and_margins_on_its_holdings(connect) -> None:
    broker, client = connect()
    assert raw_account(client)["multiplier"] == "2"
    assert Decimal(raw_account(client)["buying_power"]) == Decimal(200_000)  # all cash: 2x the equity
    client.submit_order(buy("SPY", qty=100))
    broker.advance(minutes=1)
    account = raw_account(client)
    equity, long_value = Decimal(account["equity"]), Decimal(account["long_market_value"])
    initial = (long_value / 2).quantize(CENT)
    assert Decimal(account["initial_margin"]) == initial
    assert Decimal(account["maintenance_margin"]) == (long_value * Decimal("0.3")).quantize(CENT)
    assert abs(Decimal(account["buying_power"]) - (equity - initial) * 2) <= CENT
    assert Decimal(account["regt_buying_power"]) == Decimal(account["buying_power"])
    assert Decimal(account["non_marginable_buying_power"]) < Decimal(account["buying_power"])


def test_a_margin_account_under_2000_has_multiplier_1(connect) -> None:
    _, client = connect(cash="1500")
    account = raw_account(client)
    assert account["multiplier"] == "1" and Decimal(account["buying_power"]) == Decimal(1500)


def test_a_pattern_day_trader_with_25000_gets_4x_intraday_and_2x_overnight(connect) -> None:
    broker, client = connect(pattern_day_trader=True)
    account = raw_account(client)
    assert account["multiplier"] == "4" and account["pattern_day_trader"] is True
    last = Decimal(account["last_equity"]) - Decimal(account["last_maintenance_margin"])
    assert Decimal(account["daytrading_buying_power"]) == last * 4 == Decimal(400_000)
    assert Decimal(account["buying_power"]) == Decimal(account["daytrading_buying_power"])
    assert Decimal(account["regt_buying_power"]) == Decimal(200_000)
    order = client.submit_order(buy("SPY", qty=1000))  # ~$320k: beyond 2x, within 4x intraday
    broker.advance(minutes=30)
    assert client.get_order_by_id(order.id).status == OrderStatus.FILLED
    account = raw_account(client)
    assert Decimal(account["cash"]) < -200_000  # borrowed, as Alpaca lets a pattern day trader
    spent = Decimal(400_000) - Decimal(account["daytrading_buying_power"])
    assert abs(spent + Decimal(account["cash"]) - 100_000) <= 1  # what it bought used its day-trading power
    small, small_client = connect(cash="20000", pattern_day_trader=True)
    assert raw_account(small_client)["multiplier"] == "2"  # under $25,000 the flag gives no 4x


def test_max_margin_multiplier_changes_buying_power_and_is_validated(connect, recorder: Recorder) -> None:
    _, client = connect()
    assert client.get_account_configurations().max_margin_multiplier == "4"
    patched = client.patch("/account/configurations", {"max_margin_multiplier": "1"})
    assert patched["max_margin_multiplier"] == "1"
    account = raw_account(client)
    assert account["multiplier"] == "1" and Decimal(account["buying_power"]) == Decimal(account["cash"])
    refused = rejected(lambda: client.submit_order(buy("SPY", qty=400)))  # ~$128k: now beyond buying power
    assert (refused.status_code, refused.code, refused.message) == (
        403,
        40310000,
        "insufficient buying power",
    )
    client.patch("/account/configurations", {"max_margin_multiplier": "2"})
    assert raw_account(client)["multiplier"] == "2"
    for bad in ("3", 2, "", None):
        error = rejected(
            lambda bad=bad: client.patch("/account/configurations", {"max_margin_multiplier": bad})
        )
        assert error.status_code == 422 and "max_margin_multiplier" in error.message
    assert client.get_account_configurations().max_margin_multiplier == "2"


def test_buys_beyond_buying_power_get_alpacas_403_and_within_it_borrow(connect) -> None:
    broker, client = connect(cash="10000")
    error = rejected(lambda: client.submit_order(buy("SPY", qty=70)))  # ~$22k > 2 x $10k
    assert (error.status_code, error.code, error.message) == (403, 40310000, "insufficient buying power")
    body = error.response.json()
    assert Decimal(body["buying_power"]) == Decimal(20_000) and Decimal(body["cost_basis"]) > 20_000
    order = client.submit_order(buy("SPY", qty=50))  # ~$16k: more than the cash, within 2x
    broker.advance(minutes=5)
    assert client.get_order_by_id(order.id).status == OrderStatus.FILLED
    assert Decimal(raw_account(client)["cash"]) < 0
    _, cash_client = connect(cash="10000", margin_type="cash")
    error = rejected(lambda: cash_client.submit_order(buy("SPY", qty=50)))
    assert (error.status_code, error.message) == (403, "insufficient buying power")


def test_the_day_trading_power_is_restored_at_the_next_session(connect) -> None:
    broker, client = connect(pattern_day_trader=True)
    client.submit_order(buy("SPY", qty=100))
    broker.advance(minutes=5)
    used = Decimal(raw_account(client)["daytrading_buying_power"])
    broker.advance(days=1)
    account = raw_account(client)
    fresh = (Decimal(account["last_equity"]) - Decimal(account["last_maintenance_margin"])) * 4
    assert used < Decimal(400_000) - 30_000  # today's purchases used the day-trading power up...
    assert Decimal(account["daytrading_buying_power"]) == fresh.quantize(CENT)  # ...and the next day, anew


def test_account_kind_comes_from_the_accounts_file(tmp_path) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text(
        "accounts:\n"
        "  - {name: a, key_id: k, secret_key: s, cash: 5000, settings: {margin_type: cash}}\n"
        "  - {name: b, key_id: k2, secret_key: s2, cash: 5000,"
        " settings: {pattern_day_trader: true, max_margin_multiplier: '2'}}\n"
    )
    first, second = load_accounts(path).accounts
    assert first.settings.margin_type == "cash" and second.settings.margin_type == "margin"
    assert second.settings.pattern_day_trader and second.settings.max_margin_multiplier == "2"
    path.write_text(
        "accounts:\n  - {name: a, key_id: k, secret_key: s, cash: 1, settings: {margin_type: loan}}\n"
    )
    with pytest.raises(ValueError, match="margin_type"):
        load_accounts(path)


def rejected(call) -> APIError:  # noqa: ANN001 - a zero-argument callable
    with pytest.raises(APIError) as caught:
        call()
    return caught.value
