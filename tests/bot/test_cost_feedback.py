"""Realised costs feed back: fills that cost more than the calibrated prior raise the cost the next decision
uses, and ``status`` says so. The real bot against the paper broker, simulated time stepped."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from rich.console import Console

from bot.broker.alpaca import AlpacaBroker
from bot.cost_table import calibrated_spread
from bot.market import live_context
from bot.paper_broker.faults import FaultConfig
from bot.paper_broker.server import ClockConfig, PaperBroker, ServerConfig
from bot.reports import print_status
from bot.state.store import StateStore
from bot.worker import Bot
from tests.bot.harness import KEY, SECRET, BrokerTime, Harness, bot_config, drifted_60_40

OPEN = datetime(2019, 12, 17, 14, 30, tzinfo=UTC)
WIDE = 30.0
"""The spread (bp) the broker quotes SPY and AGG here: a hundred times SPY's calibrated one."""


def wide_market_harness(tmp_path: Path) -> Harness:
    """The bot deciding by the objective against a broker whose SPY and AGG cost far more than the table
    says."""
    broker = PaperBroker(
        ServerConfig(
            accounts=drifted_60_40(),
            clock=ClockConfig(start=date(2019, 12, 17)),
            database=tmp_path / "broker.sqlite",
            faults=FaultConfig(rate_limit_per_minute=None),
            market={"spread_bps": {"SPY": WIDE, "AGG": WIDE}},
        )
    ).start()
    config = bot_config(broker.url, tmp_path / "state", policy={"kind": "objective"})
    adapter = AlpacaBroker(KEY, SECRET, trading_url=broker.url)
    store = StateStore(tmp_path / "state" / "bot.sqlite")
    bot = Bot(config, {"main": adapter}, store, clock=BrokerTime(broker))
    return Harness(broker, bot, store, adapter)


def decision_spread(harness: Harness, symbol: str) -> float:
    """The full spread the bot's decision would charge ``symbol`` now (what ``bot.cycle`` hands the
    objective)."""
    context = live_context(harness.adapter, harness.store, "main", harness.broker.now, ["SPY", "AGG"], 60)
    return context.market.costs[symbol].spread_bps


def test_fills_dearer_than_the_prior_raise_the_next_decisions_cost_estimate(tmp_path: Path) -> None:
    harness = wide_market_harness(tmp_path)
    try:
        assert decision_spread(harness, "SPY") == calibrated_spread("SPY")  # no fills yet: the prior
        harness.run_until(OPEN + timedelta(hours=2))
        plan = harness.store.plans(account="main")[-1]
        assert plan.status == "done"
        spy = [r for r in harness.store.execution_reports(symbol="SPY") if r.filled_qty > 0]
        assert {r.policy for r in spy} == {"single"}  # small orders, sent whole: what the estimate reads
        assert spy and all(r.shortfall_bp > WIDE / 2 * 0.8 for r in spy)  # paid ~half the wide spread

        after = decision_spread(harness, "SPY")
        measured = sum(r.shortfall_bp for r in spy) / len(spy)
        assert calibrated_spread("SPY") * 5 < after < 2 * measured  # moved toward the fills, not all the way

        out = io.StringIO()
        print_status(harness.bot.config, harness.store, console=Console(file=out, width=200))
        line = next(x for x in out.getvalue().splitlines() if x.startswith("cost estimate for SPY"))
        assert f"prior {calibrated_spread('SPY') / 2:.2f} bp" in line
        assert f"measured {measured:.2f} bp over {len(spy)} fill" in line
        assert f"using {after / 2:.2f} bp" in line
    finally:
        harness.broker.stop()
