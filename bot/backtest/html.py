"""The self-contained HTML report: settings, the metrics table and plots embedded as base64 PNGs.

Plots (matplotlib, Agg backend, no display needed):

1. equity curves of every policy and of the continuously rebalanced benchmark (log scale);
2. drift against the band, one panel per policy: the largest asset drift as a share of that asset's band
   width (1 = on the band edge), before trading, with the policy's rebalances marked;
3. drift of every asset of one policy (the bot's when it ran) in percentage points, against its own bands;
4. a timeline of trades: one row per policy, one mark per rebalance sized by its traded value;
5. risk against cost: tracking error and volatility against costs (or turnover when trading is free).

The file has no external assets (no scripts, fonts or stylesheets fetched), so it can be mailed or archived.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from pathlib import Path

import numpy as np

from bot.backtest.engine import PolicyRun, TradeKind
from bot.backtest.metrics import band_widths, target_vector
from bot.backtest.report import describe_settings
from bot.backtest.runner import Comparison

DPI = 110


def _pyplot():  # noqa: ANN202 - the matplotlib.pyplot module
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> str:  # noqa: ANN001 - matplotlib Figure
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    _pyplot().close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _dates(comparison: Comparison) -> np.ndarray:
    return np.array(comparison.history.days, dtype="datetime64[D]")


def _colors(names: list[str]) -> dict[str, str]:
    palette = _pyplot().get_cmap("tab10").colors
    return {name: palette[i % len(palette)] for i, name in enumerate(names)}


def equity_figure(comparison: Comparison):  # noqa: ANN201 - Figure
    plt = _pyplot()
    x = _dates(comparison)
    colors = _colors([r.name for r in comparison.runs])
    fig, ax = plt.subplots(figsize=(11, 5))
    for run in comparison.runs:
        ax.plot(x, run.equity, lw=1.2, color=colors[run.name], label=run.name)
    ax.plot(
        x,
        comparison.benchmark_equity(),
        lw=1.0,
        ls="--",
        color="black",
        label="target, rebalanced daily, same flows",
    )
    ax.set_yscale("log")
    ax.set_ylabel("equity ($, log scale)")
    ax.set_title("Equity curves")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(ncol=2, fontsize=9, loc="upper left")
    return fig


def band_usage(run: PolicyRun, comparison: Comparison) -> np.ndarray:
    """Per session, the largest ``|drift| / band width`` over assets, before trading (reference bands)."""
    symbols = comparison.history.symbols
    target = target_vector(comparison.targets, symbols)
    widths = band_widths(comparison.reference_bands, comparison.targets, symbols)
    weights = run.weights(pre=True)
    weights[0] = run.weights()[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        usage = np.abs(weights - target) / np.where(widths > 0, widths, np.nan)
    return np.nanmax(usage, axis=1)


def drift_figure(comparison: Comparison):  # noqa: ANN201
    plt = _pyplot()
    x = _dates(comparison)
    runs = comparison.runs
    colors = _colors([r.name for r in runs])
    fig, axes = plt.subplots(len(runs), 1, figsize=(11, 1.5 * len(runs) + 0.8), sharex=True, squeeze=False)
    for ax, run, metric in zip(axes[:, 0], runs, comparison.metrics, strict=True):
        usage = band_usage(run, comparison)
        ax.fill_between(x, 0, usage, color=colors[run.name], alpha=0.35, lw=0)
        ax.plot(x, usage, color=colors[run.name], lw=0.8)
        ax.axhline(1.0, color="crimson", ls="--", lw=0.9)
        for k in run.rebalance_days:
            ax.axvline(x[k], ymin=0, ymax=0.08, color="black", lw=0.6)
        top = max(2.0, float(np.nanpercentile(usage, 99.5)) * 1.1)
        ax.set_ylim(0, top)
        ax.set_ylabel(run.name, rotation=0, ha="right", va="center", fontsize=9)
        ax.text(
            0.995,
            0.92,
            f"{metric.share_outside:.0%} of sessions outside, {metric.rebalances} rebalances",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=8,
        )
        ax.grid(True, alpha=0.2)
    axes[0, 0].set_title(
        "Drift against the band: largest |weight - target| / band width over assets, before trading "
        "(dashed: band edge; ticks: rebalances)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def asset_drift_figure(comparison: Comparison, run: PolicyRun):  # noqa: ANN201
    plt = _pyplot()
    x = _dates(comparison)
    symbols = comparison.history.symbols
    target = target_vector(comparison.targets, symbols)
    own = band_widths(run.policy.bands, comparison.targets, symbols)
    weights = run.weights(pre=True)
    weights[0] = run.weights()[0]
    drift = (weights - target) * 100
    columns = 2 if len(symbols) > 3 else 1
    rows = -(-len(symbols) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(11, 1.7 * rows + 0.8), sharex=True, squeeze=False)
    for n, symbol in enumerate(symbols):
        ax = axes[n // columns, n % columns]
        ax.plot(x, drift[:, n], lw=0.8, color="tab:blue")
        ax.axhline(0, color="grey", lw=0.6)
        for sign in (-1, 1):
            ax.axhline(sign * own[n] * 100, color="crimson", ls="--", lw=0.9)
        ax.set_title(f"{symbol}: target {target[n]:.0%}, band ±{own[n] * 100:.2f}pp", fontsize=9)
        ax.grid(True, alpha=0.2)
    for n in range(len(symbols), rows * columns):
        axes[n // columns, n % columns].axis("off")
    fig.suptitle(
        f"Drift of each asset (pp, before trading) under '{run.name}', against its bands", fontsize=10
    )
    fig.tight_layout()
    return fig


def trades_figure(comparison: Comparison):  # noqa: ANN201
    plt = _pyplot()
    x = _dates(comparison)
    runs = comparison.runs
    fig, ax = plt.subplots(figsize=(11, 0.45 * len(runs) + 1.4))
    marks = {TradeKind.REBALANCE: ("tab:blue", "rebalance"), TradeKind.FLOW: ("tab:green", "cash flow")}
    shown: set[TradeKind] = set()
    for row, run in enumerate(runs):
        equity = run.pre_equity
        for kind, (color, label) in marks.items():
            traded: dict[int, float] = {}
            for t in run.trades:
                if t.kind is kind:
                    traded[t.day_index] = traded.get(t.day_index, 0.0) + abs(t.notional)
            if not traded:
                continue
            days = np.array(sorted(traded))
            share = np.array([traded[k] / equity[k] for k in days])
            ax.scatter(
                x[days],
                np.full(days.size, row) + (0.18 if kind is TradeKind.FLOW else 0.0),
                s=8 + 900 * share,
                color=color,
                alpha=0.55,
                lw=0,
                label=None if kind in shown else label,
            )
            shown.add(kind)
    ax.set_yticks(range(len(runs)), [r.name for r in runs])
    ax.set_ylim(-0.7, len(runs) - 0.3)
    ax.invert_yaxis()
    ax.grid(True, axis="x", alpha=0.25)
    ax.set_title(
        "Trades: one mark per session traded, area proportional to traded value / equity", fontsize=10
    )
    if shown:
        ax.legend(fontsize=8, loc="upper right", markerscale=0.6)
    fig.tight_layout()
    return fig


def risk_cost_figure(comparison: Comparison):  # noqa: ANN201
    plt = _pyplot()
    metrics = comparison.metrics
    free = all(m.costs == 0 for m in metrics)
    xs = np.array([m.turnover * 100 if free else m.cost_bps for m in metrics])
    xlabel = "turnover (% of equity per year)" if free else "costs (bp of average equity per year)"
    colors = _colors([m.policy for m in metrics])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, field, label in (
        (axes[0], "tracking_error", "tracking error vs the target (%/yr)"),
        (axes[1], "volatility", "volatility (%/yr)"),
    ):
        ys = np.array([getattr(m, field) * 100 for m in metrics])
        for m, xv, yv in zip(metrics, xs, ys, strict=True):
            ax.scatter([xv], [yv], s=45, color=colors[m.policy])
            ax.annotate(m.policy, (xv, yv), textcoords="offset points", xytext=(5, 4), fontsize=8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.25)
        pad = (xs.max() - xs.min()) * 0.15 or 1.0
        ax.set_xlim(xs.min() - pad * 0.3, xs.max() + pad)
    fig.suptitle("Risk against cost, per policy", fontsize=10)
    fig.tight_layout()
    return fig


def figures(comparison: Comparison) -> list[tuple[str, object]]:
    """(caption, figure) pairs in report order."""
    detail = next((r for r in comparison.runs if r.name == "bot"), None)
    detail = detail or next((r for r in comparison.runs if r.policy.has_bands), comparison.runs[0])
    return [
        ("Equity curves", equity_figure(comparison)),
        ("Drift against the band", drift_figure(comparison)),
        (f"Asset drift under {detail.name}", asset_drift_figure(comparison, detail)),
        ("Timeline of trades", trades_figure(comparison)),
        ("Risk and cost", risk_cost_figure(comparison)),
    ]


_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1250px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; } th { background: #f4f4f4; }
img { max-width: 100%; } .note { color: #555; font-size: 0.9em; }
code { background: #f4f4f4; padding: 0 3px; }
"""

