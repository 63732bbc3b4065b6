"""The scoreboard of ``scripts/bench_objective.py``: Markdown tables and the frontier plot."""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np
from bench_objective import PERIODS, TARGET

from bot.backtest.frontier import (
    CALENDARS,
    EDGE_BANDS,
    Cell,
    burden_at,
    dominated_by,
    frontier_dominates,
    two_asset_ratio,
)
from bot.backtest.frontier_plot import draw_frontier, pyplot, save

MARK = {True: "yes", False: "**no**"}


def report(real: list[Cell], boot: list[Cell], args: argparse.Namespace, seconds: float) -> None:
    print(
        f"# Objective vs baselines: {len(real)} real-history cells, {len(boot)} resampled paths, "
        f"{seconds:.0f} s\n"
    )
    if real:
        frontier_real(real)
        curve_real(real)
    frontier_boot(boot)
    curve_boot(boot)
    if real:
        default_real(real)
        cycle_speed(real)
    if args.plot and real:
        plot(real, args.plot)
        print(f"\nfrontier plot: {args.plot}")


def _table(head: list[str], rows: list[list[str]]) -> None:
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()


def frontier_real(real: list[Cell]) -> None:
    print("## Frontier dominance on real history (some risk aversion beats the baseline on both axes)\n")
    rows, met, total = [], 0, 0
    by_portfolio: dict[str, dict[str, Cell]] = defaultdict(dict)
    for cell in real:
        by_portfolio[cell.portfolio][cell.history] = cell
    for name, cells in by_portfolio.items():
        row = [name]
        for period in PERIODS:
            cell = cells[period]
            flags = [frontier_dominates(cell.frontier, cell.baselines[b]) for b in CALENDARS]
            met += sum(flags)
            total += len(flags)
            row.append(
                " ".join(
                    f"{b[0].upper()}:{'ok' if f else 'NO'}" for b, f in zip(CALENDARS, flags, strict=True)
                )
            )
        rows.append(row)
    _table(["portfolio", *PERIODS], rows)
    print(f"Calendar baselines dominated: {met} of {total} (goal: all).\n")


def curve_real(real: list[Cell]) -> None:
    """The frontier against the bands on real history as one number per cell: its turnover-plus-cost at each
    band's tracking error (read off the curve) over the band's, the median over the bands. Below 1 the
    objective tracks as closely for less trading; discrete dominance cannot say by how much."""
    print("## The frontier's turnover-plus-cost at each band's tracking error, over the band's (median)\n")
    bands = ("band-5pp-monthly", *EDGE_BANDS)
    by_portfolio: dict[str, dict[str, Cell]] = defaultdict(dict)
    for cell in real:
        by_portfolio[cell.portfolio][cell.history] = cell
    rows, below = [], []
    for name, cells in by_portfolio.items():
        row = [name]
        for period in PERIODS:
            ratios = [r for r in (_burden_ratio(cells[period], b) for b in bands) if r is not None]
            row.append(f"{np.median(ratios):.2f}" if ratios else "-")
            below += [r < 1.0 for r in ratios]
        rows.append(row)
    _table(["portfolio", *PERIODS], rows)
    print(f"Bands the curve is below: {sum(below)} of {len(below)} comparisons within the frontier's span.\n")


def _burden_ratio(cell: Cell, baseline: str) -> float | None:
    point = cell.baselines[baseline]
    ours = burden_at(cell.frontier, point.tracking_error)
    return None if ours is None or point.burden <= 0 else ours / point.burden


def frontier_boot(boot: list[Cell]) -> None:
    if not boot:
        return
    print("## Resampled histories: share of paths on which the frontier dominates\n")
    by_portfolio: dict[str, list[Cell]] = defaultdict(list)
    for cell in boot:
        by_portfolio[cell.portfolio].append(cell)
    rows = []
    for name, cells in by_portfolio.items():
        share = {
            b: np.mean([frontier_dominates(c.frontier, c.baselines[b]) for c in cells])
            for b in (*CALENDARS, "band-5pp-monthly", *EDGE_BANDS)
        }
        calendars = min(share[b] for b in CALENDARS)
        edge_worst = min(EDGE_BANDS, key=lambda b: share[b])
        if cells[0].assets == 2:
            ratios = [r for r in (two_asset_ratio(c) for c in cells) if r is not None]
            within = np.mean(np.array(ratios) <= 1.10)
            two = f"worst band ratio median {np.median(ratios):.2f}, <= 1.10 on {within:.0%}"
            edge_goal = two
        else:
            edge_goal = f"{share[edge_worst]:.0%} (worst: {edge_worst}) " + (
                "ok" if share[edge_worst] >= 0.75 else "NO"
            )
        rows.append(
            [
                name,
                str(cells[0].assets),
                str(len(cells)),
                " / ".join(f"{share[b]:.0%}" for b in CALENDARS) + (" ok" if calendars >= 0.9 else " NO"),
                f"{share['band-5pp-monthly']:.0%}" + (" ok" if share["band-5pp-monthly"] >= 0.75 else " NO"),
                edge_goal,
            ]
        )
    _table(
        [
            "portfolio",
            "assets",
            "paths",
            "monthly / quarterly / annual (goal 90%)",
            "5 pp monthly (goal 75%)",
            "edge bands 2-8 pp and 20% (goal 75%; 2 assets: burden within 10%)",
        ],
        rows,
    )


