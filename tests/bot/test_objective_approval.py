"""An approved plan under the objective policy executes the same session it was approved in (issue 16's new
user: the example config, whose objective decides once a session at 10:00 New York time).

The re-check of an approved plan re-plans on fresh quotes. It once asked the once-a-session trigger, which
answered "decided once this session already", so the fresh plan was empty and every approval ended
"superseded: nothing needs trading any more": under the default policy nothing approved ever executed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bot.actions import approve_plan
from tests.bot.harness import make_harness

OPEN = datetime(2019, 12, 17, 14, 30, tzinfo=UTC)
TEN_NY = OPEN + timedelta(minutes=30)


def test_a_plan_approved_under_the_once_a_session_objective_executes_that_session(tmp_path) -> None:
    harness = make_harness(
        tmp_path,
        policy={"kind": "objective", "tracking": "balanced", "decide_at": "10:00"},
        approval={"mode": "policy", "max_plan_notional": 1000, "max_plan_fraction": 1.0},
    )
    before = harness.weights()
    harness.run_until(TEN_NY + timedelta(minutes=10))  # decides at 10:00 and asks: the plan is large
    waiting = [p for p in harness.store.plans(account="main") if p.status == "held"]
    assert len(waiting) == 1, [(p.status, p.status_reason) for p in harness.store.plans(account="main")]
    approve_plan(harness.store, waiting[0].plan_id, who="tester", channel="cli")

    harness.run_until(TEN_NY + timedelta(hours=1))
    plan = harness.store.get_plan(waiting[0].plan_id)
    assert plan is not None and plan.status == "done", (plan.status, plan.status_reason)
    assert harness.weights()["SPY"] < before["SPY"] - Decimal("0.03")
    # and the objective still decides once a session: no second plan was made after the approved one
    assert [p.plan_id for p in harness.store.plans(account="main")] == [plan.plan_id]
