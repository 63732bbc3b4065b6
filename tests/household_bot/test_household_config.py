"""The ``household`` section: a mistake stops the bot with a line naming the key; a good one maps onto the
optimizer's terms (types, cash flows, menus, location preferences)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from bot.config import ConfigError, load_config
from bot.household import inputs
from strategies.household import Account, AccountType, Household, Quote
from tests.household_bot.common import household_config


def write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def problems(tmp_path: Path, **household: object) -> list[str]:
    raw = household_config("http://127.0.0.1:1", tmp_path / "state")
    raw["household"] = {**raw["household"], **household}
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, raw))
    return list(caught.value.problems)


def test_a_member_that_is_not_an_account_is_named(tmp_path):
    found = problems(tmp_path, accounts=[{"account": "taxable"}, {"account": "irra"}])
    assert any(p.startswith("household.accounts[1].account: 'irra' is not an account name") for p in found)


def test_an_rmd_on_a_roth_and_a_menu_outside_the_targets_are_named(tmp_path):
    found = problems(
        tmp_path,
        accounts=[
            {"account": "taxable"},
            {"account": "ira", "menu": ["VTI", "BND"]},
            {"account": "roth", "rmd": 500},
        ],
    )
    assert any(p.startswith("household.accounts[2].rmd:") for p in found), found
    assert any(
        p.startswith("household.accounts[1].menu[1]: BND is not in the household's targets") for p in found
    )


def test_a_misspelt_key_and_a_bad_value_are_named(tmp_path):
    found = problems(
        tmp_path, accounts=[{"account": "taxable", "cash_reserv": 100}, {"account": "ira", "withdrawal": -5}]
    )
    assert any(p.startswith("household.accounts[0].cash_reserv") for p in found), found
    assert any(p.startswith("household.accounts[1].withdrawal") for p in found), found


def test_a_type_that_contradicts_the_tax_section_and_a_clashing_name_are_named(tmp_path):
    found = problems(tmp_path, name="ira", accounts=[{"account": "ira", "type": "roth"}])
    assert any(p.startswith("household.name: 'ira' is also an account name") for p in found), found
    assert any(
        p.startswith("household.accounts[0].type: roth disagrees with tax.accounts.ira.type ira")
        for p in found
    )


def test_a_good_section_maps_onto_the_optimizer(tmp_path):
    raw = household_config("http://127.0.0.1:1", tmp_path / "state")
    raw["household"]["accounts"] = [
        {"account": "taxable", "cash_reserve": 100, "withdrawal": 2000},
        {
            "account": "ira",
            "rmd": 3000,
            "contribution": {"amount": 5000, "annual_limit": 7000, "contributed_ytd": 4000},
        },
        {"account": "roth", "menu": ["VTI"]},
    ]
    config = load_config(write(tmp_path, raw))
    household = config.household
    assert [inputs.account_type(config, m.account) for m in household.accounts] == [
        AccountType.TAXABLE, AccountType.TRADITIONAL_IRA, AccountType.ROTH_IRA,
    ]  # fmt: skip
    flows = inputs.cash_flows(household.member("ira"))
    assert flows.effective_contribution == Decimal(3000) and flows.rmd == Decimal(3000)
    assert inputs.menu(household.member("roth")) == frozenset({"VTI"})
    [location] = inputs.locations(config)
    assert location.symbols == frozenset({"AGG"}) and AccountType.TRADITIONAL_IRA in location.account_types
    assert inputs.optimizer_settings(config).min_trade == config.execution.min_trade_notional


def test_trade_to_decides_how_far_a_fired_household_is_planned_back(tmp_path):
    raw = household_config("http://127.0.0.1:1", tmp_path / "state")
    config = load_config(write(tmp_path, raw))
    household = Household(
        accounts=(Account("ira", "traditional_ira", Decimal(100), {"VTI": Decimal(10)}),),
        targets=inputs.targets(config),
        bands=inputs.bands(config),
        quotes={"VTI": Quote(Decimal(100)), "AGG": Quote(Decimal(100))},
        rates=inputs.rates(config),
        day=date(2020, 1, 2),
    )
    settings = inputs.optimizer_settings(config)
    limits, note = inputs.planning_limits(config, household, settings)  # default trade_to: target
    assert limits["VTI"] == (
        Decimal("0.6") - Decimal("0.049900") / 4,
        Decimal("0.6") + Decimal("0.049900") / 4,
    )
    assert "within 25% of each band" in note
    raw["bands"] = {"default": {"absolute": 0.05}, "trade_to": "band_edge"}
    edge = load_config(write(tmp_path, raw))
    assert inputs.planning_limits(edge, household, settings)[0] is None


def test_the_solve_time_policy_comes_from_the_optimizer_section(tmp_path):
    raw = household_config("http://127.0.0.1:1", tmp_path / "state")
    default = inputs.optimizer_settings(load_config(write(tmp_path, raw)))
    assert (default.time_limit, default.accept_gap, default.time_cap) == (2.0, 0.01, 30.0)
    raw["household"]["optimizer"] = {"time_limit_seconds": 5, "accept_gap": 0.002, "time_cap_seconds": 3}
    settings = inputs.optimizer_settings(load_config(write(tmp_path, raw)))
    # a cap below the exact-solve time would cut the exact solve short: the cap is raised to it
    assert (settings.time_limit, settings.accept_gap, settings.time_cap) == (5.0, 0.002, 5.0)
    found = problems(tmp_path, optimizer={"accept_gap": 1.5})
    assert any("household.optimizer.accept_gap" in p for p in found)
