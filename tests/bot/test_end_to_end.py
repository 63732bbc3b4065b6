"""The real bot against the paper broker through alpaca-py over HTTP, on real prices, in simulated time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from bot.actions import approve_plan, halt, resume
from bot.paper_broker.accounts import AccountsFile, AccountSpec, StartingLot, StartingPosition
from tests.bot.harness import KEY, SECRET, make_harness

OPEN = datetime(2019, 12, 17, 14, 30, tzinfo=UTC)
CLOSE = datetime(2019, 12, 17, 21, 0, tzinfo=UTC)


def bot_orders(harness) -> list:  # noqa: ANN001
    """Orders at the broker other than the starting positions' history."""
    return [
        o for o in harness.broker.engine.orders.values() if not o.client_order_id.startswith("starting-lot")
    ]


def test_drift_outside_a_band_produces_orders_that_bring_every_weight_back_inside(tmp_path):
    harness = make_harness(tmp_path)
    before = harness.weights()
    assert before["SPY"] > Decimal("0.65")  # 70/30 after SPY's 2019 rally: outside the 5 pp band
    harness.run_until(OPEN + timedelta(hours=2))
    plans = harness.store.plans(account="main")
    assert [p.status for p in plans] == ["done"]
    orders = bot_orders(harness)
    assert orders and all(o.status == "filled" for o in orders)
    assert {(o.symbol, o.side) for o in orders} >= {("SPY", "sell"), ("AGG", "buy")}
    after = harness.weights()
    assert abs(after["SPY"] - Decimal("0.6")) <= Decimal("0.05")
    assert abs(after["AGG"] - Decimal("0.4")) <= Decimal("0.05")
    assert Decimal(0) <= after["cash"] <= Decimal("0.02")


def test_sells_are_sent_before_buys(tmp_path):
    harness = make_harness(tmp_path)
    harness.run_until(OPEN + timedelta(hours=2))
    orders = sorted(bot_orders(harness), key=lambda o: o.sequence)
    sides = [o.side for o in orders]
    assert sides == sorted(sides, key=lambda side: side != "sell")
    first_buy = min(o.submitted_at for o in orders if o.side == "buy")
    assert all(o.filled_at <= first_buy for o in orders if o.side == "sell")


def test_nothing_is_traded_inside_the_bands(tmp_path):
    balanced = AccountsFile(
        accounts=(
            AccountSpec(
                name="main",
                key_id=KEY,
                secret_key=SECRET,
                cash=Decimal("500"),
                positions=(
                    StartingPosition(
                        symbol="SPY",
                        lots=(StartingLot(qty=Decimal(187), price=Decimal(300), date=date(2019, 1, 2)),),
                    ),
                    StartingPosition(
                        symbol="AGG",
                        lots=(StartingLot(qty=Decimal(355), price=Decimal(110), date=date(2019, 1, 2)),),
                    ),
                ),
            ),
        )
    )
    harness = make_harness(tmp_path, accounts=balanced)
    outcomes = harness.run_until(CLOSE)
    assert "within bands" in {o.action for o in outcomes}
    assert bot_orders(harness) == []
    assert harness.store.plans(account="main") == []


def test_nothing_is_sent_while_the_market_is_closed(tmp_path):
    evening = datetime(2019, 12, 17, 23, 0, tzinfo=UTC)
    harness = make_harness(tmp_path, start=evening)
    next_open = datetime(2019, 12, 18, 14, 30, tzinfo=UTC)
    outcomes = harness.run_until(next_open)
    assert {o.action for o in outcomes} == {"idle"}
    assert bot_orders(harness) == []
    harness.run_until(next_open + timedelta(hours=1))
    sent = bot_orders(harness)
    assert sent and min(o.submitted_at for o in sent) >= next_open + timedelta(
        minutes=15
    )  # skip_first_minutes


def test_a_held_plan_is_not_executed_until_approved_and_then_exactly_as_approved(tmp_path):
    harness = make_harness(tmp_path, approval={"max_plan_notional": 1000})
    harness.run_until(OPEN + timedelta(hours=2))
    [held] = harness.store.plans(account="main")
    assert held.status == "held" and "approval.max_plan_notional" in held.status_reason
    assert bot_orders(harness) == []
    assert [a.plan_id for a in harness.store.pending_approvals()] == [held.plan_id]

    approve_plan(harness.store, held.plan_id, who="tester", channel="cli")
    harness.run_until(OPEN + timedelta(hours=4))
    assert harness.store.get_plan(held.plan_id).status == "done"
    sent = sorted(bot_orders(harness), key=lambda o: o.sequence)
    planned = held.details["orders"]
    assert [(o.symbol, o.side) for o in sent] == [(p["symbol"], p["side"]) for p in planned]
    for order, spec in zip(sent, planned, strict=True):
        if spec["qty"] is not None:
            assert order.qty <= Decimal(spec["qty"])
        else:
            assert order.notional <= Decimal(spec["notional"])
    approval = harness.store.get_approval(held.plan_id)
    assert (approval.status, approval.decided_by, approval.channel) == ("approved", "tester", "cli")


def test_a_plan_over_a_hard_limit_is_refused_and_nothing_is_sent(tmp_path):
    harness = make_harness(
        tmp_path, limits={"max_order_notional": 2000, "max_plan_notional": 5000, "max_daily_notional": 10000}
    )
    harness.run_until(OPEN + timedelta(hours=1))
    plans = harness.store.plans(account="main")
    assert plans and {p.status for p in plans} == {"refused"}
    assert "limits.max_order_notional" in plans[0].status_reason
    assert bot_orders(harness) == []
    assert harness.store.audit_trail(event="plan_refused")


def test_halt_stops_all_sending_and_cancels_the_bots_open_orders(tmp_path):
    from bot.paper_broker.faults import FaultConfig  # noqa: F401 - the broker below fills slowly on purpose

    harness = make_harness(tmp_path)
    harness.broker.engine.matching = type(harness.broker.engine.matching)(max_minute_participation=0.00002)
    harness.run_until(OPEN + timedelta(minutes=25))
    working = [o for o in bot_orders(harness) if o.is_open]
    assert working, "the slow market should leave the first sell working"
    halt(harness.store, who="tester", reason="test")
    harness.run_until(OPEN + timedelta(hours=3))
    assert all(not o.is_open for o in bot_orders(harness))
    assert {o.status for o in working} <= {"canceled", "filled"}
    assert len(bot_orders(harness)) == len(working) or all(
        o.submitted_at <= OPEN + timedelta(minutes=25) for o in bot_orders(harness)
    )
    count = len(bot_orders(harness))
    harness.run_until(datetime(2019, 12, 18, 18, 0, tzinfo=UTC))
    assert len(bot_orders(harness)) == count  # halted: nothing more is sent, on any later day
    resume(harness.store, who="tester")
    harness.run_until(datetime(2019, 12, 19, 18, 0, tzinfo=UTC))
    assert len(bot_orders(harness)) > count
