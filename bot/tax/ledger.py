"""The household's lot ledger, replayed from the fills in the store with the wash-sale rule applied.

Why a replay and not a stored ledger: lots, relief and wash-sale adjustments are pure functions of the fills
(``strategies.tax``), so replaying them is always consistent with the rules, and a fill learned late (an
import of pre-bot lots, a reinvested dividend) simply takes its place in history. A household has at most a
few thousand fills; the replay costs milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.config import BotConfig, TaxConfig
from bot.state.store import StateStore, TaxFillRecord
from strategies.tax import Fill, HouseholdLedger, ReliefMethod, WashSaleRules, build_household_ledger


def wash_rules(config: BotConfig) -> WashSaleRules:
    """Substantially identical groups and the tax-advantaged accounts, from the ``tax`` section."""
    tax = config.tax or TaxConfig()
    sheltered = frozenset(a.name for a in config.accounts if tax.account(a.name).tax_advantaged)
    return WashSaleRules(tuple(frozenset(g) for g in tax.substantially_identical), sheltered)


def relief_methods(config: BotConfig) -> dict[str, ReliefMethod]:
    tax = config.tax or TaxConfig()
    return {a.name: ReliefMethod(tax.account(a.name).relief) for a in config.accounts}


def to_fill(record: TaxFillRecord) -> Fill:
    return Fill(
        account=record.account,
        symbol=record.symbol,
        side=record.side,
        qty=record.qty,
        price=record.price,
        day=record.trade_date,
        fill_id=record.fill_id,
    )


def fills_of(records: Iterable[TaxFillRecord]) -> list[Fill]:
    return [to_fill(r) for r in records]


def household_ledger(store: StateStore, config: BotConfig) -> tuple[HouseholdLedger, list[Fill]]:
    """The ledger over every account of the config (the wash-sale rule spans the household), and the fills
    it was built from (the wash-sale guards look at recent buys). Only the config's accounts' fills: a fleet's
    households share one database, and another household's buys are neither this one's lots nor its wash
    sales (reading them all also made every visit cost in proportion to the fleet)."""
    names = {a.name for a in config.accounts} | set(config.tax.accounts if config.tax is not None else ())
    fills = fills_of(store.tax_fills(account=tuple(sorted(names))))
    return build_household_ledger(fills, wash_rules(config), relief_methods(config)), fills
