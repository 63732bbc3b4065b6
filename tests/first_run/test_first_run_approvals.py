"""A new user's first approval, through each of the four ways a person can give it (issue 16's proof): chat,
dashboard, the prompt's link and the CLI.

The README's set-up (tests/first_run/readme.py): the example config as shipped (objective policy deciding at
10:00 New York time, the example's approval rules) on a $124k paper account, its limits raised to the values
``plan`` names, as the README's step 4 says. Everything ``rebalance-bot run`` starts runs here: the dashboard
on a free port, Telegram control pointed at the local Bot API stand-in, an Apprise ``json://`` receiver for
the prompt and its links. The bot ticks on the paper broker's stepped clock; every order POST the broker
receives is recorded at its HTTP front door.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from typer.testing import CliRunner

from bot.approval.links import LinkSigner, access_token, signing_key
from bot.chat.service import TelegramService
from bot.chat.settings import resolve_token
from bot.cli import app
from bot.config import load_config
from bot.paper_broker.server import PaperBroker
from bot.state.store import PlanRecord, StateStore
from bot.web.server import DashboardService
from bot.worker import Bot, build_notifier, connect
from tests.approval.receiver import Receiver, links_in
from tests.bot.harness import BrokerTime
from tests.chat.conftest import CHAT, TOKEN
from tests.chat.standin import BotApiStandIn
from tests.first_run.readme import (
    CASH,
    KEY,
    SECRET,
    raise_limits,
    readme_config,
    start_paper_account,
    suggested_limits,
)

# Slow tier: a whole first run per approval channel
# (CI runs the slow tier; the README's quick command skips it.)
pytestmark = pytest.mark.slow

runner = CliRunner()
TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
MAX_MINUTES = 40
"""Simulated minutes from 9:45 New York time: the objective decides at 10:00 and the plan waits."""


@pytest.fixture(scope="module")
def limits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    """README step 4-5: ``plan`` on the example config names the limit values that let the first plan
    through (the same on every fresh $124k account)."""
    tmp_path = tmp_path_factory.mktemp("plan")
    broker = start_paper_account(tmp_path / "broker.sqlite")
    try:
        path = readme_config(tmp_path, broker.url, "json://127.0.0.1:9/none")
        with pytest.MonkeyPatch.context() as env:
            env.setenv("APCA_API_KEY_ID", KEY)
            env.setenv("APCA_API_SECRET_KEY", SECRET)
            result = runner.invoke(app, ["plan", "-c", str(path)])
    finally:
        broker.stop()
    assert result.exit_code == 0 and "REFUSED if run now, by a hard limit" in result.output, result.output
    return suggested_limits(result.output)


@dataclass
class Walk:
    """A running bot as ``rebalance-bot run`` builds it, with everything a person reaches it through."""

    path: Path
    broker: PaperBroker
    bot: Bot
    receiver: Receiver
    chat: BotApiStandIn
    web_token: str
    posts: list[tuple[str, int]]

    @property
    def store(self) -> StateStore:
        return self.bot.store

    @property
    def base(self) -> str:
        return self.bot.base_url or ""

    def tick_until(
        self, done: Callable[[], Any], minutes: int = MAX_MINUTES, step: int = 1, allowed: bool = False
    ) -> Any:
        """Tick every ``step`` simulated minutes until ``done()`` is truthy (``allowed``: or ``minutes`` have
        gone)."""
        for _ in range(0, minutes, step):
            self.bot.tick()
            value = done()
            if value:
                return value
            self.broker.advance(minutes=step)
        if allowed:
            return None
        raise AssertionError(f"not reached in {minutes} simulated minutes: {self.plans()}")

    def plans(self) -> list[tuple[str, str, str]]:
        return [(p.plan_id, p.status, p.status_reason) for p in self.store.plans(account="paper", limit=20)]

    def held(self) -> PlanRecord | None:
        return next(iter(self.store.plans(account="paper", status="held", limit=1)), None)


@pytest.fixture
def walk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keys: None, limits: dict[str, int]
) -> Iterator[Walk]:
    """``rebalance-bot run`` on the README's config, as cli.run builds it (its scheduler aside: the test
    ticks), with the dashboard and Telegram control started as its services."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.delenv("REBALANCE_BOT_WEB_TOKEN", raising=False)  # the token and secret files in state/
    monkeypatch.delenv("REBALANCE_BOT_WEB_SECRET", raising=False)
    posts: list[tuple[str, int]] = []
    broker = start_paper_account(tmp_path / "broker.sqlite", posts=posts)
    receiver = Receiver()
    chat = BotApiStandIn(TOKEN).start()

    def set_up(config: dict) -> None:
        raise_limits(limits)(config)
        config["web"].update(enabled=True, port=0)  # a free port: other tests run beside this one
        config["telegram"] = {
            "token_env": TOKEN_ENV,
            "allowed_chats": [CHAT],
            "base_url": chat.url,
            "poll_seconds": 1,
        }

    path = readme_config(tmp_path, broker.url, receiver.url(), set_up)
    config = load_config(path)
    assert config.policy.kind == "objective" and config.policy.decide_at is not None
    notifier, _ = build_notifier(config)
    connections = connect(config)
    state_dir = Path(config.state_dir)
    store = StateStore(state_dir / "bot.sqlite")
    signer = LinkSigner(signing_key(state_dir))
    # the broker's stepped time, read as is: extrapolating it by wall time (as for a live broker) would
    # make the seconds a tick takes look like minutes of market
    bot = Bot(config, connections.brokers, store, BrokerTime(broker), notifier, signer)
    web_token, _ = access_token(state_dir)
    dashboard = DashboardService(bot, web_token, state_dir / "bot.log")
    telegram = TelegramService(bot, config.telegram, resolve_token(config.telegram))
    bot.start("run")
    dashboard.start()
    telegram.start()
    try:
        yield Walk(path, broker, bot, receiver, chat, web_token, posts)
    finally:
        telegram.stop()
        dashboard.stop()
        bot.finish("stopped")
        notifier.close(timeout=10)
        connections.close()
        chat.stop()
        receiver.close()
        broker.stop()


