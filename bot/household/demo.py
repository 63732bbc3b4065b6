"""``rebalance-bot demo --household``: the real bot running a three-account household on the paper broker.

It loads ``config/household.yaml`` (a taxable account with VTI lots at a gain and at a loss, a traditional
IRA and a Roth IRA, all hosted by the embedded paper broker with their own keys), points its state at a
scratch directory and runs the bot under its scheduler exactly as ``rebalance-bot run`` does, over Q1 2020 on
real prices. Each household plan is held for ONE approval; the demo approves it through the same function the
``approve`` command calls, as a person would. A summary closes the run: the plans, each account's orders, the
aggregate weights against their bands, each account's cash, and the tax the taxable account realised.
"""

from __future__ import annotations

import tempfile
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bot.actions import ActionError, approve_plan
from bot.config import BotConfig, load_config
from bot.household import inputs
from bot.household.record import child_plan_id
from bot.logging_setup import configure_logging
from bot.state.store import StateStore
from bot.tax.ledger import household_ledger
from bot.worker import Bot, connect, run_forever, tick_seconds
from strategies.tax import Term

CONFIG = Path(__file__).resolve().parents[2] / "config" / "household.yaml"
END = datetime(2020, 4, 1, 13, 30, tzinfo=UTC)


def demo_config(path: Path, state_dir: Path, session_seconds: float) -> BotConfig:
    """The household example, with its state in ``state_dir`` and a faster market."""
    config = load_config(path)
    embedded = config.embedded.model_copy(update={"session_seconds": session_seconds, "closed_seconds": 0.2})
    web = config.web.model_copy(update={"enabled": False})
    return config.model_copy(update={"state_dir": state_dir, "embedded": embedded, "web": web})


def run_household_demo(
    state_dir: Path | None, session_seconds: float = 1.0, config_path: Path = CONFIG, end: datetime = END
) -> int:
    console = Console()
    workdir = Path(state_dir or tempfile.mkdtemp(prefix="rebalance-bot-household-"))
    config = demo_config(config_path, workdir, session_seconds)
    household = inputs.household_of(config)
    configure_logging(workdir / "bot.log", level="INFO", console=False)
    connections = connect(config)
    store = StateStore(workdir / "bot.sqlite")
    bot = Bot(config, connections.brokers, store)
    stop = threading.Event()
    runner = threading.Thread(
        target=run_forever, args=(bot, workdir, tick_seconds(config, connections), stop), daemon=True
    )
    console.print(
        f"[bold]rebalance-bot household demo[/]: {household.name} = {', '.join(household.names)};"
        f" real prices from {config.embedded.start}, state in {workdir}"
    )
    started = time.monotonic()
    runner.start()
    try:
        _narrate(console, connections.embedded, store, household.name, stop, end)
    finally:
        stop.set()
        runner.join(timeout=30)
        _summary(console, config, store, connections.brokers)
        connections.close()
    console.print(f"Done in {time.monotonic() - started:.0f} s; log: {workdir / 'bot.log'}")
    return 0


def _narrate(console: Console, broker, store: StateStore, name: str, stop: threading.Event, end) -> None:  # noqa: ANN001
    """Print the household's plans as they happen; approve held ones the way a person would."""
    seen: dict[str, str] = {}
    while broker.now < end and not stop.is_set():
        for plan in store.plans(account=name, limit=50):
            if seen.get(plan.plan_id) == plan.status:
                continue
            seen[plan.plan_id] = plan.status
            when = plan.created_at.strftime("%Y-%m-%d %H:%M")
            if plan.status == "held":
                console.print(f"\n[yellow]{when} household plan held for approval[/] {plan.plan_id}")
                console.print(plan.explanation, markup=False)
                console.print(f"[cyan]A person approves it:[/] rebalance-bot approve {plan.plan_id}")
                try:
                    approve_plan(store, plan.plan_id, who="demo-user", channel="demo")
                except ActionError as exc:  # the bot superseded it meanwhile: the fresh plan is asked next
                    console.print(f"[red]not approved[/]: {exc}")
            else:
                console.print(f"{when} household plan {plan.plan_id}: [green]{plan.status}[/]")
        time.sleep(0.1)


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
