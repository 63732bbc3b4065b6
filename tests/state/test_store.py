"""The state database: round trips, idempotency, approval hash binding, durability and concurrent use."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bot.state.migrate import ALEMBIC_USER_VERSION, head
from bot.state.store import (
    ApprovalError,
    InvalidTransition,
    StateError,
    StateStore,
    UnknownRecord,
)

T0 = datetime(2020, 3, 2, 15, 0, tzinfo=UTC)
HASH = "a" * 64
OTHER_HASH = "b" * 64
DETAILS = {
    "orders": [
        {"seq": 0, "symbol": "SPY", "side": "sell", "qty": "3", "notional": None, "est_notional": "900.00"},
        {
            "seq": 1,
            "symbol": "AGG",
            "side": "buy",
            "qty": None,
            "notional": "850.25",
            "est_notional": "850.25",
        },
    ],
    "trigger": {"name": "bands", "fired": True, "reason": "SPY +6.1pp", "assets": []},
    "gross_notional": "1750.25",
}


def add_plan(
    store: StateStore,
    plan_id: str = "p1",
    status: str = "planned",
    account: str = "taxable",
    content_hash: str = HASH,
    created_at: datetime = T0,
) -> None:
    store.save_plan(plan_id, "run-1", account, content_hash, status, f"plan {plan_id}", DETAILS, created_at)


def add_order(store: StateStore, cid: str = "p1-0", plan_id: str = "p1", seq: int = 0, **kw) -> None:
    args = dict(
        account="taxable",
        symbol="SPY",
        side="sell",
        qty=Decimal("3"),
        notional=None,
        order_type="market",
        limit_price=None,
        est_notional=Decimal("900.00"),
    )
    args.update(kw)
    store.record_order(
        cid,
        plan_id,
        args.pop("account"),
        seq,
        args.pop("symbol"),
        args.pop("side"),
        args.pop("qty"),
        args.pop("notional"),
        args.pop("order_type"),
        args.pop("limit_price"),
        **args,
    )


# -- the file ------------------------------------------------------------------------------------------------


def test_a_sqlite_file_opens_in_wal_mode_with_full_sync_and_foreign_keys(tmp_path: Path) -> None:
    with StateStore(tmp_path / "bot.sqlite") as store:
        assert store.pragma("journal_mode") == "wal"
        assert store.pragma("synchronous") == 2  # FULL
        assert store.pragma("foreign_keys") == 1
        assert store.schema_version == head()
        assert store.pragma("user_version") == ALEMBIC_USER_VERSION  # a bot from before Alembic refuses it


def test_refuses_a_database_from_a_newer_bot(new_state_target: Path | str) -> None:
    with StateStore(new_state_target) as store, store.db.write() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'f00d'")  # a revision this bot lacks
    with pytest.raises(StateError, match="revision f00d, newer than this bot's"):
        StateStore(new_state_target)


def test_refuses_a_sqlite_file_marked_by_a_newer_bot(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite"
    StateStore(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {ALEMBIC_USER_VERSION + 1}")
    with pytest.raises(StateError, match="newer"):
        StateStore(path)


def test_reopening_keeps_everything_and_does_not_migrate_again(state_target: Path | str) -> None:
    path = state_target
    with StateStore(path) as first:
        run_id = first.start_run("run", "cfg")
        add_plan(first)
        add_order(first)
        first.set_flag("halted", "by test")
    with StateStore(path) as second:
        assert second.last_run().run_id == run_id
        assert second.get_plan("p1").details == DETAILS
        assert second.get_order("p1-0").status == "intent"
        assert second.get_flag("halted") == "by test"


def test_a_committed_intent_survives_the_writer_being_killed(state_target: Path | str) -> None:
    """The write-ahead record is durable once record_order returns, even if the process dies right after."""
    path = state_target
    script = f"""
import os, signal
from datetime import datetime, UTC
from decimal import Decimal
from bot.state.store import StateStore
store = StateStore({str(path)!r})
store.save_plan("p1", "r", "taxable", {HASH!r}, "executing", "x", {{"orders": []}}, datetime.now(UTC))
store.record_order("p1-0", "p1", "taxable", 0, "SPY", "sell", Decimal("3"), None, "market", None,
                   est_notional=Decimal("900"))
