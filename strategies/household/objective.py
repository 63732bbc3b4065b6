"""The household decided by the same objective as a single account (issue 14, item 1).

With a ``policy`` of kind ``objective``, a household is not held to bands: like a single account it trades
when the drift's risk cost, under the same forecast covariance and a risk aversion fitted to the same
tracking knob and calibration (:func:`strategies.objective.calibrate.fit_risk_aversion`), exceeds what the
trades cost, and only as far as that pays. The MILP keeps everything else it knows (tax lots and relief
order, account types and their cash, asset location, menus, the wash-sale guard); only its drift term
becomes the objective's risk (:mod:`.risk_term`), and its bands are opened to ``[0, 1]`` so that the risk
term, not a band edge, says how far to go. An empty plan is the objective's "wait".

The fit works on the household's aggregate targets and costs, exactly as the single-account trigger does
on an account's: half-spreads from the quotes, square-root impact scaled to the household's equity.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

import numpy as np

from strategies.costs import DEFAULT_IMPACT_COEFFICIENT, half_spread_fraction, impact_fraction
from strategies.household.models import Household, HouseholdPlan
from strategies.household.optimizer import OptimizerSettings, optimize_household
from strategies.household.risk_term import HouseholdRisk, cash_goal
from strategies.objective.calibrate import FitCache, fit_risk_aversion, refit_period
from strategies.objective.trigger import ObjectiveSpec
from strategies.simulation.path import SimCosts
from strategies.targets import CASH, ONE, ZERO


def open_limits(household: Household) -> dict[str, tuple[Decimal, Decimal]]:
    """``[0, 1]`` for every symbol and cash: no band binds; the risk term decides how far to trade."""
    return {s: (ZERO, ONE) for s in (*household.symbols, CASH)}


def equity_of(household: Household) -> float:
    """The household's equity after this period's cash flows, at mid (the MILP's ``E``)."""
    total = 0.0
    for account in household.accounts:
        flows = account.flows
        total += float(account.cash + flows.effective_contribution - flows.outflow)
        total += sum(float(q) * float(household.quotes[s].price) for s, q in account.positions.items())
    return total


def sim_costs(household: Household, impact_coefficient: float = DEFAULT_IMPACT_COEFFICIENT) -> SimCosts:
    """The costs the fit simulates with, per symbol of ``household.symbols``, as fractions of equity: the
    half-spread, and ``k`` of the square-root law for this household's size (trading ``z`` of equity costs
    ``k z^1.5``), the single-account trigger's conversion."""
    equity = max(equity_of(household), 1e-9)
    half, impact = [], []
    for s in household.symbols:
        q = household.quotes[s]
        half.append(half_spread_fraction(q.spread_bps))
        impact.append(impact_fraction(equity / float(q.price), q.adv, q.sigma_daily, impact_coefficient))
    reserves = sum(float(a.cash_reserve) for a in household.accounts)
    return SimCosts(np.array(half), np.array(impact), min(reserves / equity, 1.0))


@dataclass(eq=False)
class HouseholdObjective:
    """The objective of a ``policy`` section, for a household: one per household bot, so the fitted risk
    aversion is kept for its refit period (as :class:`strategies.objective.trigger.ObjectiveTrigger` does)."""

    spec: ObjectiveSpec
    fits: FitCache = field(default_factory=FitCache)

    def risk(self, household: Household, returns: np.ndarray | None, day: date | None) -> HouseholdRisk | str:
        """The risk term from daily ``returns`` (sessions x ``household.symbols``, oldest first, before
        today); or why there is none (too little history: the caller falls back to the bands)."""
        spec = self.spec
        sessions = 0 if returns is None else int(np.asarray(returns).shape[0])
        covariance = None if returns is None else spec.risk.covariance(returns)
        if returns is None or covariance is None:
            return (
                f"{sessions} sessions of returns for every household symbol, a risk forecast needs"
                f" {spec.risk.min_sessions}"
            )
        targets = np.array([float(household.targets.weight(s)) for s in household.symbols])
        gamma, note = self._gamma(np.asarray(returns, dtype=float), targets, household, day)
        return HouseholdRisk(
            household.symbols,
            spec.risk.scaled(covariance, targets),
            gamma,
            cash_drag=spec.cash_drag,
            note=note,
        )

    def decide(self, household: Household, settings: OptimizerSettings, risk: HouseholdRisk) -> HouseholdPlan:
        """The household's trades under the objective (none: waiting pays). Raises ``HouseholdInfeasible``
        as the optimizer does (a reserve or a withdrawal no holding can cover)."""
        # the risk term replaces the bands-mode L1 drift penalty: both would price the same drift twice
        # and tax counts as the account's objective counts it (its present value, ``policy.tax_weight``)
        priced = replace(settings, risk=risk, drift_penalty=0.0, tax_weight=self.spec.tax_weight)
        plan = optimize_household(household, priced, limits=open_limits(household))
        line = risk_line(household, plan, risk, self.spec.tax_weight)
        return replace(plan, notes=(*plan.notes, line))

    def _gamma(
        self, returns: np.ndarray, targets: np.ndarray, household: Household, day: date | None
    ) -> tuple[float, str]:
        spec = self.spec
        if spec.risk_aversion is not None:
            return spec.risk_aversion, f"risk aversion {spec.risk_aversion:g} (fixed)"
        assert spec.tracking is not None
        key = None if day is None else (*refit_period(day, spec.tracking), targets.tobytes())
        fit = self.fits.get(key) if key is not None else None
        if fit is None:
            fit = fit_risk_aversion(returns, targets, sim_costs(household), spec.risk, spec.tracking)
            if key is not None:
                self.fits.put(key, fit)
        return fit.gamma, f"{spec.tracking.describe()}; {fit.describe()}"


def risk_line(household: Household, plan: HouseholdPlan, risk: HouseholdRisk, tax_weight: float = 1.0) -> str:
    """The numbers behind the decision, exact (not the MILP's linearisation): the drift's risk cost and the
    idle cash's before and after, what the plan costs, the tax and the share of it counted, and the net
    benefit, in dollars."""
    equity = equity_of(household)
    reserves = sum(float(a.cash_reserve) for a in household.accounts)
    goal = cash_goal(float(household.targets.cash), reserves, equity)

    def idle(weights: dict[str, Decimal]) -> float:
        return risk.cash_drag * max(float(weights.get(CASH, ZERO)) * equity - goal, 0.0)

    before = risk.cost(_deviation(household, plan.weights_before, risk)) * equity
    after = risk.cost(_deviation(household, plan.weights_after, risk)) * equity
    idle_before, idle_after = idle(plan.weights_before), idle(plan.weights_after)
    cost, tax = float(plan.estimated_cost), float(plan.tax_payable)
    benefit = before + idle_before - after - idle_after - cost - tax_weight * tax
    verdict = "trades" if plan.trades else "waits: no trade pays for itself"
    return (
        f"objective: risk cost of the drift ${before:,.2f} now, ${after:,.2f} after; idle cash"
        f" ${idle_before:,.2f} now, ${idle_after:,.2f} after; trades cost ${cost:,.2f}, tax ${tax:,.2f}"
        f" ({tax_weight:.0%} of it counted); net benefit ${benefit:,.2f}; {verdict}"
        f" ({risk.note or f'risk aversion {risk.gamma:.2g}'})"
    )


def _deviation(household: Household, weights: dict[str, Decimal], risk: HouseholdRisk) -> np.ndarray:
    return np.array([float(weights.get(s, ZERO) - household.targets.weight(s)) for s in risk.symbols])
