"""Alpaca's JSON answers read into the bot's models: amounts from their decimal strings (never a float),
times as aware UTC datetimes. Shared by the Trading API and Broker API adapters, which get the same shapes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bot.broker.models import BarState, OrderState, PositionState


def dec(value: Any) -> Decimal:
    if value is None:
        raise ValueError("missing decimal")
    return Decimal(str(value))


def opt_dec(value: Any) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))


_FRACTION = re.compile(r"(\.\d{6})\d+")


def ts(value: str) -> datetime:
    """RFC 3339 (Z or offset, up to nanoseconds) to an aware UTC datetime."""
    parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", value.replace("z", "Z")))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def opt_ts(value: str | None) -> datetime | None:
    return ts(value) if value else None


def iso(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("give an aware datetime")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def position_state(raw: dict) -> PositionState:
    return PositionState(
        symbol=str(raw["symbol"]),
        qty=dec(raw["qty"]),
        market_value=dec(raw.get("market_value") or 0),
        avg_entry_price=dec(raw.get("avg_entry_price") or 0),
        current_price=dec(raw.get("current_price") or 0),
        unrealized_pl=opt_dec(raw.get("unrealized_pl")),
        unrealized_intraday_pl=opt_dec(raw.get("unrealized_intraday_pl")),
    )


def bar_state(symbol: str, raw: dict) -> BarState:
    return BarState(
        symbol=symbol,
        t=ts(raw["t"]),
        open=dec(raw["o"]),
        high=dec(raw["h"]),
        low=dec(raw["l"]),
        close=dec(raw["c"]),
        volume=dec(raw.get("v") or 0),
    )


def order_state(raw: dict) -> OrderState:
    return OrderState(
        id=str(raw["id"]),
        client_order_id=str(raw["client_order_id"]),
        symbol=str(raw["symbol"]),
        side=str(raw["side"]),
        type=str(raw.get("type") or raw.get("order_type")),
        time_in_force=str(raw["time_in_force"]),
        qty=opt_dec(raw.get("qty")),
        notional=opt_dec(raw.get("notional")),
        limit_price=opt_dec(raw.get("limit_price")),
        filled_qty=dec(raw.get("filled_qty") or 0),
        filled_avg_price=opt_dec(raw.get("filled_avg_price")),
        status=str(raw["status"]),
        submitted_at=opt_ts(raw.get("submitted_at")),
        updated_at=opt_ts(raw.get("updated_at")),
    )
