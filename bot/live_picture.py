"""What an account holds now, read from the broker: the picture ``status`` and the dashboard show.

A plan's snapshot is the account *before* its trades: shown after a plan filled it reads as if nothing had
happened (issue 16). So ``status`` and the dashboard read the broker each time: positions in shares and
dollars, cash, equity, today's P&L (equity against the previous close, Alpaca's ``last_equity``) and the
total unrealised P&L (market value against cost basis), each asset's weight and its drift from target now.

Every live reading is kept in the state (:mod:`bot.state.equity_history`) as the account's last known
picture: when the broker cannot be reached, ``status`` says so and shows that picture with its time instead
of nothing. Household members are planned together against the household's targets, so their own weights
are shown without a per-account target.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bot.adapters import adapter_for
from bot.broker.alpaca import AlpacaBroker
from bot.broker_watch import BROKER_FAILURES, describe
from bot.config import BotConfig, ConfigError, resolve_credentials
from bot.state.equity_history import EquityDay, EquityHistory
from bot.state.store import StateStore

ZERO = Decimal(0)


@dataclass(frozen=True)
class Holding:
    """One asset of the picture: held, a target, or both."""

    symbol: str
    qty: Decimal
    price: Decimal
    value: Decimal
    weight: Decimal
    target: Decimal | None
    day_pl: Decimal | None = None
    total_pl: Decimal | None = None

    @property
    def drift(self) -> Decimal | None:
        return None if self.target is None else self.weight - self.target


@dataclass(frozen=True)
class LivePicture:
    """An account as the broker showed it at ``at`` (the broker's time)."""

    account: str
    at: datetime
    equity: Decimal
    cash: Decimal
    cash_target: Decimal | None
    day_pl: Decimal | None
    """Equity now minus equity at the previous close (None when the broker did not give that close)."""
    total_pl: Decimal | None
    """Unrealised P&L of the positions held: market value minus cost basis."""
    holdings: tuple[Holding, ...] = ()
    problem: str | None = field(default=None, compare=False)
    """Set on a last known picture shown because the broker could not be read now: why."""

    @property
    def cash_weight(self) -> Decimal:
        return self.cash / self.equity if self.equity else ZERO

    @property
    def cash_drift(self) -> Decimal | None:
        return None if self.cash_target is None else self.cash_weight - self.cash_target

    def weights(self) -> dict[str, Decimal]:
        """Weight by symbol, cash included (for the daily history)."""
        return {**{h.symbol: h.weight for h in self.holdings}, "cash": self.cash_weight}

    def targets(self) -> dict[str, Decimal] | None:
        if self.cash_target is None:
            return None
        return {**{h.symbol: h.target or ZERO for h in self.holdings}, "cash": self.cash_target}

    def as_json(self) -> dict[str, Any]:
        """Plain JSON (money as strings, exact): stored as the last known picture, served by the API."""
        return {
            "account": self.account,
            "at": self.at.isoformat(),
            "equity": str(self.equity),
            "cash": str(self.cash),
            "cash_weight": str(self.cash_weight),
            "cash_target": _text(self.cash_target),
            "day_pl": _text(self.day_pl),
            "total_pl": _text(self.total_pl),
            "holdings": [
                {
                    "symbol": h.symbol,
                    "qty": str(h.qty),
                    "price": str(h.price),
                    "value": str(h.value),
                    "weight": str(h.weight),
                    "target": _text(h.target),
                    "drift": _text(h.drift),
                    "day_pl": _text(h.day_pl),
                    "total_pl": _text(h.total_pl),
                }
                for h in self.holdings
            ],
            "live": self.problem is None,
            "problem": self.problem,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], problem: str | None = None) -> LivePicture:
        return cls(
            account=data["account"],
            at=datetime.fromisoformat(data["at"]),
            equity=Decimal(data["equity"]),
            cash=Decimal(data["cash"]),
            cash_target=_dec(data.get("cash_target")),
            day_pl=_dec(data.get("day_pl")),
            total_pl=_dec(data.get("total_pl")),
            holdings=tuple(
                Holding(
                    h["symbol"],
                    Decimal(h["qty"]),
                    Decimal(h["price"]),
                    Decimal(h["value"]),
                    Decimal(h["weight"]),
                    _dec(h.get("target")),
                    _dec(h.get("day_pl")),
                    _dec(h.get("total_pl")),
                )
                for h in data.get("holdings", [])
            ),
            problem=problem,
        )


