"""A three-account household (taxable, traditional IRA, Roth) on the paper broker, for end-to-end tests.

Every account has its own key pair on one paper broker; the bot reaches each through its own client over
HTTP. The broker's clock is manual and the bot's clock reads it, so tests step simulated time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.broker.alpaca import AlpacaBroker
from bot.config import BotConfig
from bot.cycle import CycleOutcome
from bot.paper_broker.accounts import AccountsFile, AccountSpec, StartingLot, StartingPosition
from bot.paper_broker.faults import FaultConfig
from bot.paper_broker.server import ClockConfig, PaperBroker, ServerConfig
from bot.state.store import StateStore
from bot.worker import Bot
from tests.bot.harness import BrokerTime

NAMES = ("taxable", "ira", "roth")
HOUSEHOLD = "family"


def lot(qty: int, price: str, day: date) -> StartingLot:
    return StartingLot(qty=Decimal(qty), price=Decimal(price), date=day)


def spec(name: str, cash: str, **positions: tuple[StartingLot, ...]) -> AccountSpec:
    return AccountSpec(
        name=name,
        key_id=f"{name}-key",
        secret_key=f"{name}-secret",
        cash=Decimal(cash),
        positions=tuple(StartingPosition(symbol=s, lots=lots) for s, lots in positions.items()),
    )


def drifted_household() -> AccountsFile:
    """About 80% VTI against a 60/40 target in mid-December 2019 (VTI ~$163, AGG ~$112).

    The taxable account's VTI is FIFO-relieved: first a 2018 lot at a large long-term gain, then a June 2019
    lot at a loss; selling VTI there costs tax. The IRA and the Roth hold VTI too and can sell it for free.
    """
    return AccountsFile(
        accounts=(
            spec(
                "taxable",
                "1000",
                VTI=(lot(150, "120", date(2018, 1, 2)), lot(50, "175", date(2019, 6, 3))),
                AGG=(lot(60, "105", date(2018, 1, 2)),),
            ),
            spec(
                "ira",
                "500",
                VTI=(lot(100, "140", date(2018, 1, 2)),),
                AGG=(lot(50, "105", date(2018, 1, 2)),),
            ),
            spec(
                "roth",
                "200",
                VTI=(lot(80, "130", date(2018, 1, 2)),),
                AGG=(lot(10, "105", date(2018, 1, 2)),),
            ),
        )
    )


def balanced_household() -> AccountsFile:
    """Aggregate close to 60/40 (inside 5pp bands) though no single account is on target."""
    return AccountsFile(
        accounts=(
            spec("taxable", "500", VTI=(lot(150, "120", date(2018, 1, 2)),)),
            spec("ira", "500", AGG=(lot(150, "105", date(2018, 1, 2)),)),
            spec(
                "roth",
                "500",
                VTI=(lot(20, "130", date(2018, 1, 2)),),
                AGG=(lot(10, "105", date(2018, 1, 2)),),
            ),
        )
    )


def household_config(url: str, state_dir: Path, **overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "accounts": [
            {
                "name": n,
                "broker": "embedded",
                "base_url": url,
                "key_id_env": f"{n.upper()}_KEY",
                "secret_key_env": f"{n.upper()}_SECRET",
            }
            for n in NAMES
        ],  # fmt: skip
        "targets": {"VTI": 0.6, "AGG": 0.4},
        "bands": {"default": {"absolute": 0.05}},
        "approval": {"mode": "policy", "max_plan_notional": 1000, "max_plan_fraction": 1.0},
        "limits": {
            "max_order_notional": 10**5,
            "max_plan_notional": 2 * 10**5,
            "max_daily_notional": 4 * 10**5,
        },
        "state_dir": str(state_dir),
        "tax": {
            "rates": {"short_term": 0.35, "long_term": 0.15},
            "accounts": {"taxable": {"type": "taxable"}, "ira": {"type": "ira"}, "roth": {"type": "roth"}},
        },
        "household": {
            "name": HOUSEHOLD,
            "accounts": [
                {"account": "taxable", "cash_reserve": 100},
                {"account": "ira", "cash_reserve": 50},
                {"account": "roth"},
            ],
            "locations": [{"symbols": ["AGG"], "account_types": ["ira", "401k"], "penalty": 0.001}],
        },
    }
    raw.update(overrides)
    return raw


@dataclass
class HouseholdHarness:
    broker: PaperBroker
    bot: Bot
    store: StateStore
    adapters: dict[str, AlpacaBroker]
    config: BotConfig

    def run_until(self, when: datetime, step: timedelta = timedelta(minutes=5)) -> list[CycleOutcome]:
        """Tick the bot, then step the broker, until simulated time reaches ``when``; the household's
        outcomes."""
        outcomes = []
        while self.broker.now < when:
            outcomes.append(self.bot.tick()[HOUSEHOLD])
            self.broker.advance(seconds=step.total_seconds())
        return outcomes

    def weights(self) -> dict[str, Decimal]:
        """Aggregate weights over the three accounts, cash included, as each account's client reports them."""
        values: dict[str, Decimal] = {}
        equity = Decimal(0)
        for adapter in self.adapters.values():
            account = adapter.account()
            equity += account.equity
            values["cash"] = values.get("cash", Decimal(0)) + account.cash
            for position in adapter.positions():
                values[position.symbol] = values.get(position.symbol, Decimal(0)) + position.market_value
        return {s: v / equity for s, v in values.items()}

    def close(self) -> None:
        self.broker.stop()
        self.store.close()


def make_household(
    tmp_path: Path, accounts: AccountsFile, start: date = date(2019, 12, 17), **overrides: Any
) -> HouseholdHarness:
    broker = PaperBroker(
        ServerConfig(
            accounts=accounts,
            clock=ClockConfig(start=start),
            database=tmp_path / "broker.sqlite",
            faults=FaultConfig(rate_limit_per_minute=None),
        )
    ).start()
    config = BotConfig.model_validate(household_config(broker.url, tmp_path / "state", **overrides))
    adapters = {n: AlpacaBroker(f"{n}-key", f"{n}-secret", trading_url=broker.url) for n in NAMES}
    store = StateStore(tmp_path / "state" / "bot.sqlite")
    bot = Bot(config, adapters, store, clock=BrokerTime(broker))
    return HouseholdHarness(broker, bot, store, adapters, config)
