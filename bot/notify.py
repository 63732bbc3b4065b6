"""Messages to people through Apprise: approval prompts, alerts that need a person, a daily summary.

One Apprise URL per channel (``slack://...``, ``tgram://...``, ``mailto://...``, ``ntfy://...``,
``discord://...``, ``json://host/path``...). Delivery happens on a background thread: each URL is tried, and
retried with exponential backoff, on its own; every failure is logged and none is ever raised into the bot,
which goes on trading (or waiting) whatever happens to a chat service.

Messages are plain text; each channel gets them escaped for the format it renders (HTML for e-mail and
some chats, Markdown for others, see :func:`escape_for`), so text the bot does not control cannot turn into
links or markup in a prompt.
"""

from __future__ import annotations

import html
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import structlog

from bot.approval.summary import PlanSummary
from bot.state.equity_history import EquityDay
from bot.state.store import ApprovalRecord, OrderRecord, PlanRecord
from strategies.formatting import WHY_WIDTH, why_line

log = structlog.get_logger(__name__)

KINDS = ("info", "success", "warning", "failure")


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    kind: str = "info"
    """Apprise notify type: info, success, warning or failure."""
    topic: str = ""
    """What it is about (prompt, halt, rejections, reconciliation, stopped, summary), for the log."""


class Notifier:
    """Sends :class:`Message` objects to every configured Apprise URL, in the background, never raising."""

    def __init__(
        self,
        urls: Sequence[str],
        retries: int = 3,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.urls = list(urls)
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self._queue: queue.Queue[Message | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._targets: list = []
        self.sent = 0
        self.failed = 0

    @property
    def enabled(self) -> bool:
        return bool(self.urls)

    def send(self, message: Message) -> None:
        """Queue ``message`` for delivery; returns at once."""
        if not self.enabled:
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="notifier", daemon=True)
                self._thread.start()
        self._queue.put(message)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued so far has been delivered or given up on; False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Deliver what is queued (up to ``timeout``), then stop the thread."""
        if self._thread is None:
            return
        self.flush(timeout)
        self._queue.put(None)
        self._thread.join(timeout=5)
        self._thread = None

    # -- delivery --------------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            message = self._queue.get()
            try:
                if message is None:
                    return
                self._deliver(message)
            except Exception as exc:  # noqa: BLE001 - a notifier bug must not kill the thread
                log.error("notification failed", topic=getattr(message, "topic", ""), error=str(exc))
            finally:
                self._queue.task_done()

    def _apprise_targets(self) -> list:
        if not self._targets:
            import apprise

            for url in self.urls:
                target = apprise.Apprise()
                if target.add(url):
                    self._targets.append((url, target))
                else:
                    scheme = url.split("://", 1)[0]
                    log.error("notification URL not understood by Apprise; skipped", scheme=scheme)
                    self._targets.append((url, None))
        return self._targets

    def _deliver(self, message: Message) -> None:
        kind = message.kind if message.kind in KINDS else "info"
        for url, target in self._apprise_targets():
            scheme = url.split("://", 1)[0]
            if target is None:
                continue
            fmt = channel_format(target)
            title, body = escape_for(fmt, message.title), escape_for(fmt, message.body)
            for attempt in range(self.retries + 1):
                try:
                    ok = bool(target.notify(title=title, body=body, notify_type=kind, body_format=fmt))
                    error = "" if ok else "the service did not accept it"
                except Exception as exc:  # noqa: BLE001 - any plugin error counts as a failed attempt
                    ok, error = False, f"{type(exc).__name__}: {exc}"
                if ok:
                    self.sent += 1
                    log.info("notification sent", topic=message.topic, scheme=scheme, attempt=attempt + 1)
                    break
                if attempt < self.retries:
                    log.warning(
                        "notification failed; retrying",
                        topic=message.topic,
                        scheme=scheme,
                        attempt=attempt + 1,
                        error=error,
                    )
                    self._sleep(self.backoff * 2**attempt)
                else:
                    self.failed += 1
                    log.error(
                        "notification not delivered",
                        topic=message.topic,
                        scheme=scheme,
                        attempts=attempt + 1,
                        error=error,
                    )


# --- escaping -----------------------------------------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~=&])")


def channel_format(target: Any) -> str:
    """The format the channel behind an Apprise object renders: ``text``, ``html`` or ``markdown`` (its
    ``?format=`` override, else the service's default)."""
    from apprise import NotifyFormat

    for service in target:
        return str(service.resolve_format(NotifyFormat.TEXT).value)
    return "text"


def escape_for(fmt: str, text: str) -> str:
    """``text`` as literal text in ``fmt``. Prompts carry text the bot does not control (trigger and approval
    reasons, a person's rejection reason, symbols and account names from the config): on an HTML or Markdown
    channel, markup in it must show as characters, never become a link, a tag or formatting. The result is
    handed to Apprise as already in ``fmt`` so that it is not converted (or escaped) a second time."""
    if fmt == "html":
        return html.escape(text, quote=True).replace("\n", "<br/>\n")
    if fmt == "markdown":
        return _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return text


# --- messages -----------------------------------------------------------------------------------------------


def render_prompt(
    plan: PlanRecord,
    approval: ApprovalRecord | None,
    links: Mapping[str, str] | None = None,
    dashboard_url: str | None = None,
) -> Message:
    """The approval prompt: what would be traded, drift before and after, estimated cost and tax, why now
    and why a person is asked, with approve and reject links (each opens a confirmation page)."""
    s = PlanSummary.of(plan)
    lines = [
        f"Plan {s.plan_id} for account {s.account} is waiting for your decision.",
        "",
        f"Why now: {why_line(s.why_now, WHY_WIDTH - len('Why now: '))}",
        f"Why you are asked: {s.why_asked}",
        "",
        f"Trades (sells first), ~{s.gross} in all on a {s.equity} portfolio:",
        *[
            f"  {t.side:4} {t.symbol:6} {t.amount:>14}  @ ~{t.est_price}  = ~{t.est_notional}"
            for t in s.trades
        ],
        "",
        "Drift from target, before -> after:",
        *[
            f"  {d.symbol:6} {d.drift_before:>9} -> {d.drift_after:>9}   (target {d.target})"
            + ("  breached" if d.breached else "")
            for d in s.drift
        ],
        "",
        s.cost_line()[:1].upper() + s.cost_line()[1:] + ".",
    ]
    if approval is not None and approval.expires_at is not None:
        lines.append(f"Expires: {approval.expires_at:%Y-%m-%d %H:%M} UTC (then nothing is sent).")
    lines.append(f"Plan version: {s.version}")
    if links:
        lines += ["", f"Approve: {links['approve']}", f"Reject: {links['reject']}"]
    if dashboard_url:
        lines.append(f"Dashboard: {dashboard_url}")
    if not links:
        lines.append(f"Decide with: rebalance-bot approve {s.plan_id}  /  rebalance-bot reject {s.plan_id}")
    title = f"rebalance-bot: approve {len(s.trades)} trades (~{s.gross}) for {s.account}?"
    return Message(title, "\n".join(lines), "warning", "prompt")


def render_alert(title: str, lines: Iterable[str], kind: str = "warning", topic: str = "alert") -> Message:
    return Message(f"rebalance-bot: {title}", "\n".join(lines), kind, topic)


def render_daily_summary(
    day: date,
    plans: Sequence[PlanRecord],
    orders: Sequence[OrderRecord],
    pending: Sequence[ApprovalRecord],
    closes: Sequence[EquityDay],
    halted: str | None,
    at: datetime | None = None,
) -> Message:
    """The day in a few lines: plans and their outcome, orders and fills, what waits, and each account at
    the close: equity, the day's P&L, weights vs targets."""
    filled = [o for o in orders if o.status == "filled"]
    lines = [f"Summary of {day:%Y-%m-%d}" + (f" (as of {at:%H:%M} UTC)" if at else "") + ":"]
    if halted:
        lines.append(f"HALTED: {halted}")
    lines.append(f"Plans: {len(plans)}" + (":" if plans else ""))
    lines += [f"  {p.plan_id}: {p.status} ({p.status_reason})" for p in plans]
    lines.append(f"Orders: {len(orders)} sent, {len(filled)} filled")
    lines.append(f"Waiting for approval: {len(pending)}")
    lines += [f"  {a.plan_id} (expires {a.expires_at:%Y-%m-%d %H:%M} UTC)" for a in pending if a.expires_at]
    for close in closes:
        lines += close_lines(close)
    return Message(f"rebalance-bot: daily summary {day:%Y-%m-%d}", "\n".join(lines), "info", "summary")


def close_lines(close: EquityDay) -> list[str]:
    """An account at the close: equity and the day's P&L, then each weight against its target."""
    from bot.reports import pp, signed_usd, usd  # reports read the state: imported when a summary is made

    targets = close.targets or {}
    return [
        f"Account {close.account} at the close: equity {usd(close.equity)}, "
        f"day P&L {signed_usd(close.day_pl)}",
        *(
            f"  {symbol:6} {float(weight):7.2%}"
            + (
                f" vs {float(targets[symbol]):7.2%} ({pp(weight - targets[symbol])}pp)"
                if symbol in targets
                else ""
            )
            for symbol, weight in close.weights.items()
        ),
    ]
