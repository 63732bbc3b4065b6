"""The dashboard's event stream and static files over real HTTP (issue 16, item 5): a stream needs a session,
sends a refresh only when what the page shows changed, is bounded in number, ends when its client leaves,
when the session is signed out and when the server stops; the chart library is public, the data API still
needs its token. Market time is stepped on the paper broker; the only waits are for the server's own polls,
which these rigs make short."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import requests

from bot.web.events import EventStreams
from tests.web.conftest import Rig

FAST = {"poll": 0.05, "heartbeat": 0.25}


def events(response: requests.Response) -> Iterator[tuple[str, dict]]:
    """``(kind, data)`` of each event as it arrives (the ``retry`` line is skipped)."""
    kind = None
    for raw in response.iter_lines(chunk_size=None, decode_unicode=True):
        if raw.startswith("event: "):
            kind = raw[len("event: ") :]
        elif raw.startswith("data: ") and kind is not None:
            yield kind, json.loads(raw[len("data: ") :])
            kind = None


def stream(rig: Rig, session: requests.Session, since: str = "") -> requests.Response:
    response = session.get(f"{rig.base}/events", params={"since": since}, stream=True, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return response


def until_quiet(
    feed: Iterator[tuple[str, dict]], clocks: int = 3, limit: int = 200
) -> list[tuple[str, dict]]:
    """The events up to ``clocks`` heartbeats in a row with no refresh between them."""
    seen: list[tuple[str, dict]] = []
    quiet = 0
    for kind, data in feed:
        seen.append((kind, data))
        quiet = quiet + 1 if kind == "clock" else 0
        if quiet >= clocks or len(seen) >= limit:
            break
    return seen


def test_the_stream_needs_a_session_while_the_chart_library_is_public_and_the_api_keeps_its_token(rig):
    assert requests.get(f"{rig.base}/events", timeout=10).status_code == 401
    assert requests.get(f"{rig.base}/api/equity", timeout=10).status_code == 401
    library = requests.get(f"{rig.base}/static/uPlot.iife.min.js", timeout=10)
    assert library.status_code == 200 and "uPlot" in library.text
    assert "javascript" in library.headers["content-type"]
    assert "script-src 'self'" in library.headers["content-security-policy"]
    assert requests.get(f"{rig.base}/static/../app.py", timeout=10).status_code == 404
    assert requests.get(f"{rig.base}/static/%2e%2e/app.py", timeout=10).status_code == 404

    page = rig.login().get(f"{rig.base}/", timeout=10).text
    tags = re.findall(r"<script[^>]*>", page)
    assert len(tags) == 3, tags  # the library, the dashboard's script, the chart data: nothing inline runs
    assert all('src="/static/' in tag or 'type="application/json"' in tag for tag in tags), tags
    assert '<span class="mode paper"' in page


def test_a_change_is_sent_as_one_refresh_and_a_quiet_state_sends_only_heartbeats(rig_factory):
    rig = rig_factory(streams=EventStreams(**FAST))
    session = rig.login()
    version = re.search(r'data-version="([0-9a-f]+)"', session.get(f"{rig.base}/", timeout=10).text)[1]
    with stream(rig, session, since=version) as response:
        feed = events(response)
        before = until_quiet(feed)
        assert {kind for kind, _ in before} == {"clock"}  # nothing changed: heartbeats only
        assert before[0][1]["market_time"].startswith("2019-12-17T")

        held = rig.hold_plan()  # the bot plans while the page is open
        after = until_quiet(feed)
        refreshes = [data for kind, data in after if kind == "refresh"]
        assert refreshes, after
        last = refreshes[-1]
        assert held.plan_id in last["parts"]["live-approvals"]
        assert held.plan_id in last["parts"]["live-plans"]
        assert set(last["charts"]["plans"]) == {held.plan_id}
        assert last["version"] != version
        assert [kind for kind, _ in until_quiet(feed)] == ["clock"] * 3  # and then quiet again


def test_streams_are_bounded_and_end_when_the_client_leaves_on_sign_out_and_when_the_server_stops(
    rig_factory,
):
    streams = EventStreams(max_streams=2, **FAST)
    rig = rig_factory(streams=streams)
    session = rig.login()
    first, second = stream(rig, session), stream(rig, session)
    third = session.get(f"{rig.base}/events", stream=True, timeout=10)
    assert (third.status_code, third.headers["retry-after"]) == (503, "5")

    first.close()  # a tab closed: its slot comes back at the server's next poll
    deadline = time.monotonic() + 5
    while streams.open > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert streams.open == 1
    replacement = stream(rig, session)

    csrf = rig.csrf(session)
    ended = session.post(
        f"{rig.base}/logout/everywhere", data={"csrf": csrf}, headers={"Origin": rig.base}, timeout=10
    )
    assert ended.status_code == 200
    for response in (second, replacement):
        assert [kind for kind, _ in events(response)][-1] == "signed-out"  # and the stream ended
    assert requests.get(f"{rig.base}/events", cookies=session.cookies, timeout=10).status_code == 401

    again = rig.login("bob")
    open_stream = stream(rig, again)
    started = time.monotonic()
    rig.server.stop()
    stopped = time.monotonic() - started
    assert stopped < 1.5, f"the server took {stopped:.1f}s to stop with a page open"
    rest = list(events(open_stream))  # returns (no read timeout): the server closed the stream
    assert {kind for kind, _ in rest} <= {"clock", "refresh"}  # not signed out: stopped
    assert streams.open == 0
