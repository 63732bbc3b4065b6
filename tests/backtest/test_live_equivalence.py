"""The live bot's ``plan`` and the backtester make the same trades from the same prices, holdings and config.

For sessions of a backtest of the configured bot, the account the backtester held before trading (its shares
and cash) and the quotes it traded on (mid +/- half the spread) are handed to the live bot as a broker would
hand them: an ``AccountView`` of positions, balances, quotes and assets. ``AccountBot.make_plan`` (what
``rebalance-bot plan`` and every live cycle call) builds its snapshot with ``bot.snapshot.build_snapshot`` and
plans; its orders must be the backtester's, to the share and the cent.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bot.backtest.costs import CostModel
from bot.backtest.data import DividendMode, load_history
from bot.backtest.engine import CashFlows, FlowsTo, PolicyRun, SimOptions, TradeKind, simulate
from bot.backtest.policies import bot_policy
from bot.broker.models import AccountState, AssetInfo, PositionState, QuoteState
from bot.config import load_config
from bot.cycle import AccountBot
from bot.snapshot import AccountView
from bot.state.store import StateStore
from strategies.money import as_decimal
from strategies.plan import RebalancePlan
from strategies.schedules import Period, Periodic

CONFIG = load_config("config/example.yaml").model_copy(update={"policy": None})
"""The plain band path (``bot`` policy); the ``policy`` section's dynamic trigger is built by the same code
for both sides, see ``tests/backtest/test_dynamic_policy.py``."""
TARGETS = CONFIG.targets.to_allocation()


@pytest.fixture(scope="module")
def run() -> PolicyRun:
    history = load_history(TARGETS.symbols, date(2007, 7, 26), date(2022, 12, 30))
    options = SimOptions(
        capital=250_000.0,
        dividends=DividendMode.CASH,
        costs=CostModel(spread_bps=4.0),
        flows=CashFlows(
            2_500.0, Periodic(Period.QUARTER), FlowsTo.CASH
        ),  # cash piles up: the cash band fires
        keep_plans=True,
    )
    return simulate(history, TARGETS, bot_policy(CONFIG), options)


def live_plan(run: PolicyRun, k: int) -> RebalancePlan:
    """What the live bot plans for the account and quotes the backtester saw before trading on session k."""
    costs = run.options.costs
    prices = run.history.prices(run.options.dividends)  # the close, dividends being paid in cash
    quotes, positions = {}, []
    for i, symbol in enumerate(run.history.symbols):
        mid, half = float(prices[k, i]), costs.half_spread(symbol)
        quotes[symbol] = QuoteState(symbol, as_decimal(mid * (1 - half)), as_decimal(mid * (1 + half)), None)
        qty = float(run.pre_positions[k, i])
        if qty > 0:
            value = as_decimal(qty * mid)
            positions.append(PositionState(symbol, as_decimal(qty), value, Decimal(0), as_decimal(mid)))
    cash = as_decimal(float(run.pre_cash[k]))
    view = AccountView(
        account=AccountState(cash=cash, equity=cash, buying_power=cash, status="ACTIVE"),
        positions=tuple(positions),
        open_orders=(),
        quotes=quotes,
        assets={s: AssetInfo(s, tradable=True, fractionable=True) for s in run.history.symbols},
    )
    bot = AccountBot(CONFIG, CONFIG.accounts[0], broker=None, store=StateStore(None), clock=None)  # type: ignore[arg-type]
    return bot.make_plan(view)


def test_every_rebalance_of_the_backtest_is_the_live_bots_plan(run: PolicyRun) -> None:
    assert len(run.rebalance_days) >= 20
    cash_breaches = [k for k in run.rebalance_days if run.plan_on(k).plan.decision.asset("cash").breached]
    assert cash_breaches  # some rebalances were the cash band's (deposits and dividends piling up)
    for k in run.rebalance_days:
        ours = run.plan_on(k, TradeKind.REBALANCE)
        assert ours is not None
        theirs = live_plan(run, k)
        assert [o.content() for o in theirs.orders] == [o.content() for o in ours.plan.orders]
        assert theirs.content_hash() == ours.plan.content_hash()
        assert [o.est_notional for o in theirs.orders] == [o.est_notional for o in ours.plan.orders]
        assert theirs.decision.reason == ours.plan.decision.reason
        assert dict(theirs.weights_after) == dict(ours.plan.weights_after)
        # and the backtester filled exactly those orders
        filled = [(t.symbol, t.side) for t in run.trades if t.day_index == k]
        assert filled == [(o.symbol, o.side) for o in ours.plan.orders]


def test_quiet_sessions_are_quiet_for_the_live_bot_too(run: PolicyRun) -> None:
    quiet = [r.day_index for r in run.plans if not r.plan.orders]
    fired_without_orders = [r.day_index for r in run.plans if r.plan.decision.fired and not r.plan.orders]
    sample = quiet[:: max(1, len(quiet) // 25)] + fired_without_orders[:5]
    assert len(sample) > 20
    for k in sample:
        theirs = live_plan(run, k)
        ours = run.plan_on(k, TradeKind.REBALANCE)
        assert ours is not None
        assert theirs.orders == () and theirs.decision.fired == ours.plan.decision.fired
        assert theirs.decision.reason == ours.plan.decision.reason
