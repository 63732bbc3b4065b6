"""Order slicing end to end: the real bot against the paper broker over HTTP, on real prices and volumes.

The harness account (SPY 250 sh, AGG 100 sh, $10,000; Dec 2019) is ~70/30 against a 60/40 target, so the
first cycle (14:45 UTC, 09:45 New York) plans a sell of ~60 SPY and a buy of ~$28,700 of AGG. The config
forces the TWAP policy with a short window (10 minutes, a child every 2 minutes) so that every rule is
exercised in a few simulated minutes: sells before buys, no order opposite to an open one, partial fills and
re-pricing, a deadline with quantity left, a rejected child, and crashes in the middle of a schedule.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bot.broker.alpaca import AlpacaBroker
from bot.broker.models import OrderIntent
from bot.execution import PlanExecutor
from bot.paper_broker.faults import FaultConfig
from bot.paper_broker.matching import MatchingConfig
from bot.paper_broker.server import ClockConfig, PaperBroker, ServerConfig
from bot.reports import print_history
from bot.state.store import StateStore
from bot.worker import Bot
from tests.bot.harness import KEY, SECRET, BrokerTime, Harness, bot_config, drifted_60_40

# Slow tier: sliced schedules run to their deadline, and SIGKILLs mid-schedule
# (CI runs the slow tier; the README's quick command skips it.)
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
OPEN = datetime(2019, 12, 17, 14, 30, tzinfo=UTC)
FIRST_CYCLE = OPEN + timedelta(minutes=15)
MINUTE = timedelta(minutes=1)
SLICING = {"policy": "twap", "twap_window_minutes": 10, "children": 5, "reprice_after_minutes": 1}


class OrderPostRecorder:
    """ASGI middleware in front of the paper broker: the client_order_id of every ``POST /v2/orders`` that
    reaches it, accepted or refused (a resend would show up twice here even if the broker refused it)."""

    def __init__(self, app) -> None:  # noqa: ANN001 - an ASGI app
        self.app = app
        self.client_order_ids: list[str | None] = []

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001 - ASGI signature
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/v2/orders":
            await self.app(scope, receive, send)
            return
        messages, body = [], b""
        while True:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        self.client_order_ids.append(json.loads(body).get("client_order_id"))

        async def replay() -> dict:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


@pytest.fixture
def sliced(tmp_path: Path):  # noqa: ANN201 - a builder
    """Builds the harness with the slicing config (and, on request, a recorder of every order POST in front
    of the paper broker); stops the brokers afterwards."""
    brokers: list[PaperBroker] = []

    def build(recorder: bool = False, start: datetime | None = None, **overrides: object) -> Harness:
        slicing = {**SLICING, **overrides.pop("slicing", {})}
        broker = PaperBroker(
            ServerConfig(
                accounts=drifted_60_40(),
                clock=ClockConfig(start=start or OPEN.date()),
                database=tmp_path / "broker.sqlite",
                faults=FaultConfig(rate_limit_per_minute=None),
            )
        )
        if recorder:
            broker.recorder = OrderPostRecorder(broker.app)
            broker.app = broker.recorder
        brokers.append(broker.start())
        config = bot_config(broker.url, tmp_path / "state", execution={"slicing": slicing}, **overrides)
        adapter = AlpacaBroker(KEY, SECRET, trading_url=broker.url)
        store = StateStore(tmp_path / "state" / "bot.sqlite")
        return Harness(
            broker, Bot(config, {"main": adapter}, store, clock=BrokerTime(broker)), store, adapter
        )

    yield build
    for broker in brokers:
        broker.stop()


def run_until_done(harness: Harness, limit: datetime) -> None:
    while harness.broker.now < limit:
        harness.bot.tick()
        plans = harness.store.plans(account="main")
        if plans and all(p.status == "done" for p in plans):
            return
        harness.broker.advance(minutes=1)
    raise AssertionError(f"plan not done by {limit}: {[(p.plan_id, p.status) for p in plans]}")


def bot_orders(harness: Harness) -> list:
    return sorted(
        (
            o
            for o in harness.broker.engine.orders.values()
            if not o.client_order_id.startswith("starting-lot")
        ),
        key=lambda o: o.sequence,
    )


def parents_of(harness: Harness, plan_id: str) -> dict:
    return {p.symbol: p for p in harness.store.exec_parents(plan_id=plan_id)}


def check_within_approved(harness: Harness, plan_id: str) -> None:
    """Every child derives its id from its parent, and the parent's children never exceed what it approved."""
    broker_orders = {o.client_order_id: o for o in bot_orders(harness)}
    for parent in harness.store.exec_parents(plan_id=plan_id):
        children = [o for cid, o in broker_orders.items() if cid.startswith(parent.parent_id + "-c")]
        filled = sum((o.filled_qty for o in children), Decimal(0))
        if parent.qty is not None:
            assert filled <= parent.qty, (parent, filled)
        else:
            spent = sum((o.filled_value for o in children), Decimal(0))
            assert spent <= parent.notional, (parent, spent)
        for child in harness.store.exec_children(parent.parent_id):
            if child.order is not None:
                assert child.client_order_id == f"{parent.parent_id}-c{child.k}"
                at_broker = broker_orders.get(child.client_order_id)
                if at_broker is not None:  # the bot's record agrees with the broker's
                    assert (child.order.status, child.order.filled_qty) == (
                        at_broker.status,
                        at_broker.filled_qty,
                    )


