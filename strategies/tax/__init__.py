"""Tax-aware execution (issue 8): lot ledger, wash-sale rule, tax estimates. Pure decision code, no I/O."""

from strategies.tax.estimate import (
    SaleEstimate,
    TaxedOrder,
    TaxRates,
    annotate_orders,
    estimate_sale,
    plan_tax,
)
from strategies.tax.harvest import HarvestKind, HarvestPlan, HarvestTrade, plan_harvest
from strategies.tax.lots import (
    Fill,
    GainSummary,
    Ledger,
    Lot,
    Mismatch,
    Realisation,
    Relief,
    ReliefMethod,
    Term,
    build_ledger,
    fill_from_activity,
    holding_term,
    long_term_from,
    reconcile,
    relief_order,
    relieve,
)
from strategies.tax.marginal import MARGINAL_SHARE, marginal_tax_fraction, sell_tax_fractions
from strategies.tax.planning import (
    AccountType,
    Action,
    HarvestSettings,
    TaxAwarePlan,
    TaxDecision,
    TaxSettings,
    fold_substitutes,
    plan_tax_aware,
)
from strategies.tax.wash_sale import (
    HouseholdLedger,
    LossSaleRisk,
    PurchaseBlock,
    Replacement,
    WashSale,
    WashSaleRules,
    blocked_purchases,
    build_household_ledger,
    loss_sale_risk,
    match_replacements,
)

__all__ = [
    "AccountType", "Action", "HarvestKind", "HarvestPlan", "HarvestSettings", "HarvestTrade", "TaxAwarePlan",
    "TaxDecision", "TaxSettings", "fold_substitutes", "plan_harvest", "plan_tax_aware",
    "Fill", "GainSummary", "HouseholdLedger", "Ledger", "LossSaleRisk", "Lot", "Mismatch", "PurchaseBlock",
    "Realisation", "Relief", "ReliefMethod", "Replacement", "SaleEstimate", "TaxRates", "TaxedOrder", "Term",
    "WashSale", "WashSaleRules", "annotate_orders", "blocked_purchases", "build_household_ledger",
    "build_ledger", "estimate_sale", "fill_from_activity", "holding_term", "long_term_from", "loss_sale_risk",
    "match_replacements", "plan_tax", "reconcile", "relief_order", "relieve",
    "MARGINAL_SHARE", "marginal_tax_fraction", "sell_tax_fractions",
]  # fmt: skip
