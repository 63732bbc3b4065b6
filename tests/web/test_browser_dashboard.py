"""The dashboard's charts, live refresh and layout in real headless Chromium (issue 16, item 5).

A real bot trades on the paper broker over HTTP while the page is open; simulated time is stepped on the
broker, never slept on. What is checked is what a person would see: the charts hold exactly the points the
JSON API serves, a fill, a new plan and a new close appear on the open page without a reload, the countdown
on a pending decision matches its expiry, and no table is cut at 1,024 or 1,440 px. Screenshots go to the
test's tmp dir (and to ``$REBALANCE_BOT_SCREENSHOTS`` when set)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
import requests

from bot.web.charts import day_seconds
from tests.bot.harness import OPEN_TIME
from tests.web.chromium import screenshot
from tests.web.conftest import TOKEN, Rig

pytestmark = pytest.mark.slow

AUTH = {"Authorization": f"Bearer {TOKEN}"}
ON_ITS_OWN = {"approval": {"max_plan_notional": 200000}}
"""The drifted 60/40 account's plan (~$10k) executes without asking anyone."""

CHART = """id => {
  const u = window.rebalanceCharts[id];
  if (!u) return null;
  const canvas = u.root.querySelector('canvas');
  return {
    labels: u.series.map(s => s.label ?? null), data: u.data, canvas: canvas ? canvas.width : 0,
    categories: u.categories ?? null,
  };
}"""

CLIPPED = """() => {
  const out = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth)
    out.push(`the page scrolls sideways: ${doc.scrollWidth} > ${doc.clientWidth}`);
  const scrolled = [];
  document.querySelectorAll('table').forEach((table, i) => {
    const box = table.parentElement;
    const where = (table.closest('[id]') || {}).id || `table ${i}`;
    const overflowX = getComputedStyle(box).overflowX;
    if (table.scrollWidth > box.clientWidth) {
      const size = `${table.scrollWidth} > ${box.clientWidth}`;
      if (overflowX !== 'auto' && overflowX !== 'scroll') out.push(`${where}: table cut (${size})`);
      else scrolled.push(`${where}: scrolls (${size})`);
    }
    const section = box.closest('section');
    if (section && box.getBoundingClientRect().right > section.getBoundingClientRect().right + 0.5)
      out.push(`${where}: table box sticks out of its section`);
  });
  return {problems: out, scrolled, tables: document.querySelectorAll('table').length};
}"""