# -- sequencing ----------------------------------------------------------------------------------------------
def test_sliced_sells_go_first_and_buys_take_only_the_cash_the_sells_freed(sliced):
    harness = sliced()
    run_until_done(harness, OPEN + timedelta(hours=2))
    [plan] = harness.store.plans(account="main")
    parents = parents_of(harness, plan.plan_id)
    assert {s: (p.side, p.policy, p.status) for s, p in parents.items()} == {
        "SPY": ("sell", "twap", "filled"),
        "AGG": ("buy", "twap", "filled"),
    }
    orders = bot_orders(harness)
    assert orders[0].side == "sell" and orders[0].client_order_id == parents["SPY"].parent_id + "-c1"
    first_buy = min(o.submitted_at for o in orders if o.side == "buy")
    assert min(o.submitted_at for o in orders if o.side == "sell") <= first_buy
    assert (
        len([o for o in orders if o.side == "sell"]) >= 5 and len([o for o in orders if o.side == "buy"]) >= 5
    )
    # buys waited for the cash the sells freed: the broker never refused one for buying power
    assert {o.status for o in orders} == {"filled"}
    assert harness.store.audit_trail(event="order_rejected") == []
    check_within_approved(harness, plan.plan_id)
    spy_sold = sum(o.filled_qty for o in orders if o.symbol == "SPY")
    assert spy_sold == parents["SPY"].qty
    weights = harness.weights()
    assert abs(weights["SPY"] - Decimal("0.6")) < Decimal("0.01") and abs(
        weights["AGG"] - Decimal("0.4")
    ) < Decimal("0.01")
    reports = {r.symbol: r for r in harness.store.execution_reports(plan_id=plan.plan_id)}
    assert set(reports) == {"SPY", "AGG"} and all(r.shortfall_bp is not None for r in reports.values())
    assert all(0 < (r.participation or 0) < Decimal("0.1") for r in reports.values())
    assert max(r.max_child_participation for r in reports.values()) <= 0.1


def test_no_child_is_sent_while_an_opposite_order_is_open_on_its_symbol(sliced):
    harness = sliced()
    harness.run_until(FIRST_CYCLE + 2 * MINUTE, step=MINUTE)  # the schedule is under way, AGG buys included
    stranger = harness.adapter.submit(
        OrderIntent("someone-else-1", "AGG", "sell", qty=Decimal(1), type="limit", limit_price=Decimal(200))
    )
    opened = harness.broker.now
    harness.run_until(opened + 8 * MINUTE, step=MINUTE)
    harness.adapter.cancel(stranger.id)
    closed = harness.broker.now
    run_until_done(harness, OPEN + timedelta(hours=2))
    agg_buys = [o for o in bot_orders(harness) if o.symbol == "AGG" and o.side == "buy"]
    assert [o for o in agg_buys if opened <= o.submitted_at < closed] == []  # waited...
    assert any(o.submitted_at >= closed for o in agg_buys)  # ...then carried on
    assert [
        o for o in bot_orders(harness) if o.status == "rejected"
    ] == []  # Alpaca would refuse a wash trade
    [plan] = harness.store.plans(account="main")
    assert parents_of(harness, plan.plan_id)["AGG"].status == "filled"
    check_within_approved(harness, plan.plan_id)


