"""``rebalance-bot fleet -c FLEET.yaml``: plan every due household of a fleet on Dask (:mod:`bot.fleet`).

Bad input (a missing or invalid fleet file, a household config that is wrong, a state database that cannot
be opened, an unset key variable) exits with code 2 and one line per problem. ``--once`` runs one pass,
prints each household's outcome and exits 1 if any household failed (so cron or CI sees it); without it the
passes go on every ``interval_seconds`` until SIGINT/SIGTERM.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

FleetOption = Annotated[
    Path, typer.Option("--config", "-c", envvar="REBALANCE_BOT_FLEET", help="The fleet's YAML file.")
]


def fleet(
    config: FleetOption = Path("fleet.yaml"),
    once: Annotated[
        bool, typer.Option("--once", help="One pass over the due households, then exit.")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="LocalCluster processes (default: the file's); 0: in this process."),
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="A Dask scheduler address (default: the file's).")
    ] = None,
) -> None:
    """Plan every household whose cycle is due, each as its own task on Dask, all state in PostgreSQL."""
    from bot.config import ConfigError
    from bot.fleet.config import load_fleet
    from bot.fleet.runner import Fleet, local_client
    from bot.state.store import StateError

    try:
        loaded = load_fleet(config)
    except ConfigError as exc:
        for line in exc.problems:
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(2) from exc
    settings = loaded.settings
    address = scheduler or settings.scheduler
    count = settings.workers if workers is None else workers
    client = None
    try:
        if address is not None:
            from distributed import Client

            client = Client(address)
        elif count > 0:
            client = local_client(count)
        try:
            runner = Fleet(loaded, client)
        except (StateError, ConfigError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        try:
            failed = _passes(runner, once, settings.interval_seconds)
        finally:
            runner.close()
    finally:
        if client is not None:
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None:
                cluster.close()
    if failed:
        raise typer.Exit(1)


def _passes(runner, once: bool, interval: float) -> bool:  # noqa: ANN001 - bot.fleet.runner.Fleet
    """Run passes; True when the last pass had a failed household."""
    stop = threading.Event()
    if not once and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    while True:
        visits = runner.run_pass()
        for v in sorted(visits, key=lambda v: v.household):
            line = f"{v.household}: {v.action}" + (f" ({v.detail})" if v.detail else "")
            if v.plan_id:
                line += f" plan {v.plan_id}"
            if v.failed:
                line += f" FAILED: {v.error}"
            typer.echo(line)
        failed = any(v.failed for v in visits)
        typer.echo(f"pass: {len(visits)} households visited, {sum(v.failed for v in visits)} failed")
        if once or stop.wait(interval):
            return failed