# -- the four channels: each approves the held plan once, then tries again ----------------------------------
def by_chat(walk: Walk, plan: PlanRecord) -> Callable[[], str]:
    """Press Approve under the prompt in the chat; the second press is on the same message as first shown."""
    prompt = copy.deepcopy(
        walk.chat.wait_for(
            lambda: next((m for m in walk.chat.to_chat(CHAT) if plan.plan_id in m["text"]), None)
        )
    )

    def press() -> str:
        query = walk.chat.press(prompt, "Approve")
        return walk.chat.wait_for(lambda: walk.chat.answer_to(query))["text"]

    return press


def by_dashboard(walk: Walk, plan: PlanRecord) -> Callable[[], str]:
    """Sign in, open the dashboard, post the approval card's form as the browser does."""
    session = requests.Session()
    signed_in = session.post(
        f"{walk.base}/login", data={"token": walk.web_token, "who": "Dana"}, headers={"Origin": walk.base}
    )
    assert signed_in.status_code == 200 and "Sign out" in signed_in.text
    page = signed_in.text
    card = page[page.index(f'id="approval-{plan.plan_id}"') :]
    form = re.search(r'<form method=post action="([^"]+/approve)">(.*?)</form>', card)
    assert form, card[:1000]
    fields = dict(re.findall(r'name=(\w+) value="([^"]*)"', form.group(2)))
    assert fields["content_hash"] == plan.content_hash and fields["csrf"]

    def post() -> str:
        answer = session.post(f"{walk.base}{form.group(1)}", data=fields, headers={"Origin": walk.base})
        return f"{answer.status_code} {answer.text}"

    return post


