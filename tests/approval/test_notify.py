"""The Apprise notifier against a local HTTP receiver (``json://``): delivery, retries with backoff, failures
logged and never raised; and what a prompt says."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime

from structlog.testing import capture_logs

from bot.approval.links import LinkSigner, approval_links
from bot.cycle import plan_details
from bot.notify import Message, Notifier, render_alert, render_prompt
from bot.state.store import ApprovalRecord, PlanRecord
from tests.approval.receiver import Receiver, links_in
from tests.approval.test_policy import a_plan


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_message_arrives_at_the_receiver_through_apprise_json():
    receiver = Receiver()
    notifier = Notifier([receiver.url("/prompts")])
    try:
        notifier.send(Message("Title here", "line one\nline two", "warning", "test"))
        assert notifier.flush(10)
        [message] = receiver.wait_for(1)
        assert message["path"] == "/prompts"
        assert (message["title"], message["message"], message["type"]) == (
            "Title here",
            "line one\nline two",
            "warning",
        )
    finally:
        notifier.close()
        receiver.close()


def test_failures_are_retried_with_backoff_and_logged():
    receiver = Receiver(fail_first=2)
    waits: list[float] = []
    notifier = Notifier([receiver.url()], retries=3, backoff=0.5, sleep=waits.append)
    try:
        with capture_logs() as logs:
            notifier.send(render_alert("halted", ["x"], topic="halt"))
            assert notifier.flush(20)
        assert receiver.attempts == 3 and len(receiver.messages) == 1
        assert waits == [0.5, 1.0]  # exponential backoff
        events = [e["event"] for e in logs]
        assert events.count("notification failed; retrying") == 2 and "notification sent" in events
        assert notifier.sent == 1 and notifier.failed == 0
    finally:
        notifier.close()
        receiver.close()


def test_an_unreachable_channel_is_logged_and_never_raises_or_blocks_the_caller():
    notifier = Notifier([f"json://127.0.0.1:{free_port()}/nobody"], retries=2, backoff=0.01)
    try:
        with capture_logs() as logs:
            started = time.monotonic()
            notifier.send(Message("t", "b"))  # returns at once: delivery is on the notifier's thread
            assert time.monotonic() - started < 0.5
            assert notifier.flush(30)
        assert notifier.failed == 1
        assert any(e["event"] == "notification not delivered" and e["attempts"] == 3 for e in logs)
    finally:
        notifier.close()


def test_one_failing_channel_does_not_stop_the_others():
    receiver = Receiver()
    notifier = Notifier(
        [f"json://127.0.0.1:{free_port()}/down", "not-a-scheme://what", receiver.url()],
        retries=1,
        backoff=0.01,
    )
    try:
        notifier.send(Message("t", "b"))
        assert notifier.flush(30)
        assert len(receiver.wait_for(1)) == 1
    finally:
        notifier.close()
        receiver.close()


def test_no_urls_means_nothing_is_sent_and_nothing_breaks():
    notifier = Notifier([])
    assert not notifier.enabled
    notifier.send(Message("t", "b"))
    assert notifier.flush(1)
    notifier.close()


def test_a_prompt_reads_well_and_carries_both_links():
    plan = a_plan()
    details = {
        **plan_details(plan),
        "estimates": {"spread_cost": "1.25", "realised_gain": "200.00", "realised_loss": "0", "tax": "40.00"},
        "approval_reasons": ["plan ~$2,000.00 exceeds approval.max_plan_notional $1,000.00"],
    }
    now = datetime(2019, 12, 17, 15, 0, tzinfo=UTC)
    record = PlanRecord(
        "rb-main-1", "run", "main", plan.content_hash(), "held", "", plan.explain(), details, now, now
    )
    approval = ApprovalRecord(
        "rb-main-1", plan.content_hash(), "pending", now, datetime(2019, 12, 17, 21, 0, tzinfo=UTC),
        None, None, None, "",
    )  # fmt: skip
    links = approval_links(
        LinkSigner(b"k" * 32), "http://127.0.0.1:8780", "rb-main-1", plan.content_hash(), 60
    )
    message = render_prompt(record, approval, links, "http://127.0.0.1:8780")
    body = message.body
    for expected in (
        "Why now: outside band",
        "Why you are asked: plan ~$2,000.00 exceeds approval.max_plan_notional",
        "SELL SPY",
        "BUY  AGG",
        "Drift from target, before -> after:",
        "+10.00pp ->   +0.00pp",
        "Estimated cost ~$1.25",
        "estimated tax ~$40.00 on ~$200.00 of realised gains",
        "Expires: 2019-12-17 21:00 UTC",
        f"Plan version: {plan.content_hash()[:12]}",
        "Dashboard: http://127.0.0.1:8780",
    ):
        assert expected in body, (expected, body)
    assert links_in({"message": body}) == links
    assert "approve 2 trades" in message.title
    without_links = render_prompt(record, approval)
    assert "rebalance-bot approve rb-main-1" in without_links.body
