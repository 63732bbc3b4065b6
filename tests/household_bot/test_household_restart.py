"""Crash safety of the household fan-out: a bot that dies after saving the children of an approved household
plan, or between two rounds of sending, is replaced by a fresh one on the same state, which finishes the plan
without sending any order twice."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from bot.actions import approve_plan
from bot.household.record import child_plan_id
from bot.worker import Bot
from tests.bot.harness import OPEN_TIME, BrokerTime
from tests.household_bot.common import HOUSEHOLD, drifted_household, make_household


def restarted(harness) -> Bot:  # noqa: ANN001
    """A new process on the same state database and broker: nothing of the old bot survives but the store."""
    return Bot(harness.config, harness.adapters, harness.store, clock=BrokerTime(harness.broker))


def bot_orders(harness) -> list:  # noqa: ANN001
    return [
        o for o in harness.broker.engine.orders.values() if not o.client_order_id.startswith("starting-lot")
    ]


def test_a_restart_at_any_point_of_the_fan_out_sends_nothing_twice(tmp_path):
    harness = make_household(tmp_path, drifted_household())
    try:
        harness.run_until(OPEN_TIME + timedelta(minutes=25))
        [held] = harness.store.plans(account=HOUSEHOLD, status="held")
        approve_plan(harness.store, held.plan_id, who="frank", channel="cli")

        # died after saving the children, before marking the household plan executing
        approved = harness.store.get_plan(held.plan_id)
        harness.bot.household.executor.save_children(approved, "old-run")
        assert harness.store.get_plan(held.plan_id).status == "approved"

        harness.bot = restarted(harness)
        harness.bot.tick()  # fans out (the children stand as saved) and sends the first orders
        assert harness.store.get_plan(held.plan_id).status == "executing"
        sent_first = {o.client_order_id for o in bot_orders(harness)}
        assert sent_first

        harness.bot = restarted(harness)  # died again, mid-execution
        harness.run_until(harness.broker.now + timedelta(minutes=40))
        plan = harness.store.get_plan(held.plan_id)
        assert plan.status == "done", plan.status_reason
        ids = Counter(o.client_order_id for o in bot_orders(harness))
        assert all(n == 1 for n in ids.values()), ids
        assert sent_first <= set(ids)
        for name, spec in plan.details["accounts"].items():
            if spec["orders"]:
                child = harness.store.get_plan(child_plan_id(plan.plan_id, name))
                assert child.status == "done"
                assert len(harness.store.orders(plan_id=child.plan_id)) == len(spec["orders"])
    finally:
        harness.close()
