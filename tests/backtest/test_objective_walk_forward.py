"""The backtester's ``objective`` policy runs walk-forward (``SimOptions.start``): the sessions before the
start are history its forecasts and fits read, never traded or scored, and nothing after a session
changes what was decided on it."""

from __future__ import annotations

from datetime import date
from functools import cache

from bot.backtest.data import PriceHistory, load_history
from bot.backtest.engine import PolicyRun, SimOptions, TradeKind, simulate
from bot.backtest.metrics import compute_metrics
from bot.backtest.policies import SIXTY_FORTY, policies_for
from bot.config import PolicyConfig, load_config

CONFIG = load_config("config/example.yaml")
HISTORY_FROM, START = date(2010, 1, 4), date(2013, 1, 2)
FALLBACK = "deciding by the configured bands"


@cache
def history(first: date, last: date) -> PriceHistory:
    return load_history(SIXTY_FORTY.symbols, first, last)


def run(first: date, last: date, start: date | None = START, **policy) -> PolicyRun:  # noqa: ANN003
    config = CONFIG.model_copy(update={"policy": PolicyConfig(kind="objective", **policy)})
    objective = policies_for(["objective"], config)[0]
    options = SimOptions(start=start, keep_plans=True)
    return simulate(history(first, last), SIXTY_FORTY, objective, options)


def reasons(result: PolicyRun) -> list[str]:
    return [p.plan.decision.reason for p in result.plans if p.kind is TradeKind.REBALANCE]


def test_sessions_before_the_start_are_read_never_traded_or_scored() -> None:
    result = run(HISTORY_FROM, date(2013, 6, 28), risk_aversion=3e-3)
    assert result.history.days[0] == START  # the run, its equity and its metrics begin at the start
    assert result.equity[0] <= 100_000 and result.equity[0] > 99_900  # invested at the start, not before
    assert {t.kind for t in result.trades if t.day_index == 0} == {TradeKind.INITIAL}
    metrics = compute_metrics(result, CONFIG.bands.to_policy())
    assert metrics.start == START.isoformat()
    # every decision, the first session after the start included, had its risk forecast from the years
    # before it: not one fell back to the bands
    decided = reasons(result)
    assert len(decided) == len(result.history.days) - 1
    assert decided[0].startswith(("trade: forecast tracking error", "wait: forecast tracking error"))
    assert not any(FALLBACK in r for r in decided)
    assert result.rebalance_days  # and it does trade in the half year


def test_without_history_before_the_start_it_falls_back_until_it_has_some() -> None:
    result = run(START, date(2013, 6, 28), start=None, risk_aversion=3e-3)
    decided = reasons(result)
    min_sessions = 63
    assert all(FALLBACK in r for r in decided[: min_sessions - 1])
    assert not any(FALLBACK in r for r in decided[min_sessions:])


def test_a_decision_never_depends_on_a_later_session() -> None:
    """The same run with the data ending three months apart: identical up to the earlier end."""
    short = run(HISTORY_FROM, date(2013, 3, 28), risk_aversion=3e-3)
    long = run(HISTORY_FROM, date(2013, 6, 28), risk_aversion=3e-3)
    shared = len(short.history.days)
    assert long.history.days[:shared] == short.history.days
    assert reasons(long)[: shared - 1] == reasons(short)
    assert [k for k in long.rebalance_days if k < shared] == short.rebalance_days
    assert [(t.day_index, t.symbol, t.qty) for t in long.trades if t.day_index < shared] == [
        (t.day_index, t.symbol, t.qty) for t in short.trades
    ]


def test_the_tracking_preset_is_fitted_on_the_years_before_the_start() -> None:
    result = run(HISTORY_FROM, date(2013, 1, 31), tracking="balanced")
    decided = reasons(result)
    assert decided and all("fitted on the last 504 sessions" in r for r in decided)
    assert not any("prior: not enough history" in r for r in decided)
