"""The store's companions on both engines: dashboard sessions and the equity history with the last known
pictures (their upserts are the engine-specific part: ON CONFLICT through each dialect)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from bot.state.equity_history import EquityDay, EquityHistory
from bot.state.store import StateStore
from bot.state.web_sessions import WebSessions

T0 = datetime(2020, 3, 2, 21, 0, tzinfo=UTC)


class Wall:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_sessions_are_created_found_expired_and_revoked(store: StateStore) -> None:
    wall = Wall()
    sessions = WebSessions(store, wall=wall)
    alice, bob = sessions.create("alice", 3600), sessions.create("bob", 60)
    assert sessions.active(alice) and sessions.active(bob) and sessions.count() == 2
    assert not sessions.active("forged") and not sessions.active("")
    wall.now += 120
    assert not sessions.active(bob) and sessions.count() == 1
    assert sessions.revoke(alice) is True and sessions.revoke(alice) is False
    sessions.create("carol", 60)
    assert sessions.revoke_all() == 1  # bob's expired row was pruned when carol signed in
    assert sessions.count() == 0


def day(n: int, equity: str, at: datetime = T0) -> EquityDay:
    return EquityDay(
        account="main",
        day=date(2020, 3, 2) + timedelta(days=n),
        at=at + timedelta(days=n),
        equity=Decimal(equity),
        cash=Decimal("100.25"),
        day_pl=None if n == 0 else Decimal("-3.5"),
        weights={"SPY": Decimal("0.6"), "cash": Decimal("0.4")},
        targets={"SPY": Decimal("0.6")},
    )


def test_one_equity_row_per_session_and_the_latest_picture_wins(store: StateStore) -> None:
    history = EquityHistory(store)
    assert history.record(day(0, "1000.10")) is True
    assert history.record(day(0, "999")) is False  # a restart in the evening: the first reading stands
    assert history.record(day(1, "1010.00")) is True
    assert [(d.day.day, d.equity) for d in history.days("main")] == [
        (2, Decimal("1000.10")),
        (3, Decimal("1010.00")),
    ]
    assert history.days(limit=1)[0].day_pl == Decimal("-3.5")
    history.save_picture("main", T0, {"equity": "1"})
    history.save_picture("main", T0 + timedelta(minutes=5), {"equity": "2"})
    history.save_picture("main", T0 + timedelta(minutes=1), {"equity": "stale"})  # older: not kept
    assert history.last_picture("main") == {"equity": "2"}
    assert history.last_picture("other") is None
