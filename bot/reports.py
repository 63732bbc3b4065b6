"""Readable reports from the state database: ``status`` and ``history``."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console
from rich.table import Table

from bot.config import BotConfig
from bot.state.store import StateStore


def print_status(config: BotConfig, store: StateStore, console: Console | None = None) -> None:
    console = console or Console()
    last = store.last_run()
    halted = store.get_flag("halted")
    console.print(
        f"last run: {last.run_id} {last.status} (started {last.started_at:%Y-%m-%d %H:%M})"
        if last
        else "last run: never"
    )
    console.print(f"[red]HALTED[/]: {halted}" if halted else "not halted")
    for account in config.accounts:
        plans = store.plans(account=account.name, limit=1)
        table = Table(title=f"account {account.name}: targets vs weights (latest plan)")
        for column in ("asset", "target", "weight", "drift (pp)", "band (pp)", "breached"):
            table.add_column(column)
        if plans:
            for check in plans[0].details["trigger"]["assets"]:
                band = check.get("band")
                table.add_row(
                    check["symbol"],
                    _pct(check["target"]),
                    _pct(check["weight"]),
                    f"{Decimal(check['drift']) * 100:+.2f}",
                    f"{Decimal(band) * 100:.2f}" if band else "-",
                    "yes" if check["breached"] else "",
                )
        console.print(table)
        open_orders = store.orders(account=account.name, open_only=True)
        console.print(f"open orders: {len(open_orders)}")
        for order in open_orders:
            console.print(f"  {order.client_order_id} {order.side} {order.symbol} {order.status}")
    pending = store.pending_approvals()
    console.print(f"pending approvals: {len(pending)}")
    for approval in pending:
        console.print(f"  {approval.plan_id} (expires {approval.expires_at:%Y-%m-%d %H:%M} UTC)")


def print_history(store: StateStore, limit: int = 20, console: Console | None = None) -> None:
    console = console or Console()
    for plan in store.plans(limit=limit):
        console.print(
            f"[bold]{plan.plan_id}[/] {plan.status} at {plan.created_at:%Y-%m-%d %H:%M} "
            f"({plan.account}): {plan.details['trigger']['reason']}"
        )
        table = Table(show_header=True)
        for column in ("client_order_id", "side", "symbol", "planned", "status", "filled", "avg price"):
            table.add_column(column)
        for order in store.orders(plan_id=plan.plan_id):
            planned = f"{order.qty} sh" if order.qty is not None else f"${order.notional}"
            table.add_row(
                order.client_order_id,
                order.side,
                order.symbol,
                planned,
                order.status,
                str(order.filled_qty or 0),
                str(order.filled_avg_price or "-"),
            )
        console.print(table)


def _pct(value: str) -> str:
    return f"{Decimal(value) * 100:.2f}%"
