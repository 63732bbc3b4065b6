"""``rebalance-bot init``: a starting config from a few questions, or from the account's holdings today.

Every question has a flag, so the command is scriptable: a question whose flag is given is not asked, and
``--yes`` takes the default of every question left. A typed answer that cannot be used is asked again with
the reason; a flag that cannot be used ends the command with one line and exit code 2. Nothing is written
until the whole config loads as ``check-config`` would load it, and never over an existing file without
``--force``. The targets are in :mod:`bot.init_targets`, the limits and the YAML in :mod:`bot.init_config`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from bot.init_config import BROKERS, DEFAULT_URLS, TRACKING, Answers, InitError

T = TypeVar("T")


@dataclass(frozen=True)
class Asker:
    """Asks a question unless its flag was given (or ``--yes`` takes its default)."""

    take_defaults: bool

    def __call__(self, question: str, given: str | None, default: str | None, parse: Callable[[str], T]) -> T:
        if given is not None:
            try:
                return parse(given)
            except ValueError as exc:
                raise _fail(f"{question.lower()}: {exc}") from None
        if self.take_defaults:
            if default is None:
                raise _fail(f"{question.lower()}: no default; give it as a flag")
            return parse(default)

        def checked(text: str) -> T:
            try:
                return parse(text)
            except ValueError as exc:  # click asks again, showing why
                raise typer.BadParameter(str(exc)) from None

        return typer.prompt(question, default=default, value_proc=checked)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def init(
    config: Annotated[Path, typer.Option("--config", "-c", help="Where to write the config.")] = Path(
        "config/my-portfolio.yaml"
    ),
    from_account: Annotated[
        bool,
        typer.Option(
            "--from-account",
            help="Targets = the account's weights today (rounded, see --round), read from the broker with "
            "the keys in the key variables; limits sized to its equity.",
        ),
    ] = False,
    targets: Annotated[
        str | None,
        typer.Option(help="SYMBOL=PERCENT pairs, e.g. VTI=60,AGG=35,cash=5, or a preset such as 60-40."),
    ] = None,
    broker: Annotated[
        str | None, typer.Option(help="paper, live, or embedded (a running rebalance-bot paper-broker).")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="The broker's trading API URL (default: Alpaca's paper or live URL).")
    ] = None,
    key_id_env: Annotated[str | None, typer.Option(help="Variable holding the API key id.")] = None,
    secret_key_env: Annotated[str | None, typer.Option(help="Variable holding the API secret key.")] = None,
    account_value: Annotated[
        str | None, typer.Option(help="USD in the account (without --from-account): sizes the limits.")
    ] = None,
    tracking: Annotated[str | None, typer.Option(help="tight, balanced or relaxed.")] = None,
    approval_above: Annotated[
        str | None, typer.Option(help="USD: a plan bigger than this waits for approval.")
    ] = None,
    state_dir: Annotated[str | None, typer.Option(help="Where the bot keeps its state.")] = None,
    account_name: Annotated[str | None, typer.Option(help="The account's name in the config.")] = None,
    round_to: Annotated[
        str, typer.Option("--round", help="With --from-account: round weights to 1 or 0.5 percent.")
    ] = "1",
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Take the default of every question not given as a flag.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Write a starting config from a few questions, or from the account's current holdings."""
    from bot.init_config import render, validate, write

    if config.exists() and not force:  # before any question: the answers would be thrown away
        raise _fail(f"{config} already exists; nothing written (give --force to replace it)")
    ask = Asker(yes)
    kind = ask("Broker (paper, live or embedded)", broker, "paper", _choice(BROKERS))
    if kind == "embedded":  # a running paper broker, or none: the bot then starts its own
        url = ask("Paper broker URL (empty: the bot starts its own)", base_url, "", _url_or_none)
    else:
        url = ask("Trading API URL", base_url, DEFAULT_URLS[kind], _url)
    if url == DEFAULT_URLS.get(kind):
        url = None
    key_env = ask("Variable holding the key id", key_id_env, "APCA_API_KEY_ID", _variable)
    secret_env = ask("Variable holding the secret key", secret_key_env, "APCA_API_SECRET_KEY", _variable)
    name = account_name or kind
    if from_account:
        if targets is not None or account_value is not None:
            raise _fail("--from-account reads the targets and the account value from the broker; drop them")
        chosen, equity, limits, source = _from_account(name, kind, url, key_env, secret_env, round_to)
    else:
        chosen, equity, limits, source = _from_answers(ask, targets, account_value)
    track = ask("How closely to track (tight, balanced, relaxed)", tracking, "balanced", _choice(TRACKING))
    from bot.init_config import default_approval

    threshold = ask(
        "Ask for approval above (USD)", approval_above, str(default_approval(equity)), _whole_dollars
    )
    folder = ask("State directory", state_dir, "state", _text)
    answers = Answers(name, kind, url, key_env, secret_env, chosen, track, threshold, folder, limits, source)
    text = render(answers, date.today())
    try:
        validate(text, config)
        write(config, text, force)
    except InitError as exc:
        raise _fail(str(exc)) from exc
    _report(config, answers)


