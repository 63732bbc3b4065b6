"""Copy the broker's FILL activities into the state store, where the lot ledger is replayed from.

Why a copy: the ledger must survive a broker that is down, and reading an account's whole history every
cycle would cost many paginated requests. Each refresh asks only for activities after the newest one already
recorded (less a second of overlap: Alpaca's ``after`` is a time, and two fills can share a timestamp) and
records each activity once by its id, so an overlap or a repeated refresh never counts a fill twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

import structlog

from bot.broker.alpaca import AlpacaBroker
from bot.state.store import StateStore, TaxFillRecord
from strategies.tax import fill_from_activity

log = structlog.get_logger(__name__)

OVERLAP = timedelta(seconds=1)


def fill_record(account: str, activity: Mapping[str, object]) -> TaxFillRecord:
    """One FILL activity as the store keeps it (trade date on the New York calendar, as the IRS counts)."""
    fill = fill_from_activity(account, activity)
    at = datetime.fromisoformat(str(activity["transaction_time"]).replace("Z", "+00:00"))
    order_id = activity.get("order_id")
    return TaxFillRecord(
        account=account,
        fill_id=fill.fill_id,
        source="broker",
        symbol=fill.symbol,
        side=fill.side.value,
        qty=fill.qty,
        price=fill.price,
        trade_date=fill.day,
        at=at,
        order_id=str(order_id) if order_id else None,
    )


def record_activities(store: StateStore, account: str, activities: Iterable[Mapping[str, object]]) -> int:
    """Record FILL activities (each once); returns how many were new."""
    return store.add_tax_fills([fill_record(account, a) for a in activities])


def refresh_fills(broker: AlpacaBroker, store: StateStore, account: str) -> int:
    """Fetch the account's fills since the last one recorded (all of them the first time; the adapter follows
    the pages) and record the new ones; returns how many were new."""
    last = store.last_tax_fill_time(account)
    activities = broker.fill_activities(after=last - OVERLAP if last is not None else None)
    added = record_activities(store, account, activities)
    if added:
        log.info("tax ledger: new fills recorded", fills=added, read=len(activities))
    return added
