"""The fleet's crash test: a Dask worker SIGKILLed mid-plan or mid-execution, 0 duplicate orders fleet-wide.

Four households (``tests/fleet/common.py``) on a real PostgreSQL server and the paper broker, planned by a
LocalCluster of two worker processes. A worker plugin (``crash_plugin.py``) installs the single bot's kill
switch (``tests/bot/crash_child.py``) in each worker process: the first process to reach the chosen watched
call (its k-th plan save, submit, order lookup, state write) SIGKILLs itself, before or after the call. Dask's
nanny starts a fresh worker and the scheduler sends the lost task again; the passes go on until every
household's plan is done and no plan is left unfinished. Then, as for the single bot:

1. no client_order_id was ever POSTed twice, across the whole fleet (counted at the broker's HTTP door by the
   single bot's crash test's recorder, so refused duplicates count too);
2. every order at the broker is in the shared state with its broker id and final status, and no open order
   was unknown to a restarted worker;
3. each household has exactly one done plan; any other plan it has was superseded without an order.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.fleet.runner import Fleet, local_client
from bot.household.record import child_plan_id
from bot.paper_broker.faults import FaultConfig
from bot.paper_broker.server import ClockConfig, PaperBroker, ServerConfig
from bot.state.store import StateStore
from tests.bot.test_crash_recovery import OrderPostRecorder
from tests.fleet.common import broker_accounts, fleet, set_keys
from tests.fleet.crash_plugin import KillOnce

pytestmark = pytest.mark.slow  # Slow tier: a PostgreSQL server, a paper broker and a Dask cluster per case

START = datetime(2019, 12, 17, 14, 50, tzinfo=UTC)
HOUSEHOLDS = ["h1", "h2", "h3", "h4"]
MAX_PASSES = 40
KILL_POINTS = [
    # mid-plan: the plan is stored, the worker dies before the gate (the restart supersedes and replans)
    ("save_plan#1", "after"),
    ("save_plan#2", "before"),
    # the household plan started: its child plans saved, or its first intent written
    ("set_plan_status#1", "after"),
    ("record_order#1", "after"),
    # mid-execution: around a submit, and an order lookup while the orders fill
    ("submit#2", "before"),
    ("submit#2", "after"),
    ("submit#5", "after"),
    ("update_order#3", "before"),
    ("order_by_client_id#1", "after"),
]


@pytest.fixture
def broker(tmp_path):
    paper = PaperBroker(
        ServerConfig(
            accounts=broker_accounts(HOUSEHOLDS),
            clock=ClockConfig(start=START, mode="manual"),
            database=tmp_path / "broker.sqlite",
            faults=FaultConfig(rate_limit_per_minute=None),
        )
    )
    recorder = OrderPostRecorder(paper.app)
    paper.app = recorder
    paper.start()
    yield paper, recorder
    paper.stop()


@pytest.mark.parametrize("kill_at, phase", KILL_POINTS, ids=[f"{k}-{p}" for k, p in KILL_POINTS])
def test_a_worker_killed_mid_plan_or_mid_execution_sends_nothing_twice(
    tmp_path: Path, broker, postgres, monkeypatch, kill_at: str, phase: str
):
    paper, recorder = broker
    keys: dict[str, str] = {}
    set_keys(HOUSEHOLDS, keys)
    for variable, value in keys.items():
        monkeypatch.setenv(variable, value)
    state_url = postgres.database()
    config = fleet(HOUSEHOLDS, paper.url, state_url)
    events, marker = tmp_path / "events.log", tmp_path / "killed"
    client = local_client(2)
    client.register_plugin(KillOnce(str(events), kill_at, phase, str(marker)))
    runner = Fleet(config, client)
    try:
        for _ in range(MAX_PASSES):
            runner.run_pass()
            if settled(runner.store, HOUSEHOLDS):
                break
            paper.advance(minutes=1)
        lines = events.read_text().splitlines()
        why = " | ".join(lines[-40:])
        assert f"KILL {kill_at} {phase}" in lines, why
        assert settled(runner.store, HOUSEHOLDS), why
        check_outcome(paper, recorder, runner.store, why)
    finally:
        runner.close()
        client.close()
        client.cluster.close()


def settled(store: StateStore, households: list[str]) -> bool:
    for name in households:
        if not store.plans(account=name, status="done", limit=1):
            return False
        if store.unfinished_plans(name) or any(store.unfinished_plans(f"{name}-{m}") for m in MEMBERS):
            return False
    return True


MEMBERS = ("taxable", "ira", "roth")


def check_outcome(paper: PaperBroker, recorder: OrderPostRecorder, store: StateStore, why: str) -> None:
    sent = Counter(recorder.client_order_ids)
    assert sent, why
    assert {cid: n for cid, n in sent.items() if n > 1} == {}, why
    at_broker = {
        o.client_order_id: o
        for o in paper.engine.orders.values()
        if not o.client_order_id.startswith("starting-lot-")
    }
    assert set(sent) == set(at_broker), why
    records = {r.client_order_id: r for r in store.orders(limit=10_000)}
    assert set(at_broker) <= set(records), why
    assert store.audit_trail(event="unknown_open_order") == [], why
    for cid, order in at_broker.items():
        record = records[cid]
        assert (record.broker_id, record.status, record.filled_qty) == (
            order.id,
            order.status,
            order.filled_qty,
        ), (record, order, why)
    for name in HOUSEHOLDS:
        plans = store.plans(account=name)
        done = [p for p in plans if p.status == "done"]
        assert len(done) == 1, ([(p.plan_id, p.status, p.status_reason) for p in plans], why)
        for other in plans:
            if other is not done[0]:
                assert other.status == "superseded", (other, why)
                mine = {other.plan_id, *(child_plan_id(other.plan_id, f"{name}-{m}") for m in MEMBERS)}
                assert not [o for o in records.values() if o.plan_id in mine], why
