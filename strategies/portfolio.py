"""A point-in-time view of an account and the arithmetic on it (values, equity, weights, drift).

The snapshot is plain data the engine assembles from the broker (or the backtester from history); nothing
here does I/O or reads a clock. Quantities and money are ``Decimal``. Prices are mid prices; bid/ask are
optional and, when present, give the planner conservative fill estimates.

Open orders matter twice: a working order will change holdings and cash when it fills, so decisions are
taken on the *projected* snapshot (:func:`apply_open_orders`), and the planner must never trade against one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from strategies.money import as_decimal
from strategies.targets import CASH, ZERO, TargetAllocation


class Side(StrEnum):
    """Order side; the values match Alpaca's ``OrderSide`` values."""

    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


@dataclass(frozen=True)
class OpenOrder:
    """The unfilled remainder of a working order: exactly one of ``qty`` or ``notional`` is set."""

    symbol: str
    side: Side
    qty: Decimal | None = None
    notional: Decimal | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "side", Side(self.side))
        for name in ("qty", "notional"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, as_decimal(getattr(self, name)))
        if (self.qty is None) == (self.notional is None):
            raise ValueError(f"open order on {self.symbol}: give exactly one of qty or notional")
        amount = self.qty if self.qty is not None else self.notional
        if amount is not None and amount <= 0:
            raise ValueError(f"open order on {self.symbol}: remaining amount must be positive, got {amount}")


@dataclass(frozen=True)
class PortfolioSnapshot:
    """Cash, long positions (share quantities), prices and working orders at one instant.

    Every held symbol and every symbol with an open order needs a positive mid price. ``fractionable``
    defaults to False for symbols it does not mention: whole shares are always safe to order.
    """

    cash: Decimal
    positions: Mapping[str, Decimal]
    prices: Mapping[str, Decimal]
    bids: Mapping[str, Decimal] = field(default_factory=dict)
    asks: Mapping[str, Decimal] = field(default_factory=dict)
    fractionable: Mapping[str, bool] = field(default_factory=dict)
    open_orders: tuple[OpenOrder, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "cash", as_decimal(self.cash))
        for name in ("positions", "prices", "bids", "asks"):
            amounts = {symbol: as_decimal(v) for symbol, v in getattr(self, name).items()}
            object.__setattr__(self, name, MappingProxyType(amounts))
        object.__setattr__(self, "fractionable", MappingProxyType(dict(self.fractionable)))
        object.__setattr__(self, "open_orders", tuple(self.open_orders))
        self._validate()

    def _validate(self) -> None:
        for symbol, qty in self.positions.items():
            if qty < 0:
                raise ValueError(f"short position in {symbol} ({qty}): the rebalancer is long-only")
        needs_price = {s for s, q in self.positions.items() if q > 0} | {o.symbol for o in self.open_orders}
        for symbol in sorted(needs_price):
            if self.prices.get(symbol, ZERO) <= 0:
                raise ValueError(f"no positive price for {symbol}, which is held or has an open order")
        for symbol, price in self.prices.items():
            if price <= 0:
                raise ValueError(f"price of {symbol} must be positive, got {price}")

    def held_symbols(self) -> tuple[str, ...]:
        """Symbols with a positive quantity, sorted."""
        return tuple(sorted(s for s, q in self.positions.items() if q > 0))

    def quantity(self, symbol: str) -> Decimal:
        return self.positions.get(symbol, ZERO)

    def is_fractionable(self, symbol: str) -> bool:
        return self.fractionable.get(symbol, False)


def market_values(snapshot: PortfolioSnapshot) -> dict[str, Decimal]:
    """Value of each held position at the mid price."""
    return {s: snapshot.positions[s] * snapshot.prices[s] for s in snapshot.held_symbols()}


def total_equity(snapshot: PortfolioSnapshot) -> Decimal:
    """Cash plus the market value of all positions."""
    return snapshot.cash + sum(market_values(snapshot).values(), start=ZERO)


def current_weights(snapshot: PortfolioSnapshot) -> dict[str, Decimal]:
    """Weight of every held symbol and of cash (under the ``CASH`` key) in total equity."""
    equity = total_equity(snapshot)
    if equity <= 0:
        raise ValueError(f"weights are undefined for non-positive equity ({equity})")
    weights = {symbol: value / equity for symbol, value in market_values(snapshot).items()}
    weights[CASH] = snapshot.cash / equity
    return weights


