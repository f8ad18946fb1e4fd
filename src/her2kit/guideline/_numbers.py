"""Exact decimal arithmetic for reported values.

The guideline compares the numbers a report shows. her2kit rounds means and
ratios half-up to two decimals (``1.995`` → ``2.00``) *before* comparing, so a
report never shows a ratio of 2.00 next to "ratio < 2.0". Binary floats cannot
do that reliably (``round(2.675, 2) == 2.67``), hence :mod:`decimal`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction

from her2kit.errors import Her2kitInputError

__all__ = ["REPORTED_PLACES", "decimal_places", "round_half_up", "to_decimal"]

REPORTED_PLACES = 2
_QUANTUM = Decimal(1).scaleb(-REPORTED_PLACES)


def to_decimal(value: float | int | Fraction | Decimal) -> Decimal:
    """Convert a value to :class:`~decimal.Decimal` as it was written.

    A float becomes the decimal of its shortest representation (``4.6`` →
    ``Decimal("4.6")``), which is what a user typed; a fraction is divided
    exactly to 28 significant digits.
    """
    if isinstance(value, Decimal):
        return value
    if isinstance(value, Fraction):
        return Decimal(value.numerator) / Decimal(value.denominator)
    if isinstance(value, bool):
        raise TypeError("a bool is not a number here")
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def round_half_up(value: float | int | Fraction | Decimal) -> Decimal:
    """Round to two decimals, halves away from zero, as reports are written.

    Raises
    ------
    Her2kitInputError
        A value too large (or not finite) to write with two decimals in 28 digits.
    """
    exact = to_decimal(value)
    try:
        return exact.quantize(_QUANTUM, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise Her2kitInputError(f"{exact} cannot be reported: not a finite number below "
                                "1e25") from None


def decimal_places(value: float | int) -> int:
    """Number of decimals a value was written with (``4.6`` → 1, ``2.0`` → 1, ``20`` → 0)."""
    exponent = to_decimal(value).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0
