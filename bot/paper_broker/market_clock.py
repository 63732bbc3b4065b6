"""Alpaca's ``GET /v3/clock``: one clock per market, each with its trading phase, on the simulated time.

The v2 clock answers one question (is the US equity market open?); the v3 clock answers it per market and
adds the phase of the trading day: ``pre`` (04:00 New York to the open), ``core`` (the regular session),
``post`` (the close to 20:00), ``closed`` otherwise, with ``phase_until`` the end of that phase, the same
hours the broker's extended-hours trading uses. The paper broker simulates the US equity market, which NYSE
and NASDAQ share (one calendar, one set of hours), so those two are the markets it can answer for: they are
the default, by acronym or MIC. A market Alpaca knows but the broker does not simulate (LSE, XETR, ...) is
refused with a 400 naming it, rather than answered with US hours.

``time`` asks for the clock at another instant than now (any RFC 3339 time inside the simulated calendar).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from fastapi import FastAPI

from bot.paper_broker import errors
from bot.paper_broker.calendar import TradingCalendar
from bot.paper_broker.engine import PaperBrokerEngine
from bot.paper_broker.extended_hours import POST_MARKET_END, PRE_MARKET_START
from bot.paper_broker.models import Account
from bot.paper_broker.params import time_param
from bot.paper_broker.serialize import NEW_YORK, ts_new_york

US_EQUITY_MARKETS = {
    "NYSE": {"acronym": "NYSE", "mic": "XNYS", "name": "New York Stock Exchange", "timezone": NEW_YORK.key},
    "NASDAQ": {"acronym": "NASDAQ", "mic": "XNAS", "name": "Nasdaq Stock Market", "timezone": NEW_YORK.key},
}
ALIASES = {"NYSE": "NYSE", "XNYS": "NYSE", "NASDAQ": "NASDAQ", "XNAS": "NASDAQ"}
OTHER_ALPACA_MARKETS = frozenset(
    {
        *("BMO", "BNYM", "BOATS", "IEX", "IEXG", "OCEA", "OPRA", "OTC", "OTCM", "SIFMA"),
        *("CEUX", "CHIX", "ISE", "LSE", "MTA", "MTAA", "XAMS", "XBRU", "XDUB", "XETR", "XETRA", "XLIS"),
        *("XLON", "XPAR", "HKEX", "JPX", "TADAWUL", "XHKG", "XSAU", "XTKS"),
    }
)
"""Markets in Alpaca's list (``markets`` parameter of the spec) that the paper broker does not simulate."""


def market_clock_routes(app: FastAPI, engine: PaperBrokerEngine, current: Any) -> None:
    @app.get("/v3/clock")
    def clock_v3(account: Account = current, markets: str | None = None, time: str | None = None) -> dict:
        wanted = _markets(markets)
        at = _instant(engine, time)
        return {"clocks": [clock(engine.calendar, US_EQUITY_MARKETS[m], at) for m in wanted]}


def clock(calendar: TradingCalendar, market: dict, at: datetime) -> dict:
    """One market's clock at ``at``."""
    phase, until = phase_at(calendar, at)
    return {
        "market": market,
        "timestamp": ts_new_york(at),
        "is_market_day": calendar.session(at.astimezone(NEW_YORK).date()) is not None,
        "next_market_open": ts_new_york(calendar.next_open(at)),
        "next_market_close": ts_new_york(calendar.next_close(at)),
        "phase": phase,
        "phase_until": ts_new_york(until),
    }


def phase_at(calendar: TradingCalendar, at: datetime) -> tuple[str, datetime]:
    """The trading phase at ``at`` and when it ends."""
    day = at.astimezone(NEW_YORK).date()
    session = calendar.session(day)
    if session is not None:
        pre, post_end = _at(day, PRE_MARKET_START), _at(day, POST_MARKET_END)
        for phase, start, end in (
            ("pre", pre, session.open),
            ("core", session.open, session.close),
            ("post", session.close, post_end),
        ):
            if start <= at < end:
                return phase, end
        if at < pre:
            return "closed", pre
    following = calendar.next_session(day)
    if following is None:
        raise errors.BrokerError(400, 40010000, "time is past the simulated calendar's last session")
    return "closed", _at(following.date, PRE_MARKET_START)


def _at(day, clock_time: time) -> datetime:  # noqa: ANN001 - a date
    return datetime.combine(day, clock_time, NEW_YORK)


def _markets(text: str | None) -> list[str]:
    if text is None or not text.strip():
        return list(US_EQUITY_MARKETS)
    wanted: list[str] = []
    for code in (c.strip().upper() for c in text.split(",") if c.strip()):
        if code in OTHER_ALPACA_MARKETS:
            raise errors.BrokerError(
                400, 40010000, f"market {code} is not simulated by the paper broker (it has NYSE and NASDAQ)"
            )
        if code not in ALIASES:
            raise errors.BrokerError(400, 40010000, f"invalid markets: unknown market {code!r}")
        if ALIASES[code] not in wanted:
            wanted.append(ALIASES[code])
    return wanted


def _instant(engine: PaperBrokerEngine, text: str | None) -> datetime:
    try:
        at = time_param(text, "time")
    except errors.BrokerError as exc:  # this endpoint answers bad parameters with 400, as the spec lists
        raise errors.BrokerError(400, 40010000, exc.message) from None
    if at is None:
        return engine.now
    calendar = engine.calendar
    first = datetime.combine(calendar.start, time(), NEW_YORK) + timedelta(days=1)
    last = datetime.combine(calendar.end, time(), NEW_YORK) - timedelta(days=10)
    if not first <= at <= last:
        raise errors.BrokerError(
            400, 40010000, f"time must be within the simulated calendar ({first.date()} to {last.date()})"
        )
    return at
