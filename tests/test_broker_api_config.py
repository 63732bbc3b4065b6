"""Config of an account reached through Alpaca's Broker API: its shape, its defaults, its refusals."""

from __future__ import annotations

from typing import Any

import pytest

from bot.adapters import adapter_for
from bot.banner import banner_lines, trading_mode
from bot.broker import AlpacaBroker, AlpacaBrokerApi, BrokerError
from bot.broker_watch import describe
from bot.config import BotConfig, Credentials, load_config, resolve_credentials
from tests.test_config import problems_for, write

ALICE = "9a8e6f2c-4b1d-4c3e-8f7a-1d2c3b4a5e6f"
BOB = "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b"


def config(*accounts: dict[str, Any]) -> dict[str, Any]:
    return {"accounts": list(accounts), "targets": {"SPY": 0.6, "AGG": 0.4}}


def customer(name: str, account_id: Any = ALICE, **more: Any) -> dict[str, Any]:
    return {"name": name, "broker": "alpaca_broker_api", "broker_api": {"account_id": account_id}, **more}


def test_a_broker_api_account_reads_the_adviser_keys_and_defaults_to_the_sandbox(tmp_path):
    loaded = load_config(write(tmp_path, config(customer("alice", ALICE.upper()), customer("bob", BOB))))
    alice, bob = loaded.accounts
    assert alice.broker_api is not None and alice.broker_api.account_id == ALICE  # Alpaca's lower-case form
    assert (alice.key_id_env, alice.secret_key_env) == ("APCA_BROKER_API_KEY", "APCA_BROKER_API_SECRET")
    assert alice.trading_url == "https://broker-api.sandbox.alpaca.markets" and not alice.is_live
    assert trading_mode(loaded) == "PAPER"
    env = {"APCA_BROKER_API_KEY": "adviser-key", "APCA_BROKER_API_SECRET": "adviser-secret"}
    keys = [resolve_credentials(a, env, dotenv_path=None) for a in (alice, bob)]
    assert {k.key_id for k in keys} == {"adviser-key"}  # one key pair for every customer account
    adapter = adapter_for(bob, keys[1])
    assert isinstance(adapter, AlpacaBrokerApi) and adapter.account_id == BOB


def test_the_production_broker_api_is_live_and_the_banner_says_so(tmp_path):
    live = customer("alice", base_url="https://broker-api.alpaca.markets")
    loaded = load_config(write(tmp_path, config(live)))
    assert loaded.accounts[0].is_live and trading_mode(loaded) == "LIVE"
    lines = banner_lines(loaded, {"alice": "https://broker-api.alpaca.markets"}, None)
    assert lines[0].endswith("LIVE - real money")
    assert f"LIVE Broker API account {ALICE}" in lines[1]


def test_key_variables_can_be_renamed_and_are_the_ones_a_refusal_names(tmp_path):
    renamed = customer("alice", key_id_env="FIRM_BROKER_KEY", secret_key_env="FIRM_BROKER_SECRET")
    loaded = BotConfig.model_validate(config(renamed))
    line = describe(BrokerError(401, 40110000, "request is not authorized"), loaded)
    assert "FIRM_BROKER_KEY and FIRM_BROKER_SECRET (account alice)" in line


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        (
            {"name": "alice", "broker": "alpaca_broker_api"},
            "accounts[0].broker_api: is required for broker alpaca_broker_api",
        ),
        (
            customer("alice", "acct-1"),
            "accounts[0].broker_api.account_id: 'acct-1' is not a Broker API account id",
        ),
        (
            customer("alice", base_url="https://paper-api.alpaca.markets"),
            "accounts[0].base_url: points at Alpaca's Trading API; the Broker API is",
        ),
        (
            {"name": "a", "broker": "alpaca_paper", "broker_api": {"account_id": ALICE}},
            "accounts[0].broker_api: is only for broker alpaca_broker_api",
        ),
        (
            {"name": "a", "broker": "alpaca_paper", "base_url": "https://broker-api.sandbox.alpaca.markets"},
            "accounts[0].base_url: points at Alpaca's Broker API; use broker alpaca_broker_api",
        ),
        (
            customer("alice") | {"broker_api": {"account_id": ALICE, "acount": 1}},
            "accounts[0].broker_api.acount",
        ),
    ],
)
def test_a_wrong_broker_api_account_is_refused_with_a_line_naming_the_key(tmp_path, account, expected):
    problems = problems_for(tmp_path, config(account))
    assert any(p.startswith(expected) for p in problems), problems


def test_two_config_accounts_may_not_be_the_same_customer(tmp_path):
    problems = problems_for(tmp_path, config(customer("alice"), customer("alice-again")))
    assert any(p.startswith("accounts[1].broker_api.account_id: is also account 'alice'") for p in problems)


def test_a_trading_api_account_still_gets_the_trading_api_adapter(tmp_path):
    loaded = BotConfig.model_validate(config({"name": "p", "broker": "alpaca_paper"}))
    adapter = adapter_for(loaded.accounts[0], Credentials("k", "s"))
    assert type(adapter) is AlpacaBroker
