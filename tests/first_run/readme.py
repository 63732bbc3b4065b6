"""A new user's set-up, as the README tells it (issue 16): the example config copied, its account swapped for
a paper account reached like Alpaca with key variables, one notification channel. Shared by the first-run
walk (limits, keys, banner) and the approvals walk (chat, dashboard, link, CLI).

The broker is the embedded paper broker over HTTP (alpaca-py) on a manual clock; the alerts are real Apprise
``json://`` posts to a local receiver. Time is stepped, never slept on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from bot.config import load_config
from bot.paper_broker.accounts import AccountsFile, AccountSpec
from bot.paper_broker.faults import FaultConfig
from bot.paper_broker.server import ClockConfig, PaperBroker, ServerConfig
from bot.state.store import StateStore
from bot.worker import Bot, build_notifier, connect
from tests.bot.harness import OPEN_TIME

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.yaml"
KEY, SECRET = "PKNEWUSER", "new-user-secret"
CASH = Decimal("124000")


def start_paper_account(database: Path, posts: list[tuple[str, int]] | None = None) -> PaperBroker:
    """A paper account holding only cash, $124k, 15 minutes after the open: the first plan invests nearly
    all of it. ``posts`` collects every order POST the broker receives (:class:`OrderPosts`)."""
    broker = PaperBroker(
        ServerConfig(
            accounts=AccountsFile(
                accounts=(AccountSpec(name="paper", key_id=KEY, secret_key=SECRET, cash=CASH),)
            ),
            clock=ClockConfig(start=OPEN_TIME + timedelta(minutes=15)),
            database=database,
            faults=FaultConfig(rate_limit_per_minute=None),
        )
    )
    if posts is not None:
        broker.app = OrderPosts(broker.app, posts)
    return broker.start()


class OrderPosts:
    """ASGI middleware at the paper broker's front door: (client_order_id, HTTP status) of every order POST,
    whether the broker took it or not - what was sent, not what the broker's book kept."""

    def __init__(self, app: Any, seen: list[tuple[str, int]]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/v2/orders":
            await self.app(scope, receive, send)
            return
        body = bytearray()
        status = [0]

        async def receiving() -> dict:
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
            return message

        async def sending(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        await self.app(scope, receiving, sending)
        self.seen.append((json.loads(bytes(body) or b"{}").get("client_order_id", ""), status[0]))


def readme_config(
    tmp_path: Path, broker_url: str, alerts: str, change: Callable[[dict], None] | None = None
) -> Path:
    """The README's steps: copy the example, swap the account for one with key variables, add a channel."""
    config = yaml.safe_load(EXAMPLE.read_text())
    config["accounts"] = [
        {
            "name": "paper",
            "broker": "embedded",
            "base_url": broker_url,
            "key_id_env": "APCA_API_KEY_ID",
            "secret_key_env": "APCA_API_SECRET_KEY",
        }
    ]
    config["state_dir"] = str(tmp_path / "state")
    config["notifications"]["urls"] = [alerts]
    config["web"]["enabled"] = False
    if change is not None:
        change(config)
    path = tmp_path / "my-portfolio.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def suggested_limits(text: str) -> dict[str, int]:
    """The limit values ``plan`` and the refusal alert name ("set limits.x: N, limits.y: M in the config")."""
    listed = text.split("set limits.", 1)[1].split(" in the config")[0]
    return {
        name.strip(): int(value)
        for name, value in (item.split(": ") for item in ("limits." + listed).split(", "))
    }


def raise_limits(suggested: dict[str, int]) -> Callable[[dict], None]:
    """README step 4: set the limits to the values the bot named."""

    def change(config: dict) -> None:
        for name, value in suggested.items():
            config["limits"][name.split(".")[1]] = value

    return change


def run_bot(path: Path, broker: PaperBroker, minutes: int) -> Bot:
    """What ``rebalance-bot run`` builds, ticked once a simulated minute for ``minutes``."""
    config = load_config(path)
    notifier, _ = build_notifier(config)
    connections = connect(config)
    bot = Bot(
        config, connections.brokers, StateStore(Path(config.state_dir) / "bot.sqlite"), notifier=notifier
    )
    bot.start("run")
    for _ in range(minutes):
        bot.tick()
        broker.advance(minutes=1)
    bot.finish("stopped")
    notifier.flush(timeout=20)
    return bot
