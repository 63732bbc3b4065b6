"""``rebalance-bot init`` (issue 16, item 8): a starting config a new user can run as written.

From typed answers and from an account's holdings on the embedded paper broker (alpaca-py over HTTP): the
written file passes ``check-config``, and ``plan`` against the same account shows its first plan without a
hard-limit refusal, the failure a copy of the example config meets on a normal account.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from bot.cli import app
from bot.config import load_config
from bot.init_targets import TargetsError, largest_remainder, parse_targets
from bot.paper_broker.accounts import AccountsFile, AccountSpec, StartingLot, StartingPosition
from bot.paper_broker.server import ClockConfig
from tests.bot.harness import OPEN_TIME

ROOT = Path(__file__).resolve().parents[1]
KEY, SECRET = "PKINIT", "init-secret"
runner = CliRunner()


def _lot(qty: int, price: str) -> tuple[StartingLot, ...]:
    return (StartingLot(qty=Decimal(qty), price=Decimal(price), date=date(2019, 1, 2)),)


def holdings(cash: str, positions: dict[str, int]) -> AccountsFile:
    spec = AccountSpec(
        name="mine",
        key_id=KEY,
        secret_key=SECRET,
        cash=Decimal(cash),
        positions=tuple(StartingPosition(symbol=s, lots=_lot(q, "100")) for s, q in positions.items()),
    )
    return AccountsFile(accounts=(spec,))


@pytest.fixture
def keys(monkeypatch, tmp_path):  # noqa: ANN001, ANN201
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.chdir(tmp_path)  # the state dir is relative; no .env of the developer's is read


def opened(make_broker, accounts: AccountsFile):  # noqa: ANN001, ANN201
    """The broker a quarter of an hour after the open, when the bot decides."""
    return make_broker(accounts=accounts, clock=ClockConfig(start=OPEN_TIME + timedelta(minutes=15)))


def check_and_plan(path: Path) -> str:
    checked = runner.invoke(app, ["check-config", "-c", str(path)])
    assert checked.exit_code == 0, checked.output
    dry = runner.invoke(app, ["plan", "-c", str(path)])
    assert dry.exit_code == 0, dry.output
    assert "REFUSED" not in dry.output
    return dry.output


def test_init_from_typed_answers_sizes_the_limits_for_the_first_investment(tmp_path, keys, make_broker):
    broker = opened(make_broker, holdings("124000", {}))
    path = tmp_path / "config" / "mine.yaml"
    answers = [
        "embedded",  # broker: a running paper broker...
        broker.url,  # ...at its URL
        "",  # key variables: the defaults
        "",
        "VTI=60,AGG=30",  # a typo: asked again, with the reason
        "vti=60, agg=35, cash=5",
        "124,000",
        "tight",
        "",  # approval threshold: the default (5% of the account)
        "state",
    ]
    result = runner.invoke(app, ["init", "-c", str(path)], input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    assert "they must sum to 100" in result.output
    config = load_config(path)
    assert config.targets.weights == {"VTI": Decimal("0.6"), "AGG": Decimal("0.35")}
    assert config.targets.cash == Decimal("0.05")
    assert config.policy.tracking == "tight"
    assert config.approval.max_plan_notional == 7000
    # invested from cash: $74,400 of VTI and $117,800 in all, each limit above that (the example's refuse it)
    assert config.limits.max_order_notional >= Decimal("74400") * Decimal("1.1")
    assert config.limits.max_plan_notional >= Decimal("117800") * Decimal("1.1")
    text = path.read_text()
    assert "max_order_notional: 82000" in text and "# the largest order of the first investment" in text
    assert "# Hard limits (USD)" in text

    dry = check_and_plan(path)
    bought = Decimal(re.search(r"buy ~\$([\d,.]+)", dry).group(1).replace(",", ""))
    assert bought > 100_000  # the whole first investment, far above the example's $25,000 a plan
    assert "BUY  VTI" in dry


def test_init_from_the_account_takes_todays_weights_rounded_and_plans_without_refusal(
    tmp_path, keys, make_broker
):
    broker = opened(make_broker, holdings("30000", {"VTI": 500, "AGG": 600, "GLD": 60, "TIP": 1}))
    path = tmp_path / "mine.yaml"
    flags = ["--broker", "embedded", "--base-url", broker.url, "--round", "0.5", "-y"]
    result = runner.invoke(app, ["init", "--from-account", "-c", str(path), *flags])
    assert result.exit_code == 0, result.output
    assert "not in the targets" in result.output and "TIP" in result.output

    config = load_config(path)
    weights = {**config.targets.weights, "cash": config.targets.cash}
    assert sum(weights.values()) == 1
    assert all((w * 200) == int(w * 200) for w in weights.values())  # whole half-percent steps
    positions = {p.symbol: p.market_value for p in broker_positions(broker)}
    equity = sum(positions.values()) + Decimal(30000)
    for symbol in ("VTI", "AGG", "GLD"):
        assert abs(weights[symbol] - positions[symbol] / equity) <= Decimal("0.005")
    assert abs(weights["cash"] - Decimal(30000) / equity) <= Decimal("0.005")
    assert "TIP" not in weights
    assert "Not listed (under half a step today, so sold): TIP" in path.read_text()
    # a first rebalance of a few dollars: the limits are those of an ordinary one, a quarter of the account
    # a plan, not an open door
    assert equity / 4 < config.limits.max_plan_notional < equity / 3
    assert "# an ordinary rebalance after a large market move" in path.read_text()
    check_and_plan(path)


def broker_positions(broker):  # noqa: ANN001, ANN201
    from bot.broker import AlpacaBroker

    return AlpacaBroker(KEY, SECRET, trading_url=broker.url).positions()


def test_init_refuses_to_overwrite_without_force(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("# mine\n")
    flags = ["-c", str(path), "--targets", "60-40", "-y"]
    refused = runner.invoke(app, ["init", *flags])
    assert refused.exit_code == 2
    assert "already exists" in refused.output and "--force" in refused.output
    assert path.read_text() == "# mine\n"
    replaced = runner.invoke(app, ["init", *flags, "--force"])
    assert replaced.exit_code == 0, replaced.output
    assert load_config(path).targets.weights == {"SPY": Decimal("0.6"), "AGG": Decimal("0.4")}


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--targets", "VTI=abc"], "the weight is not a number"),
        (["--targets", "VTI=60,AGG=30"], "sum to 90"),
        (["--targets", "60-40", "--broker", "crypto"], "'crypto' is not one of paper, live, embedded"),
        (["--targets", "60-40", "--key-id-env", "PK12 34"], "not a variable NAME"),
        (["--targets", "60-40", "--broker", "paper", "--base-url", "https://api.alpaca.markets"], "LIVE"),
        (["--targets", "60-40", "--account-value", "-5"], "above 0"),
        ([], "no default; give it as a flag"),
    ],
)
def test_bad_answers_given_as_flags_exit_2_with_one_line(tmp_path, flags, said):
    path = tmp_path / "mine.yaml"
    result = runner.invoke(app, ["init", "-c", str(path), "-y", *flags])
    assert result.exit_code == 2, result.output
    assert said in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) <= 2
    assert not path.exists()


def test_from_account_with_refused_keys_says_which_variables(tmp_path, keys, make_broker, monkeypatch):
    broker = opened(make_broker, holdings("1000", {"VTI": 5}))
    monkeypatch.setenv("APCA_API_SECRET_KEY", "wrong")
    flags = ["--broker", "embedded", "--base-url", broker.url, "-y"]
    result = runner.invoke(app, ["init", "--from-account", "-c", str(tmp_path / "x.yaml"), *flags])
    assert result.exit_code == 2, result.output
    assert "APCA_API_KEY_ID and APCA_API_SECRET_KEY" in result.output
    assert not (tmp_path / "x.yaml").exists()


def test_preset_and_typed_targets():
    assert parse_targets("three-fund").weights["VTI"] == Decimal("0.42")
    typed = parse_targets("VTI=0.6 AGG=0.4")
    assert typed.weights == {"VTI": Decimal("0.6"), "AGG": Decimal("0.4")} and typed.cash == 0
    with pytest.raises(TargetsError, match="given twice"):
        parse_targets("VTI=50,vti=50")
    with pytest.raises(TargetsError, match="leave the symbol out"):
        parse_targets("VTI=100,AGG=0")


@given(st.lists(st.decimals(min_value="0.0001", max_value=1000, places=4), min_size=1, max_size=12))
def test_largest_remainder_sums_exactly_and_stays_within_a_step(values):
    shares = {f"S{i}": v for i, v in enumerate(values)}
    steps = largest_remainder(shares, 200)
    assert sum(steps.values()) == 200
    whole = sum(values)
    for key, value in shares.items():
        assert abs(steps[key] - value / whole * 200) < 1


def test_the_readme_alpaca_steps_start_with_init():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Pointing it at an Alpaca paper account", 1)[1].split("\n## ", 1)[0]
    assert "rebalance-bot init" in section and "--from-account" in section
