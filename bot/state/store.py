"""The bot's durable memory: one SQLite file of runs, plans, orders, fills, approvals, flags and audit events.

It is what makes the bot crash-safe. Every order gets an *intent* row (its deterministic client_order_id)
before it is submitted, so a restarted bot looks the order up at the broker instead of sending it again; every
plan is stored with the content hash a person approves, and an approval only counts for that exact hash.

Durability: WAL journal with ``synchronous=FULL`` (a committed transaction survives a power cut), foreign
keys on, every write a short ``BEGIN IMMEDIATE`` transaction, and a busy timeout so the CLI (approve, halt)
and the running bot can share the file. One connection is shared between threads behind a lock.

Money and quantities are stored as TEXT and come back as :class:`~decimal.Decimal`; times are stored as
ISO-8601 UTC text and come back as tz-aware UTC datetimes (a naive datetime passed in is taken as UTC).
The schema is versioned with ``PRAGMA user_version`` and upgraded by :func:`migrate` when the store opens.

Tax-aware execution (issue 8) keeps here the fills the lot ledger is replayed from (``tax_fills``: the
broker's FILL activities and imported pre-bot lots), the symbols blocked by a ledger mismatch
(``tax_blocks``) and the wash sales incurred (``tax_wash_sales``); the ledger itself is always replayed.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.state.equity_history import migrate_equity_history
from bot.state.private import private_dir, private_file
from bot.state.web_sessions import migrate_web_sessions

# --- vocabulary ---------------------------------------------------------------------------------------------

PLAN_STATUSES = frozenset(
    {
        "planned",
        "held",
        "approved",
        "rejected",
        "refused",
        "executing",
        "done",
        "failed",
        "superseded",
        "expired",
    }  # fmt: skip
)
UNFINISHED_PLAN_STATUSES = ("planned", "approved", "executing")
"""What a restarted bot must pick up again (``held`` waits for a person, not for the bot)."""
TERMINAL_PLAN_STATUSES = frozenset({"rejected", "refused", "done", "failed", "superseded", "expired"})
PLAN_TRANSITIONS: Mapping[str, frozenset[str]] = {
    "planned": frozenset({"held", "refused", "executing", "superseded", "failed", "expired"}),
    "held": frozenset({"approved", "rejected", "superseded", "expired", "failed"}),
    "approved": frozenset({"executing", "superseded", "expired", "failed"}),
    "executing": frozenset({"done", "failed"}),
    **{status: frozenset() for status in TERMINAL_PLAN_STATUSES},
}
"""Allowed plan status changes (setting the current status again is always allowed and updates the reason).
Terminal statuses never change, so a finished plan cannot be executed again."""

FINAL_ORDER_STATUSES = frozenset({"filled", "canceled", "expired", "rejected", "replaced"})
"""Alpaca order statuses after which nothing more happens to an order (same set as ``bot.broker.models``)."""
INTENT = "intent"
"""Status of an order row written before its submit: the broker may or may not have it."""

APPROVAL_STATUSES = frozenset({"pending", "approved", "rejected", "expired", "superseded", "canceled"})
SIDES = ("buy", "sell")

SCHEMA_VERSION = 6
BUSY_TIMEOUT_MS = 15_000


class StateError(Exception):
    """The state database refused an operation (unknown record, conflicting write, newer schema...)."""


class UnknownRecord(StateError, LookupError):
    """No row with that id."""


class InvalidTransition(StateError):
    """A plan status change that is not allowed (e.g. a finished plan moved back to executing)."""


class ApprovalError(StateError):
    """An approval cannot be requested or decided (hash mismatch, not pending, expired, unknown plan)."""


# --- records ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    kind: str
    config_hash: str
    status: str
    """``running`` until finished; ``interrupted`` when a later run started while it was still running."""
    started_at: datetime
    finished_at: datetime | None
    summary: dict = field(hash=False)
    pid: int | None
    host: str | None


@dataclass(frozen=True)
class PlanRecord:
    plan_id: str
    run_id: str | None
    account: str
    content_hash: str
    status: str
    status_reason: str
    explanation: str
    details: dict = field(hash=False)
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class OrderRecord:
    client_order_id: str
    plan_id: str
    account: str
    seq: int
    symbol: str
    side: str
    qty: Decimal | None
    notional: Decimal | None
    order_type: str
    limit_price: Decimal | None
    est_notional: Decimal
    status: str
    broker_id: str | None
    filled_qty: Decimal | None
    filled_avg_price: Decimal | None
    created_at: datetime
    submitted_at: datetime | None
    final_at: datetime | None
    updated_at: datetime

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_ORDER_STATUSES

    @property
    def is_intent(self) -> bool:
        return self.status == INTENT


@dataclass(frozen=True)
class FillRecord:
    activity_id: str
    client_order_id: str
    qty: Decimal
    price: Decimal
    at: datetime
    recorded_at: datetime


@dataclass(frozen=True)
class ApprovalRecord:
    plan_id: str
    content_hash: str
    status: str
    requested_at: datetime
    expires_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    channel: str | None
    reason: str


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
    event: str
    run_id: str | None
    account: str | None
    plan_id: str | None
    client_order_id: str | None
    fields: dict = field(hash=False)


@dataclass(frozen=True)
class ExecParentRecord:
    """A planned order as the executor runs it: the policy chosen, the arrival price, the deadline."""

    parent_id: str
    """The planned order's client_order_id (``<plan_id>-<seq>``); sliced children derive theirs from it."""
    plan_id: str
    account: str
    seq: int
    symbol: str
    side: str
    policy: str
    """``single`` (one order, sent under ``parent_id``) or ``twap`` (children ``<parent_id>-c<k>``)."""
    policy_config: dict = field(hash=False)
    policy_reason: str = ""
    qty: Decimal | None = None
    """Approved shares (qty orders)."""
    notional: Decimal | None = None
    """Approved USD (notional orders)."""
    arrival_mid: Decimal | None = None
    """Mid quote when the executor first took the plan up: the decision ("arrival") price."""
    decision_price: Decimal | None = None
    """The planner's estimate (its price when the plan was made)."""
    adv: Decimal | None = None
    deadline: datetime | None = None
    status: str = "working"
    """``working``, then ``filled``, ``expired`` (deadline), ``failed`` or ``done`` (single orders)."""
    status_reason: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def is_final(self) -> bool:
        return self.status != "working"


@dataclass(frozen=True)
class ExecChildRecord:
    """One child of a sliced parent: its place in the schedule and, once recorded, its order's state."""

    client_order_id: str
    parent_id: str
    k: int
    kind: str
    """``slice`` (a scheduled slot), ``reprice``, ``catchup`` or ``remainder``."""
    planned_at: datetime
    planned_qty: Decimal | None
    status: str
    """Schedule status: ``planned``, ``sent``, ``skipped``, ``repricing``, ``repriced``, ``deadline``."""
    interval_volume: Decimal | None
    """Market volume of the interval the child was sized on (for the participation it achieved)."""
    note: str
    order: OrderRecord | None
    """The child's order row (None until the child is recorded as an intent)."""


@dataclass(frozen=True)
class ExecutionReportRecord:
    """How one planned order was executed: implementation shortfall against the arrival mid."""

    parent_id: str
    plan_id: str
    account: str
    symbol: str
    side: str
    policy: str
    arrival_mid: Decimal | None
    decision_price: Decimal | None
    planned_qty: Decimal | None
    planned_notional: Decimal | None
    filled_qty: Decimal
    avg_price: Decimal | None
    filled_notional: Decimal
    shortfall_bp: float | None
    """(avg fill - arrival mid) / arrival mid in basis points, positive = a cost (sign flipped for sells)."""
    participation: float | None
    """Filled shares / market volume from the first order to the last fill."""
    max_child_participation: float | None
    """Largest child / market volume of the interval it was sized on (sliced orders)."""
    market_volume: Decimal | None
    children: int
    status: str
    started_at: datetime
    finished_at: datetime

    @property
    def fill_ratio(self) -> float | None:
        if self.planned_qty:
            return float(self.filled_qty / self.planned_qty)
        if self.planned_notional:
            return float(self.filled_notional / self.planned_notional)
        return None


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


