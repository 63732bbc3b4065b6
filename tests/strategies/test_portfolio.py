"""Snapshot arithmetic: values, equity, weights (cash included), drift and open orders."""

from __future__ import annotations

from decimal import Decimal

import pytest

from strategies.portfolio import (
    OpenOrder,
    PortfolioSnapshot,
    Side,
    apply_open_orders,
    current_weights,
    drift,
    market_values,
    order_price,
    sellable_quantity,
    total_equity,
    value_in_open_orders,
)
from strategies.targets import CASH, TargetAllocation
from tests.strategies.builders import D, snapshot, targets


def test_values_equity_and_weights_include_cash() -> None:
    # SPY 100 x 500 = 50,000; AGG 250 x 100 = 25,000; cash 25,000; equity 100,000
    snap = snapshot({"SPY": (100, 500), "AGG": (250, 100)}, cash=25_000)
    assert market_values(snap) == {"SPY": D(50_000), "AGG": D(25_000)}
    assert total_equity(snap) == D(100_000)
    assert current_weights(snap) == {"SPY": D("0.5"), "AGG": D("0.25"), CASH: D("0.25")}


def test_drift_is_absolute_and_relative_and_covers_held_untargeted_symbols() -> None:
    # SPY 70,000 + AGG 25,000 + GLD 5,000 = 100,000. SPY 70% vs 60%: +10pp absolute, +10/60 relative.
    # GLD is held (5%) but untargeted: target 0, relative drift undefined.
    snap = snapshot({"SPY": (140, 500), "AGG": (250, 100), "GLD": (25, 200)})
    rows = drift(snap, targets(SPY="0.6", AGG="0.4"))
    assert list(rows) == ["AGG", "GLD", "SPY", CASH]
    assert rows["SPY"].absolute == D("0.1")
    assert rows["SPY"].relative == D("0.1") / D("0.6")
    assert rows["AGG"].absolute == D("-0.15")
    assert rows["GLD"].target == 0 and rows["GLD"].absolute == D("0.05") and rows["GLD"].relative is None
    assert rows[CASH].weight == 0


def test_open_orders_are_valued_signed_and_applied_as_if_filled() -> None:
    snap = snapshot(
        {"SPY": (100, 500), "AGG": (100, 100)},
        cash=10_000,
        open_orders=(
            OpenOrder("SPY", Side.SELL, qty=D(10)),  # releases 5,000
            OpenOrder("AGG", Side.BUY, notional=D(2_000)),  # consumes 2,000 for 20 shares
        ),
    )
    assert value_in_open_orders(snap) == {"SPY": D(-5_000), "AGG": D(2_000)}
    projected = apply_open_orders(snap)
    assert projected.positions == {"SPY": D(90), "AGG": D(120)}
    assert projected.cash == D(13_000)
    assert projected.open_orders == ()
    assert total_equity(projected) == total_equity(snap)  # filling at the mid moves value, not equity
    # shares already promised to the open sell cannot be sold again; the pending buy is not yet held
    assert sellable_quantity(snap, "SPY") == D(90)
    assert sellable_quantity(snap, "AGG") == D(100)


def test_order_price_uses_the_touch_when_quotes_exist() -> None:
    snap = PortfolioSnapshot(
        cash=D(0),
        positions={"SPY": D(1)},
        prices={"SPY": D("500.00")},
        bids={"SPY": D("499.95")},
        asks={"SPY": D("500.05")},
    )
    assert order_price(snap, "SPY", Side.BUY) == D("500.05")
    assert order_price(snap, "SPY", Side.SELL) == D("499.95")
    no_quotes = snapshot({"SPY": (1, 500)})
    assert order_price(no_quotes, "SPY", Side.BUY) == D(500)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"positions": {"SPY": D(-1)}, "prices": {"SPY": D(1)}}, "long-only"),
        ({"positions": {"SPY": D(1)}, "prices": {}}, "no positive price for SPY"),
        ({"positions": {}, "prices": {"SPY": D(0)}}, "price of SPY must be positive"),
    ],
)
def test_snapshot_rejects_data_the_planner_cannot_trust(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PortfolioSnapshot(cash=D(0), **kwargs)


def test_open_order_needs_exactly_one_amount() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        OpenOrder("SPY", Side.BUY, qty=D(1), notional=D(1))
    with pytest.raises(ValueError, match="positive"):
        OpenOrder("SPY", Side.BUY, qty=D(0))


def test_snapshot_is_immutable() -> None:
    snap = snapshot({"SPY": (1, 500)})
    with pytest.raises(TypeError):
        snap.positions["SPY"] = D(2)  # type: ignore[index]


@pytest.mark.parametrize(
    ("weights", "cash", "message"),
    [
        ({"SPY": "0.6", "AGG": "0.35"}, "0", "sum to 0.95"),
        ({"SPY": "1.2"}, "0", "within"),
        ({CASH: "0.5", "SPY": "0.5"}, "0", "not a symbol"),
    ],
)
def test_target_allocation_validates(weights: dict[str, str], cash: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TargetAllocation({s: Decimal(w) for s, w in weights.items()}, Decimal(cash))


def test_floats_and_strings_are_coerced_exactly() -> None:
    # Decimal(0.35) would be 0.34999999999999997779...; the shortest repr gives exactly 0.35
    alloc = TargetAllocation({"VTI": 0.35, "AGG": 0.65})  # type: ignore[dict-item]
    assert alloc.weights == {"VTI": D("0.35"), "AGG": D("0.65")}
    snap = PortfolioSnapshot(cash=0.1, positions={"VTI": "2.5"}, prices={"VTI": 200.1})  # type: ignore[arg-type]
    assert (snap.cash, snap.positions["VTI"], snap.prices["VTI"]) == (D("0.1"), D("2.5"), D("200.1"))


def test_target_allocation_tolerates_float_noise_and_reports_untargeted_as_zero() -> None:
    alloc = TargetAllocation({"SPY": D("0.6000000001"), "AGG": D("0.4")})
    assert alloc.weight("GLD") == 0
    assert alloc.symbols == ("AGG", "SPY")
