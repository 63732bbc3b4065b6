"""The broker adapter an account of the config talks through: Alpaca's Trading API, or its Broker API.

One place decides, so the bot's run, its one-off commands and the live picture all reach an account the same
way; what comes back has one interface (:class:`AlpacaBroker`'s), so nothing else knows which API it is.
"""

from __future__ import annotations

from typing import Any

from bot.broker import AlpacaBroker, AlpacaBrokerApi
from bot.broker_api_config import BROKER_API
from bot.config import AccountConfig, Credentials


def adapter_for(account: AccountConfig, credentials: Credentials, **settings: Any) -> AlpacaBroker:
    """The adapter for a keyed account (not an embedded broker the bot starts itself); ``settings`` are the
    adapter's transport settings (``timeout``, ``max_attempts``, ``sleep``, ...)."""
    if account.broker == BROKER_API and account.broker_api is not None:
        return AlpacaBrokerApi(
            credentials.key_id,
            credentials.secret_key,
            account.broker_api.account_id,
            broker_url=account.trading_url or "",
            **settings,
        )
    return AlpacaBroker(
        credentials.key_id,
        credentials.secret_key,
        trading_url=account.trading_url,
        paper=not account.is_live,
        **settings,
    )
