"""A plan whose sliced order reached its deadline after part of it traded (issue 17, item 11) ends saying so,
with the money, in ``status`` and ``history``; none of its orders is sent again afterwards."""

from __future__ import annotations

import io
import re
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

from rich.console import Console

from bot.reports import print_history, print_status
from tests.bot.test_slicing_e2e import MINUTE, parents_of, sliced  # noqa: F401 - sliced is a fixture

LATE = datetime(2019, 12, 17, 20, 0, tzinfo=UTC)  # 15:00 New York; the slicing deadline is 15:15
DEADLINE = datetime(2019, 12, 17, 20, 15, tzinfo=UTC)


def test_a_plan_that_expired_partly_filled_says_what_it_traded_and_nothing_is_sent_again(sliced):  # noqa: F811
    harness = sliced(
        recorder=True,
        start=LATE,
        slicing={"participation_cap": 0.0002, "deadline_minutes_before_close": 45},
        schedule={"stop_before_close_minutes": 45},
    )
    harness.run_until(DEADLINE + 5 * MINUTE, step=MINUTE)
    [plan] = harness.store.plans(account="main")
    parents = parents_of(harness, plan.plan_id)
    assert (parents["SPY"].status, parents["AGG"].status) == ("filled", "expired")
    reports = harness.store.execution_reports(plan_id=plan.plan_id)
    traded = sum((r.filled_notional for r in reports), Decimal(0))
    planned = sum((Decimal(o["est_notional"]) for o in plan.details["orders"]), Decimal(0))
    assert 0 < traded < planned
    expected = f"expired after 1 of 2 (partly filled: ${traded:,.0f} of ${planned:,.0f})"
    assert (plan.status, plan.status_reason) == ("done", expected)

    out = io.StringIO()
    print_status(harness.bot.config, harness.store, Console(file=out, width=250))
    assert f"latest plan: {plan.plan_id} done: {expected}" in out.getvalue()
    out = io.StringIO()
    print_history(harness.store, console=Console(file=out, width=250))
    assert re.search(rf"{plan.plan_id} done \({re.escape(expected)}\)", out.getvalue())

    posted = list(harness.broker.recorder.client_order_ids)
    harness.run_until(datetime(2019, 12, 17, 20, 55, tzinfo=UTC), step=5 * MINUTE)  # up to the close
    after = harness.broker.recorder.client_order_ids[len(posted) :]
    assert not [cid for cid in after if cid and cid.startswith(plan.plan_id)]  # nothing of it re-sent
    assert all(n == 1 for n in Counter(harness.broker.recorder.client_order_ids).values())
