"""Feasible plans to start the household solve from (issue 19, item 4).

A start is a complete solution of the household's model, so that HiGHS takes it as its first incumbent and a
time limit can only return something at least as good. The candidates, as trades:

* the **previous cycle's plan** (``previous``), when the caller has one: its trades, clipped to today's
  holdings; markets rarely move enough in a cycle to make it useless;
* **no trade**, which is feasible whenever the household is within its limits (always under the objective's
  open limits, unless a withdrawal needs cash); the cheaper of these two when both are feasible;
* when no trade is not feasible, **the LP relaxation put back in relief order**: the relaxation's amounts per
  (account, symbol, side), with each chain's lots sold in FIFO (or the account's) order. The amounts keep
  every band and cash row as the relaxation met them (they depend on the amounts, not on which lots); only
  the tax changes, and tax is bounded from below only, so this start is feasible unless the relaxation sold
  a loss lot while buying the same security somewhere (the wash-sale guard's binary);
* and, when neither is, **each account rebalanced on its own** (:mod:`.baseline`), the plan a bot per
  account would make (its sub-solves are small and start from their own no-trade plan). It is the last
  resort because it costs several sub-solves and, with each account free to spend all its cash, often
  misses the household's cash band.

A candidate's trades fix the model's trade columns (sells exactly, spread over a chain's lots in its relief
order; buys may shrink by up to :data:`BUY_GIVE` so that cost-model differences between a sub-solve and the
household cannot leave an account a cent short); one small solve of that fixed model fills in the rest
(impact segments, tax, the binaries, the risk epigraphs) at their cheapest. A candidate that is infeasible
there (a band the trades do not restore, a lot sold since) is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from strategies.household.models import Household, HouseholdPlan, wash_group
from strategies.household.solver import Problem, SolvePolicy, solve
from strategies.portfolio import Side
from strategies.tax.lots import ReliefMethod

BUY_GIVE = 1e-3
"""A start's buys may be up to this share smaller than the candidate's (see the module docstring)."""
COMPLETION = SolvePolicy(time_limit=0.0, accept_gap=1e-6, time_cap=2.0)
"""The fixed-trades model is nearly all fixed; presolve settles it in milliseconds."""

Trades = Mapping[tuple[str, str, Side], float]
"""Dollars at mid per (account, symbol, side); lot detail comes from the relief order."""


def no_trade() -> dict[tuple[str, str, Side], float]:
    return {}


def from_plan(plan: HouseholdPlan) -> dict[tuple[str, str, Side], float]:
    """A plan's trades in dollars at mid (sells as shares x price, buys as their notional)."""
    out: dict[tuple[str, str, Side], float] = {}
    for t in plan.trades:
        key = (t.account, t.symbol, t.side)
        out[key] = out.get(key, 0.0) + float(t.est_notional)
    return out


def each_account(household: Household, settings: object) -> dict[tuple[str, str, Side], float] | None:
    """The trades of :func:`.baseline.plan_each_account`'s sub-solves (None: an account could not be
    planned on its own)."""
    from strategies.household.baseline import each_account_raw  # baseline builds on the optimizer

    try:
        raw = each_account_raw(household, settings)  # type: ignore[arg-type]
    except ValueError:
        return None
    out: dict[tuple[str, str, Side], float] = {}
    for t in raw:
        key = (t.account, t.symbol, t.side)
        out[key] = out.get(key, 0.0) + t.dollars
    return out


def relaxed(built: object, problem: Problem) -> dict[tuple[str, str, Side], float] | None:
    """The LP relaxation's trade amounts per (account, symbol, side) (None: the relaxation is infeasible)."""
    lp = replace(problem, integer=np.zeros_like(problem.integer))
    outcome = solve(lp, built.equity / 1e4, COMPLETION)  # type: ignore[attr-defined]
    if outcome.x is None:
        return None
    x = outcome.x
    out: dict[tuple[str, str, Side], float] = {}
    for (account, symbol), col in built.buys.items():  # type: ignore[attr-defined]
        out[(account, symbol, Side.BUY)] = float(x[col])
    for (account, symbol), cols in built.sells.items():  # type: ignore[attr-defined]
        out[(account, symbol, Side.SELL)] = float(sum(x[c] for c in cols))
    return out


def complete(built: object, problem: Problem, trades: Trades) -> np.ndarray | None:
    """The full solution of ``problem`` with the trade columns at ``trades`` (None: infeasible)."""
    lb, ub = problem.lb.copy(), problem.ub.copy()
    b = built  # _Built: typed loosely to keep this module out of the optimizer's import cycle
    for (account, symbol), col in b.buys.items():  # type: ignore[attr-defined]
        value = min(trades.get((account, symbol, Side.BUY), 0.0), ub[col])
        lb[col], ub[col] = value * (1 - BUY_GIVE), value
    for key, cols in b.sells.items():  # type: ignore[attr-defined]
        want = trades.get((*key, Side.SELL), 0.0)
        for col, value in zip(cols, _spread(want, [problem.ub[c] for c in cols]), strict=True):
            lb[col] = ub[col] = value
    for (account, symbol, side), dollars in trades.items():
        columns = b.buys if side is Side.BUY else b.sells  # type: ignore[attr-defined]
        if dollars > 1e-6 and (account, symbol) not in columns:
            return None  # the household may not make this trade (a menu, a block, a location rule)
    fixed = replace(problem, lb=lb, ub=ub)
    outcome = solve(fixed, b.equity / 1e4, COMPLETION)  # type: ignore[attr-defined]
    return outcome.x if outcome.optimal else None


