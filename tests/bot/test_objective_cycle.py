"""The real bot on the objective policy (issue 14), against the paper broker over HTTP, in simulated time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import strategies.objective.trigger as trigger_module
from tests.bot.harness import make_harness

OPEN = datetime(2019, 12, 17, 14, 30, tzinfo=UTC)


def test_the_bot_fits_its_risk_aversion_once_a_quarter_not_every_cycle(tmp_path, monkeypatch) -> None:
    """A refit simulates two years at three risk aversions (1-2 s): built anew each cycle, the trigger
    lost its fit and paid that every five minutes."""
    fits: list[int] = []
    real_fit = trigger_module.fit_risk_aversion

    def counting(returns, *args):  # noqa: ANN001, ANN202 - the real fit, counted
        fits.append(len(returns))
        return real_fit(returns, *args)

    monkeypatch.setattr(trigger_module, "fit_risk_aversion", counting)
    harness = make_harness(tmp_path, policy={"kind": "objective", "tracking": "balanced"})
    before = harness.weights()
    assert before["SPY"] > Decimal("0.69")  # 70/30 after SPY's 2019 rally
    outcomes = harness.run_until(OPEN + timedelta(hours=1))
    assert len(outcomes) >= 10
    assert len(fits) == 1 and fits[0] > 504  # fitted once, on real daily bars from the broker
    # and the objective's plans get stored and traded (a numpy bool in its rows once made every plan
    # it traded fail to serialise)
    plans = harness.store.plans(account="main")
    assert plans and all(p.status == "done" for p in plans)
    assert harness.weights()["SPY"] < before["SPY"] - Decimal("0.03")
