"""Human-readable number formats shared by trigger reasons and plan explanations."""

from __future__ import annotations

from decimal import Decimal

from strategies.money import CENT


def pct(weight: Decimal) -> str:
    """Weight as a percentage, e.g. ``35.00%``."""
    return f"{weight * 100:.2f}%"


def pp(width: Decimal) -> str:
    """Weight difference in percentage points, e.g. ``5.00pp``."""
    return f"{width * 100:.2f}pp"


def signed_pp(value: Decimal) -> str:
    """Drift in percentage points with its sign, e.g. ``+10.00pp``."""
    return f"{value * 100:+.2f}pp"


def usd(amount: Decimal) -> str:
    """Money with thousands separators, e.g. ``$10,000.00`` (negative as ``-$5.00``)."""
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount).quantize(CENT):,.2f}"


def shares(qty: Decimal) -> str:
    """A share quantity without trailing zeros, e.g. ``20`` or ``10.5``."""
    text = format(qty.normalize(), "f")
    return text
