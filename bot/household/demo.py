"""``rebalance-bot demo --household``: the real bot running a three-account household on the paper broker.

It loads ``config/household.yaml`` (a taxable account with VTI lots at a gain and at a loss, a traditional
IRA and a Roth IRA, all hosted by the embedded paper broker with their own keys), points its state at a
scratch directory and runs the bot over Q1 2020 on real prices. Each household plan is held for ONE approval;
the demo approves it through the same function the ``approve`` command calls, as a person would. A summary
closes the run: the plans, each account's orders, the aggregate weights against their bands, each account's
cash, and the tax the taxable account realised.

The demo steps the broker's clock itself (ten market minutes a step, a night in one step) and ticks the bot
after each step, the person deciding between two ticks. It used to let the paper market run on wall time
with a narrator thread approving what it saw: at a session a second, the ~0.1 s the narrator took was 40
market minutes, so an approval landed after the close (approved -> expired) or after a move that voided it
(approved -> superseded), and four of six approvals ended so. Stepped, every held plan is approved before
the next tick, as a person reading the prompt within minutes would. ``session_seconds`` paces the steps in
wall time so the run can be watched; 0 runs as fast as the bot ticks (the tests).
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bot.actions import ActionError, approve_plan
from bot.config import BotConfig, load_config
from bot.household import inputs
from bot.household.record import child_plan_id
from bot.logging_setup import configure_logging
from bot.state.lock import StateLock
from bot.state.store import StateStore
from bot.tax.ledger import household_ledger
from bot.worker import Bot, connect
from strategies.tax import Term

CONFIG = Path(__file__).resolve().parents[2] / "config" / "household.yaml"
END = datetime(2020, 4, 1, 13, 30, tzinfo=UTC)
STEP = timedelta(minutes=10)
"""Market time between two ticks while the market is open."""
SESSION = timedelta(hours=6, minutes=30)
ENDINGS = ("superseded", "expired", "refused", "failed", "rejected")
"""Plan states that end without trading: printed with their reason."""


def demo_config(path: Path, state_dir: Path, session_seconds: float) -> BotConfig:
    """The household example, with its state in ``state_dir`` (the demo steps the market itself)."""
    config = load_config(path)
    embedded = config.embedded.model_copy(
        update={"session_seconds": max(session_seconds, 0.01), "closed_seconds": 0.2}
    )
    web = config.web.model_copy(update={"enabled": False})
    return config.model_copy(update={"state_dir": state_dir, "embedded": embedded, "web": web})


class EmbeddedTime:
    """The bot's clock: the embedded paper broker's simulated time, which the demo steps."""

    def __init__(self, broker) -> None:  # noqa: ANN001 - PaperBroker (imported lazily by connect)
        self.broker = broker

    def now(self) -> datetime:
        return self.broker.now


def run_household_demo(
    state_dir: Path | None,
    session_seconds: float = 1.0,
    config_path: Path = CONFIG,
    end: datetime = END,
    console: Console | None = None,
) -> int:
    console = console or Console()
    workdir = Path(state_dir or tempfile.mkdtemp(prefix="rebalance-bot-household-"))
    config = demo_config(config_path, workdir, session_seconds)
    household = inputs.household_of(config)
    configure_logging(workdir / "bot.log", level="INFO", console=False)
    connections = connect(config, speed=False)
    market = connections.embedded
    store = StateStore(workdir / "bot.sqlite")
    bot = Bot(config, connections.brokers, store, clock=EmbeddedTime(market))
    console.print(
        f"[bold]rebalance-bot household demo[/]: {household.name} = {', '.join(household.names)};"
        f" real prices from {config.embedded.start}, state in {workdir}"
    )
    started = time.monotonic()
    try:
        with StateLock(workdir):
            bot.start("demo")
            _drive(console, bot, market, store, household.name, end, session_seconds)
            bot.finish("done")
        _summary(console, config, store, connections.brokers)
    finally:
        connections.close()
        store.close()
    console.print(f"Done in {time.monotonic() - started:.0f} s; log: {workdir / 'bot.log'}")
    return 0


def _drive(console: Console, bot: Bot, market, store: StateStore, name: str, end, session_seconds) -> None:  # noqa: ANN001
    """Tick, tell what changed, approve what is held, step the market; until ``end``."""
    seen: dict[str, str] = {}
    pace = session_seconds * (STEP / SESSION)
    while market.now < end:
        wall = time.monotonic()
        bot.tick()
        _narrate(console, store, name, seen)
        if market.engine.calendar.session_at(market.now) is not None:
            market.advance(seconds=STEP.total_seconds())
            time.sleep(max(0.0, pace - (time.monotonic() - wall)))
        else:  # the night (or the weekend) in one step: nothing happens while the market is closed
            market.advance_to(market.engine.calendar.next_open(market.now))


def _narrate(console: Console, store: StateStore, name: str, seen: dict[str, str]) -> None:
    """Print the household's plans as they change; approve held ones the way a person would."""
    for plan in reversed(store.plans(account=name, limit=20)):
        if seen.get(plan.plan_id) == plan.status:
            continue
        before = seen.get(plan.plan_id)
        seen[plan.plan_id] = plan.status
        when = plan.created_at.strftime("%Y-%m-%d %H:%M")
        if plan.status == "held":
            console.print(f"\n[yellow]{when} household plan held for approval[/] {plan.plan_id}")
            console.print(plan.explanation, markup=False)
            console.print(f"Why you are asked: {plan.status_reason}", markup=False, highlight=False)
            console.print(f"[cyan]A person approves it:[/] rebalance-bot approve {plan.plan_id}")
            try:
                approve_plan(store, plan.plan_id, who="demo-user", channel="demo")
                seen[plan.plan_id] = "approved"
            except ActionError as exc:  # cannot happen between two ticks; said if it does
                console.print(f"[red]not approved[/]: {exc}")
        elif plan.status in ENDINGS:
            after = f"{before} -> {plan.status}" if before else plan.status
            console.print(
                f"{when} household plan {plan.plan_id}: [red]{after}[/]: {plan.status_reason}",
                highlight=False,
            )
        else:
            console.print(f"{when} household plan {plan.plan_id}: [green]{plan.status}[/]")


