"""The bot as a separate process for the crash test (``tests/bot/test_crash_recovery.py``).

Run as ``python -m tests.bot.crash_child --url URL --state-dir DIR --events FILE [--kill-at M#K --phase P]``
(the test starts it through a multiprocessing forkserver that has this module imported, see ``run``). It is
the real bot (``Bot`` with its ``AlpacaBroker`` adapter over HTTP and its SQLite ``StateStore``) ticking
against the paper broker the test process hosts. The only test-only parts:

* a clock that is the broker's time as read at the start of each tick;
* simulated time is stepped by this process, ``STEP_SECONDS`` after each tick (``POST /_paper/advance``), so
  the sequence of calls the bot makes is the same on every run: a kill point means the same thing each time;
* the calls that matter for a crash (submit, order lookups, account reads, state writes) are wrapped so that
  each is one *event*, logged to ``--events`` as ``<n> <method>#<k>`` (the n-th watched call, the k-th call of
  that method); at ``--kill-at method#k`` the process SIGKILLs itself ``before`` or ``after`` the real call.

It exits 0 once a plan is done, none is unfinished and a later cycle finds the account within its bands.
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import requests

from bot.broker.alpaca import AlpacaBroker
from bot.config import BotConfig
from bot.state.lock import StateLock
from bot.state.store import StateStore
from bot.worker import Bot

KEY, SECRET = "crash-key", "crash-secret"
TARGETS = {"SPY": 0.45, "GLD": 0.05, "AGG": 0.30, "VEA": 0.20}
BAND = Decimal("0.05")
STEP_SECONDS = 60
MAX_TICKS = 400

SUBMIT = ("submit",)
FILL_TRACKING = ("order_by_client_id", "open_orders", "account")
STATE_WRITES = ("save_plan", "set_plan_status", "record_order", "update_order")
WATCHED: dict[str, type] = {
    **{name: AlpacaBroker for name in SUBMIT + FILL_TRACKING},
    **{name: StateStore for name in STATE_WRITES},
}

EXIT_DONE = 0
EXIT_NOT_SETTLED = 3


def bot_config(url: str, state_dir: Path) -> BotConfig:
    return BotConfig.model_validate(
        {
            "accounts": [{"name": "main", "broker": "embedded", "base_url": url}],
            "targets": TARGETS,
            "bands": {"default": {"absolute": float(BAND)}},
            "approval": {"mode": "policy", "max_plan_notional": 100000, "max_plan_fraction": 1.0},
            "limits": {
                "max_order_notional": 100000,
                "max_plan_notional": 200000,
                "max_daily_notional": 400000,
            },
            "state_dir": str(state_dir),
        }
    )


class TickClock:
    """The broker's time as read at the start of the current tick (time only moves between ticks here)."""

    def __init__(self) -> None:
        self._now: datetime | None = None

    def observe(self, broker_time: datetime, market_open: bool = True) -> None:  # noqa: ARG002
        self._now = broker_time

    def now(self) -> datetime:
        if self._now is None:
            raise RuntimeError("the broker's clock has not been read yet")
        return self._now


class KillSwitch:
    """Counts watched calls; SIGKILLs this process at the k-th call of one method, before or after it."""

    def __init__(self, events: Path, kill_at: str | None, phase: str) -> None:
        self.fd = os.open(events, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.kill_at = kill_at
        self.phase = phase
        self.count = 0
        self.per_method: dict[str, int] = {}

    def install(self) -> None:
        for name, owner in WATCHED.items():
            setattr(owner, name, self._wrap(name, getattr(owner, name)))

    def _wrap(self, name: str, method):  # noqa: ANN001, ANN202
        @functools.wraps(method)
        def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            self.count += 1
            self.per_method[name] = self.per_method.get(name, 0) + 1
            point = f"{name}#{self.per_method[name]}"
            self.log(f"{self.count} {point}")
            hit = point == self.kill_at
            if hit and self.phase == "before":
                self._die(point)
            result = method(*args, **kwargs)
            if hit and self.phase == "after":
                self._die(point)
            return result

        return wrapper

    def log(self, line: str) -> None:
        os.write(self.fd, (line + "\n").encode())  # unbuffered: what is written survives the SIGKILL

    def _die(self, point: str) -> None:
        self.log(f"KILL {point} {self.phase}")
        os.kill(os.getpid(), signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--kill-at", default=None, help="method#k, e.g. submit#3")
    parser.add_argument("--phase", choices=("before", "after"), default="before")
    args = parser.parse_args(argv)

    switch = KillSwitch(args.events, args.kill_at, args.phase)
    switch.install()
    switch.log(f"START pid={os.getpid()}")
    config = bot_config(args.url, args.state_dir)
    adapter = AlpacaBroker(KEY, SECRET, trading_url=args.url)
    http = requests.Session()
    with StateLock(args.state_dir), StateStore(args.state_dir / "bot.sqlite") as store:
        bot = Bot(config, {"main": adapter}, store, clock=TickClock())
        bot.start("run")
        for _ in range(MAX_TICKS):
            outcome = bot.tick()["main"]
            if (
                outcome.action == "within bands"
                and store.plans(account="main", status="done", limit=1)
                and not store.unfinished_plans("main")
            ):
                bot.finish("stopped", {"reason": "settled"})
                switch.log("SETTLED")
                return EXIT_DONE
            step = http.post(f"{args.url}/_paper/advance", json={"minutes": STEP_SECONDS / 60}, timeout=30)
            step.raise_for_status()
        bot.finish("stopped", {"reason": "max ticks"})
    switch.log("NOT SETTLED")
    return EXIT_NOT_SETTLED


def run(argv: list[str], output: str) -> None:
    """Entry point in a forked process: send stdout and stderr (the bot's log) to ``output``, then run."""
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.exit(main(argv))


if __name__ == "__main__":
    sys.exit(main())
