"""The bot on a margin account never borrows: its buys are bounded by cash, not by ``buying_power``.

Alpaca paper accounts with $2,000+ equity are margin accounts, whose ``buying_power`` is about twice the
equity; a bot that sized buys from it would borrow. The harness account (~70/30 SPY/AGG against 60/40,
$10,000 cash) is a margin account here, as on Alpaca paper. Its plan (sell ~$19k of SPY, buy ~$29k of AGG)
is held for approval while the owner spends $9,000 of the cash by hand, so that when it is approved the
planned buys exceed the cash: the moment a bot that spent buying power would borrow.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import LimitOrderRequest

from tests.bot.harness import KEY, SECRET, Harness, make_harness

OPEN = datetime(2019, 12, 17, 14, 30, tzinfo=UTC)
SLICING = {"policy": "twap", "twap_window_minutes": 10, "children": 5, "reprice_after_minutes": 1}


def lowest_cash_until_done(harness: Harness, limit: datetime) -> Decimal:
    """Tick the bot minute by minute until its plan is done or ``limit``; the lowest cash booked meanwhile."""
    account = next(iter(harness.broker.engine.accounts.values()))
    lowest = account.cash
    while harness.broker.now < limit:
        harness.bot.tick()
        plans = harness.store.plans(account="main")
        if plans and all(p.status == "done" for p in plans):
            return lowest
        harness.broker.advance(minutes=1)
        lowest = min(lowest, account.cash)
    return lowest


@pytest.mark.parametrize("execution", [{}, {"slicing": SLICING}], ids=["one-order", "sliced"])
def test_the_bot_never_borrows_on_a_margin_account(tmp_path, execution: dict) -> None:
    harness = make_harness(tmp_path, execution=execution)
    owner = TradingClient(KEY, SECRET, url_override=harness.broker.url)
    try:
        account = owner.get_account()
        assert account.multiplier == "2" and Decimal(account.buying_power) > Decimal(account.equity)
        owner.submit_order(  # the owner's own order holds most SPY shares: the bot's sell cannot go through
            LimitOrderRequest(
                symbol="SPY", qty=240, limit_price=500, side=OrderSide.SELL, time_in_force=TimeInForce.GTC
            )
        )
        lowest = lowest_cash_until_done(harness, OPEN + timedelta(hours=3))
        assert lowest >= 0, f"the bot borrowed: cash went down to {lowest}"
        [plan] = harness.store.plans(account="main")
        buys = [o for o in harness.broker.engine.orders.values() if o.side == "buy"]
        planned = sum(Decimal(o["est_notional"]) for o in plan.details["orders"] if o["side"] == "buy")
        assert planned > Decimal(account.cash)  # spending as planned would have borrowed
        assert sum(o.filled_value for o in buys) > Decimal(account.cash) / 2  # it did spend its cash
    finally:
        harness.broker.stop()
