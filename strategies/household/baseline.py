"""The comparison the coordinated plan has to beat: every account rebalanced on its own (issue 9's PROOF).

"Each account on its own" is what a bot per account does: each account is steered to the household's
target allocation by itself, within the same bands, with its own cash. To be fair to it, it uses the same
optimizer (so it too picks the cheapest lots within the account, respects FIFO, its reserve, its menu and
the wash-sale blocks); what it cannot do is trade across accounts. An account's targets are the household's
restricted to what it may buy (a 401k menu), renormalised so the invested part still sums to ``1 - cash``;
its cash may not exceed the cash band's upper edge (idle cash is invested) but has no lower edge beyond its
reserve, and location preferences do not apply (they are a household notion). Like the coordinated plan it
stops at the band edges (the cheapest correction; the single-account planner's default trades to target,
which would only make the baseline dearer). The per-account solutions are then judged together by the
coordinated plan's own arithmetic (:func:`assemble_plan`), which also applies the wash-sale rule ACROSS
accounts: a loss sold in the taxable account while the IRA buys the same fund is washed, as the IRS sees it.

Equal aggregate drift: :func:`matched_limits` turns the baseline's resulting aggregate weights into limits
``target +/- |baseline drift|`` per asset, so the coordinated plan compared with it ends at least as close to
target on every asset, cash included.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from strategies.household.models import Household, HouseholdInfeasible, HouseholdPlan, ObjectiveBreakdown
from strategies.household.optimizer import (
    OptimizerSettings,
    band_limits,
    objective_of,
    raw_trades,
    solve_raw,
)
from strategies.household.orders import RawTrade, assemble_plan
from strategies.targets import CASH, ONE, ZERO, TargetAllocation

MATCH_FLOOR = Decimal("0.0001")
"""The narrowest half-width :func:`matched_limits` gives (1 bp of weight): rounding needs some room."""


def account_targets(household: Household, account_index: int) -> TargetAllocation:
    """The household's targets restricted to what one account may buy, renormalised."""
    account = household.accounts[account_index]
    targets = household.targets
    allowed = {s: w for s, w in targets.weights.items() if account.may_buy(s) and w > 0}
    invested = ONE - targets.cash
    total = sum(allowed.values(), start=ZERO)
    if total <= 0:
        return TargetAllocation({}, cash=ONE)
    weights = {s: w * invested / total for s, w in allowed.items()}
    # exact sum despite the division: put the rounding residue on the largest weight
    largest = max(weights, key=lambda s: weights[s])
    weights[largest] += ONE - targets.cash - sum(weights.values(), start=ZERO)
    return TargetAllocation(weights, cash=targets.cash)


def plan_each_account(household: Household, settings: OptimizerSettings | None = None) -> HouseholdPlan:
    """Rebalance every account to the household target on its own; the trades judged as one household plan.

    An account whose own bands cannot be met on its own (e.g. its reserve or an RMD leaves too little) is
    solved with soft bands, as the least violation it can reach alone; the note says which.
    """
    settings = settings or OptimizerSettings()
    solves = _solve_each(household, settings)
    raw: list[RawTrade] = []
    notes = ["each account rebalanced on its own to the household target (restricted to its menu)"]
    totals = [0.0] * 6
    elapsed = 0.0
    variables = integers = 0
    for one in solves:
        raw += one.raw
        if one.note:
            notes.append(one.note)
        o = one.objective
        for i, v in enumerate((o.tax, o.cost_spread, o.cost_impact, o.location_penalty, o.drift_penalty,
                               o.band_slack_penalty)):  # fmt: skip
            totals[i] += v
        elapsed += one.seconds
        variables += one.variables
        integers += one.integers
    limits = band_limits(household.targets, household.bands, household.symbols, settings.band_inset)
    return assemble_plan(
        household,
        raw,
        settings,
        limits,
        objective=ObjectiveBreakdown(*totals),
        notes=tuple(notes),
        solve_seconds=elapsed,
        variables=variables,
        integer_variables=integers,
    )


def each_account_raw(household: Household, settings: OptimizerSettings) -> list[RawTrade]:
    """The float trades of every account rebalanced on its own (the household solve's warm start)."""
    return [t for one in _solve_each(household, settings) for t in one.raw]


@dataclass(frozen=True)
class _AccountSolve:
    raw: list[RawTrade]
    objective: ObjectiveBreakdown
    seconds: float
    variables: int
    integers: int
    note: str = ""


def _solve_each(household: Household, settings: OptimizerSettings) -> list[_AccountSolve]:
    out = []
    for index, account in enumerate(household.accounts):
        targets = account_targets(household, index)
        sub = replace(household, accounts=(account,), targets=targets, locations=(), name=account.id)
        limits = band_limits(targets, household.bands, sub.symbols, settings.band_inset)
        limits[CASH] = (ZERO, limits[CASH][1])  # idle cash is invested; below target only the reserve binds
        note = ""
        try:
            built, x, outcome, _ = solve_raw(sub, settings, limits, baseline=False)
            used = settings
        except HouseholdInfeasible as exc:
            used = replace(settings, soft_bands=True)
            built, x, outcome, _ = solve_raw(sub, used, limits, baseline=False)
            note = f"{account.id} cannot meet its own bands alone ({exc.problems[0]}); least violation used"
        out.append(
            _AccountSolve(
                raw_trades(built, x, sub),
                objective_of(built, x, used),
                outcome.seconds,
                len(built.model.c),
                int(sum(built.model.integer)),
                note,
            )
        )
    return out


def matched_limits(
    plan: HouseholdPlan, targets: TargetAllocation, floor: Decimal = MATCH_FLOOR
) -> dict[str, tuple[Decimal, Decimal]]:
    """Limits that hold a plan to the baseline's aggregate drift, asset by asset (cash included)."""
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for symbol, weight in plan.weights_after.items():
        target = targets.weight(symbol)
        width = max(abs(weight - target), floor)
        out[symbol] = (max(target - width, ZERO), min(target + width, ONE))
    return out


def compare(
    household: Household, settings: OptimizerSettings | None = None
) -> tuple[HouseholdPlan, HouseholdPlan]:
    """(independent baseline, coordinated plan at no more aggregate drift than the baseline on any asset)."""
    from strategies.household.optimizer import optimize_household

    settings = settings or OptimizerSettings()
    baseline = plan_each_account(household, settings)
    limits: Mapping[str, tuple[Decimal, Decimal]] = matched_limits(baseline, household.targets)
    coordinated = optimize_household(household, settings, limits=limits)
    return baseline, coordinated
