"""Sign-out that really ends a session, and token guessing that gets slower and stays out of the log
(issue 17, items 2 and 5), over real HTTP to the running dashboard."""

from __future__ import annotations

import json

import requests
from sqlalchemy import update

from bot.state.schema import web_sessions
from bot.state.web_sessions import WebSessions
from bot.web.app import create_app
from bot.web.server import WebServer
from bot.web.throttle import FailureThrottle
from tests.web.conftest import TOKEN, Rig


def form(rig: Rig, session: requests.Session, path: str, **data: str) -> requests.Response:
    return session.post(
        f"{rig.base}{path}",
        data={"csrf": rig.csrf(session), **data},
        headers={"Origin": rig.base},
        timeout=10,
    )


def replay(rig: Rig, cookie: str, path: str = "/") -> requests.Response:
    """A request carrying a copied session cookie, as someone who kept a copy would send it."""
    return requests.get(f"{rig.base}{path}", cookies={"rb_session": cookie}, timeout=10)


def test_signing_out_ends_the_session_on_the_server(rig):
    held = rig.hold_plan()
    session = rig.login("alice")
    cookie = session.cookies["rb_session"]
    csrf = rig.csrf(session)
    assert replay(rig, cookie).status_code == 200
    assert form(rig, session, "/logout").status_code == 200  # redirected to the sign-in page
    page = replay(rig, cookie)
    assert page.status_code == 401 and "Sign in" in page.text
    # the old cookie and its CSRF token decide nothing either
    decision = requests.post(
        f"{rig.base}/approvals/{held.plan_id}/approve",
        data={"csrf": csrf, "content_hash": held.content_hash},
        cookies={"rb_session": cookie},
        headers={"Origin": rig.base},
        timeout=10,
    )
    assert decision.status_code == 401
    assert rig.store.get_plan(held.plan_id).status == "held"
    assert [e.event for e in rig.store.audit_trail(event="dashboard_logout")] == ["dashboard_logout"]


def test_sign_out_everywhere_ends_every_session(rig):
    alice, bob = rig.login("alice"), rig.login("bob")
    cookies = [alice.cookies["rb_session"], bob.cookies["rb_session"]]
    assert all(replay(rig, c).status_code == 200 for c in cookies)
    assert form(rig, bob, "/logout/everywhere").status_code == 200
    assert [replay(rig, c).status_code for c in cookies] == [401, 401]
    assert WebSessions(rig.store).count() == 0
    [event] = rig.store.audit_trail(event="dashboard_logout_everywhere")
    assert event.fields["ended"] == 2 and event.fields["who"] == "bob"


def test_signing_out_needs_the_session_and_its_csrf_token(rig):
    session = rig.login()
    cookie = session.cookies["rb_session"]
    for path in ("/logout", "/logout/everywhere"):
        no_csrf = session.post(
            f"{rig.base}{path}", data={"who": "x"}, headers={"Origin": rig.base}, timeout=10
        )
        cross = session.post(
            f"{rig.base}{path}",
            data={"csrf": rig.csrf(session)},
            headers={"Origin": "http://evil.example"},
            timeout=10,
        )
        assert (no_csrf.status_code, cross.status_code) == (403, 403), path
    assert replay(rig, cookie).status_code == 200  # a forged sign-out ends nothing


def test_a_session_survives_a_restart_of_the_dashboard_but_not_its_sign_out(rig):
    """Sessions live in the state database: a restarted bot keeps people signed in, and keeps revocations."""
    session = rig.login()
    cookie = session.cookies["rb_session"]
    rig.server.stop()
    rig.server = WebServer(create_app(rig.harness.bot, TOKEN, rig.log_file)).start()
    assert replay(rig, cookie).status_code == 200
    assert form(rig, _with_cookie(cookie), "/logout").status_code == 200
    rig.server.stop()
    rig.server = WebServer(create_app(rig.harness.bot, TOKEN, rig.log_file)).start()
    assert replay(rig, cookie).status_code == 401


def _with_cookie(cookie: str) -> requests.Session:
    session = requests.Session()
    session.cookies.set("rb_session", cookie)
    return session


def test_an_expired_session_is_refused(rig):
    session = rig.login()
    cookie = session.cookies["rb_session"]
    sessions = WebSessions(rig.store)
    assert sessions.count() == 1
    with rig.store.db.write() as conn:  # age the row as twelve hours would
        conn.execute(update(web_sessions).values(expires_at=0))
    assert replay(rig, cookie).status_code == 401


# --- failed tokens ------------------------------------------------------------------------------------------


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def log_events(rig: Rig, text: str) -> list[dict]:
    lines = [json.loads(line) for line in rig.log_file.read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if text in line.get("event", "")]


def test_a_hundred_failed_sign_ins_are_slowed_down_and_logged_once(rig_factory):
    clock = FakeMonotonic()
    rig = rig_factory(throttle=FailureThrottle(free=5, base=1.0, clock=clock))
    statuses = [
        requests.post(
            f"{rig.base}/login", data={"token": f"guess-{i}"}, headers={"Origin": rig.base}, timeout=10
        ).status_code
        for i in range(100)
    ]
    assert statuses[:6] == [401] * 6 and set(statuses[6:]) == {429}
    # while locked out even the right token is not looked at: a lock-out cannot be used to test guesses
    locked = requests.post(
        f"{rig.base}/login", data={"token": TOKEN}, headers={"Origin": rig.base}, timeout=10
    )
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
    assert "rb_session" not in locked.cookies
    assert len(log_events(rig, "sign-in failed")) == 1
    assert len(log_events(rig, "web request refused")) == 0
    # the delay doubles with each failure after the free ones, and then the right token works again
    clock.now += 1.5
    assert requests.post(
        f"{rig.base}/login", data={"token": "guess"}, headers={"Origin": rig.base}, timeout=10
    ).status_code == 401  # fmt: skip
    clock.now += 1.5  # the 7th failure locked it for 2 s
    assert requests.post(
        f"{rig.base}/login", data={"token": TOKEN}, headers={"Origin": rig.base}, timeout=10
    ).status_code == 429  # fmt: skip
    clock.now += 1.0
    assert rig.login().get(f"{rig.base}/", timeout=10).status_code == 200


def test_a_hundred_bearer_guesses_are_slowed_down_and_logged_once(rig_factory):
    clock = FakeMonotonic()
    rig = rig_factory(throttle=FailureThrottle(free=5, base=1.0, clock=clock))
    statuses = [
        requests.get(
            f"{rig.base}/api/status", headers={"Authorization": f"Bearer guess-{i}"}, timeout=10
        ).status_code
        for i in range(100)
    ]
    assert statuses[:6] == [401] * 6 and set(statuses[6:]) == {429}
    right = requests.get(f"{rig.base}/api/status", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert right.status_code == 429
    assert len(log_events(rig, "bearer token failed")) == 1
    clock.now += 3600
    assert (
        requests.get(
            f"{rig.base}/api/status", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        ).status_code
        == 200
    )


def test_the_throttle_forgets_old_sources_and_bounds_its_memory():
    clock = FakeMonotonic()
    throttle = FailureThrottle(free=1, base=10, max_sources=100, clock=clock)
    for i in range(1000):
        throttle.failed(f"10.0.{i // 256}.{i % 256}", "sign-in")
        throttle.failed(f"10.0.{i // 256}.{i % 256}", "sign-in")
    assert len(throttle._records) == 100  # noqa: SLF001
    assert throttle.retry_after("10.0.3.231") == 10
    clock.now += 3601
    assert throttle.retry_after("10.0.3.231") == 0