os.kill(os.getpid(), signal.SIGKILL)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2], timeout=60
    )
    assert result.returncode == -9
    with StateStore(path) as reopened:
        assert [p.plan_id for p in reopened.unfinished_plans("taxable")] == ["p1"]
        assert [o.client_order_id for o in reopened.orders(account="taxable", open_only=True)] == ["p1-0"]


def test_in_memory_scratch_store_works() -> None:
    with StateStore(None) as scratch:
        add_plan(scratch)
        assert scratch.get_plan("p1") is not None


# -- runs ----------------------------------------------------------------------------------------------------


def test_run_ids_sort_in_start_order_and_runs_round_trip(store: StateStore) -> None:
    ids = [store.start_run("run", "cfg") for _ in range(5)]
    assert ids == sorted(ids) and len(set(ids)) == 5
    store.finish_run(ids[-1], "stopped", {"signal": "SIGTERM", "n": Decimal("1.5")})
    last = store.last_run()
    assert last.run_id == ids[-1]
    assert (last.status, last.summary, last.kind, last.config_hash) == (
        "stopped",
        {"signal": "SIGTERM", "n": "1.5"},
        "run",
        "cfg",
    )
    assert last.started_at.tzinfo is not None and last.finished_at is not None
    assert [r.run_id for r in store.runs(3)] == ids[::-1][:3]


def test_a_run_left_running_is_marked_interrupted_when_the_next_starts(store: StateStore) -> None:
    crashed = store.start_run("run", "cfg")
    store.start_run("run", "cfg")
    assert store.get_run(crashed).status == "interrupted"


def test_finishing_an_unknown_run_raises(store: StateStore) -> None:
    with pytest.raises(UnknownRecord):
        store.finish_run("nope", "stopped", {})


def test_no_runs_yet(store: StateStore) -> None:
    assert store.last_run() is None and store.runs(5) == []


# -- plans ---------------------------------------------------------------------------------------------------


def test_plan_round_trip(store: StateStore) -> None:
    add_plan(store)
    plan = store.get_plan("p1")
    assert (plan.plan_id, plan.run_id, plan.account, plan.content_hash, plan.status) == (
        "p1",
        "run-1",
        "taxable",
        HASH,
        "planned",
    )
    assert plan.explanation == "plan p1"
    assert plan.details == DETAILS
    assert plan.created_at == T0 and plan.created_at.tzinfo is not None
    assert store.get_plan("missing") is None


def test_saving_a_plan_again_is_a_no_op_but_different_content_is_refused(store: StateStore) -> None:
    add_plan(store)
    add_plan(store)
    with pytest.raises(StateError):
        add_plan(store, content_hash=OTHER_HASH)
    with pytest.raises(ValueError):
        add_plan(store, "p2", status="bogus")


def test_plans_filter_and_newest_first(store: StateStore) -> None:
    add_plan(store, "p1", created_at=T0)
    add_plan(store, "p2", created_at=T0 + timedelta(minutes=5))
    add_plan(store, "p3", account="ira", created_at=T0 + timedelta(minutes=10))
    store.set_plan_status("p1", "refused", "too big")
    assert [p.plan_id for p in store.plans()] == ["p3", "p2", "p1"]
    assert [p.plan_id for p in store.plans(account="taxable")] == ["p2", "p1"]
    assert [p.plan_id for p in store.plans(status="refused")] == ["p1"]
    assert [p.plan_id for p in store.plans(status=("planned", "refused"), limit=2)] == ["p3", "p2"]
    assert store.get_plan("p1").status_reason == "too big"


def test_text_sorts_in_byte_order_on_both_engines(store: StateStore) -> None:
    """Ids sort as SQLite compares text, whatever the PostgreSQL database's collation (its default here puts
    "a" before "B")."""
    for plan_id in ("p-a", "p-B", "p-_", "p-1"):
        add_plan(store, plan_id)
    assert [p.plan_id for p in store.unfinished_plans("taxable")] == ["p-1", "p-B", "p-_", "p-a"]


