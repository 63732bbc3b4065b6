"""Tax-aware execution benchmark (issue 8): one taxable account, 2004-12 to 2022-12, on the bundled data.

Run from the project root: ``python scripts/bench_tax.py [--starts] [--data DIR]`` (prints markdown for
BENCHMARKS.md; ``--starts`` adds the same comparison from four later start dates; ``--data`` reads every
price, the substitutes' included, from another directory in the bundled layout).

Both portfolios of ``scripts/bench_backtest.py`` (60/40 SPY/AGG, and the diversified mix), the configured bot
policy of ``config/example.yaml`` (bands 5 pp / 25% of target, GLD 3 pp / 30%, checked every session, trade
back to target, 0.5% cash buffer, $10 minimum trade), $100,000, 2 bps spread, rates 35% short term and 15%
long term, taxes paid from the portfolio each January, liquidation at the last close. Variants, all with the
same policy (see ``bot/backtest/tax.py`` for the conventions):

* ``tax-blind``: the planner's plan as is, FIFO relief;
* ``tax-aware``: the same plans through ``plan_tax_aware`` (FIFO, gains only half-way into the band, wait up
  to 30 days for long term inside 1.5 x the band), no harvesting;
* ``tax-aware + harvest``: plus ``plan_harvest`` ($1,000 and 5% thresholds, switch back when it is free);
* ``harvest + lot choice, planner's sizes``: harvesting, the wash-sale guards and the choice of lots and
  sleeve members, but every trade as large as the planner made it (``gains_to_band_edge=False``);
* ``... (min-tax relief)``: the same with minimum-tax lot relief (brokers that let the seller pick lots;
  Alpaca applies FIFO).

**The investor** (issue 15): ``--monthly 2000 --harvest daily [--dividends cash] [--portfolio diversified]
[--periods | --start 2010-01-01 --end 2022-12-30]`` adds $2,000 on the first session of every month (invested
most underweight first by the cash-flow allocator), checks for harvests at every close, and compares
tax-blind, tax-aware without harvesting and tax-aware with harvesting (all FIFO), after tax two ways: on
liquidation at the last close and held (unrealised gains untaxed). Rates are money-weighted (the IRR of the
contributions); ``--periods`` runs 2004-12..2022 and the sub-periods 2004-12..2012, 2010..2022, 2013..2022.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.backtest.data import DividendMode, load_history  # noqa: E402
from bot.backtest.policies import DIVERSIFIED, SIXTY_FORTY, Policy, bot_policy  # noqa: E402
from bot.backtest.tax import (  # noqa: E402
    TaxBacktestOptions,
    TaxRun,
    simulate_tax,
    substitute_dividends,
    substitute_prices,
)
from bot.config import load_config  # noqa: E402
from strategies.tax.estimate import TaxRates  # noqa: E402
from strategies.tax.lots import ReliefMethod  # noqa: E402
from strategies.tax.planning import HarvestSettings, TaxSettings  # noqa: E402

START, END = date(2004, 12, 1), date(2022, 12, 30)
CONFIG = Path(__file__).resolve().parents[1] / "config" / "example.yaml"
RATES = TaxRates(Decimal("0.35"), Decimal("0.15"))
IDENTICAL = (("SPY", "IVV"), ("GLD", "IAU"))
SLEEVES = {
    "60-40": (("SPY", "VTI", "ITOT"), ("AGG", "BND")),
    "diversified": (("VTI", "ITOT", "SCHB"), ("EFA", "VEA"), ("EEM", "VWO"), ("AGG", "BND"), ("VNQ", "IYR")),
}
PORTFOLIOS = {"60-40": SIXTY_FORTY, "diversified": DIVERSIFIED}


def variants(label: str) -> list[TaxBacktestOptions]:
    base = TaxSettings(rates=RATES, substitutes=SLEEVES[label], identical=IDENTICAL)
    harvesting = replace(base, harvest=HarvestSettings(enabled=True))
    return [
        TaxBacktestOptions(base, aware=False, label="tax-blind"),
        TaxBacktestOptions(base, aware=True, label="tax-aware"),
        TaxBacktestOptions(harvesting, aware=True, label="tax-aware + harvest"),
        TaxBacktestOptions(
            replace(harvesting, gains_to_band_edge=False), label="harvest + lot choice, planner's sizes"
        ),
        TaxBacktestOptions(
            replace(harvesting, relief_method=ReliefMethod.MIN_TAX),
            label="tax-aware + harvest (min-tax relief)",
        ),
    ]


def money(value: Decimal) -> str:
    return f"${value:,.0f}" if value >= 0 else f"-${-value:,.0f}"


def summary_table(runs: Sequence[TaxRun]) -> str:
    head = (
        "variant | pre-tax value | taxes paid 2005-21 | final-year tax | after-tax wealth | after-tax CAGR"
        " | vs blind | losses harvested | loss carry left | harvests / switch-backs | rebalances"
        " | drift avg / max | wash sales | s"
    )
    lines = [f"| {head} |", "|" + "---|" * (head.count("|") + 1)]
    blind = runs[0].after_tax_value
    for run in runs:
        cells = [
            run.label, money(run.final_value), money(run.taxes_paid), money(run.liquidation_tax),
            money(run.after_tax_value), f"{run.after_tax_cagr:.2%}",
            f"{money(run.after_tax_value - blind)} ({float(run.after_tax_value / blind - 1):+.2%})",
            money(run.harvested), money(run.unused_carry), f"{run.harvests} / {run.switch_backs}",
            str(run.rebalances),
            f"{run.mean_drift * 100:.2f} / {run.worst_drift * 100:.2f}pp", str(run.wash_sales),
            f"{run.seconds:.1f}",
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def yearly_table(runs: Sequence[TaxRun]) -> str:
    """Taxes paid (liquidation year: the tax on the final year including the liquidation) and losses
    harvested per year, per variant."""
    head = "year | " + " | ".join(f"{r.label}: tax | harvested" for r in runs)
    lines = [f"| {head} |", "|" + "---|" * (1 + 2 * len(runs))]
    years = [y.year for y in runs[0].years]
    for i, year in enumerate(years):
        cells = [str(year) + (" (liquidation)" if i == len(years) - 1 else "")]
        for run in runs:
            y = run.years[i]
            cells += [money(y.tax), money(y.harvested) if y.harvested else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


STARTS = (date(2004, 12, 1), date(2006, 12, 1), date(2008, 12, 1), date(2010, 12, 1), date(2012, 12, 3))


def starts_table(label: str, policy: Policy, data: Path | None = None) -> str:
    """After-tax wealth of each variant against tax-blind, for later starts (same end): how much of the
    difference is the path (when each variant happened to trade) rather than the tax rules."""
    targets = PORTFOLIOS[label]
    names = [o.label for o in variants(label)[1:]]
    lines = ["| start | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
    for start in STARTS:
        history = load_history(targets.symbols, start, END, data)
        extra = substitute_prices(history, [s for group in SLEEVES[label] for s in group])
        runs = [simulate_tax(history, targets, policy, options, extra) for options in variants(label)]
        blind = runs[0].after_tax_value
        cells = [f"{float(r.after_tax_value / blind - 1):+.2%} (wash {r.wash_sales})" for r in runs[1:]]
        lines.append(f"| {history.start} (blind: wash {runs[0].wash_sales}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


PERIODS = (
    (START, END),
    (START, date(2012, 12, 31)),
    (date(2010, 1, 1), END),
    (date(2013, 1, 1), END),
)


def investor_variants(label: str, args: argparse.Namespace) -> list[TaxBacktestOptions]:
    """Tax-blind, tax-aware without harvesting, tax-aware with harvesting: FIFO, the investor's money."""
    base = TaxSettings(rates=RATES, substitutes=SLEEVES[label], identical=IDENTICAL)
    money_in = {
        "monthly": Decimal(args.monthly), "dividends": DividendMode(args.dividends),
        "harvest_every_session": args.harvest == "daily",
    }  # fmt: skip
    return [
        TaxBacktestOptions(base, aware=False, label="tax-blind", **money_in),
        TaxBacktestOptions(base, aware=True, label="tax-aware, no harvest", **money_in),
        TaxBacktestOptions(
            replace(base, harvest=HarvestSettings(enabled=True)), label="tax-aware + harvest", **money_in
        ),
    ]


