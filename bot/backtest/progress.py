"""Progress of a long replay (``backtest``, ``tune``): the runs report phases and steps; a person sees a bar.

A backtest of every policy over 2004-2022 takes tens of seconds and ``tune`` minutes; with nothing on the
screen that long, it looks hung (issue 16). The runs report through :class:`Progress` (which does nothing by
itself, so library callers and tests pay nothing); the commands pass :func:`progress_bar`, a rich bar that
is shown only on a terminal: piped or redirected output stays the report alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console


class Progress:
    """What a run reports as it goes (a progress bar, or nothing)."""

    def phase(self, name: str, total: int) -> None:
        """A new phase of ``total`` steps starts."""

    def step(self, count: int = 1) -> None:
        """``count`` steps of the current phase are done."""


class _Bar(Progress):
    """One rich task per phase; a phase that starts completes the one before it."""

    def __init__(self, bar) -> None:  # noqa: ANN001 - rich.progress.Progress
        self.bar, self.task = bar, None

    def phase(self, name: str, total: int) -> None:
        self._finish()
        self.task = self.bar.add_task(name, total=total)

    def step(self, count: int = 1) -> None:
        if self.task is not None:
            self.bar.advance(self.task, count)

    def _finish(self) -> None:
        if self.task is not None:
            self.bar.update(self.task, completed=self.bar.tasks[self.task].total)


@contextmanager
def progress_bar(console: Console, width: int = 42) -> Iterator[Progress]:
    """A bar per phase (name, bar, steps done of all, time taken) on ``console``; nothing when ``console``
    is not a terminal."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as RichProgress

    columns = (TextColumn(f"{{task.description:<{width}}}"), BarColumn(), MofNCompleteColumn())
    with RichProgress(*columns, TimeElapsedColumn(), console=console, disable=not console.is_terminal) as bar:
        shown = _Bar(bar)
        yield shown
        shown._finish()