def test_unfinished_plans_are_what_a_restart_resumes(store: StateStore) -> None:
    for n in range(5):
        add_plan(store, f"p{n}", created_at=T0 + timedelta(minutes=n))
    store.set_plan_status("p2", "executing")
    store.set_plan_status("p3", "executing")
    store.set_plan_status("p3", "done")
    store.set_plan_status("p1", "held")
    add_plan(store, "ira-1", account="ira")
    assert [p.plan_id for p in store.unfinished_plans("taxable")] == ["p0", "p2", "p4"]


def test_plan_status_transitions(store: StateStore) -> None:
    add_plan(store)
    store.set_plan_status("p1", "executing")
    store.set_plan_status("p1", "executing", "again: only the reason changes")
    with pytest.raises(InvalidTransition):
        store.set_plan_status("p1", "held")
    done = store.set_plan_status("p1", "done", "2 of 2 filled")
    assert (done.status, done.status_reason) == ("done", "2 of 2 filled")
    for status in ("executing", "planned", "failed"):
        with pytest.raises(InvalidTransition):
            store.set_plan_status("p1", status)
    with pytest.raises(UnknownRecord):
        store.set_plan_status("nope", "done")
    with pytest.raises(ValueError):
        store.set_plan_status("p1", "finished")


def test_compare_and_set_on_plan_status(store: StateStore) -> None:
    add_plan(store)
    store.set_plan_status("p1", "held")
    with pytest.raises(InvalidTransition):
        store.set_plan_status("p1", "expired", expected="planned")
    assert store.set_plan_status("p1", "expired", expected=("held", "planned")).status == "expired"


# -- orders --------------------------------------------------------------------------------------------------


def test_order_round_trip_keeps_decimals_exact(store: StateStore) -> None:
    add_plan(store)
    add_order(store, qty=Decimal("0.123456789"), est_notional=Decimal("12.3400"))
    add_order(
        store,
        "p1-1",
        seq=1,
        symbol="AGG",
        side="buy",
        qty=None,
        notional=Decimal("850.25"),
        order_type="limit",
        limit_price=Decimal("110.01"),
        est_notional=Decimal("850.25"),
    )
    sell, buy = store.orders(plan_id="p1")
    assert sell.qty == Decimal("0.123456789") and sell.notional is None
    assert sell.est_notional == Decimal("12.3400") and str(sell.est_notional) == "12.3400"
    assert (sell.status, sell.broker_id, sell.filled_qty, sell.submitted_at) == ("intent", None, None, None)
    assert sell.is_intent and not sell.is_final
    assert (buy.notional, buy.limit_price, buy.order_type, buy.seq) == (
        Decimal("850.25"),
        Decimal("110.01"),
        "limit",
        1,
    )


def test_recording_an_order_twice_is_idempotent_but_a_different_one_is_refused(store: StateStore) -> None:
    add_plan(store)
    add_order(store)
    store.update_order("p1-0", broker_id="b-1", status="new", submitted_at=T0)
    again = store.record_order(
        "p1-0",
        "p1",
        "taxable",
        0,
        "SPY",
        "sell",
        Decimal("3.0"),
        None,
        "market",
        None,
        est_notional=Decimal("900"),
    )
    assert (again.status, again.broker_id) == ("new", "b-1")  # the stored row, not reset
    with pytest.raises(StateError):
        add_order(store, qty=Decimal("4"))
    with pytest.raises(StateError):
        add_order(store, "p1-other", seq=0)  # same plan position under another id
    with pytest.raises(StateError):
        add_order(store, "ghost-0", plan_id="ghost")  # no such plan: foreign key
    with pytest.raises(ValueError):
        add_order(store, "p1-9", seq=9, side="short")


def test_update_order_changes_only_what_is_given(store: StateStore) -> None:
    add_plan(store)
    add_order(store)
    store.update_order("p1-0", broker_id="b-1", status="new", submitted_at=T0)
    store.update_order(
        "p1-0", status="partially_filled", filled_qty=Decimal("1"), filled_avg_price=Decimal("300.10")
    )
    record = store.get_order("p1-0")
    assert (
        record.broker_id,
        record.status,
        record.filled_qty,
        record.filled_avg_price,
        record.submitted_at,
    ) == ("b-1", "partially_filled", Decimal("1"), Decimal("300.10"), T0)
    assert store.get_order_by_broker_id("b-1").client_order_id == "p1-0"
    with pytest.raises(UnknownRecord):
        store.update_order("nope", status="new")


