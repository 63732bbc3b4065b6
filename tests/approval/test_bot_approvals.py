"""The approval lifecycle and the alerts, on the real bot against the paper broker (no dashboard): prompts
through Apprise to a local receiver, rejection memory, expiry, the re-check on approval, alerts."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import LimitOrderRequest

from bot.actions import ActionError, approve_plan, halt, reject_plan
from bot.notify import Notifier
from bot.state.equity_history import EquityHistory
from bot.worker import run_forever
from tests.approval.receiver import Receiver
from tests.bot.harness import KEY, OPEN_TIME, SECRET, make_harness

# Slow tier: approvals through a whole bot on the paper broker
# (CI runs the slow tier; the README's quick command skips it.)
pytestmark = pytest.mark.slow

CLOSE = datetime(2019, 12, 17, 21, 0, tzinfo=UTC)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def rigged(tmp_path, receiver, **overrides):  # noqa: ANN001, ANN201
    harness = make_harness(tmp_path, **{"approval": {"max_plan_notional": 1000}, **overrides})
    harness.bot.notifier = Notifier([receiver.url()], retries=1, backoff=0.01)
    return harness


def bot_orders(harness) -> list:  # noqa: ANN001
    return [
        o for o in harness.broker.engine.orders.values() if not o.client_order_id.startswith("starting-lot")
    ]


def messages(harness, receiver) -> list[dict]:  # noqa: ANN001
    harness.bot.notifier.flush()
    return list(receiver.messages)


def prompts(harness, receiver) -> list[dict]:  # noqa: ANN001
    harness.bot.notifier.flush()
    return receiver.prompts()


def deposit(harness, amount: str) -> None:  # noqa: ANN001
    engine = harness.broker.engine
    with engine.lock:
        next(iter(engine.accounts.values())).cash += Decimal(amount)


def test_a_held_plan_is_prompted_once(tmp_path, receiver):
    harness = rigged(tmp_path, receiver)
    harness.run_until(OPEN_TIME + timedelta(hours=1))
    [held] = harness.store.plans(status="held")
    sent = prompts(harness, receiver)
    assert len(sent) == 1 and held.plan_id in sent[0]["message"]
    assert "rebalance-bot approve" in sent[0]["message"]  # no dashboard here: CLI instructions instead
    assert harness.store.audit_trail(event="approval_prompted", plan_id=held.plan_id)
    assert bot_orders(harness) == []


def test_the_first_plan_of_an_account_waits_when_the_policy_says_so(tmp_path, receiver):
    harness = rigged(tmp_path, receiver, approval={"max_plan_notional": 10**6, "first_plan": True})
    harness.run_until(OPEN_TIME + timedelta(minutes=25))
    [held] = harness.store.plans(status="held")
    assert "first plan" in held.status_reason
    assert held.details["approval_reasons"] == [held.status_reason]
    assert Decimal(held.details["estimates"]["tax"]) > 0  # SPY bought at $250 in 2018, sold at ~$320


def test_a_rejected_plan_is_not_asked_again_until_the_drift_changes(tmp_path, receiver):
    harness = rigged(tmp_path, receiver)
    harness.run_until(OPEN_TIME + timedelta(minutes=25))
    [held] = harness.store.plans(status="held")
    reject_plan(harness.store, held.plan_id, who="carol", channel="cli", reason="not today")
    outcomes = harness.run_until(OPEN_TIME + timedelta(hours=3))
    assert "rejected; not asking again until the drift changes" in {o.action for o in outcomes}
    assert [p.status for p in harness.store.plans()] == ["rejected"]
    assert len(prompts(harness, receiver)) == 1
    deposit(harness, "40000")  # cash jumps from ~10% to ~36% of the account: the drift changed
    harness.run_until(OPEN_TIME + timedelta(hours=3, minutes=10))
    [again] = harness.store.plans(status="held")
    assert again.plan_id != held.plan_id
    assert len(prompts(harness, receiver)) == 2
    assert bot_orders(harness) == []


def test_a_held_plan_expires_at_the_close_and_can_no_longer_be_approved(tmp_path, receiver):
    harness = rigged(tmp_path, receiver)
    harness.run_until(OPEN_TIME + timedelta(minutes=25))
    [held] = harness.store.plans(status="held")
    assert harness.store.get_approval(held.plan_id).expires_at == CLOSE
    harness.run_until(CLOSE + timedelta(minutes=10))
    assert harness.store.get_plan(held.plan_id).status == "expired"
    assert harness.store.get_approval(held.plan_id).status == "expired"
    with pytest.raises(ActionError, match="expired"):
        approve_plan(harness.store, held.plan_id, who="late", channel="cli")
    assert bot_orders(harness) == []


def test_an_approval_is_refused_after_expiry_even_before_the_bot_notices(tmp_path, receiver):
    harness = rigged(tmp_path, receiver, approval={"max_plan_notional": 1000, "expiry": 30})
    harness.run_until(OPEN_TIME + timedelta(minutes=25))
    [held] = harness.store.plans(status="held")
    with pytest.raises(ActionError, match="expired"):
        approve_plan(
            harness.store, held.plan_id, "late", "cli", now=harness.broker.now + timedelta(minutes=31)
        )
    assert harness.store.get_plan(held.plan_id).status == "held"


def test_an_approved_plan_whose_prices_moved_is_planned_and_asked_again(tmp_path, receiver):
    harness = rigged(
        tmp_path,
        receiver,
        approval={"max_plan_notional": 1000, "price_tolerance": 0.0001, "volatility_multiple": 0},
    )
    harness.run_until(OPEN_TIME + timedelta(minutes=25))
    [first] = harness.store.plans(status="held")
    harness.run_until(OPEN_TIME + timedelta(minutes=55))  # prices move; the held plan stands meanwhile
    assert harness.store.get_plan(first.plan_id).status == "held"
    approve_plan(harness.store, first.plan_id, who="dave", channel="cli")
    outcome = harness.bot.tick()["main"]
    assert outcome.action == "held for approval"
    old = harness.store.get_plan(first.plan_id)
    assert old.status == "superseded" and "moved" in old.status_reason
    [second] = harness.store.plans(status="held")
    assert f"replaces approved plan {first.plan_id}" in second.status_reason
    assert len(prompts(harness, receiver)) == 2
    assert bot_orders(harness) == []
    assert harness.store.audit_trail(event="approved_plan_superseded", plan_id=first.plan_id)
    # approved again and re-checked at unchanged prices (same broker minute): it stands, and runs as approved
    approve_plan(harness.store, second.plan_id, who="dave", channel="cli")
    assert harness.bot.tick()["main"].action.startswith("plan ")
    assert harness.store.get_plan(second.plan_id).status == "executing"
    harness.run_until(OPEN_TIME + timedelta(hours=3))
    assert harness.store.get_plan(second.plan_id).status == "done"
    sent = sorted(bot_orders(harness), key=lambda o: o.sequence)
    assert [(o.symbol, o.side) for o in sent] == [(s["symbol"], s["side"]) for s in second.details["orders"]]


def test_halt_and_repeated_broker_rejections_raise_alerts(tmp_path, receiver):
    harness = rigged(tmp_path, receiver, notifications={"rejections_alert": 2})
    harness.bot.start()
    for n in range(3):  # the executor writes one of these per order the broker refuses
        harness.store.audit(
            "order_rejected", account="main", client_order_id=f"o-{n}", error="insufficient qty"
        )
        # another bot's account on the same (fleet's shared) state: not this bot's to alert about
        harness.store.audit("order_rejected", account="smith-ira", client_order_id=f"s-{n}", error="x")
    halt(harness.store, who="erin", reason="checking something")
    harness.bot.tick()
    harness.bot.tick()
    titles = [m["title"] for m in messages(harness, receiver)]
    assert titles.count("rebalance-bot: halted") == 1  # once, not on every tick
    assert titles.count("rebalance-bot: the broker rejected 2 orders of main today") == 1
    assert not any("smith-ira" in t for t in titles)


def test_unknown_open_orders_at_start_raise_an_alert(tmp_path, receiver):
    harness = rigged(tmp_path, receiver)
    TradingClient(KEY, SECRET, url_override=harness.broker.url).submit_order(
        LimitOrderRequest(
            symbol="SPY", qty=1, side=OrderSide.BUY, limit_price=100, time_in_force=TimeInForce.GTC,
            client_order_id="by-hand",
        )
    )  # fmt: skip
    harness.bot.start()
    [alert] = messages(harness, receiver)
    assert "open orders the bot does not know" in alert["title"] and "by-hand" in alert["message"]


class FakeService:
    def __init__(self, name: str, fail: bool = False) -> None:
        self.name, self.fail, self.events = name, fail, []

    def start(self) -> None:
        if self.fail:
            raise OSError("address already in use")
        self.events.append("start")

    def stop(self) -> None:
        self.events.append("stop")


def test_services_start_and_stop_with_the_bot_and_stopping_raises_an_alert(tmp_path, receiver):
    harness = rigged(tmp_path, receiver, notifications={"daily_summary": True})
    good, bad = FakeService("dashboard"), FakeService("broken", fail=True)
    stop = threading.Event()
    runner = threading.Thread(
        target=run_forever, args=(harness.bot, tmp_path / "state", 0.05, stop, [good, bad]), daemon=True
    )
    runner.start()
    try:
        while harness.bot.last_tick is None:
            stop.wait(0.05)
        assert harness.bot.health()["status"] == "ok"
    finally:
        stop.set()
        runner.join(30)
    assert good.events == ["start", "stop"]
    titles = [m["title"] for m in receiver.messages]  # the notifier was closed: everything is delivered
    assert "rebalance-bot: broken did not start" in titles
    assert titles[-1] == "rebalance-bot: the bot stopped"


def test_a_daily_summary_is_sent_after_the_close_when_configured(tmp_path, receiver):
    harness = rigged(tmp_path, receiver, notifications={"daily_summary": True})
    harness.run_until(OPEN_TIME + timedelta(minutes=25))
    # another household's plan on the same (a fleet's shared) state: not in this bot's summary
    [held] = harness.store.plans(status="held")
    other = held.plan_id.replace("main", "smith")
    harness.store.save_plan(
        other, held.run_id, "smith-ira", held.content_hash, "held", "", held.details, held.created_at
    )
    harness.store.request_approval(other, held.content_hash, None)
    harness.run_until(CLOSE + timedelta(minutes=15))
    summaries = [m for m in messages(harness, receiver) if "daily summary" in m["title"]]
    assert len(summaries) == 1
    body = summaries[0]["message"]
    assert "Summary of 2019-12-17" in body and "Plans: 1" in body and "smith" not in body
    [close] = EquityHistory(harness.store).days("main")  # recorded at the same first tick after the close
    assert f"Account main at the close: equity ${close.equity:,.2f}, day P&L " in body
    spy = close.weights["SPY"]
    assert f"  SPY    {float(spy):7.2%} vs  60.00% ({(spy - Decimal('0.6')) * 100:+.2f}pp)" in body


def test_an_approval_that_lands_during_a_cycle_goes_first_and_no_second_plan_is_held(tmp_path, receiver):
    harness = rigged(tmp_path, receiver)
    harness.run_until(OPEN_TIME + timedelta(minutes=25))
    [held] = harness.store.plans(status="held")
    account_bot = harness.bot.accounts["main"]
    approve_plan(harness.store, held.plan_id, who="dashboard-user", channel="dashboard")
    # the tick had already looked for approved plans and found none: it is planning anew right now
    outcome = account_bot.run_cycle(harness.bot.run_id or "")
    assert outcome.action == "a plan was approved meanwhile; it goes first"
    assert [p.plan_id for p in harness.store.plans()] == [held.plan_id]
    harness.run_until(OPEN_TIME + timedelta(hours=2))
    assert [p.status for p in harness.store.plans()] == ["done"]
