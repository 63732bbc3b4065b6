"""The ``tax`` section of the config as the tax planner's settings for one account.

Why a translation: ``strategies.tax.planning`` takes plain values (it is shared with the backtester and
knows nothing of the config file); the config speaks the user's terms (account names, ``VTI: [ITOT, SCHB]``).
"""

from __future__ import annotations

from bot.config import BotConfig, TaxConfig
from strategies.tax import ReliefMethod, TaxRates
from strategies.tax.planning import AccountType, HarvestSettings, TaxSettings


def sheltered_accounts(config: BotConfig) -> frozenset[str]:
    """The household's tax-advantaged accounts (their buys wash a taxable loss for good)."""
    tax = config.tax or TaxConfig()
    return frozenset(a.name for a in config.accounts if tax.account(a.name).tax_advantaged)


def tax_settings(config: BotConfig, account: str) -> TaxSettings:
    """The planner's settings for ``account`` (the config must have a ``tax`` section)."""
    tax = config.tax
    if tax is None:
        raise ValueError("the config has no tax section")
    settings = tax.account(account)
    harvest = tax.harvest
    return TaxSettings(
        rates=TaxRates(tax.rates.short_term, tax.rates.long_term),
        account_type=AccountType(settings.type),
        relief_method=ReliefMethod(settings.relief),
        substitutes=tax.sleeves(),
        identical=tuple(frozenset(group) for group in tax.substantially_identical),
        household_tax_advantaged=sheltered_accounts(config),
        gains_to_band_edge=tax.gains_to_band_edge,
        gain_band_fraction=tax.gain_band_fraction,
        defer_long_term_days=tax.defer_days,
        outer_band=tax.outer_band,
        harvest=HarvestSettings(
            enabled=harvest.enabled,
            min_loss=harvest.min_loss,
            min_loss_fraction=harvest.min_loss_fraction,
            switch_back=harvest.switch_back,
            switch_back_max_gain=harvest.switch_back_max_gain,
        ),
    )
