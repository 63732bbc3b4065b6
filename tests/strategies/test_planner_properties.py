"""Invariants of plan_rebalance over random portfolios (hypothesis): the safety rules hold for any input."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.bands import Band, BandPolicy
from strategies.planner import PlannerSettings, TradeTo, plan_rebalance
from strategies.portfolio import OpenOrder, PortfolioSnapshot, Side, sellable_quantity, total_equity
from strategies.targets import TargetAllocation

SYMBOLS = ("AGG", "GLD", "SPY", "VTI", "XYZ")
money = st.decimals(min_value=Decimal("1"), max_value=Decimal("900"), places=2)
quantity = st.decimals(min_value=Decimal("0"), max_value=Decimal("500"), places=3)


@st.composite
def cases(draw: st.DrawFn) -> tuple[PortfolioSnapshot, TargetAllocation, BandPolicy, PlannerSettings]:
    prices = {s: draw(money) for s in SYMBOLS}
    positions = {s: draw(quantity) for s in SYMBOLS}
    fractionable = {s: draw(st.booleans()) for s in SYMBOLS}
    open_orders = tuple(
        OpenOrder(s, draw(st.sampled_from(Side)), qty=Decimal(draw(st.integers(1, 5))))
        for s in draw(st.lists(st.sampled_from(SYMBOLS[:4]), max_size=2, unique=True))
    )
    raw = [draw(st.integers(1, 100)) for _ in SYMBOLS[:4]] + [draw(st.integers(0, 20))]
    total = sum(raw)
    weights = {s: Decimal(r) / total for s, r in zip(SYMBOLS[:4], raw[:4], strict=True)}
    cash_weight = 1 - sum(weights.values())
    snapshot = PortfolioSnapshot(
        cash=draw(st.decimals(min_value=0, max_value=20_000, places=2)),
        positions=positions,
        prices=prices,
        fractionable=fractionable,
        open_orders=open_orders,
    )
    band = BandPolicy(Band(Decimal("0.02"), draw(st.sampled_from([None, Decimal("0.25")]))))
    planner = PlannerSettings(
        trade_to=draw(st.sampled_from(TradeTo)),
        partial_fraction=Decimal("0.5"),
        min_trade_notional=Decimal(draw(st.sampled_from([1, 10, 100]))),
        cash_buffer=draw(st.sampled_from([Decimal(0), Decimal("0.005"), Decimal("0.02")])),
    )
    return snapshot, TargetAllocation(weights, cash_weight), band, planner


@settings(max_examples=300, deadline=None)
@given(cases())
def test_plans_respect_the_safety_rules(case: tuple) -> None:
    snapshot, targets, bands, planner = case
    plan = plan_rebalance(snapshot, targets, bands, planner)
    sides = [o.side for o in plan.orders]
    assert sides == sorted(sides, key=lambda side: side is Side.BUY), "sells before buys"
    assert len({o.symbol for o in plan.orders}) == len(plan.orders), "one net trade per symbol"
    open_sides = {(o.symbol, o.side) for o in snapshot.open_orders}
    for order in plan.orders:
        assert (order.symbol, order.side.opposite) not in open_sides, "never against an open order"
        assert order.est_notional >= planner.min_trade_notional
        if order.notional is not None:
            assert order.notional == order.notional.quantize(Decimal("0.01"))
            assert snapshot.fractionable[order.symbol]
        if order.qty is not None:
            assert order.qty > 0 and order.qty == order.qty.quantize(Decimal("1e-9"))
        if order.side is Side.SELL:
            assert order.qty is not None and order.qty <= sellable_quantity(snapshot, order.symbol)
        elif not snapshot.fractionable[order.symbol]:
            assert order.qty == order.qty.to_integral_value()
    # buys never spend the buffer (unless the projected cash was below it already, then nothing is bought)
    floor = planner.cash_buffer * total_equity(snapshot)
    if plan.buys:
        assert plan.cash_after >= floor - Decimal("0.01")
    assert plan.content_hash() == plan_rebalance(snapshot, targets, bands, planner).content_hash()
