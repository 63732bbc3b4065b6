"""Backtest results for people (a rich table in the terminal) and for machines (CSV and JSON files).

Files written by :func:`write_files` into the output directory:

* ``metrics.csv``: one row per policy, every metric (see ``bot/backtest/metrics.py`` for definitions);
* ``equity.csv``: per session, each policy's equity and the target's (rebalanced daily, no cost, same flows);
* ``drift.csv``: per session and policy, the largest absolute asset drift before trading (weight units);
* ``trades.csv``: every fill (policy, date, kind, symbol, side, shares, price, mid, costs);
* ``summary.json``: the run's settings and the metrics.

The HTML report (``bot/backtest/html.py``) is written beside them as ``report.html``.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from bot.backtest.metrics import Metrics, target_vector
from bot.backtest.runner import Comparison


def describe_settings(comparison: Comparison) -> dict:
    """The run's settings in plain words and numbers (for the report headers and ``summary.json``)."""
    options = comparison.options
    targets = comparison.targets
    flows = options.flows
    reference = comparison.reference_bands.default
    return {
        "label": comparison.label,
        "start": comparison.history.start.isoformat(),
        "end": comparison.history.end.isoformat(),
        "sessions": len(comparison.history.days),
        "data": comparison.history.source,
        "targets": {**{s: float(w) for s, w in targets.weights.items()}, "cash": float(targets.cash)},
        "capital": options.capital,
        "dividends": options.dividends.value,
        "costs": options.costs.describe(),
        "flows": (
            None
            if flows is None or not flows.amount
            else {"amount": flows.amount, "schedule": flows.schedule.describe(), "to": flows.to.value}
        ),
        "reference_band": {
            "absolute": float(reference.absolute) if reference.absolute is not None else None,
            "relative": float(reference.relative) if reference.relative is not None else None,
            "overrides": sorted(comparison.reference_bands.overrides),
        },
        "policies": {run.name: run.policy.description for run in comparison.runs},
        "seconds": comparison.seconds,
    }


def _pct(value: float, digits: int = 2) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value * 100:.{digits}f}%"


def _money(value: float) -> str:
    return f"${value:,.0f}"


def print_report(comparison: Comparison, console: Console | None = None) -> None:
    """Two tables: return and risk, then drift and trading."""
    console = console or Console()
    s = describe_settings(comparison)
    target_text = ", ".join(f"{k} {v:.0%}" for k, v in s["targets"].items() if v)
    flows = s["flows"]
    flow_text = f"; flows {flows['amount']:+,.0f} {flows['schedule']} -> {flows['to']}" if flows else ""
    console.print(
        f"[bold]Backtest {comparison.label}[/] {s['start']} .. {s['end']} ({s['sessions']} sessions): "
        f"{target_text}; capital {_money(s['capital'])}; dividends {s['dividends']}; {s['costs']}{flow_text}"
    )
    risk = Table(title="Return and risk (time-weighted; benchmark = target rebalanced daily at no cost)")
    for column in (
        "policy",
        "CAGR",
        "volatility",
        "max drawdown",
        "Sharpe",
        "tracking error",
        "final equity",
    ):
        risk.add_column(column, justify="left" if column == "policy" else "right", no_wrap=True)
    for m in comparison.metrics:
        risk.add_row(
            m.policy,
            _pct(m.cagr),
            _pct(m.volatility),
            _pct(m.max_drawdown, 1),
            f"{m.sharpe:.2f}",
            _pct(m.tracking_error),
            _money(m.final_equity),
        )
    console.print(risk)
    trading = Table(title="Drift and trading (drift before trading; band = the configured bot's)")
    columns = (
        "policy",
        "drift avg",
        "drift max",
        "days out",
        "cycle",
        "rebal.",
        "orders",
        "avg trade",
        "turnover",
        "costs",
        "bp/yr",
    )
    for column in columns:
        trading.add_column(column, justify="left" if column == "policy" else "right", no_wrap=True)
    for m in comparison.metrics:
        cycle = "-" if m.cycle_speed is None else f"{m.cycle_speed:g}"
        trading.add_row(
            m.policy,
            f"{m.mean_drift * 100:.2f}pp",
            f"{m.max_drift * 100:.2f}pp",
            f"{m.days_outside} ({m.share_outside:.0%})",
            cycle + ("*" if m.open_breaches else ""),
            str(m.rebalances),
            str(m.orders),
            _money(m.avg_trade),
            _pct(m.turnover, 1),
            _money(m.costs),
            f"{m.cost_bps:.2f}",
        )
    console.print(trading)
    console.print(
        "cycle = median sessions from a close found outside the band to the first close back inside "
        f"(* = a breach still open at the end); turnover per year; {len(comparison.runs)} policies in "
        f"{comparison.seconds:.2f} s"
    )


def write_files(comparison: Comparison, out_dir: Path) -> list[Path]:
    """CSV and JSON files (see the module docstring); returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [
        _write_metrics(comparison.metrics, out_dir / "metrics.csv"),
        _write_equity(comparison, out_dir / "equity.csv"),
        _write_drift(comparison, out_dir / "drift.csv"),
        _write_trades(comparison, out_dir / "trades.csv"),
    ]
    summary = {
        "settings": describe_settings(comparison),
        "metrics": [{k: _clean(v) for k, v in m.as_dict().items()} for m in comparison.metrics],
    }
    path = out_dir / "summary.json"
    path.write_text(json.dumps(summary, indent=2, default=_json_default, allow_nan=False))
    written.append(path)
    return written


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _clean(value: object) -> object:
    """NaN and infinities as empty CSV cells / JSON nulls."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write_metrics(metrics: list[Metrics], path: Path) -> Path:
    rows = [{k: _clean(v) for k, v in m.as_dict().items()} for m in metrics]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)
    return path


def _write_equity(comparison: Comparison, path: Path) -> Path:
    days = comparison.history.days
    columns = {"benchmark": comparison.benchmark_equity()} | {r.name: r.equity for r in comparison.runs}
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["date", *columns])
        for k, day in enumerate(days):
            writer.writerow([day.isoformat(), *(f"{series[k]:.6f}" for series in columns.values())])
    return path


def _write_drift(comparison: Comparison, path: Path) -> Path:
    days = comparison.history.days
    target = target_vector(comparison.targets, comparison.history.symbols)
    columns = {r.name: np.abs(r.weights(pre=True) - target).max(axis=1) for r in comparison.runs}
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["date", *columns])
        for k, day in enumerate(days):
            writer.writerow([day.isoformat(), *(f"{series[k]:.8f}" for series in columns.values())])
    return path


def _write_trades(comparison: Comparison, path: Path) -> Path:
    days = comparison.history.days
    fields = ["policy", "date", "kind", "symbol", "side", "qty", "price", "mid", "notional", "spread_cost",
              "impact_cost", "commission", "clipped"]  # fmt: skip
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(fields)
        for run in comparison.runs:
            for t in run.trades:
                writer.writerow(
                    [run.name, days[t.day_index].isoformat(), t.kind.value, t.symbol, t.side.value,
                     f"{t.qty:.9f}", f"{t.price:.6f}", f"{t.mid:.6f}", f"{t.notional:.2f}",
                     f"{t.spread_cost:.4f}", f"{t.impact_cost:.4f}", f"{t.commission:.4f}", int(t.clipped)]
                )  # fmt: skip
    return path
