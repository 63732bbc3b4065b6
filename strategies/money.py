"""Decimal quantization to what the broker accepts: cents for money, 9 decimals for share quantities.

Alpaca accepts notionals to the cent and fractional quantities to 9 decimal places. Rounding is always
DOWN for amounts we are about to spend or shares we are about to sell, so an order can never exceed the
cash or the holding it was sized from; estimates use banker's rounding (they are reports, not limits).
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

CENT = Decimal("0.01")
QTY_STEP = Decimal("0.000000001")
WHOLE = Decimal(1)


def to_cents(amount: Decimal) -> Decimal:
    """Round an estimate to the nearest cent (half-even)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


def floor_cents(amount: Decimal) -> Decimal:
    """Round an amount to spend down to whole cents."""
    return amount.quantize(CENT, rounding=ROUND_DOWN)


def floor_quantity(qty: Decimal, *, fractional: bool) -> Decimal:
    """Round a share quantity down to 9 decimals (fractional) or to whole shares."""
    return qty.quantize(QTY_STEP if fractional else WHOLE, rounding=ROUND_DOWN)


def as_decimal(value: Decimal | int | float | str) -> Decimal:
    """Coerce to Decimal; floats go through their shortest repr, so 0.35 becomes exactly 0.35."""
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value)) if isinstance(value, float) else Decimal(value)
