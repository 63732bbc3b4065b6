"""The dashboard over real HTTP (uvicorn on a free port, ``requests``): every way to decide without the right
to is refused, and nothing reaches the paper broker. Each test ends by running the bot on and checking that
no order was sent."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
import requests

from bot.approval.links import LinkSigner
from tests.bot.harness import OPEN_TIME
from tests.web.conftest import KEY, TOKEN, Rig

# Slow tier: the dashboard's refusals, each through a bot on the paper broker
# (CI runs the slow tier; the README's quick command skips it.)
pytestmark = pytest.mark.slow


def confirm_token(response: requests.Response) -> str:
    match = re.search(r'name=t value="([^"]+)"', response.text)
    assert match, response.text[:800]
    return match.group(1)


def post_link(rig: Rig, link: str, token: str | None = None, **extra: str) -> requests.Response:
    path, _, query = link.partition("?t=")
    data = {"t": token or query, **extra}
    return requests.post(path, data=data, headers={"Origin": rig.base}, timeout=10)


def nothing_executed(rig: Rig, until_hours: float = 2) -> None:
    """Run the bot on: no order reaches the broker."""
    rig.harness.run_until(OPEN_TIME + timedelta(hours=until_hours))
    assert rig.bot_orders() == []


def test_health_needs_no_token(rig):
    response = requests.get(f"{rig.base}/health", timeout=10)
    assert response.status_code in (200, 503) and response.json()["status"] in ("ok", "stale")
    rig.harness.bot.tick()
    assert requests.get(f"{rig.base}/health", timeout=10).json()["status"] == "ok"


def test_requests_without_the_token_get_401_and_change_nothing(rig):
    held = rig.hold_plan()
    plain = requests.Session()
    page = plain.get(f"{rig.base}/", timeout=10)
    assert page.status_code == 401 and "Sign in" in page.text and held.plan_id not in page.text
    for path in ("/api/status", "/api/approvals", "/api/plans", "/api/orders", "/api/log"):
        assert plain.get(f"{rig.base}{path}", timeout=10).status_code == 401, path
        wrong = {"Authorization": "Bearer not-the-token-at-all"}
        assert plain.get(f"{rig.base}{path}", headers=wrong, timeout=10).status_code == 401, path
    api = plain.post(
        f"{rig.base}/api/approvals/{held.plan_id}/approve",
        json={"content_hash": held.content_hash},
        timeout=10,
    )
    assert api.status_code == 401 and api.headers["www-authenticate"] == "Bearer"
    form = plain.post(
        f"{rig.base}/approvals/{held.plan_id}/approve",
        data={"content_hash": held.content_hash, "csrf": "x"},
        headers={"Origin": rig.base},
        timeout=10,
    )
    assert form.status_code == 401
    bad_login = plain.post(
        f"{rig.base}/login", data={"token": "guess"}, headers={"Origin": rig.base}, timeout=10
    )
    assert bad_login.status_code == 401 and "rb_session" not in plain.cookies
    forged_cookie = requests.get(f"{rig.base}/", cookies={"rb_session": "abc.def"}, timeout=10)
    assert forged_cookie.status_code == 401
    assert rig.store.get_plan(held.plan_id).status == "held"
    nothing_executed(rig)


def test_the_api_with_the_bearer_token_reads_and_decides_on_a_version(rig):
    held = rig.hold_plan()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    [pending] = requests.get(f"{rig.base}/api/approvals", headers=auth, timeout=10).json()
    assert pending["plan_id"] == held.plan_id and pending["content_hash"] == held.content_hash
    stale = requests.post(
        f"{rig.base}/api/approvals/{held.plan_id}/approve",
        json={"content_hash": "0" * 64},
        headers=auth,
        timeout=10,
    )
    assert stale.status_code == 409 and "content hash" in stale.json()["detail"]
    missing = requests.post(
        f"{rig.base}/api/approvals/{held.plan_id}/approve", json={}, headers=auth, timeout=10
    )
    assert missing.status_code == 422
    assert rig.store.get_plan(held.plan_id).status == "held"
    status = requests.get(f"{rig.base}/api/status", headers=auth, timeout=10).json()
    assert status["pending_approvals"] == [held.plan_id] and status["accounts"]["main"]["holdings"]
    nothing_executed(rig, until_hours=1)


def test_a_cross_site_form_post_is_refused(rig):
    held = rig.hold_plan()
    session = rig.login()
    csrf = rig.csrf(session)
    form = {"csrf": csrf, "content_hash": held.content_hash}
    url = f"{rig.base}/approvals/{held.plan_id}/approve"
    evil = session.post(url, data=form, headers={"Origin": "http://evil.example"}, timeout=10)
    assert evil.status_code == 403 and "Cross-site" in evil.text
    opaque = session.post(url, data=form, headers={"Origin": "null"}, timeout=10)
    assert opaque.status_code == 403
    via_referer = session.post(url, data=form, headers={"Referer": "http://evil.example/page"}, timeout=10)
    assert via_referer.status_code == 403
    no_csrf = session.post(
        url, data={"content_hash": held.content_hash}, headers={"Origin": rig.base}, timeout=10
    )
    assert no_csrf.status_code == 403
    wrong_csrf = session.post(
        url, data={**form, "csrf": "A" * len(csrf)}, headers={"Origin": rig.base}, timeout=10
    )
    assert wrong_csrf.status_code == 403
    other_session = rig.login("mallory")
    stolen_csrf = other_session.post(url, data=form, headers={"Origin": rig.base}, timeout=10)
    assert stolen_csrf.status_code == 403  # a CSRF token is bound to its session
    cross_login = requests.post(
        f"{rig.base}/login", data={"token": TOKEN}, headers={"Origin": "http://evil.example"}, timeout=10
    )
    assert cross_login.status_code == 403
    assert rig.store.get_plan(held.plan_id).status == "held"
    assert rig.store.audit_trail(event="web_refused")
    nothing_executed(rig)


def test_a_forged_link_is_refused(rig):
    held = rig.hold_plan()
    link = rig.prompt_links()["approve"]
    path, _, token = link.partition("?t=")
    body, signature = token.split(".")
    other_plan_body = LinkSigner(KEY).sign("rb-main-other", held.content_hash, "approve", 3600).split(".")[0]
    forgeries = [
        f"{body}.{signature[::-1]}",  # signature scrambled
        f"{other_plan_body}.{signature}",  # payload swapped under the same signature
        LinkSigner(b"another-key-0123456789abcdef0123").sign(
            held.plan_id, held.content_hash, "approve", 3600
        ),
        "garbage",
    ]
    for forged in forgeries:
        assert requests.get(f"{path}?t={forged}", timeout=10).status_code == 403
        assert post_link(rig, link, forged).status_code == 403
    reject_link_as_approve = rig.prompt_links()["reject"].partition("?t=")[2]
    assert post_link(rig, link, reject_link_as_approve).status_code == 403  # bound to its action
    assert rig.store.get_plan(held.plan_id).status == "held"
    nothing_executed(rig)


def test_an_expired_link_is_refused(rig):
    held = rig.hold_plan()
    yesterday = LinkSigner(KEY, wall=lambda: time.time() - 86_400)
    expired = yesterday.sign(held.plan_id, held.content_hash, "approve", 3600)
    link = f"{rig.base}/approvals/{held.plan_id}/approve?t={expired}"
    page = requests.get(link, timeout=10)
    assert page.status_code == 403 and "expired" in page.text
    assert post_link(rig, link).status_code == 403
    assert rig.store.get_plan(held.plan_id).status == "held"
    nothing_executed(rig)


def test_a_link_does_nothing_on_get_and_a_replayed_link_is_refused(rig):
    held = rig.hold_plan()
    links = rig.prompt_links()
    for _ in range(3):  # link scanners and previews fetch links: GET only shows the confirmation page
        page = requests.get(links["reject"], timeout=10)
        assert page.status_code == 200 and "Reject plan" in page.text
    assert rig.store.get_plan(held.plan_id).status == "held"
    first = post_link(rig, links["reject"], who="frank", reason="too big")
    assert first.status_code == 200 and "Rejected" in first.text
    replay = post_link(rig, links["reject"], who="frank")
    assert replay.status_code == 409 and "used already" in replay.text
    assert requests.get(links["reject"], timeout=10).status_code == 409
    # the approve link of the same prompt cannot undo the rejection
    late = post_link(rig, links["approve"])
    assert late.status_code == 409
    approval = rig.store.get_approval(held.plan_id)
    assert (approval.status, approval.decided_by, approval.channel, approval.reason) == (
        "rejected",
        "frank",
        "link",
        "too big",
    )
    [event] = rig.store.audit_trail(event="plan_rejected")
    assert event.fields["content_hash"] == held.content_hash and event.fields["channel"] == "link"
    nothing_executed(rig, until_hours=3)
    assert [p.status for p in rig.store.plans()] == ["rejected"]  # and it is not asked again


def test_a_rejection_on_the_dashboard_executes_nothing(rig):
    held = rig.hold_plan()
    session = rig.login("grace")
    response = session.post(
        f"{rig.base}/approvals/{held.plan_id}/reject",
        data={"csrf": rig.csrf(session), "content_hash": held.content_hash, "reason": "wait for the vote"},
        headers={"Origin": rig.base},
        timeout=10,
    )
    assert response.status_code == 200 and "Rejected" in response.text
    approval = rig.store.get_approval(held.plan_id)
    assert (approval.decided_by, approval.channel) == ("grace", "dashboard")
    nothing_executed(rig, until_hours=3)
    assert len(rig.receiver.prompts()) == 1


def test_a_link_after_expiry_is_refused(rig):
    held = rig.hold_plan()
    links = rig.prompt_links()
    rig.harness.run_until(OPEN_TIME + timedelta(hours=6, minutes=40))  # past the 16:00 New York close
    assert rig.store.get_plan(held.plan_id).status == "expired"
    assert requests.get(links["approve"], timeout=10).status_code == 409
    response = post_link(rig, links["approve"])
    assert response.status_code == 409 and "expired" in response.text
    session = rig.login()
    dashboard = session.post(
        f"{rig.base}/approvals/{held.plan_id}/approve",
        data={"csrf": rig.csrf(session), "content_hash": held.content_hash},
        headers={"Origin": rig.base},
        timeout=10,
    )
    assert dashboard.status_code == 409
    assert rig.bot_orders() == []


def test_a_stale_dashboard_form_is_refused(rig):
    held = rig.hold_plan()
    session = rig.login()
    response = session.post(
        f"{rig.base}/approvals/{held.plan_id}/approve",
        data={"csrf": rig.csrf(session), "content_hash": "f" * 64},
        headers={"Origin": rig.base},
        timeout=10,
    )
    assert response.status_code == 409 and "content hash" in response.text
    assert rig.store.get_plan(held.plan_id).status == "held"
    nothing_executed(rig)


def test_a_price_move_after_the_prompt_means_plan_again_ask_again_and_the_old_plan_is_dead(rig_factory):
    rig = rig_factory(
        approval={"max_plan_notional": 1000, "price_tolerance": 0.0001, "volatility_multiple": 0}
    )
    first = rig.hold_plan()
    first_links = rig.prompt_links()
    rig.harness.run_until(OPEN_TIME + timedelta(minutes=50))  # prices move while the prompt waits
    page = requests.get(first_links["approve"], timeout=10)
    assert post_link(rig, first_links["approve"], confirm_token(page), who="heidi").status_code == 200
    outcome = rig.harness.bot.tick()["main"]
    assert outcome.action == "held for approval"
    assert rig.store.get_plan(first.plan_id).status == "superseded"
    [second] = rig.store.plans(status="held")
    assert second.plan_id != first.plan_id
    assert second.content_hash != first.content_hash  # the version binds the prices it was asked on
    rig.harness.bot.notifier.flush()
    assert len(rig.receiver.prompts()) == 2  # asked again, with a new prompt
    assert rig.bot_orders() == []
    # the superseded plan can no longer be decided on, through any channel
    assert requests.get(first_links["reject"], timeout=10).status_code == 409
    assert post_link(rig, first_links["reject"]).status_code == 409
    session = rig.login()
    stale = session.post(
        f"{rig.base}/approvals/{first.plan_id}/approve",
        data={"csrf": rig.csrf(session), "content_hash": first.content_hash},
        headers={"Origin": rig.base},
        timeout=10,
    )
    assert stale.status_code == 409 and "superseded" in stale.text
    # nor can the new plan be approved with the old plan's link
    second_path = f"{rig.base}/approvals/{second.plan_id}/approve"
    assert post_link(rig, second_path + "?t=" + first_links["approve"].partition("?t=")[2]).status_code == 403
    assert rig.store.get_plan(second.plan_id).status == "held"
    rig.harness.run_until(OPEN_TIME + timedelta(hours=2))
    assert rig.bot_orders() == []
