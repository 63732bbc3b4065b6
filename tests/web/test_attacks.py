"""Every state-changing route of the dashboard under every kind of forged request (issue 17): no token, a
wrong token, a cross-site post, a replayed link, an expired link and a foreign Host header. Each is refused,
no session is opened, the held plan stays held, and running the bot on sends nothing.

Real HTTP to the running dashboard; the bot is real and trades on the paper broker."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta

import requests

from bot.approval.links import LinkSigner
from bot.state.web_sessions import WebSessions
from bot.web.throttle import FailureThrottle
from tests.bot.harness import OPEN_TIME
from tests.web.conftest import KEY, TOKEN, Rig

REFUSED = {400, 401, 403, 409, 413, 415, 422, 429}


@dataclass
class Attacker:
    rig: Rig
    results: list[tuple[str, str, int]] = field(default_factory=list)

    def send(self, attack: str, method: str, path: str, **kwargs: object) -> requests.Response:
        response = requests.request(
            method, f"{self.rig.base}{path}", timeout=10, allow_redirects=False, **kwargs
        )
        self.results.append((attack, f"{method} {path.split('?')[0]}", response.status_code))
        return response

    def accepted(self) -> list[tuple[str, str, int]]:
        return [r for r in self.results if r[2] not in REFUSED]


def link_token(link: str) -> str:
    return link.partition("?t=")[2]


def test_every_state_changing_route_refuses_every_forgery_and_nothing_executes(rig_factory):
    rig = rig_factory(throttle=FailureThrottle(free=10_000))  # count refusals here, not lock-outs
    held = rig.hold_plan()
    links = rig.prompt_links()
    plan_id, version = held.plan_id, held.content_hash
    alice = rig.login("alice")
    cookie, csrf = alice.cookies["rb_session"], rig.csrf(alice)
    sessions_before = WebSessions(rig.store).count()
    port = rig.server.port
    own = {"Origin": rig.base}
    evil_origin = {"Origin": f"http://evil.example:{port}"}
    foreign = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    wrong_bearer = {"Authorization": "Bearer not-the-token-0123456789"}
    expired = {
        action: LinkSigner(KEY, wall=lambda: time.time() - 86_400).sign(plan_id, version, action, 3600)
        for action in ("approve", "reject")
    }
    session_form = {"csrf": csrf, "content_hash": version, "reason": "x"}
    a = Attacker(rig)

    for action in ("approve", "reject"):
        form = f"/approvals/{plan_id}/{action}"
        api = f"/api/approvals/{plan_id}/{action}"
        # no token at all
        a.send("no token", "POST", form, data={"content_hash": version}, headers=own)
        a.send("no token", "POST", api, json={"content_hash": version})
        # a wrong token: a forged link, a wrong bearer, a session cookie that was never issued
        forged = link_token(links[action])[:-4] + "AAAA"
        a.send("wrong token", "POST", form, data={"t": forged}, headers=own)
        a.send("wrong token", "POST", api, json={"content_hash": version}, headers=wrong_bearer)
        a.send("wrong token", "POST", form, data=session_form, headers=own, cookies={"rb_session": "x.y"})
        a.send(
            "wrong token", "POST", form, data={**session_form, "csrf": "A" * 43}, headers=own,
            cookies={"rb_session": cookie},
        )  # fmt: skip
        # cross-site: a real session and its CSRF token, posted from another site
        a.send(
            "cross-site", "POST", form, data=session_form, headers=evil_origin, cookies={"rb_session": cookie}
        )
        a.send("cross-site", "POST", form, data={"t": link_token(links[action])}, headers=evil_origin)
        a.send(
            "cross-site", "POST", form, data=session_form, cookies={"rb_session": cookie},
            headers={"Referer": "http://evil.example/x"},
        )  # fmt: skip
        # an expired link (signed by the right key, a day ago)
        a.send("expired link", "POST", form, data={"t": expired[action]}, headers=own)
        a.send("expired link", "GET", f"{form}?t={expired[action]}")
        # the link of the other action, and of another plan
        other = "reject" if action == "approve" else "approve"
        a.send("wrong link", "POST", form, data={"t": link_token(links[other])}, headers=own)
        a.send(
            "wrong link", "POST", f"/approvals/rb-main-other/{action}", data={"t": link_token(links[action])}
        )
        # a foreign Host with every right credential: a valid session, a valid unused link, the bearer token
        a.send(
            "foreign host", "POST", form, data=session_form, headers=foreign, cookies={"rb_session": cookie}
        )
        a.send("foreign host", "POST", form, data={"t": link_token(links[action])}, headers=foreign)
        a.send("foreign host", "POST", api, json={"content_hash": version}, headers={**foreign, **bearer})
        # a stale version through the API with the right bearer
        a.send("stale version", "POST", api, json={"content_hash": "0" * 64}, headers=bearer)

    for path in ("/login",):
        a.send("wrong token", "POST", path, data={"token": "guess"}, headers=own)
        a.send("cross-site", "POST", path, data={"token": TOKEN}, headers=evil_origin)
        a.send("foreign host", "POST", path, data={"token": TOKEN}, headers=foreign)
    for path in ("/logout", "/logout/everywhere"):
        a.send("no token", "POST", path, data={"csrf": csrf}, headers=own)
        a.send(
            "cross-site",
            "POST",
            path,
            data={"csrf": csrf},
            headers=evil_origin,
            cookies={"rb_session": cookie},
        )
        a.send(
            "foreign host", "POST", path, data={"csrf": csrf}, headers=foreign, cookies={"rb_session": cookie}
        )

    assert a.accepted() == [], a.accepted()
    assert {attack for attack, _, _ in a.results} >= {
        "no token", "wrong token", "cross-site", "expired link", "foreign host",
    }  # fmt: skip
    assert WebSessions(rig.store).count() == sessions_before  # no login, no sign-out took effect
    assert rig.store.get_plan(plan_id).status == "held"
    assert rig.store.get_approval(plan_id).status == "pending"
    assert not rig.store.audit_trail(event="plan_approved") and not rig.store.audit_trail(
        event="plan_rejected"
    )

    # replayed links: the reject link is used once (by its rightful holder: it was not consumed by the
    # foreign-Host attempt above), then both links are replayed
    first = requests.post(
        f"{rig.base}/approvals/{plan_id}/reject",
        data={"t": link_token(links["reject"])},
        headers=own,
        timeout=10,
    )
    assert first.status_code == 200
    for action in ("reject", "approve"):
        a.send(
            "replayed link", "POST", f"/approvals/{plan_id}/{action}", data={"t": link_token(links["reject"])}
        )
        a.send(
            "replayed link", "POST", f"/approvals/{plan_id}/{action}", data={"t": link_token(links[action])}
        )
        a.send("replayed link", "GET", f"/approvals/{plan_id}/{action}?t={link_token(links[action])}")
    a.send(
        "replayed version",
        "POST",
        f"/api/approvals/{plan_id}/approve",
        json={"content_hash": version},
        headers=bearer,
    )
    assert a.accepted() == [], a.accepted()
    assert rig.store.get_plan(plan_id).status == "rejected"
    assert [e.fields["channel"] for e in rig.store.audit_trail(event="plan_rejected")] == ["link"]

    rig.harness.run_until(OPEN_TIME + timedelta(hours=3))
    assert rig.bot_orders() == []