def test_a_final_order_is_never_reopened_by_a_stale_report(store: StateStore) -> None:
    add_plan(store)
    add_order(store)
    store.update_order("p1-0", status="filled", filled_qty=Decimal("3"), final_at=T0 + timedelta(seconds=5))
    store.update_order("p1-0", status="new", filled_qty=Decimal("3"))
    record = store.get_order("p1-0")
    assert record.status == "filled" and record.is_final
    assert record.final_at == T0 + timedelta(seconds=5)


def test_final_at_is_stamped_when_not_given(store: StateStore) -> None:
    add_plan(store)
    add_order(store)
    store.update_order("p1-0", status="canceled")
    assert store.get_order("p1-0").final_at is not None


def test_open_only_lists_intents_and_live_orders(store: StateStore) -> None:
    add_plan(store)
    add_order(store, "p1-0", seq=0)
    add_order(store, "p1-1", seq=1)
    add_order(store, "p1-2", seq=2)
    store.update_order("p1-1", status="new", broker_id="b-1")
    store.update_order("p1-2", status="filled")
    assert [o.client_order_id for o in store.orders(account="taxable", open_only=True)] == ["p1-1", "p1-0"]
    assert [o.client_order_id for o in store.orders(plan_id="p1")] == ["p1-0", "p1-1", "p1-2"]
    assert store.orders(account="ira") == []


def test_submitted_notional_counts_the_day_of_submission(store: StateStore) -> None:
    day = T0.date()
    add_plan(store, "p1", created_at=T0)
    add_order(store, "p1-0", seq=0, est_notional=Decimal("1000.50"))  # submitted today
    add_order(store, "p1-1", seq=1, est_notional=Decimal("200"))  # submitted the day before
    add_order(store, "p1-2", seq=2, est_notional=Decimal("30"))  # outcome unknown: counted, to be safe
    add_order(store, "p1-3", seq=3, est_notional=Decimal("4000"))  # refused before reaching the market
    add_order(store, "p1-4", seq=4, est_notional=Decimal("0"), status="canceled")  # skipped buy
    store.update_order("p1-0", status="filled", submitted_at=T0)
    store.update_order("p1-1", status="filled", submitted_at=T0 - timedelta(days=1))
    store.update_order("p1-3", status="rejected")
    add_plan(store, "ira-1", account="ira")
    add_order(store, "ira-1-0", plan_id="ira-1", account="ira", est_notional=Decimal("777"))
    store.update_order("ira-1-0", status="new", submitted_at=T0)
    assert store.submitted_notional_on("taxable", day) == Decimal("1030.50")
    assert store.submitted_notional_on("taxable", day - timedelta(days=1)) == Decimal("200")
    assert store.submitted_notional_on("taxable", date(2020, 1, 1)) == 0
    assert store.submitted_notional_on("ira", day) == Decimal("777")


# -- fills ---------------------------------------------------------------------------------------------------


def test_fills_are_idempotent_on_activity_id(store: StateStore) -> None:
    add_plan(store)
    add_order(store)
    assert store.record_fill("p1-0", "act-1", Decimal("1"), Decimal("300.01"), T0) is True
    assert store.record_fill("p1-0", "act-1", Decimal("1"), Decimal("300.01"), T0) is False
    assert store.record_fill("p1-0", "act-2", Decimal("2"), Decimal("300.02"), T0 + timedelta(seconds=1))
    fills = store.fills("p1-0")
    assert [(f.activity_id, f.qty, f.price) for f in fills] == [
        ("act-1", Decimal("1"), Decimal("300.01")),
        ("act-2", Decimal("2"), Decimal("300.02")),
    ]
    with pytest.raises(UnknownRecord):
        store.record_fill("nope", "act-3", Decimal("1"), Decimal("1"), T0)


# -- approvals -----------------------------------------------------------------------------------------------


def held_plan(store: StateStore, plan_id: str = "p1", expires_at: datetime | None = T0 + timedelta(hours=1)):
    add_plan(store, plan_id)
    store.set_plan_status(plan_id, "held", "above 5000")
    return store.request_approval(plan_id, HASH, expires_at)


