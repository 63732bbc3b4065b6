"""Per-minute matching: how working orders meet one minute of the simulated market, and at what price.

Why a module of its own: the engine accepts orders, keeps the books and moves time; this is the market model
(spread, square-root impact with its memory, participation cap, buying-power and position limits on a fill),
which the auctions (``auctions.py``) and the extended hours (``extended_hours.py``) reuse for their own fills.
It holds the engine (which calls it under its lock) and books what it fills through ``booking.py``.

Model (documented in README "Paper broker"):
* Orders fill minute by minute while the market is open: minute ``[m, m+1)`` is matched when the clock
  reaches ``m+1``. Orders sent while the market is closed are ``accepted`` and become ``new`` at the open.
* A fill takes at most ``max_minute_participation`` of the minute's traded volume, so large orders fill
  partially across time.
* Market orders fill at the ask (buys) or bid (sells) moved by a temporary impact that grows with the square
  root of size over volume: ``impact = Y * sigma_daily * sqrt(Q / ADV)`` (Y = 0.7, the square-root law in
  ``research/NOTES.md``). ``Q`` is the order's size plus this account's recent same-side volume in the symbol,
  which decays with a half-life of ``impact_half_life_minutes``: trading slowly costs less than trading fast.
* Limit orders rest and fill when the minute's range crosses them, never at a worse price than the limit.
* Stop, stop-limit and trailing-stop orders wait until the minute's path touches their stop, then work as
  market or limit orders (``triggers.py``); opg and cls orders trade only in the opening and closing
  auctions (``auctions.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.paper_broker import auctions, booking, triggers
from bot.paper_broker.models import Account, Order
from strategies.costs import DEFAULT_IMPACT_COEFFICIENT, impact_fraction

if TYPE_CHECKING:  # pragma: no cover - import for type hints only (the engine imports this module)
    from bot.paper_broker.engine import PaperBrokerEngine
    from bot.paper_broker.market import Bar, Quote

CENT = Decimal("0.01")
QTY_STEP = Decimal("1e-9")
MINUTE = timedelta(minutes=1)
NEW_YORK = ZoneInfo("America/New_York")


@dataclass(frozen=True)
class MatchingConfig:
    """How orders meet the simulated market. Defaults follow ``../shared/research/NOTES.md`` section 3."""

    impact_coefficient: float = DEFAULT_IMPACT_COEFFICIENT
    impact_half_life_minutes: float = 30.0
    max_minute_participation: float = 0.5
    non_fractionable: frozenset[str] = frozenset()
    """Symbols treated as not fractionable, to exercise Alpaca's whole-share rule (all bundled ETFs are)."""


@dataclass
class _ImpactMemory:
    """Recent same-side volume of one account in one symbol, decaying exponentially with time."""

    qty: float = 0.0
    at: datetime | None = None


def is_working(order: Order) -> bool:
    """Matched minute by minute: open in the session, and not waiting for an auction (``auctions.py``)."""
    return order.status in ("new", "partially_filled") and not auctions.is_auction(order)


