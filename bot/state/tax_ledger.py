"""The tax lot ledger's inputs (issue 8): the fills it is replayed from (the broker's FILL activities, each
once by account and activity id, and imported pre-bot lots), the symbols blocked by a ledger/broker mismatch,
and the wash sales incurred. The ledger itself is always replayed from these (``bot/tax/ledger.py``)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, delete, func, insert, select

from bot.state.db import Database, find, record
from bot.state.errors import StateError
from bot.state.order_records import SIDES
from bot.state.schema import tax_blocks, tax_fills, tax_wash_sales


@dataclass(frozen=True)
class TaxFillRecord:
    """One fill the lot ledger is replayed from: a broker FILL activity, or an imported pre-bot lot."""

    account: str
    fill_id: str
    """The broker's activity id, or ``import:<row>`` for an imported lot."""
    source: str
    """``broker`` or ``import``."""
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    trade_date: date
    at: datetime | None
    """The broker's transaction time (None for an imported lot)."""
    order_id: str | None
    note: str = ""


@dataclass(frozen=True)
class TaxBlockRecord:
    """A symbol whose ledger quantity disagrees with the broker: tax-aware trading in it stops meanwhile."""

    account: str
    symbol: str
    ledger_qty: Decimal
    broker_qty: Decimal
    detected_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class WashSaleRecord:
    """A wash sale the household incurred (e.g. a dividend reinvested by the broker within 30 days of a loss
    sale): the disallowed loss, and where it went (the replacement's basis, or lost for good in an IRA)."""

    sale_fill_id: str
    lot_id: str
    replacement_fill_id: str
    account: str
    symbol: str
    sold: date
    replacement_account: str
    replacement_symbol: str
    replacement_day: date
    qty: Decimal
    disallowed: Decimal
    permanent: bool
    recorded_at: datetime


class TaxLedger:
    """The tax ledger aggregate. ``now`` is the wall clock for bookkeeping times."""

    def __init__(self, db: Database, now: Callable[[], datetime]) -> None:
        self.db = db
        self._now = now

    def add_tax_fills(self, fills: Collection[TaxFillRecord]) -> int:
        """Record broker fills for the lot ledger, each once (by account and activity id); returns how many
        were new. One transaction: a page of activities is recorded whole or not at all."""
        rows = [_tax_fill_values(fill, self._now()) for fill in fills]
        if not rows:
            return 0
        statement = self.db.insert(tax_fills).on_conflict_do_nothing(index_elements=["account", "fill_id"])
        with self.db.write() as conn:
            # one executemany of one small statement, counted by its summed row count (a conflict adds no
            # row). A first read of an account's history is hundreds of fills: one statement per fill, then a
            # multi-row VALUES (which neither SQLAlchemy nor psycopg can cache: each size is a new statement)
            # were a fleet visit's largest database cost (scripts/bench_fleet.py, profiled); psycopg sends
            # this as one pipeline of one prepared statement, SQLite runs it in process
            return conn.execute(statement, rows).rowcount

    def replace_imported_lots(self, account: str, lots: Collection[TaxFillRecord]) -> int:
        """Replace every imported lot of ``account`` with ``lots`` in one transaction (an import is the
        whole pre-bot history of the account: importing the same file again changes nothing)."""
        with self.db.write() as conn:
            conn.execute(
                delete(tax_fills).where(tax_fills.c.account == account, tax_fills.c.source == "import")
            )
            for lot in lots:
                if lot.source != "import" or lot.account != account:
                    raise StateError(f"lot {lot.fill_id}: not an imported lot of account {account}")
                conn.execute(insert(tax_fills).values(**_tax_fill_values(lot, self._now())))
        return len(lots)

    def tax_fills(
        self, account: str | tuple[str, ...] | None = None, source: str | None = None
    ) -> list[TaxFillRecord]:
        """In trade order: by trade date, then the broker's time, then id (imports first on a day);
        ``account`` may be one account or a tuple of them."""
        trade_order = ("trade_date", "at not null", "at", "fill_id")
        with self.db.read() as conn:
            found = find(conn, tax_fills, trade_order, account=account, source=source)
        return [record(TaxFillRecord, row) for row in found]

    def last_tax_fill_time(self, account: str) -> datetime | None:
        """The broker time of the newest broker fill recorded for ``account`` (where the next read starts)."""
        query = select(func.max(tax_fills.c.at)).where(
            tax_fills.c.account == account, tax_fills.c.source == "broker"
        )
        with self.db.read() as conn:
            return conn.execute(query).scalar()

    def set_tax_block(self, account: str, symbol: str, ledger_qty: Decimal, broker_qty: Decimal) -> bool:
        """Block tax-aware trading in ``symbol``; True when the block is new (the caller alerts once)."""
        stamp = self._now()
        statement = self.db.insert(tax_blocks).values(
            account=account,
            symbol=symbol,
            ledger_qty=ledger_qty,
            broker_qty=broker_qty,
            detected_at=stamp,
            updated_at=stamp,
        )
        upsert = statement.on_conflict_do_update(
            index_elements=["account", "symbol"],
            set_={name: statement.excluded[name] for name in ("ledger_qty", "broker_qty", "updated_at")},
        )
        with self.db.write() as conn:
            existing = conn.execute(
                select(tax_blocks.c.symbol).where(
                    tax_blocks.c.account == account, tax_blocks.c.symbol == symbol
                )
            ).first()
            conn.execute(upsert)
            return existing is None

    def clear_tax_block(self, account: str, symbol: str) -> bool:
        """The ledger agrees with the broker again; True when there was a block."""
        with self.db.write() as conn:
            result = conn.execute(
                delete(tax_blocks).where(tax_blocks.c.account == account, tax_blocks.c.symbol == symbol)
            )
            return result.rowcount == 1

    def tax_blocks(self, account: str | None = None) -> list[TaxBlockRecord]:
        with self.db.read() as conn:
            found = find(conn, tax_blocks, ("account", "symbol"), account=account)
        return [record(TaxBlockRecord, row) for row in found]

    def record_wash_sale(self, wash: WashSaleRecord) -> bool:
        """Record a wash sale incurred; True when it was not known yet (the caller alerts once)."""
        values = {column.name: getattr(wash, column.name) for column in tax_wash_sales.columns}
        values["permanent"] = int(wash.permanent)
        statement = (
            self.db.insert(tax_wash_sales)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["sale_fill_id", "lot_id", "replacement_fill_id"])
        )
        with self.db.write() as conn:
            return conn.execute(statement).rowcount == 1

    def wash_sales(self, account: str | None = None) -> list[WashSaleRecord]:
        with self.db.read() as conn:
            found = find(conn, tax_wash_sales, ("sold", "sale_fill_id"), account=account)
        return [_wash_sale(row) for row in found]


def _tax_fill_values(fill: TaxFillRecord, stamp: datetime) -> dict[str, Any]:
    if fill.side not in SIDES:
        raise ValueError(f"tax fill {fill.fill_id}: side must be buy or sell, got {fill.side!r}")
    values = {
        column.name: getattr(fill, column.name)
        for column in tax_fills.columns
        if column.name != "recorded_at"
    }
    return {**values, "recorded_at": stamp}


def _wash_sale(row: Row[Any]) -> WashSaleRecord:
    return record(WashSaleRecord, row, permanent=bool(row._mapping["permanent"]))