def test_request_and_approve(store: StateStore) -> None:
    requested = held_plan(store)
    assert (requested.status, requested.content_hash, requested.expires_at) == (
        "pending",
        HASH,
        T0 + timedelta(hours=1),
    )
    assert [a.plan_id for a in store.pending_approvals()] == ["p1"]
    decided = store.decide_approval("p1", "approved", "alice", "cli", content_hash=HASH)
    assert (decided.status, decided.decided_by, decided.channel) == ("approved", "alice", "cli")
    assert decided.decided_at is not None
    assert store.get_plan("p1").status == "approved"  # in the same transaction
    assert store.pending_approvals() == []
    store.set_plan_status("p1", "approved", "approved by alice via cli")  # as actions.approve_plan does
    assert [p.plan_id for p in store.unfinished_plans("taxable")] == ["p1"]


def test_an_approval_is_bound_to_the_content_hash(store: StateStore) -> None:
    held_plan(store)
    with pytest.raises(ApprovalError, match="hash"):
        store.decide_approval("p1", "approved", "mallory", "web", content_hash=OTHER_HASH)
    assert store.get_approval("p1").status == "pending"
    assert store.get_plan("p1").status == "held"
    with pytest.raises(ApprovalError, match="hash"):
        store.request_approval("p1", OTHER_HASH, None)


def test_only_a_pending_approval_can_be_decided(store: StateStore) -> None:
    held_plan(store)
    store.decide_approval("p1", "rejected", "bob", "cli", reason="not today", content_hash=HASH)
    assert store.get_plan("p1").status == "rejected"
    assert store.get_approval("p1").reason == "not today"
    with pytest.raises(ApprovalError, match="not pending"):
        store.decide_approval("p1", "approved", "bob", "cli", content_hash=HASH)
    with pytest.raises(ApprovalError):
        store.decide_approval("nope", "approved", "bob", "cli", content_hash=HASH)
    with pytest.raises(ValueError):
        store.decide_approval("p1", "maybe", "bob", "cli", content_hash=HASH)


def test_a_plan_cannot_be_approved_without_a_decision(store: StateStore) -> None:
    held_plan(store)
    with pytest.raises(ApprovalError):
        store.set_plan_status("p1", "approved")
    add_plan(store, "p2")
    with pytest.raises((ApprovalError, InvalidTransition)):
        store.set_plan_status("p2", "approved")


def test_superseding_or_expiring_a_held_plan_closes_its_approval(store: StateStore) -> None:
    held_plan(store, "p1")
    store.set_plan_status("p1", "superseded", "superseded by p2")
    assert store.get_approval("p1").status == "superseded"
    assert store.expire_approval("p1", status="superseded") is False  # already closed: no-op
    with pytest.raises(ApprovalError, match="not pending"):
        store.decide_approval("p1", "approved", "alice", "cli", content_hash=HASH)
    held_plan(store, "p2")
    assert store.expire_approval("p2") is True
    assert store.get_approval("p2").status == "expired"
    assert store.pending_approvals() == []


def test_a_decision_after_expiry_is_refused_when_the_time_is_given(store: StateStore) -> None:
    held_plan(store, expires_at=T0 + timedelta(hours=1))
    with pytest.raises(ApprovalError, match="expired"):
        store.decide_approval(
            "p1", "approved", "alice", "cli", content_hash=HASH, now=T0 + timedelta(hours=2)
        )
    decided = store.decide_approval("p1", "approved", "alice", "cli", content_hash=HASH, now=T0)
    assert decided.decided_at == T0


def test_requesting_again_returns_the_pending_request(store: StateStore) -> None:
    first = held_plan(store)
    assert store.request_approval("p1", HASH, T0) == first
    with pytest.raises(ApprovalError):
        store.request_approval("nope", HASH, T0)


# -- flags and audit -----------------------------------------------------------------------------------------


def test_flags(store: StateStore) -> None:
    assert store.get_flag("halted") is None
    store.set_flag("halted", "manual stop")
    store.set_flag("halted", "still stopped")
    assert store.get_flag("halted") == "still stopped"
    assert store.flags() == {"halted": "still stopped"}
    store.set_flag("halted", None)
    store.set_flag("halted", None)
    assert store.get_flag("halted") is None


