"""Properties of plan_tax_aware on random portfolios (seeded, so a failure is reproducible): it never sells
what is not there, never spends cash it does not have, never moves an asset away from its target, and an
asset that breached its band is back inside it unless a recorded decision says why not."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest

from strategies.planner import plan_rebalance
from strategies.targets import CASH
from strategies.tax.estimate import TaxRates
from strategies.tax.lots import Lot
from strategies.tax.planning import Action, TaxSettings, fold_substitutes, plan_tax_aware
from tests.strategies.builders import D, bands, settings, snapshot, targets

DAY = date(2024, 6, 3)
SYMBOLS = ("AAA", "BBB", "CCC", "DDD")
TAX = TaxSettings(rates=TaxRates(D("0.35"), D("0.15")), substitutes=(("AAA", "SUB"),))
EXCUSES = {Action.WAITING, Action.WASH_DEFERRED, Action.DROPPED}


def random_case(rng: random.Random):  # noqa: ANN201
    weights = [rng.randint(1, 10) for _ in SYMBOLS]
    total = sum(weights)
    alloc = targets(**{s: str(Decimal(w) / total) for s, w in zip(SYMBOLS, weights, strict=True)})
    holdings, lots = {}, []
    for symbol in (*SYMBOLS, "SUB"):
        price = rng.choice([20, 50, 100, 250])
        qty = rng.randint(0, 400)
        holdings[symbol] = (qty, price)
        left = qty
        while left > 0:
            take = min(left, rng.randint(1, 200))
            acquired = DAY - timedelta(days=rng.choice([rng.randint(5, 900), rng.randint(340, 366)]))
            cost = Decimal(price) * Decimal(rng.randint(50, 150)) / 100
            lots.append(
                Lot(
                    "taxable",
                    symbol,
                    D(take),
                    cost,
                    acquired,
                    lot_id=f"{symbol}{left}",
                    fill_id=f"{symbol}{left}",
                )
            )
            left -= take
    return snapshot(holdings, rng.randint(0, 5000)), alloc, lots


@pytest.mark.parametrize("seed", range(60))
def test_tax_aware_plans_are_safe_and_restore_the_bands(seed: int) -> None:
    rng = random.Random(seed)
    snap, alloc, lots = random_case(rng)
    policy = bands("0.05", "0.25")
    plan = plan_rebalance(fold_substitutes(snap, alloc, TAX), alloc, policy, settings())
    result = plan_tax_aware(plan, snap, lots, DAY, TAX, planner_settings=settings())
    new = result.plan
    for order in new.sells:
        assert order.qty is not None and order.qty <= snap.positions.get(order.symbol, 0)
    assert new.cash_after >= D("-0.01")
    excused = {d.symbol for d in result.decisions if d.action in EXCUSES}
    before = {row.symbol: row for row in plan.decision.assets if row.symbol != CASH}
    after = fold_substitutes_weights(new.weights_after)
    for symbol, row in before.items():
        drift_after = after.get(symbol, D(0)) - row.target
        assert abs(drift_after) <= abs(row.drift) + D("0.0001"), symbol
        if row.breached and not excused and row.band is not None:
            assert abs(drift_after) <= row.band + D("0.0001"), (symbol, row.describe(), result.explain())


def fold_substitutes_weights(weights) -> dict[str, Decimal]:  # noqa: ANN001
    out = dict(weights)
    out["AAA"] = out.get("AAA", D(0)) + out.pop("SUB", D(0))
    return out


def test_the_random_cases_do_exercise_the_tax_rules() -> None:
    actions = set()
    for seed in range(60):
        snap, alloc, lots = random_case(random.Random(seed))
        plan = plan_rebalance(fold_substitutes(snap, alloc, TAX), alloc, bands("0.05", "0.25"), settings())
        actions |= {
            d.action
            for d in plan_tax_aware(plan, snap, lots, DAY, TAX, planner_settings=settings()).decisions
        }
    assert {Action.TRIMMED, Action.WAITING, Action.LOSS_FUNDED, Action.GAIN_FUNDED} <= actions, actions
