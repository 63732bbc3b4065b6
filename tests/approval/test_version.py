"""The plan version an approval binds covers the account, the orders and the prices (issue 17, item 6)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from bot.approval.version import account_plan_version, plan_version
from tests.strategies.test_plan import seventy_thirty_plan


def test_the_plan_version_binds_account_orders_and_prices():
    plan = seventy_thirty_plan()
    version = account_plan_version("main", plan)
    assert account_plan_version("main", seventy_thirty_plan()) == version  # deterministic
    # four accounts with the very same trades: four versions
    versions = {account_plan_version(a, plan) for a in ("main", "ira", "roth", "kids")}
    assert len(versions) == 4
    # the same trades re-asked after prices moved: a new version
    sell, buy = plan.orders
    moved = replace(plan, orders=(replace(sell, est_price=sell.est_price * D("1.01")), buy))
    assert moved.content_hash() == plan.content_hash()  # what is sent did not change...
    assert account_plan_version("main", moved) != version  # ...but what a person decided on did
    # the orders still count, and insignificant digits do not
    assert account_plan_version("main", replace(plan, orders=(sell,))) != version
    same_price = replace(sell, est_price=sell.est_price.quantize(D("0.000001")))
    assert account_plan_version("main", replace(plan, orders=(same_price, buy))) == version


def test_a_household_version_binds_the_household_and_each_members_prices():
    orders = [
        {
            "account": "ira",
            "symbol": "SPY",
            "side": "sell",
            "qty": "3",
            "notional": None,
            "est_price": "320.1",
        },
        {
            "account": "roth",
            "symbol": "AGG",
            "side": "buy",
            "qty": None,
            "notional": "900",
            "est_price": "110",
        },
    ]
    version = plan_version("family", orders)
    assert plan_version("other-family", orders) != version
    assert plan_version("family", [{**orders[0], "est_price": "321"}, orders[1]]) != version
    assert plan_version("family", [{**orders[0], "account": "roth"}, orders[1]]) != version
    assert plan_version("family", [{**orders[0], "est_price": "320.10"}, orders[1]]) == version