class Matcher:
    """The engine's minute matching and its impact memory; reads ``engine.matching`` at each use, so a new
    ``MatchingConfig`` set on the engine takes effect at once."""

    def __init__(self, engine: PaperBrokerEngine) -> None:
        self.engine = engine
        self._impact: dict[tuple[str, str, str], _ImpactMemory] = {}

    def has_working_orders(self) -> bool:
        """Whether a minute of the session needs matching: a working order, or an armed stop-loss leg."""
        working = any(is_working(o) for o in self.engine._open.values())  # noqa: SLF001 - the engine's index
        return working or self.engine.groups.has_armed_stops()

    def match_minute(self, minute_start: datetime) -> None:
        """Match minute ``[minute_start, +1)``: the working orders in the order they were sent, then the
        group stop-loss legs it triggers."""
        engine = self.engine
        engine.stats.minutes_matched += 1
        working = sorted(
            (o for o in engine._open.values() if is_working(o)),  # noqa: SLF001 - the engine's index
            key=lambda o: (o.submitted_at, o.sequence),
        )
        for order in working:
            if order.submitted_at is not None and order.submitted_at >= minute_start + MINUTE:
                continue
            if order.status in ("new", "partially_filled"):  # not ended by a group member's fill
                self._match_order(order, minute_start)
        engine.groups.trigger_stops(minute_start)
        engine.stats.taken = {k: v for k, v in engine.stats.taken.items() if k[2] == minute_start}

    def _match_order(self, order: Order, minute_start: datetime) -> None:
        engine = self.engine
        account = engine.accounts[order.account_id]
        bar = engine.market.minute(order.symbol, minute_start)
        quote = engine.market.quote(order.symbol, minute_start)
        if bar is None or quote is None or bar.volume <= 0:
            self._after_attempt(order)
            return
        if triggers.pending(order):  # a stop trades only from its trigger on (``triggers.py``)
            elected = triggers.elect(order, quote, bar, minute_start + MINUTE)
            engine.store.save_order(order)
            if elected is None:
                return
            quote, bar = elected
        price = self.fill_price(order, quote, bar)
        if price is None:
            self._after_attempt(order)
            return
        wanted = order.remaining_qty(price)
        room = self.participation_room(order, minute_start, bar.volume)
        qty = self.fill_qty(order, account, wanted, room, price)
        if order.time_in_force == "fok" and qty < wanted:
            engine._finish(order, "canceled")  # noqa: SLF001
            return
        if qty > 0:
            booking.apply_fill(engine, account, order, qty, price, minute_start + MINUTE)
            self.took(order, qty, minute_start)
        self._after_attempt(order)

    def _after_attempt(self, order: Order) -> None:
        """IOC orders get one minute to fill; what is left is canceled."""
        if order.is_open and order.time_in_force in ("ioc", "fok"):
            self.engine._finish(order, "canceled")  # noqa: SLF001

    def fill_price(self, order: Order, quote: Quote, bar: Bar) -> Decimal | None:
        """The ask (buy) or bid (sell) moved by the order's impact, never worse than its limit; None when the
        minute's range does not reach the limit."""
        size = (
            float(order.qty) if order.qty is not None else float(order.notional or 0) / max(quote.mid, 1e-9)
        )
        impact = self.impact_fraction(order.symbol, size, order)
        half_spread = (quote.ask - quote.bid) / 2
        if order.side == "buy":
            price = Decimal(str(quote.ask * (1 + impact))).quantize(CENT, ROUND_HALF_UP)
            if order.limit_price is not None:
                best_ask = bar.low + half_spread
                if Decimal(str(best_ask)) > order.limit_price:
                    return None
                price = min(price, order.limit_price)
        else:
            price = Decimal(str(quote.bid * (1 - impact))).quantize(CENT, ROUND_HALF_UP)
            if order.limit_price is not None:
                best_bid = bar.high - half_spread
                if Decimal(str(best_bid)) < order.limit_price:
                    return None
                price = max(price, order.limit_price)
        return price if price > 0 else None

    def impact_fraction(self, symbol: str, size: float, order: Order | None = None) -> float:
        """Temporary impact as a fraction of price: Y * sigma_daily * sqrt((size + recent volume) / ADV)."""
        engine = self.engine
        day = engine.now.astimezone(NEW_YORK).date()
        adv = engine.market.data.adv(symbol, day)
        if adv <= 0:
            return 0.0
        recent = 0.0
        if order is not None:
            memory = self._impact.get((order.account_id, symbol, order.side))
            if memory is not None and memory.at is not None:
                age = (engine.now - memory.at).total_seconds() / 60.0
                recent = memory.qty * 0.5 ** (age / engine.matching.impact_half_life_minutes)
        sigma = engine.market.data.sigma_daily(symbol, day)
        return impact_fraction(size + recent, adv, sigma, engine.matching.impact_coefficient)

    def took(self, order: Order, qty: Decimal, minute_start: datetime) -> None:
        """Count a fill against the minute's participation room and in the account's impact memory."""
        taken = self.engine.stats.taken
        key = (order.account_id, order.symbol, minute_start)
        taken[key] = taken.get(key, 0.0) + float(qty)
        self._remember_impact(order, float(qty), minute_start)

    def _remember_impact(self, order: Order, qty: float, minute_start: datetime) -> None:
        key = (order.account_id, order.symbol, order.side)
        memory = self._impact.setdefault(key, _ImpactMemory())
        if memory.at is not None:
            age = (minute_start - memory.at).total_seconds() / 60.0
            memory.qty *= 0.5 ** (max(age, 0.0) / self.engine.matching.impact_half_life_minutes)
        memory.qty += qty
        memory.at = minute_start

    def participation_room(self, order: Order, minute_start: datetime, volume: float) -> Decimal:
        """What is left of ``max_minute_participation`` of the minute's volume for this account and symbol."""
        taken = self.engine.stats.taken.get((order.account_id, order.symbol, minute_start), 0.0)
        room = self.engine.matching.max_minute_participation * volume - taken
        return Decimal(str(max(room, 0.0))).quantize(QTY_STEP, ROUND_DOWN)

    def fill_qty(
        self, order: Order, account: Account, wanted: Decimal, room: Decimal, price: Decimal
    ) -> Decimal:
        """``wanted`` cut to the room, to whole shares for a whole-share order, and to what the account can
        pay for (a buy) or holds (a sell)."""
        qty = min(wanted, room)
        whole_shares = order.qty is not None and order.qty == order.qty.to_integral_value()
        if whole_shares:
            qty = qty.to_integral_value(ROUND_DOWN)
        if order.side == "buy":
            spendable = self.engine.balances(account, release=order.reserved).buying_power
            affordable = (spendable / price).quantize(QTY_STEP, ROUND_DOWN) if price > 0 else Decimal(0)
            if whole_shares:
                affordable = affordable.to_integral_value(ROUND_DOWN)
            qty = min(qty, max(affordable, Decimal(0)))
        else:
            position = account.positions.get(order.symbol)
            qty = min(qty, position.qty if position else Decimal(0))
        return max(qty, Decimal(0))
