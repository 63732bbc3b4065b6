"""The rebalancing decision as one convex problem: tracking risk kept against the cost and tax of trading.

Each decision chooses post-trade asset weights ``x`` (cash is what is left) minimising::

    gamma * (x - w*)' S (x - w*)                 risk cost of the drift kept (S: forecast covariance, scaled)
  + sum_i h_i |x_i - w_i|                        half-spread of every trade
  + sum_i k_i |x_i - w_i| ** 1.5                 square-root market impact (k from sigma, ADV, equity)
  + sum_i tax_i * max(w_i - x_i, 0)              estimated tax of a sale, per unit sold
  + rho * max(1 - sum(x) - cash_goal, 0)          idle cash: return forgone on cash above its goal

subject to ``x >= 0`` (no shorts), cash ``1 - sum(x) >= cash_min`` and ``x_i = w_i`` for assets that may
not trade now (open orders, no quote). ``w`` are today's weights and ``w*`` the targets, as fractions of
equity. Everything the bot used to decide with separate rules follows from this one quantity: whether to
trade at all (the no-trade region is where no trade lowers it), which assets, and how far (the optimum sits
on the edge of the region under linear cost, part-way in from it when impact grows with size).

Cash is priced apart because tracking variance alone cannot see what it costs: cash has no variance, so to
the risk term cash held instead of a low-volatility bond fund is nearly free, and an objective without the
cash term sells an overweight stock fund into cash and leaves the bonds underweight (60/40 drifted to 10%
idle cash that way). Idle cash forgoes the portfolio's expected return over the horizon; ``rho`` prices it
(default 2% of the idle amount, about a year of a balanced portfolio's premium over cash), far above a
spread, so proceeds and deposits are invested unless the trade is too small to place.

Solved with Clarabel (an interior-point solver for QPs and cone programs, the one cvxpy uses by default for
such problems). The problem is small and always of this form, so it is assembled here directly in
Clarabel's standard form: cvxpy's per-solve canonicalisation costs ~2 ms against Clarabel's ~0.2 ms, and a
walk-forward evaluation makes hundreds of thousands of decisions. ``tests/strategies/objective`` checks the
assembly against the same model written in cvxpy.

Before solving, :func:`waits` tests the optimality conditions of "no trade" exactly (the subgradient of
the cost at zero trade against the risk gradient): most sessions end there, without a solve. A simulated
sweep of risk aversions tests every row at once (:func:`waits_many`) and solves the rest with
:func:`trade_many`, which hands Clarabel the very numbers :func:`decide` would, assembled once per session.

One solver is kept per problem shape and later solves only update its data. Clarabel scales updated data
with the equilibration of the *first* problem the solver was built with, so an answer can differ, within
the solver's tolerance, with what the process solved first; an evaluation that must reproduce exactly
starts from no solvers (``_layout.cache_clear()``).
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field

import clarabel
import numpy as np
import scipy.sparse as sp

from strategies.bands import DEFAULT_BAND

DEFAULT_CASH_DRAG = 0.02
"""``rho``: a unit of idle cash costs 2% of itself (see the module docstring)."""
OBJECTIVE_SCALE = 10_000.0
"""The solver sees the objective in basis points of equity: in fractions its values (1e-5) sit near the
solver's absolute tolerances, and optima came out a few 1e-6 of weight off."""
TRADE_EPSILON = 1e-9
"""Weight changes smaller than this (0.0000001 pp of equity) are solver noise, not trades."""


