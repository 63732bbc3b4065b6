"""A real bot (harness + paper broker) with its dashboard served by uvicorn on a free port, prompts going
through Apprise's ``json://`` to a local receiver."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from bot.approval.links import LinkSigner
from bot.logging_setup import configure_logging, reset_logging
from bot.notify import Notifier
from bot.state.store import PlanRecord
from bot.web.app import create_app
from bot.web.events import EventStreams
from bot.web.server import WebServer
from bot.web.throttle import FailureThrottle
from tests.approval.receiver import Receiver, links_in
from tests.bot.harness import OPEN_TIME, Harness, make_harness
from tests.web.chromium import launched

TOKEN = "test-dashboard-token-0123456789"
KEY = b"test-signing-key-0123456789abcdef"


@dataclass
class Rig:
    harness: Harness
    server: WebServer
    receiver: Receiver
    log_file: Path

    @property
    def base(self) -> str:
        return self.server.url

    @property
    def store(self):  # noqa: ANN201
        return self.harness.store

    def hold_plan(self) -> PlanRecord:
        """Run the bot until it holds a plan (the drifted 60/40 account is far outside its bands)."""
        outcomes = self.harness.run_until(OPEN_TIME + timedelta(minutes=25))
        assert any(o.action == "held for approval" for o in outcomes), outcomes
        [held] = self.store.plans(account="main", status="held")
        return held

    def prompt_links(self, index: int = -1) -> dict[str, str]:
        self.harness.bot.notifier.flush()
        prompts = self.receiver.prompts()
        assert prompts, self.receiver.messages
        return links_in(prompts[index])

    def login(self, who: str = "alice") -> requests.Session:
        session = requests.Session()
        response = session.post(
            f"{self.base}/login", data={"token": TOKEN, "who": who}, headers={"Origin": self.base}, timeout=10
        )
        assert response.status_code == 200 and "Sign out" in response.text, response.text[:500]
        return session

    def csrf(self, session: requests.Session) -> str:
        page = session.get(f"{self.base}/", timeout=10).text
        match = re.search(r'name=csrf value="([^"]+)"', page)
        assert match, page[:500]
        return match.group(1)

    def bot_orders(self) -> list:
        return [
            o
            for o in self.harness.broker.engine.orders.values()
            if not o.client_order_id.startswith("starting-lot")
        ]


def make_rig(
    tmp_path: Path,
    throttle: FailureThrottle | None = None,
    streams: EventStreams | None = None,
    **config_overrides: object,
) -> Rig:
    overrides = {"approval": {"max_plan_notional": 1000}, **config_overrides}
    harness = make_harness(tmp_path, **overrides)
    receiver = Receiver()
    harness.bot.notifier = Notifier([receiver.url()], retries=1, backoff=0.01)
    harness.bot.signer = LinkSigner(KEY)
    log_file = tmp_path / "state" / "bot.log"
    server = WebServer(create_app(harness.bot, TOKEN, log_file, throttle, streams)).start()
    harness.bot.base_url = server.url
    return Rig(harness, server, receiver, log_file)


@pytest.fixture
def rig_factory(tmp_path: Path) -> Iterator:
    rigs: list[Rig] = []
    configure_logging(tmp_path / "state" / "bot.log", level="INFO", console=False)

    def factory(
        throttle: FailureThrottle | None = None, streams: EventStreams | None = None, **overrides: object
    ) -> Rig:
        rig = make_rig(tmp_path, throttle, streams, **overrides)
        rigs.append(rig)
        return rig

    yield factory
    for rig in rigs:
        rig.server.stop()
        rig.harness.bot.notifier.close(timeout=5)
        rig.receiver.close()
        rig.harness.broker.stop()
    reset_logging()


@pytest.fixture
def browser() -> Iterator:
    """Headless Chromium (skipped without it locally, an error under CI): see tests/web/chromium.py."""
    with launched() as chromium:
        yield chromium


@pytest.fixture
def rig(rig_factory) -> Rig:  # noqa: ANN001
    return rig_factory()
