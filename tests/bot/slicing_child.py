"""The bot as a separate process for the sliced-schedule SIGKILL test (``tests/bot/test_slicing_e2e.py``).

``python -m tests.bot.slicing_child --url URL --state-dir DIR --events FILE [--kill-at M#K --phase P]``: the
real bot (``Bot``, ``AlpacaBroker`` over HTTP, SQLite ``StateStore``) with the e2e tests' slicing config,
ticking against the paper broker the test hosts and stepping its clock a minute after each tick. The kill
switch of the crash test (``tests/bot/crash_child.py``) counts the watched calls and SIGKILLs this process at
the chosen one. Exits 0 once every plan is done.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import requests

from bot.broker.alpaca import AlpacaBroker
from bot.state.lock import StateLock
from bot.state.store import StateStore
from bot.worker import Bot
from tests.bot.crash_child import KillSwitch, TickClock
from tests.bot.harness import KEY, SECRET, bot_config

SLICING = {"policy": "twap", "twap_window_minutes": 10, "children": 5, "reprice_after_minutes": 1}
MAX_TICKS = 240


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--kill-at", default=None, help="method#k, e.g. submit#5")
    parser.add_argument("--phase", choices=("before", "after"), default="before")
    args = parser.parse_args(argv)

    switch = KillSwitch(args.events, args.kill_at, args.phase)
    switch.install()
    switch.log(f"START pid={os.getpid()}")
    config = bot_config(args.url, args.state_dir, execution={"slicing": SLICING})
    adapter = AlpacaBroker(KEY, SECRET, trading_url=args.url)
    http = requests.Session()
    with StateLock(args.state_dir), StateStore(args.state_dir / "bot.sqlite") as store:
        bot = Bot(config, {"main": adapter}, store, clock=TickClock())
        bot.start("run")
        for _ in range(MAX_TICKS):
            bot.tick()
            plans = store.plans(account="main")
            if plans and all(p.status == "done" for p in plans):
                bot.finish("stopped", {"reason": "done"})
                switch.log("DONE")
                return 0
            http.post(f"{args.url}/_paper/advance", json={"minutes": 1}, timeout=30).raise_for_status()
        bot.finish("stopped", {"reason": "max ticks"})
    switch.log("NOT DONE")
    return 3


if __name__ == "__main__":
    sys.exit(main())