def test_audit_trail(store: StateStore) -> None:
    store.audit("halted", who="alice", reason="")
    store.audit(
        "plan_refused",
        run_id="r1",
        account="taxable",
        plan_id="p1",
        reasons=["too big"],
        notional=Decimal("123.45"),
        at_time=T0,
    )
    store.audit(
        "order_rejected", account="taxable", client_order_id="p1-0", error="insufficient buying power"
    )
    trail = store.audit_trail()
    assert [e.event for e in trail] == ["order_rejected", "plan_refused", "halted"]
    refused = store.audit_trail(event="plan_refused")[0]
    assert (refused.run_id, refused.account, refused.plan_id) == ("r1", "taxable", "p1")
    assert refused.fields["reasons"] == ["too big"] and refused.fields["notional"] == "123.45"
    assert datetime.fromisoformat(refused.fields["at_time"]) == T0
    assert store.audit_trail(limit=1)[0].client_order_id == "p1-0"
    assert [e.event for e in store.audit_trail(account="taxable")] == ["order_rejected", "plan_refused"]


# -- concurrency ---------------------------------------------------------------------------------------------


def test_two_threads_share_one_store(store: StateStore) -> None:
    add_plan(store)
    errors: list[BaseException] = []

    def work(side: str, offset: int) -> None:
        try:
            for n in range(100):
                cid = f"p1-{offset + n}"
                add_order(store, cid, seq=offset + n, side=side)
                store.update_order(cid, status="new", submitted_at=T0)
                store.audit("order_submitted", client_order_id=cid)
                assert store.get_order(cid).status == "new"
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=work, args=("sell", 0)),
        threading.Thread(target=work, args=("buy", 1000)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(store.orders(plan_id="p1", limit=1000)) == 200
    assert len(store.audit_trail(limit=1000, event="order_submitted")) == 200
    assert store.submitted_notional_on("taxable", T0.date()) == Decimal("900.00") * 200


def test_two_connections_to_one_file(state_target: Path | str) -> None:
    """The running bot and a CLI command (approve, halt) use the state at the same time."""
    path = state_target
    with StateStore(path) as bot, StateStore(path) as cli:
        add_plan(bot)
        errors: list[BaseException] = []

        def flags() -> None:
            try:
                for n in range(100):
                    cli.set_flag(f"f{n}", str(n))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        thread = threading.Thread(target=flags)
        thread.start()
        for n in range(100):
            add_order(bot, f"p1-{n}", seq=n)
        thread.join(60)
        assert errors == []
        assert len(cli.orders(plan_id="p1", limit=1000)) == 100
        assert len(bot.flags()) == 100


def test_a_read_inside_a_write_on_sqlite_does_not_end_the_write(tmp_path: Path) -> None:
    """SQLite's one connection is shared: a read made while this thread writes must not roll it back."""
    from bot.state.db import insert_row
    from bot.state.schema import flags

    with StateStore(tmp_path / "bot.sqlite") as store:
        with store.db.write() as conn:
            insert_row(conn, flags, {"name": "a", "value": "1", "updated_at": T0})
            assert store.get_flag("a") == "1"
            insert_row(conn, flags, {"name": "b", "value": "2", "updated_at": T0})
        assert store.flags() == {"a": "1", "b": "2"}


def test_writes_inside_one_write_are_one_unit(state_target):
    """Repository writes wrapped in one ``db.write()`` commit together or not at all, and a read inside
    sees what the block wrote (on both engines): a plan is never held without its request after a crash."""
    with StateStore(state_target) as store:
        with pytest.raises(RuntimeError), store.db.write():
            store.set_flag("halted", "checking")
            store.audit("halt_requested", account="main")
            assert store.get_flag("halted") == "checking"
            raise RuntimeError("crash mid-unit")
        assert store.get_flag("halted") is None
        assert store.audit_trail(event="halt_requested") == []
        with store.db.write():
            store.set_flag("halted", "checking")
            store.audit("halt_requested", account="main")
        assert store.get_flag("halted") == "checking"
        assert len(store.audit_trail(event="halt_requested")) == 1
