"""The wash-sale guard spans the household: after the taxable account harvests a VTI loss, the IRA's next
buy of VTI (which would lose the loss for good) goes to a substitute instead."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from bot.actions import approve_plan
from bot.broker.alpaca import AlpacaBroker
from bot.config import BotConfig
from bot.paper_broker.accounts import AccountsFile, AccountSpec, StartingPosition
from bot.paper_broker.faults import FaultConfig
from bot.paper_broker.server import ClockConfig, PaperBroker, ServerConfig
from bot.state.store import StateStore
from bot.worker import Bot
from tests.bot.harness import OPEN_TIME, BrokerTime
from tests.tax_bot.common import TAX, lot


def spec(name: str, cash: str, **positions) -> AccountSpec:  # noqa: ANN003
    return AccountSpec(
        name=name,
        key_id=f"{name}-key",
        secret_key=f"{name}-secret",
        cash=Decimal(cash),
        positions=tuple(StartingPosition(symbol=s, lots=lots) for s, lots in positions.items()),
    )


def run_until(broker: PaperBroker, bot: Bot, when) -> None:  # noqa: ANN001
    while broker.now < when:
        bot.tick()
        broker.advance(seconds=300)


def test_an_ira_buy_does_not_wash_the_taxable_accounts_harvested_loss(tmp_path):
    accounts = AccountsFile(
        accounts=(
            spec(
                "taxable",
                "500",
                VTI=(lot(110, 200, date(2019, 6, 3)),),
                AGG=(lot(105, 105, date(2018, 1, 2)),),
            ),
            spec("ira", "100", VTI=(lot(55, 150, date(2018, 1, 2)),), AGG=(lot(53, 105, date(2018, 1, 2)),)),
        )
    )
    broker = PaperBroker(
        ServerConfig(
            accounts=accounts,
            clock=ClockConfig(start=date(2019, 12, 17)),
            database=tmp_path / "broker.sqlite",
            faults=FaultConfig(rate_limit_per_minute=None),
        )
    ).start()
    try:
        config = BotConfig.model_validate(
            {
                "accounts": [
                    {"name": n, "broker": "embedded", "base_url": broker.url} for n in ("taxable", "ira")
                ],
                "targets": {"VTI": 0.6, "AGG": 0.4},
                "bands": {"default": {"absolute": 0.05}},
                "approval": {"max_plan_notional": 10**6, "max_plan_fraction": 2},
                "limits": {
                    "max_order_notional": 10**5,
                    "max_plan_notional": 2 * 10**5,
                    "max_daily_notional": 4 * 10**5,
                },
                "state_dir": str(tmp_path / "state"),
                "tax": {
                    **TAX,
                    "accounts": {"taxable": {"type": "taxable"}, "ira": {"type": "ira"}},
                    "substitutes": {"VTI": ["ITOT", "SCHB"]},
                    "harvest": {"enabled": True},
                },
            }
        )
        adapters = {
            n: AlpacaBroker(f"{n}-key", f"{n}-secret", trading_url=broker.url) for n in ("taxable", "ira")
        }
        store = StateStore(tmp_path / "state" / "bot.sqlite")
        bot = Bot(config, adapters, store, clock=BrokerTime(broker))
        run_until(broker, bot, OPEN_TIME + timedelta(minutes=25))
        [harvest] = store.plans(account="taxable", status="held")
        assert [o["symbol"] for o in harvest.details["orders"]] == ["VTI", "ITOT"]
        assert store.plans(account="ira") == []  # the IRA is on target, and never harvests
        approve_plan(store, harvest.plan_id, who="frank", channel="cli")
        run_until(broker, bot, broker.now + timedelta(minutes=30))
        assert store.get_plan(harvest.plan_id).status == "done"

        engine = broker.engine
        with engine.lock:  # a contribution to the IRA: it now has cash to invest, 60% of it in the VTI sleeve
            next(a for a in engine.accounts.values() if a.name == "ira").cash += Decimal("10000")
        run_until(broker, bot, broker.now + timedelta(minutes=10))
        [ira_plan] = store.plans(account="ira", status="held")
        bought = {o["symbol"] for o in ira_plan.details["orders"] if o["side"] == "buy"}
        assert "VTI" not in bought and "ITOT" in bought
        assert "in a tax-advantaged account: the loss would be lost for good" in ira_plan.explanation
        assert (
            ira_plan.details["tax"]["account_type"] == "ira"
            and ira_plan.details["tax"]["estimated_tax"] == "0"
        )
        [avoided] = store.audit_trail(event="wash_sale_avoided", account="ira")
        assert avoided.fields["symbol"] == "VTI"
        assert store.wash_sales() == []  # nothing washed
    finally:
        broker.stop()