def _from_answers(ask: Asker, targets: str | None, account_value: str | None) -> tuple[Any, ...]:
    from bot.init_config import size_limits
    from bot.init_targets import first_investment, parse_targets

    chosen = ask(
        "Targets (SYMBOL=PERCENT,... e.g. VTI=60,AGG=35,cash=5, or a preset)", targets, None, parse_targets
    )
    equity = ask("Account value in USD (sizes the hard limits)", account_value, "100000", _dollars)
    gross, largest = first_investment(chosen, equity)
    limits = size_limits(equity, gross, largest, "the first investment from cash")
    return chosen, equity, limits, f"targets as answered; account of ${equity:,.0f}"


def _from_account(name: str, kind: str, url: str | None, key_env: str, secret_env: str, round_to: str):  # noqa: ANN202
    """The account read through the broker adapter: targets = today's weights rounded."""
    from bot.broker import AlpacaBroker
    from bot.cli_checks import broker_errors
    from bot.config import BotConfig, resolve_credentials
    from bot.init_config import size_limits
    from bot.init_targets import TargetsError, first_rebalance, rounded_holdings

    if kind == "embedded" and url is None:
        raise _fail("--from-account with --broker embedded needs --base-url of a running paper-broker")
    account = _account(name, kind, url, key_env, secret_env)
    with broker_errors(BotConfig.model_construct(accounts=(account,))):
        credentials = resolve_credentials(account)
        client = AlpacaBroker(
            credentials.key_id,
            credentials.secret_key,
            trading_url=account.trading_url,
            paper=account.broker != "alpaca_live",
            max_attempts=2,
        )
        state, positions = client.account(), client.positions()
    try:
        chosen, now = rounded_holdings(state, positions, _step(round_to))
    except TargetsError as exc:
        raise _fail(str(exc)) from exc
    gross, largest = first_rebalance(chosen, now, state.equity)
    limits = size_limits(state.equity, gross, largest, "the first rebalance to these targets")
    source = f"targets from the account's holdings on {date.today().isoformat()}, equity ${state.equity:,.0f}"
    return chosen, state.equity, limits, source


def _account(name: str, kind: str, url: str | None, key_env: str, secret_env: str) -> Any:
    from pydantic import ValidationError

    from bot.config import AccountConfig, describe_validation_error

    raw = {
        "name": name,
        "broker": BROKERS[kind],
        "base_url": url,
        "key_id_env": key_env,
        "secret_key_env": secret_env,
    }
    try:
        return AccountConfig.model_validate(raw)
    except ValidationError as exc:
        raise _fail("the account: " + "; ".join(describe_validation_error(exc))) from None


def _report(path: Path, answers: Answers) -> None:
    weights = ", ".join(f"{s} {w:.1%}" for s, w in sorted(answers.targets.weights.items()))
    typer.echo(f"wrote {path}")
    typer.echo(f"  targets: {weights}, cash {answers.targets.cash:.1%}")
    if answers.targets.dropped:
        typer.echo(
            f"  not in the targets (too small to round to a step; the bot would sell them): "
            f"{', '.join(answers.targets.dropped)}"
        )
    typer.echo("  limits: " + ", ".join(f"{n} ${lim.value:,}" for n, lim in answers.limits.items()))
    typer.echo(f"next: rebalance-bot check-config -c {path}, then rebalance-bot plan -c {path} (a dry run)")


# --- answer parsers: ValueError with the reason, so a prompt asks again and a flag exits 2 -----------------


def _choice(options: dict[str, Any]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in options:
            raise ValueError(f"{text!r} is not one of {', '.join(options)}")
        return value

    return parse


def _url(text: str) -> str:
    from urllib.parse import urlparse

    parts = urlparse(text.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{text!r} is not an http(s) URL")
    return text.strip().rstrip("/")


def _url_or_none(text: str) -> str | None:
    return _url(text) if text.strip() else None


def _variable(text: str) -> str:
    from bot.config import ENV_NAME

    if not ENV_NAME.match(text.strip()):
        raise ValueError(f"{text!r} is not a variable NAME (e.g. APCA_API_KEY_ID); never type the key itself")
    return text.strip()


def _dollars(text: str) -> Decimal:
    try:
        value = Decimal(text.strip().replace(",", "").lstrip("$"))
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount in dollars") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{text!r}: give an amount above 0")
    return value


def _whole_dollars(text: str) -> int:
    return int(_dollars(text).to_integral_value())


def _step(text: str) -> Decimal:
    if text.strip() not in ("1", "0.5"):
        raise _fail(f"--round {text!r}: give 1 or 0.5 (percent)")
    return Decimal(text.strip())


def _text(text: str) -> str:
    if not text.strip():
        raise ValueError("give a directory")
    return text.strip()
