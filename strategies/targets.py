"""Target allocation: the weights the portfolio is steered toward.

Weights are fractions of total equity (cash included), held as ``Decimal`` so that the planner's arithmetic
is exact to the cent. Cash is a first-class target (``TargetAllocation.cash``) rather than a pseudo-ticker
in the mapping, so a symbol can never be confused with it; the rows the triggers report use the ``CASH``
key, which is lower-case and so can never collide with a ticker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from strategies.money import as_decimal

CASH = "cash"
"""Key used for the cash row in weights and drift tables (tickers are upper-case, so it cannot collide)."""

SUM_TOLERANCE = Decimal("0.000001")
"""How far the weights may sum from 1: YAML floats such as 0.35 are not exact in binary."""

ZERO = Decimal(0)
ONE = Decimal(1)


@dataclass(frozen=True)
class TargetAllocation:
    """Target weight per symbol plus the target cash weight; together they sum to 1.

    A symbol absent from ``weights`` has a target of 0: if the account holds it, the bot sells it.
    """

    weights: Mapping[str, Decimal]
    cash: Decimal = ZERO

    def __post_init__(self) -> None:
        frozen = MappingProxyType({symbol: as_decimal(w) for symbol, w in self.weights.items()})
        object.__setattr__(self, "weights", frozen)
        object.__setattr__(self, "cash", as_decimal(self.cash))
        self._validate()

    def _validate(self) -> None:
        if CASH in self.weights:
            raise ValueError(f"{CASH!r} is not a symbol; give the cash weight as TargetAllocation.cash")
        for symbol, weight in [*self.weights.items(), (CASH, self.cash)]:
            if not ZERO <= weight <= ONE:
                raise ValueError(f"target weight of {symbol} must be within [0, 1], got {weight}")
        total = self.total()
        if abs(total - ONE) > SUM_TOLERANCE:
            raise ValueError(f"target weights sum to {total}, must sum to 1")

    def total(self) -> Decimal:
        """Sum of all weights, cash included."""
        return sum(self.weights.values(), start=self.cash)

    def weight(self, symbol: str) -> Decimal:
        """Target weight of ``symbol`` (``CASH`` for cash); 0 for anything not targeted."""
        if symbol == CASH:
            return self.cash
        return self.weights.get(symbol, ZERO)

    @property
    def symbols(self) -> tuple[str, ...]:
        """Targeted symbols in a stable (sorted) order."""
        return tuple(sorted(self.weights))
