"""The state database's tables, as SQLAlchemy Core ``Table`` objects on one :data:`metadata`.

This is the schema the repositories read and write and that Alembic's autogenerate compares against
(``bot/state/migrations``); the revisions in ``migrations/versions`` are what creates and changes a real
database. The tables are those of the hand-written SQLite store's schema version 6, column for column, so a
file it wrote is used as it is (see :mod:`bot.state.migrate`). Column types (:mod:`bot.state.types`) store
money as exact decimal text and times as ISO UTC text on both engines.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
    text,
)

from bot.state.types import DOUBLE, Day, JsonText, Money, Str, UtcTime

metadata = MetaData()

EMPTY = text("''")
EMPTY_JSON = text("'{}'")


def _side() -> CheckConstraint:
    return CheckConstraint("side IN ('buy', 'sell')")


# -- runs and plans ------------------------------------------------------------------------------------------
runs = Table(
    "runs",
    metadata,
    Column("run_id", Str, primary_key=True),
    Column("kind", Str, nullable=False),
    Column("config_hash", Str, nullable=False),
    Column("status", Str, nullable=False),
    Column("started_at", UtcTime, nullable=False),
    Column("finished_at", UtcTime),
    Column("summary", JsonText, nullable=False, server_default=EMPTY_JSON),
    Column("pid", Integer),
    Column("host", Str),
)

plans = Table(
    "plans",
    metadata,
    Column("plan_id", Str, primary_key=True),
    Column("run_id", Str),
    Column("account", Str, nullable=False),
    Column("content_hash", Str, nullable=False),
    Column("status", Str, nullable=False),
    Column("status_reason", Str, nullable=False, server_default=EMPTY),
    Column("explanation", Str, nullable=False),
    Column("details", JsonText, nullable=False),
    Column("created_at", UtcTime, nullable=False),
    Column("updated_at", UtcTime, nullable=False),
    Index("plans_by_account_status", "account", "status", "created_at"),
    Index("plans_by_created", "created_at"),
)

# -- orders, fills and their execution -----------------------------------------------------------------------
orders = Table(
    "orders",
    metadata,
    Column("client_order_id", Str, primary_key=True),
    Column("plan_id", Str, ForeignKey("plans.plan_id"), nullable=False),
    Column("account", Str, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("symbol", Str, nullable=False),
    Column("side", Str, nullable=False),
    Column("qty", Money),
    Column("notional", Money),
    Column("order_type", Str, nullable=False),
    Column("limit_price", Money),
    Column("est_notional", Money, nullable=False),
    Column("status", Str, nullable=False),
    Column("broker_id", Str),
    Column("filled_qty", Money),
    Column("filled_avg_price", Money),
    Column("created_at", UtcTime, nullable=False),
    Column("submitted_at", UtcTime),
    Column("final_at", UtcTime),
    Column("updated_at", UtcTime, nullable=False),
    _side(),
    UniqueConstraint("plan_id", "seq"),
    Index("orders_by_account_status", "account", "status"),
    Index("orders_by_submitted", "account", "submitted_at"),
    Index("orders_by_broker_id", "broker_id"),
)

fills = Table(
    "fills",
    metadata,
    Column("activity_id", Str, primary_key=True),
    Column("client_order_id", Str, ForeignKey("orders.client_order_id"), nullable=False),
    Column("qty", Money, nullable=False),
    Column("price", Money, nullable=False),
    Column("at", UtcTime, nullable=False),
    Column("recorded_at", UtcTime, nullable=False),
    Index("fills_by_order", "client_order_id", "at"),
)

exec_parents = Table(
    "exec_parents",
    metadata,
    Column("parent_id", Str, primary_key=True),
    Column("plan_id", Str, ForeignKey("plans.plan_id"), nullable=False),
    Column("account", Str, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("symbol", Str, nullable=False),
    Column("side", Str, nullable=False),
    Column("policy", Str, nullable=False),
    Column("policy_config", JsonText, nullable=False, server_default=EMPTY_JSON),
    Column("policy_reason", Str, nullable=False, server_default=EMPTY),
    Column("qty", Money),
    Column("notional", Money),
    Column("arrival_mid", Money),
    Column("decision_price", Money),
    Column("adv", Money),
    Column("deadline", UtcTime),
    Column("status", Str, nullable=False),
    Column("status_reason", Str, nullable=False, server_default=EMPTY),
    Column("started_at", UtcTime, nullable=False),
    Column("finished_at", UtcTime),
    Column("updated_at", UtcTime, nullable=False),
    _side(),
    UniqueConstraint("plan_id", "seq"),
    Index("exec_parents_by_account", "account", "status"),
)

exec_children = Table(
    "exec_children",
    metadata,
    Column("client_order_id", Str, primary_key=True),
    Column("parent_id", Str, ForeignKey("exec_parents.parent_id"), nullable=False),
    Column("k", Integer, nullable=False),
    Column("kind", Str, nullable=False),
    Column("planned_at", UtcTime, nullable=False),
    Column("planned_qty", Money),
    Column("status", Str, nullable=False),
    Column("interval_volume", Money),
    Column("note", Str, nullable=False, server_default=EMPTY),
    Column("updated_at", UtcTime, nullable=False),
    UniqueConstraint("parent_id", "k"),
)

execution_reports = Table(
    "execution_reports",
    metadata,
    Column("parent_id", Str, ForeignKey("exec_parents.parent_id"), primary_key=True),
    Column("plan_id", Str, nullable=False),
    Column("account", Str, nullable=False),
    Column("symbol", Str, nullable=False),
    Column("side", Str, nullable=False),
    Column("policy", Str, nullable=False),
    Column("arrival_mid", Money),
    Column("decision_price", Money),
    Column("planned_qty", Money),
    Column("planned_notional", Money),
    Column("filled_qty", Money, nullable=False),
    Column("avg_price", Money),
    Column("filled_notional", Money, nullable=False),
    Column("shortfall_bp", DOUBLE),
    Column("participation", DOUBLE),
    Column("max_child_participation", DOUBLE),
    Column("market_volume", Money),
    Column("children", Integer, nullable=False),
    Column("status", Str, nullable=False),
    Column("started_at", UtcTime, nullable=False),
    Column("finished_at", UtcTime, nullable=False),
    Index("execution_reports_by_symbol", "account", "symbol", "finished_at"),
    Index("execution_reports_by_plan", "plan_id"),
)

# -- approvals, links, flags and audit -----------------------------------------------------------------------
approvals = Table(
    "approvals",
    metadata,
    Column("plan_id", Str, ForeignKey("plans.plan_id"), primary_key=True),
    Column("content_hash", Str, nullable=False),
    Column("status", Str, nullable=False),
    Column("requested_at", UtcTime, nullable=False),
    Column("expires_at", UtcTime),
    Column("decided_at", UtcTime),
    Column("decided_by", Str),
    Column("channel", Str),
    Column("reason", Str, nullable=False, server_default=EMPTY),
    Index("approvals_by_status", "status", "requested_at"),
)

used_links = Table(
    "used_links",
    metadata,
    Column("nonce", Str, primary_key=True),
    Column("plan_id", Str, nullable=False),
    Column("action", Str, nullable=False),
    Column("used_at", UtcTime, nullable=False),
)

flags = Table(
    "flags",
    metadata,
    Column("name", Str, primary_key=True),
    Column("value", Str, nullable=False),
    Column("updated_at", UtcTime, nullable=False),
)

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UtcTime, nullable=False),
    Column("event", Str, nullable=False),
    Column("run_id", Str),
    Column("account", Str),
    Column("plan_id", Str),
    Column("client_order_id", Str),
    Column("fields", JsonText, nullable=False, server_default=EMPTY_JSON),
    Index("audit_by_event", "event", "id"),
    sqlite_autoincrement=True,
)

# -- the tax lot ledger's inputs -----------------------------------------------------------------------------
tax_fills = Table(
    "tax_fills",
    metadata,
    Column("account", Str, nullable=False),
    Column("fill_id", Str, nullable=False),
    Column("source", Str, nullable=False),
    Column("symbol", Str, nullable=False),
    Column("side", Str, nullable=False),
    Column("qty", Money, nullable=False),
    Column("price", Money, nullable=False),
    Column("trade_date", Day, nullable=False),
    Column("at", UtcTime),
    Column("order_id", Str),
    Column("note", Str, nullable=False, server_default=EMPTY),
    Column("recorded_at", UtcTime, nullable=False),
    PrimaryKeyConstraint("account", "fill_id"),
    CheckConstraint("source IN ('broker', 'import')"),
    _side(),
    Index("tax_fills_by_time", "account", "source", "at"),
)

tax_blocks = Table(
    "tax_blocks",
    metadata,
    Column("account", Str, nullable=False),
    Column("symbol", Str, nullable=False),
    Column("ledger_qty", Money, nullable=False),
    Column("broker_qty", Money, nullable=False),
    Column("detected_at", UtcTime, nullable=False),
    Column("updated_at", UtcTime, nullable=False),
    PrimaryKeyConstraint("account", "symbol"),
)

tax_wash_sales = Table(
    "tax_wash_sales",
    metadata,
    Column("sale_fill_id", Str, nullable=False),
    Column("lot_id", Str, nullable=False),
    Column("replacement_fill_id", Str, nullable=False),
    Column("account", Str, nullable=False),
    Column("symbol", Str, nullable=False),
    Column("sold", Day, nullable=False),
    Column("replacement_account", Str, nullable=False),
    Column("replacement_symbol", Str, nullable=False),
    Column("replacement_day", Day, nullable=False),
    Column("qty", Money, nullable=False),
    Column("disallowed", Money, nullable=False),
    Column("permanent", Integer, nullable=False),
    Column("recorded_at", UtcTime, nullable=False),
    PrimaryKeyConstraint("sale_fill_id", "lot_id", "replacement_fill_id"),
)

# -- the dashboard's sessions, equity history and last known pictures ----------------------------------------
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("sid_hash", Str, primary_key=True),
    Column("who", Str, nullable=False),
    Column("created_at", DOUBLE, nullable=False),
    Column("expires_at", DOUBLE, nullable=False),
)

equity_history = Table(
    "equity_history",
    metadata,
    Column("account", Str, nullable=False),
    Column("day", Str, nullable=False),
    Column("at", Str, nullable=False),
    Column("equity", Str, nullable=False),
    Column("cash", Str, nullable=False),
    Column("day_pl", Str),
    Column("weights", Str, nullable=False),
    Column("targets", Str),
    PrimaryKeyConstraint("account", "day"),
)

last_pictures = Table(
    "last_pictures",
    metadata,
    Column("account", Str, primary_key=True),
    Column("at", Str, nullable=False),
    Column("picture", Str, nullable=False),
)