def below_curve(cell: Cell, baseline: str) -> bool | None:
    """The frontier's curve (log-log between neighbouring risk aversions) is below ``baseline``: less
    turnover-plus-cost at its tracking error. None when its tracking error is outside the frontier's span.
    Unlike discrete dominance, a baseline between two grid points can be beaten."""
    point = cell.baselines[baseline]
    ours = burden_at(cell.frontier, point.tracking_error)
    return None if ours is None else ours < point.burden


def curve_boot(boot: list[Cell]) -> None:
    """Share of paths on which the interpolated frontier is below each band baseline."""
    if not boot:
        return
    print("\n## Resampled histories: share of paths with the frontier's curve below the band\n")
    by_portfolio: dict[str, list[Cell]] = defaultdict(list)
    for cell in boot:
        by_portfolio[cell.portfolio].append(cell)
    bands = ("band-5pp-monthly", *EDGE_BANDS)
    rows = []
    for name, cells in by_portfolio.items():
        shares = []
        for band in bands:
            verdicts = [v for v in (below_curve(c, band) for c in cells) if v is not None]
            shares.append(f"{np.mean(verdicts):.0%}" if verdicts else "-")
        rows.append([name, str(cells[0].assets), *shares])
    _table(["portfolio", "assets", *bands], rows)


def default_real(real: list[Cell]) -> None:
    print(f"## The default ({TARGET.describe()}) on real history, walk-forward\n")
    rows, fine, within = [], 0, 0
    for cell in real:
        assert cell.default is not None
        worse = dominated_by(cell)
        fine += not worse
        relative = cell.default.tracking_error / cell.volatility
        ok = abs(relative / TARGET.value - 1) <= 0.25
        within += ok
        rows.append(
            [
                cell.portfolio,
                cell.history,
                f"{cell.default.tracking_error:.2%}",
                f"{relative:.1%}" + ("" if ok else " (off)"),
                f"{cell.default.turnover:.2%}",
                f"{cell.default.cost_bps:.2f}",
                ", ".join(worse) or "-",
            ]
        )
    _table(
        ["portfolio", "period", "TE", "TE / volatility (6%)", "turnover/yr", "cost bp/yr", "dominated by"],
        rows,
    )
    print(
        f"Not dominated by any baseline: {fine} of {len(real)} cells ({fine / len(real):.0%}; goal 80%). "
        f"Tracking error within 25% of the target: {within} of {len(real)}.\n"
    )


def cycle_speed(real: list[Cell]) -> None:
    print("## Cycle speed: median sessions from a breach of the 5 pp / 25% bands to back inside\n")
    rows = []
    for cell in real:
        if cell.history != "2004-12..2022" or cell.default is None:
            continue
        values = [
            cell.default.cycle_speed,
            cell.baselines["quarterly"].cycle_speed,
            cell.baselines["annual"].cycle_speed,
        ]
        rows.append([cell.portfolio, *("-" if v is None else f"{v:g}" for v in values)])
    _table(["portfolio (2004-12..2022)", "balanced", "quarterly", "annual"], rows)


def plot(real: list[Cell], path: Path) -> None:
    names = ["60-40", "diversified", "permanent", "twelve-assets"]
    cells = {c.portfolio: c for c in real if c.history == "2004-12..2022" and c.portfolio in names}
    fig, axes = pyplot().subplots(2, 2, figsize=(12, 9))
    for ax, name in zip(axes.flat, names, strict=False):
        if name not in cells:
            continue
        draw_frontier(ax, cells[name], TARGET.name)
        ax.set_title(f"{name}, 2004-12..2022")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    save(fig, path)