@dataclass(frozen=True)
class Drift:
    """How far one asset is from target: ``absolute`` in weight units (0.01 = 1pp), ``relative`` to target."""

    weight: Decimal
    target: Decimal
    absolute: Decimal
    relative: Decimal | None
    """``absolute / target``; None when the target is 0 (relative drift is undefined there)."""


def drift(snapshot: PortfolioSnapshot, targets: TargetAllocation) -> dict[str, Drift]:
    """Drift of every targeted or held symbol, plus the ``CASH`` row, keyed and sorted by symbol."""
    weights = current_weights(snapshot)
    symbols = sorted(set(targets.weights) | set(snapshot.held_symbols()))
    rows: dict[str, Drift] = {}
    for symbol in [*symbols, CASH]:
        weight = weights.get(symbol, ZERO)
        target = targets.weight(symbol)
        absolute = weight - target
        relative = absolute / target if target > 0 else None
        rows[symbol] = Drift(weight=weight, target=target, absolute=absolute, relative=relative)
    return rows


def order_price(snapshot: PortfolioSnapshot, symbol: str, side: Side) -> Decimal:
    """Price a fill is expected at: the ask for buys, the bid for sells, the mid when quotes are missing."""
    quotes = snapshot.asks if side is Side.BUY else snapshot.bids
    quote = quotes.get(symbol)
    return quote if quote is not None and quote > 0 else snapshot.prices[symbol]


def open_order_value(snapshot: PortfolioSnapshot, order: OpenOrder) -> Decimal:
    """Unsigned value of an order's unfilled remainder (notional, or quantity at the mid price)."""
    if order.notional is not None:
        return order.notional
    assert order.qty is not None
    return order.qty * snapshot.prices[order.symbol]


def open_order_quantity(snapshot: PortfolioSnapshot, order: OpenOrder) -> Decimal:
    """Unsigned share quantity of an order's unfilled remainder (notional orders converted at the mid)."""
    if order.qty is not None:
        return order.qty
    assert order.notional is not None
    return order.notional / snapshot.prices[order.symbol]


def value_in_open_orders(snapshot: PortfolioSnapshot) -> dict[str, Decimal]:
    """Signed value waiting in open orders per symbol: positive for buys, negative for sells."""
    pending: dict[str, Decimal] = {}
    for order in snapshot.open_orders:
        sign = 1 if order.side is Side.BUY else -1
        pending[order.symbol] = pending.get(order.symbol, ZERO) + sign * open_order_value(snapshot, order)
    return pending


def apply_open_orders(snapshot: PortfolioSnapshot) -> PortfolioSnapshot:
    """The snapshot as it will be once every open order fills at the mid: decisions are taken on this.

    Buys add shares and consume cash, sells remove shares and release cash. The result has no open orders.
    """
    positions = dict(snapshot.positions)
    cash = snapshot.cash
    for order in snapshot.open_orders:
        sign = 1 if order.side is Side.BUY else -1
        qty = open_order_quantity(snapshot, order)
        positions[order.symbol] = max(positions.get(order.symbol, ZERO) + sign * qty, ZERO)
        cash -= sign * open_order_value(snapshot, order)
    return replace(snapshot, positions=positions, cash=cash, open_orders=())


def sellable_quantity(snapshot: PortfolioSnapshot, symbol: str) -> Decimal:
    """Shares that can be sold now: held minus what open sell orders already commit (never negative)."""
    committed = sum(
        (
            open_order_quantity(snapshot, o)
            for o in snapshot.open_orders
            if o.symbol == symbol and o.side is Side.SELL
        ),
        start=ZERO,
    )
    return max(snapshot.quantity(symbol) - committed, ZERO)


def open_sides(snapshot: PortfolioSnapshot) -> dict[str, frozenset[Side]]:
    """Sides of the orders working on each symbol (used to refuse trading against them)."""
    sides: dict[str, set[Side]] = {}
    for order in snapshot.open_orders:
        sides.setdefault(order.symbol, set()).add(order.side)
    return {symbol: frozenset(s) for symbol, s in sides.items()}
