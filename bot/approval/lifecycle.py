"""The rules of an approval request's life, as pure functions: when it lapses, whether an approved plan still
stands on fresh quotes, and whether a rejected plan may be asked again.

pending -> approved | rejected | expired | superseded. A held plan is replaced (superseded) when a fresh plan
differs materially; an approved plan is re-checked on fresh quotes before anything is sent and, if its prices
or its trades moved beyond the tolerances, superseded by a fresh plan that is asked again (the re-check:
:mod:`bot.approval.recheck`, its rules :mod:`strategies.approval_recheck`); a rejected plan is not asked
again until the drift that motivated it has changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal


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


def drift_of(details: Mapping) -> dict[str, Decimal]:
    """The drift vector (weight - target per asset) a stored plan was made on."""
    return {a["symbol"]: Decimal(a["drift"]) for a in details.get("trigger", {}).get("assets", [])}


def drift_changed(before: Mapping[str, Decimal], now: Mapping[str, Decimal], threshold: Decimal) -> bool:
    """Whether the drift has changed enough since a rejection to ask again: some asset's drift moved by more
    than ``threshold`` (weight units), or the set of assets changed."""
    if before.keys() != now.keys():
        return True
    return any(abs(now[symbol] - before[symbol]) > threshold for symbol in now)
