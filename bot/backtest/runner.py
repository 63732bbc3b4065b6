"""Run several policies over one price history and collect their paths and metrics."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from bot.backtest.data import PriceHistory
from bot.backtest.engine import PolicyRun, SimOptions, simulate
from bot.backtest.metrics import Metrics, benchmark_returns, compute_metrics
from bot.backtest.policies import Policy
from bot.backtest.progress import Progress
from strategies.bands import BandPolicy
from strategies.targets import TargetAllocation


@dataclass(eq=False)
class Comparison:
    """Every policy's run and metrics, plus what they were run on."""

    history: PriceHistory
    targets: TargetAllocation
    options: SimOptions
    reference_bands: BandPolicy
    runs: list[PolicyRun] = field(default_factory=list)
    metrics: list[Metrics] = field(default_factory=list)
    seconds: float = 0.0
    label: str = ""

    def benchmark_equity(self) -> np.ndarray:
        """The target held exactly every session at no cost, from the starting capital and with the same
        deposits and withdrawals as the policies (invested at target the day they happen)."""
        if not self.runs:
            return np.full(len(self.history.days), self.options.capital)
        growth = np.concatenate([[1.0], np.cumprod(1.0 + benchmark_returns(self.runs[0]))])
        flows = self.runs[0].flows
        return growth * (self.options.capital + np.cumsum(flows / growth))


def run_policies(
    history: PriceHistory,
    targets: TargetAllocation,
    policies: Sequence[Policy],
    options: SimOptions = SimOptions(),
    reference_bands: BandPolicy | None = None,
    risk_free: float = 0.0,
    label: str = "",
    progress: Progress | None = None,
) -> Comparison:
    """Simulate each policy and measure it; ``reference_bands`` (default: the first policy's bands) is what
    "days outside the band" and "cycle speed" are measured against, for every policy alike. ``progress``
    gets a phase per policy, stepped by the sessions replayed."""
    if not policies:
        raise ValueError("no policies to run")
    reference = reference_bands if reference_bands is not None else policies[0].bands
    started = time.perf_counter()
    comparison = Comparison(history, targets, options, reference, label=label)
    progress = progress or Progress()
    first = history.first_on_or_after(options.start) if options.start is not None else 0
    for policy in policies:
        progress.phase(f"policy {policy.name}", len(history.days) - first)
        run = simulate(history, targets, policy, options, _stepper(progress))
        comparison.runs.append(run)
        comparison.metrics.append(compute_metrics(run, reference, risk_free))
    comparison.seconds = time.perf_counter() - started
    return comparison


def _stepper(progress: Progress) -> Callable[[int], None]:
    """Turns "sessions replayed so far" into steps of the policy's phase."""
    done = [0]

    def watch(sessions: int) -> None:
        progress.step(sessions - done[0])
        done[0] = sessions

    return watch
