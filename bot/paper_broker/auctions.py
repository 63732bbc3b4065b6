"""Opening and closing auction orders: time in force ``opg`` (market/limit on open) and ``cls`` (on close).

Why: a rebalancer may want the official open or close price rather than a fill somewhere in the day, and
code that sends MOO/MOC orders must meet Alpaca's timing rules before it meets a real account. The rules
follow Alpaca's TimeInForce documentation (``trading-api.json``):

* ``opg`` orders execute only in the opening auction; sent after 09:28 and before 19:00 New York time on a
  trading day they are refused, sent after 19:00 (or on a closed day) they wait for the next session's
  auction. ``cls`` orders execute only in the closing auction; refused from 10 minutes before the close
  (15:50 on a full day) to 19:00, sent after 19:00 they wait for the next session's close.
* Refused here means a 422 with code 40010001 at submission, naming the window (Alpaca's text says only
  "will be rejected"; a 422 is how the paper broker refuses every other request it cannot take).
* The opening auction crosses at the session's first print (the first minute's open), the closing auction
  at its last (the last minute's close). An auction has one price for every side, so no half spread is
  paid; the square-root impact of the order's size still moves it (``matching.py``), and an
  order takes at most ``max_minute_participation`` of the first (last) minute's volume. A limit on open or
  close trades only if the auction price reaches its limit, never at a worse price.
* What the auction does not fill expires at once (Alpaca: "any unfilled orders after the open/close will
  be cancelled"; its paper accounts show them as expired, and so does this broker).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from bot.paper_broker import booking, errors
from bot.paper_broker.calendar import EXCHANGE_TZ, Session, TradingCalendar
from bot.paper_broker.market import Bar
from bot.paper_broker.models import Order
from bot.paper_broker.order_validation import AUCTION_TIF

if TYPE_CHECKING:
    from bot.paper_broker.engine import PaperBrokerEngine

OPG_CUTOFF = dt.time(9, 28)
CLS_CUTOFF_BEFORE_CLOSE = dt.timedelta(minutes=10)
NEXT_DAY_FROM = dt.time(19, 0)
MINUTE = dt.timedelta(minutes=1)
CENT = Decimal("0.01")


def is_auction(order: Order) -> bool:
    """True for orders that trade only in an auction: the engine's minute matching leaves them alone."""
    return order.time_in_force in AUCTION_TIF


def check_submission(calendar: TradingCalendar, now: dt.datetime, time_in_force: str) -> None:
    """Refuse an opg/cls order sent while its next auction no longer takes orders, as Alpaca does."""
    if time_in_force not in AUCTION_TIF:
        return
    local = now.astimezone(EXCHANGE_TZ)
    session = calendar.session(local.date())
    if session is None:
        return
    evening = dt.datetime.combine(local.date(), NEXT_DAY_FROM, tzinfo=EXCHANGE_TZ)
    if time_in_force == "opg":
        cutoff = dt.datetime.combine(local.date(), OPG_CUTOFF, tzinfo=EXCHANGE_TZ)
        auction = "opening"
    else:
        cutoff = session.close - CLS_CUTOFF_BEFORE_CLOSE
        auction = "closing"
    if cutoff <= now < evening:
        closes = f"{cutoff.astimezone(EXCHANGE_TZ):%H:%M}"
        raise errors.invalid_request(
            f"{time_in_force} orders cannot be submitted between {closes} and 19:00 ET: today's {auction} "
            "auction no longer takes orders; send it after 19:00 ET for the next session's or use a day order"
        )


class Auctions:
    """The engine's opening and closing auctions, run under its lock at each session's open and close."""

    def __init__(self, engine: PaperBrokerEngine) -> None:
        self.engine = engine

    def open(self, session: Session) -> None:
        """Cross the opg orders at the session's first print, then expire what is left of them."""
        at_open = self.engine.now == session.open  # a broker restarted mid-session has missed the auction
        self._run("opg", session.open, at_open, lambda bar: bar.open, session.open)

    def close(self, session: Session) -> None:
        """Cross the cls orders at the session's last print, then expire what is left of them."""
        self._run("cls", session.close - MINUTE, True, lambda bar: bar.close, session.close)

    def _run(
        self, tif: str, minute: dt.datetime, live: bool, print_of: Callable[[Bar], float], when: dt.datetime
    ) -> None:
        """Cross the working ``tif`` orders at ``print_of`` the auction minute's bar, filled at ``when``."""
        engine = self.engine
        orders = sorted(
            (
                o
                for o in engine._open.values()  # noqa: SLF001 - the engine's index of open orders
                if o.time_in_force == tif and o.status in ("new", "partially_filled")
            ),
            key=lambda o: (o.submitted_at, o.sequence),
        )
        for order in orders:
            bar = engine.market.minute(order.symbol, minute) if live else None
            if bar is not None and bar.volume > 0:
                self._cross(order, Decimal(str(print_of(bar))), bar.volume, minute, when)
            if order.is_open:
                engine._finish(order, "expired")  # noqa: SLF001

    def _cross(
        self, order: Order, auction_price: Decimal, volume: float, minute: dt.datetime, when: dt.datetime
    ) -> None:
        """Fill what the auction allows of ``order`` at ``auction_price`` moved by the order's impact."""
        engine = self.engine
        account = engine.accounts[order.account_id]
        size = float(order.qty - order.filled_qty) if order.qty is not None else 0.0
        impact = Decimal(str(engine.matcher.impact_fraction(order.symbol, size, order)))
        limit = order.limit_price
        if order.side == "buy":
            if limit is not None and auction_price > limit:
                return
            price = (auction_price * (1 + impact)).quantize(CENT, ROUND_HALF_UP)
            price = min(price, limit) if limit is not None else price
        else:
            if limit is not None and auction_price < limit:
                return
            price = (auction_price * (1 - impact)).quantize(CENT, ROUND_HALF_UP)
            price = max(price, limit) if limit is not None else price
        room = engine.matcher.participation_room(order, minute, volume)
        qty = engine.matcher.fill_qty(order, account, order.remaining_qty(price), room, price)
        if qty <= 0:
            return
        booking.apply_fill(engine, account, order, qty, price, when)
        engine.matcher.took(order, qty, minute)
