"""Dynamic triggers (issue 5): the default ``dynamic`` policy against every built-in baseline.

Run from the project root: ``python scripts/bench_dynamic.py [--markdown] [--plot PNG] [--candidates]
[--robustness] [--frontier]``.

* Both portfolios (60/40 SPY/AGG and the diversified mix), the whole span 2004-12-01 .. 2022-12-30 and three
  non-overlapping sub-periods (2004-12 .. 2009, 2010 .. 2015, 2016 .. 2022), each started afresh with
  $100,000 invested at target; the example config's bands and execution settings, the paper broker's cost
  model, dividends reinvested. The ``dynamic`` policy is the config's ``policy`` section (the chosen default),
  the same on every period: it was chosen on the whole span only.
* Goals (issue 5): the dynamic policy's tracking error below annual calendar rebalancing's, and its turnover
  and its costs below monthly rebalancing's and the 5 pp band's.
* Band edge vs target at equal tracking error: the plain band trigger checked every session with a uniform
  absolute band swept over widths, trading to the band edge and to target; the target curve's turnover is
  interpolated (linear in tracking error) at each band-edge point's tracking error.
* ``--frontier``: is the goal reachable at all in each case? A plain absolute band of every width in
  ``FRONTIER_WIDTHS``, checked every session, trading to the band edge and to target, against the same
  baselines: which widths meet each case's three comparisons, and which (if any) meet all eight cases.
* Cycle speed: the median sessions from a close found outside the config's bands to the first close back
  inside (the backtester's metric), dynamic vs annual and quarterly calendar.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.backtest.data import load_history  # noqa: E402
from bot.backtest.engine import SimOptions  # noqa: E402
from bot.backtest.metrics import Metrics  # noqa: E402
from bot.backtest.policies import DIVERSIFIED, SIXTY_FORTY, Policy, policies_for  # noqa: E402
from bot.backtest.runner import run_policies  # noqa: E402
from bot.config import load_config  # noqa: E402
from strategies.bands import Band, BandPolicy  # noqa: E402
from strategies.dynamic_policy import DynamicPolicySpec, build_trigger  # noqa: E402
from strategies.planner import TradeTo  # noqa: E402
from strategies.schedules import EverySession  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config" / "example.yaml"
PORTFOLIOS = {"60-40": SIXTY_FORTY, "diversified": DIVERSIFIED}
PERIODS = {
    "2004-12..2022": (date(2004, 12, 1), date(2022, 12, 30)),
    "2004-12..2009": (date(2004, 12, 1), date(2009, 12, 31)),
    "2010..2015": (date(2010, 1, 1), date(2015, 12, 31)),
    "2016..2022": (date(2016, 1, 1), date(2022, 12, 30)),
}
BASELINES = ["never", "monthly", "quarterly", "annual", "band-5pp-monthly", "opportunistic-20pct", "bot"]
SWEEP = [Decimal(w) for w in ("0.01", "0.02", "0.03", "0.04", "0.05", "0.06", "0.08", "0.10")]


def goals(by_name: dict[str, Metrics]) -> list[tuple[str, bool, str]]:
    """The issue's three comparisons, each (label, met, numbers)."""
    dyn, annual = by_name["dynamic"], by_name["annual"]
    out = [
        (
            "TE < annual",
            dyn.tracking_error < annual.tracking_error,
            f"{dyn.tracking_error:.2%} vs {annual.tracking_error:.2%}",
        )
    ]
    for base in ("monthly", "band-5pp-monthly"):
        other = by_name[base]
        met = dyn.turnover < other.turnover and dyn.cost_bps < other.cost_bps
        out.append(
            (
                f"turnover & cost < {base}",
                met,
                f"{dyn.turnover:.2%} vs {other.turnover:.2%}; {dyn.cost_bps:.3f} vs {other.cost_bps:.3f} bp",
            )
        )
    return out


