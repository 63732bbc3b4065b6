"""A library of real target portfolios built from the bundled ETFs, for evaluations no single mix can flatter.

Seventeen portfolios of 2 to 12 assets, four of them holding cash: the classic balanced mixes, the three-fund
and other lazy portfolios, all-weather-like and permanent portfolios, global mixes and a few deliberately
awkward ones (a barbell, a 12-asset mix with overlapping funds, an equity-and-gold pair). Every asset has
bundled daily data from 2004-11-18 (GLD's first session) or earlier, so all of them cover 2004-12 .. 2022.
Where a published portfolio holds a fund the data lacks for that span, the nearest older fund stands in
(EFA for developed ex-US, EEM for emerging markets, AGG for the total bond market, SHY for short Treasuries
and T-bills); commodities are left out (no bundled fund).
"""

from __future__ import annotations

from decimal import Decimal

from strategies.targets import TargetAllocation


def _mix(weights: dict[str, str], cash: str = "0") -> TargetAllocation:
    return TargetAllocation({s: Decimal(w) for s, w in weights.items()}, cash=Decimal(cash))


LIBRARY: dict[str, TargetAllocation] = {
    "60-40": _mix({"SPY": "0.60", "AGG": "0.40"}),
    "80-20": _mix({"VTI": "0.80", "AGG": "0.20"}),
    "40-60": _mix({"VTI": "0.40", "AGG": "0.60"}),
    "stocks-gold": _mix({"SPY": "0.80", "GLD": "0.20"}),
    "three-fund": _mix({"VTI": "0.42", "EFA": "0.18", "AGG": "0.40"}),
    "barbell-cash": _mix({"SPY": "0.50", "TLT": "0.20", "SHY": "0.20"}, cash="0.10"),
    "permanent": _mix({"VTI": "0.25", "TLT": "0.25", "GLD": "0.25", "SHY": "0.25"}),
    "all-weather": _mix({"VTI": "0.30", "TLT": "0.40", "IEF": "0.15", "GLD": "0.15"}),
    "golden-butterfly": _mix({"VTI": "0.40", "TLT": "0.20", "SHY": "0.20", "GLD": "0.20"}),
    "income-cash": _mix({"SPY": "0.20", "AGG": "0.40", "SHY": "0.20", "TIP": "0.10"}, cash="0.10"),
    "ivy-five": _mix({"VTI": "0.20", "EFA": "0.20", "IEF": "0.20", "VNQ": "0.20", "GLD": "0.20"}),
    "global-60-40": _mix({"VTI": "0.33", "EFA": "0.20", "EEM": "0.07", "AGG": "0.30", "TIP": "0.10"}),
    "coffeehouse": _mix({"AGG": "0.40", "IVV": "0.20", "ITOT": "0.20", "EFA": "0.10", "VNQ": "0.10"}),
    "swensen": _mix(
        {"VTI": "0.30", "EFA": "0.15", "EEM": "0.05", "VNQ": "0.20", "TLT": "0.15", "TIP": "0.15"}
    ),
    "equity-sleeves-cash": _mix(
        {"VTI": "0.55", "EFA": "0.20", "EEM": "0.10", "VNQ": "0.05", "GLD": "0.05"}, cash="0.05"
    ),
    "diversified": _mix(
        {
            "VTI": "0.35",
            "EFA": "0.15",
            "EEM": "0.05",
            "AGG": "0.25",
            "TIP": "0.05",
            "VNQ": "0.05",
            "GLD": "0.05",
        },
        cash="0.05",
    ),
    "twelve-assets": _mix(
        {
            "SPY": "0.14",
            "VTI": "0.10",
            "EFA": "0.12",
            "EEM": "0.06",
            "VNQ": "0.04",
            "IYR": "0.03",
            "GLD": "0.05",
            "AGG": "0.15",
            "IEF": "0.09",
            "TLT": "0.08",
            "SHY": "0.07",
            "TIP": "0.07",
        }
    ),
}
"""Name -> target allocation. ``diversified`` is the example config's mix (with EFA/EEM for VEA/VWO)."""
