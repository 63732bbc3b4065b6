"""The household wash-sale guard, from the lot ledger's events to the optimizer's inputs.

Tax-aware execution (issue 8) keeps a household ledger: every account's fills and loss realisations. Two of
its questions become inputs of the household optimizer:

* a buy of a security substantially identical to one sold at a loss in the last 30 days (in any taxable
  account) would wash that loss: such symbols go to ``Household.blocked_buys`` with the reason, and the
  optimizer creates no buy variable for them in any account (an IRA buy would even lose the loss for good);
* a loss sale of a security bought in the last 30 days (in any account) would be washed by that buy: such
  symbols go to ``Household.recent_buy_symbols``, and the optimizer credits their loss lots no tax saving.

Within the plan itself the optimizer keeps the rule by construction (a loss lot sold and an identical buy
exclude each other), so no plan it returns washes its own losses.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from strategies.tax.lots import Fill, Realisation
from strategies.tax.wash_sale import WashSaleRules, blocked_purchases, loss_sale_risk


def wash_sale_guard(
    household_events: Iterable[Realisation | Fill],
    symbols: Iterable[str],
    day: date,
    rules: WashSaleRules | None = None,
) -> tuple[dict[str, str], frozenset[str]]:
    """(blocked buys: symbol -> why, symbols whose loss sales now would be washed) on ``day``."""
    events = tuple(household_events)
    blocked: dict[str, str] = {}
    recent: set[str] = set()
    for symbol in sorted(set(symbols)):
        blocks = blocked_purchases(events, symbol, day, rules)
        if blocks:
            blocked[symbol] = blocks[0].describe()
        if loss_sale_risk(events, symbol, day, rules).at_risk:
            recent.add(symbol)
    return blocked, frozenset(recent)
