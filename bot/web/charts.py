"""What the dashboard's and the confirmation page's charts draw, as plain JSON for uPlot in the browser.

Tables answer "what exactly"; a person asks "how has it gone and how far off is it" first (issue 16). The
numbers are worked out here, on the server, from the same sources as the tables and the API (the daily
equity and weights history, the live picture, the plan's details), so a chart can never say something the
API does not. ``static/dashboard.js`` only draws them. Values are floats (a chart needs no cents) in the
units a person reads: dollars, and weights and drift in percent (points).

The data goes into the page as a ``<script type="application/json">`` block: it is never executed, so the
content security policy can keep scripts to the dashboard's own files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from html import escape
from typing import Any

from bot.live_picture import LivePicture
from bot.state.equity_history import EquityDay
from bot.state.store import PlanRecord
from strategies.bands import BandPolicy

HUNDRED = Decimal(100)
ZERO = Decimal(0)


def day_seconds(day: date) -> int:
    """A session's x value: its date at 00:00 UTC in unix seconds (uPlot's time axis)."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def _pct(value: Decimal | None) -> float | None:
    return None if value is None else float(value * HUNDRED)


def equity_chart(days: Sequence[EquityDay]) -> dict[str, Any]:
    """Equity at each session's close."""
    return {"x": [day_seconds(d.day) for d in days], "equity": [float(d.equity) for d in days]}


def weights_chart(days: Sequence[EquityDay], bands: BandPolicy) -> dict[str, Any]:
    """Each asset's weight at each close against the target then in force and that target's band (the
    band of the asset's current band setting, around the historical target: the history keeps targets,
    not bands). Assets are every symbol the history saw, cash last; a session without the asset is 0."""
    symbols = sorted({s for d in days for s in (*d.weights, *(d.targets or {})) if s != "cash"})
    if any("cash" in d.weights for d in days):
        symbols.append("cash")
    assets = []
    for symbol in symbols:
        band = bands.band_for(symbol)
        targets = [None if d.targets is None else d.targets.get(symbol) for d in days]
        edges = [None if t is None else (t + band.width(t), max(t - band.width(t), ZERO)) for t in targets]
        assets.append(
            {
                "symbol": symbol,
                "weight": [_pct(d.weights.get(symbol, ZERO)) for d in days],
                "target": [_pct(t) for t in targets],
                "upper": [None if e is None else _pct(e[0]) for e in edges],
                "lower": [None if e is None else _pct(e[1]) for e in edges],
            }
        )
    return {"x": [day_seconds(d.day) for d in days], "assets": assets}


def drift_chart(picture: LivePicture, bands: BandPolicy) -> dict[str, Any]:
    """Each asset's drift from target now, in points, with its band: the bars a person scans for red."""
    rows = [(h.symbol, h.drift, h.target) for h in picture.holdings if h.target is not None]
    if picture.cash_target is not None:
        rows.append(("cash", picture.cash_drift, picture.cash_target))
    return {
        "symbols": [symbol for symbol, _, _ in rows],
        "drift": [_pct(drift) for _, drift, _ in rows],
        "band": [_pct(bands.band_for(symbol).width(target)) for symbol, _, target in rows],
    }


def plan_chart(plan: PlanRecord) -> dict[str, Any]:
    """A plan's weights before and after its trades against the targets (what the confirmation asks)."""
    details = plan.details
    after = details.get("weights_after", {})
    assets = details.get("trigger", {}).get("assets", [])
    return {
        "symbols": [a["symbol"] for a in assets],
        "target": [_pct(Decimal(a["target"])) for a in assets],
        "before": [_pct(Decimal(a["weight"])) for a in assets],
        "after": [_pct(Decimal(after[a["symbol"]])) if a["symbol"] in after else None for a in assets],
    }


def dashboard_charts(
    history: Mapping[str, Sequence[EquityDay]],
    pictures: Mapping[str, LivePicture | str],
    bands: BandPolicy,
) -> dict[str, Any]:
    """Every account's three charts: equity and weights over time (from ``history``) and drift now (from
    its live or last known picture; none when there is no picture at all)."""
    out: dict[str, Any] = {}
    for account in {*history, *pictures}:
        days = history.get(account, ())
        picture = pictures.get(account)
        out[account] = {
            "equity": equity_chart(days),
            "weights": weights_chart(days, bands),
            "drift": drift_chart(picture, bands) if isinstance(picture, LivePicture) else None,
        }
    return out


def data_block(element_id: str, data: Any) -> str:
    """``data`` as a JSON block the page's script reads (``<`` escaped so no value can end the block)."""
    text = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
    return f'<script type="application/json" id="{escape(element_id)}">{text}</script>'


def chart_box(chart_id: str, title: str, note: str = "") -> str:
    """Where a chart is drawn, with its title and a line saying what it shows (and when it has no data)."""
    small = f' <span class="muted small">{escape(note)}</span>' if note else ""
    return (
        f'<figure class="chart"><figcaption><b>{escape(title)}</b>{small}</figcaption>'
        f'<div class="plot" id="{escape(chart_id)}"></div></figure>'
    )


def account_charts(account: str) -> str:
    """The dashboard's chart section for one account (the script says so when there is no close yet)."""
    key = escape(account)
    return (
        f'<section class="charts" data-account="{key}"><h2>Account {key}: charts</h2><div class="chart-grid">'
        + chart_box(f"equity-{account}", "Equity at each close")
        + chart_box(f"weights-{account}", "Weights against targets (%), with the bands", "shaded: the band")
        + chart_box(f"drift-{account}", "Drift from target now (points)", "red: outside its band")
        + "</div></section>"
    )


def scripts() -> Iterable[str]:
    """The page's script and style tags: the chart library and the dashboard's own code, served locally."""
    yield '<link rel="stylesheet" href="/static/uPlot.min.css">'
    yield '<script src="/static/uPlot.iife.min.js" defer></script>'
    yield '<script src="/static/dashboard.js" defer></script>'