def read_picture(config: BotConfig, account: str, broker: AlpacaBroker) -> LivePicture:
    """The account now: one read of the clock, the balances and the positions (raises the broker's
    errors)."""
    at = broker.clock().timestamp
    state = broker.account()
    positions = {p.symbol: p for p in broker.positions()}
    members = set(config.household.names) if config.household is not None else set()
    targets: Mapping[str, Decimal] | None = None if account in members else config.targets.weights
    equity = state.equity
    holdings = []
    for symbol in [*(targets or {}), *sorted(set(positions) - set(targets or {}))]:
        held = positions.get(symbol)
        value = held.market_value if held is not None else ZERO
        holdings.append(
            Holding(
                symbol=symbol,
                qty=held.qty if held is not None else ZERO,
                price=held.current_price if held is not None else ZERO,
                value=value,
                weight=value / equity if equity else ZERO,
                target=None if targets is None else targets.get(symbol, ZERO),
                day_pl=held.unrealized_intraday_pl if held is not None else None,
                total_pl=held.unrealized_pl if held is not None else None,
            )
        )
    pls = [p.unrealized_pl for p in positions.values()]
    return LivePicture(
        account=account,
        at=at,
        equity=equity,
        cash=state.cash,
        cash_target=None if targets is None else config.targets.cash,
        day_pl=equity - state.last_equity if state.last_equity else None,
        total_pl=sum(pls, ZERO) if pls and None not in pls else (None if pls else ZERO),  # type: ignore[arg-type]
        holdings=tuple(holdings),
    )


def picture_or_last(
    config: BotConfig, store: StateStore, account: str, broker: AlpacaBroker | None, problem: str = ""
) -> LivePicture | str:
    """The account read now and kept as its last known picture. When it cannot be read (``broker`` None
    for the ``problem`` given, or a broker failure): the last known picture marked with why, or only why
    when none was kept yet."""
    if broker is not None:
        try:
            picture = read_picture(config, account, broker)
        except BROKER_FAILURES as exc:
            problem = describe(exc, config)
        else:
            remember(store, picture)
            return picture
    problem = problem or "the broker could not be read"
    kept = EquityHistory(store).last_picture(account)
    return LivePicture.from_json(kept, problem) if kept else f"no reading of the broker yet: {problem}"


def remember(store: StateStore, picture: LivePicture) -> None:
    EquityHistory(store).save_picture(picture.account, picture.at, picture.as_json())


def record_session(store: StateStore, picture: LivePicture, day: date) -> bool:
    """The session's row of the equity history from a reading after its close; False if it has one. The
    day's P&L is the change since the previous recorded close when there is one (a broker may already have
    moved its ``last_equity`` to this close, as the embedded one does), else the broker's own figure."""
    remember(store, picture)
    history = EquityHistory(store)
    before = [d for d in history.days(picture.account, limit=2) if d.day < day]
    return history.record(
        EquityDay(
            account=picture.account,
            day=day,
            at=picture.at,
            equity=picture.equity,
            cash=picture.cash,
            day_pl=picture.equity - before[-1].equity if before else picture.day_pl,
            weights=picture.weights(),
            targets=picture.targets(),
        )
    )


EMBEDDED_INSIDE = "the embedded paper broker lives inside the running bot (rebalance-bot run)"


def status_pictures(config: BotConfig, store: StateStore) -> dict[str, LivePicture | str]:
    """For ``status``: every account read from its broker now, or its last known picture and why not (a
    string: only why, when no picture was kept yet). A broker that does not answer is tried twice, not
    for half a minute: status is for a glance."""
    out: dict[str, LivePicture | str] = {}
    for account in config.accounts:
        broker, problem = None, EMBEDDED_INSIDE
        if account.needs_credentials:
            try:
                keys = resolve_credentials(account)
            except ConfigError as exc:
                problem = exc.problems[0]
            else:
                broker, problem = adapter_for(account, keys, max_attempts=2, max_wait=2.0, timeout=5.0), ""
        out[account.name] = picture_or_last(config, store, account.name, broker, problem)
    return out


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)
