"""Metrics of a policy run, all computed with array arithmetic over the whole path.

* **Returns** are time-weighted: a session's return is ``(equity - flow) / previous equity - 1``, with the
  day's deposit (positive) or withdrawal (negative) at the close, so cash flows do not count as performance.
  CAGR over calendar time; volatility = daily stdev x sqrt(252); Sharpe = annualised mean daily excess return
  over volatility (``risk_free`` a yearly rate, 0 by default: the bundled data has no cash rate); max
  drawdown of the time-weighted wealth index.
* **Tracking error** against the target held exactly every day at no cost (the continuously rebalanced
  benchmark, daily total returns from ``adj_close``, cash earning nothing): stdev of the daily difference x
  sqrt(252).
* **Drift** is each asset's weight minus its target, measured at the close *before* that session's trades;
  a session's drift is the largest absolute asset drift (cash excluded). Mean and max are over sessions.
* **Outside the band**: a session is outside when some asset's drift exceeds its width in the *reference*
  bands (the configured bot's, so that every policy is measured against the same bands). A breach episode
  starts on the first session found outside (before trading) and ends on the first session that closes
  inside (after trading, or because prices moved back); "cycle speed" is the median length of the episodes
  that ended, in sessions (0: fixed at the close it was found). Episodes still open at the end are counted
  apart. The first session (all cash until it is invested at its close) is measured after trading.
* **Trading** counts only the policy's own rebalances (not the initial investment, not cash-flow trades):
  rebalances, orders, average order size, and turnover = sum of |traded value| / 2 / equity that day, per
  year. **Costs** count every trade (spread + impact + commission), in dollars and in basis points per year
  of average equity.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from bot.backtest.engine import PolicyRun, TradeKind
from strategies.bands import BandPolicy
from strategies.simulation.path import breach_episodes
from strategies.targets import TargetAllocation

TRADING_DAYS = 252


@dataclass(frozen=True)
class Metrics:
    policy: str
    description: str
    start: str
    end: str
    final_equity: float
    net_flows: float
    cagr: float
    volatility: float
    max_drawdown: float
    sharpe: float
    tracking_error: float
    mean_drift: float
    max_drift: float
    days_outside: int
    share_outside: float
    cycle_speed: float | None
    open_breaches: int
    checks: int
    rebalances: int
    orders: int
    avg_trade: float
    turnover: float
    costs: float
    cost_bps: float
    spread_cost: float
    impact_cost: float
    commission: float
    dividends: float
    clipped_orders: int
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def target_vector(targets: TargetAllocation, symbols: tuple[str, ...]) -> np.ndarray:
    return np.array([float(targets.weight(s)) for s in symbols])


def band_widths(bands: BandPolicy, targets: TargetAllocation, symbols: tuple[str, ...]) -> np.ndarray:
    """Each symbol's effective band half-width (weight units), from ``strategies.bands``."""
    return np.array([float(bands.band_for(s).width(targets.weight(s))) for s in symbols])


def benchmark_returns(run: PolicyRun) -> np.ndarray:
    """Daily returns of the target held exactly every session at no cost (cash earns nothing)."""
    return run.history.total_returns() @ target_vector(run.targets, run.history.symbols)


def policy_returns(run: PolicyRun) -> np.ndarray:
    """Time-weighted daily returns (sessions-1), flows at the close excluded."""
    equity = run.equity
    return (equity[1:] - run.flows[1:]) / equity[:-1] - 1.0


def compute_metrics(run: PolicyRun, reference_bands: BandPolicy, risk_free: float = 0.0) -> Metrics:
    days = run.history.days
    equity = run.equity
    returns = policy_returns(run)
    wealth = np.concatenate([[1.0], np.cumprod(1.0 + returns)])
    years = max((days[-1] - days[0]).days / 365.25, 1e-9)
    cagr = wealth[-1] ** (1.0 / years) - 1.0
    volatility = float(np.std(returns, ddof=1) * np.sqrt(TRADING_DAYS)) if returns.size > 1 else 0.0
    excess = returns - ((1.0 + risk_free) ** (1.0 / TRADING_DAYS) - 1.0)
    sharpe = float(np.mean(excess) * TRADING_DAYS / volatility) if volatility > 0 else float("nan")
    drawdown = float(np.min(wealth / np.maximum.accumulate(wealth) - 1.0))
    difference = returns - benchmark_returns(run)
    tracking = float(np.std(difference, ddof=1) * np.sqrt(TRADING_DAYS)) if difference.size > 1 else 0.0

    symbols = run.history.symbols
    target = target_vector(run.targets, symbols)
    widths = band_widths(reference_bands, run.targets, symbols)
    post_weights = run.weights(pre=False)
    pre_weights = run.weights(pre=True)
    pre_weights[0] = post_weights[0]  # the first session starts in cash and is invested at its close
    pre_drift = np.abs(pre_weights - target)
    post_drift = np.abs(post_weights - target)
    session_drift = pre_drift.max(axis=1)
    pre_outside = (pre_drift > widths).any(axis=1)
    post_outside = (post_drift > widths).any(axis=1)
    lengths, still_open = breach_episodes(pre_outside, post_outside)

    rebalance_trades = [t for t in run.trades if t.kind is TradeKind.REBALANCE]
    traded = np.zeros(len(days))
    for trade in rebalance_trades:
        traded[trade.day_index] += abs(trade.notional)
    turnover = float((traded / 2 / run.pre_equity).sum() / years)
    total_cost = float(run.costs.sum())
    avg_equity = float(np.mean(equity))
    return Metrics(
        policy=run.name,
        description=run.policy.description,
        start=days[0].isoformat(),
        end=days[-1].isoformat(),
        final_equity=float(equity[-1]),
        net_flows=float(run.flows.sum()),
        cagr=float(cagr),
        volatility=volatility,
        max_drawdown=drawdown,
        sharpe=sharpe,
        tracking_error=tracking,
        mean_drift=float(session_drift.mean()),
        max_drift=float(session_drift.max()),
        days_outside=int(pre_outside.sum()),
        share_outside=float(pre_outside.mean()),
        cycle_speed=float(np.median(lengths)) if lengths else None,
        open_breaches=still_open,
        checks=run.checks,
        rebalances=len(run.rebalance_days),
        orders=len(rebalance_trades),
        avg_trade=float(np.mean([abs(t.notional) for t in rebalance_trades])) if rebalance_trades else 0.0,
        turnover=turnover,
        costs=total_cost,
        cost_bps=total_cost / avg_equity / years * 10_000,
        spread_cost=float(sum(t.spread_cost for t in run.trades)),
        impact_cost=float(sum(t.impact_cost for t in run.trades)),
        commission=float(sum(t.commission for t in run.trades)),
        dividends=float(run.dividends.sum()),
        clipped_orders=sum(1 for t in run.trades if t.clipped),
        seconds=run.elapsed,
    )
