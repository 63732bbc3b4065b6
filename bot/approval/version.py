"""The plan version a person decides on: a hash over WHO trades (the account or household), WHAT (the
orders as the broker receives them) and AT WHAT PRICES (each order's estimated price).

The planner's own content hash (``RebalancePlan.content_hash``) covers only the orders, on purpose: it names
what is sent. As the version of an approval that was not enough - four accounts with the same trades showed
the same "version", and a plan asked again after prices moved looked unchanged although its amounts in
dollars and its reasons did change. An approval, a signed link and an API decision are bound to this
version, so a decision made on one account's plan, or on old prices, never counts for another.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from strategies.plan import RebalancePlan

VERSION_FIELDS = ("account", "symbol", "side", "qty", "notional", "est_price")


def price_text(price: Decimal | str) -> str:
    """Canonical decimal text (``320.10`` and ``320.1`` are one price)."""
    text = format(Decimal(price).normalize(), "f")
    return "0" if text in ("-0", "0") else text


def plan_version(owner: str, orders: Iterable[Mapping[str, Any]]) -> str:
    """sha256 (hex) over ``owner`` (account or household name) and each order's broker-facing fields and
    estimated price, in sending order."""
    payload = {
        "owner": owner,
        "orders": [
            {
                **{k: order.get(k) for k in VERSION_FIELDS if k != "est_price"},
                "est_price": price_text(order["est_price"]),
            }
            for order in orders
        ],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def account_plan_version(account: str, plan: RebalancePlan) -> str:
    """The version of one account's plan."""
    return plan_version(
        account, [{**o.content(), "account": account, "est_price": o.est_price} for o in plan.orders]
    )
