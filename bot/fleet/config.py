"""The fleet file: which households, where the shared state is, where the work runs, how fast a key may go.

::

    state_url: postgresql://bot@db.example/rebalance   # required: the fleet's one state, PostgreSQL only
    scheduler: tcp://10.0.0.5:8786                     # optional; default a LocalCluster of `workers`
    workers: 2
    rate_limit_per_minute: 200                          # per broker key (Alpaca's limit)
    interval_seconds: 15                                # between passes, without --once
    households:
      - households/smith.yaml                           # a household config file (relative to this file)
      - {accounts: [...], targets: {...}, household: {...}}   # or one inline

Each household is an ordinary bot config with a ``household`` section and no account outside it; its keys
are read from the environment of the worker that runs it (``key_id_env``/``secret_key_env``, the Broker API's
defaults included), so no secret travels through the scheduler. All households share one database, where
plans are kept under the household's name and orders, fills and lots under the account's: both must be
unique across the fleet, or two households would read each other's rows. Any problem raises
:class:`bot.config.ConfigError`, one line per problem (the CLI exits 2 with them).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.config import BotConfig, ConfigError, _read_yaml, describe_validation_error
from bot.config_checks import state_url as checked_state_url


class FleetSettings(BaseModel):
    """The fleet file's own keys (households are checked one by one, see :func:`load_fleet`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    state_url: str
    scheduler: str | None = None
    """A Dask scheduler address (``tcp://host:8786``); None: a LocalCluster of ``workers`` processes."""
    workers: int = Field(default=2, ge=1, le=256)
    rate_limit_per_minute: int = Field(default=200, ge=1, le=100_000)
    """Requests per minute per broker key, shared by every worker (Alpaca: 200)."""
    interval_seconds: float = Field(default=15.0, gt=0, le=3600)
    households: tuple[str | dict[str, Any], ...] = Field(min_length=1)

    @field_validator("state_url")
    @classmethod
    def _postgres_only(cls, url: str) -> str:
        checked = checked_state_url(url)
        if checked is None or not checked.startswith("postgresql"):
            raise ValueError("a fleet keeps its state in PostgreSQL (postgresql://user@host/database)")
        return checked

    @field_validator("scheduler")
    @classmethod
    def _address(cls, address: str | None) -> str | None:
        if address is not None and "://" not in address:
            raise ValueError(f"must be a Dask scheduler address such as tcp://host:8786 (got {address!r})")
        return address


class FleetConfig(BaseModel):
    """The checked fleet: its settings and every household's config (by household name, in file order)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    settings: FleetSettings
    households: dict[str, BotConfig]


def load_fleet(path: str | Path) -> FleetConfig:
    """Read and check a fleet file; every problem raises one :class:`ConfigError` listing them all."""
    path = Path(path)
    data = _read_yaml(path)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: the top level must be a mapping (state_url:, households:, ...)")
    return fleet_from(data, base=path.parent, where=str(path))


def fleet_from(data: Mapping[str, Any], base: Path = Path("."), where: str = "fleet") -> FleetConfig:
    """A fleet from its parsed file (``base``: where relative household paths start)."""
    try:
        settings = FleetSettings.model_validate(data)
    except ValidationError as error:
        raise ConfigError([f"{where}: {line}" for line in describe_validation_error(error)]) from None
    problems: list[str] = []
    households: dict[str, BotConfig] = {}
    owner_of_account: dict[str, str] = {}
    for index, entry in enumerate(settings.households):
        label = f"households[{index}]" + (f" ({entry})" if isinstance(entry, str) else "")
        try:
            config = _household(entry, base)
        except ConfigError as exc:
            problems += [f"{label}: {line}" for line in exc.problems]
            continue
        problems += _household_problems(label, config, households, owner_of_account)
        households[config.household.name] = config.model_copy(update={"state_url": settings.state_url})  # type: ignore[union-attr]
    if problems:
        raise ConfigError(problems)
    return FleetConfig(settings=settings, households=households)


def _household(entry: str | dict[str, Any], base: Path) -> BotConfig:
    if isinstance(entry, str):
        from bot.config import load_config

        return load_config(base / entry)
    try:
        return BotConfig.model_validate(entry)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error)) from None


def _household_problems(
    label: str, config: BotConfig, seen: dict[str, BotConfig], owner_of_account: dict[str, str]
) -> list[str]:
    household = config.household
    if household is None:
        return [f"{label}: has no household section (a fleet plans households)"]
    problems: list[str] = []
    if household.name in seen:
        problems.append(f"{label}: household name {household.name!r} is used twice (plans are kept by it)")
    outside = [a.name for a in config.accounts if a.name not in household.names]
    if outside:
        problems.append(
            f"{label}: accounts outside the household: {', '.join(outside)} (the fleet plans only households)"
        )
    for account in config.accounts:
        if account.broker == "embedded" and account.base_url is None:
            problems.append(
                f"{label}: account {account.name!r} is embedded without base_url (a fleet starts no broker)"
            )
        other = owner_of_account.get(account.name)
        if other is not None and other != household.name:
            problems.append(
                f"{label}: account name {account.name!r} is also in household {other!r} "
                "(orders and lots are kept by account name: make it unique)"
            )
        owner_of_account[account.name] = household.name
    return problems
