"""Volume statistics from bars, shortfall arithmetic, and the slicing tables of the state database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from bot.backtest.costs import CostModel
from bot.broker.models import BarState
from bot.slicing.report import (
    average_price,
    execution_costs,
    plan_shortfall_bp,
    realised_cost_model,
    shortfall_bp,
)
from bot.slicing.volume import adv_from_bars, minute_profile, robust_volume, session_minute
from bot.state.migrate import head
from bot.state.store import (
    ExecChildRecord,
    ExecParentRecord,
    ExecutionReportRecord,
    StateError,
    StateStore,
)

OPEN = datetime(2019, 12, 17, 14, 30, tzinfo=UTC)  # 09:30 New York


def bar(t: datetime, volume: int, close: str = "100") -> BarState:
    return BarState("SPY", t, D(close), D(close), D(close), D(close), D(volume))


def test_adv_leaves_out_todays_running_bar():
    days = [bar(datetime(2019, 12, d, 5, 0, tzinfo=UTC), v) for d, v in ((12, 100), (13, 200), (16, 300))]
    today = bar(datetime(2019, 12, 17, 5, 0, tzinfo=UTC), 5)
    assert adv_from_bars([*days, today], OPEN.date()) == 200
    assert adv_from_bars([*days, today], OPEN.date(), sessions=2) == 250
    assert adv_from_bars([today], OPEN.date()) is None


def test_the_minute_profile_averages_the_same_minute_of_recent_sessions():
    minutes = []
    for day, volume in ((13, 100), (16, 300)):
        first = OPEN.replace(day=day)
        minutes += [bar(first, volume), bar(first + timedelta(minutes=389), volume * 2)]
    minutes.append(bar(OPEN, 10_000))  # today: not part of the profile
    assert minute_profile(minutes, OPEN.date()) == {0: 200.0, 389: 400.0}
    assert session_minute(OPEN + timedelta(minutes=389)) == 389


def test_a_block_print_counts_at_most_three_median_minutes():
    window = [bar(OPEN + timedelta(minutes=i), v) for i, v in enumerate((100, 120, 80, 2_000, 90))]
    assert robust_volume(window, OPEN, OPEN + timedelta(minutes=5)) == 100 + 120 + 80 + 300 + 90
    # minutes without trades (no bar, or a bar of no volume) do not drag the median down
    sparse = [window[3], bar(OPEN, 0), bar(OPEN + timedelta(minutes=1), 600)]
    assert robust_volume(sparse, OPEN, OPEN + timedelta(minutes=5)) == 2_600  # median of 600 and 2,000: 1,300
    assert robust_volume([], OPEN, OPEN + timedelta(minutes=5)) == 0


def test_shortfall_is_a_cost_when_positive_for_both_sides():
    assert shortfall_bp("buy", D("100.05"), D(100)) == pytest.approx(5.0)
    assert shortfall_bp("sell", D("99.95"), D(100)) == pytest.approx(5.0)
    assert shortfall_bp("sell", D("100.02"), D(100)) == pytest.approx(-2.0)
    assert shortfall_bp("buy", None, D(100)) is None
    assert average_price([(D(10), D(100)), (D(30), D(104)), (D(0), None)]) == (D(40), D(103))


def parent_record(parent_id: str = "plan-1-0", symbol: str = "SPY") -> ExecParentRecord:
    return ExecParentRecord(
        parent_id=parent_id, plan_id="plan-1", account="main", seq=int(parent_id[-1]), symbol=symbol,
        side="buy", policy="twap", policy_config={"name": "twap"}, policy_reason="test", qty=D(100),
        arrival_mid=D(100), deadline=OPEN + timedelta(hours=6), started_at=OPEN,
    )  # fmt: skip


def report(parent_id: str, symbol: str, bp: float, notional: str) -> ExecutionReportRecord:
    return ExecutionReportRecord(
        parent_id=parent_id, plan_id="plan-1", account="main", symbol=symbol, side="buy", policy="twap",
        arrival_mid=D(100), decision_price=D(100), planned_qty=D(100), planned_notional=None,
        filled_qty=D(100), avg_price=D(100), filled_notional=D(notional), shortfall_bp=bp, participation=0.05,
        max_child_participation=0.1, market_volume=D(2000), children=3, status="filled", started_at=OPEN,
        finished_at=OPEN + timedelta(minutes=30),
    )  # fmt: skip


@pytest.fixture
def store(state_target) -> StateStore:  # noqa: ANN001 - a path or a URL, once per engine
    with StateStore(state_target) as store:
        store.save_plan("plan-1", None, "main", "hash", "executing", "test", {"orders": []}, OPEN)
        yield store


def test_the_schedule_is_stored_with_its_parent_and_the_first_decision_stands(store):
    assert store.schema_version == head()
    children = [(f"plan-1-0-c{k}", k, OPEN + timedelta(minutes=5 * k), D(25)) for k in (1, 2, 3, 4)]
    first = store.start_parent(parent_record(), children)
    again = store.start_parent(ExecParentRecord(**{**parent_record().__dict__, "policy": "single"}), [])
    assert again == first and first.policy == "twap" and not first.is_final
    stored = store.exec_children("plan-1-0")
    assert [(c.k, c.kind, c.status, c.planned_qty, c.order) for c in stored] == [
        (k, "slice", "planned", D(25), None) for k in (1, 2, 3, 4)
    ]


def test_a_child_intent_is_written_with_its_schedule_row_in_one_go(store):
    store.start_parent(parent_record(), [("plan-1-0-c1", 1, OPEN, D(25)), ("plan-1-0-c2", 2, OPEN, D(25))])
    store.set_child_status("plan-1-0-c1", "repricing", "not filled")
    extra = ExecChildRecord(
        "plan-1-0-c3", "plan-1-0", 3, "reprice", OPEN, D(20), "sent", D(900), "re-sent", None
    )
    order = store.record_child_order(
        extra, plan_id="plan-1", account="main", seq=1_000_003, symbol="SPY", side="buy", qty=D(20),
        notional=None, order_type="limit", limit_price=D("100.04"), est_notional=D("2000.80"),
        created_at=OPEN, replaces=("plan-1-0-c1",),
    )  # fmt: skip
    assert order.is_intent and order.limit_price == D("100.04")
    kids = {c.k: c for c in store.exec_children("plan-1-0")}
    assert kids[1].status == "repriced" and kids[2].status == "planned"
    assert kids[3].status == "sent" and kids[3].order == order and kids[3].interval_volume == 900
    assert store.children_recorded("plan-1-0") == 1
    with pytest.raises(StateError):  # an intent is not final: its notional is not settled yet
        store.settle_order_notional("plan-1-0-c3", D(0))
    store.update_order("plan-1-0-c3", status="canceled", filled_qty=D(5), filled_avg_price=D(100))
    store.settle_order_notional("plan-1-0-c3", D(500))
    assert store.get_order("plan-1-0-c3").est_notional == 500
    finished = store.finish_parent("plan-1-0", "expired", "deadline", OPEN + timedelta(hours=6))
    assert finished.is_final and store.finish_parent("plan-1-0", "filled", "", OPEN).status == "expired"


def test_realised_costs_per_symbol_feed_the_backtesters_cost_model(store):
    for i, (symbol, bp, notional) in enumerate(
        (("SPY", 2.0, "1000"), ("SPY", 6.0, "3000"), ("AGG", 1.0, "500"))
    ):
        store.start_parent(parent_record(f"plan-1-{i}", symbol), [])
        store.save_execution_report(report(f"plan-1-{i}", symbol, bp, notional))
    stats = execution_costs(store)
    assert set(stats) == {"AGG", "SPY"}
    spy = stats["SPY"]
    assert (spy.orders, spy.median_bp, spy.weighted_bp) == (2, 4.0, 5.0)  # (2 x 1000 + 6 x 3000) / 4000
    assert spy.effective_spread_bps == 10.0
    assert plan_shortfall_bp(store.execution_reports(plan_id="plan-1")) == pytest.approx(
        (2 * 1000 + 6 * 3000 + 1 * 500) / 4500
    )
    model = realised_cost_model(store, CostModel(spread_bps=3.0))
    assert (
        model.spread_for("SPY") == 10.0 and model.spread_for("AGG") == 2.0 and model.spread_for("VTI") == 3.0
    )
    assert model.impact_coefficient == 0.0
    assert execution_costs(store, min_orders=2).keys() == {"SPY"}


def test_a_database_from_before_slicing_is_upgraded_with_its_data(tmp_path):
    import sqlite3

    from tests.state.legacy import legacy_state_file

    path = legacy_state_file(tmp_path / "bot.sqlite", version=2)  # the schema before order slicing
    raw = sqlite3.connect(path, isolation_level=None)
    stamp = OPEN.isoformat()
    raw.execute(
        "INSERT INTO plans (plan_id, account, content_hash, status, explanation, details, created_at,"
        " updated_at) VALUES ('plan-1', 'main', 'hash', 'executing', 'old', '{\"orders\": []}', ?, ?)",
        (stamp, stamp),
    )
    raw.close()
    with StateStore(path) as store:
        assert store.schema_version == head()
        assert store.get_plan("plan-1").explanation == "old"
        store.start_parent(parent_record(), [("plan-1-0-c1", 1, OPEN, D(5))])
        assert [c.k for c in store.exec_children("plan-1-0")] == [1]
