"""The single-account objective's risk term, linearised for the household MILP (issue 14, item 1).

The household prices its drift by the quantity the single-account decision minimises
(:mod:`strategies.objective.problem`), in dollars of the household's equity ``E``::

    E * gamma * d' S d  +  rho * max(cash - cash_goal, 0)

``d``: aggregate post-trade weights minus targets (every account together; cash is the rest and has no
risk); ``S``: the :class:`strategies.objective.risk.RiskModel` forecast, scaled exactly as for a single
account (``RiskModel.scaled``); ``gamma``: the risk aversion fitted to the same ``policy`` tracking knob
(:mod:`strategies.household.objective`); ``rho``: the idle-cash drag, which keeps a risk-only objective from
selling an overweight fund into riskless cash (the reason ``problem.py`` prices it).

**Linearisation.** HiGHS takes no quadratic objective, so ``d' S d`` is replaced by an *outer approximation
with tangent lines on whitened factors*. With ``S = V diag(l) V'`` (``eigh``: robust where a Cholesky
factor fails on a rank-deficient forecast, and the shape exponent already works on the eigenvalues), the
factors ``f = diag(sqrt(l)) V' d`` make the variance separable, ``d' S d = sum_k f_k^2``, and each ``f_k^2``
is the maximum of its tangents ``2 a f_k - a^2`` at breakpoints ``a``. One epigraph variable per factor sits
above its tangents; since the term is convex and minimised, this is exact in the LP sense (no binaries).

Breakpoints per factor: ``2K + 1`` evenly spaced on ``[-R_k, R_k]`` with ``R_k = max(|f0_k|, |f0| / sqrt(n),
f(1% of equity along the factor))`` (``f0``: the factors of doing nothing; the last floor keeps a household at
target paying for any drift), plus ``f0_k`` itself. So:

* the model is **exact at "no trade" and at target** (both are tangent points), and it never overstates risk;
* its **slope at "no trade" is the exact one** (a tangent point is interior to its tangent's piece), so the
  first-order test "does any trade pay?" is the single-account objective's own: the household waits exactly
  when the single-account objective would, given the same costs;
* elsewhere it understates a factor's variance by at most ``(h/2)^2``, ``h = R_k / K``: summed over the
  factors at most ``2 |f0|^2 / (4 K^2)`` of the drift's variance now (K = 12: 0.35%), plus the same share
  of a 1%-of-equity drift's along factors that drifted less than that;
* the optimum of a piecewise-linear term sits on a kink, so where trading stops along a factor can be off
  from the quadratic's by up to ``h / 2``: 1/(2K) of the drift along that factor (K = 12: about 4%). That is
  the tolerance between household and single-account trade sizes.

Per-asset penalties weighted by marginal risk contributions (``2 gamma S d0``) were the other candidate: one
linear term per asset, but linear in the trade, so it trades all the way to target or not at all and has
no no-trade region beyond the spread; the tangents keep the quadratic's shape at ``n (2K + 1)`` rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from strategies.objective.problem import idle_cash_goal

BREAKPOINTS = 12
"""``K``: tangents per side of each factor (see the module docstring for the error it buys)."""
MIN_REACH = 0.01
"""Tangents reach at least a 1% of equity deviation along every factor (see :func:`breakpoints`)."""
MIN_EIGENVALUE = 1e-12
"""Relative to the largest: factors with less variance than this carry no risk worth a row."""


@dataclass(frozen=True, eq=False)
class HouseholdRisk:
    """The risk term's inputs, all from the single-account objective's model."""

    symbols: tuple[str, ...]
    """Order of ``covariance``'s rows; must cover every symbol of the household."""
    covariance: np.ndarray
    """Annualised forecast covariance, already scaled as ``RiskModel.scaled`` says."""
    gamma: float
    cash_drag: float = 0.0
    """``rho``: cost of each dollar of idle cash kept above its goal."""
    breakpoints: int = BREAKPOINTS
    note: str = ""
    """Where ``gamma`` came from (the fit), for the plan's explanation."""

    def __post_init__(self) -> None:
        n = len(self.symbols)
        if self.covariance.shape != (n, n):
            shape = self.covariance.shape
            raise ValueError(f"risk covariance is {shape}, expected {n} x {n} for the symbols")
        if not self.gamma > 0 or self.cash_drag < 0 or self.breakpoints < 1:
            raise ValueError("risk gamma must be > 0, cash_drag >= 0 and breakpoints >= 1")

    def cost(self, deviation: np.ndarray) -> float:
        """``gamma * d' S d``: the exact risk cost of a deviation from target (fractions of equity)."""
        return float(self.gamma * deviation @ self.covariance @ deviation)


class _Model(Protocol):
    """The optimizer's model under construction (``optimizer._Model``): columns and rows."""

    def var(self, cost: float, ub: float, *, lb: float = 0.0, integer: bool = False) -> int: ...

    def row(self, terms: Sequence[tuple[int, float]], lo: float, hi: float, name: str) -> int: ...


