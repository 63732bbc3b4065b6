"""The approval policy, the lifecycle rules and the cost/tax estimate: pure functions, no broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.approval.estimates import estimate
from bot.approval.lifecycle import drift_changed, drift_of, expiry_time
from bot.approval.policy import PlanFacts, approval_required
from bot.config import ApprovalConfig
from bot.cycle import plan_details
from strategies.planner import plan_rebalance
from tests.strategies.builders import D, bands, settings, snapshot, targets


def a_plan(spy: int = 70, agg: int = 30, spy_price: str = "100", agg_price: str = "100"):  # noqa: ANN201
    """SPY/AGG at 70/30 against 60/40 on $10,000: sell ~10 SPY, buy ~$1,000 of AGG."""
    return plan_rebalance(
        snapshot({"SPY": (spy, spy_price), "AGG": (agg, agg_price)}),
        targets(SPY="0.6", AGG="0.4"),
        bands("0.05"),
        settings(),
    )


def policy(**changes: object) -> ApprovalConfig:
    values: dict = {"mode": "policy", "max_plan_notional": None, "max_plan_fraction": 1}
    values.update(changes)
    return ApprovalConfig.model_validate(values)


def test_a_small_plan_runs_on_its_own():
    verdict = approval_required(a_plan(), policy(max_plan_notional=5000))
    assert not verdict.required and verdict.reasons == ()


@pytest.mark.parametrize(
    ("config", "facts", "needle"),
    [
        ({"max_plan_notional": 1500}, PlanFacts(), "approval.max_plan_notional"),
        ({"max_plan_fraction": "0.1"}, PlanFacts(), "approval.max_plan_fraction"),
        ({"max_order_notional": 900}, PlanFacts(), "approval.max_order_notional"),
        ({"max_estimated_tax": 100}, PlanFacts(estimated_tax=D(150)), "approval.max_estimated_tax"),
        ({}, PlanFacts(harvests_losses=True), "harvests losses"),
        ({}, PlanFacts(swaps_securities=True), "swaps securities"),
        ({}, PlanFacts(manual_account=True), "marked manual"),
        ({"first_plan": True}, PlanFacts(first_plan=True), "first plan"),
    ],
)
def test_each_rule_holds_a_plan_and_says_why(config, facts, needle):
    verdict = approval_required(a_plan(), policy(**config), facts)
    assert verdict.required
    assert any(needle in reason for reason in verdict.reasons), verdict.reasons


@pytest.mark.parametrize(
    ("config", "facts"),
    [
        ({"max_order_notional": 5000}, PlanFacts()),
        ({"max_estimated_tax": 200}, PlanFacts(estimated_tax=D(150))),
        ({"max_estimated_tax": 100}, PlanFacts(estimated_tax=None)),  # unknown tax: that rule cannot apply
        ({"on_harvest": False}, PlanFacts(harvests_losses=True)),
        ({"on_swap": False}, PlanFacts(swaps_securities=True)),
        ({"first_plan": False}, PlanFacts(first_plan=True)),
        ({"first_plan": True}, PlanFacts(first_plan=False)),
    ],
)
def test_rules_below_their_threshold_or_switched_off_hold_nothing(config, facts):
    assert not approval_required(a_plan(), policy(**config), facts).required


def test_every_rule_that_applies_is_named():
    verdict = approval_required(
        a_plan(),
        policy(max_plan_notional=100, max_order_notional=100, first_plan=True),
        PlanFacts(manual_account=True, first_plan=True),
    )
    assert len(verdict.reasons) == 5  # manual, first plan, plan size, and both orders


def test_modes_always_and_never():
    assert approval_required(a_plan(), policy(mode="always")).reasons == ("approval.mode is always",)
    assert not approval_required(a_plan(), policy(mode="never", max_plan_notional=1)).required
    # a manual account is asked even when the mode is never
    assert approval_required(a_plan(), policy(mode="never"), PlanFacts(manual_account=True)).required


# --- lifecycle ----------------------------------------------------------------------------------------------

NOW = datetime(2019, 12, 17, 15, 0, tzinfo=UTC)
CLOSE = datetime(2019, 12, 17, 21, 0, tzinfo=UTC)


def test_requests_expire_at_the_close_or_after_minutes_never_past_the_close():
    assert expiry_time(NOW, CLOSE, "market_close") == CLOSE
    assert expiry_time(NOW, CLOSE, 90) == NOW + timedelta(minutes=90)
    assert expiry_time(NOW, CLOSE, 10_000) == CLOSE


def test_a_rejected_plan_is_asked_again_only_once_the_drift_moved():
    rejected = drift_of(plan_details(a_plan(spy=70, agg=30)))
    assert not drift_changed(rejected, a_plan(spy=70, agg=30).drift_before, D("0.01"))
    assert not drift_changed(rejected, a_plan(spy=70, agg=30, spy_price="100.5").drift_before, D("0.01"))
    assert drift_changed(rejected, a_plan(spy=75, agg=25).drift_before, D("0.01"))


# --- estimates ----------------------------------------------------------------------------------------------


def test_cost_is_half_the_spread_and_tax_is_on_realised_gains():
    plan = a_plan()  # sells SPY at 100, buys AGG at 100
    result = estimate(
        plan,
        avg_costs={"SPY": D(80), "AGG": D(120)},
        spreads={"SPY": (D("99.9"), D("100.1")), "AGG": (D("99.95"), D("100.05"))},
        tax_rate=D("0.2"),
    )
    sold = plan.sells[0]
    assert result.realised_gain == (sold.qty * 20).quantize(D("0.01"))
    assert result.tax == (result.realised_gain * D("0.2")).quantize(D("0.01"))
    expected_cost = sold.est_notional * D("0.001") + plan.buys[0].est_notional * D("0.0005")
    assert abs(result.spread_cost - expected_cost) <= D("0.01")
    at_a_loss = estimate(plan, {"SPY": D(130)}, {}, D("0.2"))
    assert at_a_loss.tax == 0 and at_a_loss.realised_loss == (sold.qty * 30).quantize(D("0.01"))


def test_the_approval_config_rejects_nonsense():
    with pytest.raises(ValueError, match="expiry"):
        ApprovalConfig.model_validate({"expiry": 0})
    with pytest.raises(ValueError):
        ApprovalConfig.model_validate({"expiry": "tomorrow"})
    assert ApprovalConfig.model_validate({"expiry": 45}).expiry == 45
    assert Decimal(ApprovalConfig().price_tolerance) == D("0.01")