# -- partial fills, deadline, rejection ---------------------------------------------------------------------
def test_partial_fills_are_repriced_and_the_totals_stay_within_the_approved_amounts(sliced):
    harness = sliced()
    normal = harness.broker.engine.matching
    harness.broker.engine.matching = MatchingConfig(max_minute_participation=0.00003)  # ~4 SPY a minute
    harness.run_until(FIRST_CYCLE + 12 * MINUTE, step=MINUTE)
    harness.broker.engine.matching = normal
    run_until_done(harness, OPEN + timedelta(hours=3))
    [plan] = harness.store.plans(account="main")
    spy = parents_of(harness, plan.plan_id)["SPY"]
    children = harness.store.exec_children(spy.parent_id)
    partial = [c for c in children if c.order and c.order.status == "canceled" and c.order.filled_qty]
    assert partial, "a slow market should leave a child partly filled, then canceled to re-price"
    assert all(c.status == "repriced" for c in partial)
    assert any(c.kind == "reprice" for c in children)
    sold = sum((c.order.filled_qty for c in children if c.order), Decimal(0))
    assert sold == spy.qty and spy.status == "filled"
    check_within_approved(harness, plan.plan_id)
    # the daily limit counts what the children traded, a re-priced child's rest once (not once per child)
    traded = sum((o.filled_value for o in bot_orders(harness)), Decimal(0))
    assert abs(harness.store.submitted_notional_on("main", FIRST_CYCLE.date()) - traded) < 1


def test_at_the_deadline_what_is_left_is_canceled_and_the_next_cycle_plans_it_again(sliced):
    late = datetime(2019, 12, 17, 20, 0, tzinfo=UTC)  # 15:00 New York; deadline 15:15, close 16:00
    harness = sliced(
        start=late,
        slicing={"participation_cap": 0.0002, "deadline_minutes_before_close": 45},
        schedule={"stop_before_close_minutes": 45},
    )
    deadline = datetime(2019, 12, 17, 20, 15, tzinfo=UTC)
    harness.run_until(deadline + 5 * MINUTE, step=MINUTE)
    [first] = harness.store.plans(account="main")
    assert first.status == "done"
    # 0.02% of AGG's volume (~2 shares a minute) cannot buy ~$28,700 of it in 15 minutes
    agg = parents_of(harness, first.plan_id)["AGG"]
    assert agg.status == "expired" and "deadline" in agg.status_reason
    children = [o for o in bot_orders(harness) if o.client_order_id.startswith(agg.parent_id)]
    assert children and all(o.submitted_at < deadline for o in children)
    assert all(not o.is_open for o in children)  # canceled at the deadline, not left to expire at the close
    bought = sum((o.filled_value for o in children), Decimal(0))
    assert 0 < bought < agg.notional
    [report] = [r for r in harness.store.execution_reports(plan_id=first.plan_id) if r.symbol == "AGG"]
    assert report.status == "expired" and 0 < report.fill_ratio < 0.5
    check_within_approved(harness, first.plan_id)
    # the next session's first cycle plans what is still off target
    harness.run_until(datetime(2019, 12, 18, 14, 50, tzinfo=UTC), step=timedelta(minutes=5))
    second = next(p for p in harness.store.plans(account="main") if p.plan_id != first.plan_id)
    again = next(o for o in second.details["orders"] if o["symbol"] == "AGG")
    assert again["side"] == "buy" and Decimal(again["est_notional"]) < agg.notional - bought / 2


def test_a_rejected_child_is_recorded_and_the_schedule_carries_on(sliced):
    harness = sliced()
    engine = harness.broker.engine
    account = next(iter(engine.accounts.values()))
    harness.run_until(FIRST_CYCLE + 2 * MINUTE, step=MINUTE)
    engine.update_settings(account, {"suspend_trade": True})  # the broker refuses every order (403)
    harness.run_until(FIRST_CYCLE + 3 * MINUTE, step=MINUTE)
    engine.update_settings(account, {"suspend_trade": False})
    run_until_done(harness, OPEN + timedelta(hours=2))
    [plan] = harness.store.plans(account="main")
    rejected = [r for r in harness.store.orders(plan_id=plan.plan_id, limit=1000) if r.status == "rejected"]
    assert rejected and all("-c" in r.client_order_id for r in rejected)
    assert {e.client_order_id for e in harness.store.audit_trail(event="order_rejected")} == {
        r.client_order_id for r in rejected
    }
    parents = parents_of(harness, plan.plan_id)
    assert {p.status for p in parents.values()} == {"filled"}
    sold = sum(o.filled_qty for o in bot_orders(harness) if o.symbol == "SPY")
    assert sold == parents["SPY"].qty  # the rejected child's shares went out with the next ones
    check_within_approved(harness, plan.plan_id)


