"""The query of ``GET /v2/account/portfolio/history``, read and resolved as Alpaca documents it.

Alpaca's rules (Trading API spec, ``/v2/account/portfolio/history``), which this module turns into one
``[start, end]`` span, a resolution and a reporting mode:

* ``period`` is ``<n><D|W|M|A>`` (days, weeks, months, years); it defaults to ``1M`` when ``start`` or
  ``end`` is missing and must not be given together with both.
* ``end`` defaults to ``start + period`` when ``start`` is given, else to now; ``start`` to ``end - period``.
  Nothing after the simulated now exists yet, so later ends are cut to it. ``date_end`` (a date, read as the
  end of that New York day) stands in for ``end``; ``date_start`` (the deprecated form of ``start``) likewise.
* ``start``/``end`` are RFC 3339 times, dates (midnight UTC, as Alpaca parses them) or Unix seconds.
* ``timeframe`` is one of 1Min, 5Min, 15Min, 1H, 1D; without one: 1Min under 7 days, 15Min under 30 days,
  else 1D. Intraday resolutions cover at most 30 days.
* ``intraday_reporting`` is market_hours (default), extended_hours (04:00-20:00 New York on trading days)
  or continuous (around the clock); the deprecated ``extended_hours=true`` means extended_hours.
* ``pnl_reset`` is per_day (default: profit/loss against the previous trading day's closing equity) or
  no_reset (against ``base_value``).
* ``cashflow_types`` is ALL, NONE or a comma-separated list of non-trade activity types.

A value that breaks a rule is refused with Alpaca's 422 naming the parameter, never guessed around.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from dateutil.relativedelta import relativedelta

from bot.paper_broker import errors
from bot.paper_broker.params import ACTIVITY_TYPES, EARLIEST, LATEST, choice, choices, time_param
from bot.paper_broker.serialize import NEW_YORK

STEPS = {
    "1Min": timedelta(minutes=1),
    "5Min": timedelta(minutes=5),
    "15Min": timedelta(minutes=15),
    "1H": timedelta(hours=1),
    "1D": timedelta(days=1),
}
REPORTING = ("market_hours", "extended_hours", "continuous")
PNL_RESETS = ("per_day", "no_reset")
INTRADAY_LIMIT = timedelta(days=30)
DEFAULT_PERIOD = "1M"
PERIOD = re.compile(r"^([1-9]\d{0,3})([DWMA])$")
UNITS = {"D": "days", "W": "weeks", "M": "months", "A": "years"}
NON_TRADE_TYPES = tuple(t for t in ACTIVITY_TYPES if t != "FILL")


@dataclass(frozen=True)
class HistoryQuery:
    """A resolved request: the span asked about, and how to sample it."""

    start: datetime
    end: datetime
    """Already cut to the simulated now."""
    timeframe: str
    reporting: str
    pnl_reset: str
    roll_back_to_open: bool
    """Neither start nor end was given: an intraday series starts at the open before ``start``."""
    cashflow_types: frozenset[str] | None
    """None: no cash flows reported; empty: all types (ALL); else the types asked for."""

    @property
    def step(self) -> timedelta:
        return STEPS[self.timeframe]

    @property
    def intraday(self) -> bool:
        return self.timeframe != "1D"


@dataclass(frozen=True)
class RawQuery:
    """The query parameters as sent (strings), before any checking."""

    period: str | None = None
    timeframe: str | None = None
    intraday_reporting: str | None = None
    start: str | None = None
    end: str | None = None
    date_start: str | None = None
    date_end: str | None = None
    pnl_reset: str | None = None
    extended_hours: str | None = None
    cashflow_types: str | None = None

    def resolve(self, now: datetime) -> HistoryQuery:
        start = instant(self.start, "start") or _day_start(self.date_start, "date_start")
        end = instant(self.end, "end") or _day_end(self.date_end, "date_end")
        if (self.start and self.date_start) or (self.end and self.date_end):
            raise errors.invalid_request("give start or date_start (end or date_end), not both")
        if start is not None and end is not None and self.period:
            raise errors.invalid_request("period cannot be combined with both start and end")
        end_from_default_period = end is None and start is not None and not self.period
        if start is None or end is None:
            length = period(self.period or DEFAULT_PERIOD)
            end = end or (_shift(start, length, "end") if start is not None else now)
            start = start or _shift(end, -length, "start")
        if start > end:
            raise errors.invalid_request("start must not be after end")
        # The span asked for; a defaulted period counts only as far as now (a start a week ago with no end
        # is a week, not the month the default period would reach into the future).
        span = (min(end, now) if end_from_default_period else end) - start
        timeframe = choice(self.timeframe, "timeframe", tuple(STEPS)) or _default_timeframe(span)
        if timeframe != "1D" and span > INTRADAY_LIMIT:
            raise errors.invalid_request(
                f"timeframe {timeframe} covers at most 30 days; use 1D for a longer span"
            )
        return HistoryQuery(
            start=start,
            end=min(end, now),
            timeframe=timeframe,
            reporting=self._reporting(),
            pnl_reset=choice(self.pnl_reset, "pnl_reset", PNL_RESETS) or "per_day",
            roll_back_to_open=not (self.start or self.end or self.date_start or self.date_end),
            cashflow_types=_cashflow_types(self.cashflow_types),
        )

    def _reporting(self) -> str:
        chosen = choice(self.intraday_reporting, "intraday_reporting", REPORTING)
        if chosen is None and _boolean(self.extended_hours, "extended_hours"):
            return "extended_hours"
        return chosen or "market_hours"


def period(text: str) -> relativedelta:
    match = PERIOD.match(text.strip().upper())
    if match is None:
        raise errors.invalid_request(
            f"invalid period: {text!r}, must be a number and a unit D, W, M or A (e.g. 7D, 4W, 1M, 1A)"
        )
    return relativedelta(**{UNITS[match.group(2)]: int(match.group(1))})


def instant(value: str | None, name: str) -> datetime | None:
    """An aware UTC time from RFC 3339, a date (midnight UTC) or Unix seconds, as Alpaca reads them."""
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    if text.isdigit():
        seconds = int(text)
        if not EARLIEST.timestamp() <= seconds < LATEST.timestamp():
            raise errors.invalid_request(f"invalid {name}: {value!r} is out of range")
        return datetime.fromtimestamp(seconds, UTC)
    if len(text) == 10:  # a bare date: midnight UTC for this endpoint (elsewhere Alpaca reads New York)
        return time_param(f"{text}T00:00:00Z", name)
    return time_param(text, name)


def _day_start(value: str | None, name: str) -> datetime | None:
    day = _date(value, name)
    return datetime.combine(day, time(), NEW_YORK).astimezone(UTC) if day else None


def _day_end(value: str | None, name: str) -> datetime | None:
    day = _date(value, name)
    return datetime.combine(day + timedelta(days=1), time(), NEW_YORK).astimezone(UTC) if day else None


def _date(value: str | None, name: str) -> date | None:
    if value is None or value.strip() == "":
        return None
    try:
        day = date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise errors.invalid_request(f"invalid {name}: {value!r} is not a date") from None
    if not EARLIEST.date() <= day < LATEST.date() - timedelta(days=1):
        raise errors.invalid_request(f"invalid {name}: {value!r} is out of range")
    return day


def _shift(when: datetime, by: relativedelta, name: str) -> datetime:
    try:
        shifted = when + by
    except (OverflowError, ValueError):
        raise errors.invalid_request(f"period reaches a {name} out of range") from None
    if not EARLIEST <= shifted < LATEST:
        raise errors.invalid_request(f"period reaches a {name} out of range")
    return shifted


def _default_timeframe(span: timedelta) -> str:
    if span < timedelta(days=7):
        return "1Min"
    return "15Min" if span < INTRADAY_LIMIT else "1D"


def _boolean(value: str | None, name: str) -> bool:
    if value is None or value == "":
        return False
    if value.lower() not in ("true", "false"):
        raise errors.invalid_request(f"invalid {name}: {value!r}, must be true or false")
    return value.lower() == "true"


def _cashflow_types(text: str | None) -> frozenset[str] | None:
    if text is None or text.strip() == "" or text.strip().upper() == "NONE":
        return None
    if text.strip().upper() == "ALL":
        return frozenset()
    return choices(text, "cashflow_types", NON_TRADE_TYPES, upper=True)
