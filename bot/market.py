"""The live bot's market data for the dynamic triggers: trailing daily returns and cost inputs.

``strategies`` never fetches anything; this module turns the broker's daily bars into the
``strategies.market_state.MarketState`` a dynamic trigger reads from ``TriggerContext.market``, the same
shape the backtester builds (``bot.backtest.engine``): aligned close-to-close returns, oldest first, and
per-asset cost inputs (spread, 20-session ADV and volatility for the square-root impact). The spread is the
calibrated one refined by the bot's own fills (``bot/cost_estimates.py``). Any failure to get bars leaves
the market empty: the triggers then fall back to their configured bands and say so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import structlog

from bot.broker.models import BarState
from bot.cost_estimates import cost_estimates
from bot.cost_table import calibrated_spread
from bot.state.store import StateStore
from strategies.market_state import AssetCosts, MarketState, returns_from_prices
from strategies.targets import CASH
from strategies.triggers import TriggerContext

log = structlog.get_logger(__name__)

COST_WINDOW = 20
"""Sessions behind the ADV and daily-volatility cost inputs."""


def market_state_from_bars(
    bars: Mapping[str, Sequence[BarState]],
    symbols: Sequence[str],
    lookback: int,
    spreads: Mapping[str, float] | None = None,
) -> MarketState:
    """Returns over the sessions every symbol has a bar on (at most ``lookback`` of them) and cost inputs;
    a symbol without bars is left out (its triggers fall back). ``spreads``: full spreads (bp) to use,
    by symbol; a symbol not in it gets the calibrated table's."""
    spreads = spreads or {}
    wanted = [s for s in symbols if s != CASH and bars.get(s)]
    if not wanted:
        return MarketState()
    by_day = {s: {b.t.date(): b for b in bars[s]} for s in wanted}
    common = sorted(set.intersection(*(set(days) for days in by_day.values())))[-(lookback + 1) :]
    if len(common) < 3:
        return MarketState()
    closes = {s: [float(by_day[s][d].close) for d in common] for s in wanted}
    returns = {s: returns_from_prices(c) for s, c in closes.items()}
    costs = {}
    for s in wanted:
        recent = returns[s][-COST_WINDOW:]
        sigma = math.sqrt(sum(r * r for r in recent) / len(recent))
        volumes = [float(by_day[s][d].volume) for d in common[-COST_WINDOW:]]
        costs[s] = AssetCosts(
            spread_bps=spreads.get(s, calibrated_spread(s)),
            adv=sum(volumes) / len(volumes),
            sigma_daily=sigma,
        )
    return MarketState.from_series(returns, costs)


def decision_spreads(store: StateStore, symbols: Sequence[str]) -> dict[str, float]:
    """Full spreads (bp) for the decision: each symbol's calibrated prior blended with its realised fills;
    every estimate that fills have moved is logged with its prior and measurement."""
    estimates = cost_estimates(store, [s for s in symbols if s != CASH])
    for estimate in estimates.values():
        if estimate.measured_bp is not None:
            log.info("cost_estimate", message=estimate.describe(), symbol=estimate.symbol)
    return {s: e.spread_bps for s, e in estimates.items()}


def last_rebalance_at(store: StateStore, account: str) -> datetime | None:
    """When the account's latest completed (``done``) plan was made, from the state store."""
    done = store.plans(account=account, status="done", limit=1)
    return done[0].created_at if done else None


def live_context(
    broker: object,
    store: StateStore,
    account: str,
    now: datetime,
    symbols: Sequence[str],
    lookback: int,
    sell_taxes: Mapping[str, float] | None = None,
) -> TriggerContext:
    """The ``TriggerContext`` for a live decision: the clock's time, the last rebalance on record and, when
    the trigger needs history (``lookback`` > 0), the trailing daily bars (cached per day by the broker), with
    ``sell_taxes`` (tax per dollar sold, from the lot ledger when the config has a ``tax`` section) among the
    cost inputs."""
    market = None
    if lookback > 0:
        start = (now - timedelta(days=int(lookback * 1.5) + 10)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        end = now.replace(hour=0, minute=0, second=0, microsecond=0)  # sessions before today: no partial bar
        try:
            bars = broker.daily_bars(symbols, start, end)  # type: ignore[attr-defined]
            market = market_state_from_bars(bars, symbols, lookback, decision_spreads(store, symbols))
        except Exception as exc:  # noqa: BLE001 - missing data must never stop the bot
            log.warning("daily_bars_unavailable", error=str(exc))
            market = MarketState()
        market = market.with_tax(sell_taxes or {})
    return TriggerContext(now=now, last_rebalance_at=last_rebalance_at(store, account), market=market)
