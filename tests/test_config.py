"""Config loading: the example loads, every rule has its own one-line message, secrets stay secret."""

from __future__ import annotations

import copy
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from bot.config import (
    AccountConfig,
    BotConfig,
    ConfigError,
    Credentials,
    load_config,
    resolve_credentials,
)
from strategies.planner import TradeTo

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "example.yaml"
BUNDLED_TICKERS = {
    "SPY", "IVV", "VTI", "ITOT", "SCHB", "VEA", "EFA", "VWO", "EEM", "AGG",
    "BND", "TLT", "IEF", "TIP", "SHY", "VNQ", "IYR", "GLD", "IAU", "BIL",
}  # fmt: skip

MINIMAL: dict[str, Any] = {
    "accounts": [{"name": "demo", "broker": "embedded"}],
    "targets": {"SPY": 0.6, "AGG": 0.4},
}


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def problems_for(tmp_path: Path, data: Any) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, data))
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


def with_change(path: str, value: Any) -> dict[str, Any]:
    """MINIMAL with ``a.b.c`` set to ``value`` (lists indexed by number)."""
    data = copy.deepcopy(MINIMAL)
    node: Any = data
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    node[int(last) if isinstance(node, list) else last] = value
    return data


# --- the example -----------------------------------------------------------------------------------


def test_example_config_loads() -> None:
    config = load_config(EXAMPLE)
    assert config.accounts[0].broker == "embedded"
    assert set(config.targets.weights) <= BUNDLED_TICKERS
    assert config.targets.to_allocation().total() == 1
    assert config.bands.default.absolute == Decimal("0.05")
    assert config.bands.to_policy().band_for("GLD").relative == Decimal("0.30")
    assert config.planner_settings().trade_to is TradeTo.TARGET
    assert config.approval.mode == "policy"


def test_minimal_config_gets_safe_defaults() -> None:
    config = BotConfig.model_validate(MINIMAL)
    assert config.schedule.interval_minutes == 5
    assert config.schedule.only_when_open is True
    assert config.execution.min_trade_notional == Decimal("10")
    assert config.execution.cash_buffer == Decimal("0.005")
    assert config.accounts[0].key_id_env == "APCA_API_KEY_ID"
    assert config.state_dir == Path("state")
    assert config.targets.weights == {
        "SPY": Decimal("0.6"),
        "AGG": Decimal("0.4"),
    }  # exact, not binary floats


def test_config_is_frozen() -> None:
    config = BotConfig.model_validate(MINIMAL)
    with pytest.raises(ValidationError):
        config.state_dir = Path("elsewhere")  # type: ignore[misc]


# --- one message per rule --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("targets", {"SPY": 0.6, "AGG": 0.35}, "targets: weights sum to 0.95, must sum to 1"),
        ("targets", {"SPY": 0.6, "AGG": 0.35, "cash": 0.1}, "targets: weights sum to 1.05, must sum to 1"),
        (
            "targets",
            {"SPY": 1.5, "AGG": -0.5},
            "targets.SPY: weight must be greater than 0 and at most 1 (got 1.5)",
        ),
        ("targets", {"SPY": 0, "AGG": 1}, "targets.SPY: weight must be greater than 0 and at most 1 (got 0)"),
        ("targets", {"spy": 0.6, "AGG": 0.4}, "targets.spy: must be an upper-case ticker symbol (or 'cash')"),
        (
            "targets",
            {"SPY": "60%", "AGG": 0.4},
            "targets.SPY: weight must be a number such as 0.25 (got '60%')",
        ),
        ("targets", {"cash": 1.2, "AGG": 0.4}, "targets.cash: cash weight must be between 0 and 1"),
        ("targets", {"cash": 1}, "targets: needs at least one symbol"),
        ("targets", [0.6, 0.4], "targets: must be a mapping of ticker: weight, e.g. {VTI: 0.6, AGG: 0.4}"),
        ("accounts", [], "accounts: must have at least 1 entry"),
        (
            "accounts.0.broker",
            "alpaca",
            "accounts[0].broker: must be 'embedded', 'alpaca_paper', 'alpaca_live' or 'alpaca_broker_api'",
        ),
        ("accounts.0.name", "my demo", "accounts[0].name: must be letters, digits, '-' or '_'"),
        (
            "accounts.0.key_id_env",
            "PK12/secret+x",
            "accounts[0].key_id_env: must be the NAME of an environment",
        ),
        (
            "accounts.0.base_url",
            "https://paper-api.alpaca.markets",
            "accounts[0].base_url: points at Alpaca; use broker alpaca_paper",
        ),
        ("accounts.0.base_url", "paper-api.alpaca.markets", "accounts[0].base_url: must be an http(s) URL"),
        ("accounts.0.manual", "sometimes", "accounts[0].manual: must be true or false (got 'sometimes')"),
        ("bands.default.absolute", 0, "bands.default.absolute: must be greater than 0"),
        ("bands.default.relative", 1.5, "bands.default.relative: must be at most 1"),
        ("bands.default", {}, "bands.default: needs absolute and/or relative"),
        (
            "bands.overrides",
            {"GLD": {"absolute": 0.1}},
            "bands.overrides.GLD: is not in targets (only targets or cash)",
        ),
        ("bands.trade_to", "edge", "bands.trade_to: must be 'target', 'band_edge' or 'partial' (got 'edge')"),
        ("bands.partial_fraction", 0, "bands.partial_fraction: must be greater than 0"),
        ("bands.partial_fraction", 1.5, "bands.partial_fraction: must be at most 1"),
        ("schedule.interval_minutes", 0, "schedule.interval_minutes: must be at least 1"),
        ("schedule.interval_minutes", 2.5, "schedule.interval_minutes: must be a whole number (got 2.5)"),
        (
            "schedule.skip_first_minutes",
            380,
            "schedule: skip_first_minutes + stop_before_close_minutes leave no",
        ),
        ("schedule.stop_before_close_minutes", -1, "schedule.stop_before_close_minutes: must be at least 0"),
        ("execution.min_trade_notional", 0.5, "execution.min_trade_notional: must be at least 1"),
        ("execution.cash_buffer", 1, "execution.cash_buffer: must be less than 1"),
        ("execution.cash_buffer", -0.01, "execution.cash_buffer: must be at least 0"),
        ("execution.order_timeout_minutes", 0, "execution.order_timeout_minutes: must be at least 1"),
        ("approval.mode", "sometimes", "approval.mode: must be 'always', 'never' or 'policy'"),
        ("approval.max_plan_notional", -5, "approval.max_plan_notional: must be greater than 0"),
        (
            "approval",
            {"mode": "policy", "max_plan_notional": None, "max_plan_fraction": None},
            "approval: mode policy needs max_plan_notional and/or max_plan_fraction",
        ),
        ("limits.max_daily_notional", 0, "limits.max_daily_notional: must be greater than 0"),
        ("limits.max_order_notional", 30000, "limits.max_order_notional: must not exceed max_plan_notional"),
        ("limits.max_plan_notional", 60000, "limits.max_plan_notional: must not exceed max_daily_notional"),
        ("logging.level", "LOUD", "logging.level: must be 'DEBUG', 'INFO', 'WARNING', 'ERROR' or 'CRITICAL'"),
        ("logging.max_bytes", 10, "logging.max_bytes: must be at least 1024"),
    ],
)
def test_each_rule_has_its_own_message(tmp_path: Path, path: str, value: Any, expected: str) -> None:
    problems = problems_for(tmp_path, with_change(path, value))
    assert any(line.startswith(expected) for line in problems), problems


