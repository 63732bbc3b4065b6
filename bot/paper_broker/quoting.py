"""The paper broker's quote and print model: the bid/ask and sizes shown around a price, vectorised.

One model for every quote and trade the broker shows: the latest quote the engine fills against
(``SimMarket.quote``), the latest trade, and the historical quotes and trades synthesised from the minute bars
(``ticks.py``). Keeping it in one place is what makes "the latest quote" always equal "the last historical
quote": both are this function of the same mid, depth and draw.

The spread is the symbol's configured or calibrated full width (``bot/cost_table.py``), split evenly either
side of the mid and widened outward to the price tick, so a quote never collapses to zero width. Sizes are
round lots: the quote shows about 2% of the minute's volume, split between bid and ask by a per-minute
uniform draw; a print is about 0.1% of it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["QUOTE_DEPTH_FRACTION", "TRADE_SIZE_FRACTION", "lots", "nbbo", "price_tick"]

QUOTE_DEPTH_FRACTION = 0.02  # shares shown on each side: ~2% of the minute's volume, in round lots
TRADE_SIZE_FRACTION = 0.001
ROUND_LOT = 100
SUB_PENNY_BELOW = 1.0  # Reg NMS: prices under $1 may be quoted in 1/100 cent


def price_tick(price: float) -> float:
    """Minimum price increment: a cent at $1 and above, 1/100 cent below (Reg NMS sub-penny rule)."""
    return 0.01 if price >= SUB_PENNY_BELOW else 0.0001


def floor_tick(x: np.ndarray | float, tick: np.ndarray | float) -> np.ndarray:
    return np.floor(np.asarray(x) / tick + 1e-7) * tick


def ceil_tick(x: np.ndarray | float, tick: np.ndarray | float) -> np.ndarray:
    return np.ceil(np.asarray(x) / tick - 1e-7) * tick


def lots(shares: np.ndarray | float) -> np.ndarray:
    """Whole round lots nearest ``shares``, at least one."""
    return ROUND_LOT * np.maximum(1, np.round(np.asarray(shares, dtype=float) / ROUND_LOT))


def nbbo(
    mid: np.ndarray, spread_bps: float, depth: np.ndarray, u: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bid, ask, bid size and ask size around each ``mid``: ``spread_bps`` wide, widened outward to the tick
    (never narrower than one tick), ``depth`` shares split ``0.5 + u`` : ``1.5 - u`` between the sides."""
    mid = np.asarray(mid, dtype=float)
    tick = np.where(mid >= SUB_PENNY_BELOW, 0.01, 0.0001)
    half = mid * spread_bps / 20_000
    bid = floor_tick(mid - half, tick)
    ask = ceil_tick(mid + half, tick)
    ask = np.where(ask - bid < tick / 2, bid + tick, ask)
    bid = np.maximum(bid, tick)
    cents = tick >= 0.01
    bid = np.where(cents, np.round(bid, 2), np.round(bid, 4))
    ask = np.where(cents, np.round(ask, 2), np.round(ask, 4))
    depth, u = np.asarray(depth, dtype=float), np.asarray(u, dtype=float)
    return bid, ask, lots(depth * (0.5 + u)), lots(depth * (1.5 - u))
