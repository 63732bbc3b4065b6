"""The paper broker's engine: accounts, order acceptance, valuations, and the one lock over them and time.

Everything the HTTP layer does goes through one ``PaperBrokerEngine`` under one lock. Time moves only through
``advance_to``; the engine never reads wall time, so a test can step a trading day in microseconds and the
demo can run a quarter in a minute.

The engine holds the parts it delegates to, each called under its lock (documented in README "Paper broker"):
* ``sessions.py`` steps the clock and runs each session's open and close (day orders expire at the close;
  dividends, ``dividends.py``, are paid in cash at the open of their ex-date);
* ``matching.py`` matches working orders minute by minute (spread, square-root impact, participation cap;
  stops through ``triggers.py``); ``auctions.py`` crosses opg and cls orders; ``extended_hours.py`` trades
  extended-hours limit orders outside the session;
* ``booking.py`` books each fill (cash, position, order progress, activity);
* ``order_groups.py`` keeps bracket, oco and oto groups; ``replace.py`` replaces orders; ``margin.py`` gives
  the buying powers; ``publish`` tells the trade_updates stream of each order event.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext

from bot.paper_broker import (
    auctions,
    booking,
    errors,
    extended_hours,
    margin,
    order_groups,
    sessions,
    triggers,
)
from bot.paper_broker.accounts import AccountsFile, AccountSpec
from bot.paper_broker.equity_history import price_at
from bot.paper_broker.group_requests import is_group_request, parse_group_request
from bot.paper_broker.market import SimMarket
from bot.paper_broker.matching import Matcher, MatchingConfig
from bot.paper_broker.models import Account, Activity, Order
from bot.paper_broker.order_validation import OrderRequest, could_cross, parse_order_request
from bot.paper_broker.store import BrokerStore

CENT = Decimal("0.01")
QTY_STEP = Decimal("1e-9")


@dataclass
class EngineStats:
    """Counters for benchmarks and tests, and ``taken``: what each account took of each symbol's current
    minute, against the participation cap (``matching.py``)."""

    minutes_matched: int = 0
    fills: int = 0
    sessions_opened: int = 0
    taken: dict[tuple[str, str, datetime], float] = field(default_factory=dict)


class PaperBrokerEngine:
    """Accounts, orders and fills on a simulated market; the single source of truth behind the HTTP API."""

    def __init__(
        self,
        market: SimMarket,
        store: BrokerStore,
        accounts: AccountsFile,
        start: datetime,
        matching: MatchingConfig | None = None,
    ) -> None:
        self.market = market
        self.calendar = market.calendar
        self.store = store
        self.matching = matching or MatchingConfig()
        self.broker_api_keys = accounts.broker_api  # the adviser's key pair (broker_api_routes.py)
        self.lock = threading.RLock()
        self.stats = EngineStats()
        self.accounts: dict[str, Account] = {}
        self.orders: dict[str, Order] = {}
        self._by_client_id: dict[tuple[str, str], Order] = {}
        self._open: dict[str, Order] = {}
        self._orders_of: dict[str, dict[str, Order]] = {}
        """Each account's orders by id: a list request reads its own, not the whole broker's (a fleet's
        paper broker holds hundreds of thousands of orders, and scanning them was most of its CPU)."""
        self.activities: list[Activity] = []
        self._activities_of: dict[str, list[Activity]] = {}
        self.extended = extended_hours.ExtendedHours(self)
        self.publish: Callable[..., None] = lambda event, order, **execution: None
        """Hears each order event under the lock: Alpaca's trade_updates (``trade_stream.TradeUpdates``)."""
        self.auctions = auctions.Auctions(self)
        self.groups = order_groups.OrderGroups(self)
        self.matcher = Matcher(self)
        self.sessions = sessions.Sessions(self)
        self._load_or_create(accounts, start)

    # -- start-up --------------------------------------------------------------------------------------------
    def _load_or_create(self, accounts: AccountsFile, start: datetime) -> None:
        saved_now = self.store.get_meta("now")
        self.now = datetime.fromisoformat(saved_now) if saved_now else start
        for account in self.store.load_accounts():
            self.accounts[account.id] = account
        for order in self.store.load_orders():
            self._index(order)
        for activity in self.store.load_activities():
            self.record_activity(activity)
        known = {a.key_id for a in self.accounts.values()}
        with self.store.transaction():
            for spec in accounts.accounts:
                if spec.key_id not in known:
                    self._create_account(spec)
            self.store.set_meta("now", self.now.isoformat())

    def _create_account(self, spec: AccountSpec) -> Account:
        number = f"PA{len(self.accounts) + 1:08d}"
        account = Account(
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"paper-broker/{spec.key_id}")),
            name=spec.name,
            key_id=spec.key_id,
            secret_key=spec.secret_key,
            account_number=number,
            created_at=self.now,
            cash=spec.cash,
            settings=spec.settings.model_dump(),
        )
        self.accounts[account.id] = account
        for position in spec.positions:
            for lot in sorted(position.lots, key=lambda lot: lot.date):
                self._book_starting_lot(account, position.symbol, lot.qty, lot.price, lot.date)
        account.last_equity = self.equity(account)
        account.last_maintenance_margin = margin.maintenance_margin(self.market_value(account))
        account.bought_today = Decimal(0)  # starting lots were bought before the simulation
        self.store.save_account(account)
        return account

    def _book_starting_lot(
        self, account: Account, symbol: str, qty: Decimal, price: Decimal, day: date
    ) -> None:
        """A position held before the simulation: a filled order and a FILL activity on its date."""
        when = datetime.combine(day, datetime.min.time()).replace(hour=15, tzinfo=self.now.tzinfo)
        order = self._new_order(
            account,
            OrderRequest(symbol, "buy", "market", "day", qty, None, None, None, False),
            when,
            client_order_id=f"starting-lot-{symbol}-{day.isoformat()}-{account.order_sequence + 1}",
        )
        order.status = "filled"
        booking.apply_fill(self, account, order, qty, price, when)
        account.cash += (qty * price).quantize(
            CENT, ROUND_HALF_UP
        )  # the starting cash is what is left after it

    # -- authentication and lookups --------------------------------------------------------------------------
    def authenticate(self, key_id: str | None, secret_key: str | None) -> Account:
        for account in self.accounts.values():
            if account.key_id == key_id and account.secret_key == secret_key:
                return account
        raise errors.unauthorized()

    def get_order(self, account: Account, order_id: str) -> Order:
        order = self.orders.get(order_id)
        if order is None or order.account_id != account.id:
            raise errors.order_not_found()
        return order

    def get_order_by_client_id(self, account: Account, client_order_id: str) -> Order:
        order = self._by_client_id.get((account.id, client_order_id))
        if order is None:
            raise errors.order_not_found()
        return order

    def account_orders(self, account: Account) -> list[Order]:
        return list(self._orders_of.get(account.id, {}).values())

    def open_orders(self, account: Account) -> list[Order]:
        return [o for o in self._open.values() if o.account_id == account.id]

    def _index(self, order: Order) -> None:
        """Keep the lookups by client_order_id and of open orders in step with an order's status."""
        self.orders[order.id] = order
        self._orders_of.setdefault(order.account_id, {})[order.id] = order
        self._by_client_id[(order.account_id, order.client_order_id)] = order
        if order.is_open:
            self._open[order.id] = order
        else:
            self._open.pop(order.id, None)

    def account_activities(self, account: Account) -> list[Activity]:
        return list(self._activities_of.get(account.id, ()))

    def record_activity(self, activity: Activity) -> None:
        """Add an activity to the broker's list and to its account's (see ``_orders_of``)."""
        self.activities.append(activity)
        self._activities_of.setdefault(activity.account_id, []).append(activity)

    def forget_activities(self, unwanted: Callable[[Activity], bool]) -> None:
        """Drop the activities ``unwanted`` picks (in memory only): positions then have no FILL to explain
        them, as shares transferred in from another broker have none. Scenarios of the tax ledger use it."""
        kept = [a for a in self.activities if not unwanted(a)]
        self.activities, self._activities_of = [], {}
        for activity in kept:
            self.record_activity(activity)

    # -- valuations -----------------------------------------------------------------------------------------
    def price(self, symbol: str) -> Decimal:
        """Latest trade price at the simulated now (the last close while the market is closed)."""
        return price_at(self.market, symbol, self.now)

    def lastday_price(self, symbol: str) -> Decimal:
        """The close of the last completed session before today's (or before now, while closed)."""
        session = self.calendar.session_at(self.now)
        day = session.date if session else self.calendar.next_open(self.now).date()
        previous = self.calendar.previous_session(day)
        while previous is not None:
            bar = self.market.data.daily_bar(symbol, previous.date)
            if bar is not None:
                return Decimal(str(bar.close)).quantize(CENT)
            previous = self.calendar.previous_session(previous.date)
        return self.price(symbol)

    def market_value(self, account: Account) -> Decimal:
        return sum((p.qty * self.price(p.symbol) for p in account.positions.values()), Decimal(0)).quantize(
            CENT
        )

    def equity(self, account: Account) -> Decimal:
        return (account.cash + self.market_value(account)).quantize(CENT)

    def reserved_cash(self, account: Account) -> Decimal:
        return sum((o.reserved for o in self.open_orders(account)), Decimal(0))

    def balances(self, account: Account, release: Decimal = Decimal(0)) -> margin.Balances:
        """Alpaca's buying powers and margins for the account (``margin.py``); ``release`` is a reservation
        to leave out (the order being filled spends what it reserved)."""
        settings = account.settings
        return margin.balances(
            margin.MarginInputs(
                kind=settings.get("margin_type", "margin"),
                max_multiplier=int(settings.get("max_margin_multiplier", "4")),
                pattern_day_trader=bool(settings.get("pattern_day_trader", False)),
                cash=account.cash,
                long_market_value=self.market_value(account),
                last_equity=account.last_equity,
                last_maintenance_margin=account.last_maintenance_margin,
                reserved=self.reserved_cash(account) - release,
                bought_today=account.bought_today,
            )
        )

    def buying_power(self, account: Account) -> Decimal:
        return self.balances(account).buying_power

    def held_for_orders(self, account: Account, symbol: str) -> Decimal:
        """Shares committed to open sell orders (unavailable to new sells)."""
        held = Decimal(0)
        for order in self.open_orders(account):
            if order.side == "sell" and order.symbol == symbol and self.groups.holds_shares(order):
                held += order.remaining_qty(self.price(symbol) or Decimal(1))
        return held

    def account_summary(self, account: Account) -> dict[str, Decimal]:
        market_value = self.market_value(account)
        return {
            "cash": account.cash.quantize(CENT),
            "long_market_value": market_value,
            "equity": (account.cash + market_value).quantize(CENT),
            "last_equity": account.last_equity.quantize(CENT),
            "last_maintenance_margin": account.last_maintenance_margin.quantize(CENT),
        }

    # -- orders -------------------------------------------------------------------------------------------
    def submit_order(self, account: Account, body: object) -> Order:
        """Validate and accept an order as Alpaca would, or raise the BrokerError Alpaca would answer."""
        group = parse_group_request(body) if is_group_request(body) else None  # bracket, oco, oto
        request = group.top if group else parse_order_request(body)
        with self.lock, self.store.transaction(), localcontext() as context:
            context.prec = 60  # amounts up to 10^15 times prices up to 10^15, to the cent, stay exact
            if group:
                self.groups.check(account, group)
            self._check_acceptable(account, request)
            working = self.calendar.is_open(self.now) or (
                request.extended_hours and extended_hours.window_at(self.calendar, self.now) is not None
            )
            order = self._new_order(account, request, self.now, status="new" if working else "accepted")
            order.reserved = self._reservation(order)
            self.store.save_order(order)
            self.store.save_account(account)
            if group:
                self.groups.attach_legs(account, order, group)
            return order

    def _check_acceptable(self, account: Account, request: OrderRequest) -> None:
        if account.settings.get("suspend_trade"):
            raise errors.BrokerError(403, 40310000, "trading is suspended for this account")
        if (
            request.client_order_id is not None
            and (account.id, request.client_order_id) in self._by_client_id
        ):
            raise errors.duplicate_client_order_id()
        if request.symbol not in self.market.data.symbols:
            raise errors.unknown_order_symbol(request.symbol)
        if not self._tradable_now_or_next(request.symbol):
            raise errors.asset_not_tradable(request.symbol)
        auctions.check_submission(self.calendar, self.now, request.time_in_force)
        if request.is_fractional and not account.settings.get("fractional_trading", True):
            raise errors.invalid_request("fractional trading is not enabled for this account")
        if request.is_fractional and not self.is_fractionable(request.symbol):
            raise errors.invalid_request(f"asset {request.symbol} is not fractionable")
        if any(
            o.symbol == request.symbol and could_cross(request, o.side, o.type, o.limit_price)
            for o in self.open_orders(account)
        ):
            raise errors.wash_trade()
        if request.side == "buy":
            self._check_buying_power(account, request)
        else:
            self._check_sell_qty(account, request)

    def _check_buying_power(self, account: Account, request: OrderRequest) -> None:
        cost = self._estimated_cost(request)
        available = self.buying_power(account)
        if cost > available:
            raise errors.insufficient_buying_power(str(available), str(cost))

    def _check_sell_qty(self, account: Account, request: OrderRequest) -> None:
        position = account.positions.get(request.symbol)
        existing = position.qty if position else Decimal(0)
        held = self.held_for_orders(account, request.symbol)
        price = self.price(request.symbol)
        wanted = (
            request.qty if request.qty is not None else (request.notional / price if price else Decimal(0))
        )
        if wanted > existing - held:
            raise errors.insufficient_qty(
                request.symbol,
                format(wanted.quantize(QTY_STEP).normalize(), "f"),  # 80, not 8E+1
                str(existing - held),
                str(held),
                str(existing),
            )

    def _estimated_cost(self, request: OrderRequest) -> Decimal:
        if request.notional is not None:
            return request.notional
        assert request.qty is not None
        if request.limit_price is not None:  # limit and stop_limit: never more than the limit
            return (request.qty * request.limit_price).quantize(CENT, ROUND_HALF_UP)
        quote = self.market.quote(request.symbol, self.now)
        ask = Decimal(str(quote.ask)) if quote else self.price(request.symbol)
        ask = max(ask, triggers.initial_stop(request, self.price(request.symbol)) or ask)
        impact = Decimal(str(self.matcher.impact_fraction(request.symbol, float(request.qty))))
        return (request.qty * ask * (1 + impact)).quantize(CENT, ROUND_HALF_UP)

    def _reservation(self, order: Order) -> Decimal:
        return self._estimated_cost(OrderRequest.of(order)) if order.side == "buy" else Decimal(0)

    def _new_order(
        self,
        account: Account,
        request: OrderRequest,
        when: datetime,
        client_order_id: str | None = None,
        status: str = "new",
    ) -> Order:
        account.order_sequence += 1
        order = Order(
            id=str(uuid.uuid4()),
            client_order_id=client_order_id or request.client_order_id or str(uuid.uuid4()),
            account_id=account.id,
            symbol=request.symbol,
            side=request.side,
            type=request.type,
            time_in_force=request.time_in_force,
            qty=request.qty,
            notional=request.notional,
            limit_price=request.limit_price,
            stop_price=request.stop_price,
            trail_price=request.trail_price,
            trail_percent=request.trail_percent,
            status=status,
            created_at=when,
            updated_at=when,
            submitted_at=when,
            extended_hours=request.extended_hours,
            sequence=account.order_sequence,
        )
        triggers.start(order, self.price(order.symbol))
        self._index(order)
        self.publish(status, order)
        return order

    def cancel_order(self, account: Account, order_id: str) -> Order:
        with self.lock, self.store.transaction():
            order = self.get_order(account, order_id)
            if not order.is_open:
                raise errors.order_not_cancelable(order.status)
            self._finish(order, "canceled")
            return order

    def cancel_all(self, account: Account) -> list[Order]:
        with self.lock, self.store.transaction():
            open_orders = self.open_orders(account)
            for order in open_orders:
                if order.is_open:  # a group's legs end with their top-level order
                    self._finish(order, "canceled")
            return open_orders

    def _finish(self, order: Order, status: str) -> None:
        """End an order without further fills (canceled, expired, replaced), releasing what it reserved; the
        rest of its bracket, oco or oto group follows (``order_groups.py``)."""
        order.status = status
        order.updated_at = self.now
        if status == "canceled":
            order.canceled_at = self.now
        elif status == "expired":
            order.expired_at = self.now
        elif status == "replaced":
            order.replaced_at = self.now
        order.reserved = Decimal(0)
        self._index(order)
        self.store.save_order(order)
        self.publish(status, order)
        self.groups.after_finish(order)

    def is_fractionable(self, symbol: str) -> bool:
        return symbol not in self.matching.non_fractionable

    def _tradable_now_or_next(self, symbol: str) -> bool:
        session = self.calendar.session_at(self.now)
        when = self.now if session else self.calendar.next_open(self.now)
        return self.market.is_tradable(symbol, when)

    # -- time -----------------------------------------------------------------------------------------------
    def advance(self, delta: timedelta) -> None:
        self.advance_to(self.now + delta)

    def advance_to(self, target: datetime) -> None:
        """Move simulated time forward to ``target``, opening, matching and closing sessions on the way
        (``sessions.py``), in one store transaction."""
        with self.lock, self.store.transaction():
            while self.now < target:
                self.sessions.step(target)
            self.store.set_meta("now", self.now.isoformat())

    # -- account configuration -------------------------------------------------------------------------------
    def update_settings(self, account: Account, changes: dict) -> dict:
        with self.lock, self.store.transaction():
            account.settings = {**account.settings, **changes}
            self.store.save_account(account)
            return account.settings