# -- crashes -------------------------------------------------------------------------------------------------
class Crash(BaseException):
    """The process dying (not an Exception: the worker's per-account error handling must not catch it)."""


def restart(harness: Harness, tmp_path: Path) -> Harness:
    """A new bot on the same state database (the old one is dropped without any shutdown)."""
    config = bot_config(harness.broker.url, tmp_path / "state", execution={"slicing": SLICING})
    adapter = AlpacaBroker(KEY, SECRET, trading_url=harness.broker.url)
    store = StateStore(tmp_path / "state" / "bot.sqlite")
    return Harness(
        harness.broker,
        Bot(config, {"main": adapter}, store, clock=BrokerTime(harness.broker)),
        store,
        adapter,
    )


def check_sent_once(harness: Harness) -> None:
    sent = Counter(harness.broker.recorder.client_order_ids)
    assert sent and {cid: n for cid, n in sent.items() if n > 1} == {}
    assert set(sent) == {o.client_order_id for o in bot_orders(harness)}


def test_a_bot_stopped_mid_schedule_is_replaced_and_finishes_it_without_sending_a_child_twice(
    sliced, tmp_path, monkeypatch
):
    harness = sliced(recorder=True)
    harness.run_until(FIRST_CYCLE + 3 * MINUTE, step=MINUTE)
    # the next child dies between its write-ahead intent and its submit
    submit = PlanExecutor._submit

    def dying(self, intent, resumed):  # noqa: ANN001, ANN202
        if "-c" in intent.client_order_id:
            raise Crash(intent.client_order_id)
        return submit(self, intent, resumed)

    monkeypatch.setattr(PlanExecutor, "_submit", dying)
    with pytest.raises(Crash) as died:
        harness.run_until(FIRST_CYCLE + 20 * MINUTE, step=MINUTE)
    orphan = str(died.value)
    assert harness.store.get_order(orphan).is_intent
    monkeypatch.setattr(PlanExecutor, "_submit", submit)
    harness.broker.advance(minutes=2)
    harness = restart(harness, tmp_path)
    run_until_done(harness, OPEN + timedelta(hours=2))
    check_sent_once(harness)
    assert harness.broker.recorder.client_order_ids.count(orphan) == 1  # looked up, then sent once
    [plan] = harness.store.plans(account="main")
    assert {p.status for p in harness.store.exec_parents(plan_id=plan.plan_id)} == {"filled"}
    check_within_approved(harness, plan.plan_id)


def test_a_bot_killed_with_sigkill_mid_schedule_restarts_and_sends_no_child_twice(sliced, tmp_path):
    harness = sliced(recorder=True)
    state = tmp_path / "state"
    events = tmp_path / "events.log"
    command = [
        sys.executable, "-m", "tests.bot.slicing_child", "--url", harness.broker.url,
        "--state-dir", str(state), "--events", str(events),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    killed = subprocess.run(
        [*command, "--kill-at", "submit#5", "--phase", "after"], cwd=ROOT, env=env, timeout=120
    )
    assert killed.returncode == -9, events.read_text()
    assert events.read_text().splitlines()[-1] == "KILL submit#5 after"
    restarted = subprocess.run(command, cwd=ROOT, env=env, timeout=120, capture_output=True, text=True)
    assert restarted.returncode == 0, (restarted.stdout[-3000:], restarted.stderr[-3000:])
    check_sent_once(harness)
    with StateStore(state / "bot.sqlite") as store:
        [plan] = store.plans(account="main", status="done")
        harness = Harness(harness.broker, harness.bot, store, harness.adapter)
        assert {p.status for p in store.exec_parents(plan_id=plan.plan_id)} == {"filled"}
        assert len(store.orders(plan_id=plan.plan_id, limit=1000)) >= 10  # children of both parents
        check_within_approved(harness, plan.plan_id)


def test_history_shows_each_orders_execution_report(sliced):
    from rich.console import Console

    harness = sliced()
    run_until_done(harness, OPEN + timedelta(hours=2))
    console = Console(record=True, width=250)
    print_history(harness.store, console=console)
    text = console.export_text()
    assert "twap, " in text and "children" in text and "shortfall" in text
    [plan] = harness.store.plans(account="main")
    for report in harness.store.execution_reports(plan_id=plan.plan_id):
        assert f"{report.shortfall_bp:+.2f}" in text
