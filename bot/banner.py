"""What ``rebalance-bot run`` says when it starts: enough to know at a glance what it is about to do.

Before it, a started bot said nothing while the market was closed. The banner names the mode (PAPER or
LIVE: real money), each account's broker URL, the targets, the schedule and the next check on the broker's
clock, the state directory and the dashboard's address. It is printed and logged; it never fails the start
(a broker that does not answer yet only leaves the next check unknown).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import structlog

from bot.broker.alpaca import AlpacaBroker
from bot.broker.models import BrokerClock
from bot.config import AccountConfig, BotConfig

log = structlog.get_logger(__name__)


def banner_lines(
    config: BotConfig, broker_urls: Mapping[str, str], clock: BrokerClock | None, dashboard: bool = True
) -> list[str]:
    """The banner, a line per fact. ``broker_urls``: account -> the URL its adapter talks to; ``clock``: the
    broker's clock now (None when it did not answer)."""
    live = trading_mode(config) == "LIVE"
    lines = [f"rebalance-bot starting: {'LIVE - real money' if live else 'PAPER - no real money'}"]
    for account in config.accounts:
        kind = _kind(account)
        manual = ", manual: plans only on request" if account.manual else ""
        lines.append(f"  account {account.name}: {kind} at {broker_urls.get(account.name, '?')}{manual}")
    if config.household is not None:
        lines.append(f"  household {config.household.name}: {', '.join(config.household.names)}")
    weights = ", ".join(f"{s} {w:.0%}" for s, w in config.targets.weights.items())
    lines.append(f"  targets: {weights}, cash {config.targets.cash:.0%}")
    schedule = config.schedule
    lines.append(
        f"  schedule: every {schedule.interval_minutes} min"
        + (" while the market is open" if schedule.only_when_open else "")
        + f"; next check {next_check(config, clock)}"
    )
    lines.append(f"  state: {config.state_dir}")
    if dashboard and config.web.enabled:
        lines.append(f"  dashboard: {config.web.base_url}")
    if config.telegram is not None:
        chats = ", ".join(str(c) for c in config.telegram.allowed_chats)
        lines.append(f"  telegram: prompts, /status, /approve, /reject, /halt, /resume from chats {chats}")
    return lines


def trading_mode(config: BotConfig) -> str:
    """``LIVE`` when any account trades real money (an ``alpaca_live`` broker or the production Broker API),
    else ``PAPER``: the banner's first line and the dashboard's badge say the same thing."""
    return "LIVE" if any(a.is_live for a in config.accounts) else "PAPER"


def _kind(account: AccountConfig) -> str:
    if account.broker_api is not None:
        where = "LIVE" if account.is_live else "paper"
        return f"{where} Broker API account {account.broker_api.account_id}"
    return {"alpaca_live": "LIVE", "alpaca_paper": "paper"}.get(account.broker, "embedded paper broker")


def next_check(config: BotConfig, clock: BrokerClock | None) -> str:
    """When the first cycle can run, on the broker's clock."""
    if clock is None:
        return "when the broker answers"
    schedule = config.schedule
    if clock.is_open:
        return f"now ({clock.timestamp:%Y-%m-%d %H:%M} UTC, market open)"
    if not schedule.only_when_open:
        return f"now ({clock.timestamp:%Y-%m-%d %H:%M} UTC, market closed)"
    first = clock.next_open + timedelta(minutes=schedule.skip_first_minutes)
    return f"{first:%Y-%m-%d %H:%M} UTC (market closed; opens {_when(clock.next_open, clock.timestamp)})"


def _when(at: datetime, now: datetime) -> str:
    hours = (at - now).total_seconds() / 3600
    return f"in {hours:.1f} h" if hours < 48 else f"in {hours / 24:.1f} days"


def announce(config: BotConfig, broker: AlpacaBroker, broker_urls: Mapping[str, str]) -> list[str]:
    """The banner with the broker's clock read now (unknown if it does not answer), logged once."""
    from bot.broker_watch import BROKER_FAILURES

    try:
        clock: BrokerClock | None = broker.clock()
    except BROKER_FAILURES:
        clock = None
    lines = banner_lines(config, broker_urls, clock)
    log.info("bot starting", banner=lines)
    return lines
