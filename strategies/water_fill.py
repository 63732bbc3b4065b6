"""Water-filling: spend a budget on the largest gaps first, leaving every funded one at the same gap.

It is how cash flows correct drift (``strategies.flow_rebalancing``) and how the planner spends excess cash
(``strategies.planner``): the most underweight asset is bought first, the most overweight sold first, so the
worst drift is fixed soonest instead of every gap shrinking a little.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True)
class Fill:
    """A water-filling: how much each asset gets and the common gap ``level`` the filled ones are left at."""

    amounts: Mapping[str, Decimal]
    level: Decimal


def water_fill(gaps: Mapping[str, Decimal], budget: Decimal) -> Fill:
    """Spend ``budget`` on the largest positive gaps first, leaving every funded one at the same gap.

    With the gaps sorted largest first, funding the top ``k`` to a common level ``L`` costs
    ``sum(top k) - k L``; the right ``k`` is the first whose ``L`` is not below the next gap. A budget above
    the sum of the gaps closes them all (level 0) and the rest is left over.
    """
    positive = sorted(((g, s) for s, g in gaps.items() if g > 0), reverse=True)
    total = sum((g for g, _ in positive), start=ZERO)
    if budget <= 0 or not positive:
        return Fill({}, max(positive[0][0], ZERO) if positive else ZERO)
    if budget >= total:
        return Fill({s: g for g, s in positive}, ZERO)
    running = ZERO
    level = ZERO
    for k, (gap, _) in enumerate(positive, start=1):
        running += gap
        level = (running - budget) / k
        following = positive[k][0] if k < len(positive) else ZERO
        if level >= following:
            break
    return Fill({s: g - level for g, s in positive if g > level}, level)
