"""Simulated time: stepping the clock through sessions, and what happens at each open and close.

Why a module of its own: the engine's time moves only through ``advance_to``, and each step decides how far
the clock may jump (to the next open, minute boundary or close) and runs the session boundaries in a fixed
order. That order is the contract tests and the demo rely on, so it lives in one place, apart from order
acceptance (the engine) and the market model (``matching.py``). Called by the engine under its lock, inside
its store transaction.

* At the open: dividends of the day are paid (``dividends.py``), orders sent while closed (``accepted``)
  become ``new``, then the opening auction crosses (``auctions.py``).
* At the close: the closing auction crosses, day orders expire (extended-hours ones live to 20:00,
  ``extended_hours.py``), and each account's equity and maintenance margin at the close are kept as
  Alpaca's ``last_equity`` and ``last_maintenance_margin``.
* While closed the clock jumps to the next open, unless extended-hours orders are open
  (``extended_hours.py`` steps those windows minute by minute).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from bot.paper_broker import dividends, margin
from bot.paper_broker.calendar import Session
from bot.paper_broker.matching import MINUTE

if TYPE_CHECKING:  # pragma: no cover - import for type hints only (the engine imports this module)
    from bot.paper_broker.engine import PaperBrokerEngine


def _date_or_none(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


class Sessions:
    """The engine's clock stepping; remembers (in the store) the last session opened and closed, so a
    restarted broker neither opens nor closes a session twice."""

    def __init__(self, engine: PaperBrokerEngine) -> None:
        self.engine = engine
        self.opened = _date_or_none(engine.store.get_meta("opened_session"))
        self.closed = _date_or_none(engine.store.get_meta("closed_session"))

    def step(self, target: datetime) -> None:
        """Move ``engine.now`` one step towards ``target``: to the next open while closed, minute by minute
        while orders work, else to the close; opening, matching and closing on the way."""
        engine = self.engine
        session = engine.calendar.session_at(engine.now)
        if session is None:
            self._close_pending()
            if engine.extended.orders():
                engine.extended.step(target)
                return
            next_open = engine.calendar.next_open(engine.now)
            engine.now = min(target, next_open)
            if engine.now == next_open:
                self._open(engine.calendar.session_at(next_open))
            return
        if self.opened != session.date:
            self._open(session)
        if not engine.matcher.has_working_orders():
            engine.now = min(target, session.close)
        else:
            minute_start = engine.now.replace(second=0, microsecond=0)
            boundary = minute_start + MINUTE
            engine.now = min(target, boundary)
            if engine.now == boundary:
                engine.matcher.match_minute(minute_start)
        if engine.now >= session.close:
            self._close(session.date)

    def _open(self, session: Session) -> None:
        engine = self.engine
        self.opened = session.date
        engine.stats.sessions_opened += 1
        engine.store.set_meta("opened_session", session.date.isoformat())
        dividends.pay_dividends(engine, session.date)
        for order in list(engine._open.values()):  # noqa: SLF001 - the engine's index of open orders
            if order.status == "accepted":
                order.status = "new"
                order.updated_at = engine.now
                engine.store.save_order(order)
                engine.publish("new", order)
        engine.auctions.open(session)

    def _close_pending(self) -> None:
        if self.opened is not None and self.closed != self.opened:
            self._close(self.opened)

    def _close(self, day: date) -> None:
        """Expire day orders and remember each account's equity at the close (Alpaca's ``last_equity``)."""
        engine = self.engine
        if self.closed == day:
            return
        self.closed = day
        engine.store.set_meta("closed_session", day.isoformat())
        if (session := engine.calendar.session(day)) is not None:
            engine.auctions.close(session)
        for order in list(engine._open.values()):  # noqa: SLF001 - the engine's index of open orders
            working = order.status in ("new", "partially_filled")
            if working and order.time_in_force == "day" and not order.extended_hours:  # those: to 20:00
                engine._finish(order, "expired")  # noqa: SLF001
        for account in engine.accounts.values():
            account.last_equity = engine.equity(account)
            account.last_maintenance_margin = margin.maintenance_margin(engine.market_value(account))
            account.bought_today = Decimal(0)
            account.last_equity_date = day
            engine.store.save_account(account)