_COLUMNS = (
    ("policy", "policy", "{}"),
    ("CAGR", "cagr", "pct"),
    ("volatility", "volatility", "pct"),
    ("max drawdown", "max_drawdown", "pct"),
    ("Sharpe", "sharpe", "{:.2f}"),
    ("tracking error", "tracking_error", "pct"),
    ("mean drift", "mean_drift", "pp"),
    ("max drift", "max_drift", "pp"),
    ("days outside", "days_outside", "{}"),
    ("cycle (sessions)", "cycle_speed", "cycle"),
    ("rebalances", "rebalances", "{}"),
    ("orders", "orders", "{}"),
    ("avg trade", "avg_trade", "money"),
    ("turnover/yr", "turnover", "pct"),
    ("costs", "costs", "money"),
    ("costs bp/yr", "cost_bps", "{:.2f}"),
    ("final equity", "final_equity", "money"),
)


def _cell(value: object, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "pct":
        return f"{value * 100:.2f}%"  # type: ignore[operator]
    if kind == "pp":
        return f"{value * 100:.2f}pp"  # type: ignore[operator]
    if kind == "money":
        return f"${value:,.0f}"
    if kind == "cycle":
        return f"{value:g}"
    return kind.format(value)


def render_html(comparison: Comparison) -> str:
    s = describe_settings(comparison)
    head = "".join(f"<th>{html.escape(title)}</th>" for title, _, _ in _COLUMNS)
    rows = []
    for m in comparison.metrics:
        values = m.as_dict()
        cells = "".join(f"<td>{html.escape(_cell(values[key], kind))}</td>" for _, key, kind in _COLUMNS)
        rows.append(f"<tr title='{html.escape(m.description)}'>{cells}</tr>")
    policies = "".join(
        f"<li><code>{html.escape(name)}</code>: {html.escape(text)}</li>"
        for name, text in s["policies"].items()
    )
    targets = ", ".join(f"{k} {v:.0%}" for k, v in s["targets"].items() if v)
    flows = s["flows"]
    flow_text = f"{flows['amount']:+,.2f} on the {flows['schedule']}, to {flows['to']}" if flows else "none"
    band = s["reference_band"]
    band_text = " / ".join(
        part
        for part in (
            f"{band['absolute'] * 100:g} pp" if band["absolute"] else "",
            f"{band['relative'] * 100:g}% of target" if band["relative"] else "",
        )
        if part
    )
    overrides = f" (overrides: {', '.join(band['overrides'])})" if band["overrides"] else ""
    images = "".join(
        f"<h2>{html.escape(caption)}</h2>"
        f"<img alt='{html.escape(caption)}' src='data:image/png;base64,{_png(fig)}'>"
        for caption, fig in figures(comparison)
    )
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Backtest {html.escape(comparison.label)}</title>
<style>{_STYLE}</style></head><body>
<h1>Backtest {html.escape(comparison.label)}: {s["start"]} to {s["end"]}</h1>
<p>Targets: {html.escape(targets)}. Starting capital ${s["capital"]:,.0f}. Dividends: {s["dividends"]}.
Costs: {html.escape(s["costs"])}. Cash flows: {html.escape(flow_text)}. {s["sessions"]} sessions of
<code>{html.escape(s["data"])}</code>; {len(comparison.runs)} policies simulated in {s["seconds"]:.2f} s.</p>
<h2>Metrics</h2>
<table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>
<p class="note">Returns are time-weighted (cash flows excluded). Tracking error is against the target held
exactly every session at no cost. Drift is the largest |weight - target| over assets at the close, before
trading.
"Days outside" and "cycle" use the reference band ({html.escape(band_text)}{html.escape(overrides)}, the
configured bot's) for every policy; cycle = median sessions from the first close found outside the band to the
first close back inside. Rebalances, orders, average trade and turnover count the policy's own rebalances (not
the initial investment or cash-flow trades); costs count every trade. Taxes are not modelled yet.</p>
<h2>Policies</h2><ul>{policies}</ul>
{images}
<p class="note">Generated {generated} by <code>rebalance-bot backtest</code>.</p>
</body></html>
"""


def write_html(comparison: Comparison, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(comparison), encoding="utf-8")
    return path
