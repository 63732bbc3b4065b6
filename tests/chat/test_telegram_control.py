"""Two-way control from Telegram (issue 16 item 7), as a person in the chat sees it: the real bot on the
embedded paper broker, python-telegram-bot polling the local Bot API stand-in, market time stepped by the
harness (never slept on)."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from bot.chat.messages import parse_callback
from strategies.formatting import WHY_WIDTH
from tests.bot.harness import OPEN_TIME
from tests.chat.conftest import CHAT, STRANGER, TOKEN, ChatRig

# Slow tier: Telegram control through a whole bot and the Bot API stand-in
# (CI runs the slow tier; the README's quick command skips it.)
pytestmark = pytest.mark.slow


def buttons(message: dict) -> dict[str, str]:
    return {b["text"]: b["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for b in row}


def test_a_held_plan_is_prompted_with_buttons_and_one_press_executes_it_once(chat_rig: ChatRig):
    rig = chat_rig
    held = rig.hold_plan()
    prompt = copy.deepcopy(rig.prompt(held))
    assert set(buttons(prompt)) == {"Approve", "Reject"}
    assert parse_callback(buttons(prompt)["Approve"]) == ("approve", held.content_hash[:32])
    assert "Why now: outside band" in prompt["text"] and held.plan_id in prompt["text"]
    why = [line for line in prompt["text"].splitlines() if line.startswith("Why")]
    assert len(why) == 2 and all(len(line) <= WHY_WIDTH for line in why), "the why is one short line"
    assert rig.bot_orders() == []  # nothing sent before the decision

    query = rig.api.press_data(prompt, buttons(prompt)["Approve"], username="alice")
    answer = rig.api.wait_for(lambda: rig.api.answer_to(query))
    assert answer["text"].startswith(f"Approved {held.plan_id}")
    edited = rig.api.wait_for(lambda: next((m for m in rig.api.to_chat(CHAT) if m.get("edited")), None))
    assert "reply_markup" not in edited and "Approved" in edited["text"]  # the buttons are gone

    approval = rig.store.get_approval(held.plan_id)
    assert (approval.status, approval.channel, approval.decided_by) == ("approved", "telegram", "@alice")
    [event] = rig.store.audit_trail(event="plan_approved")
    assert event.fields["channel"] == "telegram" and event.fields["chat_id"] == CHAT
    assert event.fields["content_hash"] == held.content_hash

    rig.harness.run_until(OPEN_TIME + timedelta(hours=3))
    assert rig.store.get_plan(held.plan_id).status == "done"
    sent = rig.bot_orders()
    assert sorted(o.client_order_id for o in sent) == [
        f"{held.plan_id}-{o['seq']}" for o in held.details["orders"]
    ]

    # the same button again, and /approve of the same plan: nothing more, and the bot says so
    again = rig.api.press_data(prompt, buttons(prompt)["Approve"])
    assert "not waiting for approval" in rig.api.wait_for(lambda: rig.api.answer_to(again))["text"]
    reply = rig.command(f"/approve {held.plan_id}")
    assert reply.startswith("Not done") and "not waiting for approval" in reply
    rig.harness.run_until(OPEN_TIME + timedelta(hours=4))
    assert len(rig.bot_orders()) == len(sent)
    assert len(rig.store.audit_trail(event="plan_approved")) == 1


def test_a_button_decides_only_the_plan_version_it_was_shown_for(chat_rig: ChatRig):
    rig = chat_rig
    rig.harness.bot.base_url = "http://127.0.0.1:8780"  # as when the dashboard runs
    held = rig.hold_plan()
    prompt = copy.deepcopy(rig.prompt(held))
    assert f"In full: http://127.0.0.1:8780/#approval-{held.plan_id}" in prompt["text"]
    changed = rig.api.press_data(prompt, "approve:" + "0" * 32)  # a button of a plan version no longer there
    assert "no longer knows" in rig.api.wait_for(lambda: rig.api.answer_to(changed))["text"]
    assert rig.store.get_plan(held.plan_id).status == "held"

    reject = rig.api.press_data(prompt, buttons(prompt)["Reject"], username="bob")
    assert rig.api.wait_for(lambda: rig.api.answer_to(reject))["text"].startswith(f"Rejected {held.plan_id}")
    approve = rig.api.press_data(prompt, buttons(prompt)["Approve"])  # too late: it was rejected
    assert "is rejected, not waiting" in rig.api.wait_for(lambda: rig.api.answer_to(approve))["text"]
    approval = rig.store.get_approval(held.plan_id)
    assert (approval.status, approval.decided_by, approval.channel) == ("rejected", "@bob", "telegram")
    rig.harness.run_until(OPEN_TIME + timedelta(hours=1))
    assert rig.bot_orders() == []


def test_messages_and_presses_from_other_chats_are_refused_and_nothing_else_happens(chat_rig: ChatRig):
    rig = chat_rig
    held = rig.hold_plan()
    prompt = copy.deepcopy(rig.prompt(held))
    rig.api.say(STRANGER, "/halt")
    rig.api.say(STRANGER, f"/approve {held.plan_id}")
    rig.api.press_data(prompt, buttons(prompt)["Approve"], chat_id=STRANGER, user_id=STRANGER)
    refused = rig.api.wait_for(lambda: len(rig.store.audit_trail(event="chat_refused")) == 3 or None)
    assert refused
    assert rig.command("/status", "Waiting for approval")  # the allowed chat is still served, after them

    assert rig.api.to_chat(STRANGER) == [] and rig.api.answers == []  # not a word to the stranger
    assert rig.store.get_flag("halted") is None
    assert rig.store.get_plan(held.plan_id).status == "held"
    events = rig.store.audit_trail(event="chat_refused")
    assert {e.fields["chat_id"] for e in events} == {STRANGER}
    assert {e.fields["what"] for e in events} == {"/halt", f"/approve {held.plan_id}"[:40], "button"}
    assert rig.log_file.read_text().count("telegram message refused: chat not allowed") == 3


def test_halt_from_the_chat_stops_trading_until_resume(chat_rig: ChatRig):
    rig = chat_rig
    reply = rig.command("/halt going on holiday")
    assert reply.startswith("Halted")
    assert rig.store.get_flag("halted") == "going on holiday"
    [event] = rig.store.audit_trail(event="halted")
    assert (event.fields["who"], event.fields["channel"]) == ("@alice", "telegram")

    outcomes = rig.harness.run_until(OPEN_TIME + timedelta(minutes=25))
    assert outcomes and {o.action for o in outcomes} == {"halted"}  # each cycle holds, and says why
    assert rig.bot_orders() == []
    rig.service.flush()  # the bot's halt alert reaches the chat too
    assert rig.api.wait_for(
        lambda: [m for m in rig.api.to_chat(CHAT) if m["text"].startswith("rebalance-bot: halted")]
    )
    assert "HALTED: going on holiday" in rig.command("/status", "HALTED")
    assert rig.command("/halt").startswith("Already halted")

    assert rig.command("/resume").startswith("Resumed")
    assert rig.store.get_flag("halted") is None
    assert rig.store.audit_trail(event="resumed")[0].fields["channel"] == "telegram"
    outcomes = rig.harness.run_until(OPEN_TIME + timedelta(minutes=50))
    assert "held for approval" in {o.action for o in outcomes}  # planning again: the drifted plan waits


def test_status_answers_with_the_live_numbers(chat_rig: ChatRig):
    rig = chat_rig
    held = rig.hold_plan()
    reply = rig.command("/status", "equity")
    equity = rig.harness.adapter.account().equity
    weights = rig.harness.weights()
    assert reply.startswith("PAPER; not halted")
    assert f"main: equity ${equity:,.2f}" in reply
    spy = (weights["SPY"] - rig.harness.bot.config.targets.weights["SPY"]) * 100
    assert f"SPY {spy.quantize(spy.__class__('0.01')):+.2f}pp" in reply
    assert f"Waiting for approval: 1\n  {held.plan_id}" in reply
    assert "/approve PLAN_ID" in rig.command("/start")  # anything else: what the bot understands


def test_the_token_is_never_in_the_log_or_the_state(chat_rig: ChatRig):
    rig = chat_rig
    held = rig.hold_plan()
    prompt = copy.deepcopy(rig.prompt(held))
    rig.command("/status", "equity")
    rig.command(f"/reject {held.plan_id} not now", "Rejected")
    rig.api.say(STRANGER, "/status")
    rig.api.press_data(prompt, buttons(prompt)["Approve"])
    rig.api.wait_for(lambda: rig.api.answers)
    rig.service.stop()
    assert rig.api.method_calls("getUpdates"), "the library did talk to the API with the token"
    assert rig.api.refused_tokens == 0
    for path in rig.log_file.parent.iterdir():  # log, database (and its WAL), keys
        assert TOKEN.encode() not in path.read_bytes(), path.name
        assert TOKEN.split(":")[1].encode() not in path.read_bytes(), path.name
