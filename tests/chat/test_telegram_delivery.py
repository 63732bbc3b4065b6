"""Prompts through a Telegram that hiccups: a gateway error and a flood wait are retried and the prompt
arrives once; a chat that blocked the bot costs that message (logged), never the bot's turn."""

from __future__ import annotations

from tests.chat.conftest import CHAT, ChatRig


def test_a_prompt_survives_a_gateway_error_and_a_flood_wait(chat_rig: ChatRig):
    rig = chat_rig
    rig.api.fail_next("sendMessage", 502, "Bad Gateway")
    rig.api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    held = rig.hold_plan()
    rig.prompt(held)
    assert len(rig.api.method_calls("sendMessage")) == 3  # two failures, then the prompt
    assert len([m for m in rig.api.to_chat(CHAT) if held.plan_id in m["text"]]) == 1
    assert "telegram message not delivered" not in rig.log_file.read_text()


def test_a_chat_that_refuses_the_message_is_logged_and_the_bot_goes_on(chat_rig: ChatRig):
    rig = chat_rig
    rig.api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    held = rig.hold_plan()
    rig.service.flush()
    assert len(rig.api.method_calls("sendMessage")) == 1  # not retried: asking again would not help
    log = rig.log_file.read_text()
    assert "telegram message not delivered" in log and "bot was blocked by the user" in log
    assert rig.store.get_plan(held.plan_id).status == "held"
    assert rig.command("/status", "Waiting for approval").count(held.plan_id) == 1  # the chat still works
