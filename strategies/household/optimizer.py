"""One mixed-integer program that chooses the trades of every account of a household together (issue 9).

**Variables** (dollars at the mid price, non-negative):

* ``buy[a, s]`` for each account ``a`` and target symbol ``s`` it may buy (not outside a 401k menu, not a
  wash-sale-blocked symbol, not outside the preferred account types of a *hard* location preference);
* ``sell[a, lot]`` for each lot of a taxable account: tax is then linear, ``rate(term) x gain per dollar``
  of each lot, with the holding term of that lot on the trade date;
* ``sell[a, s]`` for each holding of a tax-advantaged account (no tax);
* impact segments per (account, symbol, side): the square-root impact ``Y sigma sqrt(Q/ADV)`` per dollar is
  increasing in the order size, so its total is convex and a piecewise-linear upper approximation (chords
  at breakpoints ``Nmax (k/K)^2``) is exact in the LP sense: segments fill cheapest first by themselves;
* ``T``, the tax payable (``T >= 0``, ``T >= sum of the lots' signed tax``) unless losses are harvested;
* binaries: one per substantially-identical group that both has loss lots and could be bought (the
  in-plan wash-sale guard), and one per "concave" step of a FIFO lot chain (below).

**Lot relief.** An Alpaca account relieves FIFO, whatever the optimizer would prefer. FIFO is enforced
exactly: within a symbol's lots in relief order, the fraction sold of lot ``k+1`` may not exceed that of lot
``k`` (an LP constraint), and where lot ``k+1`` is *cheaper* to sell than lot ``k`` (the step where an
unconstrained optimizer would skip ahead), a binary ``y`` with ``frac[k+1] <= y <= frac[k]`` forces lot ``k``
to be sold in full before lot ``k+1`` is touched. Where the next lot costs at least as much, minimising cost
already sells in order (also when the tax floor is slack: the signed tax stays in the objective with a small
weight, ``tie_break``), so no binary is needed (this is the incremental formulation of a piecewise-linear
cost, with binaries only at its concave kinks). HIFO and minimum-tax relief use the same chain in their own
order. Accounts whose broker takes a specific-lot instruction (``ReliefMethod.SPECIFIC``) get free per-lot
choice, which is minimum-tax specific identification.

**Constraints**: per-account cash (cash + contribution - withdrawal - RMD + sells - buys - cost >= reserve;
no transfer variable exists, so cash cannot move between accounts); no shorts (a sell variable's upper bound
is the holding); aggregate weights within ``[lo, hi]`` limits from the bands, measured against the
household's equity after cash flows and before costs (costs are basis points; the limits are inset by one
basis point so rounding and cost cannot push a weight out); the in-plan wash-sale guard (a loss lot sold in a
taxable account and a buy of an identical security in any account exclude each other: one binary per group,
one row per loss lot, which relaxes far tighter than a single big-M row); menus, blocked buys
and hard location preferences remove buy variables.

**Objective**: tax (payable, or signed when harvesting) + half-spread + impact + location penalties + an
optional drift penalty, or, under the rebalancing objective, that objective's risk term instead
(:mod:`.risk_term`, with the bands opened by :mod:`.objective`). Without either the plan stops at the band
edges: the least trading that restores the bands. Bands are hard; if they cannot be met,
:class:`HouseholdInfeasible` names the problem (a pre-check of each account's cash, each band's buyers,
then a soft re-solve that reports which bands cannot be reached), unless ``soft_bands`` asks for the
least-violation plan instead.

**Solver**: HiGHS through its own interface (:mod:`.solver`), on a scaled copy of the model, started from a
feasible plan (:mod:`.warm_start`: the previous cycle's, no trade, the LP relaxation put in relief order, or
each account on its own), so a time limit can only return a plan at least as good as that start. The time
policy: exact while ``time_limit`` (2 s) allows, then stop once proven within ``accept_gap`` (1%), never past
``time_cap`` (30 s); the plan's notes and ``optimality_gap`` say which. FIFO-heavy households of 2,000 lots
take seconds, because the LP relaxation of a FIFO chain is only its convex envelope (see BENCHMARKS.md).

The solution is rounded at the boundary to what the broker accepts (:mod:`.orders`: sells in shares up to
9 decimals or whole shares, never more than held; fractional buys to the cent, others in whole shares),
trades under ``min_trade`` are dropped when that keeps every account's cash whole, buys are trimmed if
rounding left an account short, and tax and cost are re-estimated on the rounded trades with the real relief
method (``strategies.tax.lots.relieve``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

import numpy as np
from scipy.sparse import csr_array

from strategies.bands import BandPolicy
from strategies.costs import DEFAULT_IMPACT_COEFFICIENT, half_spread_fraction, impact_fraction
from strategies.household.models import (
    Account,
    Household,
    HouseholdInfeasible,
    HouseholdPlan,
    ObjectiveBreakdown,
    wash_group,
)
from strategies.household.orders import RawTrade, assemble_plan
from strategies.household.risk_term import (
    HouseholdRisk,
    RiskColumns,
    add_risk_term,
    cash_goal,
    linearised_cost,
)
from strategies.household.solver import Outcome, Problem, SolvePolicy
from strategies.household.solver import solve as solve_problem
from strategies.portfolio import Side
from strategies.targets import CASH, ONE, ZERO, TargetAllocation
from strategies.tax.lots import Lot, ReliefMethod, Term, holding_term, relief_order

BAND_EDGE_INSET = Decimal("0.0001")
"""Limits are pulled this far (1 bp of weight) inside each band edge, as the single-account planner does."""
FEASIBILITY_TOL = 1e-6
"""Relative tolerance (of the household's equity) for calling a constraint binding in the float solution."""


@dataclass(frozen=True)
class OptimizerSettings:
    """Knobs of the household optimizer; the defaults are the conservative ones.

    ``harvest_losses``: credit a net loss as negative tax (estimate.py's signed convention) instead of
    flooring the plan's tax at zero; off by default so the optimizer never sells merely to book a loss.
    ``tie_break``: weight of the signed tax inside the floor, so that among zero-tax plans the one realising
    the least gain (the most loss) wins. ``impact_segments``: 0 turns impact off. ``drift_penalty``: dollars
    per dollar of |value - target| (0: stop at the band edges). ``soft_bands``: violate a band at
    ``band_penalty`` per dollar rather than fail. ``min_trade``: drop smaller trades (dollars).
    ``risk``: price the drift with the single-account objective's risk term (:mod:`.risk_term`); None:
    bands alone. ``tax_weight``: share of the tax counted as the plan's cost (the objective's present value
    of paying it now rather than later, ``policy.tax_weight``); 1 with bands alone.
    ``time_limit``, ``accept_gap``, ``time_cap``, ``mip_rel_gap``: the solve's time policy
    (:class:`.solver.SolvePolicy`): exact while ``time_limit`` (seconds) allows, then stop once proven within
    ``accept_gap`` of optimal, never past ``time_cap``.
    """

    harvest_losses: bool = False
    tie_break: float = 1e-3
    impact_segments: int = 3
    impact_coefficient: float = DEFAULT_IMPACT_COEFFICIENT
    drift_penalty: float = 0.0
    soft_bands: bool = False
    band_penalty: float = 1.0
    band_inset: Decimal = BAND_EDGE_INSET
    min_trade: Decimal = Decimal("1")
    time_limit: float = 2.0
    accept_gap: float = 0.01
    time_cap: float = 30.0
    mip_rel_gap: float = 1e-6
    risk: HouseholdRisk | None = None
    tax_weight: float = 1.0


def band_limits(
    targets: TargetAllocation,
    bands: BandPolicy,
    symbols: Iterable[str],
    inset: Decimal = BAND_EDGE_INSET,
) -> dict[str, tuple[Decimal, Decimal]]:
    """``[lo, hi]`` weight limits per symbol (and ``CASH``): target +/- band width, inset, clipped to [0, 1].

    A held symbol that is not targeted has target 0, so its limit is ``[0, width]`` (``[0, 0]`` under a
    relative band: sell it all), exactly as the single-account triggers see it.
    """
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for symbol in [*symbols, CASH]:
        target = targets.weight(symbol)
        width = bands.band_for(symbol).width(target)
        if width <= inset:
            out[symbol] = (max(target - width, ZERO), min(target + width, ONE))
        else:
            out[symbol] = (max(target - width + inset, ZERO), min(target + width - inset, ONE))
    return out


# -- the model ----------------------------------------------------------------------------------------------


@dataclass
class _Model:
    """Sparse MILP under construction: one column per variable, one row per constraint."""

    c: list[float] = field(default_factory=list)
    lb: list[float] = field(default_factory=list)
    ub: list[float] = field(default_factory=list)
    integer: list[int] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    cols: list[int] = field(default_factory=list)
    vals: list[float] = field(default_factory=list)
    row_lo: list[float] = field(default_factory=list)
    row_hi: list[float] = field(default_factory=list)
    row_name: list[str] = field(default_factory=list)

    def var(self, cost: float, ub: float, *, lb: float = 0.0, integer: bool = False) -> int:
        self.c.append(cost)
        self.lb.append(lb)
        self.ub.append(ub)
        self.integer.append(1 if integer else 0)
        return len(self.c) - 1

    def row(self, terms: Iterable[tuple[int, float]], lo: float, hi: float, name: str) -> int:
        index = len(self.row_lo)
        for col, val in terms:
            if val != 0.0:
                self.rows.append(index)
                self.cols.append(col)
                self.vals.append(val)
        self.row_lo.append(lo)
        self.row_hi.append(hi)
        self.row_name.append(name)
        return index

    def matrix(self) -> csr_array:
        return csr_array((self.vals, (self.rows, self.cols)), shape=(len(self.row_lo), len(self.c)))


@dataclass
class _LotVar:
    account: str
    symbol: str
    lot: Lot
    col: int
    tax_per_dollar: float
    loss: bool
    cap: float


@dataclass
class _Built:
    """The model plus the bookkeeping needed to read the solution back."""

    model: _Model
    equity: float
    buys: dict[tuple[str, str], int]
    sells: dict[tuple[str, str], list[int]]
    lot_vars: dict[tuple[str, str], list[_LotVar]]
    impact: dict[tuple[str, str, Side], list[tuple[int, float]]]
    spread: dict[str, float]
    cash_rows: dict[str, int]
    band_rows: dict[str, int]
    band_slack: dict[str, tuple[int, int]]
    drift_vars: list[int]
    location_cost: dict[int, float]
    wash_binaries: dict[str, int]
    fifo_steps: list[tuple[int, int]]
    """(binary, the later lot's column) of every concave step of a relief chain."""
    chains: dict[tuple[str, str], list[_LotVar]]
    tax_var: int | None
    limits: dict[str, tuple[Decimal, Decimal]]
    risk: RiskColumns = field(default_factory=RiskColumns)


def _impact_segments(
    quote_price: float, sigma: float, adv: float, cap: float, segments: int, coefficient: float
) -> list[tuple[float, float]]:
    """(width, cost per dollar) of each chord of ``f(N) = N * Y sigma sqrt(N / (p ADV))`` on [0, cap]."""
    if segments <= 0 or adv <= 0 or sigma <= 0 or cap <= 0:
        return []

    def f(notional: float) -> float:
        return notional * impact_fraction(notional / quote_price, adv, sigma, coefficient)

    points = [cap * (k / segments) ** 2 for k in range(segments + 1)]
    return [(b - a, (f(b) - f(a)) / (b - a)) for a, b in zip(points, points[1:], strict=False) if b > a]


def _build(
    household: Household,
    settings: OptimizerSettings,
    limits: Mapping[str, tuple[Decimal, Decimal]],
    *,
    soft: bool,
    exact_chains: set[tuple[str, str]] | None = None,
) -> _Built:
    """The model; ``exact_chains`` limits the FIFO binaries to those (account, symbol) chains (None: all)."""
    m = _Model()
    quotes = household.quotes
    price = {s: float(q.price) for s, q in quotes.items()}
    spread = {s: half_spread_fraction(q.spread_bps) for s, q in quotes.items()}
    symbols = household.symbols
    start_value = {s: 0.0 for s in symbols}
    cash_start = 0.0
    for account in household.accounts:
        for s, qty in account.positions.items():
            start_value[s] += float(qty) * price[s]
        cash_start += float(account.cash + account.flows.effective_contribution - account.flows.outflow)
    equity = cash_start + sum(start_value.values())
    if equity <= 0:
        raise HouseholdInfeasible(("the household has no equity after this period's withdrawals",))
    buy_cap = {s: float(limits.get(s, (ZERO, ONE))[1]) * equity + 1.0 for s in symbols}

    buys: dict[tuple[str, str], int] = {}
    sells: dict[tuple[str, str], list[int]] = {}
    lot_vars: dict[tuple[str, str], list[_LotVar]] = {}
    impact: dict[tuple[str, str, Side], list[tuple[int, float]]] = {}
    location_cost: dict[int, float] = {}
    cash_terms: dict[str, list[tuple[int, float]]] = {a.id: [] for a in household.accounts}
    value_terms: dict[str, list[tuple[int, float]]] = {s: [] for s in symbols}
    cash_band_terms: list[tuple[int, float]] = []
    tax_terms: list[tuple[int, float]] = []
    fifo_steps: list[tuple[int, int]] = []
    chains: dict[tuple[str, str], list[_LotVar]] = {}
    washed_groups = {wash_group(household, s) for s in household.recent_buy_symbols}

    def location_penalty(account: Account, symbol: str) -> float:
        return sum(
            p.penalty
            for p in household.locations
            if symbol in p.symbols and not p.prefers(account) and not p.hard
        )

    def hard_excluded(account: Account, symbol: str) -> bool:
        return any(p.hard and symbol in p.symbols and not p.prefers(account) for p in household.locations)

    def add_trade_cost(account: Account, symbol: str, side: Side, trade_cols: list[int], cap: float) -> None:
        """Spread on the trade columns, impact segments linked to their sum: both paid from its cash."""
        hs = spread[symbol]
        q = quotes[symbol]
        segs = _impact_segments(
            price[symbol], q.sigma_daily, q.adv, cap, settings.impact_segments, settings.impact_coefficient
        )
        sign = 1.0 if side is Side.SELL else -1.0
        for col in trade_cols:
            m.c[col] += hs
            cash_terms[account.id].append((col, sign - hs))
            cash_band_terms.append((col, sign - hs))
            value_terms[symbol].append((col, -sign))
        if segs:
            cols = []
            for width, slope in segs:
                col = m.var(slope, width)
                cols.append((col, slope))
                cash_terms[account.id].append((col, -slope))
                cash_band_terms.append((col, -slope))
            m.row([*((c, 1.0) for c, _ in cols), *((c, -1.0) for c in trade_cols)], 0.0, 0.0, "impact link")
            impact[(account.id, symbol, side)] = cols

    for account in household.accounts:
        # buys
        for symbol in household.targets.symbols:
            if (
                household.targets.weight(symbol) <= 0
                or not account.may_buy(symbol)
                or symbol in household.blocked_buys
                or hard_excluded(account, symbol)
            ):
                continue
            col = m.var(0.0, buy_cap[symbol])
            pen = location_penalty(account, symbol)
            if pen:
                m.c[col] += pen
                location_cost[col] = pen
            buys[(account.id, symbol)] = col
            add_trade_cost(account, symbol, Side.BUY, [col], buy_cap[symbol])
        # sells
        for symbol, qty in sorted(account.positions.items()):
            held = float(qty) * price[symbol]
            pen = location_penalty(account, symbol)
            if not account.tax_advantaged:
                lots = [lot for lot in account.lots if lot.symbol == symbol]
                ordered = _ordered_lots(account, lots, quotes[symbol].price, household)
                entries = []
                for lot in ordered:
                    gain_per_dollar = 1.0 - float(lot.basis_per_share) / price[symbol]
                    term = holding_term(lot.start, household.day)
                    rate = float(
                        household.rates.long_term if term is Term.LONG else household.rates.short_term
                    )
                    loss = gain_per_dollar < 0
                    credited = (
                        gain_per_dollar
                        if not (loss and wash_group(household, symbol) in washed_groups)
                        else 0
                    )
                    per_dollar = rate * credited
                    col = m.var(0.0, float(lot.qty) * price[symbol])
                    if pen:
                        m.c[col] -= pen
                        location_cost[col] = -pen
                    entries.append(_LotVar(account.id, symbol, lot, col, per_dollar, loss, m.ub[col]))
                    tax_terms.append((col, per_dollar))
                lot_vars[(account.id, symbol)] = entries
                sells[(account.id, symbol)] = [e.col for e in entries]
                if account.relief is not ReliefMethod.SPECIFIC:
                    chains[(account.id, symbol)] = entries
                    exact = exact_chains is None or (account.id, symbol) in exact_chains
                    fifo_steps += _chain(m, entries, binaries=exact)
            else:
                col = m.var(0.0, held)
                if pen:
                    m.c[col] -= pen
                    location_cost[col] = -pen
                sells[(account.id, symbol)] = [col]
            add_trade_cost(account, symbol, Side.SELL, sells[(account.id, symbol)], held)

    # tax: signed into the objective, or floored at zero through T
    tax_var = None
    if settings.harvest_losses:
        for col, per_dollar in tax_terms:
            m.c[col] += settings.tax_weight * per_dollar
    else:
        tax_var = m.var(settings.tax_weight, math.inf)
        m.row([(tax_var, 1.0), *((c, -v) for c, v in tax_terms)], 0.0, math.inf, "tax payable")
        for col, per_dollar in tax_terms:
            m.c[col] += settings.tie_break * per_dollar

    # per-account cash: no transfers between accounts
    cash_rows = {}
    for account in household.accounts:
        flows = account.flows
        need = float(account.cash_reserve + flows.outflow - account.cash - flows.effective_contribution)
        cash_rows[account.id] = m.row(cash_terms[account.id], need, math.inf, f"cash {account.id}")

    # aggregate bands (cash included)
    band_rows: dict[str, int] = {}
    band_slack: dict[str, tuple[int, int]] = {}
    drift_vars: list[int] = []
    for symbol in [*symbols, CASH]:
        lo, hi = limits.get(symbol, (ZERO, ONE))
        terms = cash_band_terms if symbol == CASH else value_terms[symbol]
        base = cash_start if symbol == CASH else start_value[symbol]
        row_terms = list(terms)
        if soft:
            up = m.var(settings.band_penalty, math.inf)
            down = m.var(settings.band_penalty, math.inf)
            band_slack[symbol] = (up, down)
            row_terms += [(up, -1.0), (down, 1.0)]
        band_rows[symbol] = m.row(
            row_terms, float(lo) * equity - base, float(hi) * equity - base, f"band {symbol}"
        )
        if settings.drift_penalty > 0:
            d = m.var(settings.drift_penalty, math.inf)
            drift_vars.append(d)
            target_gap = household.targets.weight(symbol) * Decimal(str(equity))
            m.row([(d, 1.0), *((c, -v) for c, v in terms)], base - float(target_gap), math.inf, "drift+")
            m.row([(d, 1.0), *((c, v) for c, v in terms)], float(target_gap) - base, math.inf, "drift-")

    risk = RiskColumns()
    if settings.risk is not None:
        reserves = sum(float(a.cash_reserve) for a in household.accounts)
        risk = add_risk_term(
            m,
            settings.risk,
            symbols=symbols,
            targets={s: float(household.targets.weight(s)) for s in symbols},
            value_terms=value_terms,
            start_value=start_value,
            cash_terms=cash_band_terms,
            cash_start=cash_start,
            cash_goal=cash_goal(float(household.targets.cash), reserves, equity),
            equity=equity,
        )

    # in-plan wash-sale guard: loss lots sold and identical buys exclude each other
    wash_binaries: dict[str, int] = {}
    groups: dict[str, tuple[list[_LotVar], list[int]]] = {}
    for entries in lot_vars.values():
        for e in entries:
            if e.loss:
                groups.setdefault(wash_group(household, e.symbol), ([], []))[0].append(e)
    for (_, symbol), col in buys.items():
        group = wash_group(household, symbol)
        if group in groups:
            groups[group][1].append(col)
    for group, (losses, buy_cols) in sorted(groups.items()):
        if not buy_cols:
            continue
        z = m.var(0.0, 1.0, integer=True)
        wash_binaries[group] = z
        # one row per loss lot (not one big-M row for all): a much tighter LP relaxation
        for e in losses:
            m.row([(e.col, 1.0), (z, -m.ub[e.col])], -math.inf, 0.0, f"wash sell {group}")
        # the group's buys can never exceed the group's upper limits times the household's equity
        group_symbols = {sym for (_, sym), col in buys.items() if col in set(buy_cols)}
        buy_total_cap = min(sum(m.ub[c] for c in buy_cols), sum(buy_cap[sym] for sym in group_symbols))
        m.row(
            [*((c, 1.0) for c in buy_cols), (z, buy_total_cap)], -math.inf, buy_total_cap, f"wash buy {group}"
        )

    return _Built(
        m, equity, buys, sells, lot_vars, impact, spread, cash_rows, band_rows, band_slack, drift_vars,
        location_cost, wash_binaries, fifo_steps, chains, tax_var, dict(limits), risk,
    )  # fmt: skip


def _ordered_lots(account: Account, lots: Sequence[Lot], price: Decimal, household: Household) -> list[Lot]:
    if account.relief is ReliefMethod.SPECIFIC:
        return list(lots)
    return relief_order(lots, account.relief, price=price, sold=household.day)


def _chain(m: _Model, entries: Sequence[_LotVar], *, binaries: bool = True) -> list[tuple[int, int]]:
    """Force relief order on a symbol's lots; returns the binaries it needed (concave steps), each with
    the column of the lot it gates.

    Without ``binaries`` only the LP part is added (a later lot's fraction sold <= an earlier one's): a
    relaxation, used where only feasibility matters (the infeasibility diagnosis).
    """
    steps = []
    for prev, nxt in zip(entries, entries[1:], strict=False):
        u_prev, u_next = m.ub[prev.col], m.ub[nxt.col]
        if u_prev <= 0 or u_next <= 0:
            continue
        if binaries and nxt.tax_per_dollar < prev.tax_per_dollar - 1e-12:
            # frac[next] <= y <= frac[prev], y binary (implies the order row below)
            y = m.var(0.0, 1.0, integer=True)
            steps.append((y, nxt.col))
            m.row([(nxt.col, 1.0 / u_next), (y, -1.0)], -math.inf, 0.0, "relief step")
            m.row([(y, 1.0), (prev.col, -1.0 / u_prev)], -math.inf, 0.0, "relief step")
        else:
            m.row([(nxt.col, 1.0 / u_next), (prev.col, -1.0 / u_prev)], -math.inf, 0.0, "relief order")
    return steps


def problem_of(built: _Built) -> Problem:
    """The model as arrays, in dollars (:mod:`.solver` scales it)."""
    m = built.model
    return Problem(
        np.array(m.c, dtype=float),
        np.array(m.lb, dtype=float),
        np.array(m.ub, dtype=float),
        np.array(m.integer, dtype=int),
        m.matrix(),
        np.array(m.row_lo, dtype=float),
        np.array(m.row_hi, dtype=float),
    )


def policy_of(settings: OptimizerSettings) -> SolvePolicy:
    return SolvePolicy(settings.time_limit, settings.accept_gap, settings.time_cap, settings.mip_rel_gap)


def _solve(built: _Built, settings: OptimizerSettings, starts: Sequence[np.ndarray] = ()) -> Outcome:
    """HiGHS on the model (:mod:`.solver`), dollars in units of 1/10,000 of the household's equity."""
    return solve_problem(problem_of(built), built.equity / 1e4, policy_of(settings), starts)


# -- public entry points -------------------------------------------------------------------------------------


def optimize_household(
    household: Household,
    settings: OptimizerSettings | None = None,
    *,
    limits: Mapping[str, tuple[Decimal, Decimal]] | None = None,
    previous: HouseholdPlan | None = None,
) -> HouseholdPlan:
    """The least tax-plus-cost trades of every account that bring the aggregate weights within ``limits``.

    ``limits`` default to :func:`band_limits` of the household's targets and bands. ``previous``: the last
    cycle's plan, to start the solve from (:mod:`.warm_start`). Raises :class:`HouseholdInfeasible` naming
    the problem when no plan exists (unless ``settings.soft_bands``).
    """
    settings = settings or OptimizerSettings()
    limits = (
        dict(limits)
        if limits is not None
        else band_limits(household.targets, household.bands, household.symbols, settings.band_inset)
    )
    built, x, outcome, start = solve_raw(household, settings, limits, previous=previous)
    return _finalise(household, built, x, settings, outcome, start)


def solve_raw(
    household: Household,
    settings: OptimizerSettings,
    limits: Mapping[str, tuple[Decimal, Decimal]],
    *,
    previous: HouseholdPlan | None = None,
    baseline: bool = True,
) -> tuple[_Built, np.ndarray, Outcome, str]:
    """Build and solve the model from a feasible start: (model, float solution, HiGHS's outcome, a note on
    the start). ``baseline``: may the start be each account solved on its own (off inside those solves)."""
    from strategies.household.warm_start import starts  # warm_start builds on this module

    problems = _precheck(household, limits)
    if problems and not settings.soft_bands:
        raise HouseholdInfeasible(problems)
    built = _build(household, settings, limits, soft=settings.soft_bands)
    problem = problem_of(built)
    initial, start = starts(household, built, problem, settings, previous, baseline=baseline)
    outcome = solve_problem(problem, built.equity / 1e4, policy_of(settings), initial)
    if outcome.x is None:
        if outcome.infeasible and not settings.soft_bands:
            raise HouseholdInfeasible(_diagnose(household, settings, limits))
        raise HouseholdInfeasible((f"solver stopped without a plan: {outcome.message}",))
    return built, outcome.x, outcome, start


def _in_order(entries: Sequence[_LotVar], x: np.ndarray, tol: float = 1e-6) -> bool:
    """Does the solution sell this chain's lots in relief order (whole lots, then one partial, then none)?"""
    partial_seen = False
    for e in entries:
        frac = x[e.col] / e.cap if e.cap > 0 else 1.0
        if partial_seen and frac > tol:
            return False
        if frac < 1 - tol:
            partial_seen = True
    return True


def _precheck(household: Household, limits: Mapping[str, tuple[Decimal, Decimal]]) -> tuple[str, ...]:
    """Problems that make any plan impossible, found without the solver so they can be named precisely."""
    problems = []
    equity = ZERO
    for account in household.accounts:
        held = sum((q * household.quotes[s].price for s, q in account.positions.items()), start=ZERO)
        available = account.cash + account.flows.effective_contribution + held
        equity += available - account.flows.outflow
        need = account.cash_reserve + account.flows.outflow
        if available < need:
            problems.append(
                f"account {account.id} needs ${need:,.2f} in cash (reserve ${account.cash_reserve:,.2f},"
                f" withdrawals and RMD ${account.flows.outflow:,.2f}) but holds only ${available:,.2f}"
                " in cash and positions"
            )
    for symbol in household.symbols:
        lo, _ = limits.get(symbol, (ZERO, ONE))
        if lo <= 0:
            continue
        held = sum((a.positions.get(symbol, ZERO) for a in household.accounts), start=ZERO)
        value = held * household.quotes[symbol].price
        buyers = [
            a.id
            for a in household.accounts
            if a.may_buy(symbol)
            and symbol not in household.blocked_buys
            and not any(p.hard and symbol in p.symbols and not p.prefers(a) for p in household.locations)
        ]
        if not buyers and equity > 0 and value < lo * equity:
            why = []
            if symbol in household.blocked_buys:
                why.append(f"wash-sale guard: {household.blocked_buys[symbol]}")
            menus = [a.id for a in household.accounts if not a.may_buy(symbol)]
            if menus:
                why.append(f"not on the menu of {', '.join(menus)}")
            if any(p.hard and symbol in p.symbols for p in household.locations):
                why.append("a hard location preference excludes the other accounts")
            problems.append(
                f"{symbol} must reach at least {lo:.2%} of the household but no account may buy it"
                f" ({'; '.join(why)})"
            )
    return tuple(problems)


def _diagnose(
    household: Household, settings: OptimizerSettings, limits: Mapping[str, tuple[Decimal, Decimal]]
) -> tuple[str, ...]:
    """Re-solve with soft bands to find which band cannot be reached, and say how far it stays out."""
    soft = replace(settings, soft_bands=True)
    built = _build(household, soft, limits, soft=True, exact_chains=set())  # FIFO relaxed: feasibility only
    outcome = _solve(built, soft)
    x = outcome.x
    if x is None:
        return (f"the constraints are infeasible even with soft bands ({outcome.message})",)
    m = built.model
    activity = _row_values(m, x)
    problems = []
    for symbol, row in built.band_rows.items():
        lo, hi = limits.get(symbol, (ZERO, ONE))
        up, down = built.band_slack[symbol]
        if x[up] + x[down] > FEASIBILITY_TOL * built.equity:
            base = float(lo) * built.equity - m.row_lo[row]
            reach = (base + activity[row] + x[up] - x[down]) / built.equity
            problems.append(
                f"{symbol} cannot be brought within [{lo:.2%}, {hi:.2%}] of the household: the closest the"
                f" accounts' cash, holdings, menus and guards allow is {reach:.2%}"
            )
    binding_cash = [
        a
        for a, row in built.cash_rows.items()
        if activity[row] - m.row_lo[row] < FEASIBILITY_TOL * built.equity
    ]
    if problems and binding_cash:
        problems.append(f"cash is exhausted (reserve binds) in {', '.join(binding_cash)}")
    return tuple(problems) or ("the solver reports the household infeasible (no single band to blame)",)


def _row_values(m: _Model, x: np.ndarray) -> np.ndarray:
    """Every constraint row's activity at ``x`` (one sparse product, not a scan per row)."""
    return m.matrix() @ x


# -- from the float solution to orders ---------------------------------------------------------------------


def raw_trades(built: _Built, x: np.ndarray, household: Household) -> list[RawTrade]:
    out = []
    for (account, symbol), col in built.buys.items():
        if x[col] > 1e-9:
            out.append(RawTrade(account, symbol, Side.BUY, float(x[col])))
    for (account, symbol), cols in built.sells.items():
        total = float(sum(x[c] for c in cols))
        if total <= 1e-9:
            continue
        lots = {}
        for e in built.lot_vars.get((account, symbol), []):
            if x[e.col] > 1e-9:
                lots[e.lot.lot_id] = float(x[e.col]) / float(household.quotes[symbol].price)
        out.append(RawTrade(account, symbol, Side.SELL, total, lots))
    return out


def objective_of(built: _Built, x: np.ndarray, settings: OptimizerSettings) -> ObjectiveBreakdown:
    """The objective at ``x``, term by term."""
    if built.tax_var is not None:
        tax = float(x[built.tax_var])
    else:
        tax = float(sum(e.tax_per_dollar * x[e.col] for entries in built.lot_vars.values() for e in entries))
    spread = float(
        sum(built.spread[s] * sum(x[c] for c in cols) for (_, s), cols in built.sells.items())
        + sum(built.spread[s] * x[c] for (_, s), c in built.buys.items())
    )
    impact = float(sum(x[c] * slope for cols in built.impact.values() for c, slope in cols))
    location = float(sum(x[c] * p for c, p in built.location_cost.items()))
    drift = float(sum(x[c] for c in built.drift_vars)) * settings.drift_penalty
    band_slack = float(sum(x[u] + x[d] for u, d in built.band_slack.values())) * settings.band_penalty
    risk = linearised_cost(built.risk, x)
    return ObjectiveBreakdown(tax, spread, impact, location, drift, band_slack, risk)


def _finalise(
    household: Household,
    built: _Built,
    x: np.ndarray,
    settings: OptimizerSettings,
    outcome: Outcome,
    start: str,
) -> HouseholdPlan:
    m = built.model
    trades = raw_trades(built, x, household)
    objective = objective_of(built, x, settings)

    binding = []
    eps = FEASIBILITY_TOL * built.equity
    activity = _row_values(m, x)
    for account, row in built.cash_rows.items():
        if activity[row] - m.row_lo[row] < eps:
            binding.append(f"cash of {account} is down to its reserve plus this period's outflows")
    for symbol, row in built.band_rows.items():
        value = activity[row]
        lo, hi = built.limits.get(symbol, (ZERO, ONE))
        if lo < hi:
            if value - m.row_lo[row] < eps:
                binding.append(f"{symbol} ends at its lower limit {lo:.2%}")
            elif m.row_hi[row] - value < eps:
                binding.append(f"{symbol} ends at its upper limit {hi:.2%}")
    bought_groups = {wash_group(household, t.symbol) for t in trades if t.side is Side.BUY}
    for group, z in built.wash_binaries.items():
        if x[z] > 0.5:
            binding.append(f"wash-sale guard: {group} loss lots are sold, so no account buys {group}")
        elif group in bought_groups:
            binding.append(f"wash-sale guard: {group} is bought, so its loss lots stay unsold")
    notes = []
    if built.fifo_steps:
        notes.append(f"lot relief order (FIFO at Alpaca) enforced with {len(built.fifo_steps)} binary steps")
    out_of_order = [f"{a}/{s}" for (a, s), entries in built.chains.items() if not _in_order(entries, x)]
    if out_of_order:  # cannot happen with exact chains; the estimates below use the real relief anyway
        notes.append(f"solver sold lots out of relief order in {', '.join(out_of_order)}; tax re-estimated")
    for account in household.accounts:
        if account.allowed is not None:
            off = sorted(s for s in household.targets.symbols if s not in account.allowed)
            if off:
                notes.append(f"{account.id} may buy only its menu; not: {', '.join(off)}")
        if account.flows.contribution > account.flows.effective_contribution:
            notes.append(
                f"{account.id}: contribution capped at the ${account.flows.effective_contribution:,.2f}"
                " left under its annual limit"
            )
    for symbol, why in sorted(household.blocked_buys.items()):
        notes.append(f"no buys of {symbol}: {why}")
    notes.append(f"{outcome.describe()}; {start}")
    return assemble_plan(
        household,
        trades,
        settings,
        built.limits,
        objective=objective,
        binding=tuple(binding),
        notes=tuple(notes),
        solve_seconds=outcome.seconds,
        optimality_gap=outcome.gap,
        variables=len(m.c),
        integer_variables=int(sum(m.integer)),
        soft_bands=settings.soft_bands,
    )
