"""Tolerance bands: how far an asset's weight may drift from target before it is rebalanced.

A band has an absolute part (percentage points of the portfolio) and/or a relative part (a fraction of the
asset's own target). An asset breaches when its drift exceeds EITHER part, so the effective width is the
smaller of the two: this is the classic "5/25" rule, where small positions are guarded by the relative band
(25% of a 4% target is 1pp) and large ones by the absolute band (5pp).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from strategies.money import as_decimal


@dataclass(frozen=True)
class Band:
    """One band specification; at least one of ``absolute`` / ``relative`` must be set."""

    absolute: Decimal | None = None
    relative: Decimal | None = None

    def __post_init__(self) -> None:
        if self.absolute is None and self.relative is None:
            raise ValueError("a band needs an absolute and/or a relative width")
        for name in ("absolute", "relative"):
            value = getattr(self, name)
            if value is not None:
                value = as_decimal(value)
                object.__setattr__(self, name, value)
            if value is not None and value <= 0:
                raise ValueError(f"{name} band must be greater than 0, got {value}")

    def width(self, target: Decimal) -> Decimal:
        """Effective half-width in weight units for an asset whose target weight is ``target``.

        With a relative band configured, a zero target gives a zero width: any holding of an asset the
        portfolio should not hold at all is a breach.
        """
        widths = []
        if self.absolute is not None:
            widths.append(self.absolute)
        if self.relative is not None:
            widths.append(self.relative * target)
        return min(widths)


DEFAULT_BAND = Band(Decimal("0.05"), Decimal("0.25"))
"""The 5/25 rule: the config's default band, the evaluation's reference band and a cash sleeve's room to drift
before its excess counts as idle cash (:func:`strategies.objective.problem.idle_cash_goal`)."""


@dataclass(frozen=True)
class BandPolicy:
    """Default band plus per-symbol overrides (an override replaces the default for that symbol entirely)."""

    default: Band
    overrides: Mapping[str, Band] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "overrides", MappingProxyType(dict(self.overrides)))

    def band_for(self, symbol: str) -> Band:
        """The band that applies to ``symbol`` (``CASH`` may be overridden too)."""
        return self.overrides.get(symbol, self.default)
