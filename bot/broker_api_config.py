"""An account reached through Alpaca's Broker API: the adviser's key pair and the customer's account id.

An adviser holds one Broker API key pair and many customer accounts, so in the config each such account says
which customer it is and they all share the key variables::

    accounts:
      - name: alice
        broker: alpaca_broker_api
        broker_api: {account_id: 9a8e6f2c-4b1d-4c3e-8f7a-1d2c3b4a5e6f}
        # base_url: https://broker-api.alpaca.markets   (real money; default: Alpaca's sandbox)
        # key_id_env / secret_key_env: default APCA_BROKER_API_KEY / APCA_BROKER_API_SECRET

``base_url`` stays the account's one URL setting (here the Broker API's: Alpaca's sandbox by default, or a
``rebalance-bot paper-broker``); the keys are read from the environment like every other account's, only
under other default names, since a Broker API key pair is not a Trading API one. The model lives here, not
in ``config.py`` (over its size limit), which references it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, field_validator

BROKER_API = "alpaca_broker_api"
KEY_ENV, SECRET_ENV = "APCA_BROKER_API_KEY", "APCA_BROKER_API_SECRET"
SANDBOX_URL = "https://broker-api.sandbox.alpaca.markets"
PRODUCTION_URL = "https://broker-api.alpaca.markets"
TRADING_API_HOSTS = frozenset({"paper-api.alpaca.markets", "api.alpaca.markets"})
BROKER_API_HOSTS = frozenset({urlparse(SANDBOX_URL).netloc, urlparse(PRODUCTION_URL).netloc})

Problem = tuple[tuple[str | int, ...], str]


class BrokerApiConfig(BaseModel):
    """Which customer account of the Broker API this config account is."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    account_id: str
    """The customer's account id, the UUID Alpaca puts in Broker API paths (``/v1/trading/accounts/{id}``)."""

    @field_validator("account_id", mode="before")
    @classmethod
    def _is_uuid(cls, value: Any) -> str:
        try:
            return str(uuid.UUID(str(value)))
        except ValueError:
            raise ValueError(
                f"{value!r} is not a Broker API account id: give the customer's account UUID "
                "(e.g. 9a8e6f2c-4b1d-4c3e-8f7a-1d2c3b4a5e6f), as GET /v1/accounts lists them"
            ) from None


def with_key_defaults(raw: Any) -> Any:
    """A Broker API account's raw config with the broker key variables as defaults: its keys are the
    adviser's, and falling back to the Trading API's variable names would send the wrong pair."""
    if isinstance(raw, dict) and raw.get("broker") == BROKER_API:
        return {"key_id_env": KEY_ENV, "secret_key_env": SECRET_ENV, **raw}
    return raw


def account_problems(broker: str, broker_api: BrokerApiConfig | None, base_url: str | None) -> list[Problem]:
    """The ``broker_api`` section is there exactly for Broker API accounts, and no URL is the other API's."""
    host = urlparse(base_url).netloc if base_url else ""
    if broker != BROKER_API:
        if broker_api is not None:
            return [(("broker_api",), f"is only for broker {BROKER_API}; remove it or change broker")]
        if broker in ("alpaca_paper", "alpaca_live") and host in BROKER_API_HOSTS:
            return [(("base_url",), f"points at Alpaca's Broker API; use broker {BROKER_API}")]
        return []
    problems: list[Problem] = []
    if broker_api is None:
        problems.append(
            (
                ("broker_api",),
                f"is required for broker {BROKER_API}: give broker_api.account_id, the customer's UUID",
            )
        )
    if host in TRADING_API_HOSTS:
        problems.append(
            (
                ("base_url",),
                f"points at Alpaca's Trading API; the Broker API is {SANDBOX_URL} or {PRODUCTION_URL}",
            )
        )
    return problems


def shared_account_problems(accounts: Sequence[Any]) -> list[Problem]:
    """Two accounts of the config must not be the same customer account: each would trade it as its own."""
    problems: list[Problem] = []
    seen: dict[tuple[str | None, str], str] = {}
    for index, account in enumerate(accounts):
        if account.broker != BROKER_API or account.broker_api is None:
            continue
        key = (account.trading_url, account.broker_api.account_id)
        if key in seen:
            problems.append(
                (
                    ("accounts", index, "broker_api", "account_id"),
                    f"is also account {seen[key]!r}'s: one customer account, one config account",
                )
            )
        seen.setdefault(key, account.name)
    return problems


def is_production(base_url: str | None) -> bool:
    """Whether a Broker API account trades real money: Alpaca's production host."""
    return urlparse(base_url or SANDBOX_URL).netloc == urlparse(PRODUCTION_URL).netloc
