"""What ``rebalance-bot tune`` shows: a table of every frontier point and baseline, the recommendation and
why, the frontier as a PNG, and a self-contained HTML report (the PNG embedded, no external assets)."""

from __future__ import annotations

import base64
import datetime as dt
import html
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bot.backtest.frontier import beaten_by, beats
from bot.backtest.frontier_plot import save, tune_figure
from bot.backtest.tune import TuneResult
from strategies.simulation.path import Outcome

CHECKED = "recommended, as the bot runs it"


@dataclass(frozen=True)
class Row:
    """One line of the table: a frontier point, a baseline or the checked setting."""

    name: str
    kind: str
    """``frontier``, ``baseline`` or ``setting``."""
    outcome: Outcome
    verdict: str
    recommended: bool = False


def rows(result: TuneResult) -> list[Row]:
    """Frontier points (most trading first), then the baselines, then the recommended setting as run."""
    cell, rec = result.cell, result.recommendation
    out = []
    for i, (gamma, point) in enumerate(zip(cell.gammas, cell.frontier, strict=True)):
        wins, losses = beats(point, cell.baselines), beaten_by(point, cell.baselines)
        verdict = f"beats {len(wins)}" + (f"; beaten by {', '.join(losses)}" if losses else "")
        out.append(Row(f"objective, risk aversion {gamma:.2g}", "frontier", point, verdict, i == rec.index))
    for name, outcome in cell.baselines.items():
        if rec.point.dominates(outcome):
            verdict = "beaten by the recommended point"
        elif any(p.dominates(outcome) for p in cell.frontier):
            verdict = "beaten by another frontier point"
        else:
            verdict = "not beaten by the frontier"
        out.append(Row(name, "baseline", outcome, verdict))
    losses = result.checked_beaten_by
    verdict = "beaten by " + ", ".join(losses) if losses else "no baseline beats it"
    out.append(Row(f"{rec.setting()} ({CHECKED})", "setting", result.checked, verdict))
    return out


def _numbers(outcome: Outcome, volatility: float) -> list[str]:
    relative = outcome.tracking_error / volatility if volatility > 0 else float("nan")
    return [
        f"{outcome.tracking_error:.2%}",
        f"{relative:.1%}",
        f"{outcome.turnover:.2%}",
        f"{outcome.cost_bps:.2f}",
        f"{outcome.burden:.2%}",
        str(outcome.trade_sessions),
    ]


HEADERS = (
    "setting",
    "tracking error/yr",
    "TE / volatility",
    "turnover/yr",
    "cost bp/yr",
    "turnover+cost/yr",
    "trade days",
    "verdict (both axes)",
)


def print_report(result: TuneResult, console: Console) -> None:
    """The table, then the recommendation and why."""
    cell, rec, window = result.cell, result.recommendation, result.window
    table = Table(
        title=f"{cell.portfolio}: {window.label()}, {window.sessions} sessions scored after a "
        f"{window.warmup}-session warm-up, walk-forward",
        title_justify="left",
    )
    for i, header in enumerate(HEADERS):
        table.add_column(header, justify="left" if i in (0, len(HEADERS) - 1) else "right")
    kinds = None
    for row in rows(result):
        if kinds is not None and row.kind != kinds:
            table.add_section()
        kinds = row.kind
        name = f"[bold red]> {row.name}[/]" if row.recommended else row.name
        table.add_row(name, *_numbers(row.outcome, cell.volatility), row.verdict)
    console.print(table)
    console.print(
        f"Volatility of the target portfolio over the window: {cell.volatility:.1%} a year. A point "
        "'beats' a baseline when it has both lower tracking error and lower turnover-plus-cost."
    )
    console.print(f"\n[bold]Recommended:[/] policy: kind: objective, {rec.setting()}")
    for line in [*rec.reasons(), *_checked_lines(result)]:
        console.print(f"  {line}")


def _checked_lines(result: TuneResult) -> list[str]:
    checked, losses = result.checked, result.checked_beaten_by
    target = result.recommendation.target
    line = (
        f"Run as the bot runs it ({target.describe()}, risk aversion refitted every quarter on the trailing "
        f"two years), it tracked within {checked.tracking_error:.2%} for {checked.burden:.2%} turnover-plus-"
        f"cost a year: "
    )
    line += ("beaten on both axes by " + ", ".join(losses)) if losses else "no baseline beats it on both."
    return [line]


def write_png(result: TuneResult, path: Path) -> Path:
    return save(tune_figure(result.cell, result.recommendation, CHECKED), path)


_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: right; white-space: nowrap; }
th:first-child, td:first-child, td:last-child { text-align: left; } th { background: #f4f4f4; }
tr.recommended { background: #fde8e8; font-weight: bold; } tr.baseline td:first-child { color: #444; }
img { max-width: 100%; } .note { color: #555; font-size: 0.9em; }
code { background: #f4f4f4; padding: 0 3px; }
.recommendation { border-left: 4px solid #c0392b; padding: 0.2em 1em; background: #fbf3f2; }
"""


def render_html(result: TuneResult, png: bytes, config_name: str) -> str:
    """The report as one HTML file; ``png`` is the frontier figure, embedded."""
    cell, rec, window = result.cell, result.recommendation, result.window
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADERS)
    body = []
    for row in rows(result):
        css = "recommended" if row.recommended else row.kind
        cells = [row.name, *_numbers(row.outcome, cell.volatility), row.verdict]
        body.append(f"<tr class='{css}'>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    reasons = "".join(f"<li>{html.escape(line)}</li>" for line in [*rec.reasons(), *_checked_lines(result)])
    targets = ", ".join(f"{s} {w:.0%}" for s, w in result.weights.items())
    image = base64.b64encode(png).decode("ascii")
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    source, setting = html.escape(window.history.source), html.escape(rec.setting())
    simulated = f"{len(cell.frontier)} risk aversions and {len(cell.baselines)} baselines"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Tuning {html.escape(config_name)}</title>
<style>{_STYLE}</style></head><body>
<h1>Tuning {html.escape(config_name)}: risk against cost, {html.escape(window.label())}</h1>
<p>Targets: {html.escape(targets)}. {window.sessions} sessions scored after a {window.warmup}-session warm-up
(risk forecasts use only returns before each decision), prices from <code>{source}</code>.
Costs: the paper broker's spread and square-root impact for a ${result.capital:,.0f} account.
{simulated} simulated in {result.seconds:.0f} s.</p>
<div class="recommendation"><p><b>Recommended:</b> <code>policy: kind: objective, {setting}</code></p>
<ul>{reasons}</ul></div>
<h2>Frontier</h2>
<img alt="risk against cost: the objective's frontier and every baseline" src="data:image/png;base64,{image}">
<h2>Every point</h2>
<table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>
<p class="note">Tracking error is against the target held exactly every session at no cost; TE / volatility
divides it by the target portfolio's own volatility over the window ({cell.volatility:.1%} a year), the
unit of the presets (tight 3%, balanced 6%, relaxed 12%). Turnover is half the traded value over equity per
year. A point beats another when it has both lower tracking error and lower turnover-plus-cost.</p>
<p class="note">Generated {generated} by <code>rebalance-bot tune</code>.</p>
</body></html>
"""


def write_html(result: TuneResult, png: Path, path: Path, config_name: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(result, png.read_bytes(), config_name), encoding="utf-8")
    return path
