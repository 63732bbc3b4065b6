"""Halt and resume from the dashboard, over HTTP as the browser posts the forms: the bot's next cycles hold,
saying why, and nothing is sent; resume lets it trade. Recorded like the CLI's and the chat's halts, with
channel ``dashboard``."""

from __future__ import annotations

from datetime import timedelta

import requests

from tests.bot.harness import OPEN_TIME
from tests.web.conftest import Rig

REASON = "rebalancing by hand today"


def post(rig: Rig, session: requests.Session, path: str, **fields: str) -> requests.Response:
    return session.post(f"{rig.base}{path}", data=fields, headers={"Origin": rig.base}, timeout=10)


def test_halting_from_the_dashboard_holds_the_next_cycles_with_the_reason_and_resume_lets_it_trade(
    rig_factory,  # noqa: ANN001
):
    rig = rig_factory(approval={"mode": "never"})  # plans execute on their own: a halt is all that stops them
    session = rig.login("Hana")
    page = session.get(f"{rig.base}/", timeout=10).text
    assert 'action="/halt"' in page and "HALTED" not in page
    csrf = rig.csrf(session)

    # the guard of every decision: the form's CSRF token, the dashboard's own origin, a session
    assert post(rig, session, "/halt", reason=REASON).status_code == 403
    forged = session.post(
        f"{rig.base}/halt", data={"csrf": csrf}, headers={"Origin": "https://evil.example"}, timeout=10
    )
    assert forged.status_code == 403
    assert post(rig, requests.Session(), "/halt", csrf=csrf).status_code == 403
    assert rig.store.get_flag("halted") is None

    halted = post(rig, session, "/halt", csrf=csrf, reason=REASON)
    assert halted.status_code == 200 and halted.history[0].status_code == 303  # back on the dashboard
    assert f"HALTED: {REASON}." in halted.text and 'action="/resume"' in halted.text
    assert 'action="/halt"' not in halted.text
    assert rig.store.get_flag("halted") == REASON
    [event] = rig.store.audit_trail(event="halted")
    assert (event.fields["who"], event.fields["channel"], event.fields["reason"]) == (
        "Hana",
        "dashboard",
        REASON,
    )
    again = post(rig, session, "/halt", csrf=csrf, reason="twice")
    assert again.status_code == 409 and "Already halted" in again.text
    assert rig.store.get_flag("halted") == REASON

    outcomes = rig.harness.run_until(OPEN_TIME + timedelta(minutes=25))
    assert outcomes and {o.action for o in outcomes} == {"halted"}
    assert all(f"halted ({REASON})" in o.detail for o in outcomes)  # each cycle holds, and says why
    assert rig.bot_orders() == [] and rig.store.plans(account="main") == []
    rig.harness.bot.notifier.flush()
    assert any("halted" in m.get("title", "") for m in rig.receiver.messages)  # and the alert went out

    resumed = post(rig, session, "/resume", csrf=csrf)
    assert resumed.status_code == 200 and "HALTED" not in resumed.text and 'action="/halt"' in resumed.text
    assert rig.store.get_flag("halted") is None
    assert rig.store.audit_trail(event="resumed")[0].fields["channel"] == "dashboard"
    assert post(rig, session, "/resume", csrf=csrf).status_code == 409  # nothing to resume

    outcomes = rig.harness.run_until(OPEN_TIME + timedelta(minutes=50))
    assert "halted" not in {o.action for o in outcomes}
    assert rig.bot_orders(), outcomes  # trading again: the drifted account's plan was sent
