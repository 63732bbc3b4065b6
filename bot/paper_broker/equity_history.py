"""An account's cash, holdings and equity at any past instant, rebuilt from its own history.

Why rebuilt rather than recorded: every change the engine makes to an account's cash or holdings is booked as
an account activity (a FILL for each execution, a DIV for each dividend, with the amounts that moved), and the
activity log is kept forever. So the state at an instant ``t`` is today's state with every activity after
``t`` undone, and a snapshot table would only be a second copy that could drift from it. Equity at ``t`` is
then that cash plus each holding at the market's last trade at ``t`` (the close of the minute bar that just
ended while the market is open, the session's closing price when it is closed), valued exactly as the engine
values the live account (``price_at``), so the newest point equals ``GET /v2/account``'s equity.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from bot.paper_broker.market import SimMarket
from bot.paper_broker.models import Account, Activity

CENT = Decimal("0.01")


def price_at(market: SimMarket, symbol: str, t: datetime) -> Decimal:
    """What a holding is valued at, at ``t``: the last trade (the quote's mid before any), to the cent."""
    trade = market.trade(symbol, t)
    if trade is None:
        quote = market.quote(symbol, t)
        if quote is None:
            return Decimal(0)
        return Decimal(str(quote.mid)).quantize(CENT)
    return Decimal(str(trade.price)).quantize(CENT)


@dataclass
class Holdings:
    """Cash and share quantities of one account at one instant."""

    cash: Decimal
    qty: dict[str, Decimal] = field(default_factory=dict)

    def copy(self) -> Holdings:
        return Holdings(self.cash, dict(self.qty))

    def equity(self, market: SimMarket, t: datetime) -> Decimal:
        """Cash plus the holdings at ``t``'s prices, rounded as the engine rounds the live equity."""
        value = sum((q * price_at(market, s, t) for s, q in self.qty.items() if q), Decimal(0))
        return (self.cash + value.quantize(CENT)).quantize(CENT)


@dataclass(frozen=True)
class AccountHistory:
    """A copy of what one account's past is rebuilt from, taken under the engine's lock so that the (slower)
    rebuilding can run without holding it: the state at ``now`` and the activities booked up to then."""

    now: datetime
    created_at: datetime
    current: Holdings
    activities: tuple[Activity, ...]

    @classmethod
    def of(cls, account: Account, activities: Iterable[Activity], now: datetime) -> AccountHistory:
        current = Holdings(account.cash, {s: p.qty for s, p in account.positions.items()})
        ordered = tuple(sorted(activities, key=lambda a: (a.time, a.id)))
        return cls(now, account.created_at, current, ordered)

    def holdings_at(self, instants: Iterable[datetime]) -> dict[datetime, Holdings]:
        """The holdings at each instant (activities stamped at or before an instant count as done by then).

        One walk backwards from ``now``: instants newest first, undoing each activity once. Instants with
        no activity between them share one ``Holdings`` object, which ``equities`` uses to value it once.
        """
        state = self.current.copy()
        pending = list(self.activities)
        out: dict[datetime, Holdings] = {}
        snapshot: Holdings | None = None
        for instant in sorted(set(instants), reverse=True):
            while pending and pending[-1].time > instant:
                _undo(state, pending.pop())
                snapshot = None
            snapshot = snapshot or state.copy()
            out[instant] = snapshot
        return out

    def cash_flows(self, kinds: frozenset[str] | None) -> list[Activity]:
        """Non-trade activities (cash in or out that is not a trade), of ``kinds`` if given, oldest first."""
        return [
            a
            for a in self.activities
            if a.activity_type != "FILL" and (kinds is None or a.activity_type in kinds)
        ]


def equities(market: SimMarket, holdings: dict[datetime, Holdings]) -> dict[datetime, Decimal]:
    """The equity at each instant, valuing each (holdings, prices) pair once.

    Prices move only while a session runs; between sessions every instant sees the last close. So a night, a
    weekend or an hour of continuous reporting with nothing traded is one valuation, not one per point (a
    month of 1-minute points around the clock is 43,000 instants, of which about 8,000 are in sessions).
    """
    calendar = market.calendar
    done: dict[tuple[int, object], Decimal] = {}
    out: dict[datetime, Decimal] = {}
    for instant, state in holdings.items():
        closed = calendar.session_at(instant) is None
        prices = calendar.last_closed_session(instant) if closed else instant
        key = (id(state), prices)
        if key not in done:
            done[key] = state.equity(market, instant)
        out[instant] = done[key]
    return out


def fill_value(qty: Decimal, price: Decimal) -> Decimal:
    """The cash one execution moves, rounded as the engine books it."""
    return (qty * price).quantize(CENT, ROUND_HALF_UP)


def _undo(state: Holdings, activity: Activity) -> None:
    """Reverse one activity's effect on cash and holdings."""
    fields = activity.fields
    if activity.activity_type == "FILL":
        qty, price, symbol = Decimal(fields["qty"]), Decimal(fields["price"]), fields["symbol"]
        value = fill_value(qty, price)
        sign = 1 if fields["side"] == "buy" else -1
        state.cash += sign * value
        state.qty[symbol] = state.qty.get(symbol, Decimal(0)) - sign * qty
        return
    state.cash -= Decimal(fields.get("net_amount", 0))  # a non-trade activity's net_amount is its cash effect
