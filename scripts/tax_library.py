"""Tax-aware against tax-blind on every portfolio of the evaluation library and every sub-period (issue 15's
proof), for ``bench_tax.py --compare-library``.

The investor of ``bench_tax.py --monthly``: $100,000 then a monthly contribution, the config's policy (the
objective), FIFO relief, dividends reinvested, taxes paid each January. Two runs per cell, identical but for
the tax layer: tax-blind (the planner's plan as is) and tax-aware without harvesting (the objective given each
asset's tax per dollar sold, then ``plan_tax_aware``). Harvesting is measured separately (``--harvest``): this
table is about whether tax-aware *planning* ever leaves the investor worse off.

The portfolios are ``bot/backtest/library.py``'s 17; the periods those of ``scripts/bench_objective.py``.
Sleeves (what ``plan_tax_aware`` may buy instead of a symbol sold at a loss in the last 30 days) come from
:data:`SUBSTITUTES`, skipping any fund the portfolio holds itself.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from bot.backtest.data import load_history
from bot.backtest.library import LIBRARY
from bot.backtest.policies import bot_policy
from bot.backtest.tax import TaxBacktestOptions, TaxRun, simulate_tax, substitute_prices
from bot.config import load_config
from strategies.tax.estimate import TaxRates
from strategies.tax.planning import TaxSettings

END = date(2022, 12, 30)
PERIODS = {  # scripts/bench_objective.py's
    "2004-12..2022": (date(2004, 12, 1), END),
    "2004-12..2009": (date(2004, 12, 1), date(2009, 12, 31)),
    "2010..2015": (date(2010, 1, 1), date(2015, 12, 31)),
    "2016..2022": (date(2016, 1, 1), END),
}
SUBSTITUTES = {
    "VTI": ("ITOT", "SCHB"),
    "SPY": ("VTI", "ITOT"),
    "IVV": ("SCHB",),
    "ITOT": ("SCHB",),
    "EFA": ("VEA",),
    "EEM": ("VWO",),
    "AGG": ("BND",),
    "VNQ": ("IYR",),
}
"""Bundled funds that fill a slot without tracking the same index (SPY/IVV and GLD/IAU are identical)."""
IDENTICAL = (("SPY", "IVV"), ("GLD", "IAU"))
TOLERANCE = 0.02
"""The issue's bound: tax-aware never more than 0.02 percentage points a year below tax-blind."""


