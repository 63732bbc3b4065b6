"""Volume statistics from bars, as pure functions: average daily volume and the intraday volume profile."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.broker.models import BarState

NEW_YORK = ZoneInfo("America/New_York")
ADV_SESSIONS = 20
PROFILE_SESSIONS = 3
SESSION_MINUTES = 390


def et_date(t: datetime) -> date:
    return t.astimezone(NEW_YORK).date()


def session_minute(t: datetime) -> int:
    """Minutes since 09:30 New York time on ``t``'s date (0 = the opening minute)."""
    local = t.astimezone(NEW_YORK)
    return (local.hour * 60 + local.minute) - (9 * 60 + 30)


def adv_from_bars(daily: Sequence[BarState], today: date, sessions: int = ADV_SESSIONS) -> Decimal | None:
    """Mean volume of the last ``sessions`` daily bars strictly before ``today`` (a running session's partial
    bar is left out); None without history."""
    past = [b for b in daily if et_date(b.t) < today]
    past = past[-sessions:]
    if not past:
        return None
    return sum((b.volume for b in past), Decimal(0)) / len(past)


def minute_profile(
    minutes: Iterable[BarState], today: date, sessions: int = PROFILE_SESSIONS
) -> dict[int, float]:
    """Average volume at each session minute (0-389) over the last ``sessions`` sessions before ``today``.
    A minute missing from a session's bars counts as no volume that session."""
    by_day: dict[date, dict[int, float]] = {}
    for bar in minutes:
        day = et_date(bar.t)
        if day >= today:
            continue
        minute = session_minute(bar.t)
        if 0 <= minute < SESSION_MINUTES:
            by_day.setdefault(day, {})[minute] = float(bar.volume)
    days = sorted(by_day)[-sessions:]
    if not days:
        return {}
    profile: dict[int, float] = {}
    for day in days:
        for minute, volume in by_day[day].items():
            profile[minute] = profile.get(minute, 0.0) + volume
    return {minute: total / len(days) for minute, total in profile.items()}


def volume_between(minutes: Iterable[BarState], start: datetime, end: datetime) -> Decimal:
    """Volume of the minute bars that start in ``[start, end)``."""
    return sum((b.volume for b in minutes if start <= b.t < end), Decimal(0))


def robust_volume(minutes: Iterable[BarState], start: datetime, end: datetime, clip: int = 3) -> Decimal:
    """Volume of ``[start, end)`` for sizing a child: each minute counted at most ``clip`` times the median
    of the minutes that traded. Real minute bars have single minutes of ten times the usual volume (block
    prints); counted in full, one would make the next child ten times larger than the minutes after it can
    absorb. Never more than the volume traded, so the cap holds against the real interval."""
    traded = sorted(b.volume for b in minutes if start <= b.t < end and b.volume > 0)
    if not traded:
        return Decimal(0)
    middle = len(traded) // 2
    median = traded[middle] if len(traded) % 2 else (traded[middle - 1] + traded[middle]) / 2
    return sum((min(v, clip * median) for v in traded), Decimal(0))


def floor_minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def minutes_until(start: datetime, end: datetime) -> int:
    return max(0, int((end - start) // timedelta(minutes=1)))
