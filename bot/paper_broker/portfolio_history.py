"""Alpaca's ``GET /v2/account/portfolio/history``: the account's equity and profit/loss over time.

Every point is the account's real past (``equity_history``: its fills and dividends replayed) valued at the
simulated market's prices, so a chart drawn from it is the chart of what the account actually did:

* a point is labelled with the start of its window (Unix seconds) and carries the equity at the window's end:
  for 1Min that is the close of the minute bar it labels, for 1D the session's closing price (a session
  still running is valued at now). Nothing after the query's end (at most now) is used, and nothing before
  the account existed is reported.
* intraday windows run from each trading day's open to its close (``market_hours``), from 04:00 to 20:00 New
  York time (``extended_hours``), or around the clock from a grid of the timeframe (``continuous``). A 1D
  point is stamped at midnight New York time of its session, as the broker stamps daily bars.
* ``base_value`` is the closing equity of the trading day before the first point (``base_value_asof`` its
  date) when the account existed then, else the first point's equity (and no ``base_value_asof``), which is
  Alpaca's rule for new accounts.
* ``profit_loss`` is equity minus a reference: with ``pnl_reset=per_day`` the closing equity of the trading
  day before the point's own (so an intraday series restarts each day and a daily series shows each day's
  change, as Alpaca's own examples do); with ``no_reset`` the base value. ``profit_loss_pct`` is that over
  the reference, to four decimals as Alpaca sends it.
* ``cashflow`` (when ``cashflow_types`` asks for it) sums the non-trade cash movements (dividends) booked in
  each point's window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import Depends, FastAPI

from bot.paper_broker.calendar import Session, TradingCalendar
from bot.paper_broker.engine import PaperBrokerEngine
from bot.paper_broker.equity_history import AccountHistory, equities
from bot.paper_broker.market import et_midnight
from bot.paper_broker.models import Account
from bot.paper_broker.portfolio_query import HistoryQuery, RawQuery
from bot.paper_broker.serialize import NEW_YORK

PRE_MARKET = time(4, 0)
POST_MARKET_END = time(20, 0)


@dataclass(frozen=True)
class Point:
    label: datetime
    """The window's start: the timestamp Alpaca reports."""
    valued_at: datetime
    """The window's end (cut to the query's end): the instant the equity is taken at."""


def portfolio_history_routes(app: FastAPI, engine: PaperBrokerEngine, current: Any) -> None:
    @app.get("/v2/account/portfolio/history")
    def portfolio_history(account: Account = current, raw: RawQuery = Depends()) -> dict:
        with engine.lock:
            history = AccountHistory.of(account, engine.account_activities(account), engine.now)
        return build(engine, history, raw.resolve(history.now))


def build(engine: PaperBrokerEngine, history: AccountHistory, query: HistoryQuery) -> dict:
    """The response body for one resolved query."""
    calendar = engine.calendar
    points = [p for p in _points(calendar, query) if p.valued_at >= history.created_at]
    by_day: dict[date, Session | None] = {}  # one calendar look-up per day, not per point
    references = [
        _previous_close(calendar, p.label.astimezone(NEW_YORK).date(), history.created_at, by_day)
        for p in points
    ]
    instants = {p.valued_at for p in points} | {r.close for r in references if r is not None}
    equity = equities(engine.market, history.holdings_at(instants))
    values = [equity[p.valued_at] for p in points]
    first = references[0] if points else None
    base = (equity[first.close] if first is not None else values[0]) if points else None
    anchors = [
        equity[r.close] if r is not None and query.pnl_reset == "per_day" else base for r in references
    ]
    body: dict[str, Any] = {
        "timestamp": [int(p.label.timestamp()) for p in points],
        "equity": [float(v) for v in values],
        "profit_loss": [float(v - a) for v, a in zip(values, anchors, strict=True)],
        "profit_loss_pct": [
            round(float((v - a) / a), 4) if a else 0.0 for v, a in zip(values, anchors, strict=True)
        ],
        "base_value": float(base) if base is not None else None,
        "timeframe": query.timeframe,
    }
    if first is not None:
        body["base_value_asof"] = first.date.isoformat()
    if query.cashflow_types is not None:
        body["cashflow"] = _cash_flows(history, query, points)
    return body


