"""The CLI's gate on bad input and a broken broker: one line per problem and exit code 2, never a traceback.

Every command loads its config through :func:`load_or_exit`, so ``check-config`` refuses exactly what
``plan`` and ``run`` would (schema, numbers, paths, tickers; :mod:`bot.config_checks`). Commands that talk to
the broker run inside :func:`broker_errors`: an unset key variable, a broker that cannot be reached or one
that refuses the keys ends the command with a line saying what to check.

The log lines the broker adapter writes while it retries would bury that line: one-off commands keep log
lines off the console (:func:`console_logs`; every failure that matters ends in the command's own line).
``rebalance-bot --debug CMD`` shows every log line and, on a failure, the full trace before the one line.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from bot.config import BotConfig

DEBUG = {"on": False}
"""Whether ``--debug`` was given (set by the app's callback for the command being run)."""


def console_logs(debug: bool) -> Callable[[], None]:
    """Console logging for a one-off command: none, or everything with ``--debug``; returns the undo
    (``rebalance-bot run`` replaces this with its own logging set-up)."""
    import structlog

    saved = structlog.get_config()
    DEBUG["on"] = debug
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG if debug else logging.CRITICAL),
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr),  # the stderr of the moment
    )

    def restore() -> None:
        DEBUG["on"] = False
        structlog.configure(**saved)

    return restore


def key_problems(config: BotConfig) -> list[str]:
    """``check-config``: every key variable ``plan`` and ``run`` will read is set (environment or .env):
    each account's Alpaca keys and the Telegram bot token."""
    from bot.config import ConfigError, resolve_credentials

    problems: list[str] = []
    for account in config.accounts:
        if not account.needs_credentials:
            continue
        try:
            resolve_credentials(account)
        except ConfigError as exc:
            problems += [f"{p}; set it, or fix key_id_env / secret_key_env" for p in exc.problems]
    if config.telegram is not None:
        from bot.chat.settings import resolve_token

        try:
            resolve_token(config.telegram)
        except ConfigError as exc:
            problems += list(exc.problems)
    return problems


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


def load_for_backtest(config_path: Path, targets: str, given: bool) -> BotConfig:
    """``backtest`` with preset targets needs no config file: outside the repository the default
    ``config/example.yaml`` is not there, so a config of the preset's targets and the default objective
    policy stands in. A config named with ``-c`` (or ``--targets config``) must exist as always."""
    if given or targets == "config" or config_path.exists():
        return load_or_exit(config_path)
    from bot.backtest.policies import TARGET_PRESETS
    from bot.config import BotConfig

    preset = TARGET_PRESETS.get(targets)
    if preset is None:
        fail(f"unknown targets {targets!r}; choose 60-40, diversified or config")
    weights = {symbol: str(w) for symbol, w in preset.weights.items()}
    return BotConfig.model_validate(
        {
            "accounts": [{"name": "backtest", "broker": "embedded"}],
            "targets": {**weights, **({"cash": str(preset.cash)} if preset.cash else {})},
            "policy": {"kind": "objective"},
        }
    )


@contextmanager
def broker_errors(config: BotConfig) -> Iterator[None]:
    """Turn an unset key variable or a broker failure inside the block into one line and exit 2."""
    from bot.broker_watch import BROKER_FAILURES, KeysRefused, describe
    from bot.config import ConfigError

    try:
        yield
    except ConfigError as exc:
        _trace()
        fail(exc.problems[0], list(exc.problems[1:]))
    except KeysRefused as exc:
        _trace()
        fail(str(exc))
    except BROKER_FAILURES as exc:
        _trace()
        fail(describe(exc, config))


def _trace() -> None:
    """With ``--debug``: the full trace of the exception being handled, before its one line."""
    if DEBUG["on"]:
        traceback.print_exc(file=sys.stderr)


def check_online(config: BotConfig, brokers: dict[str, Any]) -> None:
    """``check-config --online``: every target asked at every account's broker, and the Telegram token at
    its Bot API; exit 2 naming what it cannot trade or what to fix."""
    from bot.config_checks import online_ticker_problems

    for account in config.accounts:  # one authenticated request: wrong keys or a wrong URL fail here
        brokers[account.name].account()
    problems = online_ticker_problems(config, brokers)
    if problems:
        fail("the brokers cannot trade some targets:", [f"  {p}" for p in problems])
    if config.telegram is not None:  # the bot token, with one getMe
        from bot.chat.online import telegram_problem
        from bot.chat.settings import resolve_token

        problem = telegram_problem(config.telegram, resolve_token(config.telegram))
        if problem:
            fail(problem)


def fail(first: str, more: list[str] | tuple[str, ...] = ()) -> None:
    typer.echo(f"error: {first}", err=True)
    for line in more:
        typer.echo(line if line.startswith(" ") else f"  {line}", err=True)
    raise typer.Exit(2)
