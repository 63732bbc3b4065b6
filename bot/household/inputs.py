"""The config's ``household`` section in the optimizer's terms.

Kept apart from the gathering so the mapping is a pure function of the config (testable without a broker):
the config speaks the tax section's words (``ira``, ``roth``...), the optimizer its own enum; the config's
money is ``Decimal`` and its penalties fractions, the optimizer's settings floats where the solver needs them.
"""

from __future__ import annotations

from decimal import Decimal

from bot.config import BotConfig, HouseholdAccountConfig, HouseholdConfig, TaxConfig
from strategies.bands import BandPolicy
from strategies.household import (
    AccountType,
    CashFlows,
    Household,
    LocationPreference,
    OptimizerSettings,
    band_limits,
)
from strategies.targets import TargetAllocation
from strategies.tax.estimate import TaxRates

TARGET_KEEP = Decimal("0.25")
"""With ``bands.trade_to: target`` a fired household is planned to within this share of each band: close to
target, but not exactly on it (whole shares, reserves and rounding would make "exactly" infeasible)."""

ACCOUNT_TYPES: dict[str, AccountType] = {
    "taxable": AccountType.TAXABLE,
    "ira": AccountType.TRADITIONAL_IRA,
    "roth": AccountType.ROTH_IRA,
    "401k": AccountType.K401,
    "hsa": AccountType.HSA,
}
"""The config's tax types (shared with the ``tax`` section) -> the household optimizer's."""


def household_of(config: BotConfig) -> HouseholdConfig:
    if config.household is None:
        raise ValueError("the config has no household section")
    return config.household


def account_type(config: BotConfig, name: str) -> AccountType:
    return ACCOUNT_TYPES[config.household_type(name)]


def targets(config: BotConfig) -> TargetAllocation:
    """The aggregate target allocation: the household's own, else the top-level ``targets``."""
    return (household_of(config).targets or config.targets).to_allocation()


def bands(config: BotConfig) -> BandPolicy:
    return (household_of(config).bands or config.bands).to_policy()


def rates(config: BotConfig) -> TaxRates:
    tax = (config.tax or TaxConfig()).rates
    return TaxRates(tax.short_term, tax.long_term)


def cash_flows(member: HouseholdAccountConfig) -> CashFlows:
    return CashFlows(
        contribution=member.contribution.amount,
        contribution_room=member.contribution.room,
        withdrawal=member.withdrawal,
        rmd=member.rmd,
    )


def menu(member: HouseholdAccountConfig) -> frozenset[str] | None:
    return frozenset(member.menu) if member.menu is not None else None


def locations(config: BotConfig) -> tuple[LocationPreference, ...]:
    return tuple(
        LocationPreference(
            symbols=frozenset(loc.symbols),
            account_types=frozenset(ACCOUNT_TYPES[t] for t in loc.account_types),
            penalty=float(loc.penalty),
            hard=loc.hard,
            name=loc.name,
        )
        for loc in household_of(config).locations
    )


def optimizer_settings(config: BotConfig) -> OptimizerSettings:
    knobs = household_of(config).optimizer
    min_trade = knobs.min_trade if knobs.min_trade is not None else config.execution.min_trade_notional
    return OptimizerSettings(
        harvest_losses=knobs.harvest_losses,
        drift_penalty=float(knobs.drift_penalty),
        min_trade=Decimal(min_trade),
        time_limit=knobs.time_limit_seconds,
        accept_gap=knobs.accept_gap,
        time_cap=max(knobs.time_cap_seconds, knobs.time_limit_seconds),
    )


def planning_limits(
    config: BotConfig, household: Household, settings: OptimizerSettings
) -> tuple[dict[str, tuple[Decimal, Decimal]] | None, str]:
    """How far a fired household is traded back, from ``bands.trade_to``, as weight limits (None: the band
    edges, the optimizer's default), and a note saying which.

    Why not always the band edge: when the cheap trades (IRA, Roth) are used up and what is left is a taxable
    gain, a plan that stops at the edge is breached again by the next small price move, and the household
    trades a little every cycle. Planning to the inner part of the band (``target``: a quarter of it,
    ``partial``: ``1 - partial_fraction`` of it) pays once and then rests. The cycle falls back to the band
    edges when the narrower limits cannot be met (a reserve or an RMD leaves too little room).
    """
    knobs = household_of(config).bands or config.bands
    if knobs.trade_to == "band_edge":
        return None, "planned to the band edges (bands.trade_to: band_edge)"
    keep = TARGET_KEEP if knobs.trade_to == "target" else Decimal(1) - knobs.partial_fraction
    edges = band_limits(household.targets, household.bands, household.symbols, settings.band_inset)
    limits = {}
    for symbol, (lo, hi) in edges.items():
        target = household.targets.weight(symbol)
        limits[symbol] = (max(lo, target - (target - lo) * keep), min(hi, target + (hi - target) * keep))
    return (
        limits,
        f"planned to within {keep:.0%} of each band around its target (bands.trade_to: {knobs.trade_to})",
    )
