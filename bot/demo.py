"""``rebalance-bot demo``: the real bot, unattended, on the embedded paper broker over Q1 2020.

The demo starts the paper broker in-process on the bundled real prices, from 2 January 2020 at one trading
session per wall second, with a $100,000 cash account and a diversified ETF target. The bot runs under its
scheduler exactly as ``rebalance-bot run`` does. Investing the cash is a large change, so the bot holds that
plan for approval; the demo approves it through the same function the ``approve`` command calls, as a
person would. Then the COVID crash of February-March 2020 moves the weights out of their bands and the bot
rebalances on its own. A summary table closes the run.
"""

from __future__ import annotations

import shlex
import tempfile
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from bot.actions import ActionError, approve_plan
from bot.config import BotConfig
from bot.logging_setup import configure_logging
from bot.state.store import StateStore
from bot.worker import Bot, connect, run_forever, tick_seconds

END = datetime(2020, 4, 1, 13, 30, tzinfo=UTC)
TARGETS = {
    "VTI": 0.35,
    "VEA": 0.15,
    "VWO": 0.05,
    "AGG": 0.25,
    "TIP": 0.05,
    "VNQ": 0.05,
    "GLD": 0.05,
    "cash": 0.05,
}


def demo_config(state_dir: Path, session_seconds: float) -> BotConfig:
    return BotConfig.model_validate(demo_settings(state_dir, session_seconds))


def demo_settings(state_dir: Path, session_seconds: float) -> dict:
    """The demo's config as written in a YAML file (kept beside its state, so the CLI can inspect it)."""
    return {
        "accounts": [{"name": "demo", "broker": "embedded"}],
        "targets": TARGETS,
        "bands": {"default": {"absolute": 0.03, "relative": 0.20}, "trade_to": "target"},
        "schedule": {"interval_minutes": 30, "skip_first_minutes": 15, "stop_before_close_minutes": 15},
        "execution": {"min_trade_notional": 50, "cash_buffer": 0.005, "order_timeout_minutes": 60},
        "approval": {"mode": "policy", "max_plan_notional": 25000, "max_plan_fraction": 0.25},
        "limits": {
            "max_order_notional": 50000,
            "max_plan_notional": 150000,
            "max_daily_notional": 300000,
        },
        "state_dir": str(state_dir),
        "embedded": {
            "start": "2020-01-02",
            "session_seconds": session_seconds,
            "closed_seconds": 0.2,
            "cash": 100000,
        },
    }


def run_demo(state_dir: Path | None, session_seconds: float = 1.0) -> int:
    console = Console()
    workdir = Path(state_dir or tempfile.mkdtemp(prefix="rebalance-bot-demo-"))
    config = demo_config(workdir, session_seconds)
    configure_logging(workdir / "bot.log", level="INFO", console=False)
    connections = connect(config)
    store = StateStore(workdir / "bot.sqlite")
    bot = Bot(config, connections.brokers, store)
    stop = threading.Event()
    runner = threading.Thread(
        target=run_forever, args=(bot, workdir, tick_seconds(config, connections), stop), daemon=True
    )
    console.print(f"[bold]rebalance-bot demo[/]: real prices, Q1 2020, state in {workdir}")
    console.print("Targets: " + ", ".join(f"{s} {w:.0%}" for s, w in TARGETS.items()))
    started = time.monotonic()
    runner.start()
    try:
        _narrate(console, connections.embedded, store, stop)
    finally:
        stop.set()
        runner.join(timeout=30)
        _summary(console, config, store, connections.embedded)
        connections.close()
    config_file = workdir / "demo.yaml"
    config_file.write_text(yaml.safe_dump(demo_settings(workdir, session_seconds), sort_keys=False))
    console.print(f"Done in {time.monotonic() - started:.0f} s. Inspect it:", highlight=False)
    console.print(
        f"  rebalance-bot history -c {shlex.quote(str(config_file))}", highlight=False, soft_wrap=True
    )
    console.print(f"  log: {workdir / 'bot.log'}", highlight=False, soft_wrap=True)
    return 0


def _narrate(console: Console, broker, store: StateStore, stop: threading.Event) -> None:  # noqa: ANN001
    """Print what the bot does as it happens; approve held plans the way a person would."""
    seen: dict[str, str] = {}
    while broker.now < END and not stop.is_set():
        for plan in store.plans(account="demo", limit=50):
            if seen.get(plan.plan_id) == plan.status:
                continue
            seen[plan.plan_id] = plan.status
            when = plan.created_at.strftime("%Y-%m-%d %H:%M")
            if plan.status == "held":
                console.print(f"\n[yellow]{when} plan held for approval[/] {plan.plan_id}")
                console.print(plan.explanation)
                console.print(f"[cyan]A person approves it:[/] rebalance-bot approve {plan.plan_id}")
                try:
                    approve_plan(store, plan.plan_id, who="demo-user", channel="cli")
                except ActionError as exc:  # it lapsed (or was replaced) between the read and the approval
                    console.print(f"[red]Too late:[/] {exc}")
            elif plan.status in ("executing", "done", "refused", "expired"):
                console.print(f"{when} plan {plan.plan_id}: [green]{plan.status}[/]")
                if plan.status == "executing":
                    console.print(plan.explanation)
        time.sleep(0.1)


def _summary(console: Console, config: BotConfig, store: StateStore, broker) -> None:  # noqa: ANN001
    plans = Table(title="Plans")
    for column in ("plan", "created (sim)", "status", "orders", "filled", "gross notional"):
        plans.add_column(column)
    for plan in reversed(store.plans(account="demo", limit=100)):
        orders = store.orders(plan_id=plan.plan_id)
        plans.add_row(
            plan.plan_id,
            f"{plan.created_at:%Y-%m-%d %H:%M}",
            plan.status,
            str(len(plan.details["orders"])),
            str(sum(o.status == "filled" for o in orders)),
            f"${Decimal(plan.details['gross_notional']):,.2f}",
        )
    console.print(plans)
    engine = broker.engine
    account = next(iter(engine.accounts.values()))
    equity = engine.account_summary(account)["equity"]
    weights = Table(title=f"Final weights at {engine.now:%Y-%m-%d %H:%M} UTC, equity ${equity:,.2f}")
    for column in ("asset", "target", "weight", "drift (pp)"):
        weights.add_column(column)
    for symbol, target in TARGETS.items():
        if symbol == "cash":
            value = account.cash
        else:
            position = account.positions.get(symbol)
            value = position.qty * engine.price(symbol) if position else Decimal(0)
        weight = float(value / equity) if equity else 0.0
        weights.add_row(symbol, f"{target:.1%}", f"{weight:.1%}", f"{(weight - target) * 100:+.2f}")
    console.print(weights)
