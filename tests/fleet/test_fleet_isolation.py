"""Fleet mode on a real PostgreSQL server and the paper broker: households are visited independently.

One household whose keys are missing on the workers fails on every visit; the others are planned, started
and finished all the same, on a LocalCluster of two worker processes (the same code a multi-machine scheduler
runs), and the failure is on the broken household's row for ``fleet --once`` and the log to show.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from bot.fleet.runner import Fleet, due_households, local_client
from bot.fleet.tables import household_rows
from bot.paper_broker.faults import FaultConfig
from bot.paper_broker.server import ClockConfig, PaperBroker, ServerConfig
from tests.fleet.common import broker_accounts, fleet, set_keys

pytestmark = pytest.mark.slow  # Slow tier: a PostgreSQL server, a paper broker and a two-process Dask cluster

START = datetime(2019, 12, 17, 14, 50, tzinfo=UTC)
"""Twenty minutes after the open: the first cycle of the day is due."""
GOOD = ["alpha", "bravo", "charlie"]
BROKEN = "delta"


@pytest.fixture
def broker(tmp_path):
    paper = PaperBroker(
        ServerConfig(
            accounts=broker_accounts([*GOOD, BROKEN]),
            clock=ClockConfig(start=START, mode="manual"),
            database=tmp_path / "broker.sqlite",
            faults=FaultConfig(rate_limit_per_minute=None),
        )
    ).start()
    yield paper
    paper.stop()


def bot_orders(broker: PaperBroker) -> list:
    return [o for o in broker.engine.orders.values() if not o.client_order_id.startswith("starting-lot")]


def test_a_failing_household_blocks_none_of_the_others(broker, postgres, monkeypatch):
    keys: dict[str, str] = {}
    set_keys(GOOD, keys)  # none for the broken household: its workers cannot reach its accounts
    for variable, value in keys.items():
        monkeypatch.setenv(variable, value)
    config = fleet([*GOOD, BROKEN], broker.url, postgres.database())
    client = local_client(2)
    runner = Fleet(config, client)
    try:
        assert sorted(due_households(config, runner.store, runner.clock())) == sorted([*GOOD, BROKEN])
        first = {v.household: v for v in runner.run_pass()}
        assert set(first) == {*GOOD, BROKEN}
        assert first[BROKEN].failed and "FLEET_DELTA_TAXABLE_KEY" in (first[BROKEN].error or "")
        for name in GOOD:
            assert not first[name].failed, first[name]
            assert first[name].plan_id, first[name]
        assert len({v.worker for v in first.values()}) == 2  # both worker processes took households

        for _ in range(30):  # the plans execute on the following passes while simulated time moves on
            broker.advance(minutes=1)
            runner.run_pass()
        plans = {name: runner.store.get_plan(first[name].plan_id) for name in GOOD}
        assert {name: p.status for name, p in plans.items()} == dict.fromkeys(GOOD, "done")
        ids = Counter(o.client_order_id for o in bot_orders(broker))
        assert ids and all(n == 1 for n in ids.values()), ids

        rows = household_rows(runner.store.db)
        assert rows[BROKEN].error and rows[BROKEN].action == "error"
        assert all(rows[name].error is None for name in GOOD)
        assert all(rows[name].last_cycle_at is not None for name in GOOD)
    finally:
        runner.close()
        client.close()
        client.cluster.close()