def test_every_problem_is_reported_on_its_own_line(tmp_path: Path) -> None:
    data = with_change("bands.default.absolute", 0)
    data["schedule"] = {"interval_minutes": 0}
    data["accounts"][0]["broker"] = "nope"
    problems = problems_for(tmp_path, data)
    assert len(problems) == 3
    assert all("\n" not in line for line in problems)


def test_duplicate_account_names(tmp_path: Path) -> None:
    data = with_change("accounts", [{"name": "a", "broker": "embedded"}, {"name": "a", "broker": "embedded"}])
    assert problems_for(tmp_path, data) == ("accounts[1].name: duplicate account name 'a'",)


def test_paper_account_pointed_at_live_api_is_refused(tmp_path: Path) -> None:
    data = with_change(
        "accounts", [{"name": "p", "broker": "alpaca_paper", "base_url": "https://api.alpaca.markets"}]
    )
    assert problems_for(tmp_path, data) == (
        "accounts[0].base_url: points at the LIVE trading API but broker is alpaca_paper",
    )


def test_missing_required_section(tmp_path: Path) -> None:
    assert problems_for(tmp_path, {"accounts": MINIMAL["accounts"]}) == ("targets: is required",)


# --- typos and malformed files ---------------------------------------------------------------------


def test_unknown_key_is_rejected_by_name_with_a_suggestion(tmp_path: Path) -> None:
    data = with_change("schedule.intervall_minutes", 10)
    (line,) = problems_for(tmp_path, data)
    assert line.startswith("schedule.intervall_minutes: unknown key; did you mean 'interval_minutes'?")


def test_unknown_top_level_and_nested_keys(tmp_path: Path) -> None:
    data = with_change("limit", {"max_order_notional": 5})
    data["bands"] = {"overrides": {"SPY": {"absolut": 0.1}}}
    problems = problems_for(tmp_path, data)
    assert any(p.startswith("limit: unknown key; did you mean 'limits'?") for p in problems)
    assert any(
        p.startswith("bands.overrides.SPY.absolut: unknown key; did you mean 'absolute'?") for p in problems
    )


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    text = "accounts:\n  - {name: demo, broker: embedded}\ntargets:\n  SPY: 0.6\n  AGG: 0.4\n  SPY: 0.5\n"
    (line,) = problems_for(tmp_path, text)
    assert "YAML error at line 6, column 3: duplicate key 'SPY'" in line


def test_yaml_boolean_ticker_gets_a_hint(tmp_path: Path) -> None:
    text = "accounts:\n  - {name: demo, broker: embedded}\ntargets:\n  SPY: 0.95\n  ON: 0.05\n"
    (line,) = problems_for(tmp_path, text)
    assert line == "targets.True: YAML read this ticker as true/false; put it in quotes, e.g. 'ON': 0.05"


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    (line,) = problems_for(tmp_path, "targets:\n  SPY: [0.6\n")
    assert "YAML error at line" in line


