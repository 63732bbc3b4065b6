"""The dashboard's live picture and equity history, and the notifications of what the bot traded (issue 16,
items 4 and 6): a real bot on the paper broker over HTTP, its dashboard served by uvicorn, messages through
Apprise's ``json://`` to a local receiver; time stepped on the broker."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import requests

from bot.reports import signed_usd, usd
from bot.trade_notices import shortfall_usd
from tests.bot.harness import OPEN_TIME
from tests.web.conftest import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
ON_ITS_OWN = {"approval": {"max_plan_notional": 200000}}
"""The drifted 60/40 account's plan (~$10k) executes without asking anyone."""


def titles(rig) -> list[str]:  # noqa: ANN001
    rig.harness.bot.notifier.flush()
    return [m.get("title", "") for m in rig.receiver.messages]


def test_the_dashboard_and_its_api_show_the_account_live_and_the_daily_equity(rig_factory):
    rig = rig_factory(**ON_ITS_OWN)
    rig.harness.run_until(OPEN_TIME + timedelta(hours=2))
    [plan] = rig.store.plans(account="main")
    assert plan.status == "done"
    held = {p.symbol: p for p in rig.harness.adapter.positions()}

    status = requests.get(f"{rig.base}/api/status", headers=AUTH, timeout=10).json()
    main = status["accounts"]["main"]
    assert main["live"] is True and main["problem"] is None
    shown = {h["symbol"]: h for h in main["holdings"]}
    assert Decimal(shown["SPY"]["qty"]) == held["SPY"].qty  # after the plan's sell, not its snapshot
    assert Decimal(shown["AGG"]["value"]) == held["AGG"].market_value
    assert abs(Decimal(shown["AGG"]["drift"])) < Decimal("0.05")

    page = rig.login().get(f"{rig.base}/", timeout=10).text
    assert "positions, weights against targets" in page
    assert f"{held['SPY'].qty.normalize():f}" in page and usd(held["AGG"].market_value) in page

    assert requests.get(f"{rig.base}/api/equity", headers=AUTH, timeout=10).json() == []
    rig.harness.run_until(OPEN_TIME + timedelta(hours=8), step=timedelta(minutes=30))  # past the close
    [day] = requests.get(f"{rig.base}/api/equity", headers=AUTH, timeout=10).json()
    assert day["account"] == "main" and day["day"] == "2019-12-17"
    assert Decimal(day["equity"]) == rig.harness.adapter.account().equity
    assert set(day["weights"]) == {"SPY", "AGG", "cash"} and day["targets"]["SPY"] == "0.6"
    assert requests.get(f"{rig.base}/api/equity").status_code == 401


def test_a_finished_plan_sends_one_summary_of_what_traded_and_its_cost_against_the_estimate(rig_factory):
    rig = rig_factory(**ON_ITS_OWN)
    rig.harness.run_until(OPEN_TIME + timedelta(hours=3))
    [plan] = rig.store.plans(account="main")
    assert plan.status == "done"
    rig.harness.bot.notifier.flush()
    summaries = [m for m in rig.receiver.messages if "(plan done)" in m.get("title", "")]
    assert len(summaries) == 1, titles(rig)
    body = summaries[0]["message"]
    reports = rig.store.execution_reports(plan_id=plan.plan_id)
    assert {r.symbol for r in reports} == {"SPY", "AGG"}
    for report in reports:
        line = next(line for line in body.splitlines() if f" {report.symbol} " in line)
        assert line.split()[0] == report.side
        assert f"= {usd(report.filled_notional)}" in line and "(planned ~$" in line
    traded = sum((r.filled_notional for r in reports), Decimal(0))
    assert f"In all {usd(traded)} traded" in body
    estimate = Decimal(plan.details["estimates"]["spread_cost"])
    assert f"Cost: {signed_usd(shortfall_usd(reports))}" in body
    assert f"estimated {usd(estimate)} (half the spread)" in body
    assert summaries[0]["title"] == f"rebalance-bot: main traded {usd(traded)} (plan done)"
    assert not [t for t in titles(rig) if " bought " in t or " sold " in t]  # fills: off by default


def test_plan_summaries_switched_off_send_nothing_and_fills_switched_on_send_one_per_order(rig_factory):
    rig = rig_factory(**ON_ITS_OWN, notifications={"plans": False, "fills": True})
    rig.harness.run_until(OPEN_TIME + timedelta(hours=3))
    [plan] = rig.store.plans(account="main")
    assert plan.status == "done"
    sent = titles(rig)
    assert not [t for t in sent if "(plan done)" in t]
    fills = sorted(t for t in sent if " bought " in t or " sold " in t)
    assert len(fills) == 2, sent
    assert fills[0].startswith("rebalance-bot: main bought ") and fills[0].endswith(" AGG")
    assert fills[1].startswith("rebalance-bot: main sold ") and fills[1].endswith(" SPY")


def test_refusals_switched_off_send_no_alert_while_status_still_says_why(rig_factory):
    quiet = rig_factory(
        **ON_ITS_OWN,
        limits={"max_order_notional": 1000, "max_plan_notional": 2000, "max_daily_notional": 4000},
        notifications={"refusals": False},
    )
    quiet.harness.run_until(OPEN_TIME + timedelta(minutes=40))
    assert quiet.store.plans(account="main", status="refused")
    assert quiet.store.get_flag("limits:main")  # status and the dashboard still say why
    assert not [t for t in titles(quiet) if "hard limit" in t], titles(quiet)
