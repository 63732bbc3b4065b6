"""The re-check of an approved plan on fresh prices, one function for the account and the household bot.

The rules are pure (:mod:`strategies.approval_recheck`); this module gathers their inputs: the daily closes
behind each asset's volatility (from the broker's daily bars, a failure leaving the floor tolerance, which
the reason then says) and the sessions since the plan was priced on the New York calendar. It also words
what a re-ask says: per symbol the planned and fresh prices, the move and the tolerance it exceeded, and
which orders changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import structlog

from bot.config import ApprovalConfig
from bot.state.store import PlanRecord
from strategies.approval_recheck import (
    VOLATILITY_SESSIONS,
    OrderChange,
    PriceMove,
    Tolerance,
    daily_sigmas,
    order_changes,
    price_moves,
    sessions_between,
    tolerance,
)

NEW_YORK = ZoneInfo("America/New_York")
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Recheck:
    """What the re-check found; ``stands`` when nothing."""

    plan_id: str
    moves: tuple[PriceMove, ...]
    changes: tuple[OrderChange, ...]
    """Material changes of the fresh plan's orders (beyond ``approval.change_tolerance``)."""
    nothing_left: bool
    tolerances: Mapping[str, Tolerance]
    approved_orders: tuple[Mapping, ...] = ()

    @property
    def stands(self) -> bool:
        return not (self.moves or self.changes or self.nothing_left)

    def reasons(self) -> list[str]:
        """One line per finding, each saying what moved and by how much."""
        lines = [move.line() for move in self.moves]
        if self.nothing_left:
            lines.append("on fresh quotes nothing needs trading any more")
        elif self.changes:
            lines.append(
                "beyond approval.change_tolerance on fresh quotes: "
                + ", ".join(change.line() for change in self.changes)
            )
        return lines

    def reask(self, fresh_orders: Sequence[Mapping]) -> str:
        """Why a fresh plan that replaces the approved one is asked: what moved, and which of its orders
        differ from the approved ones (every change of amount, not only the material ones)."""
        text = f"it replaces approved plan {self.plan_id}: " + "; ".join(self.reasons())
        return text + changed_orders_text(self.approved_orders, fresh_orders)


def changed_orders_text(approved: Sequence[Mapping], fresh: Sequence[Mapping]) -> str:
    """``; orders changed: SELL SPY 10 sh -> 12 sh, new order BUY AGG $500.00`` (empty: none changed)."""
    changes = order_changes(approved, fresh)
    if not changes:
        return "; the orders are as approved, at fresh prices"
    return "; orders changed: " + ", ".join(change.line() for change in changes)


def recheck_approved(
    broker: object,
    approval: ApprovalConfig,
    plan: PlanRecord,
    prices: Mapping[str, Decimal],
    now: datetime,
    fresh_orders: Sequence[Mapping] | None = None,
) -> Recheck:
    """Re-check the approved ``plan`` on fresh ``prices``: each symbol's move against its volatility-scaled
    tolerance and, given ``fresh_orders`` (the plan made now, as stored order dicts), the orders against
    ``approval.change_tolerance``. ``broker`` serves the daily bars behind the volatilities."""
    orders = plan.details["orders"]
    symbols = sorted({o["symbol"] for o in orders})
    tolerances = volatility_tolerances(broker, approval, symbols, plan.created_at, now)
    moves = price_moves(orders, prices, tolerances)
    changes: list[OrderChange] = []
    nothing_left = fresh_orders is not None and not fresh_orders
    if fresh_orders:
        changes = order_changes(orders, fresh_orders, approval.change_tolerance)
    return Recheck(plan.plan_id, tuple(moves), tuple(changes), nothing_left, tolerances, tuple(orders))


def volatility_tolerances(
    broker: object, approval: ApprovalConfig, symbols: Sequence[str], priced_at: datetime, now: datetime
) -> dict[str, Tolerance]:
    """Each symbol's tolerance: ``max(price_tolerance, volatility_multiple x daily vol x sqrt(sessions))``
    over the sessions since ``priced_at``; the floor alone where the bars cannot be read."""
    sessions = sessions_between(priced_at.astimezone(NEW_YORK).date(), now.astimezone(NEW_YORK).date())
    sigmas: dict[str, float] = {}
    if approval.volatility_multiple > 0 and symbols:
        sigmas = daily_sigmas(_closes(broker, symbols, now))
    return {
        s: tolerance(sigmas.get(s), sessions, approval.volatility_multiple, approval.price_tolerance)
        for s in symbols
    }


def _closes(broker: object, symbols: Sequence[str], now: datetime) -> dict[str, list[float]]:
    """Daily closes of the sessions before today (no partial bar), enough for the estimator."""
    end = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=int(VOLATILITY_SESSIONS * 1.5) + 10)
    try:
        bars = broker.daily_bars(symbols, start, end)  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - no volatility leaves the floor tolerance, and says so
        log.warning("daily bars unavailable for the approval re-check; floor tolerance", error=str(exc))
        return {}
    return {s: [float(b.close) for b in bars.get(s, [])] for s in symbols}