def test_missing_empty_and_non_mapping_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    assert problems_for(tmp_path, "") == (f"{tmp_path / 'config.yaml'}: the file is empty",)
    assert "top level must be a mapping" in problems_for(tmp_path, "- a\n- b\n")[0]


# --- credentials -----------------------------------------------------------------------------------

PAPER = AccountConfig(name="paper", broker="alpaca_paper", key_id_env="MY_KEY", secret_key_env="MY_SECRET")


def test_credentials_come_from_the_environment_first(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("MY_KEY=from-file\nMY_SECRET=file-secret\n")
    creds = resolve_credentials(PAPER, {"MY_KEY": "from-env", "MY_SECRET": "env-secret"}, dotenv)
    assert (creds.key_id, creds.secret_key) == ("from-env", "env-secret")


def test_dotenv_fallback_without_touching_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MY_KEY", raising=False)
    dotenv = tmp_path / ".env"
    dotenv.write_text("MY_KEY=from-file\nMY_SECRET='quoted secret'\n")
    creds = resolve_credentials(PAPER, {}, dotenv)
    assert (creds.key_id, creds.secret_key) == ("from-file", "quoted secret")
    assert "MY_KEY" not in os.environ


def test_missing_variable_is_named_and_no_value_is_shown(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_credentials(
            PAPER, {"MY_KEY": "super-secret-key-id", "MY_SECRET": ""}, tmp_path / "absent.env"
        )
    message = str(caught.value)
    assert (
        message
        == f"account 'paper': MY_SECRET is not set (looked in the environment or {tmp_path / 'absent.env'})"
    )
    assert "super-secret-key-id" not in message


def test_default_variable_names_are_alpacas(tmp_path: Path) -> None:
    account = AccountConfig(name="paper", broker="alpaca_paper")
    with pytest.raises(ConfigError) as caught:
        resolve_credentials(account, {}, None)
    assert [p.split(": ")[1].split()[0] for p in caught.value.problems] == [
        "APCA_API_KEY_ID",
        "APCA_API_SECRET_KEY",
    ]


def test_secrets_never_appear_in_reprs(tmp_path: Path) -> None:
    creds = resolve_credentials(PAPER, {"MY_KEY": "PKSECRETKEYID", "MY_SECRET": "s3cr3t-value"}, None)
    for text in (repr(creds), str(creds), f"{creds}", repr(PAPER)):
        assert "PKSECRETKEYID" not in text and "s3cr3t-value" not in text
    assert repr(creds) == "Credentials(key_id=<redacted>, secret_key=<redacted>)"
    assert isinstance(creds, Credentials)


def test_a_mistyped_secret_in_an_env_field_is_not_echoed(tmp_path: Path) -> None:
    data = with_change("accounts.0.secret_key_env", "abc/DEF+ghi=jkl")
    (line,) = problems_for(tmp_path, data)
    assert "abc/DEF+ghi=jkl" not in line


def test_embedded_account_may_point_at_a_running_paper_broker() -> None:
    account = AccountConfig(name="demo", broker="embedded", base_url="http://127.0.0.1:8765")
    assert account.needs_credentials and account.trading_url == "http://127.0.0.1:8765"
    assert not AccountConfig(name="demo", broker="embedded").needs_credentials
    assert AccountConfig(name="p", broker="alpaca_paper").trading_url == "https://paper-api.alpaca.markets"


def test_a_gain_kept_now_is_priced_at_its_taxs_time_value_unless_told_otherwise() -> None:
    """Issue 15 item 2: realising a gain now costs the value of paying its tax now rather than later, not the
    tax itself: ten years at 5% by default (39% of the tax); ``tax_weight`` overrides it."""
    from bot.config import PolicyConfig

    assert PolicyConfig().objective_spec().tax_weight == pytest.approx(1 - 1.05**-10)
    assert PolicyConfig().objective_spec().tax_weight == pytest.approx(0.386, abs=1e-3)
    later = PolicyConfig(tax_deferral_years=30, tax_discount_rate=0.07).objective_spec().tax_weight
    assert later == pytest.approx(1 - 1.07**-30)  # a longer deferral: nearer the whole tax
    assert PolicyConfig(tax_weight=1).objective_spec().tax_weight == 1.0


def test_a_tax_horizon_reaches_the_objective() -> None:
    """``policy.tax_horizon``: the day the investor sells everything; the objective's tax share shrinks to
    the time value of paying the tax early as it nears (issue 15)."""
    from datetime import date

    from bot.config import PolicyConfig

    spec = PolicyConfig(tax_horizon="2030-01-01").objective_spec()
    assert spec.tax_horizon == date(2030, 1, 1)
    assert spec.tax_share(date(2029, 1, 1)) == pytest.approx(1 - 1.05 ** -(365 / 365.25))
    assert spec.tax_share(date(2000, 1, 1)) == pytest.approx(1 - 1.05**-10)
