"""End to end in a real browser: the bot holds a large plan on the paper broker, the prompt arrives at a local
HTTP receiver through Apprise's ``json://``, headless Chromium (Debian's, driven by Playwright) approves it
on the dashboard or through the prompt's link, and the orders that follow match the approved plan.

Screenshots go to ``tmp_path`` (and to ``$REBALANCE_BOT_SCREENSHOTS`` when set, to look at them)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from tests.bot.harness import OPEN_TIME
from tests.web.chromium import screenshot
from tests.web.conftest import TOKEN, Rig

pytestmark = pytest.mark.slow


def assert_orders_match_the_approved_plan(rig: Rig, plan_id: str) -> None:
    rig.harness.run_until(OPEN_TIME + timedelta(hours=3))
    plan = rig.store.get_plan(plan_id)
    assert plan.status == "done", plan.status_reason
    sent = sorted(rig.bot_orders(), key=lambda o: o.sequence)
    approved = plan.details["orders"]
    assert [(o.symbol, o.side) for o in sent] == [(s["symbol"], s["side"]) for s in approved]
    for order, spec in zip(sent, approved, strict=True):
        assert order.status == "filled"
        assert order.client_order_id == f"{plan_id}-{spec['seq']}"
        if spec["qty"] is not None:
            assert order.qty == Decimal(spec["qty"])
        else:
            assert order.notional <= Decimal(spec["notional"])  # never above the approved amount


def test_a_large_plan_is_approved_on_the_dashboard_in_chromium_and_the_orders_match(rig, browser, tmp_path):
    held = rig.hold_plan()
    assert rig.bot_orders() == []
    links = rig.prompt_links()  # the prompt came through Apprise json:// to the local receiver
    [prompt] = rig.receiver.prompts()
    assert held.plan_id in prompt["message"] and "Why now:" in prompt["message"]
    assert links["approve"].startswith(f"{rig.base}/approvals/{held.plan_id}/approve?t=")

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    response = page.goto(f"{rig.base}/")
    assert response.status == 401  # no session yet: the sign-in form
    page.fill("input[name=token]", TOKEN)
    page.fill("input[name=who]", "Ivan")
    page.click("button:has-text('Sign in')")
    card = page.locator(f'[id="approval-{held.plan_id}"]')
    card.wait_for()
    assert "SELL" in card.inner_text() and "Why you are asked" in card.inner_text()
    assert "Weights against targets" in page.inner_text("body").title() or "weights against targets" in (
        page.inner_text("body")
    )
    shot = screenshot(page, tmp_path, "dashboard.png")
    assert shot.stat().st_size > 10_000
    card.locator("button.approve").click()
    page.wait_for_selector("text=Approved")
    assert held.plan_id in page.inner_text("body")

    approval = rig.store.get_approval(held.plan_id)
    assert (approval.status, approval.decided_by, approval.channel) == ("approved", "Ivan", "dashboard")
    [event] = rig.store.audit_trail(event="plan_approved")
    assert event.fields["content_hash"] == held.content_hash and event.fields["user_agent"]
    assert_orders_match_the_approved_plan(rig, held.plan_id)
    page.goto(f"{rig.base}/")
    assert "No plan is waiting for a decision" in page.inner_text("body")
    screenshot(page, tmp_path, "dashboard-after.png")


def test_the_prompts_approve_link_opens_a_confirmation_in_chromium_and_the_orders_match(
    rig, browser, tmp_path
):
    held = rig.hold_plan()
    link = rig.prompt_links()["approve"]
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    assert page.goto(link).status == 200
    assert f"Approve plan {held.plan_id}" in page.inner_text("h2")
    assert rig.store.get_plan(held.plan_id).status == "held"  # opening the link decided nothing
    screenshot(page, tmp_path, "confirm.png")
    page.fill("input[name=who]", "Judy")
    page.click("button.approve")
    page.wait_for_selector("text=Approved")
    assert (
        rig.store.get_approval(held.plan_id).decided_by,
        rig.store.get_approval(held.plan_id).channel,
    ) == (
        "Judy",
        "link",
    )
    page.go_back()  # the same link again, from the browser's history: refused, whether re-fetched or not
    if page.locator("button.approve").count():
        page.click("button.approve")
    page.wait_for_selector("text=used already")
    assert_orders_match_the_approved_plan(rig, held.plan_id)
