"""The CLI's gate on bad input and a broken broker: one line per problem and exit code 2, never a traceback.

Every command loads its config through :func:`load_or_exit`, so ``check-config`` refuses exactly what
``plan`` and ``run`` would (schema, numbers, paths, tickers; :mod:`bot.config_checks`). Commands that talk to
the broker run inside :func:`broker_errors`: an unset key variable, a broker that cannot be reached or one
that refuses the keys ends the command with a line saying what to check.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from bot.config import BotConfig


def load_or_exit(config_path: Path) -> BotConfig:
    """The validated config, or exit 2 with one line per problem: nothing is traded on a bad config."""
    from bot.config import ConfigError, load_config
    from bot.config_checks import path_problems, ticker_problems

    try:
        config = load_config(config_path)
        problems = path_problems(config) + ticker_problems(config)
        if problems:
            raise ConfigError(problems)
    except ConfigError as exc:
        fail(f"invalid config {config_path}:", [f"  {p}" for p in exc.problems])
    return config


@contextmanager
def broker_errors(config: BotConfig) -> Iterator[None]:
    """Turn an unset key variable or a broker failure inside the block into one line and exit 2."""
    from bot.broker_watch import BROKER_FAILURES, KeysRefused, describe
    from bot.config import ConfigError

    try:
        yield
    except ConfigError as exc:
        fail(exc.problems[0], list(exc.problems[1:]))
    except KeysRefused as exc:
        fail(str(exc))
    except BROKER_FAILURES as exc:
        fail(describe(exc, config))


def check_online(config: BotConfig, brokers: dict[str, Any]) -> None:
    """``check-config --online``: every target asked at every account's broker; exit 2 naming the ones it
    cannot trade."""
    from bot.config_checks import online_ticker_problems

    problems = online_ticker_problems(config, brokers)
    if problems:
        fail("the brokers cannot trade some targets:", [f"  {p}" for p in problems])


def fail(first: str, more: list[str] | tuple[str, ...] = ()) -> None:
    typer.echo(f"error: {first}", err=True)
    for line in more:
        typer.echo(line if line.startswith(" ") else f"  {line}", err=True)
    raise typer.Exit(2)