def sleeves(symbols: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """Each held fund with the substitutes it may use, none of them held by the portfolio or used twice."""
    used = set(symbols)
    out = []
    for symbol in symbols:
        free = [s for s in SUBSTITUTES.get(symbol, ()) if s not in used]
        if free:
            used |= set(free)
            out.append((symbol, *free))
    return tuple(out)


@dataclass(frozen=True)
class Cell:
    """One portfolio x period: the two runs' outcomes (money-weighted rates in % a year)."""

    portfolio: str
    period: str
    invested: float
    blind_liquidated: float
    aware_liquidated: float
    blind_held: float
    aware_held: float
    blind_rate: float
    aware_rate: float
    blind_held_rate: float
    aware_held_rate: float
    blind_tax: float
    aware_tax: float
    blind_drift: float
    aware_drift: float
    wash_blind: int
    wash_aware: int
    seconds: float

    @property
    def liquidated_pp(self) -> float:
        return self.aware_rate - self.blind_rate

    @property
    def held_pp(self) -> float:
        return self.aware_held_rate - self.blind_held_rate

    def line(self) -> str:
        """One line for the progress report."""
        return (
            f"{self.portfolio} {self.period}: liquidated {self.liquidated_pp:+.3f}, held {self.held_pp:+.3f}"
            f" %/yr, wash {self.wash_blind}/{self.wash_aware}, {self.seconds:.0f} s"
        )


Job = tuple[str, str, Decimal, Path, TaxRates, "float | None"]


def run_cell(job: Job) -> Cell:
    """Tax-blind and tax-aware (no harvest) on one portfolio and period, under the config's policy (built
    here: a trigger holds a lock, which a process pool cannot send; each run keeps its own trigger state);
    ``tax_weight`` overrides the policy's (1: the whole tax counted, as before the present-value pricing)."""
    name, period, monthly, path, rates, tax_weight = job
    config = load_config(path)
    if tax_weight is not None and config.policy is not None:
        policy_section = config.policy.model_copy(update={"tax_weight": tax_weight})
        config = config.model_copy(update={"policy": policy_section})
    policy = bot_policy(config)
    started = time.perf_counter()
    targets = LIBRARY[name]
    history = load_history(targets.symbols, *PERIODS[period])
    groups = sleeves(targets.symbols)
    extra = substitute_prices(history, [s for g in groups for s in g])
    tax = TaxSettings(rates=rates, substitutes=groups, identical=IDENTICAL)
    blind, aware = (
        simulate_tax(history, targets, policy, TaxBacktestOptions(tax, aware=a, monthly=monthly), extra)
        for a in (False, True)
    )
    return _cell(name, period, blind, aware, time.perf_counter() - started)


def _cell(name: str, period: str, blind: TaxRun, aware: TaxRun, seconds: float) -> Cell:
    return Cell(
        name, period, float(blind.invested),
        float(blind.after_tax_value), float(aware.after_tax_value),
        float(blind.held_value), float(aware.held_value),
        blind.after_tax_cagr * 100, aware.after_tax_cagr * 100,
        blind.held_cagr * 100, aware.held_cagr * 100,
        float(blind.taxes_paid + blind.liquidation_tax), float(aware.taxes_paid + aware.liquidation_tax),
        blind.mean_drift * 100, aware.mean_drift * 100,
        blind.wash_sales, aware.wash_sales, seconds,
    )  # fmt: skip


def run_library(
    names: Sequence[str],
    periods: Sequence[str],
    monthly: Decimal,
    config: Path,
    rates: TaxRates,
    workers: int,
    tax_weight: float | None = None,
    cells_out: Path | None = None,
) -> list[Cell]:
    """Every cell, a cell per job (the shortest periods first: the most cells soonest); each finished cell
    is reported on stderr and, with ``cells_out``, appended to that file as a JSON line (a full run takes
    long on a shared machine: a table can be made from the cells done with ``--render``)."""
    order = sorted(periods, key=lambda p: (PERIODS[p][1] - PERIODS[p][0]).days)
    jobs = [(n, p, monthly, config, rates, tax_weight) for p in order for n in names]
    cells: list[Cell] = []
    with ProcessPoolExecutor(max(1, workers)) as pool:
        for done in as_completed([pool.submit(run_cell, job) for job in jobs]):
            cell = done.result()
            cells.append(cell)
            print(f"{len(cells)}/{len(jobs)} {cell.line()}", file=sys.stderr, flush=True)
            if cells_out is not None:
                with cells_out.open("a") as out:
                    out.write(json.dumps(asdict(cell)) + "\n")
    return cells


def read_cells(path: Path) -> list[Cell]:
    """Cells written by :func:`run_library` (``cells_out``)."""
    return [Cell(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def _money(value: float) -> str:
    return f"${value:,.0f}"


def library_table(cells: Sequence[Cell]) -> str:
    """One row per cell, then the per-period and overall averages and the worst cell."""
    head = (
        "portfolio | period | invested | blind: liquidated | aware: liquidated | aware - blind liq. %/yr"
        " | blind: held | aware: held | aware - blind held %/yr | tax paid blind / aware"
        " | drift avg blind / aware | wash sales blind / aware | s"
    )
    lines = [f"| {head} |", "|" + "---|" * (head.count("|") + 1)]
    for c in sorted(cells, key=lambda c: (list(LIBRARY).index(c.portfolio), list(PERIODS).index(c.period))):
        flag = " **(below)**" if c.liquidated_pp < -TOLERANCE else ""
        cells_ = [
            c.portfolio, c.period, _money(c.invested), _money(c.blind_liquidated), _money(c.aware_liquidated),
            f"{c.liquidated_pp:+.3f}{flag}", _money(c.blind_held), _money(c.aware_held), f"{c.held_pp:+.3f}",
            f"{_money(c.blind_tax)} / {_money(c.aware_tax)}", f"{c.blind_drift:.2f} / {c.aware_drift:.2f}pp",
            f"{c.wash_blind} / {c.wash_aware}", f"{c.seconds:.0f}",
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells_) + " |")
    return "\n".join(lines)


def summary(cells: Sequence[Cell]) -> str:
    """Mean, worst and count below the bound, per period and overall (liquidated and held)."""
    lines = [
        "| period | cells | mean liq. %/yr | worst liq. %/yr (cell) | below -0.02 | mean held %/yr"
        " | worst held %/yr | wash sales aware |",
        "|---|---|---|---|---|---|---|---|",
    ]
    groups = {p: [c for c in cells if c.period == p] for p in PERIODS}
    groups["all"] = list(cells)
    for period, group in groups.items():
        if not group:
            continue
        worst = min(group, key=lambda c: c.liquidated_pp)
        below = sum(c.liquidated_pp < -TOLERANCE for c in group)
        lines.append(
            f"| {period} | {len(group)} | {sum(c.liquidated_pp for c in group) / len(group):+.3f}"
            f" | {worst.liquidated_pp:+.3f} ({worst.portfolio}, {worst.period}) | {below}"
            f" | {sum(c.held_pp for c in group) / len(group):+.3f} | {min(c.held_pp for c in group):+.3f}"
            f" | {sum(c.wash_aware for c in group)} |"
        )
    return "\n".join(lines)
