"""The broker's down flag (issue 17, item 10) where people and monitors look: ``/health`` answers 503 with the
reason while the broker does not answer, the dashboard shows it as a banner, and both clear when it answers.

Everything over real HTTP: the paper broker's fault injector answers 5xx to the bot's alpaca-py requests, and
the dashboard is read with ``requests``. The adapter's retry pauses and the bot's pause before its next try
are stepped, never slept.
"""

from __future__ import annotations

import html

import pytest
import requests

from bot.paper_broker.faults import FaultConfig
from tests.bot.test_broker_outage import Wall
from tests.web.conftest import TOKEN, Rig


def _no_sleep(_seconds: float) -> None:
    """The adapter's pause between retries: stepped away."""


@pytest.fixture
def wall() -> Wall:
    return Wall()


@pytest.fixture
def rig(rig_factory, wall) -> Rig:  # noqa: ANN001
    return rig_factory(sleep=_no_sleep, wall=wall)


def _health(rig: Rig) -> requests.Response:
    return requests.get(f"{rig.base}/health", timeout=10)


def test_health_and_the_dashboard_say_the_broker_is_down_and_clear_when_it_answers(rig, wall):
    bot, broker = rig.harness.bot, rig.harness.broker
    bot.tick()
    up = _health(rig)
    assert up.status_code == 200 and up.json()["status"] == "ok"
    assert up.json()["broker"] == {"up": True, "problem": None}
    session = rig.login()
    assert "BROKER:" not in session.get(f"{rig.base}/", timeout=10).text

    broker.faults.configure(FaultConfig(rate_limit_per_minute=None, error_next=1000))
    assert bot.tick()["main"].action == "waiting for the broker"
    down = _health(rig)
    problem = rig.store.get_flag("broker")
    assert problem, "the bot did not take the broker as down"
    assert down.status_code == 503, down.text
    assert down.json()["status"] == "broker down"
    assert down.json()["broker"] == {"up": False, "problem": problem}
    page = session.get(f"{rig.base}/", timeout=10).text
    assert f'<div class="banner bad">BROKER: {html.escape(problem)}</div>' in page
    assert "bot broker down" in page  # the header's bot state
    status = requests.get(
        f"{rig.base}/api/status",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert status.json()["health"]["broker"]["problem"] == problem

    broker.faults.configure(FaultConfig(rate_limit_per_minute=None))
    wall.now += 300  # past the bot's pause before its next try
    assert bot.tick()["main"].action != "waiting for the broker"
    back = _health(rig)
    assert back.status_code == 200 and back.json()["broker"] == {"up": True, "problem": None}
    assert "BROKER:" not in session.get(f"{rig.base}/", timeout=10).text
