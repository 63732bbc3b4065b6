"""The adviser's broker: Alpaca's Broker API, one set of broker credentials, orders for one customer account.

An adviser holds one Broker API key pair and many customer accounts. Each account of the bot's config names
its customer's account id and they all share that key pair, so the rest of the bot sees one adapter per
account, exactly as with the Trading API. This adapter *is* the Trading API one (``alpaca.py``) with
three things changed, so its guarantees hold unchanged (a deterministic client_order_id sent once, an
ambiguous failure resolved by looking the order up by that id before any resend, the same retries and error
mapping):

* where requests go: ``/v1/trading/accounts/{account_id}/...`` for the account, positions and orders, and
  ``/v1/accounts/activities/FILL?account_id=...`` for fills (clock and assets keep their paths under ``/v1``);
* how they are signed: HTTP Basic with the broker key pair, through alpaca-py's ``BrokerClient``;
* market data: read with the broker key too (Basic auth), from Alpaca's data host that matches the Broker
  API's (the sandbox's for sandbox keys); any other host, such as the paper broker, serves it itself.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlparse

from alpaca.broker.client import BrokerClient
from alpaca.common.enums import BaseURL
from alpaca.data.historical import StockHistoricalDataClient

from bot.broker.alpaca import AlpacaBroker, Routes

BROKER_SANDBOX_URL = BaseURL.BROKER_SANDBOX.value
BROKER_PRODUCTION_URL = BaseURL.BROKER_PRODUCTION.value
_DATA_FOR_BROKER = {
    urlparse(BROKER_SANDBOX_URL).netloc: BaseURL.DATA_SANDBOX.value,
    urlparse(BROKER_PRODUCTION_URL).netloc: BaseURL.DATA.value,
}


class AlpacaBrokerApi(AlpacaBroker):
    """One customer account of Alpaca's Broker API, with the interface of :class:`AlpacaBroker`."""

    def __init__(
        self,
        key_id: str,
        secret_key: str,
        account_id: str,
        *,
        broker_url: str = BROKER_SANDBOX_URL,
        data_url: str | None = None,
        **settings: Any,
    ) -> None:
        """``settings`` are :class:`AlpacaBroker`'s (``timeout``, ``max_attempts``, ``sleep``, ...)."""
        self.account_id = customer_account_id(account_id)
        host = urlparse(broker_url).netloc
        self._connect(
            BrokerClient(
                key_id,
                secret_key,
                sandbox=host != urlparse(BROKER_PRODUCTION_URL).netloc,
                url_override=broker_url,
            ),
            StockHistoricalDataClient(
                key_id, secret_key, use_basic_auth=True, url_override=data_url or data_url_for(broker_url)
            ),
            customer_routes(self.account_id),
            **settings,
        )


def customer_account_id(account_id: str) -> str:
    """The account id in Alpaca's form (a lower-case UUID); ValueError naming it if it is not one."""
    try:
        return str(uuid.UUID(str(account_id)))
    except ValueError:
        raise ValueError(f"account_id {account_id!r} is not a Broker API account id (a UUID)") from None


def customer_routes(account_id: str) -> Routes:
    """Where one customer account's resources live in the Broker API (below ``/v1``)."""
    prefix = f"/trading/accounts/{account_id}"
    return Routes(
        account=f"{prefix}/account",
        positions=f"{prefix}/positions",
        orders=f"{prefix}/orders",
        fills="/accounts/activities/FILL",
        fills_query=(("account_id", account_id),),
    )


def data_url_for(broker_url: str) -> str:
    """The market data host that goes with a Broker API host: Alpaca's data (sandbox or production) for
    Alpaca's hosts, the same server for any other (the paper broker serves both)."""
    return _DATA_FOR_BROKER.get(urlparse(broker_url).netloc, broker_url)
