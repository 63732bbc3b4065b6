"""Readable reports from the state database: ``status``, ``history`` and ``taxes``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.config import BotConfig
from bot.live_picture import LivePicture
from bot.slicing.report import average_price, plan_shortfall_bp
from bot.state.equity_history import EquityDay, EquityHistory
from bot.state.store import StateStore
from strategies.formatting import WHY_WIDTH, why_line

PICTURE_COLUMNS = (
    "asset",
    "shares",
    "price",
    "value",
    "weight",
    "target",
    "drift (pp)",
    "day P&L",
    "total P&L",
)
HISTORY_DAYS = 5
"""Sessions of the equity history ``status`` shows (the dashboard's /api/equity serves them all)."""


def cost_estimate_lines(store: StateStore) -> list[str]:
    """One line per symbol the bot's fills have measured: the one-way cost the decision now uses for it,
    between the calibrated prior and what the fills cost."""
    from bot.cost_estimates import cost_estimates

    symbols = sorted({r.symbol for r in store.execution_reports() if r.policy == "single"})
    return [e.describe() for e in cost_estimates(store, symbols).values() if e.measured_bp is not None]


def print_status(
    config: BotConfig,
    store: StateStore,
    console: Console | None = None,
    pictures: Mapping[str, LivePicture | str] | None = None,
) -> None:
    """The bot's state and each account as its broker shows it now (``pictures``, see
    :func:`bot.live_picture.status_pictures`), or its last known picture and why it could not be read."""
    console = console or report_console()
    last = store.last_run()
    halted = store.get_flag("halted")
    console.print(
        f"last run: {last.run_id} {last.status} (started {last.started_at:%Y-%m-%d %H:%M})"
        if last
        else "last run: never"
    )
    console.print(f"[red]HALTED[/]: {halted}" if halted else "not halted")
    for line in attention_lines(store.flags()):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    pictures = pictures or {}
    for account in config.accounts:
        print_picture(console, account.name, pictures.get(account.name, "not read"))
        print_equity_days(console, EquityHistory(store).days(account.name, limit=HISTORY_DAYS))
        plans = store.plans(account=account.name, limit=1)
        if plans:
            latest = plans[0]
            console.print(
                f"latest plan: {latest.plan_id} {latest.status}"
                + (f": {latest.status_reason}" if latest.status_reason else ""),
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        open_orders = store.orders(account=account.name, open_only=True)
        console.print(f"open orders: {len(open_orders)}")
        for order in open_orders:
            console.print(f"  {order.client_order_id} {order.side} {order.symbol} {order.status}")
    for line in cost_estimate_lines(store):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    pending = store.pending_approvals()
    console.print(f"pending approvals: {len(pending)}")
    for approval in pending:
        console.print(f"  {approval.plan_id} (expires {approval.expires_at:%Y-%m-%d %H:%M} UTC)")
    if config.tax is not None:
        blocks = store.tax_blocks()
        console.print(f"tax ledger mismatches (no tax-aware trading): {len(blocks)}")
        for block in blocks:
            console.print(
                f"  {block.account} {block.symbol}: ledger {block.ledger_qty} vs broker {block.broker_qty}"
                f" since {block.detected_at:%Y-%m-%d %H:%M} UTC",
                markup=False,
            )


def print_picture(console: Console, account: str, picture: LivePicture | str) -> None:
    """Positions in shares and dollars, cash, equity, day and total P&L, weights and drift now (a string:
    why there is no picture to show)."""
    if isinstance(picture, str):
        console.print(f"account {account}: {picture}", markup=False, highlight=False, soft_wrap=True)
        return
    if picture.problem:
        console.print(
            f"BROKER UNREACHABLE ({account}): {picture.problem}; last known picture from "
            f"{picture.at:%Y-%m-%d %H:%M} UTC",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"account {account} at {picture.at:%Y-%m-%d %H:%M} UTC: equity {usd(picture.equity)}, "
        f"cash {usd(picture.cash)}, day P&L {signed_usd(picture.day_pl)}, "
        f"total P&L {signed_usd(picture.total_pl)} (unrealised)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    table = Table(
        title=f"account {account}: positions and weights now" + (" (last known)" if picture.problem else "")
    )
    for column in PICTURE_COLUMNS:
        table.add_column(column, justify="left" if column == "asset" else "right")
    for h in picture.holdings:
        table.add_row(
            h.symbol, f"{h.qty.normalize():f}", usd(h.price), usd(h.value), _pct(h.weight),
            _pct(h.target), pp(h.drift), signed_usd(h.day_pl), signed_usd(h.total_pl),
        )  # fmt: skip
    table.add_row(
        "cash", "", "", usd(picture.cash), _pct(picture.cash_weight), _pct(picture.cash_target),
        pp(picture.cash_drift), "", "",
    )  # fmt: skip
    console.print(table)


def print_equity_days(console: Console, days: Sequence[EquityDay]) -> None:
    """The latest sessions of the equity history, one line each."""
    if not days:
        return
    table = Table(title="equity at each close (latest sessions)")
    for column in ("session", "equity", "day P&L", "largest drift (pp)"):
        table.add_column(column, justify="left" if column == "session" else "right")
    for day in reversed(days):
        drifts = [(w - (day.targets or {}).get(s, Decimal(0)), s) for s, w in day.weights.items()]
        worst = max(drifts, key=lambda d: abs(d[0])) if day.targets and drifts else None
        table.add_row(
            day.day.isoformat(), usd(day.equity), signed_usd(day.day_pl),
            f"{worst[1]} {pp(worst[0])}" if worst else "-",
        )  # fmt: skip
    console.print(table)


def usd(value: Decimal | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def signed_usd(value: Decimal | None) -> str:
    if value is None:
        return "-"
    return f"{'-' if value < 0 else '+'}${abs(value):,.2f}"


def pp(value: Decimal | None) -> str:
    if value is None:
        return "-"
    points = (value * 100).quantize(Decimal("0.01"))
    return f"{points + 0:+.2f}"  # + 0: no "-0.00"


def attention_lines(flags: Mapping[str, str]) -> list[str]:
    """What keeps the bot from trading, from the state flags the running bot sets: the broker not answering
    (``bot.broker_watch``), targets it cannot trade (``bot.tradable``), a plan refused by a hard limit
    (``bot.limit_refusal``), re-asks used up for the day (``bot.approval.reask_cap``)."""
    lines = []
    for name, value in flags.items():
        if name == "broker":
            lines.append(f"BROKER: {value}")
        elif name.startswith(("untradable:", "limits:")):
            lines.append(f"REFUSED ({name.split(':', 1)[1]}): {value}")
        elif name.startswith("reasks:"):  # bot.approval.reask_cap
            lines.append(f"HOLDING ({name.split(':', 1)[1]}): {value}")
    return lines


def print_history(
    store: StateStore, limit: int = 20, console: Console | None = None, verbose: bool = False
) -> None:
    """Recent plans, each with its orders: how each was executed (at once or sliced into children), what it
    filled, and its execution report (arrival mid, average fill, implementation shortfall, participation).
    Each plan's status reason (why it was refused, held, superseded) and its "why now" are one short line
    each; ``verbose`` gives them whole."""
    console = console or report_console()
    more = " (--verbose for all)"
    for plan in store.plans(limit=limit):
        reports = {r.parent_id: r for r in store.execution_reports(plan_id=plan.plan_id)}
        plan_bp = plan_shortfall_bp(reports.values())
        status = plan.status_reason or ""
        reason = f" ({escape(status if verbose else why_line(status, 110, more))})" if status else ""
        console.print(
            f"[bold]{plan.plan_id}[/] {plan.status}{reason} at {plan.created_at:%Y-%m-%d %H:%M} "
            f"({plan.account})" + (f" - shortfall {plan_bp:+.1f} bp" if plan_bp is not None else ""),
            soft_wrap=True,
        )
        why = plan.details["trigger"]["reason"]
        why = why if verbose else why_line(why, WHY_WIDTH - len("  why: "), more)
        console.print(f"  why: {escape(why)}", soft_wrap=True)
        parents = store.exec_parents(plan_id=plan.plan_id)
        if not parents:
            _orders_table(store, plan.plan_id, console)
            continue
        orders = Table(show_header=True)
        for column in ("client_order_id", "side", "symbol", "planned", "status", "filled", "avg price"):
            orders.add_column(column)
        execution = Table(show_header=True, title="execution")
        for column in ("client_order_id", "how", "arrival mid", "shortfall bp", "participation"):
            execution.add_column(column)
        for parent in parents:
            report = reports.get(parent.parent_id)
            children = store.exec_children(parent.parent_id) if parent.policy != "single" else []
            sent = [c for c in children if c.order is not None]
            filled, avg = _filled(store, parent.parent_id, sent, report)
            status = parent.status if children or parent.is_final else _single_status(store, parent)
            planned = f"{parent.qty} sh" if parent.qty is not None else f"${parent.notional}"
            orders.add_row(
                parent.parent_id,
                parent.side,
                parent.symbol,
                planned,
                status,
                str(filled),
                f"{avg:.4f}" if avg is not None else "-",
            )
            execution.add_row(
                parent.parent_id,
                f"{parent.policy}, {len(sent)} children" if children else parent.policy,
                str(parent.arrival_mid or "-"),
                f"{report.shortfall_bp:+.2f}" if report and report.shortfall_bp is not None else "-",
                _share(report.participation if report else None),
            )
        console.print(orders)
        console.print(execution)


def report_console() -> Console:
    """A console for reports: piped or redirected output keeps whole ids and lines (no 80-column cut)."""
    console = Console()
    return console if console.is_terminal else Console(width=200)


def print_taxes(
    config: BotConfig,
    store: StateStore,
    brokers: Mapping,  # account name -> AlpacaBroker
    year: int | None = None,
    top: int = 10,
    console: Console | None = None,
) -> None:
    """The tax report (:mod:`bot.tax.reports`): the fills are brought up to date from every account's broker
    first, open lots are valued at the latest mid quotes, "today" is the broker's date."""
    from zoneinfo import ZoneInfo

    from bot.tax.ledger import household_ledger
    from bot.tax.reports import tax_report
    from bot.tax.sync import refresh_fills

    console = console or Console()
    for account in config.accounts:
        refresh_fills(brokers[account.name], store, account.name)
    ledger, _ = household_ledger(store, config)
    first = brokers[config.accounts[0].name]
    today = first.clock().timestamp.astimezone(ZoneInfo("America/New_York")).date()
    as_of = today if year is None or year == today.year else today.replace(year=year, month=12, day=31)
    symbols = sorted({lot.symbol for lot in ledger.lots})
    prices = {s: q.mid for s, q in first.latest_quotes(symbols).items() if q.bid > 0 and q.ask > 0}
    for line in tax_report(config, store, ledger, prices, as_of, top=top).lines():
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def _orders_table(store: StateStore, plan_id: str, console: Console) -> None:
    table = Table(show_header=True)
    for column in ("client_order_id", "side", "symbol", "planned", "status", "filled", "avg price"):
        table.add_column(column)
    for order in store.orders(plan_id=plan_id):
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


def _filled(store: StateStore, parent_id: str, sent: list, report) -> tuple[Decimal, Decimal | None]:  # noqa: ANN001
    if report is not None:
        return report.filled_qty, report.avg_price
    if sent:
        return average_price((c.order.filled_qty or Decimal(0), c.order.filled_avg_price) for c in sent)
    order = store.get_order(parent_id)
    if order is None:
        return Decimal(0), None
    return order.filled_qty or Decimal(0), order.filled_avg_price


def _single_status(store: StateStore, parent) -> str:  # noqa: ANN001 - ExecParentRecord
    order = store.get_order(parent.parent_id)
    return order.status if order is not None else "not sent"


def _pct(value: Decimal | str | None) -> str:
    return "-" if value is None else f"{Decimal(value) * 100:.2f}%"


def _share(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2%}" if value >= 0.0001 else "<0.01%"