def dive(household: Household, built: object, problem: Problem, trades: Trades) -> np.ndarray | None:
    """Fix the binaries where ``trades`` put them and re-solve the rest as an LP (None: infeasible).

    Used when ``trades`` sell a loss lot and buy the same security (the relaxation's favourite trick). Each
    such wash-sale group keeps its buys and its chains stop before their first loss lot; failing that, it
    keeps its loss sales and buys nothing. Each chain step is then fixed open exactly as far as the trades
    reach, and the LP re-balances the amounts within that."""
    for keep_buys in (True, False):
        x = _dive(household, built, problem, trades, keep_buys)
        if x is not None:
            return x
    return None


def _dive(
    household: Household, built: object, problem: Problem, trades: Trades, keep_buys: bool
) -> np.ndarray | None:
    b = built
    bought: dict[str, float] = {}
    for (account, symbol), _ in b.buys.items():  # type: ignore[attr-defined]
        group = wash_group(household, symbol)
        bought[group] = bought.get(group, 0.0) + trades.get((account, symbol, Side.BUY), 0.0)
    lb, ub = problem.lb.copy(), problem.ub.copy()
    guarded = {g for g in b.wash_binaries if bought.get(g, 0.0) > 0}  # type: ignore[attr-defined]
    lots_sold: dict[int, float] = {}
    for key, entries in b.lot_vars.items():  # type: ignore[attr-defined]
        caps = [problem.ub[e.col] for e in entries]
        if keep_buys and wash_group(household, key[1]) in guarded:
            first_loss = next((i for i, e in enumerate(entries) if e.loss), len(entries))
            caps = caps[:first_loss] + [0.0] * (len(entries) - first_loss)
        for e, value in zip(entries, _spread(trades.get((*key, Side.SELL), 0.0), caps), strict=True):
            lots_sold[e.col] = value
            if value == 0.0:
                ub[e.col] = 0.0
    for y, lot_col in b.fifo_steps:  # type: ignore[attr-defined]
        lb[y] = ub[y] = 1.0 if lots_sold.get(lot_col, 0.0) > 0 else 0.0
    for group, z in b.wash_binaries.items():  # type: ignore[attr-defined]
        sells_loss = group in guarded and not keep_buys
        lb[z] = ub[z] = 1.0 if sells_loss or group not in guarded else 0.0
    outcome = solve(replace(problem, lb=lb, ub=ub), b.equity / 1e4, COMPLETION)  # type: ignore[attr-defined]
    return outcome.x if outcome.optimal else None


def _spread(dollars: float, caps: Sequence[float]) -> list[float]:
    """``dollars`` over lots in relief order: each lot in full before the next (capped at the holding)."""
    out = []
    left = dollars
    for cap in caps:
        take = min(max(left, 0.0), cap)
        if cap - take < 1e-9 * max(cap, 1.0):
            take = cap
        out.append(take)
        left -= take
    return out


def starts(
    household: Household,
    built: object,
    problem: Problem,
    settings: object,
    previous: HouseholdPlan | None = None,
    *,
    baseline: bool = True,
) -> tuple[list[np.ndarray], str]:
    """Complete feasible starting solutions, and a note naming the one the solve will start from (the
    cheaper of the previous plan and no trade, when either is feasible)."""
    found: list[tuple[float, np.ndarray, str]] = []
    if previous is not None:
        x = complete(built, problem, from_plan(previous))
        if x is not None:
            found.append((float(problem.c @ x), x, "started from the previous cycle's plan"))
    x = complete(built, problem, no_trade())
    if x is not None:
        found.append((float(problem.c @ x), x, "started from the no-trade plan"))
    if found:
        _, x, note = min(found, key=lambda f: f[0])
        return [x], note
    trades = relaxed(built, problem)
    if trades is not None:
        x = complete(built, problem, trades)
        if x is None:
            x = dive(household, built, problem, trades)
        if x is not None:
            return [x], "started from the LP relaxation's trades sold in relief order"
    if baseline and not _specific_only(household):
        trades = each_account(household, settings)
        if trades is not None:
            x = complete(built, problem, trades)
            if x is not None:
                return [x], "started from each account rebalanced on its own"
    return [], "no feasible starting plan (no trade, or each account on its own, breaks a limit)"


def _specific_only(household: Household) -> bool:
    """No account relieves in a fixed order: the model has no chain binaries and solves fast unaided."""
    return all(a.tax_advantaged or a.relief is ReliefMethod.SPECIFIC for a in household.accounts)


__all__ = ["complete", "each_account", "from_plan", "no_trade", "relaxed", "starts"]
