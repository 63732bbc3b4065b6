"""The calibrated per-symbol spreads (``bot/paper_broker/data/costs.json``) that every cost reader shares.

The paper broker quotes them, the backtester charges them and the live bot's decision starts from them (as
the prior that realised fills refine, ``bot/cost_estimates.py``). The table is built from the bundled real
bars by ``scripts/calibrate_costs.py``; its method and sources are in ``PROVENANCE.md`` beside it. A symbol
the table does not know costs ``strategies.costs.DEFAULT_SPREAD_BPS``.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from strategies.costs import DEFAULT_SPREAD_BPS

__all__ = ["COSTS_FILE", "CostTableError", "calibrated_spread", "calibrated_spreads"]

COSTS_FILE = Path(__file__).resolve().parent / "paper_broker" / "data" / "costs.json"


class CostTableError(ValueError):
    """The cost table is missing or malformed (names the file and how to rebuild it)."""


@functools.cache
def calibrated_spreads(path: Path = COSTS_FILE) -> Mapping[str, float]:
    """Full bid-ask spread (bp of the mid) per symbol from the table at ``path`` (read once per process)."""
    fix = "rebuild it with `python scripts/calibrate_costs.py`"
    try:
        rows = json.loads(path.read_text())["symbols"]
        spreads = {str(s): float(row["spread_bps"]) for s, row in rows.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CostTableError(f"cost table {path} is unreadable ({exc}): {fix}") from None
    bad = sorted(s for s, v in spreads.items() if not math.isfinite(v) or v < 0)
    if bad:
        listed = ", ".join(bad)
        raise CostTableError(f"cost table {path}: spreads must be finite and >= 0 bp ({listed}): {fix}")
    return MappingProxyType(spreads)


def calibrated_spread(symbol: str) -> float:
    """The bundled table's spread of ``symbol`` in bp, or the fallback for a symbol it does not know."""
    return calibrated_spreads().get(symbol, DEFAULT_SPREAD_BPS)