def table(metrics: list[Metrics]) -> str:
    head = "policy | TE | turnover/yr | costs | bp/yr | drift avg | drift max | days out | cycle | rebal."
    lines = [f"| {head} |", "|" + "---|" * (head.count("|") + 1)]
    for m in metrics:
        cycle = "-" if m.cycle_speed is None else f"{m.cycle_speed:g}" + ("*" if m.open_breaches else "")
        name = f"**{m.policy}**" if m.policy == "dynamic" else m.policy
        cells = [
            name,
            f"{m.tracking_error:.2%}",
            f"{m.turnover:.2%}",
            f"${m.costs:,.0f}",
            f"{m.cost_bps:.3f}",
            f"{m.mean_drift * 100:.2f}pp",
            f"{m.max_drift * 100:.2f}pp",
            f"{m.days_outside} ({m.share_outside:.0%})",
            cycle,
            str(m.rebalances),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def sweep_policy(config, width: Decimal, trade_to: TradeTo) -> Policy:  # noqa: ANN001
    bands = BandPolicy(Band(absolute=width))
    spec = DynamicPolicySpec(kind="bands", trade_to=trade_to)
    settings = spec.settings(config.planner_settings())
    return Policy(
        name=f"{trade_to.value}-{width * 100:g}pp",
        description="sweep",
        schedule=EverySession(),
        trigger=build_trigger(spec, bands, settings),
        bands=bands,
        settings=settings,
    )


def edge_vs_target(config, history, targets) -> tuple[list[tuple], list[tuple]]:  # noqa: ANN001
    """Rows (width, TE, turnover) for each mode."""
    policies = [sweep_policy(config, w, mode) for mode in (TradeTo.BAND_EDGE, TradeTo.TARGET) for w in SWEEP]
    comparison = run_policies(history, targets, policies, SimOptions(), config.bands.to_policy())
    rows = [
        (p.name.split("-")[0], p.name, m.tracking_error, m.turnover)
        for p, m in zip(policies, comparison.metrics, strict=True)
    ]
    edge = [(name, te, to) for mode, name, te, to in rows if mode == "band_edge"]
    target = [(name, te, to) for mode, name, te, to in rows if mode == "target"]
    return edge, target


def savings(edge: list[tuple], target: list[tuple]) -> list[tuple[str, float, float, float]]:
    """For each band-edge point inside the target curve's TE range: (band, TE, edge turnover, target turnover
    interpolated at that TE)."""
    points = sorted((te, to) for _, te, to in target)
    tes = np.array([p[0] for p in points])
    tos = np.array([p[1] for p in points])
    out = []
    for name, te, to in edge:
        if tes[0] <= te <= tes[-1]:
            out.append((name.split("-", 1)[1], te, to, float(np.interp(te, tes, tos))))
    return out


GOAL_BASELINES = ["monthly", "annual", "band-5pp-monthly"]


def goal_baselines(config, history, targets, bands: BandPolicy) -> dict[str, Metrics]:  # noqa: ANN001
    """The three baselines the goals compare against, by name."""
    metrics = run_policies(
        history, targets, policies_for(GOAL_BASELINES, config), SimOptions(), bands
    ).metrics
    return {m.policy: m for m in metrics}


def goal_margins(m: Metrics, base: dict[str, Metrics]) -> list[float]:
    """Relative margins of ``m`` on the three goals (positive: met): TE vs annual, turnover and cost vs the
    lesser of monthly's and the 5 pp band's."""
    a, mo, b5 = base["annual"], base["monthly"], base["band-5pp-monthly"]
    return [
        1 - m.tracking_error / a.tracking_error,
        1 - m.turnover / min(mo.turnover, b5.turnover),
        1 - m.cost_bps / min(mo.cost_bps, b5.cost_bps),
    ]


def candidates(config) -> None:  # noqa: ANN001
    """The selection grid (whole span only): backstop x cooldown x cost/benefit gate, volatility bands around
    the config's bands, trading to the band edge. The default is the candidate with the largest worst-case
    relative margin over the six goal comparisons (three per portfolio)."""
    grid = [
        DynamicPolicySpec(backstop_days=b, cooldown_days=c, cost_benefit=g)
        for g in (True, False)
        for b in (0, 365, 730)
        for c in (5, 20, 60)
    ]
    start, end = PERIODS["2004-12..2022"]
    margins: dict[int, list[float]] = {i: [] for i in range(len(grid))}
    print("| portfolio | backstop d | cooldown d | cost/benefit | TE | turnover/yr | bp/yr | rebal. |")
    print("|---|---|---|---|---|---|---|---|")
    for label, targets in PORTFOLIOS.items():
        history = load_history(targets.symbols, start, end)
        base = goal_baselines(config, history, targets, config.bands.to_policy())
        policies = []
        for spec in grid:
            bands = config.bands.to_policy()
            settings = spec.settings(config.planner_settings())
            policies.append(
                Policy(
                    "dynamic",
                    "candidate",
                    EverySession(),
                    build_trigger(spec, bands, settings),
                    bands,
                    settings,
                    market_lookback=spec.market_lookback,
                )
            )
        metrics = run_policies(history, targets, policies, SimOptions(), config.bands.to_policy()).metrics
        for i, (spec, m) in enumerate(zip(grid, metrics, strict=True)):
            margins[i] += goal_margins(m, base)
            gate = "on" if spec.cost_benefit else "off"
            print(
                f"| {label} | {spec.backstop_days} | {spec.cooldown_days} | {gate} "
                f"| {m.tracking_error:.2%} | {m.turnover:.2%} | {m.cost_bps:.3f} | {m.rebalances} |"
            )
    best = max(margins, key=lambda i: min(margins[i]))
    print(
        "\nworst-case margin per candidate (backstop/cooldown/gate): "
        + ", ".join(
            f"{g.backstop_days}/{g.cooldown_days}/{'on' if g.cost_benefit else 'off'} {min(margins[i]):+.0%}"
            for i, g in enumerate(grid)
        )
    )
    print(f"chosen: {grid[best]}")


ROBUSTNESS_GRID = [
    ("default (band edge, vol bands 0.5-2, cooldown 5)", DynamicPolicySpec()),
    ("band edge, cooldown 20", DynamicPolicySpec(cooldown_days=20)),
    ("band edge, vol bands 0.75-1.5", DynamicPolicySpec(min_scale="0.75", max_scale="1.5")),
    ("band edge, usual vol over 2 y", DynamicPolicySpec(vol_reference=504, lookback=504)),
    ("band edge, usual vol over 4 y, bands 0.5-2", DynamicPolicySpec(vol_reference=1008, lookback=1008)),
    (
        "partial 25%, vol bands 0.75-1.5, cooldown 20",
        DynamicPolicySpec(
            trade_to="partial", partial_fraction="0.25", min_scale="0.75", max_scale="1.5", cooldown_days=20
        ),
    ),
    (
        "partial 35%, vol bands 0.75-1.5, cooldown 20",
        DynamicPolicySpec(
            trade_to="partial", partial_fraction="0.35", min_scale="0.75", max_scale="1.5", cooldown_days=20
        ),
    ),
    (
        "partial 50%, vol bands 0.75-1.5, cooldown 20",
        DynamicPolicySpec(trade_to="partial", min_scale="0.75", max_scale="1.5", cooldown_days=20),
    ),
]


def robustness(config) -> None:  # noqa: ANN001
    """Variants of the dynamic policy on EVERY period: is there one that meets all 24 comparisons (3 goals x
    2 portfolios x 4 periods)? Prints each variant's relative margin per comparison and its worst case; a
    negative margin is a goal missed. This is a check of the selection, not the selection itself (the
    default was chosen on the whole span, ``--candidates``)."""
    worst: dict[str, list[tuple[float, str]]] = {name: [] for name, _ in ROBUSTNESS_GRID}
    print(
        "| portfolio | period | variant | TE | turnover/yr | bp/yr | margins: TE vs annual, turnover, cost |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, targets in PORTFOLIOS.items():
        for period, (start, end) in PERIODS.items():
            history = load_history(targets.symbols, start, end)
            bands = config.bands.to_policy()
            base = goal_baselines(config, history, targets, bands)
            policies = []
            for _, spec in ROBUSTNESS_GRID:
                settings = spec.settings(config.planner_settings())
                trigger = build_trigger(spec, bands, settings)
                policies.append(
                    Policy(
                        "dynamic",
                        "variant",
                        EverySession(),
                        trigger,
                        bands,
                        settings,
                        market_lookback=spec.market_lookback,
                    )
                )
            metrics = run_policies(history, targets, policies, SimOptions(), bands).metrics
            for (name, _), m in zip(ROBUSTNESS_GRID, metrics, strict=True):
                margins = goal_margins(m, base)
                worst[name] += [(x, f"{label} {period}") for x in margins]
                print(
                    f"| {label} | {period} | {name} | {m.tracking_error:.2%} | {m.turnover:.2%} "
                    f"| {m.cost_bps:.3f} | " + ", ".join(f"{x:+.0%}" for x in margins) + " |"
                )
    print("\n| variant | comparisons met (of 24) | worst margin | where |")
    print("|---|---|---|---|")
    for name, values in worst.items():
        low = min(values)
        met = sum(1 for x, _ in values if x > 0)
        print(f"| {name} | {met} | {low[0]:+.1%} | {low[1]} |")


FRONTIER_WIDTHS = [
    Decimal(w) for w in ("0.02", "0.03", "0.035", "0.04", "0.045", "0.05", "0.055", "0.06", "0.07", "0.08")
]


def frontier(config) -> None:  # noqa: ANN001
    """Plain bands of every width on every case: the (TE, turnover) each reaches and whether it meets that
    case's goals. Shows whether a case's goal region is empty for a whole family of policies, and whether one
    setting can meet every case (the question ``--robustness`` asks of the dynamic variants)."""
    met_everywhere: dict[str, int] = {}
    cases = 0
    print("| portfolio | period | annual TE | least turnover (monthly, 5 pp band) | widths meeting all 3 |")
    print("|---|---|---|---|---|")
    closest: list[str] = []
    for label, targets in PORTFOLIOS.items():
        for period, (start, end) in PERIODS.items():
            cases += 1
            history = load_history(targets.symbols, start, end)
            bands = config.bands.to_policy()
            base = goal_baselines(config, history, targets, bands)
            a, mo, b5 = base["annual"], base["monthly"], base["band-5pp-monthly"]
            policies = [sweep_policy(config, w, mode) for mode in (TradeTo.BAND_EDGE, TradeTo.TARGET)
                        for w in FRONTIER_WIDTHS]  # fmt: skip
            metrics = run_policies(history, targets, policies, SimOptions(), bands).metrics
            meeting = []
            best: tuple[float, str] | None = None
            for p, m in zip(policies, metrics, strict=True):
                margins = goal_margins(m, base)
                if min(margins) > 0:
                    meeting.append(p.name)
                    met_everywhere[p.name] = met_everywhere.get(p.name, 0) + 1
                point = f"{p.name} {m.tracking_error:.3%}/{m.turnover:.2%} ({min(margins):+.1%})"
                if best is None or min(margins) > best[0]:
                    best = (min(margins), point)
            least = min(mo.turnover, b5.turnover)
            print(
                f"| {label} | {period} | {a.tracking_error:.3%} | {least:.2%} | "
                + (", ".join(meeting) if meeting else "**none**")
                + " |"
            )
            if best is not None:
                closest.append(f"{label} {period}: {best[1]}")
    print("\nbest width per case (TE/turnover, worst margin):")
    for line in closest:
        print(f"- {line}")
    everywhere = sorted(name for name, n in met_everywhere.items() if n == cases)
    print(f"\nwidths meeting all {cases} cases: {', '.join(everywhere) if everywhere else 'none'}")


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    markers = {"2004-12..2022": "o", "2004-12..2009": "^", "2010..2015": "s", "2016..2022": "D"}
    names = BASELINES + ["dynamic"]
    colours = {n: plt.cm.tab10(i) for i, n in enumerate(names)}
    for ax, label in zip(axes, PORTFOLIOS, strict=True):
        for period, marker in markers.items():
            for m in results[(label, period)]:
                if m.policy == "never":
                    continue
                whole = period == "2004-12..2022"
                ax.scatter(
                    m.tracking_error * 100,
                    m.turnover * 100,
                    marker=marker,
                    s=110 if whole else 40,
                    color=colours[m.policy],
                    edgecolors="black" if m.policy == "dynamic" else "none",
                    alpha=1.0 if whole else 0.6,
                    label=m.policy if whole else None,
                )
                if whole:
                    ax.annotate(
                        m.policy,
                        (m.tracking_error * 100, m.turnover * 100),
                        fontsize=8,
                        xytext=(4, 4),
                        textcoords="offset points",
                    )
        ax.set_title(f"{label}: risk vs trading (large = 2004-2022; ^ 05-09, s 10-15, D 16-22)")
        ax.set_xlabel("tracking error vs daily-rebalanced target, %/yr")
        ax.set_ylabel("turnover, %/yr")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--markdown", action="store_true", help="markdown tables (BENCHMARKS.md)")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "bench_dynamic_scatter.png")
    parser.add_argument("--candidates", action="store_true", help="only the selection grid, whole span")
    parser.add_argument(
        "--robustness",
        action="store_true",
        help="variants of the policy on every period (worst-case margins)",
    )
    parser.add_argument(
        "--frontier", action="store_true", help="plain bands of every width on every period: goal reachable?"
    )
    args = parser.parse_args()
    config = load_config(CONFIG)
    if args.frontier:
        frontier(config)
        return
    if args.candidates:
        candidates(config)
        return
    if args.robustness:
        robustness(config)
        return
    spec = config.policy_spec()
    print(f"dynamic policy: {policies_for(['dynamic'], config)[0].description}")
    print(f"spec: {spec}")
    results: dict[tuple[str, str], list[Metrics]] = {}
    summary = []
    for label, targets in PORTFOLIOS.items():
        for period, (start, end) in PERIODS.items():
            history = load_history(targets.symbols, start, end)
            policies = policies_for([*BASELINES, "dynamic"], config)
            comparison = run_policies(history, targets, policies, SimOptions(), config.bands.to_policy())
            results[(label, period)] = comparison.metrics
            by_name = {m.policy: m for m in comparison.metrics}
            span = f"{history.days[0]} .. {history.days[-1]}, {len(history.days)} sessions"
            print(f"\n### {label}, {period} ({span})\n")
            print(table(comparison.metrics))
            checks = goals(by_name)
            summary.append((label, period, checks, by_name))
            print()
            for name, met, numbers in checks:
                print(f"- {name}: {'met' if met else '**NOT met**'} ({numbers})")
    print("\n### Goals, all periods\n")
    print("| portfolio | period | TE < annual | turnover & cost < monthly | turnover & cost < 5 pp band |")
    print("|---|---|---|---|---|")
    for label, period, checks, _ in summary:
        cells = [("yes" if met else "**no**") + f" ({numbers})" for _, met, numbers in checks]
        print(f"| {label} | {period} | " + " | ".join(cells) + " |")

    print(
        "\n### Cycle speed (median sessions from a breach of the config's bands to the close back inside)\n"
    )
    print("| portfolio | period | dynamic | quarterly | annual | monthly | band-5pp-monthly |")
    print("|---|---|---|---|---|---|---|")
    for label, period, _, by_name in summary:

        def cyc(name: str, by_name=by_name) -> str:  # noqa: ANN001
            m = by_name[name]
            text = "-" if m.cycle_speed is None else f"{m.cycle_speed:g}"
            return text + ("*" if m.open_breaches else "") + f" ({m.days_outside} days out)"

        names = ("dynamic", "quarterly", "annual", "monthly", "band-5pp-monthly")
        print(f"| {label} | {period} | " + " | ".join(cyc(n) for n in names) + " |")

    print("\n### Band edge vs target at equal tracking error (2004-12..2022, plain band, every session)\n")
    start, end = PERIODS["2004-12..2022"]
    for label, targets in PORTFOLIOS.items():
        history = load_history(targets.symbols, start, end)
        edge, target = edge_vs_target(config, history, targets)

        def points(rows: list[tuple]) -> str:
            return ", ".join(f"{n.split('-', 1)[1]} {te:.2%}/{to:.2%}" for n, te, to in rows)

        print(f"{label}: sweep (band TE/turnover) - band edge: {points(edge)}; target: {points(target)}")
        print()
        print(
            "| portfolio | band-edge band | TE | turnover, band edge | turnover, target at that TE | saved |"
        )
        print("|---|---|---|---|---|---|")
        saved = []
        for band, te, to_edge, to_target in savings(edge, target):
            saved.append(1 - to_edge / to_target)
            cut = 1 - to_edge / to_target
            print(f"| {label} | {band} | {te:.2%} | {to_edge:.2%} | {to_target:.2%} | {cut:.0%} |")
        if saved:
            print(f"\n{label}: median turnover saved at equal TE: {float(np.median(saved)):.0%}\n")
    plot(results, args.plot)
    print(f"\nscatter: {args.plot.relative_to(ROOT) if args.plot.is_relative_to(ROOT) else args.plot}")


if __name__ == "__main__":
    main()
