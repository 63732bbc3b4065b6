"""The rules of an approval request's life, as pure functions: when it lapses, whether an approved plan still
stands on fresh quotes, and whether a rejected plan may be asked again.

pending -> approved | rejected | expired | superseded. A held plan is replaced (superseded) when a fresh plan
differs materially; an approved plan is re-checked on fresh quotes before anything is sent and, if its prices
or its trades moved beyond the tolerances, superseded by a fresh plan that is asked again; a rejected plan is
not asked again until the drift that motivated it has changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal

from strategies.plan import RebalancePlan


def expiry_time(now: datetime, next_close: datetime, expiry: str | int) -> datetime:
    """When a request made at ``now`` lapses: the market close, or after ``expiry`` minutes (never later
    than the close)."""
    if expiry == "market_close":
        return next_close
    return min(now + timedelta(minutes=int(expiry)), next_close)


def lapsed(expires_at: datetime | None, now: datetime) -> bool:
    """Whether a request that lapses at ``expires_at`` has lapsed at ``now`` (the broker's time). The one
    rule for every place that asks: the bot expiring held plans, an approved plan about to start, and a
    person deciding from the CLI while the bot is stopped."""
    return expires_at is not None and now >= expires_at


def trades_differ(held_details: Mapping, plan: RebalancePlan, tolerance: Decimal) -> bool:
    """A trade appeared or disappeared, or one's size moved by more than ``tolerance`` of the gross
    notional."""
    held = {(o["symbol"], o["side"]): Decimal(o["est_notional"]) for o in held_details["orders"]}
    fresh = {(o.symbol, o.side.value): o.est_notional for o in plan.orders}
    if held.keys() != fresh.keys():
        return True
    gross = max(Decimal(held_details["gross_notional"]), plan.gross_notional, Decimal(1))
    return any(abs(held[key] - fresh[key]) > tolerance * gross for key in held)


def moved_prices(
    details: Mapping, prices: Mapping[str, Decimal], tolerance: Decimal
) -> list[tuple[str, Decimal, Decimal]]:
    """Orders whose symbol's price moved more than ``tolerance`` (a fraction) from the plan's estimate:
    (symbol, planned price, fresh price). A symbol with no fresh price counts as moved."""
    moved = []
    for order in details["orders"]:
        planned = Decimal(order["est_price"])
        fresh = prices.get(order["symbol"])
        if fresh is None or fresh <= 0 or planned <= 0:
            moved.append((order["symbol"], planned, fresh or Decimal(0)))
        elif abs(fresh / planned - 1) > tolerance:
            moved.append((order["symbol"], planned, fresh))
    return moved


def recheck_reasons(
    approved_details: Mapping,
    fresh: RebalancePlan,
    prices: Mapping[str, Decimal],
    price_tolerance: Decimal,
    change_tolerance: Decimal,
) -> list[str]:
    """Why an approved plan may no longer be sent as approved (empty: it stands)."""
    reasons = [
        f"{symbol} moved {fresh_price / planned - 1:+.2%} (${planned:,.2f} -> ${fresh_price:,.2f}), beyond "
        f"approval.price_tolerance {price_tolerance:.2%}"
        if planned > 0 and fresh_price > 0
        else f"{symbol}: no fresh price"
        for symbol, planned, fresh_price in moved_prices(approved_details, prices, price_tolerance)
    ]
    if not fresh.orders:
        reasons.append("on fresh quotes nothing needs trading any more")
    elif trades_differ(approved_details, fresh, change_tolerance):
        reasons.append(
            f"on fresh quotes the trades differ by more than approval.change_tolerance {change_tolerance:.0%}"
        )
    return reasons


def drift_of(details: Mapping) -> dict[str, Decimal]:
    """The drift vector (weight - target per asset) a stored plan was made on."""
    return {a["symbol"]: Decimal(a["drift"]) for a in details.get("trigger", {}).get("assets", [])}


def drift_moved(rejected_details: Mapping, plan: RebalancePlan, threshold: Decimal) -> bool:
    """Whether the drift has changed enough since a rejection to ask again: some asset's drift moved by more
    than ``threshold`` (weight units), or the set of assets changed."""
    before = drift_of(rejected_details)
    now = plan.drift_before
    if before.keys() != now.keys():
        return True
    return any(abs(now[symbol] - before[symbol]) > threshold for symbol in now)
