"""Extended-hours trading: limit orders with ``extended_hours: true`` work in the pre-market (04:00 to the
open, New York time) and the post-market (the close to 20:00) of each trading day, as on Alpaca.

Why: without this, a marketable extended-hours limit order waited for the regular open, so code that trades
after the close could not be rehearsed. Approximation (the data has no extended-hours prints): the bundled
data has daily bars and regular-hours minute bars only, so outside the session the market stands at its
nearest known price: the last regular close (the previous session's in the pre-market, the day's own in the
post-market), with the usual spread around it. A buy limit at or above that ask (a sell at or below the bid)
fills at the ask (bid), at most the quote's displayed size per minute (about 2% of an average minute's
volume); a limit that does not reach the quote rests until the regular session, where it matches as any limit.
An extended-hours day order lives until 20:00 of its trading day; one sent after 20:00 (or on a closed day)
waits for the next pre-market.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from bot.paper_broker import booking
from bot.paper_broker.calendar import EXCHANGE_TZ, Session, TradingCalendar
from bot.paper_broker.models import Order

if TYPE_CHECKING:
    from bot.paper_broker.engine import PaperBrokerEngine

PRE_MARKET_START = dt.time(4, 0)
POST_MARKET_END = dt.time(20, 0)
LOOKAHEAD_DAYS = 10


def _at(day: dt.date, clock: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, clock, tzinfo=EXCHANGE_TZ).astimezone(dt.UTC)


def windows(session: Session) -> tuple[tuple[dt.datetime, dt.datetime], tuple[dt.datetime, dt.datetime]]:
    """The session day's pre-market and post-market as [start, end) instants."""
    return (_at(session.date, PRE_MARKET_START), session.open), (
        session.close,
        _at(session.date, POST_MARKET_END),
    )


def window_at(calendar: TradingCalendar, t: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
    """The pre- or post-market window containing ``t``, or None (regular session, night, closed day)."""
    session = calendar.session(t.astimezone(EXCHANGE_TZ).date())
    if session is None:
        return None
    for start, end in windows(session):
        if start <= t < end:
            return start, end
    return None


def post_market_end(calendar: TradingCalendar, t: dt.datetime) -> dt.datetime | None:
    """20:00 New York time of ``t``'s trading day (None on a closed day): when its extended day orders end."""
    session = calendar.session(t.astimezone(EXCHANGE_TZ).date())
    return _at(session.date, POST_MARKET_END) if session is not None else None


def next_boundary(calendar: TradingCalendar, t: dt.datetime) -> dt.datetime:
    """The first pre-market start, open, close or post-market end strictly after ``t``."""
    day = t.astimezone(EXCHANGE_TZ).date()
    for offset in range(LOOKAHEAD_DAYS):
        session = calendar.session(day + dt.timedelta(days=offset))
        if session is None:
            continue
        (pre, opened), (closed, post) = windows(session)
        later = [b for b in (pre, opened, closed, post) if b > t]
        if later:
            return min(later)
    return calendar.next_open(t)


def marketable_price(order: Order, bid: float, ask: float) -> Decimal | None:
    """The price an extended-hours limit order fills at against the standing quote, None if it does not
    reach it (never worse than the limit: the quote's own side)."""
    assert order.limit_price is not None
    if order.side == "buy":
        price = Decimal(str(ask))
        return price if price <= order.limit_price else None
    price = Decimal(str(bid))
    return price if price >= order.limit_price else None


def day_end(calendar: TradingCalendar, submitted: dt.datetime) -> dt.datetime:
    """When an extended-hours day order sent at ``submitted`` expires: 20:00 of its trading day (the next
    trading day's when sent after 20:00 or on a closed day)."""
    day = submitted.astimezone(EXCHANGE_TZ).date()
    for offset in range(LOOKAHEAD_DAYS):
        session = calendar.session(day + dt.timedelta(days=offset))
        if session is not None and (end := _at(session.date, POST_MARKET_END)) > submitted:
            return end
    return calendar.next_close(submitted)


class ExtendedHours:
    """The engine's stepping and matching outside the regular session, while extended-hours orders are open.

    Kept apart from the engine (which calls it under its lock) so that the regular-session model stays as it
    was: with no extended-hours order open, the engine still jumps from the close to the next open.
    """

    def __init__(self, engine: PaperBrokerEngine) -> None:
        self.engine = engine

    def orders(self) -> list[Order]:
        return [o for o in self.engine._open.values() if o.extended_hours]  # noqa: SLF001 - the engine's index

    def step(self, target: dt.datetime) -> None:
        """Advance towards ``target`` while the market is closed: minute by minute inside a pre- or
        post-market window, matching extended-hours orders; else to the next window boundary."""
        engine = self.engine
        window = window_at(engine.calendar, engine.now)
        if window is None:
            engine.now = min(target, next_boundary(engine.calendar, engine.now))
        else:
            self._activate()
            minute_start = engine.now.replace(second=0, microsecond=0)
            boundary = min(minute_start + dt.timedelta(minutes=1), window[1])
            engine.now = min(target, boundary)
            if engine.now == boundary:
                self._match(minute_start)
        self._expire()

    def _activate(self) -> None:
        """Orders sent outside the windows start working when one opens."""
        for order in self.orders():
            if order.status == "accepted":
                order.status, order.updated_at = "new", self.engine.now
                self.engine.store.save_order(order)
                self.engine.publish("new", order)

    def _match(self, minute_start: dt.datetime) -> None:
        engine = self.engine
        for order in sorted(self.orders(), key=lambda o: (o.submitted_at, o.sequence)):
            if order.status not in ("new", "partially_filled") or order.submitted_at >= engine.now:
                continue
            quote = engine.market.quote(order.symbol, minute_start)
            price = marketable_price(order, quote.bid, quote.ask) if quote is not None else None
            if price is None:
                continue
            size = quote.ask_size if order.side == "buy" else quote.bid_size
            account = engine.accounts[order.account_id]
            qty = engine.matcher.fill_qty(
                order, account, order.remaining_qty(price), Decimal(str(size)), price
            )
            if qty > 0:
                booking.apply_fill(engine, account, order, qty, price, engine.now)

    def _expire(self) -> None:
        for order in self.orders():
            ends = day_end(self.engine.calendar, order.submitted_at)
            if order.time_in_force == "day" and self.engine.now >= ends:
                self.engine._finish(order, "expired")  # noqa: SLF001