def pp_pair(run: TaxRun, other: TaxRun) -> str:
    """``liquidated / held`` rate differences in percentage points a year."""
    liquidated = (run.after_tax_cagr - other.after_tax_cagr) * 100
    return f"{liquidated:+.3f} / {(run.held_cagr - other.held_cagr) * 100:+.3f}"


def investor_table(runs: Sequence[TaxRun]) -> str:
    """After-tax wealth on liquidation and held, as money-weighted rates and against tax-blind and against
    tax-aware without harvesting (the harvest's own worth), in percentage points a year."""
    head = (
        "variant | invested | pre-tax value | taxes paid before the last year | liquidated: last-year tax"
        " | liquidated: after-tax wealth | rate | held: last-year tax | held: after-tax wealth | rate"
        " | vs blind liq. / held | harvest's worth liq. / held | losses harvested | carry left"
        " | harvests / switch-backs | drift avg / max | wash sales | s"
    )
    lines = [f"| {head} |", "|" + "---|" * (head.count("|") + 1)]
    blind, plain = runs[0], runs[1]
    for run in runs:
        versus = pp_pair(run, blind)
        worth = pp_pair(run, plain) if run is runs[-1] else "-"
        cells = [
            run.label, money(run.invested), money(run.final_value), money(run.taxes_paid),
            money(run.liquidation_tax), money(run.after_tax_value), f"{run.after_tax_cagr:.2%}",
            money(run.held_tax), money(run.held_value), f"{run.held_cagr:.2%}", versus, worth,
            money(run.harvested), money(run.unused_carry), f"{run.harvests} / {run.switch_backs}",
            f"{run.mean_drift * 100:.2f} / {run.worst_drift * 100:.2f}pp", str(run.wash_sales),
            f"{run.seconds:.0f}",
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_investor(args: argparse.Namespace, policy: Policy) -> None:
    labels = list(PORTFOLIOS) if args.portfolio == "both" else [args.portfolio]
    periods = PERIODS if args.periods else [(args.start or START, args.end or END)]
    mode = DividendMode(args.dividends)
    for label in labels:
        targets = PORTFOLIOS[label]
        symbols = [s for group in SLEEVES[label] for s in group]
        for start, end in periods:
            history = load_history(targets.symbols, start, end, args.data)
            extra = substitute_prices(history, symbols, mode)
            paid = substitute_dividends(history, symbols) if mode is DividendMode.CASH else {}
            runs = [
                simulate_tax(history, targets, policy, options, extra, paid)
                for options in investor_variants(label, args)
            ]
            print(
                f"### {label}, {history.start} to {history.end}: ${args.monthly:,.0f} a month, harvest "
                f"check {'at every close' if args.harvest == 'daily' else 'at the policy checks'}, "
                f"dividends {mode}\n"
            )
            print(investor_table(runs))
            print(
                "\nTaxes paid (negative: the $3,000 ordinary-income deduction; the last year: with the "
                "liquidation) and losses harvested, per year:\n"
            )
            print(yearly_table(runs))
            print()


def run_library_comparison(args: argparse.Namespace) -> None:
    """``--compare-library [NAME ...]``: tax-aware (no harvest) against tax-blind on the library's portfolios
    (all without names) x the objective benchmark's periods, the investor's money (``--monthly``, default
    $2,000)."""
    from tax_library import (  # beside this script
        LIBRARY,
        PERIODS,
        library_table,
        read_cells,
        run_library,
        summary,
    )

    names = args.compare_library or list(LIBRARY)
    periods = args.library_periods or list(PERIODS)
    unknown = [n for n in names if n not in LIBRARY] + [p for p in periods if p not in PERIODS]
    if unknown:
        raise SystemExit(f"unknown {unknown}: portfolios {list(LIBRARY)}, periods {list(PERIODS)}")
    monthly = Decimal(2000 if args.monthly is None else args.monthly)
    started = time.perf_counter()
    if args.render is not None:
        cells = [c for c in read_cells(args.render) if c.portfolio in names and c.period in periods]
    else:
        cells = run_library(
            names, periods, monthly, CONFIG, RATES, args.workers, args.tax_weight, args.cells_out
        )
    source = (
        f"cells read from {args.render}"
        if args.render
        else f"{len(names)} portfolios x {len(periods)} periods"
    )
    print(
        f"### Tax-aware (no harvest) vs tax-blind: {len(cells)} cells ({source}), "
        f"${monthly:,.0f} a month, FIFO, tax weight "
        f"{'of the config' if args.tax_weight is None else args.tax_weight}, "
        f"{time.perf_counter() - started:.0f} s, {args.workers} worker(s)\n"
    )
    print(summary(cells))
    print()
    print(library_table(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--starts", action="store_true", help="also run later start dates (about 2 minutes)")
    parser.add_argument("--data", type=Path, help="price directory (default: the bundled data)")
    parser.add_argument("--monthly", type=float, default=None, help="the investor: contribution a month ($)")
    parser.add_argument("--harvest", choices=("checks", "daily"), default="checks", help="harvest check")
    parser.add_argument("--dividends", choices=("reinvest", "cash"), default="reinvest")
    parser.add_argument("--portfolio", choices=("both", *PORTFOLIOS), default="both")
    parser.add_argument("--periods", action="store_true", help="the investor over sub-periods too")
    parser.add_argument("--start", type=date.fromisoformat, help="the investor's one period: first day")
    parser.add_argument("--end", type=date.fromisoformat, help="the investor's one period: last day")
    parser.add_argument(
        "--compare-library", nargs="*", metavar="NAME", help="tax-aware vs tax-blind, every library portfolio"
    )
    parser.add_argument("--library-periods", nargs="*", metavar="PERIOD", help="default: all four")
    parser.add_argument("--workers", type=int, default=1, help="processes for --compare-library")
    parser.add_argument("--tax-weight", type=float, help="--compare-library: the objective's tax weight")
    parser.add_argument("--cells-out", type=Path, help="--compare-library: append each cell (JSON lines)")
    parser.add_argument("--render", type=Path, help="--compare-library: the table from a --cells-out file")
    args = parser.parse_args()
    if args.compare_library is not None:
        run_library_comparison(args)
        return
    config = load_config(CONFIG)
    policy = bot_policy(config)
    if args.monthly is not None or args.harvest == "daily" or args.dividends == "cash":
        if args.monthly is None:
            args.monthly = 0.0
        if args.monthly < 0:
            parser.error(f"--monthly {args.monthly} is negative: use 0 for no contributions")
        run_investor(args, policy)
        return
    for label, targets in PORTFOLIOS.items():
        history = load_history(targets.symbols, START, END, args.data)
        extra = substitute_prices(history, [s for group in SLEEVES[label] for s in group])
        runs = [simulate_tax(history, targets, policy, options, extra) for options in variants(label)]
        weights = ", ".join(f"{s} {w:.0%}" for s, w in targets.weights.items())
        sleeves = "; ".join(" / ".join(group) for group in SLEEVES[label])
        print(f"### {label}: {weights}" + (f", cash {targets.cash:.0%}" if targets.cash else ""))
        print(f"\nSleeves (primary / substitutes): {sleeves}.\n")
        print(summary_table(runs))
        print(
            "\nTaxes paid (negative: the $3,000 ordinary-income deduction) and losses harvested, per year:\n"
        )
        print(yearly_table([runs[0], runs[2], runs[4]]))
        print()
        if args.starts:
            print("After-tax wealth against tax-blind for later starts (end 2022-12-30), and wash sales:\n")
            print(starts_table(label, policy, args.data))
            print()


if __name__ == "__main__":
    main()
