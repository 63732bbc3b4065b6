"""Alpaca's error responses, reproduced with their HTTP statuses, codes and messages.

A bot that has only met the happy path breaks on its first real rejection, so the paper broker answers bad
requests exactly as Alpaca does: every error body carries ``code`` and ``message`` (and, for some 403s, the
extra fields Alpaca adds). Codes and messages follow Alpaca's documentation and observed responses
(see ``../shared/research/NOTES.md`` section 4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class BrokerError(Exception):
    """An error the HTTP layer answers as ``status`` with ``{"code": ..., "message": ..., **extra}``."""

    status: int
    code: int
    message: str
    extra: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.extra}


def unauthorized() -> BrokerError:
    return BrokerError(401, 40110000, "request is not authorized")


def malformed_body(detail: str = "request body format is invalid") -> BrokerError:
    return BrokerError(400, 40010000, detail)


def invalid_request(message: str) -> BrokerError:
    """Alpaca's 422 for a well-formed request whose fields it cannot accept."""
    return BrokerError(422, 40010001, message)


def duplicate_client_order_id() -> BrokerError:
    return BrokerError(422, 40010001, "client_order_id must be unique")


def wash_trade() -> BrokerError:
    return BrokerError(403, 40310000, "potential wash trade detected. use complex orders")


def insufficient_buying_power(buying_power: str, cost: str) -> BrokerError:
    return BrokerError(
        403, 40310000, "insufficient buying power", {"buying_power": buying_power, "cost_basis": cost}
    )


def insufficient_qty(symbol: str, requested: str, available: str, held: str, existing: str) -> BrokerError:
    return BrokerError(
        403,
        40310000,
        f"insufficient qty available for order (requested: {requested}, available: {available})",
        {
            "symbol": symbol,
            "existing_qty": existing,
            "held_for_orders": held,
            "available": available,
            "related_orders": [],
        },
    )


def asset_not_found(symbol: str) -> BrokerError:
    return BrokerError(404, 40410000, f"asset not found for {symbol}")


def unknown_order_symbol(symbol: str) -> BrokerError:
    """Orders for a symbol Alpaca does not know are refused with 422, not 404."""
    return BrokerError(422, 40010001, f"could not find us_equity '{symbol}'")


def asset_not_tradable(symbol: str) -> BrokerError:
    return BrokerError(422, 40010001, f"asset {symbol} is not active")


def order_not_found() -> BrokerError:
    return BrokerError(404, 40410000, "order not found")


def position_not_found() -> BrokerError:
    return BrokerError(404, 40410000, "position does not exist")


def order_not_cancelable(status: str) -> BrokerError:
    return BrokerError(422, 42210000, f"order is not cancelable (status: {status})")


def rate_limited() -> BrokerError:
    return BrokerError(429, 42910000, "rate limit exceeded")


def not_found_route() -> BrokerError:
    return BrokerError(404, 40410000, "endpoint not found")
