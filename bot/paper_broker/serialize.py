"""Turns the engine's state into Alpaca's JSON shapes.

Decimal fields travel as JSON strings, as Alpaca sends them; timestamps are RFC 3339 in UTC (``...Z``) except
the clock, which Alpaca reports in New York time. Where alpaca-py is stricter than Alpaca's OpenAPI spec (it
requires ``easy_to_borrow`` on assets, which the spec does not list), both are satisfied; the contract tests
check both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bot.paper_broker.engine import CENT, PaperBrokerEngine
from bot.paper_broker.models import Account, Activity, Order, asset_id

NEW_YORK = ZoneInfo("America/New_York")


def ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ts_new_york(value: datetime) -> str:
    return value.astimezone(NEW_YORK).isoformat()


def dec(value: Decimal | None) -> str | None:
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return text


def order_json(order: Order, legs: list[Order] | None = None) -> dict[str, Any]:
    """Alpaca's order; ``legs`` are the orders nested under a bracket, oco or oto order's top-level order
    (Alpaca nests them only when asked, ``legs`` is null otherwise). ``group_id`` and ``group_role`` are sent
    only for orders of such a group, as Alpaca omits them for the others."""
    body = {
        "id": order.id,
        "client_order_id": order.client_order_id,
        "created_at": ts(order.created_at),
        "updated_at": ts(order.updated_at),
        "submitted_at": ts(order.submitted_at),
        "filled_at": ts(order.filled_at),
        "expired_at": ts(order.expired_at),
        "canceled_at": ts(order.canceled_at),
        "failed_at": ts(order.failed_at),
        "replaced_at": ts(order.replaced_at),
        "replaced_by": order.replaced_by,
        "replaces": order.replaces,
        "asset_id": asset_id(order.symbol),
        "symbol": order.symbol,
        "asset_class": "us_equity",
        "notional": dec(order.notional),
        "qty": dec(order.qty),
        "filled_qty": dec(order.filled_qty),
        "filled_avg_price": dec(order.filled_avg_price.quantize(Decimal("0.0001")))
        if order.filled_qty
        else None,
        "order_class": order.order_class,
        "order_type": order.type,
        "type": order.type,
        "side": order.side,
        "position_intent": "buy_to_open" if order.side == "buy" else "sell_to_close",
        "time_in_force": order.time_in_force,
        "limit_price": dec(order.limit_price),
        "stop_price": dec(order.stop_price),
        "status": order.status,
        "extended_hours": order.extended_hours,
        "legs": [order_json(leg) for leg in legs] if legs else None,
        "trail_percent": dec(order.trail_percent),
        "trail_price": dec(order.trail_price),
        "hwm": dec(order.hwm),
    }
    if order.group_id is not None:
        body["group_id"], body["group_role"] = order.group_id, order.group_role
    return body


def account_json(engine: PaperBrokerEngine, account: Account) -> dict[str, Any]:
    summary = engine.account_summary(account)
    margins = engine.balances(account)
    return {
        "id": account.id,
        "account_number": account.account_number,
        "status": "ACTIVE",
        "crypto_status": "INACTIVE",
        "currency": "USD",
        "cash": dec(summary["cash"]),
        "portfolio_value": dec(summary["equity"]),
        "equity": dec(summary["equity"]),
        "last_equity": dec(summary["last_equity"]),
        "long_market_value": dec(summary["long_market_value"]),
        "short_market_value": "0",
        "buying_power": dec(margins.buying_power),
        "regt_buying_power": dec(margins.regt_buying_power),
        "daytrading_buying_power": dec(margins.daytrading_buying_power),
        "non_marginable_buying_power": dec(margins.non_marginable_buying_power),
        "options_buying_power": dec(margins.non_marginable_buying_power),
        "initial_margin": dec(margins.initial_margin),
        "maintenance_margin": dec(margins.maintenance_margin),
        "last_maintenance_margin": dec(summary["last_maintenance_margin"]),
        "sma": "0",
        "multiplier": str(margins.multiplier),
        "pattern_day_trader": bool(account.settings.get("pattern_day_trader", False)),
        "accrued_fees": "0",
        "pending_transfer_in": "0",
        "pending_transfer_out": "0",
        "trading_blocked": bool(account.settings.get("suspend_trade")),
        "transfers_blocked": False,
        "account_blocked": False,
        "trade_suspended_by_user": bool(account.settings.get("suspend_trade")),
        "shorting_enabled": False,
        "options_approved_level": 0,
        "options_trading_level": 0,
        "created_at": ts(account.created_at),
        "balance_asof": engine.now.astimezone(NEW_YORK).date().isoformat(),
    }


def position_json(engine: PaperBrokerEngine, account: Account, symbol: str) -> dict[str, Any]:
    position = account.positions[symbol]
    price = engine.price(symbol)
    lastday = engine.lastday_price(symbol)
    market_value = (position.qty * price).quantize(CENT)
    cost = position.cost_basis.quantize(CENT)
    lastday_value = (position.qty * lastday).quantize(CENT)
    held = engine.held_for_orders(account, symbol)
    return {
        "asset_id": asset_id(symbol),
        "symbol": symbol,
        "exchange": "ARCA",
        "asset_class": "us_equity",
        "asset_marginable": True,
        "qty": dec(position.qty),
        "qty_available": dec(max(position.qty - held, Decimal(0))),
        "avg_entry_price": dec(position.avg_entry_price.quantize(Decimal("0.0001"))),
        "side": "long",
        "market_value": dec(market_value),
        "cost_basis": dec(cost),
        "unrealized_pl": dec(market_value - cost),
        "unrealized_plpc": dec(_ratio(market_value - cost, cost)),
        "unrealized_intraday_pl": dec(market_value - lastday_value),
        "unrealized_intraday_plpc": dec(_ratio(market_value - lastday_value, lastday_value)),
        "current_price": dec(price),
        "lastday_price": dec(lastday),
        "change_today": dec(_ratio(price - lastday, lastday)),
    }


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    return (numerator / denominator).quantize(Decimal("1e-10")) if denominator else Decimal(0)


def asset_json(engine: PaperBrokerEngine, symbol: str) -> dict[str, Any]:
    tradable = engine.market.is_tradable(symbol, engine.now) or engine.market.is_tradable(
        symbol, engine.calendar.next_open(engine.now)
    )
    fractionable = engine.is_fractionable(symbol)
    return {
        "id": asset_id(symbol),
        "class": "us_equity",
        "exchange": "ARCA",
        "symbol": symbol,
        "name": f"{symbol} (paper broker, real historical prices)",
        "status": "active" if tradable else "inactive",
        "tradable": tradable,
        "marginable": True,
        "shortable": False,
        "easy_to_borrow": False,
        "fractionable": fractionable,
        "maintenance_margin_requirement": 100,
        "margin_requirement_long": "100",
        "margin_requirement_short": "100",
        "min_order_size": "0.000000001" if fractionable else "1",
        "min_trade_increment": "0.000000001" if fractionable else "1",
        "price_increment": "0.01",
        "attributes": ["fractional_eh_enabled"] if fractionable else [],
    }


def activity_json(activity: Activity) -> dict[str, Any]:
    fields = {k: (dec(v) if isinstance(v, Decimal) else v) for k, v in activity.fields.items()}
    # account_id is not in the Trading API spec's activity schemas, but alpaca-py's TradeActivity and
    # NonTradeActivity require it; the spec allows extra properties, so both are satisfied.
    body: dict[str, Any] = {
        "id": activity.id,
        "account_id": activity.account_id,
        "activity_type": activity.activity_type,
        **fields,
    }
    if activity.activity_type == "FILL":
        body["transaction_time"] = ts(activity.time)
    else:
        body["created_at"] = ts(activity.time)
        body["currency"] = "USD"
    return body


def configurations_json(account: Account) -> dict[str, Any]:
    return {
        "dtbp_check": "entry",
        "trade_confirm_email": "none",
        "suspend_trade": bool(account.settings.get("suspend_trade")),
        "no_shorting": True,
        "fractional_trading": bool(account.settings.get("fractional_trading", True)),
        "max_margin_multiplier": str(account.settings.get("max_margin_multiplier", "4")),
        "pdt_check": "entry",
        "ptp_no_exception_entry": False,
    }
