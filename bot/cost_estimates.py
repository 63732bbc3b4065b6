"""Per-symbol cost estimates for the live decision: the calibrated prior refined by the bot's own fills.

The measurements are the execution reports the executor stores in the state database when an order ends
(``bot.slicing.report``: the shortfall of its fills against the arrival mid), so the estimate survives
restarts with nothing else to persist: it is recomputed from them at each decision. Spreads are a property
of the market, not of an account, so every account's reports in the store count; the newest
``MAX_ORDERS`` per symbol are used, so an old regime fades out.

Only orders sent whole (policy ``single``) are measurements: one fills within a minute or so, and its
shortfall is the spread it crossed plus a minute's price noise (what the prior's weight assumes). A sliced
order works for hours, and its shortfall is dominated by where the price went meanwhile (50 bp of daily
volatility is ~25 bp over half a session): one such order would swing the estimate by more than the
spread it is trying to measure.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.cost_table import calibrated_spread
from bot.state.store import StateStore
from strategies.cost_feedback import CostEstimate, blend

__all__ = ["MAX_ORDERS", "cost_estimates"]

MAX_ORDERS = 200
"""Newest execution reports per symbol the measurement uses."""


def cost_estimates(store: StateStore, symbols: Iterable[str]) -> dict[str, CostEstimate]:
    """The blended one-way cost of each symbol: half its calibrated spread as the prior, and the shortfall
    of each of its whole (unsliced) orders that filled."""
    out = {}
    for symbol in symbols:
        reports = store.execution_reports(symbol=symbol, limit=MAX_ORDERS)
        measured = [
            r.shortfall_bp
            for r in reports
            if r.policy == "single" and r.shortfall_bp is not None and r.filled_qty > 0
        ]
        out[symbol] = blend(symbol, calibrated_spread(symbol) / 2, measured)
    return out
