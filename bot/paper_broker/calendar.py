"""The NYSE trading calendar on the simulated clock.

A thin wrapper around exchange_calendars' ``XNYS`` (holidays, early closes and one-off closures such as
national days of mourning come from there, never from a hand-written list). The schedule is copied once
into integer nanosecond arrays so every question ("is the market open at t?", "when does it next open?")
is a binary search: cheap enough to ask on every simulated tick, and free of wall-clock reads.

All datetimes in and out are timezone-aware; results are in UTC. Naive datetimes are refused because
guessing their zone is exactly the kind of silent error that shifts a whole backtest by five hours.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import numpy as np
import pandas as pd

__all__ = ["Session", "TradingCalendar", "to_ns", "from_ns", "DEFAULT_START", "DEFAULT_END"]

DEFAULT_START = dt.date(2003, 1, 1)
DEFAULT_END = dt.date(2023, 12, 31)
NS_PER_MINUTE = 60 * 10**9
EXCHANGE_TZ = ZoneInfo("America/New_York")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_ns(t: dt.datetime) -> int:
    """Exact integer nanoseconds since the Unix epoch of an aware datetime (pandas Timestamps too)."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"naive datetime {t!r}: pass a timezone-aware datetime")
    delta = t - _EPOCH
    ns = (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1_000
    return ns + int(getattr(t, "nanosecond", 0))


def from_ns(ns: int) -> dt.datetime:
    """The UTC datetime of integer epoch nanoseconds (truncated to microseconds)."""
    return _EPOCH + dt.timedelta(microseconds=int(ns) // 1_000)


def _exchange_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=EXCHANGE_TZ)


def _xnys_schedule(start: dt.date, end: dt.date) -> pd.DataFrame:
    """exchange_calendars' XNYS schedule (UTC open/close per session).

    exchange_calendars 4.x reads ``Series.values`` on tz-aware columns, which pandas 3.1 deprecates; the
    warning is about its internals (the values it gets are still right), so it is silenced here only.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Series\.values returning an ndarray that drops timezone")
        return xcals.get_calendar("XNYS", start=start.isoformat(), end=end.isoformat()).schedule


@dataclass(frozen=True)
class Session:
    """One regular trading session: its exchange date and its open/close instants (aware, UTC)."""

    date: dt.date
    open: dt.datetime
    close: dt.datetime

    @property
    def minutes(self) -> int:
        """Number of regular-session minutes (390 on a full day, 210 on a 13:00 early close)."""
        return int((self.close - self.open).total_seconds()) // 60


class TradingCalendar:
    """NYSE sessions between ``start`` and ``end`` (inclusive dates); questions outside raise ValueError.

    Raising rather than answering "closed" outside the span matters: a clock run past the calendar's end
    would otherwise look like an endless holiday.
    """

    def __init__(self, start: dt.date = DEFAULT_START, end: dt.date = DEFAULT_END) -> None:
        if end < start:
            raise ValueError(f"calendar end {end} is before start {start}")
        schedule = _xnys_schedule(start, end)
        self.start, self.end = start, end
        self._days = np.asarray([d.toordinal() for d in schedule.index.date], dtype=np.int64)
        self._open_ns = schedule["open"].dt.as_unit("ns").astype("int64").to_numpy()
        self._close_ns = schedule["close"].dt.as_unit("ns").astype("int64").to_numpy()
        self._sessions = self._session_list()
        self._lo_ns = to_ns(_exchange_midnight(start))  # the span is [start 00:00 ET, end + 1 day 00:00 ET)
        self._hi_ns = to_ns(_exchange_midnight(end + dt.timedelta(days=1)))

    def _session_list(self) -> list[Session]:
        return [
            Session(dt.date.fromordinal(int(d)), from_ns(o), from_ns(c))
            for d, o, c in zip(self._days, self._open_ns, self._close_ns, strict=True)
        ]

    def __getstate__(self) -> dict:
        """Pickled without the `Session` objects, rebuilt from the arrays on load: a market-data worker
        process gets the calendar in about a millisecond instead of a tenth of a second."""
        return {k: v for k, v in self.__dict__.items() if k != "_sessions"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._sessions = self._session_list()

    @classmethod
    def for_span(cls, first_day: dt.date, last_day: dt.date, margin_days: int = 366) -> TradingCalendar:
        """A calendar covering a data span plus a margin either side (so "next open" after the data works)."""
        margin = dt.timedelta(days=margin_days)
        return cls(first_day - margin, last_day + margin)

    # -- by date

    def session(self, day: dt.date) -> Session | None:
        """The session on ``day``, or None on weekends and holidays."""
        i = self._day_index(day)
        return self._sessions[i] if i is not None else None

    def is_session(self, day: dt.date) -> bool:
        return self._day_index(day) is not None

    def session_ordinals(self) -> np.ndarray:
        """Read-only int64 array of every session's ``date.toordinal()``, ascending."""
        view = self._days.view()
        view.setflags(write=False)
        return view

    def previous_session(self, day: dt.date) -> Session | None:
        """The last session strictly before ``day`` (None if it precedes the calendar)."""
        self._check_day(day)
        i = int(np.searchsorted(self._days, day.toordinal(), side="left")) - 1
        return self._sessions[i] if i >= 0 else None

    def next_session(self, day: dt.date) -> Session | None:
        """The first session strictly after ``day`` (None if it is past the calendar's end)."""
        self._check_day(day)
        i = int(np.searchsorted(self._days, day.toordinal(), side="right"))
        return self._sessions[i] if i < len(self._sessions) else None

    def sessions_between(self, start: dt.date, end: dt.date) -> list[Session]:
        """Sessions with ``start <= date <= end``, oldest first (a range query: clipped to the calendar)."""
        lo = int(np.searchsorted(self._days, start.toordinal(), side="left"))
        hi = int(np.searchsorted(self._days, end.toordinal(), side="right"))
        return self._sessions[lo:hi]

    # -- by instant

    def session_at(self, t: dt.datetime) -> Session | None:
        """The session whose [open, close) contains ``t``, or None while the market is closed."""
        ns = to_ns(t)
        i = self._opened_index(ns)
        return self._sessions[i] if i >= 0 and ns < self._close_ns[i] else None

    def is_open(self, t: dt.datetime) -> bool:
        return self.session_at(t) is not None

    def last_closed_session(self, t: dt.datetime) -> Session | None:
        """The most recent session whose close is at or before ``t`` (what a closing quote refers to)."""
        ns = self._checked_ns(t)
        i = int(np.searchsorted(self._close_ns, ns, side="right")) - 1
        return self._sessions[i] if i >= 0 else None

    def next_open(self, t: dt.datetime) -> dt.datetime:
        """The first session open strictly after ``t``: while open, the next session's (as Alpaca's clock)."""
        ns = self._checked_ns(t)
        i = int(np.searchsorted(self._open_ns, ns, side="right"))
        return self._session_or_raise(i, t).open

    def next_close(self, t: dt.datetime) -> dt.datetime:
        """The current session's close while open, else the next session's close."""
        ns = self._checked_ns(t)
        i = int(np.searchsorted(self._close_ns, ns, side="right"))
        return self._session_or_raise(i, t).close

    # -- internals

    def _opened_index(self, ns: int) -> int:
        """Index of the last session that opened at or before ``ns`` (-1 if none)."""
        self._check_ns(ns)
        return int(np.searchsorted(self._open_ns, ns, side="right")) - 1

    def _checked_ns(self, t: dt.datetime) -> int:
        ns = to_ns(t)
        self._check_ns(ns)
        return ns

    def _check_ns(self, ns: int) -> None:
        if not self._lo_ns <= ns < self._hi_ns:
            raise ValueError(f"{from_ns(ns).isoformat()} is outside the calendar ({self.start}..{self.end})")

    def _check_day(self, day: dt.date) -> None:
        if not self.start <= day <= self.end:
            raise ValueError(f"{day} is outside the calendar ({self.start}..{self.end})")

    def _day_index(self, day: dt.date) -> int | None:
        self._check_day(day)
        i = int(np.searchsorted(self._days, day.toordinal()))
        return i if i < self._days.size and self._days[i] == day.toordinal() else None

    def _session_or_raise(self, i: int, t: dt.datetime) -> Session:
        if i >= len(self._sessions):
            raise ValueError(f"no session after {t.isoformat()} within the calendar (ends {self.end})")
        return self._sessions[i]
