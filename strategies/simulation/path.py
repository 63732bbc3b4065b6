"""A fast simulation of rebalancing policies in weight space, for calibration and evaluation at scale.

The backtester (``bot/backtest``) replays the live bot's own planner in ``Decimal`` on real prices, about a
second per policy and path: right for one report, far too slow for what the objective needs, a risk
aversion fitted on a rolling window every quarter, and an evaluation over hundreds of resampled histories.
This module simulates the same decisions on weights (fractions of equity, floats), many portfolios at once:

* each session, every asset's weight moves with its daily total return (cash earns nothing, as in the
  backtester's benchmark), and the session's portfolio return is recorded;
* on a policy's check sessions the policy returns the weights it wants; what it trades pays the paper
  broker's cost model (half-spread plus square-root impact, ``strategies.costs``) out of equity;
* a batch of portfolios runs side by side (one per risk aversion of a sweep, or per band width), sharing
  the path and the risk forecasts.

Metrics are the backtester's (``bot/backtest/metrics.py``): tracking error against the target held exactly
every session at no cost, turnover as half the traded value over equity per year, costs per year.
``tests/strategies/simulation`` checks them against the backtester on real history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from strategies.objective.risk import TRADING_DAYS, RiskModel


@dataclass(frozen=True)
class SimCosts:
    """What trading costs in the simulation, per asset, as fractions of equity traded."""

    half_spread: np.ndarray
    impact: np.ndarray
    """``k_i``: impact cost of trading ``z`` (fraction of equity) is ``k_i * |z| ** 1.5``."""
    cash_buffer: float = 0.005
    """Cash the policies keep (the planner's ``cash_buffer``)."""
    min_trade: float = 0.0
    """Trades smaller than this fraction of the *starting* equity are not made (the planner's
    ``min_trade_notional`` over the account's size; as the account grows the same dollars are a smaller
    fraction, as in the planner)."""

    @classmethod
    def spread_only(cls, half_spread: Sequence[float], cash_buffer: float = 0.005) -> SimCosts:
        h = np.asarray(half_spread, dtype=float)
        return cls(h, np.zeros_like(h), cash_buffer)

    def initial(self, targets: np.ndarray) -> np.ndarray:
        """Weights of the first investment, as the planner buys them from cash: the targets, scaled down
        pro rata when they would spend the cash buffer."""
        invested = float(targets.sum())
        return targets * min(1.0, (1.0 - self.cash_buffer) / invested) if invested > 0 else targets.copy()

    def of(self, trades: np.ndarray) -> np.ndarray:
        """Cost of each row of ``trades`` (portfolios x assets), as a fraction of equity."""
        size = np.abs(trades)
        return size @ self.half_spread + size**1.5 @ self.impact


def impact_coefficients(
    equity: float, sigma_daily: np.ndarray, adv_dollars: np.ndarray, coefficient: float
) -> np.ndarray:
    """``k_i`` of the square-root law for an account of ``equity`` dollars: trading a fraction ``z`` of
    equity is ``z * equity / adv`` of a day's volume and costs ``coefficient * sigma * sqrt(that)`` of its
    notional, i.e. ``k * z ** 1.5`` of equity. Assets without volume get no impact (as in the broker)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        k = coefficient * sigma_daily * np.sqrt(equity / adv_dollars)
    return np.where(adv_dollars > 0, k, 0.0)


@dataclass(eq=False)
class SimContext:
    """What a policy may look at when it decides at session ``t``: the path up to and including ``t``
    (never later), the targets, the costs and the (cached) risk forecast."""

    returns: np.ndarray
    """Daily total returns, sessions x assets; row ``t`` is the return into the close of session ``t``."""
    targets: np.ndarray
    costs: SimCosts
    risk: RiskModel = field(default_factory=RiskModel)
    _cache: dict[int, np.ndarray | None] = field(default_factory=dict)

    @property
    def cash_target(self) -> float:
        return 1.0 - float(self.targets.sum())

    def covariance(self, t: int) -> np.ndarray | None:
        """The risk model's scaled forecast at the close of ``t`` (from returns up to ``t``), cached."""
        if t not in self._cache:
            raw = self.risk.covariance(self.returns[max(0, t + 1 - self.risk.window) : t + 1])
            self._cache[t] = None if raw is None else self.risk.scaled(raw, self.targets)
            self._cache.pop(t - 2, None)  # a path is walked forwards: keep the cache small
        return self._cache[t]


class WeightPolicy(Protocol):
    """A batch of ``size`` portfolios run under one rule (e.g. one per risk aversion)."""

    @property
    def size(self) -> int: ...

    def checks(self, sessions: int) -> np.ndarray:
        """Boolean mask: on which sessions the policy looks."""
        ...

    def decide(self, t: int, weights: np.ndarray, cash: np.ndarray, context: SimContext) -> np.ndarray:
        """Post-trade weights (portfolios x assets, in today's equity) for the rows given."""
        ...


@dataclass(frozen=True)
class Outcome:
    """One simulated portfolio's result over the scored sessions."""

    tracking_error: float
    """Annualised stdev of the daily return difference against the target held exactly, at no cost."""
    turnover: float
    """Half the traded value over equity, per year."""
    cost: float
    """Trading costs as a fraction of equity, per year."""
    trade_sessions: int
    years: float
    cycle_speed: float | None = None
    """Median sessions from a session found outside the reference bands to the first back inside (None:
    no reference bands given, or no episode ended)."""

    @property
    def cost_bps(self) -> float:
        return self.cost * 10_000

    @property
    def burden(self) -> float:
        """Turnover plus cost per year: the trading side of the trade-off, one number."""
        return self.turnover + self.cost

    def dominates(self, other: Outcome) -> bool:
        """Lower tracking error AND lower turnover-plus-cost than ``other``."""
        return self.tracking_error < other.tracking_error and self.burden < other.burden


def simulate(
    policy: WeightPolicy,
    returns: np.ndarray,
    targets: np.ndarray,
    costs: SimCosts,
    start: int,
    end: int | None = None,
    risk: RiskModel | None = None,
    context: SimContext | None = None,
    score_from: int | None = None,
    reference_widths: np.ndarray | None = None,
) -> list[Outcome]:
    """Invest at target at the close of ``start`` (keeping the cash buffer: :meth:`SimCosts.initial`), then
    run ``policy`` to the close of ``end`` (the last session by default). Returns one :class:`Outcome` per
    portfolio of the batch, measured over the sessions after ``score_from`` (default ``start``: all of
    them). With ``reference_widths`` (band half-widths per asset, as the backtester's reference bands) each
    outcome also has its cycle speed.

    A shared ``context`` lets several policies reuse one path's risk forecasts.
    """
    returns = np.asarray(returns, dtype=float)
    end = returns.shape[0] - 1 if end is None else end
    if not 0 <= start < end < returns.shape[0]:
        raise ValueError(f"need 0 <= start < end < sessions, got {start}, {end}, {returns.shape[0]}")
    context = context or SimContext(returns, targets, costs, risk or RiskModel())
    n_rows = policy.size
    weights = np.tile(costs.initial(targets), (n_rows, 1))
    cash = 1.0 - weights.sum(axis=1)
    wealth = np.ones(n_rows)  # equity against the start's, for ``min_trade``
    checks = policy.checks(returns.shape[0]).tolist()
    growth = 1.0 + returns  # once for the path, not per session
    score_from = start if score_from is None else score_from
    active = np.empty((n_rows, end - start))
    traded = np.zeros(n_rows)
    paid = np.zeros(n_rows)
    trade_sessions = np.zeros(n_rows, dtype=int)
    outside = np.zeros((2, n_rows, end - start), dtype=bool)  # before and after each session's trades
    for step, t in enumerate(range(start + 1, end + 1)):
        values = weights * growth[t]
        equity = values.sum(axis=1) + cash
        weights, cash = values / equity[:, None], cash / equity
        wealth = wealth * equity
        if reference_widths is not None:
            outside[0, :, step] = (np.abs(weights - targets) > reference_widths).any(axis=1)
        if checks[t]:
            wanted = policy.decide(t, weights, cash, context)
            trades = wanted - weights
            if costs.min_trade > 0:  # the planner skips orders below min_trade_notional
                trades = np.where(np.abs(trades) < costs.min_trade / wealth[:, None], 0.0, trades)
                wanted = weights + trades
            size = np.abs(trades).sum(axis=1)
            moved = size > 0
            if moved.any():
                cost = costs.of(trades)
                remaining = 1.0 - cost
                cash = (1.0 - wanted.sum(axis=1) - cost) / remaining
                weights = wanted / remaining[:, None]
                equity = equity * remaining
                wealth = wealth * remaining
                if t > score_from:
                    traded += size / 2.0
                    paid += cost
                    trade_sessions += moved
        active[:, step] = equity - 1.0 - returns[t] @ targets
        if reference_widths is not None:
            outside[1, :, step] = (np.abs(weights - targets) > reference_widths).any(axis=1)
    active = active[:, score_from - start :]
    years = (end - score_from) / TRADING_DAYS
    te = active.std(axis=1, ddof=1) * np.sqrt(TRADING_DAYS)
    speeds = (
        [
            _cycle_speed(outside[0, i, score_from - start :], outside[1, i, score_from - start :])
            for i in range(n_rows)
        ]
        if reference_widths is not None
        else [None] * n_rows
    )
    return [
        Outcome(
            float(te[i]),
            float(traded[i] / years),
            float(paid[i] / years),
            int(trade_sessions[i]),
            years,
            speeds[i],
        )
        for i in range(n_rows)
    ]


def _cycle_speed(pre: np.ndarray, post: np.ndarray) -> float | None:
    lengths, _ = breach_episodes(pre, post)
    return float(np.median(lengths)) if lengths else None


def breach_episodes(pre_outside: np.ndarray, post_outside: np.ndarray) -> tuple[list[int], int]:
    """Lengths (sessions) of breach episodes that ended, and how many were still open at the end.

    An episode starts on the first session found outside (before trading) and ends on the first session
    that closes inside (after trading, or because prices moved back); 0 means fixed at the close it was
    found. Shared by the backtester's metrics and the weight-space simulation.
    """
    lengths: list[int] = []
    begun: int | None = None
    # only sessions where something changes need a look: found outside, or closed inside
    for k in np.flatnonzero(pre_outside | ~post_outside):
        if begun is None and pre_outside[k]:
            begun = int(k)
        if begun is not None and not post_outside[k]:
            lengths.append(int(k) - begun)
            begun = None
    return lengths, int(begun is not None)
