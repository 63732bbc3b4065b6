# ruff: noqa: E501 - the tables are laid out as a table, and frozen
"""Baseline: the schema of the hand-written SQLite store at its version 6 (``PRAGMA user_version`` 6).

A new database gets every table here. A file that store wrote (user_version 1 to 6, no ``alembic_version``)
gets only the tables it lacks: each of that store's schema steps only ever created whole tables with their
indexes, in one transaction, so a table that exists is exactly as defined here (for a v6 file nothing is
created and this amounts to stamping it). Text columns use the ``"C"`` collation on PostgreSQL (byte order,
as SQLite compares text). Released: never edit; change the schema in a new revision.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql, sqlite

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TEXT = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")
REAL = sa.Float().with_variant(sqlite.REAL(), "sqlite")
EMPTY = sa.text("''")
EMPTY_JSON = sa.text("'{}'")


def _col(name: str, type_: sa.types.TypeEngine = TEXT, *args: object, **kwargs: object) -> sa.Column:
    return sa.Column(name, type_, *args, **kwargs)


def _side() -> sa.CheckConstraint:
    return sa.CheckConstraint("side IN ('buy', 'sell')")


def _tables() -> list[tuple[str, list[object], list[tuple[str, list[str]]]]]:
    """(table, columns and constraints, indexes) in creation order (referenced tables first)."""
    nn = {"nullable": False}
    return [
        ("runs", [
            _col("run_id", primary_key=True), _col("kind", **nn), _col("config_hash", **nn),
            _col("status", **nn), _col("started_at", **nn), _col("finished_at"),
            _col("summary", server_default=EMPTY_JSON, **nn), _col("pid", sa.Integer), _col("host"),
        ], []),
        ("plans", [
            _col("plan_id", primary_key=True), _col("run_id"), _col("account", **nn), _col("content_hash", **nn),
            _col("status", **nn), _col("status_reason", server_default=EMPTY, **nn), _col("explanation", **nn),
            _col("details", **nn), _col("created_at", **nn), _col("updated_at", **nn),
        ], [("plans_by_account_status", ["account", "status", "created_at"]),
            ("plans_by_created", ["created_at"])]),
        ("orders", [
            _col("client_order_id", primary_key=True),
            _col("plan_id", TEXT, sa.ForeignKey("plans.plan_id"), **nn), _col("account", **nn),
            _col("seq", sa.Integer, **nn), _col("symbol", **nn), _col("side", **nn), _col("qty"),
            _col("notional"), _col("order_type", **nn), _col("limit_price"), _col("est_notional", **nn),
            _col("status", **nn), _col("broker_id"), _col("filled_qty"), _col("filled_avg_price"),
            _col("created_at", **nn), _col("submitted_at"), _col("final_at"), _col("updated_at", **nn),
            _side(), sa.UniqueConstraint("plan_id", "seq"),
        ], [("orders_by_account_status", ["account", "status"]),
            ("orders_by_submitted", ["account", "submitted_at"]),
            ("orders_by_broker_id", ["broker_id"])]),
        ("fills", [
            _col("activity_id", primary_key=True),
            _col("client_order_id", TEXT, sa.ForeignKey("orders.client_order_id"), **nn),
            _col("qty", **nn), _col("price", **nn), _col("at", **nn), _col("recorded_at", **nn),
        ], [("fills_by_order", ["client_order_id", "at"])]),
        ("approvals", [
            _col("plan_id", TEXT, sa.ForeignKey("plans.plan_id"), primary_key=True),
            _col("content_hash", **nn), _col("status", **nn), _col("requested_at", **nn), _col("expires_at"),
            _col("decided_at"), _col("decided_by"), _col("channel"), _col("reason", server_default=EMPTY, **nn),
        ], [("approvals_by_status", ["status", "requested_at"])]),
        ("flags", [_col("name", primary_key=True), _col("value", **nn), _col("updated_at", **nn)], []),
        ("audit", [
            _col("id", sa.Integer, primary_key=True), _col("at", **nn), _col("event", **nn), _col("run_id"),
            _col("account"), _col("plan_id"), _col("client_order_id"),
            _col("fields", server_default=EMPTY_JSON, **nn),
        ], [("audit_by_event", ["event", "id"])]),
        ("used_links", [
            _col("nonce", primary_key=True), _col("plan_id", **nn), _col("action", **nn), _col("used_at", **nn),
        ], []),
        ("exec_parents", [
            _col("parent_id", primary_key=True), _col("plan_id", TEXT, sa.ForeignKey("plans.plan_id"), **nn),
            _col("account", **nn), _col("seq", sa.Integer, **nn), _col("symbol", **nn), _col("side", **nn),
            _col("policy", **nn), _col("policy_config", server_default=EMPTY_JSON, **nn),
            _col("policy_reason", server_default=EMPTY, **nn), _col("qty"), _col("notional"),
            _col("arrival_mid"), _col("decision_price"), _col("adv"), _col("deadline"), _col("status", **nn),
            _col("status_reason", server_default=EMPTY, **nn), _col("started_at", **nn), _col("finished_at"),
            _col("updated_at", **nn), _side(), sa.UniqueConstraint("plan_id", "seq"),
        ], [("exec_parents_by_account", ["account", "status"])]),
        ("exec_children", [
            _col("client_order_id", primary_key=True),
            _col("parent_id", TEXT, sa.ForeignKey("exec_parents.parent_id"), **nn), _col("k", sa.Integer, **nn),
            _col("kind", **nn), _col("planned_at", **nn), _col("planned_qty"), _col("status", **nn),
            _col("interval_volume"), _col("note", server_default=EMPTY, **nn), _col("updated_at", **nn),
            sa.UniqueConstraint("parent_id", "k"),
        ], []),
        ("execution_reports", [
            _col("parent_id", TEXT, sa.ForeignKey("exec_parents.parent_id"), primary_key=True),
            _col("plan_id", **nn), _col("account", **nn), _col("symbol", **nn), _col("side", **nn),
            _col("policy", **nn), _col("arrival_mid"), _col("decision_price"), _col("planned_qty"),
            _col("planned_notional"), _col("filled_qty", **nn), _col("avg_price"), _col("filled_notional", **nn),
            _col("shortfall_bp", REAL), _col("participation", REAL), _col("max_child_participation", REAL),
            _col("market_volume"), _col("children", sa.Integer, **nn), _col("status", **nn),
            _col("started_at", **nn), _col("finished_at", **nn),
        ], [("execution_reports_by_symbol", ["account", "symbol", "finished_at"]),
            ("execution_reports_by_plan", ["plan_id"])]),
        ("tax_fills", [
            _col("account", **nn), _col("fill_id", **nn), _col("source", **nn), _col("symbol", **nn),
            _col("side", **nn), _col("qty", **nn), _col("price", **nn), _col("trade_date", **nn), _col("at"),
            _col("order_id"), _col("note", server_default=EMPTY, **nn), _col("recorded_at", **nn),
            sa.PrimaryKeyConstraint("account", "fill_id"), sa.CheckConstraint("source IN ('broker', 'import')"),
            _side(),
        ], [("tax_fills_by_time", ["account", "source", "at"])]),
        ("tax_blocks", [
            _col("account", **nn), _col("symbol", **nn), _col("ledger_qty", **nn), _col("broker_qty", **nn),
            _col("detected_at", **nn), _col("updated_at", **nn), sa.PrimaryKeyConstraint("account", "symbol"),
        ], []),
        ("tax_wash_sales", [
            _col("sale_fill_id", **nn), _col("lot_id", **nn), _col("replacement_fill_id", **nn),
            _col("account", **nn), _col("symbol", **nn), _col("sold", **nn), _col("replacement_account", **nn),
            _col("replacement_symbol", **nn), _col("replacement_day", **nn), _col("qty", **nn),
            _col("disallowed", **nn), _col("permanent", sa.Integer, **nn), _col("recorded_at", **nn),
            sa.PrimaryKeyConstraint("sale_fill_id", "lot_id", "replacement_fill_id"),
        ], []),
        ("web_sessions", [
            _col("sid_hash", primary_key=True), _col("who", **nn), _col("created_at", REAL, **nn),
            _col("expires_at", REAL, **nn),
        ], []),
        ("equity_history", [
            _col("account", **nn), _col("day", **nn), _col("at", **nn), _col("equity", **nn), _col("cash", **nn),
            _col("day_pl"), _col("weights", **nn), _col("targets"), sa.PrimaryKeyConstraint("account", "day"),
        ], []),
        ("last_pictures", [_col("account", primary_key=True), _col("at", **nn), _col("picture", **nn)], []),
    ]  # fmt: skip


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for name, columns, indexes in _tables():
        if name in existing:
            continue
        options = {"sqlite_autoincrement": True} if name == "audit" else {}
        op.create_table(name, *columns, **options)
        for index, index_columns in indexes:
            op.create_index(index, name, index_columns)


def downgrade() -> None:
    for name, _columns, _indexes in reversed(_tables()):
        op.drop_table(name)
