"""Each account's equity and weights, one row per trading session, and its last known live picture.

The running bot writes a session's row once, at its first tick after the close (on the broker's clock), from
a fresh reading of the broker: equity, cash, the day's P&L, the weights (cash included) and the targets then
in force, so that "weights against targets over time" stays true after the targets are changed. The row's
key is (account, session day): a second write for the same session (a restart in the evening) is ignored,
so there is one row per session whatever happens.

The last known picture is the latest live reading of each account (``status``, the dashboard, the bot at the
close), kept whole as JSON: when the broker cannot be reached, ``status`` shows it with its time. Money is
stored as text (Decimal, exact). A companion of :class:`bot.state.store.StateStore` like
:mod:`bot.state.web_sessions`, in the same database under the same transaction rules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, select

from bot.state.schema import equity_history, last_pictures

if TYPE_CHECKING:
    from bot.state.store import StateStore


@dataclass(frozen=True)
class EquityDay:
    """One account's session, as the bot read it after the close."""

    account: str
    day: date
    """The session's date (New York)."""
    at: datetime
    """When it was read (the broker's time)."""
    equity: Decimal
    cash: Decimal
    day_pl: Decimal | None
    weights: dict[str, Decimal] = field(hash=False)
    targets: dict[str, Decimal] | None = field(default=None, hash=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "day": self.day.isoformat(),
            "at": self.at.isoformat(),
            "equity": str(self.equity),
            "cash": str(self.cash),
            "day_pl": None if self.day_pl is None else str(self.day_pl),
            "weights": {k: str(v) for k, v in self.weights.items()},
            "targets": None if self.targets is None else {k: str(v) for k, v in self.targets.items()},
        }


class EquityHistory:
    """Read and write the history and the last known pictures in ``store``."""

    def __init__(self, store: StateStore) -> None:
        self.db = store.db

    def record(self, entry: EquityDay) -> bool:
        """Store one session's row; False when that session of that account has one already."""
        statement = self.db.insert(equity_history).values(
            account=entry.account,
            day=entry.day.isoformat(),
            at=entry.at.isoformat(),
            equity=str(entry.equity),
            cash=str(entry.cash),
            day_pl=None if entry.day_pl is None else str(entry.day_pl),
            weights=_json(entry.weights),
            targets=None if entry.targets is None else _json(entry.targets),
        )
        with self.db.write() as conn:
            result = conn.execute(statement.on_conflict_do_nothing(index_elements=["account", "day"]))
            return result.rowcount == 1

    def days(self, account: str | None = None, limit: int = 400) -> list[EquityDay]:
        """The latest ``limit`` sessions, oldest first (the order a chart draws them in)."""
        query = select(equity_history).order_by(equity_history.c.day.desc(), equity_history.c.account)
        if account is not None:
            query = query.where(equity_history.c.account == account)
        with self.db.read() as conn:
            rows = conn.execute(query.limit(limit)).all()
        return [_day(row) for row in reversed(rows)]

    def save_picture(self, account: str, at: datetime, picture: Mapping[str, Any]) -> None:
        """Keep ``picture`` (JSON) as the account's last known one, unless a later one is kept already."""
        statement = self.db.insert(last_pictures).values(
            account=account, at=at.isoformat(), picture=json.dumps(picture)
        )
        upsert = statement.on_conflict_do_update(
            index_elements=["account"],
            set_={"at": statement.excluded.at, "picture": statement.excluded.picture},
            where=statement.excluded.at >= last_pictures.c.at,
        )
        with self.db.write() as conn:
            conn.execute(upsert)

    def last_picture(self, account: str) -> dict[str, Any] | None:
        query = select(last_pictures.c.picture).where(last_pictures.c.account == account)
        with self.db.read() as conn:
            text = conn.execute(query).scalar()
        return None if text is None else json.loads(text)


def _json(values: Mapping[str, Decimal]) -> str:
    return json.dumps({k: str(v) for k, v in values.items()})


def _decimals(text: str | None) -> dict[str, Decimal] | None:
    return None if text is None else {k: Decimal(v) for k, v in json.loads(text).items()}


def _day(found: Row[Any]) -> EquityDay:
    row = found._mapping
    return EquityDay(
        account=row["account"],
        day=date.fromisoformat(row["day"]),
        at=datetime.fromisoformat(row["at"]),
        equity=Decimal(row["equity"]),
        cash=Decimal(row["cash"]),
        day_pl=None if row["day_pl"] is None else Decimal(row["day_pl"]),
        weights=_decimals(row["weights"]) or {},
        targets=_decimals(row["targets"]),
    )
