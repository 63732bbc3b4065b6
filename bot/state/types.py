"""Column types that store the same text on SQLite and PostgreSQL, so both engines answer identically.

Money and quantities are TEXT holding the exact :class:`~decimal.Decimal` (``12.3400`` stays ``12.3400``);
times are fixed-width ISO-8601 UTC text (text order is time order, and a naive datetime is taken as UTC); days
are ISO dates; structured fields are compact JSON text. That is what the hand-written SQLite store wrote, so a
file it left reads back unchanged. On PostgreSQL every text column uses the ``"C"`` collation: byte order, as
SQLite compares text, whatever locale the database was created with (``ORDER BY plan_id`` must not depend on
the server's ``LC_COLLATE``).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Float, Text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

BYTE_ORDER_TEXT = Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")
"""Plain text, compared byte by byte on both engines."""
DOUBLE = Float().with_variant(sqlite.REAL(), "sqlite")
"""A double on both engines (SQLite's REAL, PostgreSQL's double precision; PostgreSQL's REAL is 4 bytes)."""


def utc_text(value: datetime | None) -> str | None:
    """Fixed-width ISO UTC text, so that text order is time order."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def decimal_text(value: Decimal | int | str | float | None) -> str | None:
    """The exact decimal as text; a float goes through its shortest repr (0.1 stays 0.1)."""
    if value is None:
        return None
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return str(number)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    return str(value)


def to_json(value: Any) -> str:
    """Compact JSON; Decimal and datetime as text, sets and tuples as lists."""
    return json.dumps(value, default=_json_default, separators=(",", ":"))


class _Text(TypeDecorator[Any]):
    """Text in the byte-order collation on PostgreSQL."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return postgresql.TEXT(collation="C") if dialect.name == "postgresql" else Text()


class Money(_Text):
    """A Decimal (money, quantity, price) stored as its exact text."""

    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return decimal_text(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class UtcTime(_Text):
    """A tz-aware UTC datetime stored as fixed-width ISO text."""

    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return utc_text(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)


class Day(_Text):
    """A date stored as ISO text."""

    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else value.isoformat()

    def process_result_value(self, value: Any, dialect: Dialect) -> date | None:
        return None if value is None else date.fromisoformat(value)


class JsonText(_Text):
    """A JSON document stored as compact text (see :func:`to_json`)."""

    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else to_json(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


class Str(_Text):
    """Text (ids, names, statuses)."""

    cache_ok = True
