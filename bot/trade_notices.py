"""Telling people what the bot traded: a summary of each finished plan and, optionally, each order's fill.

A plan that executes on its own (within the approval policy) used to leave no word anywhere but the log
(issue 16). Now a finished plan sends one summary: each order's filled shares, average price and dollars
against what was planned, and what the trading cost, the implementation shortfall against the arrival mid
(the execution reports of :mod:`bot.slicing.report`), against the estimate the plan was made and approved on
(half the quoted spread). With ``notifications.fills`` each order also sends a line when it completes.

Each message is sent once: an audit event (``plan_summary_sent``, ``fill_notified``) marks it, so a restart
does not repeat it. Which kinds are sent is the config's choice (:func:`wanted`): every alert topic belongs
to a kind that ``notifications`` can switch off; prompts, halts and outages cannot be.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from bot.config import BotConfig
from bot.execution import client_order_id
from bot.notify import Message
from bot.reports import signed_usd, usd
from bot.slicing.report import plan_shortfall_bp
from bot.state.store import ExecutionReportRecord, PlanRecord, StateStore
from strategies.formatting import WHY_WIDTH, why_line

KIND_OF_TOPIC = {
    "plan": "plans",
    "fill": "fills",
    "limits": "refusals",
    "targets": "refusals",
    "summary": "daily_summary",
}
"""Alert topics people may switch off, and the ``notifications`` setting that does."""
ZERO = Decimal(0)


def wanted(config: BotConfig, topic: str) -> bool:
    """Whether messages of ``topic`` are sent (topics of no kind always are)."""
    kind = KIND_OF_TOPIC.get(topic)
    return kind is None or bool(getattr(config.notifications, kind))


def plan_summary(store: StateStore, plan: PlanRecord) -> Message | None:
    """The finished plan's summary, the first time it is asked for (None after: already sent)."""
    if store.audit_trail(limit=1, event="plan_summary_sent", plan_id=plan.plan_id):
        return None
    store.audit("plan_summary_sent", account=plan.account, plan_id=plan.plan_id)
    return render_plan_summary(plan, store.execution_reports(plan_id=plan.plan_id))


def fill_notices(store: StateStore, plan: PlanRecord) -> list[Message]:
    """A message for each order of ``plan`` that completed with a fill and was not told yet."""
    told = {
        e.client_order_id for e in store.audit_trail(limit=1000, event="fill_notified", plan_id=plan.plan_id)
    }
    out = []
    for report in _in_plan_order(plan, store.execution_reports(plan_id=plan.plan_id)):
        if report.parent_id in told or not report.filled_qty:
            continue
        store.audit("fill_notified", report.account, report.parent_id, plan_id=plan.plan_id)
        out.append(render_fill(report, _planned(plan).get(report.parent_id)))
    return out


def render_plan_summary(plan: PlanRecord, reports: Iterable[ExecutionReportRecord]) -> Message:
    """What traded, at what cost against the estimate, in a few lines."""
    reports = _in_plan_order(plan, reports)
    planned = _planned(plan)
    traded = sum((r.filled_notional for r in reports), ZERO)
    lines = [
        f"Plan {plan.plan_id} for {plan.account} is done: {plan.status_reason}.",
        "Traded (sells first):",
    ]
    lines += [_trade_line(r, planned.get(r.parent_id)) for r in reports] or ["  nothing"]
    lines.append(f"In all {usd(traded)} traded of ~{usd(sum(planned.values(), ZERO))} planned.")
    cost, bp = shortfall_usd(reports), plan_shortfall_bp(reports)
    estimate = (plan.details.get("estimates") or {}).get("spread_cost")
    lines.append(
        f"Cost: {signed_usd(cost)}"
        + (f" ({bp:+.1f} bp)" if bp is not None else "")
        + " against the mid when it started"
        + (f"; estimated {usd(Decimal(estimate))} (half the spread)." if estimate is not None else ".")
    )
    lines.append(f"Why: {why_line(plan.details.get('trigger', {}).get('reason', ''), WHY_WIDTH - 5)}")
    title = f"rebalance-bot: {plan.account} traded {usd(traded)} (plan done)"
    return Message(title, "\n".join(lines), "success", "plan")


def render_fill(report: ExecutionReportRecord, planned: Decimal | None) -> Message:
    verb = "bought" if report.side == "buy" else "sold"
    title = f"rebalance-bot: {report.account} {verb} {_qty(report.filled_qty)} {report.symbol}"
    body = f"Order {report.parent_id} ({report.status}):" + _trade_line(report, planned)
    return Message(title, body, "info", "fill")


def shortfall_usd(reports: Iterable[ExecutionReportRecord]) -> Decimal:
    """Dollars paid against the arrival mid over the filled shares (positive: a cost)."""
    total = ZERO
    for r in reports:
        if r.avg_price is not None and r.arrival_mid is not None and r.filled_qty:
            sign = 1 if r.side == "buy" else -1
            total += sign * (r.avg_price - r.arrival_mid) * r.filled_qty
    return total.quantize(Decimal("0.01"))


def _trade_line(r: ExecutionReportRecord, planned: Decimal | None) -> str:
    price = f" @ {usd(r.avg_price)}" if r.avg_price is not None else ""
    plan = f" (planned ~{usd(planned)})" if planned is not None else ""
    return f"  {r.side:4} {r.symbol:6} {_qty(r.filled_qty)} sh{price} = {usd(r.filled_notional)}{plan}"


def _qty(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.0001')).normalize():f}"


def _planned(plan: PlanRecord) -> dict[str, Decimal]:
    """Estimated dollars of each planned order, by its client_order_id (``<plan_id>-<seq>``)."""
    return {
        client_order_id(plan.plan_id, o["seq"]): Decimal(str(o["est_notional"]))
        for o in plan.details.get("orders", [])
    }


def _in_plan_order(plan: PlanRecord, reports: Iterable[ExecutionReportRecord]) -> list[ExecutionReportRecord]:
    order = {cid: i for i, cid in enumerate(_planned(plan))}
    return sorted(reports, key=lambda r: order.get(r.parent_id, len(order)))
