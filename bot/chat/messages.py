"""What the bot says in the chat, as plain text: approval prompts, ``/status``, help, and the data carried by
the Approve / Reject buttons.

Plain text on purpose (no Markdown or HTML parse mode): a prompt carries text the bot does not control
(reasons, symbols, account names), and as plain text none of it can become a link or formatting. Chat
messages are read on a phone, so the why is one short line (:func:`strategies.formatting.why_line`, as in
the other prompts); the full explanation stays on the dashboard and in ``rebalance-bot approvals``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from bot.approval.summary import PlanSummary
from bot.live_picture import LivePicture
from bot.reports import pp, signed_usd, usd
from bot.state.store import ApprovalRecord, PlanRecord
from strategies.formatting import WHY_WIDTH, why_line

VERSION_CHARS = 32
"""Hex characters of the plan version a button carries (128 bits: no two plans share them). Telegram allows
64 bytes of callback data; an account's plan id alone can be longer, so the button names the version and
the bot finds the pending plan with it."""
_CALLBACK = re.compile(rf"^(approve|reject):([0-9a-f]{{{VERSION_CHARS}}})$")
MAX_TRADES = 8

HELP = "\n".join(
    [
        "rebalance-bot commands:",
        "/status - mode, equity, drift, pending approvals, halted or not",
        "/approve PLAN_ID - approve a plan waiting for a decision",
        "/reject PLAN_ID [reason] - reject it (nothing of it is sent)",
        "/halt [reason] - stop sending orders; open orders are canceled on the next tick",
        "/resume - undo /halt",
    ]
)


def callback_data(action: str, version: str) -> str:
    """The data of a button: the action and the plan version it was shown for."""
    return f"{action}:{version[:VERSION_CHARS]}"


def parse_callback(data: str | None) -> tuple[str, str] | None:
    """``(action, version prefix)`` from a button's data; None for anything the bot did not send."""
    match = _CALLBACK.match(data or "")
    return (match.group(1), match.group(2)) if match else None


def prompt_text(plan: PlanRecord, approval: ApprovalRecord | None, dashboard_url: str | None = None) -> str:
    """The approval prompt: what, why in one line each, estimated cost, until when, which version, and where
    the whole plan is (the dashboard, when it runs)."""
    s = PlanSummary.of(plan)
    lines = [
        f"Plan {s.plan_id} for {s.account} waits for your decision.",
        f"Why now: {why_line(s.why_now, WHY_WIDTH - len('Why now: '))}",
        f"Why asked: {why_line(s.why_asked, WHY_WIDTH - len('Why asked: '))}",
        f"Trades, ~{s.gross} on {s.equity}:",
        *[f"  {t.side} {t.symbol} {t.amount} ~{t.est_notional}" for t in s.trades[:MAX_TRADES]],
    ]
    if len(s.trades) > MAX_TRADES:
        lines.append(f"  ... and {len(s.trades) - MAX_TRADES} more (see the dashboard)")
    lines.append(s.cost_line()[:1].upper() + s.cost_line()[1:] + ".")
    if approval is not None and approval.expires_at is not None:
        lines.append(f"Expires {approval.expires_at:%Y-%m-%d %H:%M} UTC (then nothing is sent).")
    lines.append(f"Version {s.version}")
    if dashboard_url:
        lines.append(f"In full: {dashboard_url}/#approval-{s.plan_id}")
    return "\n".join(lines)


def decided_text(prompt: str, outcome: str) -> str:
    """The prompt once decided: its text with the outcome below, and no buttons left to press."""
    return f"{prompt}\n\n{outcome}"


def status_text(
    mode: str,
    halted: str | None,
    pictures: Mapping[str, LivePicture | str],
    pending: Sequence[ApprovalRecord],
    attention: Sequence[str],
) -> str:
    """``/status``: a few lines a person reads at a glance."""
    lines = [f"{mode}; " + (f"HALTED: {halted}" if halted else "not halted")]
    lines += attention
    for name, picture in pictures.items():
        lines += _picture_lines(name, picture)
    lines.append(f"Waiting for approval: {len(pending)}")
    lines += [
        f"  {a.plan_id}" + (f" (expires {a.expires_at:%Y-%m-%d %H:%M} UTC)" if a.expires_at else "")
        for a in pending
    ]
    return "\n".join(lines)


def _picture_lines(name: str, picture: LivePicture | str) -> list[str]:
    if isinstance(picture, str):
        return [f"{name}: {picture}"]
    head = f"{name}: equity {usd(picture.equity)}, day {signed_usd(picture.day_pl)}"
    if picture.problem:
        head += f" (last known, {picture.at:%Y-%m-%d %H:%M} UTC: {picture.problem})"
    drifts = [f"{h.symbol} {pp(h.drift)}pp" for h in picture.holdings if h.drift is not None]
    if picture.cash_drift is not None:
        drifts.append(f"cash {pp(picture.cash_drift)}pp")
    return [head, "  drift: " + (", ".join(drifts) if drifts else "no targets (household member)")]
