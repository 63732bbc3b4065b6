"""Cash and margin accounts: Alpaca's multiplier rules and the buying powers and margins it reports.

Why this exists: Alpaca paper accounts with $2,000 or more equity are margin accounts, so ``buying_power`` is
about twice the equity there; code that sizes buys from ``buying_power`` borrows on such an account. The paper
broker reproduces both kinds so that such code meets, offline, the account it will meet on Alpaca.

Rules (Alpaca's Trading API spec, ``Account.multiplier`` and ``Account.buying_power``):

* a ``cash`` account, or a ``margin`` account with equity under $2,000, has multiplier 1 and
  ``buying_power = cash`` (less what open buy orders hold);
* a margin account with $2,000+ has multiplier 2: ``buying_power = max(equity - initial_margin, 0) * 2``;
* a margin account flagged pattern day trader with $25,000+ has multiplier 4: its ``daytrading_buying_power``
  (and ``buying_power``) is ``(last_equity - last_maintenance_margin) * 4`` less what it bought today, while
  ``regt_buying_power`` stays the overnight 2x figure;
* ``max_margin_multiplier`` (account configurations, "1", "2" or "4") caps the multiplier.

Initial margin is Reg T's 50% of the long market value; maintenance margin is 30%, Alpaca's requirement for
long positions in stocks and ETFs above $2.50 (all bundled ETFs are). Margin interest, margin calls and
shorting are not simulated.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Literal

CENT = Decimal("0.01")
INITIAL_MARGIN = Decimal("0.5")
MAINTENANCE_MARGIN = Decimal("0.3")
MARGIN_MIN_EQUITY = Decimal(2_000)
PDT_MIN_EQUITY = Decimal(25_000)
MULTIPLIERS = ("1", "2", "4")

AccountKind = Literal["cash", "margin"]


@dataclass(frozen=True)
class MarginInputs:
    """What the buying powers depend on, read from an account at one instant."""

    kind: AccountKind
    max_multiplier: int
    pattern_day_trader: bool
    cash: Decimal
    long_market_value: Decimal
    last_equity: Decimal
    last_maintenance_margin: Decimal
    reserved: Decimal
    """Buying power held by open buy orders."""
    bought_today: Decimal
    """Net cost of today's purchases: what a pattern day trader's day-trading power has been used for."""

    @property
    def equity(self) -> Decimal:
        return self.cash + self.long_market_value


@dataclass(frozen=True)
class Balances:
    """The account fields Alpaca derives from the margin rules."""

    multiplier: int
    buying_power: Decimal
    regt_buying_power: Decimal
    daytrading_buying_power: Decimal
    non_marginable_buying_power: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal


def multiplier(inputs: MarginInputs) -> int:
    """1 for cash accounts and small margin accounts, 2 for Reg T margin, 4 for pattern day traders."""
    if inputs.kind == "cash" or inputs.equity < MARGIN_MIN_EQUITY:
        return 1
    natural = 4 if inputs.pattern_day_trader and inputs.equity >= PDT_MIN_EQUITY else 2
    return min(natural, inputs.max_multiplier)


def maintenance_margin(long_market_value: Decimal) -> Decimal:
    return _cents(long_market_value * MAINTENANCE_MARGIN)


def balances(inputs: MarginInputs) -> Balances:
    """Buying powers and margins as Alpaca reports them; each buying power net of open buy orders."""
    factor = multiplier(inputs)
    initial = _cents(inputs.long_market_value * INITIAL_MARGIN) if inputs.kind == "margin" else Decimal(0)
    maintenance = maintenance_margin(inputs.long_market_value) if inputs.kind == "margin" else Decimal(0)
    excess = max(inputs.equity - initial, Decimal(0))
    if factor == 1:
        regt = inputs.cash
        non_marginable = inputs.cash
    else:
        regt = excess * 2
        non_marginable = excess
    daytrading = Decimal(0)
    if factor == 4:
        base = max(inputs.last_equity - inputs.last_maintenance_margin, Decimal(0)) * 4
        daytrading = _spendable(base - inputs.bought_today, inputs.reserved)
    regt = _spendable(regt, inputs.reserved)
    return Balances(
        multiplier=factor,
        buying_power=daytrading if factor == 4 else regt,
        regt_buying_power=regt,
        daytrading_buying_power=daytrading,
        non_marginable_buying_power=_spendable(non_marginable, inputs.reserved),
        initial_margin=initial,
        maintenance_margin=maintenance,
    )


def _spendable(amount: Decimal, reserved: Decimal) -> Decimal:
    return max(Decimal(0), amount - reserved).quantize(CENT, ROUND_DOWN)


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT)
