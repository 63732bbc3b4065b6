"""Households of a fleet on one paper broker, for the fleet's tests.

Each household is the three-account household of ``tests/household_bot/common.py`` (about 80% VTI against a
60/40 target, in mid-December 2019) under names of its own: accounts ``<household>-taxable`` and so on, each
with its own key pair on the broker, read by the bot from environment variables like any real account's.
"""

from __future__ import annotations

import os
from typing import Any

from bot.fleet.config import FleetConfig, fleet_from
from bot.paper_broker.accounts import AccountsFile, AccountSpec
from tests.household_bot.common import NAMES, drifted_household

APPROVE_ALL = {"mode": "policy", "max_plan_notional": 10**6, "max_plan_fraction": 1.0}
"""Every plan starts at once: the fleet's crash test is about execution, not about waiting for a person."""


def account_name(household: str, member: str) -> str:
    return f"{household}-{member}"


def env_name(household: str, member: str, part: str) -> str:
    return f"FLEET_{household.upper().replace('-', '_')}_{member.upper()}_{part}"


def household_accounts(household: str) -> tuple[AccountSpec, ...]:
    """The drifted household's three accounts under ``household``'s names and keys."""
    return tuple(
        spec.model_copy(
            update={
                "name": account_name(household, spec.name),
                "key_id": f"{household}-{spec.name}-key",
                "secret_key": f"{household}-{spec.name}-secret",
            }
        )
        for spec in drifted_household().accounts
    )


def broker_accounts(households: list[str]) -> AccountsFile:
    return AccountsFile(accounts=tuple(a for h in households for a in household_accounts(h)))


def set_keys(households: list[str], environ: Any = os.environ) -> None:
    """The keys in the environment the workers read (a LocalCluster's processes inherit it)."""
    for h in households:
        for member in NAMES:
            environ[env_name(h, member, "KEY")] = f"{h}-{member}-key"
            environ[env_name(h, member, "SECRET")] = f"{h}-{member}-secret"


def household_config(household: str, url: str, approval: dict | None = None) -> dict[str, Any]:
    name = lambda m: account_name(household, m)  # noqa: E731
    return {
        "accounts": [
            {
                "name": name(m),
                "broker": "embedded",
                "base_url": url,
                "key_id_env": env_name(household, m, "KEY"),
                "secret_key_env": env_name(household, m, "SECRET"),
            }
            for m in NAMES
        ],
        "targets": {"VTI": 0.6, "AGG": 0.4},
        "bands": {"default": {"absolute": 0.05}},
        "approval": approval or APPROVE_ALL,
        "limits": {
            "max_order_notional": 10**5,
            "max_plan_notional": 2 * 10**5,
            "max_daily_notional": 4 * 10**5,
        },
        "tax": {
            "rates": {"short_term": 0.35, "long_term": 0.15},
            "accounts": {
                name("taxable"): {"type": "taxable"},
                name("ira"): {"type": "ira"},
                name("roth"): {"type": "roth"},
            },
        },
        "household": {
            "name": household,
            "accounts": [
                {"account": name("taxable"), "cash_reserve": 100},
                {"account": name("ira"), "cash_reserve": 50},
                {"account": name("roth")},
            ],
            "locations": [{"symbols": ["AGG"], "account_types": ["ira", "401k"], "penalty": 0.001}],
        },
    }


def fleet(households: list[str], url: str, state_url: str, **settings: Any) -> FleetConfig:
    raw = {
        "state_url": state_url,
        "households": [household_config(h, url) for h in households],
        **settings,
    }
    return fleet_from(raw)
