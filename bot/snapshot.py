"""Reads an account from the broker and turns it into the planner's ``PortfolioSnapshot``.

One cycle reads the account, positions, open orders and the latest quotes of every symbol that matters (one
batched request), so the decision code in ``strategies/`` sees a consistent picture and never does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.broker.models import AccountState, AssetInfo, OrderState, PositionState, QuoteState
from strategies.portfolio import OpenOrder, PortfolioSnapshot, Side


@dataclass(frozen=True)
class AccountView:
    """Everything one cycle read from the broker for one account."""

    account: AccountState
    positions: tuple[PositionState, ...]
    open_orders: tuple[OrderState, ...]
    quotes: dict[str, QuoteState]
    assets: dict[str, AssetInfo]


def symbols_of_interest(targets: set[str], view_positions, open_orders) -> list[str]:  # noqa: ANN001
    """Targets, holdings and symbols with working orders: every price the planner may need."""
    held = {p.symbol for p in view_positions if p.qty != 0}
    working = {o.symbol for o in open_orders}
    return sorted(targets | held | working)


def build_snapshot(view: AccountView, fractional_allowed: bool = True) -> PortfolioSnapshot:
    """Mid prices from quotes (else the position's own price); open orders as pending trades."""
    prices: dict[str, Decimal] = {}
    bids: dict[str, Decimal] = {}
    asks: dict[str, Decimal] = {}
    for symbol, quote in view.quotes.items():
        if quote.bid > 0 and quote.ask > 0:
            prices[symbol] = quote.mid
            bids[symbol], asks[symbol] = quote.bid, quote.ask
        elif quote.ask > 0 or quote.bid > 0:
            prices[symbol] = max(quote.ask, quote.bid)
    for position in view.positions:
        if position.symbol not in prices and position.current_price > 0:
            prices[position.symbol] = position.current_price
    return PortfolioSnapshot(
        cash=view.account.cash,
        positions={p.symbol: p.qty for p in view.positions},
        prices=prices,
        bids=bids,
        asks=asks,
        fractionable={s: a.fractionable and fractional_allowed for s, a in view.assets.items()},
        open_orders=tuple(_pending(o) for o in view.open_orders),
    )


def _pending(order: OrderState) -> OpenOrder:
    """What an open order still does: its unfilled quantity, or its unspent notional."""
    side = Side(order.side)
    if order.qty is not None:
        return OpenOrder(order.symbol, side, qty=max(order.qty - order.filled_qty, Decimal(0)))
    spent = order.filled_qty * (order.filled_avg_price or Decimal(0))
    return OpenOrder(order.symbol, side, notional=max((order.notional or Decimal(0)) - spent, Decimal(0)))
