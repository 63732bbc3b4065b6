"""Which of the bot's fills move the cost estimate: orders sent whole, not sliced ones (their shortfall is
mostly where the price went during hours of work)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.cost_estimates import cost_estimates
from bot.cost_table import calibrated_spread
from bot.state.store import StateStore
from tests.slicing.test_volume_and_report import OPEN, parent_record, report


@pytest.fixture
def store() -> StateStore:
    store = StateStore(None)
    store.save_plan("plan-1", None, "main", "hash", "executing", "test", {"orders": []}, OPEN)
    return store


def record(store: StateStore, k: int, policy: str, bp: float) -> None:
    parent = replace(parent_record(f"plan-1-{k}", "VTI"), policy=policy)
    store.start_parent(parent, [])
    store.save_execution_report(replace(report(f"plan-1-{k}", "VTI", bp, "1000"), policy=policy))


def test_orders_sent_whole_move_the_estimate_and_sliced_ones_do_not(store: StateStore) -> None:
    prior = calibrated_spread("VTI") / 2
    record(store, 0, "twap", 40.0)  # a sliced order over a rising morning: drift, not spread
    assert cost_estimates(store, ["VTI"])["VTI"].using_bp == prior
    record(store, 1, "single", 2.0)
    record(store, 2, "single", 4.0)
    estimate = cost_estimates(store, ["VTI", "SPY"])
    assert estimate["VTI"].orders == 2 and estimate["VTI"].measured_bp == pytest.approx(3.0)
    assert estimate["VTI"].using_bp == pytest.approx((10 * prior + 2 * 3.0) / 12)
    assert estimate["SPY"].measured_bp is None and estimate["SPY"].using_bp == calibrated_spread("SPY") / 2
