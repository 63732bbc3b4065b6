"""A Dask worker plugin that SIGKILLs its worker process at one watched call, once for the whole fleet.

It installs ``tests/bot/crash_child.py``'s kill switch in every worker process (the same watched calls as the
single bot's crash test: submits, order lookups, account reads and state writes, each counted per process).
The first process to reach ``kill_at`` creates the marker file and kills itself; Dask's nanny starts a new
worker process (which gets the plugin again, but the marker stops it from killing), and the scheduler sends
the killed task again, as it would after a machine died.
"""

from __future__ import annotations

import os
from pathlib import Path

from distributed.diagnostics.plugin import WorkerPlugin

from tests.bot.crash_child import KillSwitch


class OnceKillSwitch(KillSwitch):
    """Kills at ``kill_at`` only if no process of the fleet has yet (the marker file says)."""

    def __init__(self, events: Path, kill_at: str, phase: str, marker: Path) -> None:
        super().__init__(events, kill_at, phase)
        self.marker = marker

    def _die(self, point: str) -> None:
        try:
            os.close(os.open(self.marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        except FileExistsError:
            return  # a process was killed already: this one goes on
        super()._die(point)


class KillOnce(WorkerPlugin):
    name = "kill-once"

    def __init__(self, events: str, kill_at: str, phase: str, marker: str) -> None:
        self.events, self.kill_at, self.phase, self.marker = events, kill_at, phase, marker

    def setup(self, worker: object) -> None:  # noqa: ARG002
        switch = OnceKillSwitch(Path(self.events), self.kill_at, self.phase, Path(self.marker))
        switch.install()
        switch.log(f"START pid={os.getpid()}")