def _points(calendar: TradingCalendar, query: HistoryQuery) -> list[Point]:
    if not query.intraday:
        return _daily_points(calendar, query)
    if query.reporting == "continuous":
        return _continuous_points(query)
    return _session_points(calendar, query)


def _daily_points(calendar: TradingCalendar, query: HistoryQuery) -> list[Point]:
    """One point per session from ``start``'s trading day on, valued at its close (or at the end, if
    earlier: today's running session is valued at now)."""
    first, last = _days(calendar, query.start, query.end)
    return [
        Point(et_midnight(s.date), min(s.close, query.end))
        for s in calendar.sessions_between(first, last)
        if s.open < query.end
    ]


def _session_points(calendar: TradingCalendar, query: HistoryQuery) -> list[Point]:
    """Windows from each trading day's start to its end (regular or extended hours). A window counts if it
    ends after ``start`` (the one containing ``start`` is the first: Alpaca rolls ``start`` back to it)."""
    lower = _open_before(calendar, query) if query.roll_back_to_open else query.start
    first, last = _days(calendar, lower, query.end)
    points = []
    for session in calendar.sessions_between(first, last):
        day_start, day_end = _trading_hours(session, query.reporting)
        t = day_start
        while t < day_end and t < query.end:
            if t + query.step > lower:
                points.append(Point(t, min(t + query.step, day_end, query.end)))
            t += query.step
    return points


def _continuous_points(query: HistoryQuery) -> list[Point]:
    """Windows around the clock, on a grid of the timeframe since the epoch; ``start`` rolled back to it."""
    step = int(query.step.total_seconds())
    t = datetime.fromtimestamp(int(query.start.timestamp()) // step * step, UTC)
    points = []
    while t < query.end:
        points.append(Point(t, min(t + query.step, query.end)))
        t += query.step
    return points


def _open_before(calendar: TradingCalendar, query: HistoryQuery) -> datetime:
    """The start of the last trading day's hours at or before ``start`` (Alpaca's roll-back when the query
    gives neither start nor end)."""
    first, last = _days(calendar, query.start - timedelta(days=10), query.start)
    starts = [_trading_hours(s, query.reporting)[0] for s in calendar.sessions_between(first, last)]
    before = [s for s in starts if s <= query.start]
    return before[-1] if before else query.start


def _trading_hours(session: Session, reporting: str) -> tuple[datetime, datetime]:
    if reporting == "extended_hours":
        return _at(session, PRE_MARKET), _at(session, POST_MARKET_END)
    return session.open, session.close


def _at(session: Session, clock: time) -> datetime:
    return datetime.combine(session.date, clock, NEW_YORK).astimezone(UTC)


def _days(calendar: TradingCalendar, start: datetime, end: datetime) -> tuple:
    """New York dates of ``start`` and ``end``, kept inside the simulated calendar."""
    first = max(start.astimezone(NEW_YORK).date(), calendar.start)
    last = min(end.astimezone(NEW_YORK).date(), calendar.end)
    return first, last


def _previous_close(
    calendar: TradingCalendar, day: date, created_at: datetime, seen: dict[date, Session | None]
) -> Session | None:
    """The session before ``day`` (a point's New York day), if the account already existed at its close."""
    if day not in seen:
        session = calendar.previous_session(min(day, calendar.end)) if day > calendar.start else None
        seen[day] = session if session is not None and session.close >= created_at else None
    return seen[day]


def _cash_flows(history: AccountHistory, query: HistoryQuery, points: list[Point]) -> dict[str, list[float]]:
    """Per non-trade type, the cash it moved within each point's window: from the previous point's
    valuation (the first point's own label, inclusive) to this point's."""
    kinds = query.cashflow_types or None  # empty: ALL
    flows = history.cash_flows(kinds)
    out: dict[str, list[float]] = {k: [0.0] * len(points) for k in sorted(kinds or ())}
    lower = points[0].label - timedelta(microseconds=1) if points else None
    for i, point in enumerate(points):
        for activity in flows:
            if lower < activity.time <= point.valued_at:
                column = out.setdefault(activity.activity_type, [0.0] * len(points))
                column[i] = round(column[i] + float(activity.fields.get("net_amount", 0)), 2)
        lower = point.valued_at
    return out
