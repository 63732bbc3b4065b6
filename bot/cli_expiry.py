"""Deciding from the CLI on the bot's clock: ``rebalance-bot approve`` refuses a request that has lapsed.

The bot expires a held plan on its next tick once the broker's time passes the request's expiry; a stopped bot
expires nothing, so the CLI has to ask the same question itself - on the broker's clock (the paper broker's
simulated time, Alpaca's time), by the same rule (:func:`bot.approval.lifecycle.lapsed`), never by the wall
clock of the machine it runs on.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from bot.approval.lifecycle import lapsed
from bot.broker.models import BrokerError, BrokerUnavailable
from bot.config import BotConfig, ConfigError
from bot.state.lock import AlreadyRunning, StateLock
from bot.state.store import StateStore


def refuse_if_lapsed(loaded: BotConfig, store: StateStore, plan_id: str) -> datetime | None:
    """The broker's time now, after checking that ``plan_id``'s request has not lapsed by it (exit 2 if it
    has). A stopped bot expires nothing, so without this a request from yesterday was "approved" (and then
    silently expired by the next run). None when the running bot owns the only clock there is (the embedded
    paper broker lives in its process): it then expires the request itself and never starts an approved
    plan past its expiry."""
    plan, approval = store.get_plan(plan_id), store.get_approval(plan_id)
    if plan is None or approval is None or approval.status != "pending" or approval.expires_at is None:
        return None  # approve_plan says what is wrong, or there is no expiry to check
    now = broker_now(loaded, plan.account)
    if now is not None and lapsed(approval.expires_at, now):
        typer.echo(
            f"error: plan {plan_id} can no longer be approved: its request expired at "
            f"{approval.expires_at:%Y-%m-%d %H:%M} UTC (broker time now {now:%Y-%m-%d %H:%M} UTC). "
            "Nothing of it will be sent; the bot plans again on fresh prices when it runs, and asks again "
            "if needed.",
            err=True,
        )
        raise typer.Exit(2)
    return now


def broker_now(loaded: BotConfig, account: str) -> datetime | None:
    """The broker's clock for ``account`` (a household's plans: its first member's broker), or None if a
    running bot hosts the embedded paper broker (a second one on the same files would diverge)."""
    from bot.worker import connect  # heavy (brokers, scheduler): only when a clock must be read

    household = loaded.household
    name = household.accounts[0].account if household is not None and account == household.name else account
    lock = None
    if any(a.broker == "embedded" and a.base_url is None for a in loaded.accounts):
        try:
            lock = StateLock(Path(loaded.state_dir)).acquire()
        except AlreadyRunning:
            return None
    try:
        connections = connect(loaded, speed=False)
        try:
            return connections.brokers[name].clock().timestamp
        finally:
            connections.close()
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2) from exc
    except (BrokerError, BrokerUnavailable, KeyError, OSError, RuntimeError) as exc:
        typer.echo(
            f"error: cannot read the broker's clock for account {name!r} to check whether the request has "
            f"expired ({type(exc).__name__}: {exc}); nothing was approved. Try again when the broker "
            "answers.",
            err=True,
        )
        raise typer.Exit(2) from exc
    finally:
        if lock is not None:
            lock.release()
