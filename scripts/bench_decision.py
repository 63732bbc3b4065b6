"""How long the objective's decision takes (issue 14: "a decision for 12 assets takes under 50 ms").

Run from the project root::

    python scripts/bench_decision.py [--days 40] [--repeats 15]

What is timed is what the live bot runs each cycle for an account on the objective, on real data:

* **Inputs.** Portfolios from ``bot/backtest/library.py``: ``60-40`` (2 assets), ``permanent`` (4),
  the 8 largest sleeves of ``twelve-assets`` (weights rescaled to sum to 1) (8) and ``twelve-assets``
  (12). On ``--days`` sessions spread evenly over 2007-2022, the forecast covariance is the default
  ``RiskModel`` (EWMA, half-life 126, 504 sessions) on the bundled daily total returns up to that close,
  scaled as the objective prices it; costs are the paper broker's (``CostModel``: half-spread, and
  square-root impact from the data's point-in-time volatility and volume, a $100,000 account), so every
  asset has an impact term (one power cone each, the largest form of the problem without tax); the risk
  aversion is the ``balanced`` preset's analytic anchor on the trailing two years.
* **Two cases.** *Wait*: the target left to drift with the market for the 5 sessions before the day (the
  common case: the exact no-trade test settles it, no solve). *Trade*: the target left to drift for a
  year, its drift doubled until the no-trade test fails (Clarabel solves). Each decision is counted in the
  case the exact test puts it in (a calm day may stay inside the region); the counts are reported.
* **``decide``** (``strategies.objective.problem.decide``): the full call, no-trade test included, each
  call timed on its own, ``--repeats`` times per day; the solver object for the problem's shape is built
  before timing (the live bot builds it once per process and shape; the first call's time is given apart).
* **Trigger**: ``ObjectiveTrigger.evaluate`` (what ``plan`` and the cycle call): the covariance from 1,008
  sessions of returns, the inputs, the decision and its explanation, with the quarter's risk aversion
  already fitted; and the quarter's first cycle, which refits the risk aversion first
  (``fit_risk_aversion``: once per quarter per account), on every fifth day or so.

Medians and 90th percentiles in milliseconds; the machine and Python are printed with the results.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.backtest.costs import CostModel  # noqa: E402
from bot.backtest.data import PriceHistory, load_history  # noqa: E402
from bot.backtest.library import LIBRARY  # noqa: E402
from strategies.bands import Band, BandPolicy  # noqa: E402
from strategies.market_state import AssetCosts, MarketState  # noqa: E402
from strategies.objective.calibrate import TrackingTarget, anchor_gamma  # noqa: E402
from strategies.objective.problem import DEFAULT_CASH_DRAG, DecisionInputs, decide, waits  # noqa: E402
from strategies.objective.risk import RiskModel  # noqa: E402
from strategies.objective.trigger import ObjectiveSpec, ObjectiveTrigger  # noqa: E402
from strategies.portfolio import PortfolioSnapshot  # noqa: E402
from strategies.simulation.path import impact_coefficients  # noqa: E402
from strategies.targets import TargetAllocation  # noqa: E402
from strategies.triggers import BandTrigger, TriggerContext  # noqa: E402

ACCOUNT = 100_000.0
CASH_BUFFER = 0.005
FIRST, LAST = date(2007, 1, 1), date(2022, 12, 30)
WAIT_DRIFT, TRADE_DRIFT = 5, 252
"""Sessions the target drifts with the market before the day, for the wait and the trade case."""
TARGET = TrackingTarget.preset("balanced")
RISK = RiskModel()


def portfolios() -> dict[int, TargetAllocation]:
    """2, 4, 8 and 12 assets from the library (8: the twelve-asset mix's largest sleeves, rescaled)."""
    twelve = LIBRARY["twelve-assets"]
    largest = sorted(twelve.weights.items(), key=lambda kv: -kv[1])[:8]
    total = sum(w for _, w in largest)
    eight = TargetAllocation(
        {s: w / total for s, w in largest[:-1]}
        | {largest[-1][0]: 1 - sum(w / total for _, w in largest[:-1])}
    )
    return {2: LIBRARY["60-40"], 4: LIBRARY["permanent"], 8: eight, 12: twelve}


class Case:
    """One portfolio's data: returns (row t: into close t), targets, costs at each day."""

    def __init__(self, allocation: TargetAllocation) -> None:
        self.allocation = allocation
        self.history: PriceHistory = load_history(allocation.symbols, None, LAST)
        self.symbols = self.history.symbols
        self.returns = np.vstack([np.zeros(len(self.symbols)), self.history.total_returns()])
        self.targets = np.array([float(allocation.weight(s)) for s in self.symbols])
        self.model = CostModel()
        self.half = np.array([self.model.half_spread(s) for s in self.symbols])

    def days(self, count: int) -> list[int]:
        first = max(self.history.first_on_or_after(FIRST), RISK.window + TARGET.window + 1)
        last = len(self.history.days) - 1
        return [int(k) for k in np.linspace(first, last, count)]

    def impact(self, t: int) -> np.ndarray:
        sigma, adv = np.array([self.history.impact_inputs(i, t) for i in range(len(self.symbols))]).T
        dollars = adv * self.history.close[t]
        return impact_coefficients(ACCOUNT, sigma, dollars, self.model.impact_coefficient)

    def drifted(self, t: int, sessions: int) -> np.ndarray:
        """The target bought ``sessions`` before ``t`` and held (cash earns nothing)."""
        growth = np.prod(1.0 + self.returns[t - sessions + 1 : t + 1], axis=0)
        values = self.targets * growth
        return values / (values.sum() + 1.0 - self.targets.sum())

    def trading(self, t: int) -> np.ndarray:
        """A year's drift, doubled until the no-trade test fails (a calm year of a two-asset mix stays
        inside its region), as long as the weights stay a long-only portfolio."""
        drifted = self.drifted(t, TRADE_DRIFT)
        weights = drifted
        for scale in (2.0, 4.0, 8.0, 16.0):
            inputs, gamma = self.inputs(t, weights)
            if not waits(inputs, gamma):
                break
            wider = self.targets + scale * (drifted - self.targets)
            if (wider < 0).any() or wider.sum() > 1:
                break
            weights = wider
        return weights

    def inputs(self, t: int, weights: np.ndarray) -> tuple[DecisionInputs, float]:
        """The decision's inputs at the close of ``t`` and the balanced preset's anchor risk aversion."""
        history = self.returns[: t + 1]
        covariance = RISK.covariance(history)
        assert covariance is not None
        scaled = RISK.scaled(covariance, self.targets)
        window = history[-TARGET.window :]
        volatility = float(np.std(window @ self.targets, ddof=1) * np.sqrt(252))
        gamma = anchor_gamma(window, self.targets, covariance, scaled, self.half, TARGET.value * volatility)
        cash = 1.0 - float(weights.sum())
        inputs = DecisionInputs(
            weights=weights,
            targets=self.targets,
            covariance=scaled,
            half_spread=self.half,
            impact=self.impact(t),
            cash_min=min(CASH_BUFFER, cash),
            cash_goal=max(1.0 - float(self.targets.sum()), CASH_BUFFER),
            cash_drag=DEFAULT_CASH_DRAG,
        )
        return inputs, gamma

    def snapshot(self, t: int, weights: np.ndarray) -> PortfolioSnapshot:
        prices = {
            s: Decimal(f"{p:.2f}") for s, p in zip(self.symbols, self.history.adj_close[t], strict=True)
        }
        positions = {
            s: Decimal(f"{w * ACCOUNT / float(prices[s]):.6f}")
            for s, w in zip(self.symbols, weights, strict=True)
        }
        cash = Decimal(f"{(1.0 - float(weights.sum())) * ACCOUNT:.2f}")
        return PortfolioSnapshot(cash, positions, prices, fractionable={s: True for s in self.symbols})

    def market(self, t: int, lookback: int) -> MarketState:
        costs = {}
        for i, symbol in enumerate(self.symbols):
            sigma, adv = self.history.impact_inputs(i, t)
            costs[symbol] = AssetCosts(
                self.model.spread_for(symbol), adv, sigma, self.model.impact_coefficient
            )
        return MarketState(self.symbols, self.returns[max(1, t + 1 - lookback) : t + 1], costs)


def timed(call: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000.0)
    return times


def summary(times: list[float]) -> str:
    if not times:
        return "-"
    ordered = sorted(times)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"{statistics.median(times):.2f} / {p90:.2f}"


def bench_size(n: int, allocation: TargetAllocation, days: int, repeats: int) -> dict[str, object]:
    case = Case(allocation)
    sessions = case.days(days)
    cases: dict[str, list[tuple[DecisionInputs, float]]] = {"wait": [], "trade": []}
    for t in sessions:
        for weights in (case.drifted(t, WAIT_DRIFT), case.trading(t)):
            inputs, gamma = case.inputs(t, weights)
            cases["wait" if waits(inputs, gamma) else "trade"].append((inputs, gamma))
    first = [] if not cases["trade"] else timed(lambda: decide(*cases["trade"][0]), 1)
    results: dict[str, object] = {"n": n, "first": first[0] if first else None}
    for kind, items in cases.items():
        times: list[float] = []
        for inputs, gamma in items:
            decision = decide(inputs, gamma)
            assert decision.failure is None, decision.failure
            assert decision.solved == (kind == "trade")
            times += timed(lambda inputs=inputs, gamma=gamma: decide(inputs, gamma), repeats)
        results[kind] = (len(items), times)
    results["trigger"], results["refit"] = bench_trigger(case, sessions, repeats)
    return results


def bench_trigger(case: Case, sessions: list[int], repeats: int) -> tuple[list[float], list[float]]:
    """``ObjectiveTrigger.evaluate`` with the quarter's fit cached, and the quarter's first cycle (which
    refits), on a few days."""
    spec = ObjectiveSpec(tracking=TARGET)
    fallback = BandTrigger(BandPolicy(Band(absolute=Decimal("0.05"))))
    cycles: list[float] = []
    refits: list[float] = []
    for t in sessions[:: max(1, len(sessions) // 8)]:
        trigger = ObjectiveTrigger(spec, fallback, cash_floor=Decimal(str(CASH_BUFFER)))
        snapshot = case.snapshot(t, case.drifted(t, TRADE_DRIFT))
        day = case.history.days[t]
        context = TriggerContext(
            now=datetime(day.year, day.month, day.day, 16), market=case.market(t, spec.lookback)
        )

        def cycle(trigger=trigger, snapshot=snapshot, context=context) -> None:  # noqa: ANN001
            trigger.evaluate(snapshot, case.allocation, context)

        refits += timed(cycle, 1)  # the quarter's first cycle fits, later ones reuse the fit
        cycles += timed(cycle, repeats)
    return cycles, refits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"python {platform.python_version()}, {platform.machine()}, {platform.processor() or 'cpu ?'}")
    print(f"{args.days} days 2007-2022 x {args.repeats} repeats; milliseconds, median / 90th percentile\n")
    print(
        "| assets | decide, wait (days) | decide, trade (days) | first solve of a shape | "
        "trigger cycle (fit cached) | first cycle of a quarter (refit) |"
    )
    print("|---|---|---|---|---|---|")
    for n, allocation in portfolios().items():
        r = bench_size(n, allocation, args.days, args.repeats)
        (waits_n, wait_t), (trades_n, trade_t) = r["wait"], r["trade"]  # type: ignore[misc]
        first = f"{r['first']:.1f}" if r["first"] is not None else "-"
        print(
            f"| {n} | {summary(wait_t)} ({waits_n}) | {summary(trade_t)} ({trades_n}) | {first} | "
            f"{summary(r['trigger'])} | {summary(r['refit'])} |"  # type: ignore[arg-type]
        )
    print(f"\nwall {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
