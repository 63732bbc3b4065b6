"""Checks on a config beyond its schema: numbers the bot can compute with, paths it can write, tickers it can
trade.

``bot.config`` validates types and the ranges each field declares. What it cannot see from one field is
checked here, so that ``check-config`` and every command that loads the config (``plan``, ``run``) refuse the
same configs with the same lines:

* every number is finite and of a sane magnitude (a ``1e300`` or an ``inf`` would overflow a timedelta or a
  Decimal quantization deep inside a cycle), and the policy's windows have upper bounds;
* ``state_dir``, the log file and the embedded broker's database can actually be created and written (a
  ``/dev/null`` state_dir, a NUL byte in a path or a read-only log folder would otherwise surface as a
  traceback at start-up);
* the embedded broker's start date lies in its bundled data;
* the targets are tickers the broker can trade: offline, the embedded paper broker's bundled data; with
  ``check-config --online``, each account's broker's ``/v2/assets``.
"""

from __future__ import annotations

import functools
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from pydantic import BaseModel

if TYPE_CHECKING:
    from bot.config import BotConfig

KeyPath = tuple[str | int, ...]

MAX_MAGNITUDE = Decimal(10) ** 12
"""No number in the config needs more: a trillion dollars, bytes or minutes."""

POLICY_LIMITS: Mapping[str, int] = {
    "lookback": 5040,  # sessions of daily returns: 20 years, more than any data the bot reads
    "vol_reference": 5040,
    "vol_halflife": 2520,
    "risk_halflife": 2520,
    "backstop_days": 3650,
    "cooldown_days": 3650,
    "horizon_years": 100,
    "gamma": 1000,
    "min_scale": 100,
    "max_scale": 100,
}
"""Upper bounds of ``policy`` fields whose schema gives only a lower one (kept here, beside the other range
checks, so that the policy section of ``bot.config`` stays as it is; a bound belongs in its ``Field`` once
that section is next reworked)."""


# -- numbers -------------------------------------------------------------------------------------------------
def number_problems(config: BaseModel) -> list[tuple[KeyPath, str]]:
    """Every number of ``config`` finite and at most ``MAX_MAGNITUDE``; the ``policy`` bounds above."""
    problems: list[tuple[KeyPath, str]] = []
    for path, value in _numbers(config, ()):
        if not _finite(value):
            problems.append((path, f"must be a finite number (got {value})"))
        elif abs(Decimal(str(value))) > MAX_MAGNITUDE:
            problems.append((path, f"must be at most {MAX_MAGNITUDE:,} in size (got {_short(value)})"))
        elif len(path) == 2 and path[0] == "policy" and str(path[1]) in POLICY_LIMITS:
            limit = POLICY_LIMITS[str(path[1])]
            if value > limit:
                problems.append((path, f"must be at most {limit} (got {_short(value)})"))
    return problems


def _numbers(node: Any, path: KeyPath) -> Iterator[tuple[KeyPath, Any]]:
    if isinstance(node, bool):
        return
    if isinstance(node, int | float | Decimal):
        yield path, node
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _numbers(getattr(node, name), (*path, name))
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield from _numbers(value, (*path, str(key)))
    elif isinstance(node, tuple | list):
        for index, value in enumerate(node):
            yield from _numbers(value, (*path, index))


def _finite(value: float | Decimal | int) -> bool:
    return value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= 24 else f"{float(value):.3g}"  # type: ignore[arg-type]


# -- paths ---------------------------------------------------------------------------------------------------
def path_problems(config: BotConfig) -> list[str]:
    """The state directory, the log file and the embedded database can be created and written."""
    try:
        return _path_problems(config)
    except (OSError, ValueError) as exc:  # a name too long for the file system, say
        return [f"a path in the config cannot be used ({exc}); check state_dir, logging.file and database"]


def _path_problems(config: BotConfig) -> list[str]:
    state_dir = Path(config.state_dir)
    problems = _directory_problem("state_dir", state_dir)
    log_file = config.logging.file
    problems += _file_problem("logging.file", log_file or state_dir / "bot.log", configured=log_file)
    if any(a.broker == "embedded" and a.base_url is None for a in config.accounts):
        database = config.embedded.database
        problems += _file_problem(
            "embedded.database", database or state_dir / "paper-broker.sqlite", configured=database
        )
    for name, settings in (config.tax.accounts if config.tax is not None else {}).items():
        if settings.lots_csv is not None and "\0" in str(settings.lots_csv):
            problems.append(f"tax.accounts.{name}.lots_csv: contains a NUL character; give a real path")
    return problems


def _directory_problem(key: str, path: Path) -> list[str]:
    if "\0" in str(path):
        return [f"{key}: contains a NUL character; give a real directory path"]
    if path.exists() and not path.is_dir():
        return [f"{key}: {path} exists and is not a directory; give a directory (created if missing)"]
    why = _unwritable(path if path.exists() else _existing_ancestor(path))
    if why:
        return [f"{key}: cannot create or write {path} ({why}); give a directory this user can write"]
    return []