# --- schema -------------------------------------------------------------------------------------------------

_SCHEMA_V1 = (
    """CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        config_hash TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        summary TEXT NOT NULL DEFAULT '{}',
        pid INTEGER,
        host TEXT
    )""",
    """CREATE TABLE plans (
        plan_id TEXT PRIMARY KEY,
        run_id TEXT,
        account TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        status TEXT NOT NULL,
        status_reason TEXT NOT NULL DEFAULT '',
        explanation TEXT NOT NULL,
        details TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    "CREATE INDEX plans_by_account_status ON plans (account, status, created_at)",
    "CREATE INDEX plans_by_created ON plans (created_at)",
    """CREATE TABLE orders (
        client_order_id TEXT PRIMARY KEY,
        plan_id TEXT NOT NULL REFERENCES plans (plan_id),
        account TEXT NOT NULL,
        seq INTEGER NOT NULL,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
        qty TEXT,
        notional TEXT,
        order_type TEXT NOT NULL,
        limit_price TEXT,
        est_notional TEXT NOT NULL,
        status TEXT NOT NULL,
        broker_id TEXT,
        filled_qty TEXT,
        filled_avg_price TEXT,
        created_at TEXT NOT NULL,
        submitted_at TEXT,
        final_at TEXT,
        updated_at TEXT NOT NULL,
        UNIQUE (plan_id, seq)
    )""",
    "CREATE INDEX orders_by_account_status ON orders (account, status)",
    "CREATE INDEX orders_by_submitted ON orders (account, submitted_at)",
    "CREATE INDEX orders_by_broker_id ON orders (broker_id)",
    """CREATE TABLE fills (
        activity_id TEXT PRIMARY KEY,
        client_order_id TEXT NOT NULL REFERENCES orders (client_order_id),
        qty TEXT NOT NULL,
        price TEXT NOT NULL,
        at TEXT NOT NULL,
        recorded_at TEXT NOT NULL
    )""",
    "CREATE INDEX fills_by_order ON fills (client_order_id, at)",
    """CREATE TABLE approvals (
        plan_id TEXT PRIMARY KEY REFERENCES plans (plan_id),
        content_hash TEXT NOT NULL,
        status TEXT NOT NULL,
        requested_at TEXT NOT NULL,
        expires_at TEXT,
        decided_at TEXT,
        decided_by TEXT,
        channel TEXT,
        reason TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX approvals_by_status ON approvals (status, requested_at)",
    """CREATE TABLE flags (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    """CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        event TEXT NOT NULL,
        run_id TEXT,
        account TEXT,
        plan_id TEXT,
        client_order_id TEXT,
        fields TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX audit_by_event ON audit (event, id)",
)


def _migrate_to_1(conn: sqlite3.Connection) -> None:
    for statement in _SCHEMA_V1:
        conn.execute(statement)


def _migrate_to_2(conn: sqlite3.Connection) -> None:
    """Single-use approve/reject links: a link's nonce is recorded when it is used."""
    conn.execute(
        """CREATE TABLE used_links (
            nonce TEXT PRIMARY KEY,
            plan_id TEXT NOT NULL,
            action TEXT NOT NULL,
            used_at TEXT NOT NULL
        )"""
    )


_SCHEMA_SLICING = (
    """CREATE TABLE exec_parents (
        parent_id TEXT PRIMARY KEY,
        plan_id TEXT NOT NULL REFERENCES plans (plan_id),
        account TEXT NOT NULL,
        seq INTEGER NOT NULL,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
        policy TEXT NOT NULL,
        policy_config TEXT NOT NULL DEFAULT '{}',
        policy_reason TEXT NOT NULL DEFAULT '',
        qty TEXT,
        notional TEXT,
        arrival_mid TEXT,
        decision_price TEXT,
        adv TEXT,
        deadline TEXT,
        status TEXT NOT NULL,
        status_reason TEXT NOT NULL DEFAULT '',
        started_at TEXT NOT NULL,
        finished_at TEXT,
        updated_at TEXT NOT NULL,
        UNIQUE (plan_id, seq)
    )""",
    "CREATE INDEX exec_parents_by_account ON exec_parents (account, status)",
    """CREATE TABLE exec_children (
        client_order_id TEXT PRIMARY KEY,
        parent_id TEXT NOT NULL REFERENCES exec_parents (parent_id),
        k INTEGER NOT NULL,
        kind TEXT NOT NULL,
        planned_at TEXT NOT NULL,
        planned_qty TEXT,
        status TEXT NOT NULL,
        interval_volume TEXT,
        note TEXT NOT NULL DEFAULT '',
        updated_at TEXT NOT NULL,
        UNIQUE (parent_id, k)
    )""",
    """CREATE TABLE execution_reports (
        parent_id TEXT PRIMARY KEY REFERENCES exec_parents (parent_id),
        plan_id TEXT NOT NULL,
        account TEXT NOT NULL,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        policy TEXT NOT NULL,
        arrival_mid TEXT,
        decision_price TEXT,
        planned_qty TEXT,
        planned_notional TEXT,
        filled_qty TEXT NOT NULL,
        avg_price TEXT,
        filled_notional TEXT NOT NULL,
        shortfall_bp REAL,
        participation REAL,
        max_child_participation REAL,
        market_volume TEXT,
        children INTEGER NOT NULL,
        status TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL
    )""",
    "CREATE INDEX execution_reports_by_symbol ON execution_reports (account, symbol, finished_at)",
    "CREATE INDEX execution_reports_by_plan ON execution_reports (plan_id)",
)


def _migrate_slicing(conn: sqlite3.Connection) -> None:
    """Order slicing (issue 6): how each planned order is executed, the child schedule of sliced ones, and
    an execution report per order."""
    for statement in _SCHEMA_SLICING:
        conn.execute(statement)


_SCHEMA_TAX = (
    """CREATE TABLE tax_fills (
        account TEXT NOT NULL,
        fill_id TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('broker', 'import')),
        symbol TEXT NOT NULL,
        side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
        qty TEXT NOT NULL,
        price TEXT NOT NULL,
        trade_date TEXT NOT NULL,
        at TEXT,
        order_id TEXT,
        note TEXT NOT NULL DEFAULT '',
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (account, fill_id)
    )""",
    "CREATE INDEX tax_fills_by_time ON tax_fills (account, source, at)",
    """CREATE TABLE tax_blocks (
        account TEXT NOT NULL,
        symbol TEXT NOT NULL,
        ledger_qty TEXT NOT NULL,
        broker_qty TEXT NOT NULL,
        detected_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (account, symbol)
    )""",
    """CREATE TABLE tax_wash_sales (
        sale_fill_id TEXT NOT NULL,
        lot_id TEXT NOT NULL,
        replacement_fill_id TEXT NOT NULL,
        account TEXT NOT NULL,
        symbol TEXT NOT NULL,
        sold TEXT NOT NULL,
        replacement_account TEXT NOT NULL,
        replacement_symbol TEXT NOT NULL,
        replacement_day TEXT NOT NULL,
        qty TEXT NOT NULL,
        disallowed TEXT NOT NULL,
        permanent INTEGER NOT NULL,
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (sale_fill_id, lot_id, replacement_fill_id)
    )""",
)


def _migrate_tax(conn: sqlite3.Connection) -> None:
    """Tax-aware execution (issue 8): the fills the lot ledger is replayed from (the broker's FILL activities
    and imported pre-bot lots), symbols blocked by a ledger/broker mismatch, and wash sales incurred."""
    for statement in _SCHEMA_TAX:
        conn.execute(statement)


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _migrate_to_1,
    _migrate_to_2,
    _migrate_slicing,
    _migrate_tax,
    migrate_web_sessions,  # revocable dashboard sessions (issue 17), in bot/state/web_sessions.py
    migrate_equity_history,  # daily equity and weights, last known pictures (issue 16), equity_history.py
)
"""``MIGRATIONS[i]`` takes the schema from version ``i`` to ``i + 1``. Append; never edit a released one."""
assert len(MIGRATIONS) == SCHEMA_VERSION


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema up to :data:`SCHEMA_VERSION`, one transaction per step; returns the version.

    ``conn`` must be in autocommit mode (``isolation_level=None``). A file written by a newer bot is refused
    rather than guessed at.
    """
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StateError(
                    f"the state database has schema version {version}, newer than this bot's "
                    f"{SCHEMA_VERSION}; upgrade the bot"
                )
            if version == SCHEMA_VERSION:
                conn.execute("COMMIT")
                return version
            MIGRATIONS[version](conn)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


# --- conversions --------------------------------------------------------------------------------------------


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(value: datetime | None) -> str | None:
    """Fixed-width ISO UTC text, so that text order is time order."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _dec_text(value: Decimal | int | str | float | None) -> str | None:
    if value is None:
        return None
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return str(number)


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return _ts(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _to_json(value: Any) -> str:
    return json.dumps(value, default=_json_default, separators=(",", ":"))


def _statuses(status: str | Collection[str] | None) -> tuple[str, ...] | None:
    if status is None:
        return None
    return (status,) if isinstance(status, str) else tuple(status)


# --- the store ----------------------------------------------------------------------------------------------


class StateStore:
    """The state database. ``StateStore(None)`` is an in-memory scratch store (dry runs, tests).

    ``now`` is the wall clock used for bookkeeping times (run start, updated_at, audit); times that matter to
    trading rules (plan creation, order submission) are passed in by the caller on the broker's clock.
    """

    def __init__(self, path: Path | str | None, *, now: Callable[[], datetime] = _utcnow) -> None:
        self.path = Path(path) if path is not None else None
        self._now = now
        self._lock = threading.RLock()
        self._last_run_stamp: datetime | None = None
        if self.path is not None:
            private_dir(self.path.parent)
            private_file(self.path)  # before SQLite opens it: its -wal and -shm files copy this mode
        self._db = sqlite3.connect(
            str(self.path) if self.path is not None else ":memory:",
            check_same_thread=False,
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
        try:
            self._db.row_factory = sqlite3.Row
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if self.path is not None:
                mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StateError(f"{self.path}: cannot use WAL journal mode (got {mode})")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self.schema_version = migrate(self._db)
        except BaseException:
            self._db.close()
            raise

    # -- plumbing --------------------------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction, taken up front (IMMEDIATE) so it cannot deadlock on upgrade."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")

    def _query(self, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _stamp(self) -> str:
        return _ts(self._now()) or ""

    def pragma(self, name: str) -> Any:
        """The value of a PRAGMA (``journal_mode``, ``synchronous``, ``foreign_keys``...), for checks."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"not a pragma name: {name!r}")
        return self._query(f"PRAGMA {name}")[0][0]

    # -- runs ------------------------------------------------------------------------------------------------
    def start_run(self, kind: str, config_hash: str) -> str:
        """Record the start of a bot run; returns its id (time-based, so ids sort in start order).

        Runs still marked ``running`` are marked ``interrupted``: only one bot runs per state directory (see
        :class:`bot.state.lock.StateLock`), so such a run ended without finishing (crash, SIGKILL).
        """
        with self._write() as db:
            started = self._now().astimezone(UTC)
            if self._last_run_stamp is not None and started <= self._last_run_stamp:
                started = self._last_run_stamp + timedelta(microseconds=1)
            self._last_run_stamp = started
            run_id = f"{started:%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}"
            db.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = ? WHERE status = 'running'",
                (_ts(started),),
            )
            db.execute(
                "INSERT INTO runs (run_id, kind, config_hash, status, started_at, pid, host)"
                " VALUES (?, ?, ?, 'running', ?, ?, ?)",
                (run_id, kind, config_hash, _ts(started), os.getpid(), socket.gethostname()),
            )
        return run_id

    def finish_run(self, run_id: str, status: str, summary: Mapping[str, Any] | None = None) -> None:
        with self._write() as db:
            cursor = db.execute(
                "UPDATE runs SET status = ?, finished_at = ?, summary = ? WHERE run_id = ?",
                (status, self._stamp(), _to_json(dict(summary or {})), run_id),
            )
            if cursor.rowcount == 0:
                raise UnknownRecord(f"no run {run_id!r}")

    def get_run(self, run_id: str) -> RunRecord | None:
        rows = self._query("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return _run(rows[0]) if rows else None

    def last_run(self) -> RunRecord | None:
        runs = self.runs(1)
        return runs[0] if runs else None

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """Newest first."""
        rows = self._query("SELECT * FROM runs ORDER BY started_at DESC, run_id DESC LIMIT ?", (limit,))
        return [_run(row) for row in rows]

    # -- plans -----------------------------------------------------------------------------------------------
    def save_plan(
        self,
        plan_id: str,
        run_id: str | None,
        account: str,
        content_hash: str,
        status: str,
        explanation: str,
        details: Mapping[str, Any],
        created_at: datetime,
    ) -> None:
        """Store a new plan. Saving the same plan id again with the same account and hash is a no-op (a
        retry); with different content it raises :class:`StateError`."""
        _check_plan_status(status)
        with self._write() as db:
            existing = db.execute(
                "SELECT account, content_hash FROM plans WHERE plan_id = ?", (plan_id,)
            ).fetchone()
            if existing is not None:
                if (existing["account"], existing["content_hash"]) == (account, content_hash):
                    return
                raise StateError(f"plan {plan_id!r} already exists with different content")
            stamp = self._stamp()
            db.execute(
                "INSERT INTO plans (plan_id, run_id, account, content_hash, status, status_reason,"
                " explanation, details, created_at, updated_at) VALUES (?, ?, ?, ?, ?, '', ?, ?, ?, ?)",
                (
                    plan_id,
                    run_id,
                    account,
                    content_hash,
                    status,
                    explanation,
                    _to_json(dict(details)),
                    _ts(created_at),
                    stamp,
                ),
            )

    def set_plan_status(
        self, plan_id: str, status: str, reason: str = "", *, expected: str | Collection[str] | None = None
    ) -> PlanRecord:
        """Move a plan to ``status`` (see :data:`PLAN_TRANSITIONS`); returns the updated record.

        ``expected`` makes it a compare-and-set: the change happens only if the plan is currently in one of
        those statuses (else :class:`InvalidTransition`). ``approved``/``rejected`` can only follow a matching
        :meth:`decide_approval` (which already sets them). Leaving ``held`` for any other status closes a
        pending approval in the same transaction (as ``superseded``, ``expired`` or ``canceled``).
        """
        _check_plan_status(status)
        allowed_from = _statuses(expected)
        with self._write() as db:
            row = db.execute("SELECT status FROM plans WHERE plan_id = ?", (plan_id,)).fetchone()
            if row is None:
                raise UnknownRecord(f"no plan {plan_id!r}")
            current = row["status"]
            if allowed_from is not None and current not in allowed_from:
                raise InvalidTransition(
                    f"plan {plan_id} is {current}, expected {' or '.join(allowed_from)}; not set to {status}"
                )
            if status != current and status not in PLAN_TRANSITIONS[current]:
                raise InvalidTransition(f"plan {plan_id} cannot go from {current} to {status}")
            approval = db.execute("SELECT status FROM approvals WHERE plan_id = ?", (plan_id,)).fetchone()
            if status in ("approved", "rejected") and (approval is None or approval["status"] != status):
                raise ApprovalError(f"plan {plan_id} can only be {status} through decide_approval")
            if approval is not None and approval["status"] == "pending" and status != "held":
                closed = status if status in ("superseded", "expired") else "canceled"
                why = f"plan became {status}" + (f": {reason}" if reason else "")
                db.execute(
                    "UPDATE approvals SET status = ?, decided_at = ?, reason = ? WHERE plan_id = ?",
                    (closed, self._stamp(), why, plan_id),
                )
            db.execute(
                "UPDATE plans SET status = ?, status_reason = ?, updated_at = ? WHERE plan_id = ?",
                (status, reason, self._stamp(), plan_id),
            )
            return _plan(db.execute("SELECT * FROM plans WHERE plan_id = ?", (plan_id,)).fetchone())

    def get_plan(self, plan_id: str) -> PlanRecord | None:
        rows = self._query("SELECT * FROM plans WHERE plan_id = ?", (plan_id,))
        return _plan(rows[0]) if rows else None

    def plans(
        self, account: str | None = None, status: str | Collection[str] | None = None, limit: int = 50
    ) -> list[PlanRecord]:
        """Newest first (by ``created_at``); ``status`` may be one status or several."""
        where, params = _filters(account=account, status=_statuses(status))
        rows = self._query(
            f"SELECT * FROM plans {where} ORDER BY created_at DESC, plan_id DESC LIMIT ?", [*params, limit]
        )
        return [_plan(row) for row in rows]

    def unfinished_plans(self, account: str) -> list[PlanRecord]:
        """Plans a restarted bot must carry on with (planned, approved, executing), oldest first."""
        where, params = _filters(account=account, status=UNFINISHED_PLAN_STATUSES)
        rows = self._query(f"SELECT * FROM plans {where} ORDER BY created_at, plan_id", params)
        return [_plan(row) for row in rows]

    # -- orders ----------------------------------------------------------------------------------------------
    def record_order(
        self,
        client_order_id: str,
        plan_id: str,
        account: str,
        seq: int,
        symbol: str,
        side: str,
        qty: Decimal | None,
        notional: Decimal | None,
        order_type: str,
        limit_price: Decimal | None,
        status: str = INTENT,
        *,
        est_notional: Decimal,
        created_at: datetime | None = None,
    ) -> OrderRecord:
        """Write the order's row BEFORE it is submitted (the write-ahead record); returns it.

        ``est_notional`` (qty x estimated price, or the notional) is what the daily limit adds up.
        ``created_at`` should be the broker's time (it dates an intent whose submit outcome is unknown); the
        wall clock by default. Recording the same id again with the same content is a no-op that returns the
        stored row (whose status may have moved on); different content raises :class:`StateError`.
        """
        if side not in SIDES:
            raise ValueError(f"side must be buy or sell, not {side!r}")
        values = {
            "plan_id": plan_id,
            "account": account,
            "seq": int(seq),
            "symbol": symbol,
            "side": side,
            "qty": _dec_text(qty),
            "notional": _dec_text(notional),
            "order_type": order_type,
            "limit_price": _dec_text(limit_price),
            "est_notional": _dec_text(est_notional),
        }
        with self._write() as db:
            existing = _order_row(db, client_order_id)
            if existing is not None:
                if all(_same(existing[key], value) for key, value in values.items()):
                    return _order(existing)
                raise StateError(f"order {client_order_id!r} already recorded with different content")
            stamp = self._stamp()
            try:
                db.execute(
                    "INSERT INTO orders (client_order_id, plan_id, account, seq, symbol, side, qty, notional,"
                    " order_type, limit_price, est_notional, status, created_at, updated_at, final_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        client_order_id,
                        *values.values(),
                        status,
                        _ts(created_at) or stamp,
                        stamp,
                        stamp if status in FINAL_ORDER_STATUSES else None,
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise StateError(f"cannot record order {client_order_id!r}: {exc}") from exc
            return _order(_order_row(db, client_order_id))

    def update_order(
        self,
        client_order_id: str,
        *,
        broker_id: str | None = None,
        status: str | None = None,
        filled_qty: Decimal | None = None,
        filled_avg_price: Decimal | None = None,
        submitted_at: datetime | None = None,
        final_at: datetime | None = None,
    ) -> OrderRecord:
        """Update what is given (None leaves a column alone); returns the updated record.

        A final status (filled, canceled, expired, rejected, replaced) is never replaced by a non-final one: a
        late, stale report cannot reopen an order.
        """
        with self._write() as db:
            row = _order_row(db, client_order_id)
            if row is None:
                raise UnknownRecord(f"no order {client_order_id!r}")
            if row["status"] in FINAL_ORDER_STATUSES and status not in FINAL_ORDER_STATUSES:
                status = None  # never reopen a final order
            changes = {
                "broker_id": broker_id,
                "status": status,
                "filled_qty": _dec_text(filled_qty),
                "filled_avg_price": _dec_text(filled_avg_price),
                "submitted_at": _ts(submitted_at),
                "final_at": _ts(final_at),
            }
            changes = {key: value for key, value in changes.items() if value is not None}
            if status in FINAL_ORDER_STATUSES and row["final_at"] is None and "final_at" not in changes:
                changes["final_at"] = self._stamp()
            changes["updated_at"] = self._stamp()
            assignments = ", ".join(f"{key} = ?" for key in changes)
            db.execute(
                f"UPDATE orders SET {assignments} WHERE client_order_id = ?",
                (*changes.values(), client_order_id),
            )
            return _order(_order_row(db, client_order_id))

    def get_order(self, client_order_id: str) -> OrderRecord | None:
        rows = self._query("SELECT * FROM orders WHERE client_order_id = ?", (client_order_id,))
        return _order(rows[0]) if rows else None

    def get_order_by_broker_id(self, broker_id: str) -> OrderRecord | None:
        rows = self._query("SELECT * FROM orders WHERE broker_id = ?", (broker_id,))
        return _order(rows[0]) if rows else None

    def orders(
        self,
        plan_id: str | None = None,
        account: str | None = None,
        open_only: bool = False,
        limit: int = 200,
    ) -> list[OrderRecord]:
        """For one plan: in plan order (seq). Otherwise newest first. ``open_only``: not final (intents
        included: they may be live at the broker)."""
        where, params = _filters(plan_id=plan_id, account=account)
        if open_only:
            marks = ", ".join("?" * len(FINAL_ORDER_STATUSES))
            where += (" AND " if where else "WHERE ") + f"status NOT IN ({marks})"
            params += sorted(FINAL_ORDER_STATUSES)
        order_by = "seq" if plan_id is not None else "created_at DESC, plan_id DESC, seq DESC"
        rows = self._query(f"SELECT * FROM orders {where} ORDER BY {order_by} LIMIT ?", [*params, limit])
        return [_order(row) for row in rows]

    def submitted_notional_on(self, account: str, day: date) -> Decimal:
        """Sum of ``est_notional`` of the account's orders submitted on ``day`` (UTC date): the daily limit.

        Counted: orders whose ``submitted_at`` falls on ``day``, and - erring on the safe side - intents not
        known to be submitted or refused yet (a submit with an unknown outcome) created that day or belonging
        to a plan created that day. Not counted: orders refused before reaching the market (no submitted_at).
        """
        day_text = day.isoformat()
        rows = self._query(
            "SELECT o.est_notional FROM orders o JOIN plans p ON p.plan_id = o.plan_id"
            " WHERE o.account = ? AND ("
            "  substr(o.submitted_at, 1, 10) = ?"
            "  OR (o.submitted_at IS NULL AND o.status = ?"
            "      AND (substr(o.created_at, 1, 10) = ? OR substr(p.created_at, 1, 10) = ?)))",
            (account, day_text, INTENT, day_text, day_text),
        )
        return sum((Decimal(row["est_notional"]) for row in rows), Decimal(0))

    # -- fills -----------------------------------------------------------------------------------------------
    def record_fill(
        self, client_order_id: str, activity_id: str, qty: Decimal, price: Decimal, at: datetime
    ) -> bool:
        """Record one fill activity; True when new, False when that activity_id was already recorded."""
        with self._write() as db:
            try:
                cursor = db.execute(
                    "INSERT INTO fills (activity_id, client_order_id, qty, price, at, recorded_at)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (activity_id) DO NOTHING",
                    (activity_id, client_order_id, _dec_text(qty), _dec_text(price), _ts(at), self._stamp()),
                )
            except sqlite3.IntegrityError as exc:
                raise UnknownRecord(f"fill {activity_id!r}: no order {client_order_id!r}") from exc
            return cursor.rowcount == 1

    def fills(self, client_order_id: str | None = None, limit: int = 1000) -> list[FillRecord]:
        """Oldest first."""
        where, params = _filters(client_order_id=client_order_id)
        rows = self._query(f"SELECT * FROM fills {where} ORDER BY at, activity_id LIMIT ?", [*params, limit])
        return [
            FillRecord(
                r["activity_id"],
                r["client_order_id"],
                Decimal(r["qty"]),
                Decimal(r["price"]),
                _dt(r["at"]),
                _dt(r["recorded_at"]),
            )  # type: ignore[arg-type]
            for r in rows
        ]

    # -- execution: parents, child schedules, reports (order slicing) ---------------------------------------
    def start_parent(
        self,
        parent: ExecParentRecord,
        children: Collection[tuple[str, int, datetime, Decimal]] = (),
    ) -> ExecParentRecord:
        """Record how a planned order is executed and, for a sliced one, its schedule (``children``: client
        order id, k, planned time, planned shares), in one transaction. The first decision stands: starting
        the same parent again returns the stored record."""
        with self._write() as db:
            row = db.execute("SELECT * FROM exec_parents WHERE parent_id = ?", (parent.parent_id,)).fetchone()
            if row is not None:
                return _exec_parent(row)
            stamp = self._stamp()
            db.execute(
                "INSERT INTO exec_parents (parent_id, plan_id, account, seq, symbol, side, policy,"
                " policy_config, policy_reason, qty, notional, arrival_mid, decision_price, adv, deadline,"
                " status, status_reason, started_at, finished_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (parent.parent_id, parent.plan_id, parent.account, parent.seq, parent.symbol, parent.side,
                 parent.policy, _to_json(parent.policy_config), parent.policy_reason, _dec_text(parent.qty),
                 _dec_text(parent.notional), _dec_text(parent.arrival_mid), _dec_text(parent.decision_price),
                 _dec_text(parent.adv), _ts(parent.deadline), parent.status, parent.status_reason,
                 _ts(parent.started_at) or stamp, _ts(parent.finished_at), stamp),
            )  # fmt: skip
            for cid, k, planned_at, qty in children:
                db.execute(
                    "INSERT INTO exec_children (client_order_id, parent_id, k, kind, planned_at, planned_qty,"
                    " status, updated_at) VALUES (?, ?, ?, 'slice', ?, ?, 'planned', ?)",
                    (cid, parent.parent_id, int(k), _ts(planned_at), _dec_text(qty), stamp),
                )
            return _exec_parent(
                db.execute("SELECT * FROM exec_parents WHERE parent_id = ?", (parent.parent_id,)).fetchone()
            )

    def exec_parent(self, parent_id: str) -> ExecParentRecord | None:
        rows = self._query("SELECT * FROM exec_parents WHERE parent_id = ?", (parent_id,))
        return _exec_parent(rows[0]) if rows else None

    def exec_parents(self, plan_id: str | None = None, account: str | None = None) -> list[ExecParentRecord]:
        """In plan order for one plan, else newest first."""
        where, params = _filters(plan_id=plan_id, account=account)
        order_by = "seq" if plan_id is not None else "started_at DESC, plan_id DESC, seq"
        rows = self._query(f"SELECT * FROM exec_parents {where} ORDER BY {order_by}", params)
        return [_exec_parent(row) for row in rows]

    def finish_parent(
        self, parent_id: str, status: str, reason: str, finished_at: datetime
    ) -> ExecParentRecord:
        """Close a working parent (a finished one keeps its first outcome); returns the record."""
        if status == "working":
            raise ValueError("finish_parent needs a final status")
        with self._write() as db:
            row = db.execute("SELECT * FROM exec_parents WHERE parent_id = ?", (parent_id,)).fetchone()
            if row is None:
                raise UnknownRecord(f"no parent order {parent_id!r}")
            if row["status"] == "working":
                db.execute(
                    "UPDATE exec_parents SET status = ?, status_reason = ?, finished_at = ?, updated_at = ?"
                    " WHERE parent_id = ?",
                    (status, reason, _ts(finished_at), self._stamp(), parent_id),
                )
            return _exec_parent(
                db.execute("SELECT * FROM exec_parents WHERE parent_id = ?", (parent_id,)).fetchone()
            )

    def exec_children(self, parent_id: str) -> list[ExecChildRecord]:
        """The parent's children in order (k), each with its order row once it has one."""
        rows = self._query("SELECT * FROM exec_children WHERE parent_id = ? ORDER BY k", (parent_id,))
        orders = {r.client_order_id: r for r in self._orders_by_id([row["client_order_id"] for row in rows])}
        return [_exec_child(row, orders.get(row["client_order_id"])) for row in rows]

    def children_recorded(self, parent_id: str) -> int:
        """How many of the parent's children have been recorded as orders (sent or about to be)."""
        rows = self._query(
            "SELECT COUNT(*) FROM exec_children c JOIN orders o ON o.client_order_id = c.client_order_id"
            " WHERE c.parent_id = ?",
            (parent_id,),
        )
        return int(rows[0][0])

    def _orders_by_id(self, cids: list[str]) -> list[OrderRecord]:
        out: list[OrderRecord] = []
        for i in range(0, len(cids), 500):
            chunk = cids[i : i + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self._query(f"SELECT * FROM orders WHERE client_order_id IN ({marks})", chunk)
            out += [_order(r) for r in rows]
        return out

    def record_child_order(
        self,
        child: ExecChildRecord,
        *,
        plan_id: str,
        account: str,
        seq: int,
        symbol: str,
        side: str,
        qty: Decimal | None,
        notional: Decimal | None,
        order_type: str,
        limit_price: Decimal | None,
        est_notional: Decimal,
        created_at: datetime,
        replaces: Collection[str] = (),
    ) -> OrderRecord:
        """The write-ahead record of a child, in one transaction: its schedule row (added for an extra child)
        marked ``sent``, the children it re-prices marked ``repriced``, and its order row as an intent.
        Recording the same child again is a no-op returning the stored order."""
        with self._write() as db:
            existing = _order_row(db, child.client_order_id)
            if existing is not None:
                return _order(existing)
            stamp = self._stamp()
            db.execute(
                "INSERT INTO exec_children (client_order_id, parent_id, k, kind, planned_at, planned_qty,"
                " status, interval_volume, note, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'sent', ?, ?, ?)"
                " ON CONFLICT (client_order_id) DO UPDATE SET status = 'sent',"
                " interval_volume = excluded.interval_volume, note = excluded.note,"
                " updated_at = excluded.updated_at",
                (child.client_order_id, child.parent_id, child.k, child.kind, _ts(child.planned_at),
                 _dec_text(child.planned_qty), _dec_text(child.interval_volume), child.note, stamp),
            )  # fmt: skip
            for cid in replaces:
                db.execute(
                    "UPDATE exec_children SET status = 'repriced', updated_at = ? WHERE client_order_id = ?",
                    (stamp, cid),
                )
            try:
                db.execute(
                    "INSERT INTO orders (client_order_id, plan_id, account, seq, symbol, side, qty, notional,"
                    " order_type, limit_price, est_notional, status, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (child.client_order_id, plan_id, account, int(seq), symbol, side, _dec_text(qty),
                     _dec_text(notional), order_type, _dec_text(limit_price), _dec_text(est_notional), INTENT,
                     _ts(created_at), stamp),
                )  # fmt: skip
            except sqlite3.IntegrityError as exc:
                raise StateError(f"cannot record child {child.client_order_id!r}: {exc}") from exc
            return _order(_order_row(db, child.client_order_id))

    def set_child_status(self, client_order_id: str, status: str, note: str | None = None) -> None:
        """Change a child's schedule status (skipped, repricing, deadline...)."""
        with self._write() as db:
            cursor = db.execute(
                "UPDATE exec_children SET status = ?, note = COALESCE(?, note), updated_at = ?"
                " WHERE client_order_id = ?",
                (status, note, self._stamp(), client_order_id),
            )
            if cursor.rowcount == 0:
                raise UnknownRecord(f"no child order {client_order_id!r}")

    def settle_order_notional(self, client_order_id: str, est_notional: Decimal) -> None:
        """Set a FINAL order's ``est_notional`` to what it actually traded, so the daily limit counts a
        re-priced or canceled child's unfilled part once (in the child that re-sends it), not twice."""
        with self._write() as db:
            row = _order_row(db, client_order_id)
            if row is None:
                raise UnknownRecord(f"no order {client_order_id!r}")
            if row["status"] not in FINAL_ORDER_STATUSES:
                raise StateError(f"order {client_order_id!r} is not final")
            db.execute(
                "UPDATE orders SET est_notional = ?, updated_at = ? WHERE client_order_id = ?",
                (_dec_text(est_notional), self._stamp(), client_order_id),
            )

    def save_execution_report(self, report: ExecutionReportRecord) -> None:
        """Store (or replace) the execution report of one planned order."""
        r = report
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO execution_reports (parent_id, plan_id, account, symbol, side, policy,"
                " arrival_mid, decision_price, planned_qty, planned_notional, filled_qty, avg_price,"
                " filled_notional, shortfall_bp, participation, max_child_participation, market_volume,"
                " children, status, started_at, finished_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (r.parent_id, r.plan_id, r.account, r.symbol, r.side, r.policy, _dec_text(r.arrival_mid),
                 _dec_text(r.decision_price), _dec_text(r.planned_qty), _dec_text(r.planned_notional),
                 _dec_text(r.filled_qty), _dec_text(r.avg_price), _dec_text(r.filled_notional),
                 r.shortfall_bp, r.participation, r.max_child_participation, _dec_text(r.market_volume),
                 r.children, r.status, _ts(r.started_at), _ts(r.finished_at)),
            )  # fmt: skip

    def execution_reports(
        self,
        plan_id: str | None = None,
        account: str | None = None,
        symbol: str | None = None,
        limit: int = 10_000,
    ) -> list[ExecutionReportRecord]:
        """Newest first."""
        where, params = _filters(plan_id=plan_id, account=account, symbol=symbol)
        rows = self._query(
            f"SELECT * FROM execution_reports {where} ORDER BY finished_at DESC, parent_id LIMIT ?",
            [*params, limit],
        )
        return [_execution_report(row) for row in rows]

    # -- approvals -------------------------------------------------------------------------------------------
    def request_approval(
        self, plan_id: str, content_hash: str, expires_at: datetime | None
    ) -> ApprovalRecord:
        """Open a pending approval bound to ``content_hash`` (which must be the plan's). Asking again for the
        same pending plan and hash returns the existing request."""
        with self._write() as db:
            plan = db.execute("SELECT content_hash FROM plans WHERE plan_id = ?", (plan_id,)).fetchone()
            if plan is None:
                raise ApprovalError(f"no plan {plan_id!r}")
            if plan["content_hash"] != content_hash:
                raise ApprovalError(f"plan {plan_id}: content hash does not match the stored plan")
            existing = db.execute("SELECT * FROM approvals WHERE plan_id = ?", (plan_id,)).fetchone()
            if existing is not None:
                if existing["status"] == "pending" and existing["content_hash"] == content_hash:
                    return _approval(existing)
                raise ApprovalError(f"plan {plan_id} already has an approval ({existing['status']})")
            db.execute(
                "INSERT INTO approvals (plan_id, content_hash, status, requested_at, expires_at)"
                " VALUES (?, ?, 'pending', ?, ?)",
                (plan_id, content_hash, self._stamp(), _ts(expires_at)),
            )
            return _approval(db.execute("SELECT * FROM approvals WHERE plan_id = ?", (plan_id,)).fetchone())

    def decide_approval(
        self,
        plan_id: str,
        decision: str,
        who: str,
        channel: str,
        reason: str = "",
        *,
        content_hash: str,
        now: datetime | None = None,
    ) -> ApprovalRecord:
        """Approve or reject a pending approval; refuses (:class:`ApprovalError`) unless the approval is
        pending, the plan is held and ``content_hash`` is the hash the approval was requested for (the
        plan's).

        In the same transaction the plan moves from ``held`` to ``approved``/``rejected``. ``now`` (the
        broker's time) also refuses a decision at or after ``expires_at``; without it expiry is left to the
        bot.
        """
        if decision not in ("approved", "rejected"):
            raise ValueError(f"decision must be approved or rejected, not {decision!r}")
        with self._write() as db:
            approval = db.execute("SELECT * FROM approvals WHERE plan_id = ?", (plan_id,)).fetchone()
            plan = db.execute("SELECT * FROM plans WHERE plan_id = ?", (plan_id,)).fetchone()
            if approval is None or plan is None:
                raise ApprovalError(f"no approval requested for plan {plan_id!r}")
            if approval["status"] != "pending":
                raise ApprovalError(f"plan {plan_id}: approval is {approval['status']}, not pending")
            if content_hash != approval["content_hash"] or content_hash != plan["content_hash"]:
                raise ApprovalError(f"plan {plan_id}: content hash does not match the plan awaiting approval")
            if plan["status"] != "held":
                raise ApprovalError(f"plan {plan_id} is {plan['status']}, not held")
            expires_at = _dt(approval["expires_at"])
            if now is not None and expires_at is not None and _dt(_ts(now)) >= expires_at:  # type: ignore[operator]
                raise ApprovalError(f"plan {plan_id}: approval expired at {expires_at:%Y-%m-%d %H:%M} UTC")
            stamp = _ts(now) if now is not None else self._stamp()
            db.execute(
                "UPDATE approvals SET status = ?, decided_at = ?, decided_by = ?, channel = ?, reason = ?"
                " WHERE plan_id = ?",
                (decision, stamp, who, channel, reason, plan_id),
            )
            db.execute(
                "UPDATE plans SET status = ?, status_reason = ?, updated_at = ? WHERE plan_id = ?",
                (decision, reason or f"{decision} by {who} via {channel}", self._stamp(), plan_id),
            )
            return _approval(db.execute("SELECT * FROM approvals WHERE plan_id = ?", (plan_id,)).fetchone())

    def expire_approval(self, plan_id: str, status: str = "expired", reason: str = "") -> bool:
        """Close a pending approval without a decision (expired, superseded, canceled); True if one was
        pending. Idempotent: closing an approval that is no longer pending does nothing."""
        if status not in ("expired", "superseded", "canceled"):
            raise ValueError(f"status must be expired, superseded or canceled, not {status!r}")
        with self._write() as db:
            cursor = db.execute(
                "UPDATE approvals SET status = ?, decided_at = ?, reason = ?"
                " WHERE plan_id = ? AND status = 'pending'",
                (status, self._stamp(), reason, plan_id),
            )
            return cursor.rowcount == 1

    def pending_approvals(self) -> list[ApprovalRecord]:
        """Oldest request first."""
        rows = self._query("SELECT * FROM approvals WHERE status = 'pending' ORDER BY requested_at, plan_id")
        return [_approval(row) for row in rows]

    def get_approval(self, plan_id: str) -> ApprovalRecord | None:
        rows = self._query("SELECT * FROM approvals WHERE plan_id = ?", (plan_id,))
        return _approval(rows[0]) if rows else None

    def use_link(self, nonce: str, plan_id: str, action: str) -> bool:
        """Record that a signed link was used; False if that link (nonce) was used before: links are
        single-use, whatever the outcome of their first use."""
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO used_links (nonce, plan_id, action, used_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (nonce) DO NOTHING",
                (nonce, plan_id, action, self._stamp()),
            )
            return cursor.rowcount == 1

    def link_used(self, nonce: str) -> bool:
        return bool(self._query("SELECT 1 FROM used_links WHERE nonce = ?", (nonce,)))

    # -- tax lots (issue 8) ----------------------------------------------------------------------------------
    def add_tax_fills(self, fills: Collection[TaxFillRecord]) -> int:
        """Record broker fills for the lot ledger, each once (by account and activity id); returns how many
        were new. One transaction: a page of activities is recorded whole or not at all."""
        added = 0
        with self._write() as db:
            for f in fills:
                cursor = db.execute(
                    _INSERT_TAX_FILL + " ON CONFLICT (account, fill_id) DO NOTHING",
                    _tax_fill_params(f, self._stamp()),
                )
                added += cursor.rowcount
        return added

    def replace_imported_lots(self, account: str, lots: Collection[TaxFillRecord]) -> int:
        """Replace every imported lot of ``account`` with ``lots`` in one transaction (an import is the
        whole pre-bot history of the account: importing the same file again changes nothing)."""
        with self._write() as db:
            db.execute("DELETE FROM tax_fills WHERE account = ? AND source = 'import'", (account,))
            for lot in lots:
                if lot.source != "import" or lot.account != account:
                    raise StateError(f"lot {lot.fill_id}: not an imported lot of account {account}")
                db.execute(
                    _INSERT_TAX_FILL,
                    _tax_fill_params(lot, self._stamp()),
                )
        return len(lots)

    def tax_fills(self, account: str | None = None, source: str | None = None) -> list[TaxFillRecord]:
        """In trade order: by trade date, then the broker's time, then id (imports first on a day)."""
        where, params = _filters(account=account, source=source)
        rows = self._query(
            f"SELECT * FROM tax_fills {where} ORDER BY trade_date, at IS NOT NULL, at, fill_id", params
        )
        return [_tax_fill(row) for row in rows]

    def last_tax_fill_time(self, account: str) -> datetime | None:
        """The broker time of the newest broker fill recorded for ``account`` (where the next read starts)."""
        rows = self._query(
            "SELECT MAX(at) AS at FROM tax_fills WHERE account = ? AND source = 'broker'", (account,)
        )
        return _dt(rows[0]["at"]) if rows else None

    def set_tax_block(self, account: str, symbol: str, ledger_qty: Decimal, broker_qty: Decimal) -> bool:
        """Block tax-aware trading in ``symbol``; True when the block is new (the caller alerts once)."""
        stamp = self._stamp()
        with self._write() as db:
            existing = db.execute(
                "SELECT 1 FROM tax_blocks WHERE account = ? AND symbol = ?", (account, symbol)
            ).fetchone()
            db.execute(
                "INSERT INTO tax_blocks (account, symbol, ledger_qty, broker_qty, detected_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, symbol) DO UPDATE"
                " SET ledger_qty = excluded.ledger_qty, broker_qty = excluded.broker_qty,"
                " updated_at = excluded.updated_at",
                (account, symbol, _dec_text(ledger_qty), _dec_text(broker_qty), stamp, stamp),
            )
            return existing is None

    def clear_tax_block(self, account: str, symbol: str) -> bool:
        """The ledger agrees with the broker again; True when there was a block."""
        with self._write() as db:
            cursor = db.execute("DELETE FROM tax_blocks WHERE account = ? AND symbol = ?", (account, symbol))
            return cursor.rowcount == 1

    def tax_blocks(self, account: str | None = None) -> list[TaxBlockRecord]:
        where, params = _filters(account=account)
        rows = self._query(f"SELECT * FROM tax_blocks {where} ORDER BY account, symbol", params)
        return [
            TaxBlockRecord(
                r["account"],
                r["symbol"],
                Decimal(r["ledger_qty"]),
                Decimal(r["broker_qty"]),
                _dt(r["detected_at"]),  # type: ignore[arg-type]
                _dt(r["updated_at"]),  # type: ignore[arg-type]
            )
            for r in rows
        ]

    def record_wash_sale(self, wash: WashSaleRecord) -> bool:
        """Record a wash sale incurred; True when it was not known yet (the caller alerts once)."""
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO tax_wash_sales (sale_fill_id, lot_id, replacement_fill_id, account, symbol,"
                " sold, replacement_account, replacement_symbol, replacement_day, qty, disallowed, permanent,"
                " recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (sale_fill_id, lot_id, replacement_fill_id) DO NOTHING",
                (
                    wash.sale_fill_id,
                    wash.lot_id,
                    wash.replacement_fill_id,
                    wash.account,
                    wash.symbol,
                    wash.sold.isoformat(),
                    wash.replacement_account,
                    wash.replacement_symbol,
                    wash.replacement_day.isoformat(),
                    _dec_text(wash.qty),
                    _dec_text(wash.disallowed),
                    int(wash.permanent),
                    _ts(wash.recorded_at),
                ),
            )
            return cursor.rowcount == 1

    def wash_sales(self, account: str | None = None) -> list[WashSaleRecord]:
        where, params = _filters(account=account)
        rows = self._query(f"SELECT * FROM tax_wash_sales {where} ORDER BY sold, sale_fill_id", params)
        return [
            WashSaleRecord(
                r["sale_fill_id"],
                r["lot_id"],
                r["replacement_fill_id"],
                r["account"],
                r["symbol"],
                date.fromisoformat(r["sold"]),
                r["replacement_account"],
                r["replacement_symbol"],
                date.fromisoformat(r["replacement_day"]),
                Decimal(r["qty"]),
                Decimal(r["disallowed"]),
                bool(r["permanent"]),
                _dt(r["recorded_at"]),  # type: ignore[arg-type]
            )
            for r in rows
        ]

    # -- flags -----------------------------------------------------------------------------------------------
    def set_flag(self, name: str, value: str | None) -> None:
        """Set a flag (e.g. ``halted`` with the reason as value); None clears it."""
        with self._write() as db:
            if value is None:
                db.execute("DELETE FROM flags WHERE name = ?", (name,))
            else:
                db.execute(
                    "INSERT INTO flags (name, value, updated_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (name) DO UPDATE"
                    " SET value = excluded.value, updated_at = excluded.updated_at",
                    (name, str(value), self._stamp()),
                )

    def get_flag(self, name: str) -> str | None:
        rows = self._query("SELECT value FROM flags WHERE name = ?", (name,))
        return rows[0]["value"] if rows else None

    def flags(self) -> dict[str, str]:
        rows = self._query("SELECT name, value FROM flags ORDER BY name")
        return {row["name"]: row["value"] for row in rows}

    # -- audit -----------------------------------------------------------------------------------------------
    def audit(
        self,
        event: str,
        run_id: str | None = None,
        account: str | None = None,
        client_order_id: str | None = None,
        *,
        plan_id: str | None = None,
        **fields: Any,
    ) -> int:
        """Append an audit event (never updated or deleted); returns its id. Extra fields are stored as JSON
        (Decimal and datetime as text)."""
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO audit (at, event, run_id, account, plan_id, client_order_id, fields)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self._stamp(), event, run_id, account, plan_id, client_order_id, _to_json(fields)),
            )
            return int(cursor.lastrowid or 0)

    def audit_trail(
        self,
        limit: int = 100,
        event: str | None = None,
        *,
        account: str | None = None,
        plan_id: str | None = None,
    ) -> list[AuditRecord]:
        """Newest first."""
        where, params = _filters(event=event, account=account, plan_id=plan_id)
        rows = self._query(f"SELECT * FROM audit {where} ORDER BY id DESC LIMIT ?", [*params, limit])
        return [
            AuditRecord(
                r["id"],
                _dt(r["at"]),
                r["event"],
                r["run_id"],
                r["account"],
                r["plan_id"],  # type: ignore[arg-type]
                r["client_order_id"],
                json.loads(r["fields"]),
            )
            for r in rows
        ]


