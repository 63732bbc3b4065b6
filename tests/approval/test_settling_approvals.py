"""Approvals that settle (issue 16, item 9), on the real bot against the paper broker on real prices.

- An approved plan is re-checked against each asset's own volatility: on 10 March 2020 SPY falls 4% in the
  three hours between the plan and the approval; a flat 1% voided such an approval, the volatility-scaled
  tolerance (SPY then moved 3-5% a day) lets it stand.
- A re-ask says what moved: per symbol both prices, the move and the tolerance it exceeded, and which orders
  changed, in the prompt, the log, ``history`` and ``status``.
- At most ``approval.max_reasks_per_day`` re-asks a day; then the bot holds, says why (status, log, ONE
  alert) and asks again the next session.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from rich.console import Console

from bot.actions import approve_plan
from bot.reports import print_history, print_status
from strategies.formatting import usd
from tests.approval.receiver import Receiver
from tests.approval.test_bot_approvals import bot_orders, messages, prompts, rigged
from tests.bot.harness import OPEN_TIME

CRASH_OPEN = datetime(2020, 3, 10, 13, 30, tzinfo=UTC)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def approve_after_spy_fell(tmp_path, receiver, **approval):  # noqa: ANN001, ANN003, ANN201
    """Hold the plan at the open of 10 March 2020, approve it three hours later, tick once."""
    harness = rigged(
        tmp_path, receiver, start=date(2020, 3, 10), approval={"max_plan_notional": 1000, **approval}
    )
    harness.run_until(CRASH_OPEN + timedelta(minutes=25))
    [held] = harness.store.plans(status="held")
    harness.broker.advance_to(CRASH_OPEN + timedelta(hours=3, minutes=25))  # nobody decided meanwhile
    planned = Decimal(next(o["est_price"] for o in held.details["orders"] if o["symbol"] == "SPY"))
    bid = harness.adapter.latest_quotes(["SPY"])["SPY"].bid  # the bot sells SPY at the bid
    assert bid / planned - 1 < Decimal("-0.03")  # SPY fell more than 3% since the plan was made
    approve_plan(harness.store, held.plan_id, who="ann", channel="cli")
    outcome = harness.bot.tick()["main"]
    return harness, held, outcome


def test_an_ordinary_move_for_a_volatile_asset_no_longer_voids_an_approval(tmp_path, receiver):
    harness, held, outcome = approve_after_spy_fell(tmp_path, receiver)
    plan = harness.store.get_plan(held.plan_id)
    assert plan.status == "executing", plan.status_reason
    assert outcome.action.startswith("plan ")
    assert len(prompts(harness, receiver)) == 1  # asked once
    harness.run_until(harness.broker.now + timedelta(hours=1))
    assert harness.store.get_plan(held.plan_id).status == "done"


def test_with_a_flat_tolerance_the_same_move_voids_it_and_the_re_ask_says_what_moved(tmp_path, receiver):
    harness, held, outcome = approve_after_spy_fell(tmp_path / "flat", receiver, volatility_multiple=0)
    assert outcome.action == "held for approval"
    old = harness.store.get_plan(held.plan_id)
    assert old.status == "superseded"
    [fresh] = harness.store.plans(status="held")
    planned = {o["symbol"]: Decimal(o["est_price"]) for o in held.details["orders"]}
    now = {o["symbol"]: Decimal(o["est_price"]) for o in fresh.details["orders"]}
    move = now["SPY"] / planned["SPY"] - 1
    said = (
        f"SPY moved {move:+.2%} ({usd(planned['SPY'])} -> {usd(now['SPY'])}), beyond its tolerance 1.00% "
        "(floor approval.price_tolerance 1.00%)"
    )
    assert said in old.status_reason  # history and the dashboard show the superseded plan's reason
    # the prompt: what moved, and which orders changed
    [_, second] = prompts(harness, receiver)
    assert f"it replaces approved plan {held.plan_id}: " in second["message"]
    assert said in second["message"]
    assert "orders changed: SELL SPY " in second["message"]
    # status (the latest plan's reason) and history (in full with --verbose)
    status, history = io.StringIO(), io.StringIO()
    print_status(harness.bot.config, harness.store, Console(file=status, width=400))
    print_history(harness.store, console=Console(file=history, width=400), verbose=True)
    assert said in status.getvalue() and said in history.getvalue()
    log = harness.store.audit_trail(event="approved_plan_superseded", plan_id=held.plan_id)
    assert said in log[0].fields["reasons"]


def test_re_asks_are_capped_per_day_then_the_bot_holds_says_why_once_and_asks_next_session(
    tmp_path, receiver
):
    harness = rigged(
        tmp_path,
        receiver,
        approval={
            "max_plan_notional": 1000,
            "price_tolerance": 0.0001,
            "volatility_multiple": 0,
            "max_reasks_per_day": 1,
        },
    )
    harness.run_until(OPEN_TIME + timedelta(minutes=25))
    [first] = harness.store.plans(status="held")
    harness.run_until(OPEN_TIME + timedelta(minutes=55))
    approve_plan(harness.store, first.plan_id, who="bo", channel="cli")
    assert harness.bot.tick()["main"].action == "held for approval"  # re-ask 1 of 1
    [second] = harness.store.plans(status="held")
    harness.run_until(OPEN_TIME + timedelta(minutes=85))
    approve_plan(harness.store, second.plan_id, who="bo", channel="cli")
    outcome = harness.bot.tick()["main"]
    assert outcome.action == "holding: re-ask cap reached"
    assert harness.store.get_plan(second.plan_id).status == "superseded"
    assert harness.store.plans(status="held") == []
    # the rest of the day: no plan, no prompt, no second alert
    later = harness.run_until(OPEN_TIME + timedelta(hours=4))
    assert {o.action for o in later} == {"holding: re-ask cap reached"}
    assert len(prompts(harness, receiver)) == 2
    alerts = [m for m in messages(harness, receiver) if "holding until the next session" in m["title"]]
    assert len(alerts) == 1
    assert "approval.max_reasks_per_day 1" in alerts[0]["title"]
    assert "SPY moved" in alerts[0]["message"] or "AGG moved" in alerts[0]["message"]
    status = io.StringIO()
    print_status(harness.bot.config, harness.store, Console(file=status, width=400))
    assert "HOLDING (main): 2019-12-17: holding until the next session" in status.getvalue()
    assert bot_orders(harness) == []
    # the next session: the hold is lifted and the bot plans and asks again
    next_open = datetime(2019, 12, 18, 14, 30, tzinfo=UTC)
    harness.broker.advance_to(next_open)
    harness.run_until(next_open + timedelta(minutes=25))
    [third] = harness.store.plans(status="held")
    assert third.plan_id not in (first.plan_id, second.plan_id)
    assert len(prompts(harness, receiver)) == 3
    status = io.StringIO()
    print_status(harness.bot.config, harness.store, Console(file=status, width=400))
    assert "HOLDING" not in status.getvalue()
