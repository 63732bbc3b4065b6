"""A fleet's approvals on one dashboard, filtered by household (issue 19 item 2), over real HTTP.

A fleet's households share one state database, so the dashboard over it lists every household's held plans;
``?household=NAME`` (the page, its event stream and ``/api/approvals``) shows only that household's. The
second household's plan is written to the shared store as a fleet worker writes it: a household plan names
its household in its details.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import requests

from tests.web.conftest import TOKEN

# Slow tier: a bot on the paper broker holds a real plan first, as the other dashboard tests do
pytestmark = pytest.mark.slow


def test_approvals_are_filtered_by_household_on_the_page_and_the_api(rig):
    held = rig.hold_plan()  # account "main": its own household
    other = replace(held, plan_id=held.plan_id.replace("main", "bravo"), account="bravo")
    rig.store.save_plan(
        other.plan_id,
        other.run_id,
        other.account,
        other.content_hash,
        "held",
        other.explanation,
        {**held.details, "household": "bravo"},
        other.created_at,
    )
    rig.store.request_approval(other.plan_id, other.content_hash, None)
    api = {"Authorization": f"Bearer {TOKEN}"}

    def listed(query: str = "") -> list[str]:
        response = requests.get(f"{rig.base}/api/approvals{query}", headers=api, timeout=10)
        assert response.status_code == 200, response.text[:300]
        return [a["plan_id"] for a in response.json()]

    assert sorted(listed()) == sorted([held.plan_id, other.plan_id])
    assert listed("?household=bravo") == [other.plan_id]
    assert listed("?household=main") == [held.plan_id]
    assert listed("?household=nobody") == []

    session = rig.login()
    everything = session.get(f"{rig.base}/", timeout=10).text
    assert held.plan_id in everything and other.plan_id in everything
    assert 'href="/?household=bravo">bravo (1)</a>' in everything  # the page's filter links
    bravo = session.get(f"{rig.base}/?household=bravo", timeout=10).text
    assert f'id="approval-{other.plan_id}"' in bravo and f'id="approval-{held.plan_id}"' not in bravo
    assert "<strong>bravo (1)</strong>" in bravo and '<a href="/">all</a>' in bravo
    nobody = session.get(f"{rig.base}/?household=nobody", timeout=10).text
    assert (
        "No plan of household nobody is waiting" in nobody and f'id="approval-{other.plan_id}"' not in nobody
    )

    # deciding through the filtered page's form still goes through the same checks, for that plan only
    csrf = rig.csrf(session)
    decided = session.post(
        f"{rig.base}/approvals/{other.plan_id}/reject",
        data={"content_hash": other.content_hash, "csrf": csrf},
        headers={"Origin": rig.base},
        timeout=10,
    )
    assert decided.status_code == 200, decided.text[:300]
    assert listed("?household=bravo") == [] and listed("?household=main") == [held.plan_id]
    assert rig.store.get_plan(held.plan_id).status == "held"
