"""The dynamic policy (issue 5), chosen with ``policy: kind: dynamic``: it runs in the backtester, its reasons
reach the plans, and the live bot's config builds the very trigger the backtester uses. The example config
defaults to the objective (issue 14); these tests switch it to ``dynamic`` explicitly."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from bot.backtest.data import load_history
from bot.backtest.engine import SimOptions, TradeKind, simulate
from bot.backtest.policies import DYNAMIC_POLICY, SIXTY_FORTY, policies_for
from bot.broker.models import BarState
from bot.config import BotConfig, PolicyConfig, load_config
from bot.market import market_state_from_bars
from strategies.dynamic_policy import DynamicPolicySpec, build_trigger
from strategies.planner import TradeTo
from strategies.triggers import AllOf, BandTrigger

CONFIG = load_config("config/example.yaml")
DYNAMIC = CONFIG.model_copy(update={"policy": PolicyConfig(kind="dynamic")})
"""The example with ``policy: kind: dynamic`` and the issue-5 defaults (the knobs it lists as comments)."""


def test_the_example_defaults_to_the_objective_and_dynamic_stays_one_key_away() -> None:
    assert CONFIG.policy is not None and CONFIG.policy.kind == "objective"
    assert CONFIG.policy.tracking == "balanced"
    # the backtester's ``dynamic`` policy, and the live bot's with kind: dynamic, are the issue-5 default
    assert CONFIG.policy_spec() == DynamicPolicySpec() == DYNAMIC.policy_spec()
    assert isinstance(DYNAMIC.policy_trigger()[0], AllOf)


def test_the_dynamic_policy_runs_in_the_backtester_and_its_reasons_reach_the_plans() -> None:
    history = load_history(SIXTY_FORTY.symbols, date(2019, 1, 2), date(2020, 12, 31))
    policy = policies_for([DYNAMIC_POLICY], CONFIG)[0]
    assert policy.market_lookback == 252
    run = simulate(history, SIXTY_FORTY, policy, SimOptions(keep_plans=True))
    plans = [p for p in run.plans if p.kind is TradeKind.REBALANCE]
    assert len(plans) == run.checks  # every session was looked at
    reasons = [p.plan.decision.reason for p in plans]
    assert all("[cooldown:" in r for r in reasons)
    assert any("cost_benefit" in p.plan.decision.trigger for p in plans)
    assert any("volatility_bands" in r and "band x" in r for r in reasons)  # the vol scale is explained
    traded = [p for p in plans if p.plan.orders]
    assert traded, "the 2020 crash must make the policy trade"
    assert all(p.plan.decision.fired for p in traded)
    assert any("fired: expected benefit" in p.plan.decision.reason for p in traded)
    assert policy.settings.trade_to is TradeTo.BAND_EDGE


def test_the_config_builds_the_same_trigger_as_the_backtester() -> None:
    trigger, settings, lookback = DYNAMIC.policy_trigger()
    policy = policies_for([DYNAMIC_POLICY], DYNAMIC)[0]
    assert trigger == policy.trigger  # frozen dataclasses: equal means the same composition and numbers
    assert settings == policy.settings
    assert lookback == policy.market_lookback
    assert isinstance(trigger, AllOf)


def test_without_a_policy_section_the_live_bot_keeps_its_plain_bands() -> None:
    data = CONFIG.model_dump()
    data["policy"] = None
    config = BotConfig.model_validate(data)
    assert config.policy_trigger() is None
    assert config.policy_spec() == DynamicPolicySpec()  # the backtester's ``dynamic`` is still the default


def test_plain_bands_kind_and_validation() -> None:
    spec = DynamicPolicySpec(kind="bands", trade_to="target")
    settings = spec.settings(CONFIG.planner_settings())
    assert isinstance(build_trigger(spec, CONFIG.bands.to_policy(), settings), BandTrigger)
    assert spec.market_lookback == 0
    with pytest.raises(ValueError):
        DynamicPolicySpec(band_model="magic")
    with pytest.raises(ValueError):
        PolicyConfig(min_scale=Decimal(3), max_scale=Decimal(2))


def test_live_market_state_from_daily_bars() -> None:
    start = datetime(2024, 1, 1, 5, tzinfo=UTC)

    def bars(symbol: str, closes: list[float]) -> list[BarState]:
        return [
            BarState(
                symbol,
                start + timedelta(days=i),
                Decimal(c),
                Decimal(c),
                Decimal(c),
                Decimal(c),
                Decimal(1000),
            )
            for i, c in enumerate(closes)
        ]

    data = {"SPY": bars("SPY", [100, 101, 99, 102, 103]), "AGG": bars("AGG", [50, 50.5, 50, 50, 51])}
    market = market_state_from_bars(data, ["AGG", "SPY", "cash"], lookback=3)
    assert market.sessions == 3
    assert market.series("SPY") == pytest.approx((99 / 101 - 1, 102 / 99 - 1, 103 / 102 - 1))
    assert market.costs["AGG"].adv == 1000
    assert market_state_from_bars({}, ["SPY"], 10).sessions == 0


def test_the_live_bot_plans_with_the_dynamic_trigger_and_fetches_daily_bars_once_a_day() -> None:
    from bot.broker.alpaca import AlpacaBroker
    from bot.broker.models import AccountState, AssetInfo, PositionState, QuoteState
    from bot.cycle import AccountBot
    from bot.snapshot import AccountView
    from bot.state.store import StateStore

    now = datetime(2024, 6, 3, 15, 0, tzinfo=UTC)
    targets = CONFIG.targets.to_allocation()
    calls: list[tuple] = []

    def fake_bars(self, symbols, timeframe, start, end=None):  # noqa: ANN001, ANN202
        calls.append((tuple(symbols), timeframe, start, end))
        out = {}
        for n, symbol in enumerate(symbols):
            closes = [100 * (1 + 0.001 * ((i * (n + 3)) % 7 - 3)) for i in range(300)]
            out[symbol] = [
                BarState(symbol, now - timedelta(days=301 - i), *(Decimal(str(c)),) * 4, Decimal(10**6))
                for i, c in enumerate(closes)
            ]
        return out

    broker = AlpacaBroker.__new__(AlpacaBroker)  # no network: only bars() is used, and it is faked
    broker.bars = fake_bars.__get__(broker)  # type: ignore[method-assign]

    class Clock:
        def now(self) -> datetime:
            return now

    # 80% in the first stock, the rest in cash: far outside any band, so the policy must trade
    first = targets.symbols[0]
    cash = Decimal(20_000)
    view = AccountView(
        account=AccountState(cash=cash, equity=Decimal(100_000), buying_power=cash, status="ACTIVE"),
        positions=(PositionState(first, Decimal(800), Decimal(80_000), Decimal(0), Decimal(100)),),
        open_orders=(),
        quotes={s: QuoteState(s, Decimal("99.99"), Decimal("100.01"), None) for s in targets.symbols},
        assets={s: AssetInfo(s, tradable=True, fractionable=True) for s in targets.symbols},
    )
    bot = AccountBot(DYNAMIC, DYNAMIC.accounts[0], broker=broker, store=StateStore(None), clock=Clock())  # type: ignore[arg-type]
    plan = bot.make_plan(view)
    assert plan.decision.fired and plan.orders
    assert (
        "cost_benefit" in plan.decision.trigger
        and "[cooldown: fired] no rebalance on record" in plan.decision.reason
    )
    assert "band x" in plan.decision.reason  # the volatility scale came from the fetched bars
    bot.make_plan(view)
    assert len(calls) == 1 and calls[0][1] == "1Day"  # cached for the day
