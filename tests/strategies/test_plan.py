"""RebalancePlan: content hash (deterministic ids, approval binding) and the human explanation."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import pytest

import strategies
from strategies.plan import PlannedOrder, RebalancePlan
from strategies.planner import plan_rebalance
from strategies.portfolio import Side
from tests.strategies.builders import D, bands, settings, snapshot, targets

SIXTY_FORTY = targets(SPY="0.6", AGG="0.4")
# Pinned: a change here means every client_order_id and every pending approval would change meaning.
SEVENTY_THIRTY_HASH = "b8b1bc0672b1dd79c34faef61e5950c14913d70db5a11e22d273076ba0128f11"


def seventy_thirty_plan() -> RebalancePlan:
    snap = snapshot({"SPY": (140, 500), "AGG": (300, 100)})
    return plan_rebalance(snap, SIXTY_FORTY, bands("0.05"), settings())


def test_content_hash_is_stable_across_runs() -> None:
    # pinned literal: the hash does not depend on the process (no id(), no set ordering, no float repr)
    assert seventy_thirty_plan().content_hash() == SEVENTY_THIRTY_HASH
    assert seventy_thirty_plan().content_hash() == seventy_thirty_plan().content_hash()


def test_content_hash_changes_when_an_order_changes() -> None:
    plan = seventy_thirty_plan()
    sell, buy = plan.orders
    for changed in (
        (replace(sell, qty=D(21)), buy),
        (sell, replace(buy, notional=D("10000.01"), est_notional=D("10000.01"))),
        (sell, replace(buy, symbol="BND")),
        (sell,),
        (buy, sell),
    ):
        assert replace(plan, orders=changed).content_hash() != SEVENTY_THIRTY_HASH


def test_content_hash_ignores_estimates_reasons_and_insignificant_digits() -> None:
    plan = seventy_thirty_plan()
    sell, buy = plan.orders
    same = (
        replace(sell, qty=D("20.000000000"), est_price=D("499.13"), reason="anything"),
        replace(buy, notional=D("10000.0000"), est_notional=D("9999.99")),
    )
    assert replace(plan, orders=same, skipped=()).content_hash() == SEVENTY_THIRTY_HASH


def test_explain_names_trigger_numbers_orders_and_skips() -> None:
    snap = snapshot({"SPY": (140, 500), "AGG": ("200.05", 100), "GLD": ("99.95", 100)})
    plan = plan_rebalance(snap, targets(SPY="0.6", AGG="0.3", GLD="0.1"), bands("0.05"), settings())
    text = plan.explain()
    assert "Trigger bands: FIRED: outside band: AGG 20.00% vs 30.00%" in text
    assert "SPY      70.00%   60.00%  +10.00pp   5.00pp  YES         60.00%" in text
    assert "SELL SPY    20 sh @ ~$500.00 = ~$10,000.00" in text
    assert text.index("SELL SPY") < text.index("BUY  AGG")
    assert "GLD: buy of ~$5.00 is below min_trade_notional $10.00" in text
    assert "Totals: sell ~$10,000.00, buy ~$9,995.00, cash after ~$5.00" in text


def test_explain_of_a_quiet_decision() -> None:
    snap = snapshot({"SPY": (126, 500), "AGG": (370, 100)})
    text = plan_rebalance(snap, SIXTY_FORTY, bands("0.05"), settings()).explain()
    assert "quiet" in text and "Orders: none" in text


def test_planned_order_needs_exactly_one_amount() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        PlannedOrder("SPY", Side.BUY, D(1), D(1), D(1), D(1), "")


FORBIDDEN_MODULES = {
    "os", "io", "sys", "pathlib", "shutil", "socket", "subprocess", "random", "logging",
    "requests", "httpx", "urllib", "sqlite3", "alpaca", "bot", "pandas",
}  # fmt: skip
# numpy, scipy and the solvers are allowed: the objective (strategies/objective) is linear algebra and a
# convex solve, no I/O. ``time`` is allowed for ``perf_counter`` (solver timings in reports): reading the
# wall clock (time(), sleep(), now()) is caught by FORBIDDEN_CALLS.
FORBIDDEN_CALLS = {"open", "print", "input", "now", "utcnow", "today", "time", "sleep"}


def test_strategies_are_pure_no_io_no_clock_no_broker() -> None:
    """The backtester replays these modules; any I/O, clock read or broker import would break that."""
    for path in sorted(Path(strategies.__file__).parent.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                names = []
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN_MODULES, f"{path} imports {name}"
            if isinstance(node, ast.Call):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                assert called not in FORBIDDEN_CALLS, f"{path}:{node.lineno} calls {called}()"