@dataclass(frozen=True)
class DecisionInputs:
    """One decision's numbers, all as fractions of equity (``n`` assets; cash is implicit)."""

    weights: np.ndarray
    """Today's weights ``w``, after open orders."""
    targets: np.ndarray
    """Target weights ``w*`` (cash's target is ``1 - sum``)."""
    covariance: np.ndarray
    """Annualised forecast covariance of the assets' returns, already scaled as the risk model says."""
    half_spread: np.ndarray
    """Cost of trading one unit of equity, either way: half the bid-ask spread (fraction)."""
    impact: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """``k_i``: impact cost of trading ``z`` is ``k_i * |z| ** 1.5``; empty or zeros: none."""
    sell_tax: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Tax of selling one unit of equity of the asset (fraction, >= 0); empty: none."""
    cash_min: float = 0.0
    """Cash may not end below this (the buffer, or today's cash if that is already lower)."""
    frozen: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    """Assets that may not trade now; empty: none."""
    cash_goal: float = 1.0
    """Cash above this is idle (the cash target, or the buffer when that is higher)."""
    cash_drag: float = 0.0
    """``rho``: cost of each unit of idle cash kept (fraction of it)."""

    @property
    def n(self) -> int:
        return int(self.weights.shape[0])

    def vector(self, name: str) -> np.ndarray:
        """An optional per-asset vector, zeros (or False) when not given."""
        value = getattr(self, name)
        if value.shape[0] == self.n:
            return value
        return np.zeros(self.n, dtype=bool) if name == "frozen" else np.zeros(self.n)


@dataclass(frozen=True)
class Decision:
    """The chosen weights and the numbers behind them (fractions of equity; risk in objective units)."""

    weights: np.ndarray
    """Post-trade asset weights ``x``."""
    trades: np.ndarray
    """``x - w``: positive buys, negative sells."""
    risk_before: float
    risk_after: float
    trading_cost: float
    """Spread plus impact of the trades."""
    tax: float
    idle_before: float
    """Cost of the idle cash before and after (``rho`` times cash above its goal)."""
    idle_after: float
    solved: bool
    """False when the no-trade test settled it (no solve needed)."""
    failure: str | None = None
    """Why the solver gave no answer (the decision then waits); None when it did."""

    @property
    def trades_anything(self) -> bool:
        return bool(np.any(np.abs(self.trades) > TRADE_EPSILON))

    @property
    def benefit(self) -> float:
        """Risk cost removed minus what it costs: positive for every trade the objective makes."""
        return (
            self.risk_before
            + self.idle_before
            - self.risk_after
            - self.idle_after
            - self.trading_cost
            - self.tax
        )


def idle_cash_goal(cash_target: float, buffer: float) -> float:
    """Cash above this share of equity is idle and pays the drag.

    Without a cash target, cash above the buffer is idle: deposits, dividends and sale proceeds are to be
    invested. A cash *sleeve* is a target like any other and drifts with the market like any other: when
    stocks fall, a 10% cash sleeve becomes 11% without anyone adding cash. The drag is far dearer than a
    spread, so pricing that drift as idle left the sleeve no room at all; the objective invested every
    small excess the day it appeared and sold again to refill the sleeve as markets rose, a round trip the
    risk term would not have asked for (on the library's cash mixes, 1.5-1.9 times a band's
    turnover-plus-cost at equal tracking error). Within the default band of its target the sleeve's drift
    is left to the risk term, as every other sleeve's; beyond it, the excess is idle."""
    absolute, relative = float(DEFAULT_BAND.absolute), float(DEFAULT_BAND.relative)
    room = min(absolute, relative * cash_target) if cash_target > 0 else 0.0
    return max(cash_target + room, buffer)


def risk_cost(deviation: np.ndarray, covariance: np.ndarray, gamma: float) -> float:
    """``gamma * d' S d``: the risk cost of holding ``deviation`` from target."""
    return float(gamma * deviation @ covariance @ deviation)


def idle_cost(weights: np.ndarray, inputs: DecisionInputs) -> float:
    """``rho * max(cash - cash_goal, 0)`` for asset weights ``weights``."""
    return inputs.cash_drag * max(1.0 - float(weights.sum()) - inputs.cash_goal, 0.0)


def trade_costs(trades: np.ndarray, inputs: DecisionInputs) -> tuple[float, float]:
    """(spread + impact, tax) of ``trades`` under the model."""
    size = np.abs(trades)
    cost = float(inputs.half_spread @ size + inputs.vector("impact") @ size**1.5)
    tax = float(inputs.vector("sell_tax") @ np.maximum(-trades, 0.0))
    return cost, tax


def waits(inputs: DecisionInputs, gamma: float) -> bool:
    """True when trading nothing is optimal for ``inputs`` (see :func:`waits_many`)."""
    cash = np.array([1.0 - float(inputs.weights.sum())])
    return bool(
        waits_many(
            inputs.weights[None, :],
            cash,
            np.array([gamma]),
            inputs.targets,
            inputs.covariance,
            inputs.half_spread,
            inputs.vector("sell_tax"),
            np.array([inputs.cash_min]),
            inputs.vector("frozen"),
            inputs.cash_goal,
            inputs.cash_drag,
        )[0]
    )


def waits_many(
    weights: np.ndarray,
    cash: np.ndarray,
    gammas: np.ndarray,
    targets: np.ndarray,
    covariance: np.ndarray,
    half_spread: np.ndarray,
    sell_tax: np.ndarray,
    cash_min: np.ndarray,
    frozen: np.ndarray,
    cash_goal: float = 1.0,
    cash_drag: float = 0.0,
) -> np.ndarray:
    """For each row of ``weights`` (portfolios x assets, each with its own ``gamma``, ``cash`` and
    ``cash_min``): is trading nothing optimal? The exact first-order conditions of the problem at ``x = w``.

    With ``g = 2 gamma S (w - w*)`` the marginal risk cost of each asset, no trade is optimal when some
    ``nu >= 0`` (the price of cash, non-zero only when cash sits at ``cash_min``) puts every tradable
    asset's ``g_i + nu`` inside ``[-h_i, h_i + tax_i]`` (buying or selling a little costs more than it
    saves), where an asset not held only needs ``g_i + nu >= -h_i`` (it cannot be sold). Idle cash shifts
    every ``g_i`` by ``-rho`` (buying anything puts idle cash to work), by anything in ``[-rho, 0]`` when
    cash sits exactly at its goal. Vectorised so that a simulation tests every risk aversion of a sweep at
    once.
    """
    grad = 2.0 * gammas[:, None] * ((weights - targets) @ covariance)
    lower = np.where(frozen, -np.inf, -half_spread - grad).max(axis=1)
    upper = np.where(frozen | (weights <= TRADE_EPSILON), np.inf, half_spread + sell_tax - grad).min(axis=1)
    # the shift s = nu - theta every asset's gradient takes from the cash floor (nu >= 0 when binding) and the
    # idle-cash term (theta = rho above the goal, anything in [0, rho] at it, 0 below)
    at_floor = cash <= cash_min + TRADE_EPSILON
    above_goal = cash > cash_goal + TRADE_EPSILON
    at_goal = ~above_goal & (cash >= cash_goal - TRADE_EPSILON)
    shift_low = np.where(above_goal | at_goal, -cash_drag, 0.0)
    shift_high = np.where(at_floor, np.inf, np.where(above_goal, -cash_drag, 0.0))
    return np.maximum(lower, shift_low) <= np.minimum(upper, shift_high)


def decide(inputs: DecisionInputs, gamma: float, *, waiting_ruled_out: bool = False) -> Decision:
    """The post-trade weights minimising the objective (today's weights when waiting is optimal).

    ``waiting_ruled_out``: the caller has already run :func:`waits_many` on these inputs and it said no.
    """
    w, targets, cov = inputs.weights, inputs.targets, inputs.covariance
    before, idle = risk_cost(w - targets, cov, gamma), idle_cost(w, inputs)
    if not waiting_ruled_out and waits(inputs, gamma):
        return Decision(w.copy(), np.zeros_like(w), before, before, 0.0, 0.0, idle, idle, solved=False)
    x, status = _solve(inputs, gamma)
    if x is None:  # never trade on an answer the solver does not stand behind
        return Decision(w.copy(), np.zeros_like(w), before, before, 0.0, 0.0, idle, idle, False, status)
    trades = np.where(np.abs(x - w) > TRADE_EPSILON, x - w, 0.0)
    x = w + trades
    cost, tax = trade_costs(trades, inputs)
    after = risk_cost(x - targets, cov, gamma)
    return Decision(x, trades, before, after, cost, tax, idle, idle_cost(x, inputs), solved=True)


# -- Clarabel's standard form: min 1/2 v'Pv + q'v  s.t.  A v + s = b, s in cones ---------------------------


def _solve(inputs: DecisionInputs, gamma: float) -> tuple[np.ndarray | None, str]:
    """The optimum's post-trade weights (None when the solver reports no solution) and its status."""
    layout = _layout_of(inputs)
    solution = layout.solve(
        p=OBJECTIVE_SCALE * gamma * layout.p_entries(inputs.covariance),  # 2 gamma S, symmetrised
        q=OBJECTIVE_SCALE * layout.linear(inputs),
        b=layout.rhs(
            (inputs.weights - inputs.targets)[None, :],
            inputs.targets,
            np.array([inputs.cash_min]),
            inputs.cash_goal,
        )[0],
    )
    status = str(solution.status)
    if status not in ("Solved", "AlmostSolved"):
        return None, f"the solver stopped with {status}"
    return np.asarray(solution.x[: inputs.n]) + inputs.targets, status


def trade_many(
    weights: np.ndarray,
    rows: np.ndarray,
    gammas: np.ndarray,
    inputs: DecisionInputs,
    cash_min: np.ndarray,
) -> np.ndarray:
    """``weights`` with each of ``rows`` replaced by its optimum, as :func:`decide` gives it when
    :func:`waits_many` has ruled waiting out: a sweep of risk aversions (row ``r`` at ``gammas[r]``, cash
    floor ``cash_min[r]``) on one session. ``inputs`` holds what the rows share (its ``weights`` and
    ``cash_min`` are not read). The solver gets exactly the numbers :func:`decide` would give it, assembled
    once for the batch; a row the solver gives no answer for keeps its weights (the decision waits).
    """
    n = weights.shape[1]
    layout = _layout_of(inputs)
    entries = layout.p_entries(inputs.covariance)
    q = OBJECTIVE_SCALE * layout.linear(inputs)
    b = layout.rhs(weights[rows] - inputs.targets, inputs.targets, cash_min[rows], inputs.cash_goal)
    solved = np.zeros(rows.size, dtype=bool)
    x = np.empty((rows.size, n))
    scaled = (OBJECTIVE_SCALE * gammas[rows])[:, None] * entries  # 2 gamma S per row, as decide() has it
    for k in range(rows.size):
        solution = layout.solve(scaled[k], q, b[k])
        if str(solution.status) in ("Solved", "AlmostSolved"):
            solved[k] = True
            x[k] = solution.x[:n]
    done, w = rows[solved], weights[rows[solved]]
    trades = x[solved] + inputs.targets - w
    out = weights.copy()
    out[done] = w + np.where(np.abs(trades) > TRADE_EPSILON, trades, 0.0)
    return out


class _Layout:
    """Standard form of the problem for one shape (assets; which are taxed, have impact, are frozen).

    Variables ``v = [d, u, s, t, y]``: deviation from target, |trade|, amount sold (taxed assets), impact
    epigraph (assets with impact), idle cash. ``A`` depends on the shape alone, so the solver is built once
    per shape and later solves only overwrite ``P``, ``q`` and ``b`` (Clarabel keeps its symbolic
    factorisation; this is most of the speed of a sweep).
    """

    def __init__(self, n: int, taxed: tuple[int, ...], impacted: tuple[int, ...], frozen: tuple[int, ...]):
        self.n, self.taxed, self.impacted, self.frozen = (
            n,
            np.array(taxed, int),
            np.array(impacted, int),
            frozen,
        )
        n_s, n_t, n_f = len(taxed), len(impacted), len(frozen)
        self.size = 2 * n + n_s + n_t + 1
        d, u, s0, t0, y = 0, n, 2 * n, 2 * n + n_s, 2 * n + n_s + n_t
        rows = _Rows()
        assets = np.arange(n)
        rows.add(np.arange(n_f), d + np.array(frozen, int), 1.0)  # zero cone: d_i = e_i (frozen)
        rows.add(assets, d + assets, 1.0, u + assets, -1.0)  # d - u <= e        (u >= z)
        rows.add(assets, d + assets, -1.0, u + assets, -1.0)  # -d - u <= -e     (u >= -z)
        rows.add(assets, d + assets, -1.0)  # -d <= w*                            (x >= 0)
        sold = np.arange(n_s)
        rows.add(sold, d + self.taxed, -1.0, s0 + sold, -1.0)  # -d - s <= -e    (s >= amount sold)
        rows.add(sold, s0 + sold, -1.0)  # s >= 0
        rows.add(np.zeros(n, int), d + assets, 1.0)  # sum d <= 1 - cash_min - sum w*  (cash floor)
        rows.add(np.zeros(n + 1, int), np.append(d + assets, y), -1.0)  # y >= idle cash
        rows.add(np.array([0]), np.array([y]), -1.0)  # y >= 0
        n_nonneg = rows.count - n_f
        for j, i in enumerate(impacted):  # (t, 1, u) in the power cone: t >= |u| ** 1.5
            rows.add(np.array([0, 2]), np.array([t0 + j, u + i]), -1.0, count=3)
        self.a = rows.matrix(self.size)
        self.cones: list = [clarabel.ZeroConeT(n_f)] if n_f else []
        self.cones.append(clarabel.NonnegativeConeT(n_nonneg))
        self.cones += [clarabel.PowerConeT(2.0 / 3.0)] * n_t
        upper_r, upper_c = np.triu_indices(n)
        self.p = sp.csc_matrix((np.ones(upper_r.size), (upper_r, upper_c)), shape=(self.size, self.size))
        nnz = self.p.nnz
        self.p_rows = self.p.indices[:nnz].copy()
        self.p_cols = np.repeat(np.arange(self.size), np.diff(self.p.indptr))
        self.solver: clarabel.DefaultSolver | None = None
        self.q = np.zeros(0)
        """The solver's current ``q``."""
        self.lock = threading.Lock()  # one solver object per shape: accounts deciding in threads take turns

    def p_entries(self, covariance: np.ndarray) -> np.ndarray:
        """``S + S'`` at the entries of ``P`` (times ``OBJECTIVE_SCALE * gamma`` it is the risk term's)."""
        return (covariance + covariance.T)[self.p_rows, self.p_cols]

    def linear(self, inputs: DecisionInputs) -> np.ndarray:
        return np.concatenate(
            [
                np.zeros(self.n),
                inputs.half_spread,
                inputs.vector("sell_tax")[self.taxed] if self.taxed.size else [],
                inputs.vector("impact")[self.impacted] if self.impacted.size else [],
                [inputs.cash_drag],
            ]
        )

    def rhs(self, e: np.ndarray, targets: np.ndarray, cash_min: np.ndarray, cash_goal: float) -> np.ndarray:
        """Right-hand sides, one row per deviation ``e`` (rows x assets) and cash floor ``cash_min``."""
        n, n_f, n_s = self.n, len(self.frozen), self.taxed.size
        total = float(targets.sum())
        b = np.zeros((e.shape[0], self.a.shape[0]))
        b[:, :n_f] = e[:, list(self.frozen)]  # frozen: d_i = e_i
        at = n_f
        b[:, at : at + n] = e  # u >= z
        b[:, at + n : at + 2 * n] = -e  # u >= -z
        b[:, at + 2 * n : at + 3 * n] = targets  # x >= 0
        at += 3 * n
        b[:, at : at + n_s] = -e[:, self.taxed]  # s >= amount sold (then s >= 0: zeros)
        at += 2 * n_s
        b[:, at] = 1.0 - cash_min - total  # cash floor
        b[:, at + 1] = -(1.0 - cash_goal - total)  # y >= idle cash (then y >= 0: zero)
        b[:, at + 3 + 1 :: 3] = 1.0  # power cones (t, 1, u)
        return b

    def solve(self, p: np.ndarray, q: np.ndarray, b: np.ndarray):  # noqa: ANN201 - clarabel.DefaultSolution
        """Solve with ``P``'s entries ``p`` (:meth:`p_entries` scaled), ``q`` and ``b``."""
        with self.lock:
            if self.solver is None:
                self.p.data = p
                self.solver = clarabel.DefaultSolver(self.p, q, self.a, b, self.cones, _SETTINGS)
            elif np.array_equal(q, self.q):  # a sweep's q does not change: only P and b are new
                self.solver.update(P=p, b=b)
            else:
                self.solver.update(P=p, q=q, b=b)
            self.q = q
            return self.solver.solve()


def _layout_of(inputs: DecisionInputs) -> _Layout:
    """The layout (and solver) for the shape of ``inputs``."""
    return _layout(
        inputs.n,
        tuple(np.flatnonzero(inputs.vector("sell_tax") > 0)),
        tuple(np.flatnonzero(inputs.vector("impact") > 0)),
        tuple(np.flatnonzero(inputs.vector("frozen"))),
    )


@functools.lru_cache(maxsize=64)
def _layout(n: int, taxed: tuple, impacted: tuple, frozen: tuple) -> _Layout:
    """One layout (and solver) per problem shape; a bot or a sweep meets only a few shapes."""
    return _Layout(n, taxed, impacted, frozen)


def _settings() -> clarabel.DefaultSettings:
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.presolve_enable = False  # both off, or Clarabel refuses in-place data updates
    settings.input_sparse_dropzeros = False
    return settings


_SETTINGS = _settings()


class _Rows:
    """Constraint rows ``A v + s = b`` collected block by block (right-hand sides come from ``rhs``)."""

    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.count = 0

    def add(
        self,
        rows: np.ndarray,
        cols: np.ndarray,
        value: float,
        cols2: np.ndarray | None = None,
        value2: float = 0.0,
        count: int | None = None,
    ) -> None:
        """Entries ``value`` at (rows, cols), and ``value2`` at (rows, cols2), in new rows numbered from the
        next free one; ``count`` new rows (default: one per distinct entry of ``rows``)."""
        for c, v in ((cols, value), (cols2, value2)):
            if c is not None and c.size:
                self.r.append(rows + self.count)
                self.c.append(c)
                self.v.append(np.full(c.size, v))
        self.count += count if count is not None else (int(rows.max()) + 1 if rows.size else 0)

    def matrix(self, size: int) -> sp.csc_matrix:
        r, c, v = (np.concatenate(x) for x in (self.r, self.c, self.v))
        return sp.csc_matrix((v, (r, c)), shape=(self.count, size))
