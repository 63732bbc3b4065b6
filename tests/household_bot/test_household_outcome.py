"""A household plan ends saying what it traded, like an account plan (issue 17, item 11), and a household
whose targets the broker cannot trade is refused before anything trades (item 9).

The three-account household on the real paper broker over HTTP; simulated time is stepped.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rich.console import Console

from bot.household.record import child_plan_id
from bot.reports import print_history, print_status
from tests.bot.test_slicing_e2e import SLICING
from tests.household_bot.common import HOUSEHOLD, NAMES, drifted_household, make_household

LATE = datetime(2019, 12, 17, 20, 0, tzinfo=UTC)  # 15:00 New York; the slicing deadline below is 15:15
MINUTE = timedelta(minutes=1)


def test_a_household_plan_that_expired_partly_filled_says_what_it_traded_in_total_and_per_account(tmp_path):
    harness = make_household(
        tmp_path,
        drifted_household(),
        start=LATE,
        approval={"mode": "policy", "max_plan_notional": 10**6, "max_plan_fraction": 1.0},
        execution={"slicing": {**SLICING, "participation_cap": 0.0002, "deadline_minutes_before_close": 45}},
        schedule={"stop_before_close_minutes": 45, "interval_minutes": 1},
    )
    try:
        harness.run_until(LATE + 25 * MINUTE, step=MINUTE)
        [plan] = harness.store.plans(account=HOUSEHOLD)
        children = [harness.store.get_plan(child_plan_id(plan.plan_id, n)) for n in NAMES]
        children = [c for c in children if c is not None]
        ids = [c.plan_id for c in children]
        parents = [p for i in ids for p in harness.store.exec_parents(plan_id=i)]
        traded = sum((r.filled_notional for i in ids for r in harness.store.execution_reports(plan_id=i)), 0)
        planned = sum((Decimal(o["est_notional"]) for c in children for o in c.details["orders"]), Decimal(0))
        filled = sum(p.status == "filled" for p in parents)
        assert "expired" in {p.status for p in parents} and 0 < traded < planned  # the premise
        total = f"expired after {filled} of {len(parents)} (partly filled: ${traded:,.0f} of ${planned:,.0f})"
        short = [f"{c.account}: {c.status_reason}" for c in children if c.status_reason.startswith("expired")]
        assert short
        expected = "; ".join([f"{total} in {len(children)} accounts", *short])
        assert (plan.status, plan.status_reason) == ("done", expected)
        out = io.StringIO()
        print_history(harness.store, console=Console(file=out, width=400), verbose=True)  # reasons whole
        assert re.search(rf"{plan.plan_id} done \({re.escape(expected)}\)", out.getvalue())

        posted = Counter(o.client_order_id for o in harness.broker.engine.orders.values())
        harness.run_until(datetime(2019, 12, 17, 20, 55, tzinfo=UTC), step=5 * MINUTE)
        again = Counter(o.client_order_id for o in harness.broker.engine.orders.values())
        assert {c: n for c, n in again.items() if c.startswith(plan.plan_id)} == {
            c: n for c, n in posted.items() if c.startswith(plan.plan_id)
        }  # nothing of the finished plan is sent again
    finally:
        harness.close()


def test_a_household_target_the_broker_does_not_know_refuses_the_cycle_and_nothing_is_traded(tmp_path):
    harness = make_household(tmp_path, drifted_household(), targets={"VTI": 0.5, "AGG": 0.3, "ZZZZ": 0.2})
    try:
        outcomes = harness.run_until(LATE.replace(hour=15), step=5 * MINUTE)
        refused = [o for o in outcomes if o.action == "refused"]
        assert len(refused) >= 2 and {o.action for o in outcomes} <= {"refused", "idle"}, outcomes
        assert "ZZZZ is unknown to the broker" in refused[0].detail
        assert harness.store.plans() == [] and harness.store.orders() == []
        assert not [
            o for o in harness.broker.engine.orders.values() if not o.client_order_id.startswith("start")
        ]
        out = io.StringIO()
        print_status(harness.config, harness.store, Console(file=out, width=250))
        assert f"REFUSED ({HOUSEHOLD}): targets the broker cannot trade: ZZZZ is unknown" in out.getvalue()
        assert len(harness.store.audit_trail(event="targets_untradable")) == 1  # said once, not every cycle
        preview = harness.bot.household.preview()  # what ``plan`` prints: the reason, not a pricing error
        assert "refused, targets the broker cannot trade: ZZZZ is unknown to the broker" in preview
    finally:
        harness.close()
