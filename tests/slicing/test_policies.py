"""Policy configs, the per-order choice, and the ``execution.slicing`` config section."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
import yaml

from bot.config import ConfigError, SlicingConfig, load_config
from bot.execution import ExecutionSettings
from bot.slicing.policies import (
    SingleOrderPolicy,
    SlicingSettings,
    TwapPolicy,
    choose_policy,
    policy_from_json,
)

ROOT = Path(__file__).resolve().parents[2]
ADV = D(1_000_000)


def test_auto_sends_small_orders_at_once_and_slices_large_ones():
    auto = SlicingSettings()  # 0.5% of ADV
    small = choose_policy(auto, D(4_999), ADV, D(100_000))
    large = choose_policy(auto, D(5_000), ADV, D(100_000))
    assert isinstance(small.policy, SingleOrderPolicy) and small.adv_fraction == D("0.004999")
    assert isinstance(large.policy, TwapPolicy) and "0.500% of ADV" in large.reason


def test_auto_slices_above_the_child_notional_cap_and_sends_at_once_without_volume_history():
    capped = SlicingSettings(twap=TwapPolicy(max_child_notional=D(10_000)))
    assert isinstance(choose_policy(capped, D(10), ADV, D(20_000)).policy, TwapPolicy)
    assert isinstance(choose_policy(SlicingSettings(), D(10**9), None, D(1)).policy, SingleOrderPolicy)


def test_forced_policies():
    assert isinstance(
        choose_policy(SlicingSettings(policy="single"), ADV, ADV, D(1)).policy, SingleOrderPolicy
    )
    assert isinstance(choose_policy(SlicingSettings(policy="twap"), D(1), ADV, D(1)).policy, TwapPolicy)


def test_a_policy_round_trips_through_its_stored_form():
    policy = TwapPolicy(
        window_minutes=30, children=10, participation_cap=D("0.05"), max_child_notional=D("2500.50"),
        collar_half_spreads=None, reprice_after_minutes=3, deadline_minutes_before_close=20,
    )  # fmt: skip
    assert policy_from_json(policy.to_json()) == policy
    assert policy.interval == timedelta(minutes=3) and not policy.uses_limits
    assert isinstance(policy_from_json(SingleOrderPolicy().to_json()), SingleOrderPolicy)


@pytest.mark.parametrize(
    "changes",
    [{"children": 0}, {"children": 61}, {"participation_cap": D(0)}, {"participation_cap": D("1.1")},
     {"collar_half_spreads": D(-1)}, {"max_child_notional": D(0)}],
)  # fmt: skip
def test_impossible_policies_are_refused(changes):
    with pytest.raises(ValueError):
        TwapPolicy(**changes)


def test_the_config_section_reaches_the_executor():
    section = SlicingConfig(policy="twap", children=6, twap_window_minutes=30, collar_half_spreads=None)
    settings = ExecutionSettings(
        order_timeout=timedelta(minutes=10), cash_buffer=D(0), slicing=section
    ).slicing
    assert settings.policy == "twap" and settings.twap.interval == timedelta(minutes=5)
    assert settings.twap.collar_half_spreads is None
    assert (
        ExecutionSettings(order_timeout=timedelta(minutes=10), cash_buffer=D(0)).slicing == SlicingSettings()
    )


def test_the_example_config_documents_every_slicing_key():
    text = (ROOT / "config" / "example.yaml").read_text()
    for key in SlicingConfig.model_fields:
        assert f"    {key}:" in text, key
    assert load_config(ROOT / "config" / "example.yaml").execution.slicing == SlicingConfig()


def test_a_bad_slicing_section_names_the_key(tmp_path):
    raw = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())
    raw["execution"]["slicing"] = {"twap_window_minutes": 10, "children": 20, "participation_cap": 2}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    text = "\n".join(error.value.problems)
    assert "execution.slicing.participation_cap" in text


def test_more_children_than_minutes_is_refused_with_the_key(tmp_path):
    raw = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())
    raw["execution"]["slicing"] = {"twap_window_minutes": 10, "children": 20}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert error.value.problems == (
        "execution.slicing.children: must not exceed twap_window_minutes (one child a minute)",
    )


def test_the_deadline_must_not_fall_before_the_last_planning_minute(tmp_path):
    raw = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())
    raw["execution"]["slicing"] = {"deadline_minutes_before_close": 30}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert error.value.problems[0].startswith(
        "execution.slicing.deadline_minutes_before_close: must not exceed schedule.stop_before_close_minutes"
    )