@dataclass
class RiskColumns:
    """Where the risk term sits in the model, to read it back."""

    epigraphs: list[int] = field(default_factory=list)
    idle: int | None = None
    cash_drag: float = 0.0


def cash_goal(target_cash: float, reserves: float, equity: float) -> float:
    """Dollars of cash above which cash is idle: the single account's rule
    (:func:`strategies.objective.problem.idle_cash_goal`) with the accounts' reserves as the buffer."""
    return max(idle_cash_goal(target_cash, 0.0) * equity, reserves)


def factors(covariance: np.ndarray) -> np.ndarray:
    """``W`` with ``d' S d = |W d|^2``: rows ``sqrt(l_k) v_k'`` of the eigen-directions with variance."""
    values, vectors = np.linalg.eigh((covariance + covariance.T) / 2.0)
    keep = values > MIN_EIGENVALUE * max(float(values.max(initial=0.0)), 1e-300)
    return (vectors[:, keep] * np.sqrt(values[keep])).T


def breakpoints(now: np.ndarray, unit: np.ndarray, k: int) -> list[np.ndarray]:
    """Tangent points per factor: ``2k + 1`` on ``[-R, R]`` and the factor's value now (see the docstring).

    ``unit[k]``: the factor's value for a deviation of ``MIN_REACH`` of equity along its own direction, a
    floor on ``R``: a household at target (``f0 = 0``) must still pay for drifting away, or a location credit
    would buy drift for free."""
    floor = float(np.linalg.norm(now)) / math.sqrt(max(len(now), 1))
    out = []
    for value, least in zip(now, unit, strict=True):
        reach = max(abs(float(value)), floor, float(least))
        grid = np.linspace(-reach, reach, 2 * k + 1)
        grid[k] = 0.0  # exactly: linspace leaves ~1e-16 R there, a tangent HiGHS flags as noise
        out.append(np.unique(np.append(grid, float(value))))
    return out


def add_risk_term(
    m: _Model,
    risk: HouseholdRisk,
    *,
    symbols: Sequence[str],
    targets: Mapping[str, float],
    value_terms: Mapping[str, Sequence[tuple[int, float]]],
    start_value: Mapping[str, float],
    cash_terms: Sequence[tuple[int, float]],
    cash_start: float,
    cash_goal: float,
    equity: float,
) -> RiskColumns:
    """Add the linearised risk term and the idle-cash term to ``m`` (the optimizer's ``_Model``).

    ``value_terms[s]``: columns whose sum is the change of symbol ``s``'s value (dollars); ``cash_terms``
    the same for the household's cash. New columns, all in dollars: ``D_s`` (value minus target value),
    ``F_k`` (whitened factor), ``r_k`` (risk dollars of factor ``k``) and the idle cash.
    """
    missing = [s for s in symbols if s not in risk.symbols]
    if missing:
        raise ValueError(f"the risk model has no forecast for {', '.join(missing)}")
    index = [risk.symbols.index(s) for s in symbols]
    weights = factors(risk.covariance[np.ix_(index, index)])
    deviation_cols = []
    now = np.zeros(len(symbols))
    for i, s in enumerate(symbols):
        target_value = targets.get(s, 0.0) * equity
        col = m.var(0.0, math.inf, lb=-math.inf)
        deviation_cols.append(col)
        gap = start_value[s] - target_value
        now[i] = gap if abs(gap) > 1e-9 * equity else 0.0  # not 2e-33 off target: a bound HiGHS flags
        terms = [(c, -v) for c, v in value_terms[s]]
        m.row([(col, 1.0), *terms], now[i], now[i], f"deviation {s}")
    scale = risk.gamma / equity  # dollars of risk per dollar^2 of whitened deviation
    columns = RiskColumns(cash_drag=risk.cash_drag)
    unit = np.linalg.norm(weights, axis=1) * MIN_REACH * equity
    for row, points in zip(weights, breakpoints(weights @ now, unit, risk.breakpoints), strict=True):
        factor = m.var(0.0, math.inf, lb=-math.inf)
        terms = [(c, -float(w)) for c, w in zip(deviation_cols, row, strict=True)]
        m.row([(factor, 1.0), *terms], 0.0, 0.0, "risk factor")
        epigraph = m.var(1.0, math.inf)
        columns.epigraphs.append(epigraph)
        for a in points:  # r >= scale * (2 a F - a^2)
            m.row([(epigraph, 1.0), (factor, -2.0 * scale * a)], -scale * a * a, math.inf, "risk tangent")
    if risk.cash_drag > 0:
        idle = m.var(risk.cash_drag, math.inf)
        columns.idle = idle
        terms = [(c, -v) for c, v in cash_terms]
        m.row([(idle, 1.0), *terms], cash_start - cash_goal, math.inf, "idle cash")
    return columns


def linearised_cost(columns: RiskColumns, x: np.ndarray) -> float:
    """The model's value of the risk and idle-cash terms at a solution (dollars)."""
    risk = float(sum(x[c] for c in columns.epigraphs))
    idle = float(x[columns.idle]) * columns.cash_drag if columns.idle is not None else 0.0
    return risk + idle