def _summary(console: Console, config: BotConfig, store: StateStore, brokers) -> None:  # noqa: ANN001
    household = inputs.household_of(config)
    plans = Table(title="Household plans")
    for column in ("plan", "created (sim)", "status", "account", "orders", "filled", "gross"):
        plans.add_column(column)
    for plan in reversed(store.plans(account=household.name, limit=100)):
        for name, spec in sorted(plan.details["accounts"].items()):
            if not spec["orders"]:
                continue
            orders = store.orders(plan_id=child_plan_id(plan.plan_id, name))
            gross = sum((Decimal(o["est_notional"]) for o in spec["orders"]), start=Decimal(0))
            plans.add_row(
                plan.plan_id,
                f"{plan.created_at:%Y-%m-%d %H:%M}",
                plan.status,
                name,
                str(len(spec["orders"])),
                str(sum(o.status == "filled" for o in orders)),
                f"${gross:,.2f}",
            )
    console.print(plans)
    values: dict[str, Decimal] = {}
    cash_table = Table(title="Accounts (cash never moved between them)")
    for column in ("account", "type", "equity", "cash"):
        cash_table.add_column(column)
    equity = Decimal(0)
    for name in household.names:
        account = brokers[name].account()
        equity += account.equity
        values["cash"] = values.get("cash", Decimal(0)) + account.cash
        for position in brokers[name].positions():
            values[position.symbol] = values.get(position.symbol, Decimal(0)) + position.market_value
        cash_table.add_row(
            name, config.household_type(name), f"${account.equity:,.2f}", f"${account.cash:,.2f}"
        )
    console.print(cash_table)
    targets = inputs.targets(config)
    bands = inputs.bands(config)
    weights = Table(title=f"Aggregate weights, household equity ${equity:,.2f}")
    for column in ("asset", "target", "band", "weight"):
        weights.add_column(column)
    for symbol in sorted(set(values) | set(targets.weights), key=lambda s: (s == "cash", s)):
        target = targets.weight(symbol)
        weight = values.get(symbol, Decimal(0)) / equity if equity else Decimal(0)
        weights.add_row(
            symbol, f"{target:.1%}", f"+/-{bands.band_for(symbol).width(target):.2%}", f"{weight:.2%}"
        )
    console.print(weights)
    ledger, _ = household_ledger(store, config)
    tax = config.tax.rates if config.tax is not None else None
    for name in household.names:
        if config.household_type(name) != "taxable":
            continue
        realised = [r for r in ledger.realisations if r.account == name and r.sold >= config.embedded.start]
        gain = sum((r.recognised for r in realised), start=Decimal(0))
        line = f"{name}: realised gain {gain:+,.2f} in {len(realised)} lot sales"
        if tax is not None:
            due = sum(
                (r.recognised * (tax.long_term if r.term is Term.LONG else tax.short_term) for r in realised),
                start=Decimal(0),
            )
            line += f", estimated tax ${due:,.2f}"
        console.print(line)
