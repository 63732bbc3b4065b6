"""The accounts file: which accounts the paper broker hosts, their keys, starting cash and holdings.

One server hosts several accounts (a household of taxable, IRA and 401k accounts), each with its own key pair.
An optional ``broker_api`` key pair is the adviser's: like Alpaca's Broker API credentials it may act on every
account, naming the account by its id in the path (``/v1/trading/accounts/{account_id}/...``).
Starting positions carry their purchase dates and prices, so that a lot ledger can be rebuilt later from the
broker's FILL activities, as it would be from a real account's history.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class AccountsFileError(ValueError):
    """The accounts file cannot be used; the message names the file, the key and the problem."""


class StartingLot(BaseModel):
    """Shares bought before the simulation starts: quantity, price paid and purchase date."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    qty: Decimal = Field(gt=0)
    price: Decimal = Field(gt=0)
    date: date


class StartingPosition(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    symbol: str
    lots: tuple[StartingLot, ...] = Field(min_length=1)

    @field_validator("symbol")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.strip().upper()


class AccountSettings(BaseModel):
    """Per-account settings that change how orders are accepted (Alpaca's account configurations)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    fractional_trading: bool = True
    suspend_trade: bool = False
    account_type: str = "taxable"
    """Free text for the humans and for later tax logic (taxable, traditional_ira, roth_ira, 401k, hsa)."""
    margin_type: Literal["cash", "margin"] = "margin"
    """``margin`` (Alpaca paper's kind: 2x buying power from $2,000 of equity) or ``cash`` (1x, buying power
    is cash). See ``margin.py`` for the rules."""
    max_margin_multiplier: Literal["1", "2", "4"] = "4"
    """Caps the multiplier, as Alpaca's account configuration of the same name (also set by PATCH)."""
    pattern_day_trader: bool = False
    """Flagged pattern day trader: 4x intraday buying power from $25,000 of equity (margin accounts)."""


class AccountSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=1)
    key_id: str = Field(min_length=1)
    secret_key: str = Field(min_length=1, repr=False)
    cash: Decimal = Field(ge=0)
    positions: tuple[StartingPosition, ...] = ()
    settings: AccountSettings = AccountSettings()

    @model_validator(mode="after")
    def _one_position_per_symbol(self) -> AccountSpec:
        symbols = [p.symbol for p in self.positions]
        duplicates = sorted({s for s in symbols if symbols.count(s) > 1})
        if duplicates:
            raise ValueError(f"positions list {', '.join(duplicates)} more than once")
        return self


class BrokerApiKeys(BaseModel):
    """The one key pair of the Broker API (HTTP Basic auth), which may act on every hosted account."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    key_id: str = Field(min_length=1)
    secret_key: str = Field(min_length=1, repr=False)


class AccountsFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    accounts: tuple[AccountSpec, ...] = Field(min_length=1)
    broker_api: BrokerApiKeys | None = None
    """Without it the Broker API routes refuse every request (401)."""

    @model_validator(mode="after")
    def _unique(self) -> AccountsFile:
        for attribute in ("name", "key_id"):
            values = [getattr(a, attribute) for a in self.accounts]
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise ValueError(f"account {attribute} must be unique, repeated: {', '.join(repeated)}")
        return self


def default_accounts() -> AccountsFile:
    """A single demo account with $100,000 cash, used when no accounts file is given."""
    return AccountsFile(
        accounts=(
            AccountSpec(name="paper", key_id="paper-key", secret_key="paper-secret", cash=Decimal(100_000)),
        )
    )


def load_accounts(path: Path) -> AccountsFile:
    """Read a YAML or JSON accounts file; any problem becomes one AccountsFileError naming key and problem."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise AccountsFileError(f"{path}: cannot read accounts file ({exc.strerror})") from exc
    try:
        raw = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise AccountsFileError(f"{path}: not valid YAML/JSON: {exc}") from exc
    try:
        return AccountsFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors()
        )
        raise AccountsFileError(f"{path}: {problems}") from exc
