"""The risk/cost frontier drawn: tracking error against turnover-plus-cost, every baseline marked.

One drawing for ``rebalance-bot tune`` (one portfolio, the recommended point highlighted) and the bench's
scoreboard (``scripts/objective_report.py``, four portfolios side by side). matplotlib on the Agg backend,
so no display is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.backtest.frontier import Cell, Recommendation

DPI = 110


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (files only, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw_frontier(
    ax: Any,
    cell: Cell,
    default_label: str = "balanced",
    recommended: Recommendation | None = None,
    names: bool = False,
) -> None:
    """The frontier as a line, each baseline as a square (``names``: labelled beside it), the cell's
    tracking-target run as a star, and the recommended point ringed."""
    gammas = cell.gammas
    ax.plot(
        [p.tracking_error * 100 for p in cell.frontier],
        [p.burden * 100 for p in cell.frontier],
        "o-",
        color="tab:blue",
        label=f"objective, risk aversion {gammas[0]:.0e}..{gammas[-1]:.0e}",
        zorder=3,
    )
    palette = pyplot().get_cmap("tab20").colors
    for i, (key, outcome) in enumerate(cell.baselines.items()):
        x, y = outcome.tracking_error * 100, outcome.burden * 100
        ax.plot(x, y, "s", color=palette[(i + 2) % len(palette)], label=key, zorder=2)
        if names:
            ax.annotate(key, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=7, color="#444")
    if cell.default is not None:
        ax.plot(
            cell.default.tracking_error * 100,
            cell.default.burden * 100,
            "*",
            ms=16,
            color="tab:orange",
            label=default_label,
            zorder=4,
        )
    if recommended is not None:
        point = recommended.point
        ax.plot(
            point.tracking_error * 100,
            point.burden * 100,
            "o",
            ms=18,
            mfc="none",
            mec="tab:red",
            mew=2.5,
            label=f"recommended: {recommended.setting()}",
            zorder=5,
        )
    ax.set_xlabel("tracking error, % a year")
    ax.set_ylabel("turnover + cost, % a year")
    ax.set_yscale("symlog", linthresh=0.01)  # log-like, but a point that never traded (0) still shows
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)


def tune_figure(cell: Cell, recommended: Recommendation, checked_label: str) -> Any:
    """``rebalance-bot tune``'s frontier: one portfolio, every baseline named, the recommendation ringed and
    the recommended setting as the bot runs it (refitted every quarter) as a star."""
    fig, ax = pyplot().subplots(figsize=(12, 6.5))
    draw_frontier(ax, cell, checked_label, recommended, names=True)
    ax.set_title(f"{cell.portfolio}: risk against cost, {cell.history}")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    pyplot().close(fig)
    return path
