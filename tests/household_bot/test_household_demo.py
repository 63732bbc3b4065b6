"""``rebalance-bot demo --household`` approves and executes every plan it holds (issue 16, item 9).

The demo once let the paper market run on wall time while a narrator thread approved what it saw; four of six
approvals ended "approved -> expired/superseded" with no reason. It now steps the broker's clock and ticks
the bot itself, so this runs the demo as shipped (config/household.yaml, only moved to the COVID crash's
worst week, where prices swing most) on the embedded paper broker with ``session_seconds=0``: nothing sleeps.
"""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime

from rich.console import Console

from bot.household.demo import CONFIG, run_household_demo
from bot.state.store import StateStore


def test_the_household_demo_executes_every_plan_it_approves(tmp_path):
    config = tmp_path / "household.yaml"
    text = CONFIG.read_text()
    assert "\n  start: 2020-01-02\n" in text
    config.write_text(text.replace("\n  start: 2020-01-02\n", "\n  start: 2020-03-23\n"))
    out = io.StringIO()
    started = time.monotonic()
    code = run_household_demo(
        tmp_path / "state",
        session_seconds=0,
        config_path=config,
        end=datetime(2020, 3, 23, 14, 20, tzinfo=UTC),  # the first 50 minutes of 23 March 2020
        console=Console(file=out, width=200),
    )
    elapsed = time.monotonic() - started
    printed = out.getvalue()
    assert code == 0
    with StateStore(tmp_path / "state" / "bot.sqlite") as store:
        plans = store.plans(account="family", limit=50)
        approved = {e.plan_id for e in store.audit_trail(limit=500, event="plan_approved")}
    assert approved, printed  # the first plan is held (approval.first_plan) and the demo approves it
    assert approved <= {p.plan_id for p in plans}
    for plan in plans:
        done = plan.status == "done" or (plan.plan_id not in approved and plan.status == "executing")
        assert done, (plan.plan_id, plan.status, plan.status_reason)
    for ending in ("superseded", "expired", "refused", "failed"):
        assert ending not in printed
    assert "Why you are asked: it is the account's first plan" in printed
    # the re-check before the start weighed each price against its own volatility, not a flat 1%
    lines = [json.loads(line) for line in (tmp_path / "state" / "bot.log").read_text().splitlines()]
    [stood] = [line for line in lines if line["event"] == "approved household plan stands on fresh quotes"]
    assert all(float(t.rstrip("%")) > 1.0 for t in stood["tolerances"].values()), stood
    assert elapsed < 60, f"the demo test took {elapsed:.0f} s"  # ~5 s on an idle 2-core machine
