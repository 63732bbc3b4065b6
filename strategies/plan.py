"""The planner's output: a frozen, explainable, hashable list of orders.

The plan is what a human approves and what the engine submits, so it has to be self-describing
(:meth:`RebalancePlan.explain`) and it has a content hash over exactly what would be sent to the broker
(symbol, side, quantity or notional): the engine derives deterministic client_order_ids from it, and an
approval is bound to it so that a plan which changed since it was approved is not executed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from strategies.formatting import WHY_WIDTH, pct, pp, shares, signed_pp, usd, why_line
from strategies.money import CENT, QTY_STEP
from strategies.portfolio import Side
from strategies.targets import ZERO
from strategies.triggers import TriggerDecision


@dataclass(frozen=True)
class PlannedOrder:
    """One market order: ``qty`` for sells and whole-share buys, ``notional`` for fractional buys."""

    symbol: str
    side: Side
    qty: Decimal | None
    notional: Decimal | None
    est_price: Decimal
    est_notional: Decimal
    reason: str

    def __post_init__(self) -> None:
        if (self.qty is None) == (self.notional is None):
            raise ValueError(f"order on {self.symbol}: give exactly one of qty or notional")

    def describe(self) -> str:
        """E.g. ``SELL SPY 20 sh @ ~$500.00 = ~$10,000.00``."""
        amount = f"{shares(self.qty)} sh" if self.qty is not None else usd(self.notional or ZERO)
        return (
            f"{self.side.value.upper():4} {self.symbol:6} {amount} @ ~{usd(self.est_price)}"
            f" = ~{usd(self.est_notional)}"
        )

    def content(self) -> dict[str, str | None]:
        """What the broker receives, canonically rounded (cents, 9-decimal quantities), for hashing."""
        return {
            "symbol": self.symbol,
            "side": self.side.value,
            "qty": _canonical(self.qty, QTY_STEP),
            "notional": _canonical(self.notional, CENT),
        }


@dataclass(frozen=True)
class SkippedTrade:
    """A trade the planner wanted but did not plan, and why."""

    symbol: str
    reason: str


@dataclass(frozen=True)
class RebalancePlan:
    """Orders (sells first), skipped trades, and the before/after picture of the portfolio.

    ``weights_before``/``weights_after`` include cash under the ``CASH`` key and are measured at mid prices
    on the snapshot with open orders applied; ``weights_after`` assumes every order fills at its estimate.
    """

    decision: TriggerDecision
    equity: Decimal
    orders: tuple[PlannedOrder, ...] = ()
    skipped: tuple[SkippedTrade, ...] = ()
    weights_before: Mapping[str, Decimal] = field(default_factory=dict)
    weights_after: Mapping[str, Decimal] = field(default_factory=dict)
    cash_after: Decimal = ZERO

    def __post_init__(self) -> None:
        object.__setattr__(self, "orders", tuple(self.orders))
        object.__setattr__(self, "skipped", tuple(self.skipped))
        object.__setattr__(self, "weights_before", MappingProxyType(dict(self.weights_before)))
        object.__setattr__(self, "weights_after", MappingProxyType(dict(self.weights_after)))

    @property
    def is_empty(self) -> bool:
        return not self.orders

    @property
    def sells(self) -> tuple[PlannedOrder, ...]:
        return tuple(o for o in self.orders if o.side is Side.SELL)

    @property
    def buys(self) -> tuple[PlannedOrder, ...]:
        return tuple(o for o in self.orders if o.side is Side.BUY)

    @property
    def sell_notional(self) -> Decimal:
        return sum((o.est_notional for o in self.sells), start=ZERO)

    @property
    def buy_notional(self) -> Decimal:
        return sum((o.est_notional for o in self.buys), start=ZERO)

    @property
    def gross_notional(self) -> Decimal:
        """Buys plus sells: the size measure approval thresholds and hard limits compare against."""
        return self.buy_notional + self.sell_notional

    @property
    def drift_before(self) -> dict[str, Decimal]:
        """Drift (weight - target) per asset before trading, from the trigger decision."""
        return {row.symbol: row.drift for row in self.decision.assets}

    @property
    def drift_after(self) -> dict[str, Decimal]:
        """Expected drift per asset once every order fills at its estimate."""
        return {
            row.symbol: self.weights_after.get(row.symbol, ZERO) - row.target for row in self.decision.assets
        }

    def content_hash(self) -> str:
        """sha256 (hex) over the orders' broker-facing content; independent of prices, reasons and skips."""
        payload = json.dumps([o.content() for o in self.orders], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()

    def explain(self, brief: str | None = None) -> str:
        """Multi-line account of what triggered, the numbers, the orders and what was skipped. With
        ``brief`` the trigger's reason is one line (:func:`~strategies.formatting.why_line`), ``brief``
        appended where it was cut (e.g. where the whole reason is)."""
        trigger = f"Trigger {self.decision.trigger}: {'FIRED' if self.decision.fired else 'quiet'}: "
        reason = self.decision.reason
        if brief is not None:
            reason = why_line(reason, max(WHY_WIDTH - len(trigger), 60), brief)
        lines = [
            f"Rebalance plan {self.content_hash()[:12]} on equity {usd(self.equity)}",
            trigger + reason,
            *self._asset_table(),
        ]
        if self.orders:
            lines.append("Orders (sells first):")
            lines += [f"  {o.describe()}  <- {o.reason}" for o in self.orders]
        else:
            lines.append("Orders: none")
        if self.skipped:
            lines.append("Skipped:")
            lines += [f"  {s.symbol}: {s.reason}" for s in self.skipped]
        lines.append(
            f"Totals: sell ~{usd(self.sell_notional)}, buy ~{usd(self.buy_notional)}, "
            f"cash after ~{usd(self.cash_after)}"
        )
        return "\n".join(lines)

    def _asset_table(self) -> list[str]:
        if not self.decision.assets:
            return []
        lines = [
            f"  {'asset':6} {'weight':>8} {'target':>8} {'drift':>9} {'band':>8}  breached  {'after':>8}"
        ]
        for row in self.decision.assets:
            band = pp(row.band) if row.band is not None else "-"
            after = self.weights_after.get(row.symbol)
            after_text = pct(after) if after is not None else "-"
            lines.append(
                f"  {row.symbol:6} {pct(row.weight):>8} {pct(row.target):>8} {signed_pp(row.drift):>9}"
                f" {band:>8}  {'YES' if row.breached else 'no':8}  {after_text:>8}"
            )
        return lines


def _canonical(value: Decimal | None, step: Decimal) -> str | None:
    """Fixed-point text without trailing zeros, so 20 and 20.000000000 hash the same."""
    if value is None:
        return None
    text = format(value.quantize(step).normalize(), "f")
    return "0" if text in ("-0", "0") else text
