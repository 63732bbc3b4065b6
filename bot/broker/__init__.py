"""The bot's broker adapters: Alpaca's Trading API, or one customer account of its Broker API, over alpaca-py;
typed values, controlled retries, submit-exactly-once."""

from bot.broker.alpaca import AlpacaBroker
from bot.broker.broker_api import AlpacaBrokerApi
from bot.broker.models import (
    AccountState,
    AssetInfo,
    BrokerClock,
    BrokerError,
    BrokerUnavailable,
    OrderIntent,
    OrderNotSent,
    OrderState,
    PositionState,
    QuoteState,
    SubmitOutcomeUnknown,
)
from bot.broker.rounding import MIN_NOTIONAL, round_limit_price, round_notional, round_qty

__all__ = [
    "MIN_NOTIONAL",
    "AccountState",
    "AlpacaBroker",
    "AlpacaBrokerApi",
    "AssetInfo",
    "BrokerClock",
    "BrokerError",
    "BrokerUnavailable",
    "OrderIntent",
    "OrderNotSent",
    "OrderState",
    "PositionState",
    "QuoteState",
    "SubmitOutcomeUnknown",
    "round_limit_price",
    "round_notional",
    "round_qty",
]