# --- row mapping --------------------------------------------------------------------------------------------


def _check_plan_status(status: str) -> None:
    if status not in PLAN_STATUSES:
        raise ValueError(f"unknown plan status {status!r} (one of {', '.join(sorted(PLAN_STATUSES))})")


def _same(stored: Any, wanted: Any) -> bool:
    if isinstance(stored, str) and isinstance(wanted, str) and stored != wanted:
        try:
            return Decimal(stored) == Decimal(wanted)
        except ArithmeticError:
            return False
    return stored == wanted


def _filters(**columns: Any) -> tuple[str, list[Any]]:
    """``WHERE`` clause for the given column filters (None = no filter; a tuple = one of)."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in columns.items():
        if value is None:
            continue
        if isinstance(value, tuple):
            clauses.append(f"{column} IN ({', '.join('?' * len(value))})")
            params += value
        else:
            clauses.append(f"{column} = ?")
            params.append(value)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def _order_row(db: sqlite3.Connection, client_order_id: str) -> sqlite3.Row | None:
    return db.execute("SELECT * FROM orders WHERE client_order_id = ?", (client_order_id,)).fetchone()


_INSERT_TAX_FILL = (
    "INSERT INTO tax_fills (account, fill_id, source, symbol, side, qty, price, trade_date, at, order_id,"
    " note, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _tax_fill_params(f: TaxFillRecord, stamp: str) -> tuple:
    if f.side not in SIDES:
        raise ValueError(f"tax fill {f.fill_id}: side must be buy or sell, got {f.side!r}")
    return (
        f.account,
        f.fill_id,
        f.source,
        f.symbol,
        f.side,
        _dec_text(f.qty),
        _dec_text(f.price),
        f.trade_date.isoformat(),
        _ts(f.at),
        f.order_id,
        f.note,
        stamp,
    )


def _tax_fill(row: sqlite3.Row) -> TaxFillRecord:
    return TaxFillRecord(
        row["account"],
        row["fill_id"],
        row["source"],
        row["symbol"],
        row["side"],
        Decimal(row["qty"]),
        Decimal(row["price"]),
        date.fromisoformat(row["trade_date"]),
        _dt(row["at"]),
        row["order_id"],
        row["note"],
    )


def _run(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        run_id=row["run_id"],
        kind=row["kind"],
        config_hash=row["config_hash"],
        status=row["status"],
        started_at=_dt(row["started_at"]),  # type: ignore[arg-type]
        finished_at=_dt(row["finished_at"]),
        summary=json.loads(row["summary"]),
        pid=row["pid"],
        host=row["host"],
    )


def _plan(row: sqlite3.Row) -> PlanRecord:
    return PlanRecord(
        plan_id=row["plan_id"],
        run_id=row["run_id"],
        account=row["account"],
        content_hash=row["content_hash"],
        status=row["status"],
        status_reason=row["status_reason"],
        explanation=row["explanation"],
        details=json.loads(row["details"]),
        created_at=_dt(row["created_at"]),  # type: ignore[arg-type]
        updated_at=_dt(row["updated_at"]),  # type: ignore[arg-type]
    )


def _order(row: sqlite3.Row) -> OrderRecord:
    return OrderRecord(
        client_order_id=row["client_order_id"],
        plan_id=row["plan_id"],
        account=row["account"],
        seq=row["seq"],
        symbol=row["symbol"],
        side=row["side"],
        qty=_dec(row["qty"]),
        notional=_dec(row["notional"]),
        order_type=row["order_type"],
        limit_price=_dec(row["limit_price"]),
        est_notional=Decimal(row["est_notional"]),
        status=row["status"],
        broker_id=row["broker_id"],
        filled_qty=_dec(row["filled_qty"]),
        filled_avg_price=_dec(row["filled_avg_price"]),
        created_at=_dt(row["created_at"]),  # type: ignore[arg-type]
        submitted_at=_dt(row["submitted_at"]),
        final_at=_dt(row["final_at"]),
        updated_at=_dt(row["updated_at"]),  # type: ignore[arg-type]
    )


def _approval(row: sqlite3.Row) -> ApprovalRecord:
    return ApprovalRecord(
        plan_id=row["plan_id"],
        content_hash=row["content_hash"],
        status=row["status"],
        requested_at=_dt(row["requested_at"]),  # type: ignore[arg-type]
        expires_at=_dt(row["expires_at"]),
        decided_at=_dt(row["decided_at"]),
        decided_by=row["decided_by"],
        channel=row["channel"],
        reason=row["reason"],
    )


def _exec_parent(row: sqlite3.Row) -> ExecParentRecord:
    return ExecParentRecord(
        parent_id=row["parent_id"],
        plan_id=row["plan_id"],
        account=row["account"],
        seq=row["seq"],
        symbol=row["symbol"],
        side=row["side"],
        policy=row["policy"],
        policy_config=json.loads(row["policy_config"]),
        policy_reason=row["policy_reason"],
        qty=_dec(row["qty"]),
        notional=_dec(row["notional"]),
        arrival_mid=_dec(row["arrival_mid"]),
        decision_price=_dec(row["decision_price"]),
        adv=_dec(row["adv"]),
        deadline=_dt(row["deadline"]),
        status=row["status"],
        status_reason=row["status_reason"],
        started_at=_dt(row["started_at"]),
        finished_at=_dt(row["finished_at"]),
    )


def _exec_child(row: sqlite3.Row, order: OrderRecord | None) -> ExecChildRecord:
    return ExecChildRecord(
        client_order_id=row["client_order_id"],
        parent_id=row["parent_id"],
        k=row["k"],
        kind=row["kind"],
        planned_at=_dt(row["planned_at"]),  # type: ignore[arg-type]
        planned_qty=_dec(row["planned_qty"]),
        status=row["status"],
        interval_volume=_dec(row["interval_volume"]),
        note=row["note"],
        order=order,
    )


def _execution_report(row: sqlite3.Row) -> ExecutionReportRecord:
    return ExecutionReportRecord(
        parent_id=row["parent_id"],
        plan_id=row["plan_id"],
        account=row["account"],
        symbol=row["symbol"],
        side=row["side"],
        policy=row["policy"],
        arrival_mid=_dec(row["arrival_mid"]),
        decision_price=_dec(row["decision_price"]),
        planned_qty=_dec(row["planned_qty"]),
        planned_notional=_dec(row["planned_notional"]),
        filled_qty=Decimal(row["filled_qty"]),
        avg_price=_dec(row["avg_price"]),
        filled_notional=Decimal(row["filled_notional"]),
        shortfall_bp=row["shortfall_bp"],
        participation=row["participation"],
        max_child_participation=row["max_child_participation"],
        market_volume=_dec(row["market_volume"]),
        children=row["children"],
        status=row["status"],
        started_at=_dt(row["started_at"]),  # type: ignore[arg-type]
        finished_at=_dt(row["finished_at"]),  # type: ignore[arg-type]
    )
