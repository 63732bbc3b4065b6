"""Server-rendered HTML for the dashboard: small, readable, nothing loaded from anywhere but the dashboard.

Every value is escaped. Forms post back to the dashboard itself (the content security policy allows nothing
else), and each carries its CSRF token (or the signed link token) and the plan version it decides on. The
pages work without scripts; with them (``static/dashboard.js``, served locally with uPlot) they draw the
charts, count down to each pending decision's expiry and redraw their ``live-*`` parts when the server says
something changed (:mod:`bot.web.events`). Every table sits in a scroll box, so a narrow window scrolls the
table, never cuts it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from html import escape
from typing import Any
from urllib.parse import quote

from bot.approval.summary import PlanSummary
from bot.live_picture import LivePicture
from bot.reports import pp, signed_usd, usd
from bot.state.store import ApprovalRecord, OrderRecord, PlanRecord
from bot.web import charts
from strategies.formatting import why_line

CSS = """
:root { --fg:#1d2430; --muted:#5d6778; --line:#dfe3ea; --bg:#f6f7f9; --card:#fff; --ok:#17803d;
  --bad:#b42318; --warn:#b54708; --accent:#1f5fbf; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--fg);
  background:var(--bg); }
header { background:#17202e; color:#fff; padding:10px 24px; display:flex; gap:18px; align-items:center; }
header h1 { font-size:17px; margin:0; font-weight:600; white-space:nowrap; }
header button { white-space:nowrap; padding:6px 12px; }
header .meta { color:#b8c2d3; font-size:13px; }
header form { margin-left:auto; }
main { max-width:1180px; margin:0 auto; padding:18px 24px 40px; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px 18px;
  margin-bottom:16px; }
h2 { font-size:15px; margin:0 0 10px; }
h3 { font-size:14px; margin:0 0 6px; }
table { border-collapse:collapse; width:100%; margin:6px 0 10px; }
th, td { text-align:left; padding:4px 8px; border-bottom:1px solid var(--line); white-space:nowrap; }
th { color:var(--muted); font-weight:600; font-size:12px; text-transform:uppercase; letter-spacing:.03em;
  white-space:normal; vertical-align:bottom; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
td.wrap { white-space:normal; overflow-wrap:anywhere; min-width:12em; }
.muted { color:var(--muted); }
.pos { color:var(--bad); } .neg { color:var(--accent); }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600;
  background:#eef1f5; color:var(--muted); }
.badge.held { background:#fff4e5; color:var(--warn); } .badge.done { background:#e7f6ec; color:var(--ok); }
.badge.rejected, .badge.refused, .badge.failed { background:#fdecea; color:var(--bad); }
.badge.executing, .badge.approved { background:#e8f0fd; color:var(--accent); }
.banner { padding:10px 14px; border-radius:8px; margin-bottom:16px; font-weight:600; }
.banner.bad { background:#fdecea; color:var(--bad); border:1px solid #f5c2bd; }
.banner.ok { background:#e7f6ec; color:var(--ok); border:1px solid #b7e4c4; }
.banner.halted { font-size:17px; display:flex; gap:14px; align-items:center; flex-wrap:wrap;
  border-width:2px; } .banner.halted form { margin:0 0 0 auto; }
.control { margin:0 0 16px; } .control form { display:flex; gap:6px; align-items:center; margin:0; }
.approval { border-left:4px solid var(--warn); }
.decide { display:flex; gap:10px; align-items:center; flex-wrap:wrap; margin-top:8px; }
.decide form { display:flex; gap:6px; align-items:center; margin:0; }
button { font:inherit; font-weight:600; border:0; border-radius:6px; padding:7px 16px; cursor:pointer; }
button.approve { background:var(--ok); color:#fff; } button.reject { background:var(--bad); color:#fff; }
button.plain { background:#e4e8ee; color:var(--fg); }
input[type=text], input[type=password] { font:inherit; padding:6px 8px; border:1px solid #c6ccd6;
  border-radius:6px; min-width:220px; }
pre.log { background:#0f1623; color:#d7dde8; padding:10px 12px; border-radius:6px; overflow-x:auto;
  font-size:12px; line-height:1.5; margin:0; }
.lvl-warning { color:#f5b94a; } .lvl-error, .lvl-critical { color:#ff7b72; }
.grid { display:grid; grid-template-columns:repeat(auto-fit,minmax(480px,1fr)); gap:8px 24px; }
.grid > div { min-width:0; overflow-x:auto; }
.small { font-size:12px; }
.scroll { overflow-x:auto; max-width:100%; }
.scroll > table { margin:0; }
.mode { padding:2px 10px; border-radius:4px; font-weight:700; font-size:12px; letter-spacing:.06em; }
.mode.paper { background:#2d6a3e; color:#fff; } .mode.live { background:#c4320a; color:#fff; }
.countdown { font-weight:600; color:var(--warn); }
.chart-grid { display:grid; grid-template-columns:repeat(auto-fit,minmax(300px,1fr)); gap:8px 24px; }
figure.chart { margin:0; min-width:0; } figure.chart figcaption { margin-bottom:4px; }
.plot { min-height:40px; width:100%; overflow:hidden; }
.live-note { font-size:12px; color:#b8c2d3; }
"""


def e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def page(
    title: str,
    body: str,
    header_extra: str = "",
    scripts: bool = False,
    body_attrs: Mapping[str, str] | None = None,
) -> str:
    """A whole page; ``scripts`` adds the chart library and the dashboard's script (both served locally)."""
    head = "".join(charts.scripts()) if scripts else ""
    attrs = "".join(f' data-{e(k)}="{e(v)}"' for k, v in (body_attrs or {}).items())
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{CSS}</style>{head}</head><body{attrs}>"
        f"<header><h1>rebalance-bot</h1>{header_extra}</header><main>{body}</main></body></html>"
    )


def mode_badge(mode: str) -> str:
    """PAPER or LIVE (real money), as the start-up banner says (:func:`bot.banner.trading_mode`)."""
    title = "real money" if mode == "LIVE" else "no real money"
    return f'<span class="mode {e(mode.lower())}" title="{title}">{e(mode)}</span>'


def countdown(expires: datetime | None, now: datetime | None) -> str:
    """Time left on a pending decision, as text now; the page's script keeps counting on the market clock."""
    if expires is None:
        return '<span class="muted">does not expire</span>'
    if now is None:
        text = f"expires {_when(expires)}"
    else:
        left = int((expires - now).total_seconds())
        text = "expired: the bot drops it at its next check" if left <= 0 else f"{_left(left)} left"
    return f'<span class="countdown" data-expires="{e(expires.isoformat())}">{e(text)}</span>'


def _left(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    numeric: Sequence[int] = (),
    wrap: Sequence[int] = (),
) -> str:
    def cls(i: int) -> str:
        return "num" if i in numeric else "wrap" if i in wrap else ""

    head = "".join(f'<th class="{cls(i)}">{e(h)}</th>' for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f'<td class="{cls(i)}">{c}</td>' for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _signed(text: str) -> str:
    cls = "pos" if text.startswith("+") and text.strip("+0.p") else "neg" if text.startswith("-") else ""
    return f'<span class="{cls}">{e(text)}</span>'


def _badge(status: str) -> str:
    return f'<span class="badge {e(status)}">{e(status)}</span>'


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "-"


def plan_block(summary: PlanSummary) -> str:
    """Why, trades, drift before/after, cost and tax: what a person decides on."""
    trades = _table(
        ("side", "symbol", "amount", "est. price", "est. value"),
        (
            (e(t.side), f"<b>{e(t.symbol)}</b>", e(t.amount), e(t.est_price), e(t.est_notional))
            for t in summary.trades
        ),
        numeric=(2, 3, 4),
    )
    drift = _table(
        ("asset", "target", "now", "drift", "after", "drift after"),
        (
            (
                f"<b>{e(d.symbol)}</b>" + (' <span class="badge held">breached</span>' if d.breached else ""),
                e(d.target),
                e(d.weight_before),
                _signed(d.drift_before),
                e(d.weight_after),
                _signed(d.drift_after),
            )
            for d in summary.drift
        ),
        numeric=(1, 2, 3, 4, 5),
    )
    return (
        f'<p class="wrap"><b>Why now:</b> {e(why_line(summary.why_now))}<br>'
        f"<b>Why you are asked:</b> {e(summary.why_asked)}</p>"
        f"{_why_in_full(summary.why_now)}"
        f'<div class="grid"><div><h3>Trades (sells first), ~{e(summary.gross)} on {e(summary.equity)}</h3>'
        f"{trades}"
        f"</div><div><h3>Drift from target, before and after</h3>{drift}</div>"
        f"<div>{charts.chart_box(f'plan-{summary.plan_id}', 'Weights before and after, against target (%)')}"
        "</div></div>"
        f'<p class="muted">{e(_sentence(summary.cost_line()))} '
        f"Plan version <code>{e(summary.version)}</code>.</p>"
    )


def _why_in_full(why: str) -> str:
    """The whole reason behind a disclosure, when the line above had to leave some of it out."""
    if why_line(why) == " ".join(why.split()):
        return ""
    return f'<details class="why"><summary>Why now, in full</summary><p class="wrap">{e(why)}</p></details>'


def approval_card(plan: PlanRecord, approval: ApprovalRecord, csrf: str, now: datetime | None) -> str:
    s = PlanSummary.of(plan)
    path = f"/approvals/{quote(plan.plan_id, safe='')}"
    hidden = (
        f'<input type=hidden name=csrf value="{e(csrf)}">'
        f'<input type=hidden name=content_hash value="{e(plan.content_hash)}">'
    )
    return (
        f'<section class="approval" id="approval-{e(plan.plan_id)}"><h2>{e(plan.plan_id)} '
        f'<span class="muted small">account {e(plan.account)} · expires {_when(approval.expires_at)} · '
        f"{countdown(approval.expires_at, now)}</span></h2>"
        f"{plan_block(s)}"
        f'<div class="decide"><form method=post action="{path}/approve">{hidden}'
        f'<button class="approve" type=submit>Approve</button></form>'
        f'<form method=post action="{path}/reject">{hidden}'
        f'<input type=text name=reason placeholder="reason (for the audit trail)" aria-label="reason">'
        f'<button class="reject" type=submit>Reject</button></form></div></section>'
    )


def weights_section(account: str, check: Mapping | None) -> str:
    if not check:
        return f'<section><h2>Account {e(account)}</h2><p class="muted">No reading yet.</p></section>'
    rows = []
    for a in check.get("assets", []):
        band = a.get("band")
        rows.append(
            (
                f"<b>{e(a['symbol'])}</b>",
                e(f"{Decimal(a['target']) * 100:.2f}%"),
                e(f"{Decimal(a['weight']) * 100:.2f}%"),
                _signed(f"{Decimal(a['drift']) * 100:+.2f}pp"),
                e(f"±{Decimal(band) * 100:.2f}pp") if band else "-",
                '<span class="badge rejected">outside</span>'
                if a.get("breached")
                else '<span class="badge done">inside</span>',
            )
        )
    at = check.get("at", "")
    equity = check.get("equity")
    equity_text = f" · equity ${Decimal(equity):,.2f}" if equity else ""
    return (
        f'<section><h2>Account {e(account)}: weights against targets <span class="muted small">'
        f"as of {e(str(at)[:16].replace('T', ' '))} UTC{e(equity_text)}</span></h2>"
        + _table(("asset", "target", "weight", "drift", "band", "band check"), rows, numeric=(1, 2, 3, 4))
        + "</section>"
    )


def picture_section(account: str, picture: LivePicture | str) -> str:
    """An account as its broker shows it now: positions in shares and dollars, weights against targets and
    drift, cash, equity, day and total P&L; a last known picture says so, and why."""
    if isinstance(picture, str):
        return f'<section><h2>Account {e(account)}</h2><div class="banner bad">{e(picture)}</div></section>'
    rows = [
        (
            f"<b>{e(h.symbol)}</b>",
            e(f"{h.qty.normalize():f}"),
            e(usd(h.value)),
            _pct(h.weight),
            _pct(h.target),
            _signed(pp(h.drift) + "pp") if h.drift is not None else "-",
            _signed(signed_usd(h.day_pl)),
            _signed(signed_usd(h.total_pl)),
        )  # fmt: skip
        for h in picture.holdings
    ]
    rows.append(
        ("cash", "", e(usd(picture.cash)), _pct(picture.cash_weight), _pct(picture.cash_target),
         _signed(pp(picture.cash_drift) + "pp") if picture.cash_drift is not None else "-", "", "")
    )  # fmt: skip
    stale = (
        f'<div class="banner bad">Broker unreachable: {e(picture.problem)}. Last known picture, from '
        f"{_when(picture.at)}.</div>"
        if picture.problem
        else ""
    )
    return (
        f"<section><h2>Account {e(account)}: positions, weights against targets "
        f'<span class="muted small">at {_when(picture.at)} · equity {e(usd(picture.equity))} · day P&amp;L '
        f"{e(signed_usd(picture.day_pl))} · total P&amp;L {e(signed_usd(picture.total_pl))}</span></h2>"
        + stale
        + _table(
            ("asset", "shares", "value", "weight", "target", "drift", "day P&L", "total P&L"),
            rows,
            numeric=(1, 2, 3, 4, 5, 6, 7),
        )
        + "</section>"
    )


def _pct(value: Decimal | None) -> str:
    return "-" if value is None else e(f"{value * 100:.2f}%")


def plans_section(plans: Sequence[PlanRecord]) -> str:
    rows = [
        (
            e(p.plan_id),
            e(p.account),
            _when(p.created_at),
            _badge(p.status),
            e(len(p.details.get("orders", []))),
            e(f"${Decimal(p.details.get('gross_notional', '0')):,.2f}"),
            f'<span class="small">{e(p.status_reason[:140])}</span>',
        )
        for p in plans
    ]
    body = _table(
        ("plan", "account", "created", "status", "orders", "size", "why"), rows, numeric=(4, 5), wrap=(6,)
    )
    return f"<section><h2>Recent plans</h2>{body if plans else '<p class=muted>None yet.</p>'}</section>"


def orders_section(orders: Sequence[OrderRecord]) -> str:
    rows = [
        (
            f'<span class="small">{e(o.client_order_id)}</span>',
            e(o.side),
            f"<b>{e(o.symbol)}</b>",
            e(
                f"{o.qty} sh"
                if o.qty is not None
                else f"${o.notional:,.2f}"
                if o.notional is not None
                else "-"
            ),
            _badge(o.status),
            e(o.filled_qty or 0),
            e(o.filled_avg_price or "-"),
            _when(o.submitted_at),
        )
        for o in orders
    ]
    body = _table(
        ("order", "side", "symbol", "planned", "status", "filled", "avg price", "sent"),
        rows,
        numeric=(3, 5, 6),
    )
    return f"<section><h2>Recent orders</h2>{body if orders else '<p class=muted>None yet.</p>'}</section>"


def log_section(lines: Sequence[Mapping]) -> str:
    out = []
    for line in lines:
        level = str(line.get("level", "")).lower()
        context = " ".join(
            f"{k}={v}"
            for k, v in line.items()
            if k not in ("timestamp", "level", "event", "logger", "run_id")
        )
        out.append(
            f'<span class="muted">{e(str(line.get("timestamp", ""))[:19])}</span> '
            f'<span class="lvl-{e(level)}">{e(level[:7]):7}</span> {e(line.get("event", ""))} '
            f'<span class="muted">{e(context[:220])}</span>'
        )
    text = "\n".join(out) if out else "(the log is empty)"
    return f'<section><h2>Log (latest)</h2><pre class="log">{text}</pre></section>'


@dataclass(frozen=True)
class DashboardView:
    """Everything the dashboard shows, read once per page or per refresh (:mod:`bot.web.app`)."""

    now: datetime | None
    mode: str
    health: Mapping
    halted: str | None
    attention: Sequence[str]
    approvals: Sequence[tuple[PlanRecord, ApprovalRecord]]
    csrf: str
    who: str
    pictures: Mapping[str, LivePicture | str]
    household: Mapping[str, Mapping | None]
    plans: Sequence[PlanRecord]
    orders: Sequence[OrderRecord]
    log_lines: Sequence[Mapping]
    charts: Mapping[str, Any]
    """``{"accounts": charts.dashboard_charts(...), "plans": {plan_id: charts.plan_chart(plan)}}``."""
    version: str = ""
    """The state's fingerprint this view was read at (:func:`bot.web.events.fingerprint`)."""
    approval_households: Sequence[tuple[str, int]] = ()
    """Every household with plans waiting, and how many (a fleet's filter links)."""
    household_filter: str | None = None
    """``?household=NAME``: only that household's approvals are shown."""


HALTED_NOTE = "Nothing is sent until it is resumed (here, rebalance-bot resume, or /resume in the chat)."
HALT_NOTE = "Halt stops all sending; the bot cancels its open orders on its next tick."


def control_part(halted: str | None, csrf: str) -> str:
    """The halted banner with its Resume button, or the Halt form while the bot runs."""
    token = f'<input type=hidden name=csrf value="{e(csrf)}">'
    if halted:
        return (
            f'<div class="banner bad halted" id="halted"><span>HALTED: {e(halted)}. {e(HALTED_NOTE)}</span>'
            f'<form method=post action="/resume">{token}'
            '<button class="approve" type=submit>Resume</button></form></div>'
        )
    return (
        f'<div class="decide control"><form method=post action="/halt">{token}'
        '<input type=text name=reason placeholder="why halt (for the audit trail)" aria-label="halt reason">'
        '<button class="reject" type=submit>Halt</button></form>'
        f'<span class="muted">{e(HALT_NOTE)}</span></div>'
    )


def filter_part(v: DashboardView) -> str:
    """A fleet's approvals by household: a link per household with plans waiting (the page's filter,
    ``?household=NAME``), shown once more than one household waits or a filter is on."""
    if len(v.approval_households) < 2 and not v.household_filter:
        return ""
    links = ['<a href="/">all</a>' if v.household_filter else "<strong>all</strong>"]
    for name, count in v.approval_households:
        label = f"{e(name)} ({count})"
        current = name == v.household_filter
        links.append(
            f"<strong>{label}</strong>"
            if current
            else f'<a href="/?household={quote(name, safe="")}">{label}</a>'
        )
    nav = '<nav class="household-filter" aria-label="approvals by household">'
    return f"{nav}Household: {' · '.join(links)}</nav>"


def live_parts(v: DashboardView) -> dict[str, str]:
    """The parts of the dashboard that a refresh redraws, by element id."""
    alerts = [control_part(v.halted, v.csrf)]  # halted: the banner, with Resume; else the Halt form
    # what keeps the bot from trading: its broker not answering, targets it cannot trade (bot.reports)
    alerts += [f'<div class="banner bad">{e(line)}</div>' for line in v.attention]
    if v.approvals:
        waiting = (
            filter_part(v)
            + f"<h2>Waiting for your decision ({len(v.approvals)})</h2>"
            + "".join(approval_card(plan, approval, v.csrf, v.now) for plan, approval in v.approvals)
        )
    elif v.household_filter:
        waiting = filter_part(v) + (
            f'<div class="banner ok">No plan of household {e(v.household_filter)} is waiting'
            " for a decision.</div>"
        )
    else:
        waiting = '<div class="banner ok">No plan is waiting for a decision.</div>'
    accounts = "".join(
        charts.account_charts(name) + picture_section(name, picture) for name, picture in v.pictures.items()
    ) + "".join(weights_section(name, check) for name, check in v.household.items())
    return {
        "live-meta": ('<span class="badge failed">HALTED</span> ' if v.halted else "")
        + f"market time {_when(v.now)} · bot {e(v.health.get('status', '?'))}"
        f" · signed in as {e(v.who or 'token holder')}",
        "live-alerts": "".join(alerts),
        "live-approvals": waiting,
        "live-accounts": accounts,
        "live-plans": plans_section(v.plans),
        "live-orders": orders_section(v.orders),
        "live-log": log_section(v.log_lines),
    }


def dashboard(v: DashboardView) -> str:
    """The whole dashboard; its script keeps the ``live-*`` parts current over ``/events``."""
    parts = live_parts(v)
    header = (
        f'{mode_badge(v.mode)}<span class="meta" id="live-meta">{parts.pop("live-meta")}</span>'
        '<span class="live-note" id="live-state"></span>'
        f'<form method=post action="/logout"><input type=hidden name=csrf value="{e(v.csrf)}">'
        '<button class="plain" type=submit>Sign out</button></form>'
        f'<form method=post action="/logout/everywhere"><input type=hidden name=csrf value="{e(v.csrf)}">'
        '<button class="plain" type=submit>Sign out everywhere</button></form>'
    )
    body = "".join(f'<div id="{key}">{html}</div>' for key, html in parts.items())
    attrs = {"version": v.version, "market-now": v.now.isoformat() if v.now else "", "events": "/events"}
    return page(
        "rebalance-bot dashboard",
        body + charts.data_block("chart-data", v.charts),
        header,
        scripts=True,
        body_attrs=attrs,
    )


def login(message: str = "") -> str:
    note = f'<p class="pos">{e(message)}</p>' if message else ""
    return page(
        "rebalance-bot: sign in",
        '<section style="max-width:520px;margin:40px auto"><h2>Sign in to the dashboard</h2>'
        f"{note}<p class=muted>Use the access token from <code>REBALANCE_BOT_WEB_TOKEN</code> or the "
        "<code>web-token</code> file in the bot's state directory.</p>"
        '<form method=post action="/login"><p><input type=password name=token placeholder="access token" '
        'aria-label="access token" autocomplete=current-password required></p>'
        '<p><input type=text name=who placeholder="your name (for the audit trail)" '
        'aria-label="your name"></p>'
        '<p><button class="approve" type=submit>Sign in</button></p></form></section>',
    )


def confirm(
    plan: PlanRecord,
    approval: ApprovalRecord | None,
    action: str,
    token: str,
    mode: str,
    now: datetime | None,
) -> str:
    """The page behind a prompt's link: nothing happens until the person presses the button (a POST). Its
    script draws the weights before and after and counts down to the expiry; it opens no event stream (the
    link's holder has no session)."""
    s = PlanSummary.of(plan)
    verb = "Approve" if action == "approve" else "Reject"
    reason = (
        '<input type=text name=reason placeholder="reason (for the audit trail)" aria-label="reason">'
        if action == "reject"
        else ""
    )
    expires = (
        f" It expires {_when(approval.expires_at)} ({countdown(approval.expires_at, now)})."
        if approval and approval.expires_at
        else ""
    )
    return page(
        f"{verb} plan {plan.plan_id}?",
        f'<section class="approval"><h2>{verb} plan {e(plan.plan_id)} for account {e(plan.account)}?</h2>'
        f"<p>Nothing happens until you press the button.{expires}</p>{plan_block(s)}"
        f'<form method=post action="/approvals/{quote(plan.plan_id, safe="")}/{e(action)}" class="decide">'
        f'<input type=hidden name=t value="{e(token)}">'
        '<input type=text name=who placeholder="your name (for the audit trail)" aria-label="your name">'
        f'{reason}<button class="{e(action)}" type=submit>{verb}</button></form></section>'
        + charts.data_block("chart-data", {"plans": {plan.plan_id: charts.plan_chart(plan)}}),
        mode_badge(mode),
        scripts=True,
        body_attrs={"market-now": now.isoformat() if now else ""},
    )


def message(title: str, text: str, ok: bool, back: bool = True) -> str:
    link = '<p><a href="/">Back to the dashboard</a></p>' if back else ""
    return page(
        title,
        f'<div class="banner {"ok" if ok else "bad"}">{e(title)}</div>'
        f"<section><p>{e(text)}</p>{link}</section>",
    )