def sign_in(browser, rig: Rig, width: int):  # noqa: ANN001, ANN201
    """A page signed in to the dashboard, its event stream connected; and the list its script errors go to."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    assert page.goto(f"{rig.base}/").status == 401
    errors.clear()  # the browser reports the sign-in form's 401 as a failed load
    page.fill("input[name=token]", TOKEN)
    page.fill("input[name=who]", "Ana")
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("#live-accounts")
    page.wait_for_function("() => document.getElementById('live-state').textContent === 'live'")
    return page, errors


def chart(page, chart_id: str) -> dict:  # noqa: ANN001
    drawn = page.evaluate(CHART, chart_id)
    assert drawn is not None, f"no chart {chart_id}"
    assert drawn["canvas"] > 0, f"{chart_id} has no canvas"
    return drawn


def series(drawn: dict, label: str) -> list:
    return drawn["data"][drawn["labels"].index(label)]


def pct(value: str | None) -> float | None:
    return None if value is None else float(Decimal(value) * 100)


def test_the_charts_draw_the_equity_weights_and_drift_that_the_api_serves(rig_factory, browser, tmp_path):
    rig = rig_factory(**ON_ITS_OWN)
    rig.harness.run_until(OPEN_TIME + timedelta(hours=2))  # the plan executes on the first session
    rig.harness.run_until(OPEN_TIME + timedelta(days=2, hours=7), step=timedelta(minutes=30))  # 3 closes
    days = requests.get(f"{rig.base}/api/equity", headers=AUTH, timeout=10).json()
    assert [d["day"] for d in days] == ["2019-12-17", "2019-12-18", "2019-12-19"]

    page, errors = sign_in(browser, rig, 1280)
    status = requests.get(f"{rig.base}/api/status", headers=AUTH, timeout=10).json()["accounts"]["main"]

    equity = chart(page, "equity-main")
    assert equity["data"][0] == [day_seconds(date.fromisoformat(d["day"])) for d in days]
    assert series(equity, "equity") == pytest.approx([float(d["equity"]) for d in days])

    weights = chart(page, "weights-main")
    assert weights["data"][0] == equity["data"][0]
    for symbol in ("SPY", "AGG", "cash"):
        assert series(weights, symbol) == pytest.approx([pct(d["weights"][symbol]) for d in days])
        targets = [pct(d["targets"][symbol]) for d in days]
        assert series(weights, f"{symbol} target") == pytest.approx(targets)
        # the harness's bands are 5 points either side of the target (never below 0)
        assert series(weights, f"{symbol} band top") == pytest.approx([t + 5 for t in targets])
        assert series(weights, f"{symbol} band bottom") == pytest.approx([max(t - 5, 0) for t in targets])

    drift = chart(page, "drift-main")
    expected = {h["symbol"]: pct(h["drift"]) for h in status["holdings"]}
    expected["cash"] = pct(status["cash_weight"]) - pct(status["cash_target"])
    assert drift["categories"] == ["SPY", "AGG", "cash"]  # targets first, as in the positions table
    for index, symbol in enumerate(drift["categories"]):
        inside, outside = series(drift, "inside band")[index], series(drift, "outside band")[index]
        assert outside is None  # the plan brought every asset back inside its band
        assert inside == pytest.approx(expected[symbol], abs=1e-9)
        assert series(drift, "band edges")[index] == pytest.approx(5)
    assert page.inner_text("header .mode") == "PAPER"
    assert errors == []
    shot = screenshot(page, tmp_path, "dashboard-charts.png")
    assert shot.stat().st_size > 20_000


def countdown_minutes(text: str) -> int:
    match = re.fullmatch(r"(?:(\d+) h (\d+) min|(\d+) min \d+ s) left", text)
    assert match, text
    hours, minutes, only = match.groups()
    return int(hours) * 60 + int(minutes) if hours else int(only)


def test_a_new_plan_its_fills_and_a_new_close_appear_on_the_open_page_without_a_reload(
    rig_factory, browser, tmp_path
):
    rig = rig_factory()  # plans over $1,000 wait for a decision
    page, errors = sign_in(browser, rig, 1280)
    page.evaluate("window.sameDocument = true")  # gone if the page were ever loaded again
    assert "No plan is waiting" in page.inner_text("#live-approvals")
    assert page.evaluate("window.rebalanceCharts['equity-main'] === undefined")  # no close seen yet

    held = rig.hold_plan()  # the bot plans while the page is open
    card = page.locator(f'[id="approval-{held.plan_id}"]')
    card.wait_for()
    approval = rig.store.get_approval(held.plan_id)
    left = (approval.expires_at - rig.harness.broker.now).total_seconds() / 60
    # the market clock was stepped on after the card was first drawn: the stream sends the new time at once
    page.wait_for_function(
        """([id, left]) => {
          const text = document.querySelector(`[id="approval-${id}"] .countdown`).textContent;
          const m = text.match(/^(?:(\\d+) h (\\d+) min|(\\d+) min \\d+ s) left$/);
          return m && Math.abs((m[1] ? +m[1] * 60 + +m[2] : +m[3]) - left) <= 1;
        }""",
        arg=[held.plan_id, left],
        timeout=5000,  # well within the 15 s heartbeat: the jump itself is what sends the time
    )
    assert abs(countdown_minutes(card.locator(".countdown").inner_text()) - left) <= 1
    before_after = chart(page, f"plan-{held.plan_id}")
    trigger = {a["symbol"]: a for a in held.details["trigger"]["assets"]}
    assert series(before_after, "before") == pytest.approx([pct(trigger[s]["weight"]) for s in trigger])
    assert series(before_after, "after") == pytest.approx(
        [pct(held.details["weights_after"][s]) for s in trigger]
    )

    decided = requests.post(
        f"{rig.base}/api/approvals/{held.plan_id}/approve",
        json={"content_hash": held.content_hash, "who": "Bo"},
        headers=AUTH,
        timeout=10,
    )
    assert decided.status_code == 200, decided.text
    rig.harness.run_until(OPEN_TIME + timedelta(hours=3))  # the bot sends the orders; the broker fills them
    assert rig.store.get_plan(held.plan_id).status == "done"
    orders = rig.store.orders(plan_id=held.plan_id)
    assert orders and all(o.status == "filled" for o in orders)
    for order in orders:
        row = page.locator("#live-orders tr", has_text=order.client_order_id)
        row.wait_for()
        page.wait_for_function(
            "([id, text]) => [...document.querySelectorAll('#live-orders tr')]"
            ".some(tr => tr.textContent.includes(id) && tr.textContent.includes(text))",
            arg=[order.client_order_id, "filled"],
        )
        assert str(order.filled_qty) in row.inner_text()
    page.wait_for_selector("#live-approvals >> text=No plan is waiting for a decision")

    rig.harness.run_until(OPEN_TIME + timedelta(hours=8), step=timedelta(minutes=30))  # past the close
    page.wait_for_function(
        "() => (window.rebalanceCharts['equity-main'] || {data: [[]]}).data[0].length === 1"
    )
    [day] = requests.get(f"{rig.base}/api/equity", headers=AUTH, timeout=10).json()
    assert series(chart(page, "equity-main"), "equity") == pytest.approx([float(day["equity"])])

    assert page.evaluate("window.sameDocument") is True
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert page.evaluate("window.rebalanceRefreshes") >= 3
    assert errors == []
    screenshot(page, tmp_path, "dashboard-live.png")


@pytest.mark.parametrize("width", [1024, 1440])
def test_no_table_is_cut_on_the_dashboard_or_the_confirmation_page(rig_factory, browser, tmp_path, width):
    rig = rig_factory()
    held = rig.hold_plan()
    link = rig.prompt_links()["approve"]

    page, errors = sign_in(browser, rig, width)
    page.wait_for_function(f"() => window.rebalanceCharts['plan-{held.plan_id}'] !== undefined")
    layout = page.evaluate(CLIPPED)
    assert layout["problems"] == [], layout
    assert layout["tables"] >= 5 and layout["scrolled"] == [], layout  # they fit: no scrolling needed
    screenshot(page, tmp_path, f"dashboard-{width}.png")

    confirm = browser.new_page(viewport={"width": width, "height": 900})
    assert confirm.goto(link).status == 200
    confirm.wait_for_function(f"() => window.rebalanceCharts['plan-{held.plan_id}'] !== undefined")
    layout = confirm.evaluate(CLIPPED)
    assert layout["problems"] == [] and layout["scrolled"] == [], layout
    assert confirm.inner_text("header .mode") == "PAPER"
    screenshot(confirm, tmp_path, f"confirm-{width}.png")
    assert rig.store.get_plan(held.plan_id).status == "held"  # looking decided nothing
    assert errors == []
