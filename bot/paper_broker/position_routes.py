"""Closing positions: Alpaca's ``DELETE /v2/positions/{symbol_or_asset_id}`` and ``DELETE /v2/positions``.

A close is a market sell order for the whole position or part of it (``qty`` shares, or ``percentage`` of the
position), sent through the same order path as ``POST /v2/orders``: so it is checked, reserved, matched and
booked exactly like an order the client wrote itself, and the answer is that order. Alpaca's rules:

* ``qty`` and ``percentage`` exclude each other; neither closes everything. Both take up to 9 decimals.
* ``percentage`` is in (0, 100] and sells a fraction of a share only if the position holds one: of a
  whole-share position it sells whole shares, rounded down.
* No position: 404. A malformed or out-of-range amount: 422. More shares than are free (the position less
  what open sell orders hold): Alpaca's 403 ``insufficient qty available for order``, as for any sell.

Closing everything answers 207 with one result per position, ``{"symbol", "status", "body"}``: the order
with status 200, or the error (its status, and Alpaca's error body) for a position that could not be closed.
``cancel_orders=true`` cancels the account's open orders first, which frees shares they held.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from bot.paper_broker import errors
from bot.paper_broker.engine import PaperBrokerEngine
from bot.paper_broker.models import Account, Order, find_symbol
from bot.paper_broker.order_validation import MAX_QTY_DECIMALS
from bot.paper_broker.serialize import order_json

HUNDRED = Decimal(100)
QTY_STEP = Decimal(1).scaleb(-MAX_QTY_DECIMALS)


def position_routes(app: FastAPI, engine: PaperBrokerEngine, current: Any) -> None:
    """Register the two close routes; ``current`` is the authenticated-account dependency."""

    @app.delete("/v2/positions/{symbol_or_asset_id}")
    def close_position(
        symbol_or_asset_id: str,
        account: Account = current,
        qty: str | None = None,
        percentage: str | None = None,
    ) -> dict:
        with engine.lock:
            symbol = find_symbol(engine.market.data.symbols, symbol_or_asset_id)
            if symbol is None or symbol not in account.positions:
                raise errors.position_not_found()
            return order_json(close(engine, account, symbol, qty, percentage))

    @app.delete("/v2/positions")
    def close_all_positions(account: Account = current, cancel_orders: bool = False) -> JSONResponse:
        with engine.lock:
            if cancel_orders:
                engine.cancel_all(account)
            results = [_close_result(engine, account, s) for s in sorted(account.positions)]
        return JSONResponse(results, status_code=207)


def close(
    engine: PaperBrokerEngine,
    account: Account,
    symbol: str,
    qty: str | None = None,
    percentage: str | None = None,
) -> Order:
    """Send the market sell order that closes ``symbol`` (all of it, ``qty`` shares or ``percentage`` %)."""
    if qty not in (None, "") and percentage not in (None, ""):
        raise errors.invalid_request("qty and percentage cannot both be specified")
    held = account.positions[symbol].qty
    amount = qty if qty not in (None, "") else str(_share_of(held, percentage))
    body = {"symbol": symbol, "side": "sell", "type": "market", "time_in_force": "day", "qty": amount}
    return engine.submit_order(account, body)


def _share_of(held: Decimal, percentage: str | None) -> Decimal:
    """The shares ``percentage`` % of a position of ``held`` shares comes to (all of it without one)."""
    if percentage in (None, ""):
        return held
    share = _percentage(percentage)
    wanted = held * share / HUNDRED
    whole = held == held.to_integral_value()
    wanted = wanted.to_integral_value(ROUND_DOWN) if whole else wanted.quantize(QTY_STEP, ROUND_DOWN)
    if wanted <= 0:
        raise errors.invalid_request(
            f"percentage {percentage} of a position of {held} whole shares is less than one share"
        )
    return wanted


def _percentage(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise errors.invalid_request(f"invalid percentage: {text!r} is not a number") from None
    if not value.is_finite() or not 0 < value <= HUNDRED:
        raise errors.invalid_request("percentage must be between 0 and 100")
    if -value.as_tuple().exponent > MAX_QTY_DECIMALS:
        raise errors.invalid_request(f"percentage must have at most {MAX_QTY_DECIMALS} decimal places")
    return value


def _close_result(engine: PaperBrokerEngine, account: Account, symbol: str) -> dict:
    """One entry of the close-all answer: the order, or why this position could not be closed."""
    try:
        order = close(engine, account, symbol)
    except errors.BrokerError as exc:
        return {"symbol": symbol, "status": exc.status, "body": exc.body()}
    return {"symbol": symbol, "status": 200, "body": order_json(order)}
