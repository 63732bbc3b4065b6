"""Prices and dividends of the tax backtest's substitutes, from the run's own data source.

A harvest switches into securities outside the portfolio's targets (BND for AGG, ITOT for VTI); they are
priced from the directory the run's history was read from (``PriceHistory.data_dir``), never from the
bundled data behind its back: one run, one data source.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence

import numpy as np

from bot.backtest.data import DividendMode, PriceHistory, load_history


def _own_history(history: PriceHistory, symbol: str) -> PriceHistory:
    if history.data_dir is None:
        raise ValueError(f"no data directory to read {symbol} from: the history was not read by load_history")
    return load_history([symbol], None, history.end, history.data_dir)


def substitute_prices(
    history: PriceHistory, symbols: Sequence[str], dividends: DividendMode = DividendMode.REINVEST
) -> dict[str, np.ndarray]:
    """Prices of symbols outside ``history`` (substitutes) on its sessions; NaN before a symbol's first bar
    (unavailable: never bought). A session it lacks afterwards repeats its previous price.

    ``dividends``: ``reinvest`` gives the total-return price (``adj_close``), ``cash`` the close (its
    dividends then come from :func:`substitute_dividends`), as for the history's own symbols.
    """
    out: dict[str, np.ndarray] = {}
    for symbol in symbols:
        if symbol in history.symbols:
            continue
        own = _own_history(history, symbol)
        by_day = dict(zip(own.days, own.prices(dividends)[:, 0], strict=True))
        column = np.array([by_day.get(day, math.nan) for day in history.days])
        for k in range(1, len(column)):
            if math.isnan(column[k]) and not math.isnan(column[k - 1]):
                column[k] = column[k - 1]
        out[symbol] = column
    return out


def substitute_dividends(history: PriceHistory, symbols: Sequence[str]) -> dict[str, np.ndarray]:
    """Cash dividends per share of symbols outside ``history`` on its sessions (an ex-date on a session the
    history lacks is paid on its next session, as ``load_history`` does)."""
    out: dict[str, np.ndarray] = {}
    for symbol in symbols:
        if symbol in history.symbols:
            continue
        own = _own_history(history, symbol)
        column = np.zeros(len(history.days))
        for day, amount in zip(own.days, own.dividend[:, 0], strict=True):
            k = bisect_left(history.days, day)
            if amount and 0 < k < len(history.days):  # row 0 has no dividend (PriceHistory's convention)
                column[k] += float(amount)
        out[symbol] = column
    return out


__all__ = ["substitute_dividends", "substitute_prices"]