def _file_problem(key: str, path: Path, configured: Path | None) -> list[str]:
    """A file the bot appends to. Problems with the default file under state_dir are state_dir's, already
    reported: only a configured path is blamed here."""
    if configured is None and (_directory_problem("", path.parent)):
        return []
    if "\0" in str(path):
        return [f"{key}: contains a NUL character; give a real file path"]
    if path.is_dir():
        return [f"{key}: {path} is a directory; give a file path"]
    if path.exists():
        try:
            with path.open("ab"):
                pass
        except OSError as exc:
            return [f"{key}: cannot write {path} ({exc.strerror or exc}); give a file this user can write"]
        return []
    if path.parent.exists() and not path.parent.is_dir():
        return [f"{key}: {path.parent} is not a directory; give a file path in a directory"]
    why = _unwritable(_existing_ancestor(path.parent))
    if why:
        return [f"{key}: cannot create {path} ({why}); give a file in a directory this user can write"]
    return []


def _existing_ancestor(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _unwritable(directory: Path) -> str | None:
    """Why a file cannot be created in ``directory`` (None: it can). Tried for real, with a temporary file
    removed at once: permission bits say nothing to root, nor about a read-only file system."""
    if not directory.is_dir():
        return f"{directory} is not a directory"
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return None if os.access(directory, os.W_OK | os.X_OK) else "permission denied"


# -- tickers -------------------------------------------------------------------------------------------------
def target_symbols(config: BotConfig) -> dict[str, str]:
    """Every symbol the bot may be asked to buy, with the key that names it: the targets (the household's
    too), the tax substitutes."""
    out: dict[str, str] = {s: f"targets.{s}" for s in config.targets.weights}
    if config.household is not None and config.household.targets is not None:
        for symbol in config.household.targets.weights:
            out.setdefault(symbol, f"household.targets.{symbol}")
    if config.tax is not None:
        for primary, options in config.tax.substitutes.items():
            for index, symbol in enumerate(options):
                out.setdefault(symbol, f"tax.substitutes.{primary}[{index}]")
    return out


def ticker_problems(config: BotConfig) -> list[str]:
    """Offline: the paper broker the bot starts itself trades only the symbols of its bundled data. (A broker
    at a URL, Alpaca's or a running paper broker's, is asked with ``check-config --online``.)"""
    if not any(a.broker == "embedded" and a.base_url is None for a in config.accounts):
        return []
    from bot.paper_broker.marketdata import BUNDLED_DATA_DIR, discover_files

    known = set(discover_files(BUNDLED_DATA_DIR)[0])
    first, last = bundled_span()
    problems = []
    if not first <= config.embedded.start <= last:
        problems.append(
            f"embedded.start: {config.embedded.start} is outside the bundled market data ({first} to {last});"
            " give a date in that span"
        )
    symbols = target_symbols(config)
    for name, spec in config.embedded.accounts.items():
        for symbol in spec.positions:
            symbols.setdefault(symbol, f"embedded.accounts.{name}.positions.{symbol}")
    return problems + [
        f"{key}: the embedded paper broker has no data for {symbol}, so it cannot be traded (it has "
        f"{', '.join(sorted(known))}); use one of those, or an Alpaca account"
        for symbol, key in symbols.items()
        if symbol not in known
    ]


@functools.cache
def bundled_span() -> tuple[date, date]:
    """First and last day of the bundled market data (read once per process)."""
    from bot.paper_broker.marketdata import MarketData

    data = MarketData.bundled()
    return data.first_day(), data.last_day()


def online_ticker_problems(config: BotConfig, brokers: Mapping[str, Any]) -> list[str]:
    """With ``--online``: each account's broker is asked about every symbol (``GET /v2/assets/{symbol}``)."""
    from bot.tradable import untradable

    symbols = target_symbols(config)
    problems: list[str] = []
    for account in config.accounts:
        assets = brokers[account.name].assets(list(symbols))
        for symbol, why in untradable(symbols, assets).items():
            problems.append(f"{symbols[symbol]}: {symbol} {why} (account {account.name}, asked online)")
    return problems


def http_url(url: str | None, strip_slash: bool = True) -> str | None:
    """A config URL checked to be http(s) with a host (the one rule behind every URL setting), its trailing
    slash dropped unless ``strip_slash`` is False; None stays None."""
    if url is not None and (urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc):
        raise ValueError(f"must be an http(s) URL (got {url!r})")
    return url.rstrip("/") if url and strip_slash else url


_STATE_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "sqlite": "sqlite",
}


def state_url(url: str | None) -> str | None:
    """The config's ``state_url`` checked: ``postgresql://user@host/db`` (psycopg 3 is the driver the bot
    ships, so ``postgresql+psycopg://`` means the same) or ``sqlite:////abs/path.sqlite``; returned with its
    driver named. A password never goes in the config (it would sit in a file and in every message that names
    the database): libpq reads it from ``PGPASSWORD`` or ``~/.pgpass``. None stays None."""
    if url is None:
        return None
    parts = urlparse(url)
    driver = _STATE_DRIVERS.get(parts.scheme)
    if driver is None:
        raise ValueError(f"must be a postgresql:// (psycopg 3) or sqlite:/// URL (got {url!r})")
    if parts.password is not None:
        raise ValueError("must not contain a password: set PGPASSWORD in the environment or use ~/.pgpass")
    if driver == "sqlite" and parts.path in ("", "/"):
        raise ValueError(
            "names no file (sqlite:////path/to/bot.sqlite); leave it out for <state_dir>/bot.sqlite"
        )
    if driver != "sqlite" and not parts.path.strip("/"):
        raise ValueError(f"names no database (postgresql://user@host/DATABASE, got {url!r})")
    return driver + url[len(parts.scheme) :]
