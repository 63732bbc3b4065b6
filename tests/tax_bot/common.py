"""Accounts and harnesses for the tax tests: the real bot against the paper broker over HTTP."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from bot.config import TargetsConfig
from bot.notify import Notifier
from bot.paper_broker.accounts import AccountsFile, AccountSpec, StartingLot, StartingPosition
from bot.worker import Bot
from tests.approval.receiver import Receiver
from tests.bot.harness import KEY, SECRET, BrokerTime, Harness, make_harness

TAX = {"rates": {"short_term": 0.35, "long_term": 0.15}}


def lot(qty: str | int, price: str | int, day: date) -> StartingLot:
    return StartingLot(qty=Decimal(str(qty)), price=Decimal(str(price)), date=day)


def account(cash: str, **positions: tuple[StartingLot, ...]) -> AccountsFile:
    return AccountsFile(
        accounts=(
            AccountSpec(
                name="main",
                key_id=KEY,
                secret_key=SECRET,
                cash=Decimal(cash),
                positions=tuple(StartingPosition(symbol=s, lots=lots) for s, lots in positions.items()),
            ),
        )
    )


def tax_harness(tmp_path: Path, accounts: AccountsFile, targets: dict, **overrides: object) -> Harness:
    """The bot harness with exactly ``targets`` (the shared harness merges them into its SPY/AGG 60/40)."""
    harness = make_harness(tmp_path, accounts, **overrides)
    config = harness.bot.config.model_copy(update={"targets": TargetsConfig.model_validate(targets)})
    harness.bot = Bot(config, {"main": harness.adapter}, harness.store, clock=BrokerTime(harness.broker))
    return harness


def rigged(
    tmp_path: Path, receiver: Receiver, accounts: AccountsFile, targets: dict, **overrides: object
) -> Harness:
    """A harness whose notifier posts to ``receiver`` (prompts and alerts)."""
    harness = tax_harness(tmp_path, accounts, targets, **overrides)
    harness.bot.notifier = Notifier([receiver.url()], retries=1, backoff=0.01)
    return harness


def messages(harness: Harness, receiver: Receiver) -> list[dict]:
    harness.bot.notifier.flush()
    return list(receiver.messages)


def drop_fill_activities(harness: Harness, symbol: str) -> None:
    """Make the broker hold ``symbol`` without any FILL activity for it: shares transferred in from another
    broker (or bought before the account's history), which the ledger cannot explain."""
    engine = harness.broker.engine
    with engine.lock:
        engine.forget_activities(lambda a: a.activity_type == "FILL" and a.fields.get("symbol") == symbol)