def by_link(walk: Walk, plan: PlanRecord) -> Callable[[], str]:
    """The Approve link of the prompt the Apprise receiver got: open its page, press its button."""
    walk.bot.notifier.flush(timeout=10)
    [prompt] = [m for m in walk.receiver.prompts() if plan.plan_id in m["message"]]
    link = links_in(prompt)["approve"]
    page = requests.get(link, timeout=10)
    assert page.status_code == 200 and f"Approve plan {plan.plan_id}" in page.text, page.text[:500]
    action = re.search(r'<form method=post action="([^"]+)"', page.text).group(1)
    token = re.search(r'name=t value="([^"]+)"', page.text).group(1)

    def post() -> str:
        answer = requests.post(
            f"{walk.base}{action}", data={"t": token, "who": "Lee"}, headers={"Origin": walk.base}, timeout=10
        )
        return f"{answer.status_code} {answer.text}"

    return post


def by_cli(walk: Walk, plan: PlanRecord) -> Callable[[], str]:
    def approve() -> str:
        result = runner.invoke(app, ["approve", plan.plan_id, "-c", str(walk.path)])
        return f"{result.exit_code} {result.output}"

    return approve


NOT_WAITING = "plan {plan} is done, not waiting for approval"
CHANNELS = {
    # channel: (how a person reaches it, what the approval answers, what a second attempt answers)
    "telegram": (by_chat, ("Approved {plan} (by @alice)",), ("Not done: " + NOT_WAITING,)),
    "dashboard": (by_dashboard, ("200", "Approved {plan}"), ("409", "Not done", NOT_WAITING)),
    "link": (by_link, ("200", "Approved {plan}"), ("409", "This link has been used already")),
    "cli": (by_cli, ("0", "approved {plan}"), ("1", "error: " + NOT_WAITING)),
}


def says(answer: str, expected: tuple[str, ...], plan_id: str) -> bool:
    first, *rest = (text.format(plan=plan_id) for text in expected)
    return answer.startswith(first) and all(text in answer for text in rest)


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_first_plan_approved_through_each_channel_executes_once(walk: Walk, channel: str) -> None:
    opener, approved, refused = CHANNELS[channel]
    # the checks of the example's schedule, every 5 minutes: at 10:00 the objective decides, the plan waits
    plan = walk.tick_until(walk.held, step=5)
    assert "first plan" in plan.status_reason and "approval.max_plan_notional" in plan.status_reason
    assert walk.posts == []
    approve = opener(walk, plan)
    answer = approve()
    assert says(answer, approved, plan.plan_id), answer[:2000]
    decided = walk.store.get_approval(plan.plan_id)
    assert (decided.status, decided.channel, decided.content_hash) == ("approved", channel, plan.content_hash)

    walk.tick_until(lambda: walk.store.get_plan(plan.plan_id).status in ("done", "failed", "superseded"))
    executed = walk.store.get_plan(plan.plan_id)
    assert executed.status == "done", (executed.status, executed.status_reason, walk.plans())
    # every order the broker received is one of the plan's, under its deterministic id, each sent once
    expected = sorted(f"{plan.plan_id}-{spec['seq']}" for spec in plan.details["orders"])
    assert sorted(cid for cid, _ in walk.posts) == expected, walk.posts
    assert {status for _, status in walk.posts} == {200}
    orders = walk.store.orders(plan_id=plan.plan_id)
    assert {o.status for o in orders} == {"filled"}
    assert sum(o.filled_qty * o.filled_avg_price for o in orders) > CASH * Decimal("0.9")  # invested

    again = approve()  # the same button, form, link or command once more
    assert says(again, refused, plan.plan_id), again[:2000]
    walk.tick_until(lambda: False, minutes=10, allowed=True)
    assert sorted(cid for cid, _ in walk.posts) == expected  # nothing more was sent
    assert walk.store.get_plan(plan.plan_id).status == "done"
    assert walk.store.get_approval(plan.plan_id) == decided
    assert len(walk.store.audit_trail(event="plan_approved")) == 1
