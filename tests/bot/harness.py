"""Builds a real bot against an in-process paper broker, for end-to-end tests.

The broker's clock is manual and the bot's clock reads it, so a test steps simulated time (``run_until``)
instead of sleeping, and every request goes through alpaca-py over HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bot.broker.alpaca import AlpacaBroker
from bot.config import BotConfig
from bot.cycle import CycleOutcome
from bot.paper_broker.accounts import AccountsFile, AccountSpec, StartingLot, StartingPosition
from bot.paper_broker.faults import FaultConfig
from bot.paper_broker.server import ClockConfig, PaperBroker, ServerConfig
from bot.state.store import StateStore
from bot.worker import Bot

KEY, SECRET = "bot-key", "bot-secret"


class BrokerTime:
    """The bot's clock in tests: the paper broker's simulated time."""

    def __init__(self, broker: PaperBroker) -> None:
        self.broker = broker

    def now(self) -> datetime:
        return self.broker.now


def drifted_60_40(cash: str = "10000", spy: int = 250, agg: int = 100) -> AccountsFile:
    """SPY and AGG bought in 2018: by Dec 2019 SPY is ~70% of the account, far outside a 60/40 band."""
    lot = lambda q, p: StartingLot(qty=Decimal(q), price=Decimal(p), date=date(2018, 1, 2))  # noqa: E731
    return AccountsFile(
        accounts=(
            AccountSpec(
                name="main",
                key_id=KEY,
                secret_key=SECRET,
                cash=Decimal(cash),
                positions=(
                    StartingPosition(symbol="SPY", lots=(lot(spy, 250),)),
                    StartingPosition(symbol="AGG", lots=(lot(agg, 105),)),
                ),
            ),
        )
    )


def bot_config(url: str, state_dir: Path, **overrides: object) -> BotConfig:
    raw: dict = {
        "accounts": [{"name": "main", "broker": "embedded", "base_url": url}],
        "targets": {"SPY": 0.6, "AGG": 0.4},
        "bands": {"default": {"absolute": 0.05}},
        "approval": {"mode": "policy", "max_plan_notional": 100000, "max_plan_fraction": 1.0},
        "limits": {"max_order_notional": 100000, "max_plan_notional": 200000, "max_daily_notional": 400000},
        "state_dir": str(state_dir),
    }
    for key, value in overrides.items():
        raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
    return BotConfig.model_validate(raw)


@dataclass
class Harness:
    broker: PaperBroker
    bot: Bot
    store: StateStore
    adapter: AlpacaBroker

    def run_until(self, when: datetime, step: timedelta = timedelta(minutes=5)) -> list[CycleOutcome]:
        """Tick the bot, then step the broker, until simulated time reaches ``when``."""
        outcomes = []
        while self.broker.now < when:
            outcomes.append(self.bot.tick()["main"])
            self.broker.advance(seconds=step.total_seconds())
        return outcomes

    def weights(self) -> dict[str, Decimal]:
        """Weights at mid prices, cash included, read through the adapter as the bot sees them."""
        account = self.adapter.account()
        positions = {p.symbol: p.market_value for p in self.adapter.positions()}
        equity = account.equity
        return {**{s: v / equity for s, v in positions.items()}, "cash": account.cash / equity}


def make_harness(
    tmp_path: Path,
    accounts: AccountsFile | None = None,
    start: date | datetime = date(2019, 12, 17),
    faults: FaultConfig | None = None,
    sleep: Callable[[float], None] = time.sleep,
    wall: Callable[[], float] = time.monotonic,
    **config_overrides: object,
) -> Harness:
    """A bot on a fresh paper broker. ``sleep`` is the adapter's pause between retries and ``wall`` the bot's
    clock for its pause after a broker failure: tests of outages pass stepped ones, so nothing waits."""
    broker = PaperBroker(
        ServerConfig(
            accounts=accounts or drifted_60_40(),
            clock=ClockConfig(start=start),
            database=tmp_path / "broker.sqlite",
            faults=faults or FaultConfig(rate_limit_per_minute=None),
        )
    ).start()
    config = bot_config(broker.url, tmp_path / "state", **config_overrides)
    adapter = AlpacaBroker(KEY, SECRET, trading_url=broker.url, sleep=sleep)
    store = StateStore(tmp_path / "state" / "bot.sqlite")
    bot = Bot(config, {"main": adapter}, store, clock=BrokerTime(broker), wall=wall)
    return Harness(broker, bot, store, adapter)


OPEN_TIME = datetime(2019, 12, 17, 14, 30, tzinfo=UTC)
"""The open of the harness's default start day, 2019-12-17 (09:30 New York)."""
