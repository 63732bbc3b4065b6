"""The live bot under the default policy, the objective, against the paper broker on real prices."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from bot.paper_broker.accounts import AccountsFile, AccountSpec, StartingLot, StartingPosition
from tests.bot.harness import KEY, SECRET, make_harness

OPEN = datetime(2019, 12, 17, 14, 30, tzinfo=UTC)


def with_gold(gld: int) -> AccountsFile:
    """60/40-ish SPY and AGG bought in 2018, plus ``gld`` shares of GLD, which the target does not hold."""
    lot = lambda q, p: StartingLot(qty=Decimal(q), price=Decimal(p), date=date(2018, 1, 2))  # noqa: E731
    return AccountsFile(
        accounts=(
            AccountSpec(
                name="main",
                key_id=KEY,
                secret_key=SECRET,
                cash=Decimal(500),
                positions=(
                    StartingPosition(symbol="SPY", lots=(lot(150, 250),)),
                    StartingPosition(symbol="AGG", lots=(lot(280, 105),)),
                    StartingPosition(symbol="GLD", lots=(lot(gld, 125),)),
                ),
            ),
        )
    )


def test_a_held_symbol_outside_the_target_is_priced_as_drift_and_sold_by_the_objective(tmp_path):
    harness = make_harness(tmp_path, accounts=with_gold(70), policy={"kind": "objective"})
    before = harness.weights()
    assert before["GLD"] > Decimal("0.10")  # ~11% of the account in a symbol the target does not name
    harness.run_until(OPEN + timedelta(hours=2))
    first = harness.store.plans(account="main")[-1]
    assert first.status == "done"
    trigger = first.details["trigger"]
    # decided by the objective itself: GLD's daily returns were fetched, so no fallback to the bands
    assert trigger["name"] == "objective", trigger["reason"]
    assert "no return history" not in trigger["reason"]
    gold = next(a for a in trigger["assets"] if a["symbol"] == "GLD")
    assert Decimal(gold["target"]) == 0 and Decimal(gold["goal"]) < Decimal(gold["weight"])
    sells = [o for o in first.details["orders"] if o["symbol"] == "GLD"]
    assert sells and sells[0]["side"] == "sell" and "GLD" in first.explanation
    # sold down toward zero, as far as the objective finds it pays (here ~11% -> ~6%)
    assert harness.weights().get("GLD", Decimal(0)) < before["GLD"] - Decimal("0.03")
