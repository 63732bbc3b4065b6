"""The fleet's own rows in the shared PostgreSQL state: each household's last cycle and outcome, and the
rate-limit buckets of the broker keys.

They are what the single bot keeps in process memory (when its last cycle ran) or does not need (a shared
rate limit), and that a fleet must share between workers that come and go: a worker that plans a household
has never seen it before. They sit beside the bot's tables (:mod:`bot.state.schema`) but on their own
``MetaData``, created by the fleet on first use (``CREATE TABLE IF NOT EXISTS`` under the state's write
lock), so a single bot's database and its Alembic revisions are untouched by fleet mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, DateTime, Float, MetaData, Table, Text, select

from bot.state.db import Database
from bot.state.schema import plans

fleet_metadata = MetaData()

households = Table(
    "fleet_households",
    fleet_metadata,
    Column("household", Text, primary_key=True),
    # broker time of the household's last cycle: the next is due one schedule interval later
    Column("last_cycle_at", DateTime(timezone=True)),
    Column("action", Text, nullable=False, server_default=""),
    Column("detail", Text, nullable=False, server_default=""),
    Column("plan_id", Text),
    # the last visit's failure (None when it went through): shown by ``fleet --once`` and the log
    Column("error", Text),
    Column("worker", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

rate_buckets = Table(
    "fleet_rate_buckets",
    fleet_metadata,
    Column("key", Text, primary_key=True),  # a hash of the broker key id, never the key itself
    Column("tokens", Float, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

WAITING_STATUSES = ("planned", "held", "approved", "executing")
"""A household with a plan in one of these is visited every pass: to drive it, or to expire a held one."""


@dataclass(frozen=True)
class HouseholdRow:
    household: str
    last_cycle_at: datetime | None
    action: str
    detail: str
    plan_id: str | None
    error: str | None
    worker: str | None
    updated_at: datetime


_ready: set[str] = set()


def ensure_tables(db: Database) -> None:
    """Create the fleet's tables if missing (once per process and database)."""
    where = db.describe()
    if where in _ready:
        return
    with db.write() as conn:  # the write lock: two workers starting together do not race on the DDL
        fleet_metadata.create_all(conn, checkfirst=True)
    _ready.add(where)


def household_rows(db: Database) -> dict[str, HouseholdRow]:
    with db.read() as conn:
        rows = conn.execute(select(households)).all()
    return {r.household: HouseholdRow(**r._asdict()) for r in rows}


def household_row(db: Database, name: str) -> HouseholdRow | None:
    with db.read() as conn:
        row = conn.execute(select(households).where(households.c.household == name)).first()
    return None if row is None else HouseholdRow(**row._asdict())


def save_visit(
    db: Database,
    name: str,
    *,
    last_cycle_at: datetime | None,
    action: str,
    detail: str,
    plan_id: str | None,
    error: str | None,
    worker: str,
    now: datetime,
) -> None:
    """Store what one visit did (upsert on the household's row)."""
    row = {
        "household": name,
        "last_cycle_at": last_cycle_at,
        "action": action,
        "detail": detail[:2000],
        "plan_id": plan_id,
        "error": None if error is None else error[:2000],
        "worker": worker,
        "updated_at": now,
    }
    statement = db.upsert(households, ("household",), tuple(k for k in row if k != "household"))
    with db.write() as conn:
        conn.execute(statement, row)


def owners_with_plans(db: Database, owner_of: Mapping[str, str]) -> set[str]:
    """Households with a plan that still needs visits (theirs or an account's child plan of theirs)."""
    with db.read() as conn:
        accounts = conn.execute(
            select(plans.c.account).where(plans.c.status.in_(WAITING_STATUSES)).distinct()
        ).scalars()
        return {owner_of[a] for a in accounts if a in owner_of}
