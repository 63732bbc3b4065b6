"""Human-readable number formats shared by trigger reasons and plan explanations."""

from __future__ import annotations

import re
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


WHY_WIDTH = 160
"""The longest "why" line shown where a person reads it first (prompt, confirmation page, ``plan``,
``history``); the whole reason stays behind ``--verbose`` or a disclosure."""
_ASIDE = re.compile(r" \([^()]*\)")


def why_line(text: str, width: int = WHY_WIDTH, more: str = "") -> str:
    """A reason of any length (the objective's runs to 1,500 characters) as one line of at most ``width``
    characters. Left out first: the calibration note in brackets, then the asides in parentheses, then
    clauses from the middle, keeping a short conclusion (``...; net benefit 197.52 bp``). `` ...`` marks
    a cut; ``more`` is appended after a cut (e.g. where the rest is)."""
    whole = " ".join(text.split())
    if len(whole) <= width:
        return whole
    room = width - len(more)
    head = whole.split(" [", 1)[0]
    while len(head) + 4 > room and _ASIDE.search(head):
        head = _ASIDE.sub("", head, count=1)
    if len(head) + 4 <= room:
        return f"{head} ...{more}"
    body, sep, last = head.rpartition("; ")
    if sep and len(last) <= room // 3:
        return f"{_cut(body, room - len(last) - 6)} ...; {last}{more}"
    return f"{_cut(head, room - 4)} ...{more}"


def _cut(text: str, room: int) -> str:
    """``text`` up to the last clause that ends within ``room`` characters (or cut at ``room``)."""
    end = max(text.rfind("; ", 0, room), text.rfind(", ", 0, room))
    return text[:end] if end > room // 3 else text[:room].rstrip()
