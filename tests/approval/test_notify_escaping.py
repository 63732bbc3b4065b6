"""Prompt text reaches HTML and Markdown channels as literal text, never as markup (issue 17, item 7): real
Apprise, delivering to a local receiver through ``json://...?format=html|markdown|text``."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from bot.cycle import plan_details
from bot.notify import Notifier, escape_for, render_prompt
from bot.state.store import PlanRecord
from tests.approval.receiver import Receiver
from tests.approval.test_policy import a_plan

HOSTILE = (
    "<script>alert(1)</script> <img src=x onerror=alert(1)> **bold** [click](http://evil.example) _x_ &amp;"
)


def hostile_prompt():  # noqa: ANN201 - bot.notify.Message
    plan = a_plan()
    details = {
        **plan_details(plan),
        "trigger": {**plan_details(plan)["trigger"], "reason": HOSTILE},
        "approval_reasons": [f"a person wrote: {HOSTILE}"],
    }
    now = datetime(2019, 12, 17, 15, 0, tzinfo=UTC)
    record = PlanRecord("rb-main-1", "run", "main", "ab" * 32, "held", "", "", details, now, now)
    return render_prompt(record, None)


def delivered(fmt: str) -> dict:
    receiver = Receiver()
    notifier = Notifier([receiver.url() + f"?format={fmt}"], retries=0)
    try:
        notifier.send(hostile_prompt())
        assert notifier.flush(20)
        [message] = receiver.wait_for(1)
        return message
    finally:
        notifier.close()
        receiver.close()


def test_prompt_markup_is_escaped_for_an_html_channel():
    body = delivered("html")["message"]
    assert "<script" not in body and "<img" not in body and "<a " not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "&amp;amp;" in body  # an entity in the text stays the text of an entity
    # what a person sees once the HTML is rendered is exactly the text the bot wrote
    rendered = html.unescape(re.sub(r"<br/>", "", body))
    assert HOSTILE in rendered


def test_prompt_markup_is_escaped_for_a_markdown_channel():
    body = delivered("markdown")["message"]
    assert re.findall(r"(?<!\\)[<>\[\]()*_`&]", body) == []  # no markup character left unescaped
    assert r"\<script\>alert\(1\)\</script\>" in body and r"\*\*bold\*\*" in body
    assert r"\[click\]\(http://evil\.example\)" in body
    unescaped = re.sub(r"\\(.)", r"\1", body)  # CommonMark: a backslash makes the next character literal
    assert HOSTILE in unescaped


def test_a_text_channel_gets_the_text_as_it_is():
    assert HOSTILE in delivered("text")["message"]


def test_escape_for_is_the_identity_on_text():
    assert escape_for("text", HOSTILE) == HOSTILE
    assert escape_for("html", "a\nb") == "a<br/>\nb"
