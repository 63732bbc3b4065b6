"""Household optimization (issue 9): several accounts of different tax types rebalanced as one portfolio.

Pure decision code, no I/O: :mod:`.models` (accounts, household, plan), :mod:`.optimizer` (one MILP over every
account), :mod:`.solver` (HiGHS through highspy, with a time policy and the gap it proves), :mod:`.warm_start`
(the feasible plan each solve starts from), :mod:`.orders` (float solution to orders and their estimates),
:mod:`.baseline` (each account rebalanced on its own, for comparison),
:mod:`.risk_term` (the rebalancing objective's risk, linearised for the MILP) and :mod:`.objective` (the
household decided by that objective rather than by its bands).
"""

from strategies.household.baseline import compare, matched_limits, plan_each_account
from strategies.household.guard import wash_sale_guard
from strategies.household.models import (
    TAX_DEFERRED,
    TAX_FREE,
    Account,
    AccountSummary,
    AccountType,
    CashFlows,
    Household,
    HouseholdInfeasible,
    HouseholdPlan,
    HouseholdTrade,
    LocationPreference,
    LotSale,
    ObjectiveBreakdown,
    Quote,
    wash_group,
)
from strategies.household.optimizer import OptimizerSettings, band_limits, optimize_household

__all__ = [
    "TAX_DEFERRED", "TAX_FREE", "Account", "AccountSummary", "AccountType", "CashFlows", "Household",
    "HouseholdInfeasible", "HouseholdPlan", "HouseholdTrade", "LocationPreference", "LotSale",
    "ObjectiveBreakdown", "OptimizerSettings", "Quote", "band_limits", "optimize_household",
    "compare", "matched_limits", "plan_each_account", "wash_group", "wash_sale_guard",
]  # fmt: skip
