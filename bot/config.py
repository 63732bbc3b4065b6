"""The bot's YAML configuration: typed, frozen, strictly validated, and explained when wrong.

The bot runs unattended with real money, so a typo must stop it at start-up rather than be ignored: every
model forbids unknown keys, duplicate YAML keys are rejected, and :func:`load_config` turns every problem
into one human line naming the key path (``bands.default.absolute: must be greater than 0``).

Secrets never live in the config: an account names the environment variables that hold its Alpaca keys,
and :func:`resolve_credentials` reads them (from the environment, else a ``.env`` file) only when needed.
"""

from __future__ import annotations

import difflib
import os
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin
from urllib.parse import urlparse

import yaml
from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot import broker_api_config
from bot.broker_api_config import BrokerApiConfig
from bot.chat.settings import TelegramConfig
from bot.config_checks import http_url, number_problems, state_url
from strategies.bands import DEFAULT_BAND, Band, BandPolicy
from strategies.dynamic_policy import DynamicPolicySpec, build_trigger
from strategies.objective.calibrate import TrackingTarget
from strategies.objective.problem import DEFAULT_CASH_DRAG
from strategies.objective.risk import RiskModel
from strategies.objective.trigger import ObjectiveSpec, ObjectiveTrigger
from strategies.planner import PlannerSettings, TradeTo
from strategies.targets import CASH, SUM_TOLERANCE, TargetAllocation
from strategies.triggers import BandTrigger, Trigger

TICKER = re.compile(r"^[A-Z][A-Z0-9]{0,9}([./][A-Z0-9]{1,4})?$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
REGULAR_SESSION_MINUTES = 390
MAX_EXPIRY_MINUTES = 7 * 24 * 60
PAPER_API_URL = "https://paper-api.alpaca.markets"
LIVE_API_URL = "https://api.alpaca.markets"

KeyPath = tuple[str | int, ...]


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` holds one human-readable line per problem."""

    def __init__(self, problems: list[str] | tuple[str, ...] | str) -> None:
        self.problems = (problems,) if isinstance(problems, str) else tuple(problems)
        super().__init__("\n".join(self.problems))


class KeyProblems(ValueError):
    """Raised inside validators to report problems at key paths below the validated node.

    Pydantic only knows the location of the node a validator runs on; carrying sub-paths lets the loader
    say ``targets.VTI: ...`` instead of just ``targets: ...``.
    """

    def __init__(self, problems: list[tuple[KeyPath, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{_format_path(p)}: {m}" for p, m in problems))


class _Model(BaseModel):
    """Base for all config sections: immutable, and unknown keys are errors (typos get caught)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _raise_if(problems: list[tuple[KeyPath, str]]) -> None:
    if problems:
        raise KeyProblems(problems)


# --- accounts ---------------------------------------------------------------------------------------


class AccountConfig(_Model):
    """One brokerage account to keep on target. ``embedded`` is the offline paper broker (no keys);
    ``alpaca_broker_api`` a customer account of an adviser's Broker API (``bot/broker_api_config.py``)."""

    name: str
    broker: Literal["embedded", "alpaca_paper", "alpaca_live", "alpaca_broker_api"]
    key_id_env: str = "APCA_API_KEY_ID"
    """Name of the environment variable holding the API key id (never the key itself)."""
    secret_key_env: str = "APCA_API_SECRET_KEY"
    base_url: str | None = None
    """Override of the trading API URL. Alpaca brokers default to Alpaca's paper/live URL; for ``embedded``
    it points at an already running ``rebalance-bot paper-broker`` (e.g. http://127.0.0.1:8765)."""
    manual: bool = False
    """True: the scheduler leaves this account alone; it is rebalanced only when a human runs the CLI."""
    broker_api: BrokerApiConfig | None = None
    """For ``alpaca_broker_api`` (and only then): which customer account this is."""

    @model_validator(mode="before")
    @classmethod
    def _broker_api_keys(cls, raw: Any) -> Any:
        return broker_api_config.with_key_defaults(raw)

    @field_validator("name")
    @classmethod
    def _name_is_safe(cls, name: str) -> str:
        if not ACCOUNT_NAME.match(name):
            raise ValueError("must be letters, digits, '-' or '_' (it names files under state_dir)")
        return name

    @field_validator("key_id_env", "secret_key_env")
    @classmethod
    def _is_variable_name(cls, name: str) -> str:
        if not ENV_NAME.match(name):
            raise ValueError("must be the NAME of an environment variable (e.g. APCA_API_KEY_ID), not a key")
        return name

    @field_validator("base_url")
    @classmethod
    def _is_http_url(cls, url: str | None) -> str | None:
        return http_url(url, strip_slash=False)

    @model_validator(mode="after")
    def _url_matches_broker(self) -> AccountConfig:
        _raise_if(broker_api_config.account_problems(self.broker, self.broker_api, self.base_url))
        if self.base_url is None:
            return self
        host = urlparse(self.base_url).netloc
        if self.broker == "embedded" and host.endswith("alpaca.markets"):
            raise KeyProblems([(("base_url",), "points at Alpaca; use broker alpaca_paper or alpaca_live")])
        if self.broker == "alpaca_paper" and host == urlparse(LIVE_API_URL).netloc:
            raise KeyProblems([(("base_url",), "points at the LIVE trading API but broker is alpaca_paper")])
        if self.broker == "alpaca_live" and "paper" in host:
            raise KeyProblems([(("base_url",), "points at the paper API but broker is alpaca_live")])
        return self

    @property
    def needs_credentials(self) -> bool:
        """Alpaca accounts always do; an embedded broker the bot starts itself does not."""
        return self.broker != "embedded" or self.base_url is not None

    @property
    def trading_url(self) -> str | None:
        """The trading API this account talks to (None: an embedded broker the bot starts itself)."""
        defaults = {
            "alpaca_paper": PAPER_API_URL,
            "alpaca_live": LIVE_API_URL,
            broker_api_config.BROKER_API: broker_api_config.SANDBOX_URL,
        }
        return self.base_url or defaults.get(self.broker)

    @property
    def is_live(self) -> bool:
        """Real money: Alpaca's live Trading API, or the production Broker API."""
        if self.broker == broker_api_config.BROKER_API:
            return broker_api_config.is_production(self.base_url)
        return self.broker == "alpaca_live"


# --- targets ----------------------------------------------------------------------------------------


class TargetsConfig(_Model):
    """Target weights. In YAML a flat mapping ``{VTI: 0.35, ..., cash: 0.05}``; weights sum to 1."""

    weights: dict[str, Decimal]
    cash: Decimal = Decimal(0)

    @model_validator(mode="before")
    @classmethod
    def _from_flat_mapping(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise KeyProblems([((), "must be a mapping of ticker: weight, e.g. {VTI: 0.6, AGG: 0.4}")])
        if set(data) == {"weights", "cash"} or set(data) == {"weights"}:
            return data  # already in model form (e.g. re-validating a dumped config)
        problems: list[tuple[KeyPath, str]] = []
        weights: dict[str, Decimal] = {}
        cash = Decimal(0)
        for key, raw in data.items():
            weight, problem = _parse_target(key, raw)
            if problem:
                problems.append(((str(key),), problem))
            elif key == CASH:
                cash = weight
            else:
                weights[key] = weight
        if not problems and not weights:
            problems.append(((), "needs at least one symbol"))
        total = sum(weights.values(), start=cash)
        if not problems and abs(total - 1) > SUM_TOLERANCE:
            problems.append(((), f"weights sum to {_plain(total)}, must sum to 1"))
        _raise_if(problems)
        return {"weights": weights, "cash": cash}

    def to_allocation(self) -> TargetAllocation:
        return TargetAllocation(self.weights, self.cash)


def _parse_target(key: object, raw: object) -> tuple[Decimal, str | None]:
    """One ``symbol: weight`` entry -> (weight, problem or None)."""
    if isinstance(key, bool):
        return Decimal(0), "YAML read this ticker as true/false; put it in quotes, e.g. 'ON': 0.05"
    if not isinstance(key, str) or (key != CASH and not TICKER.match(key)):
        return Decimal(0), "must be an upper-case ticker symbol (or 'cash')"
    weight = _to_decimal(raw)
    if weight is None:
        return Decimal(0), f"weight must be a number such as 0.25 (got {_shown(raw)})"
    if key == CASH and not 0 <= weight <= 1:
        return weight, "cash weight must be between 0 and 1"
    if key != CASH and not 0 < weight <= 1:
        return weight, f"weight must be greater than 0 and at most 1 (got {_plain(weight)})"
    return weight, None


def _to_decimal(raw: object) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


# --- bands ------------------------------------------------------------------------------------------


class BandConfig(_Model):
    """Tolerance band: ``absolute`` in weight units (0.05 = 5pp), ``relative`` to the target (0.25 = 25%).

    An asset breaches when its drift exceeds either; at least one must be given.
    """

    absolute: Decimal | None = Field(None, gt=0, le=1)
    relative: Decimal | None = Field(None, gt=0, le=1)

    @model_validator(mode="after")
    def _at_least_one(self) -> BandConfig:
        if self.absolute is None and self.relative is None:
            raise KeyProblems([((), "needs absolute and/or relative")])
        return self

    def to_band(self) -> Band:
        return Band(self.absolute, self.relative)


class BandsConfig(_Model):
    """When an asset is out of line (bands) and how far it is traded back (``trade_to``)."""

    default: BandConfig = BandConfig(absolute=DEFAULT_BAND.absolute, relative=DEFAULT_BAND.relative)
    overrides: dict[str, BandConfig] = Field(default_factory=dict)
    """Per-symbol bands (or ``cash``); an override replaces the default band for that symbol entirely."""
    trade_to: Literal["target", "band_edge", "partial"] = "target"
    partial_fraction: Decimal = Field(Decimal("0.5"), gt=0, le=1)

    def to_policy(self) -> BandPolicy:
        overrides = {symbol: band.to_band() for symbol, band in self.overrides.items()}
        return BandPolicy(self.default.to_band(), overrides)


# --- dynamic policy (issue 5) ------------------------------------------------------------------------


class RiskModelConfig(_Model):
    """The objective's risk forecast (``strategies.objective.risk.RiskModel``); the defaults suit most
    portfolios of a few ETFs."""

    halflife: float = Field(126.0, gt=0, le=2520)
    window: int = Field(504, ge=63, le=2520)
    shrinkage: Literal["none", "ledoit_wolf"] = "none"
    scale: Literal["relative", "absolute"] = "relative"
    shape: float = Field(0.5, gt=0, le=1)
    """Exponent on the covariance's eigenvalues (1: the forecast as is); see ``RiskModel``."""

    def to_model(self) -> RiskModel:
        return RiskModel(
            halflife=self.halflife,
            window=self.window,
            shrinkage=self.shrinkage,
            scale=self.scale,
            shape=self.shape,
        )


class PolicyConfig(_Model):
    """How the bot decides when and how far to rebalance. ``objective`` (the default): one objective, drift
    risk against trading cost and tax (``strategies.objective``), tuned by one knob, ``tracking``.
    ``dynamic``: the dynamic triggers around the ``bands`` (``strategies.dynamic_policy``); ``bands``: the
    plain bands. Without a ``policy`` section the bot uses the plain bands and ``bands.trade_to``."""

    kind: Literal["objective", "dynamic", "bands"] = "objective"
    # -- objective
    tracking: Literal["tight", "balanced", "relaxed"] = "balanced"
    """How closely to track: tracking error 3%, 6% or 12% of the portfolio's own volatility."""
    tracking_error: float | None = Field(None, gt=0, lt=1)
    """Experts: an absolute yearly tracking error to aim at instead of a preset (0.005 = 0.5%)."""
    relative_tracking_error: float | None = Field(None, gt=0, lt=1)
    """Experts: a tracking error as a share of the portfolio's volatility (0.06 = the balanced preset)."""
    risk_aversion: float | None = Field(None, gt=0, le=1)
    """Experts: a fixed risk aversion, never refitted (``rebalance-bot tune`` recommends one)."""
    risk_model: RiskModelConfig = RiskModelConfig()
    cash_drag: float = Field(DEFAULT_CASH_DRAG, ge=0, le=1)
    """Cost of a unit of idle cash (above its target or the buffer), as a share of it."""
    tax_weight: float | None = Field(None, ge=0, le=1)
    """Share of a sale's estimated tax counted as its cost (with a ``tax`` section). Default: the tax's
    present value, ``1 - (1 + tax_discount_rate) ** -tax_deferral_years``."""
    tax_deferral_years: float = Field(10.0, gt=0, le=100)
    """How long a gain kept now would stay unrealised otherwise (until it is sold for spending, say)."""
    tax_discount_rate: float = Field(0.05, ge=0, le=1)
    """Yearly rate the deferred tax is discounted at (what the money earns meanwhile)."""
    tax_horizon: date | None = None
    """The day you expect to sell everything (e.g. to retire on it): a gain realised n years before it pays
    its tax only n years early, so nearer than ``tax_deferral_years`` to it a sale's tax counts less."""

    @property
    def counted_tax_share(self) -> float:
        """What realising a gain now costs, as a share of its tax: not the tax itself (it is due when the gain
        is realised later anyway) but the value of paying it now rather than ``tax_deferral_years`` later.
        Ten years at 5%: 39%. An investor who will never sell (a bequest's step-up) sets ``tax_weight: 1``."""
        if self.tax_weight is not None:
            return self.tax_weight
        return 1.0 - (1.0 + self.tax_discount_rate) ** -self.tax_deferral_years

    decide_at: str | int | None = "10:00"
    """New York time of the objective's one decision a session ("HH:MM"); null: at every check."""
    # -- dynamic (issue 5)
    band_model: Literal["volatility", "cost_optimal", "fixed"] = "volatility"
    trade_to: Literal["target", "band_edge", "partial"] = "band_edge"
    """Overrides ``bands.trade_to`` when the section is present (dynamic and bands)."""
    partial_fraction: Decimal = Field(Decimal("0.5"), gt=0, le=1)
    vol_halflife: float = Field(20.0, gt=0)
    vol_reference: int = Field(252, ge=2)
    min_scale: Decimal = Field(Decimal("0.5"), gt=0)
    max_scale: Decimal = Field(Decimal("2"), gt=0)
    gamma: float = Field(3.0, gt=0)
    cost_benefit: bool = True
    horizon_years: float = Field(1.0, gt=0)
    risk_halflife: float = Field(60.0, gt=0)
    backstop_days: int = Field(0, ge=0)
    cooldown_days: int = Field(5, ge=0)
    lookback: int = Field(252, ge=2)

    @field_validator("decide_at")
    @classmethod
    def _decide_at_is_a_time(cls, value: str | int | None) -> str | int | None:
        _minutes(value)  # raises with the reason
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PolicyConfig:
        if self.min_scale > self.max_scale:
            raise KeyProblems([(("min_scale",), "must not exceed max_scale")])
        experts = [
            k for k in ("tracking_error", "relative_tracking_error", "risk_aversion") if getattr(self, k)
        ]
        if len(experts) > 1:
            raise KeyProblems([((experts[1],), f"give only one of {', '.join(experts)}")])
        return self

    def to_spec(self) -> DynamicPolicySpec:
        """The dynamic-trigger spec (``kind`` dynamic or bands)."""
        dynamic = {k: v for k, v in self.model_dump().items() if k in DynamicPolicySpec.__dataclass_fields__}
        if dynamic["kind"] == "objective":
            dynamic["kind"] = "dynamic"
        return DynamicPolicySpec(**dynamic)

    def objective_spec(self) -> ObjectiveSpec:
        """The objective's spec from the one knob (or an expert's number)."""
        if self.risk_aversion is not None:
            tracking = None
        elif self.tracking_error is not None:
            tracking = TrackingTarget(self.tracking_error, relative=False, name="tracking_error")
        elif self.relative_tracking_error is not None:
            tracking = TrackingTarget(
                self.relative_tracking_error, relative=True, name="relative_tracking_error"
            )
        else:
            tracking = TrackingTarget.preset(self.tracking)
        return ObjectiveSpec(
            tracking=tracking,
            risk_aversion=self.risk_aversion,
            risk=self.risk_model.to_model(),
            cash_drag=self.cash_drag,
            tax_weight=self.counted_tax_share,
            tax_horizon=self.tax_horizon,
            tax_discount_rate=self.tax_discount_rate,
            decide_at=_minutes(self.decide_at),
        )


def _minutes(value: str | int | None) -> int | None:
    """``"HH:MM"`` as minutes after midnight. YAML 1.1 reads an unquoted ``10:00`` as the base-60 integer
    600, which is already that number of minutes."""
    if value is None:
        return None
    if isinstance(value, int):
        minutes = value
    else:
        hours, _, mins = value.partition(":")
        if not (hours.isdigit() and mins.isdigit() and len(mins) == 2):
            raise ValueError(f'must be a time of day like "10:00", got {value!r}')
        minutes = int(hours) * 60 + int(mins)
    if not 0 <= minutes < 24 * 60:
        raise ValueError(f'must be a time of day from "00:00" to "23:59", got {value!r}')
    return minutes


# --- schedule, execution, approval, limits, logging -------------------------------------------------


class ScheduleConfig(_Model):
    """How often the bot polls, and which part of the trading session it may trade in."""

    interval_minutes: int = Field(5, ge=1, le=1440)
    only_when_open: bool = True
    skip_first_minutes: int = Field(15, ge=0, le=REGULAR_SESSION_MINUTES)
    """Opening auctions and wide early spreads make the first minutes expensive."""
    stop_before_close_minutes: int = Field(15, ge=0, le=REGULAR_SESSION_MINUTES)
    """Alpaca's own rebalancer only runs with 15+ minutes left, so orders have time to fill."""

    @model_validator(mode="after")
    def _leaves_a_window(self) -> ScheduleConfig:
        if self.skip_first_minutes + self.stop_before_close_minutes >= REGULAR_SESSION_MINUTES:
            raise KeyProblems(
                [((), "skip_first_minutes + stop_before_close_minutes leave no time to trade in a session")]
            )
        return self


class SlicingConfig(_Model):
    """How one planned order is executed: at once, or sliced into child orders (``bot/slicing``)."""

    policy: Literal["auto", "single", "twap"] = "auto"
    """``auto``: orders under ``small_order_adv_fraction`` of the symbol's ADV go at once, larger ones are
    sliced; ``single``: always one market order; ``twap``: always sliced."""
    small_order_adv_fraction: Decimal = Field(Decimal("0.005"), ge=0, le=1)
    """``auto`` sends an order at once below this share of the average daily volume (0.005 = 0.5%)."""
    twap_window_minutes: int = Field(60, ge=1, le=REGULAR_SESSION_MINUTES)
    """Shortest window a sliced order is spread over; longer when the participation cap needs it."""
    children: int = Field(12, ge=1, le=REGULAR_SESSION_MINUTES)
    """Child orders over ``twap_window_minutes``: one every window / children minutes."""
    participation_cap: Decimal = Field(Decimal("0.10"), gt=0, le=1)
    """A child is at most this share of the volume traded in its interval (from the latest minute bars)."""
    max_child_notional: Decimal | None = Field(None, gt=0)
    """USD cap on one child order; an order above it is sliced even when small against the volume."""
    collar_half_spreads: Decimal | None = Field(Decimal("2"), ge=0)
    """Limit children: buy at most mid + k half-spreads, sell at least mid - k half-spreads. null sends
    market children instead."""
    reprice_after_minutes: int = Field(2, ge=1, le=REGULAR_SESSION_MINUTES)
    """A limit child still open after this long is canceled and its rest sent again at the new collar."""
    deadline_minutes_before_close: int = Field(15, ge=0, le=REGULAR_SESSION_MINUTES)
    """What is not filled by then is canceled; the next cycle plans it again (a parent never spans days)."""

    @model_validator(mode="after")
    def _interval(self) -> SlicingConfig:
        if self.twap_window_minutes < self.children:
            raise KeyProblems([(("children",), "must not exceed twap_window_minutes (one child a minute)")])
        return self


class ExecutionConfig(_Model):
    """How plans turn into orders."""

    min_trade_notional: Decimal = Field(Decimal("10"), ge=1, le=1_000_000)
    """USD; smaller trades are skipped (Alpaca's own minimum for notional orders is $1)."""
    cash_buffer: Decimal = Field(Decimal("0.005"), ge=0, lt=1)
    """Fraction of the portfolio always kept in cash (room for price moves between plan and fill)."""
    fractional: bool = True
    order_timeout_minutes: int = Field(10, ge=1, le=1440)
    poll_seconds: int = Field(5, ge=1, le=3600)
    slicing: SlicingConfig = SlicingConfig()


class ApprovalConfig(_Model):
    """When a plan waits for a human: ``always``, ``never`` or by ``policy`` (the rules below), and how long a
    request stands. The rules are in :mod:`bot.approval.policy`; any one of them holds a plan."""

    mode: Literal["always", "never", "policy"] = "policy"
    max_plan_notional: Decimal | None = Field(Decimal("5000"), gt=0)
    """USD of buys plus sells above which a plan is held for approval."""
    max_plan_fraction: Decimal | None = Field(Decimal("0.10"), gt=0, le=2)
    """Buys plus sells as a fraction of equity above which a plan is held for approval."""
    max_order_notional: Decimal | None = Field(None, gt=0)
    """USD: a plan with any single order above this is held (None: no such rule)."""
    max_estimated_tax: Decimal | None = Field(None, ge=0)
    """USD: a plan whose sells would realise an estimated tax above this is held (None: no such rule)."""
    tax_rate: Decimal = Field(Decimal("0.20"), ge=0, le=1)
    """Rate applied to realised gains (sell price above the average cost) for the tax estimate; with a ``tax``
    section the estimate comes from the lot ledger and ``tax.rates`` instead."""
    on_harvest: bool = True
    """Hold plans that harvest losses (``tax.harvest``)."""
    on_swap: bool = True
    """Hold plans that swap one security for another (a harvest, or a buy moved to a substitute)."""
    first_plan: bool = False
    """Hold an account's first plan (until a plan of that account has ever been executed)."""
    expiry: Literal["market_close"] | int = "market_close"
    """When a request lapses: at the market close, or after this many minutes (never after the close)."""
    price_tolerance: Decimal = Field(Decimal("0.01"), ge=0, lt=1)
    """The FLOOR of the price re-check: on approval the plan is checked on fresh quotes, and it is planned
    and asked again if a price moved by more than its tolerance since it was planned, which is
    ``max(price_tolerance, volatility_multiple x the asset's daily volatility x sqrt(sessions since))``
    (:mod:`strategies.approval_recheck`). This fraction is the least tolerance, whatever the volatility."""
    volatility_multiple: Decimal = Field(Decimal("2.5"), ge=0, le=10)
    """Standard deviations of daily volatility a price may move before an approval lapses: 2.5 lets an
    ordinary move pass and voids one seen about one day in eighty; 0 keeps the fixed ``price_tolerance``."""
    max_reasks_per_day: int = Field(3, ge=0, le=100)
    """Approved plans voided by the re-check and asked again, at most this many times a day per account (or
    household); after that the bot holds, says why (status, log, one alert) and asks the next session."""
    change_tolerance: Decimal = Field(Decimal("0.10"), ge=0, le=1)
    """A plan differs materially from a held or approved one when a trade appears or disappears or any
    trade's size moves by more than this share of the plan's buys plus sells: the held one is replaced, the
    approved one is planned again and asked again."""
    reask_drift_change: Decimal = Field(Decimal("0.01"), ge=0, le=1)
    """A rejected plan is not asked again until some asset's drift has moved by more than this (weight units:
    0.01 = 1 point) since the rejection."""

    @field_validator("expiry")
    @classmethod
    def _positive_minutes(cls, value: Any) -> Any:
        if isinstance(value, int) and not 1 <= value <= MAX_EXPIRY_MINUTES:
            raise ValueError(f"must be market_close or a number of minutes (1 to {MAX_EXPIRY_MINUTES})")
        return value

    @model_validator(mode="after")
    def _policy_has_threshold(self) -> ApprovalConfig:
        if self.mode == "policy" and self.max_plan_notional is None and self.max_plan_fraction is None:
            raise KeyProblems([((), "mode policy needs max_plan_notional and/or max_plan_fraction")])
        return self


class NotificationsConfig(_Model):
    """Where approval prompts and alerts go: Apprise URLs (Slack, Telegram, e-mail, ntfy, Discord...)."""

    urls: tuple[str, ...] = ()
    """One Apprise URL per line, e.g. ``ntfy://my-topic`` or ``tgram://${TELEGRAM_BOT}/${TELEGRAM_CHAT}``.
    ``${VAR}`` is replaced from the environment (or ``.env``) so tokens stay out of the file."""
    daily_summary: bool = False
    """Send a summary of the day after each close."""
    plans: bool = True
    """A summary of each finished plan: what traded, at what cost against the estimate."""
    fills: bool = False
    """A message for each of the bot's orders as it completes (a plan's summary lists them all as well)."""
    refusals: bool = True
    """An alert when plans are refused (a hard limit, targets the broker cannot trade), once per cause."""
    retries: int = Field(3, ge=0, le=10)
    """Delivery attempts after the first one, with exponential backoff."""
    rejections_alert: int = Field(3, ge=1, le=1000)
    """Alert when the broker rejects this many of an account's orders in one day."""

    @field_validator("urls")
    @classmethod
    def _look_like_urls(cls, urls: tuple[str, ...]) -> tuple[str, ...]:
        problems: list[tuple[KeyPath, str]] = []
        for index, url in enumerate(urls):
            if "://" not in url:
                problems.append(((index,), "must be an Apprise URL (scheme://...)"))
        _raise_if(problems)
        return urls


class WebConfig(_Model):
    """The dashboard started by ``rebalance-bot run``: pending approvals, weights, plans, orders, the log."""

    enabled: bool = True
    host: str = "127.0.0.1"
    """Address to bind; keep 127.0.0.1 (put a TLS reverse proxy in front to reach it from elsewhere)."""
    port: int = Field(8780, ge=0, le=65535)
    public_url: str | None = None
    """Base URL of the dashboard as people reach it, for the links in prompts; default http://host:port."""
    session_hours: float = Field(12, gt=0, le=720)
    """How long a dashboard login lasts."""
    link_hours: float = Field(8, gt=0, le=168)
    """How long an approve/reject link in a prompt stays valid (the request's own expiry also applies)."""
    allowed_hosts: list[str] = Field(default_factory=list)
    """Extra ``Host`` names the dashboard answers (``name`` on its port, or ``name:port`` exactly), beyond its
    bound address, localhost/127.0.0.1/::1 and the public URL's host; any other Host gets 400 (DNS
    rebinding). Needed when binding 0.0.0.0 and reaching it by the machine's name."""

    @field_validator("public_url")
    @classmethod
    def _is_http_url(cls, url: str | None) -> str | None:
        return http_url(url)

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


class LimitsConfig(_Model):
    """Hard guards (USD): a plan that would break one is refused, approval or not."""

    max_order_notional: Decimal = Field(Decimal("10000"), gt=0)
    max_plan_notional: Decimal = Field(Decimal("25000"), gt=0)
    max_daily_notional: Decimal = Field(Decimal("50000"), gt=0)

    @model_validator(mode="after")
    def _limits_nest(self) -> LimitsConfig:
        problems: list[tuple[KeyPath, str]] = []
        if self.max_order_notional > self.max_plan_notional:
            problems.append((("max_order_notional",), "must not exceed max_plan_notional"))
        if self.max_plan_notional > self.max_daily_notional:
            problems.append((("max_plan_notional",), "must not exceed max_daily_notional"))
        _raise_if(problems)
        return self


# --- taxes (issue 8) ------------------------------------------------------------------------------------

ACCOUNT_TYPES = ("taxable", "ira", "roth", "401k", "hsa")
TAX_ADVANTAGED_TYPES = frozenset({"ira", "roth", "401k", "hsa"})
RELIEF_METHODS = ("fifo", "hifo", "min_tax", "specific")
LOT_SELECTING_BROKERS: frozenset[str] = frozenset()
"""Brokers that let the seller pick the lots a sale relieves. Alpaca (and the embedded paper broker, which
mimics it) applies FIFO and takes no per-order lot selection, so for every broker the bot speaks to today
``relief`` must stay ``fifo``: any other method would make every tax estimate wrong."""


class TaxAccountConfig(_Model):
    """How one account is taxed and how its lots are relieved."""

    type: Literal["taxable", "ira", "roth", "401k", "hsa"] = "taxable"
    """Tax-advantaged types (ira, roth, 401k, hsa) realise no taxable gain; they still count for the
    household's wash-sale rule (a replacement bought in an IRA loses the loss for good)."""
    relief: Literal["fifo", "hifo", "min_tax", "specific"] = "fifo"
    """Which lots a sale relieves. Only ``fifo`` for Alpaca accounts (no per-order lot selection)."""
    lots_csv: Path | None = None
    """Lots bought before the bot (``rebalance-bot lots import``); read by the command, not at every start."""

    @property
    def tax_advantaged(self) -> bool:
        return self.type in TAX_ADVANTAGED_TYPES


class TaxRatesConfig(_Model):
    """Marginal rates as fractions: short term (ordinary income) and long term (held more than a year)."""

    short_term: Decimal = Field(Decimal("0.35"), ge=0, le=1)
    long_term: Decimal = Field(Decimal("0.15"), ge=0, le=1)


class HarvestConfig(_Model):
    """Tax-loss harvesting: sell a position at a loss and buy a configured substitute."""

    enabled: bool = False
    min_loss: Decimal = Field(Decimal("1000"), ge=0)
    """USD: a position's unrealised loss must be at least this to be harvested."""
    min_loss_fraction: Decimal = Field(Decimal("0.05"), ge=0, lt=1)
    """...and at least this share of the basis sold (both: no churning of big or tiny positions)."""
    switch_back: bool = True
    """Switch a substitute back to its primary once the wash-sale window has passed..."""
    switch_back_max_gain: Decimal = Field(Decimal("0"), ge=0)
    """...when that realises at most this gain (0: only when it costs no tax)."""


class TaxConfig(_Model):
    """Tax-aware execution (issue 8). Without a ``tax`` section the bot trades as before (average-cost tax
    estimate from ``approval.tax_rate``, no lot ledger)."""

    accounts: dict[str, TaxAccountConfig] = Field(default_factory=dict)
    """Per account name; an account not listed is taxable with FIFO relief."""
    rates: TaxRatesConfig = TaxRatesConfig()
    substantially_identical: tuple[tuple[str, ...], ...] = ()
    """Groups of tickers the wash-sale guard treats as one (e.g. [SPY, IVV, VOO]); a ticker is always
    identical to itself. A ticker may be in one group only."""
    substitutes: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """What to buy instead when harvesting a loss, in order of preference (e.g. VTI: [ITOT, SCHB]). A
    substitute must not be substantially identical to what it replaces."""
    harvest: HarvestConfig = HarvestConfig()
    defer_days: int = Field(30, ge=0, le=365)
    """A sell whose short-term gains turn long term within this many days is deferred (0: never), while
    the asset is inside ``outer_band`` times its band."""
    outer_band: Decimal = Field(Decimal("1.5"), ge=1, le=10)
    gains_to_band_edge: bool = True
    """Sell at a gain only as far as the band needs; the rest of a trade to target only from losses."""
    gain_band_fraction: Decimal = Field(Decimal("0.5"), gt=0, le=1)
    """How far into the band such a gain sale stops, as a share of the band from target (1: just inside the
    edge; 0.5: half-way, which traded far less often than the edge in the tax backtest)."""
    reconcile_tolerance: Decimal = Field(Decimal("0.000001"), ge=0)
    """Shares of difference between the ledger and the broker still taken as equal (fractional rounding)."""

    @field_validator("substantially_identical", mode="after")
    @classmethod
    def _groups(cls, groups: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
        problems: list[tuple[KeyPath, str]] = []
        seen: dict[str, int] = {}
        for index, group in enumerate(groups):
            if len(group) < 2:
                problems.append(((index,), "a group needs at least two tickers"))
            for symbol in group:
                if not TICKER.match(symbol):
                    problems.append(((index,), f"{symbol!r} is not an upper-case ticker"))
                elif symbol in seen and seen[symbol] != index:
                    problems.append(((index,), f"{symbol} is already in group {seen[symbol]}"))
                seen.setdefault(symbol, index)
        _raise_if(problems)
        return groups

    @model_validator(mode="after")
    def _substitutes(self) -> TaxConfig:
        problems: list[tuple[KeyPath, str]] = []
        owner: dict[str, str] = {}
        for symbol, options in self.substitutes.items():
            if not TICKER.match(symbol):
                problems.append((("substitutes", symbol), "must be an upper-case ticker"))
            if not options:
                problems.append((("substitutes", symbol), "needs at least one substitute"))
            for index, option in enumerate(options):
                if not TICKER.match(option):
                    problems.append((("substitutes", symbol, index), "must be an upper-case ticker"))
                elif option == symbol or self.identical(option, symbol):
                    problems.append(
                        (
                            ("substitutes", symbol, index),
                            f"{option} is substantially identical to {symbol} (buying it would wash the"
                            " loss)",
                        )
                    )
                elif option in owner and owner[option] != symbol:
                    problems.append(
                        (("substitutes", symbol, index), f"{option} already substitutes {owner[option]}")
                    )
                owner.setdefault(option, symbol)
            if symbol in owner and owner[symbol] != symbol:
                problems.append((("substitutes", symbol), f"is itself a substitute of {owner[symbol]}"))
            owner.setdefault(symbol, symbol)
        for symbol, options in self.substitutes.items():
            for index, option in enumerate(options):
                if option in self.substitutes:
                    problems.append((("substitutes", symbol, index), f"{option} has substitutes of its own"))
        _raise_if(problems)
        return self

    def sleeves(self) -> tuple[tuple[str, ...], ...]:
        """``substitutes`` as the tax planner's sleeves, primary first: (VTI, ITOT, SCHB)."""
        return tuple((primary, *options) for primary, options in self.substitutes.items())

    def identical(self, a: str, b: str) -> bool:
        return a == b or any(a in group and b in group for group in self.substantially_identical)

    def account(self, name: str) -> TaxAccountConfig:
        return self.accounts.get(name, TaxAccountConfig())


class LoggingConfig(_Model):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    file: Path | None = None
    """Rotating log file; None logs to stderr only."""
    max_bytes: int = Field(10_000_000, ge=1024)
    backups: int = Field(5, ge=0, le=1000)

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, level: Any) -> Any:
        return level.upper() if isinstance(level, str) else level


class EmbeddedLotConfig(_Model):
    """Shares an embedded account starts with: quantity, price paid and purchase date."""

    qty: Decimal = Field(gt=0)
    price: Decimal = Field(gt=0)
    date: date


class EmbeddedAccountConfig(_Model):
    """One embedded account's starting state (the paper broker replays its lots as FILL activities)."""

    cash: Decimal | None = Field(None, ge=0)
    """Starting cash; default ``embedded.cash``."""
    positions: dict[str, tuple[EmbeddedLotConfig, ...]] = Field(default_factory=dict)
    """``SYMBOL: [{qty, price, date}, ...]``."""


class EmbeddedConfig(_Model):
    """The paper broker the bot starts itself for ``embedded`` accounts without a ``base_url``."""

    start: date = date(2020, 1, 2)
    """Simulated date the market starts on (bundled real data covers 2003-2022)."""
    session_seconds: float = Field(60.0, gt=0, le=86400)
    """Wall seconds one simulated trading session lasts."""
    closed_seconds: float = Field(2.0, ge=0, le=86400)
    """Wall seconds the closed time between two sessions lasts."""
    cash: Decimal = Field(Decimal("100000"), ge=0)
    """Starting cash of each embedded account."""
    database: Path | None = None
    """The paper broker's SQLite file; default ``<state_dir>/paper-broker.sqlite``."""
    accounts: dict[str, EmbeddedAccountConfig] = Field(default_factory=dict)
    """Per embedded account name: its own starting cash and the holdings it starts with (lots with their
    purchase price and date, so gains and losses exist from the first cycle). Unlisted accounts start with
    ``cash`` and nothing else."""


# --- household (issue 9) ------------------------------------------------------------------------------


class ContributionConfig(_Model):
    """A scheduled contribution: money announced for this period, capped by what the annual limit leaves.

    The bot cannot deposit money; ``amount`` is a deposit the household makes this period that the plan may
    already invest (clear it once it has landed, or it is counted twice). Buys are always sized to the cash
    the broker actually shows, so a contribution that has not arrived yet only makes buys smaller."""

    amount: Decimal = Field(Decimal(0), ge=0)
    annual_limit: Decimal | None = Field(None, ge=0)
    """The account's yearly limit (e.g. 7000 for an IRA); None: no limit (a taxable account)."""
    contributed_ytd: Decimal = Field(Decimal(0), ge=0)
    """What has already been contributed this calendar year (counts against ``annual_limit``)."""

    @property
    def room(self) -> Decimal | None:
        if self.annual_limit is None:
            return None
        return max(self.annual_limit - self.contributed_ytd, Decimal(0))


class HouseholdAccountConfig(_Model):
    """One member of the household: an ``accounts`` entry (its broker and keys), its tax type and its own
    constraints. Cash never moves between members."""

    account: str
    """The ``name`` of an entry of ``accounts`` (whose keys/env variables the bot trades it with)."""
    type: Literal["taxable", "ira", "roth", "401k", "hsa"] | None = None
    """Tax type; default: ``tax.accounts.<name>.type``, else taxable. ``ira`` is a traditional IRA."""
    cash_reserve: Decimal = Field(Decimal(0), ge=0)
    """USD the plan leaves in cash in this account, whatever the targets say."""
    contribution: ContributionConfig = ContributionConfig()
    withdrawal: Decimal = Field(Decimal(0), ge=0)
    """USD to raise in cash in this account this period (the person withdraws it; the bot cannot)."""
    rmd: Decimal = Field(Decimal(0), ge=0)
    """Required minimum distribution still due this year (ira, 401k): raised in cash in this account."""
    menu: tuple[str, ...] | None = None
    """The funds a 401k plan offers: the only symbols this account may buy (None: any target)."""


class LocationConfig(_Model):
    """An asset-location preference: ``symbols`` belong in accounts of ``account_types``."""

    symbols: tuple[str, ...] = Field(min_length=1)
    account_types: tuple[Literal["taxable", "ira", "roth", "401k", "hsa"], ...] = Field(min_length=1)
    penalty: Decimal = Field(Decimal("0.001"), ge=0, le=1)
    """Per dollar bought elsewhere (credited per dollar sold elsewhere): 0.001 = 10 bp."""
    hard: bool = False
    """True: never buy the symbols outside the preferred account types."""
    name: str = ""


class HouseholdOptimizerConfig(_Model):
    """Knobs of the household optimizer (``strategies.household.OptimizerSettings``)."""

    harvest_losses: bool = False
    """Credit a net realised loss as negative tax (else the plan's tax is floored at zero)."""
    drift_penalty: Decimal = Field(Decimal(0), ge=0)
    """USD per USD of distance from target (0: trade only to the band edges)."""
    min_trade: Decimal | None = Field(None, ge=0)
    """USD; smaller trades are dropped. Default: ``execution.min_trade_notional``."""
    time_limit_seconds: float = Field(2.0, gt=0, le=3600)
    """Solve to the exact optimum for this long; past it, stop once the plan is proven within
    ``accept_gap`` of optimal (``strategies.household.solver.SolvePolicy``)."""
    accept_gap: float = Field(0.01, ge=0, le=1)
    """Relative gap to the optimum accepted after ``time_limit_seconds`` (0.01: within 1%)."""
    time_cap_seconds: float = Field(30.0, gt=0, le=3600)
    """Never solve longer; the plan then says how far from optimal it may be."""


class HouseholdConfig(_Model):
    """Several accounts rebalanced as ONE portfolio: one plan, one approval, orders per account (issue 9)."""

    name: str
    """Names the household's plans (letters, digits, '-' or '_'); must differ from every account name."""
    accounts: tuple[HouseholdAccountConfig, ...] = Field(min_length=1)
    targets: TargetsConfig | None = None
    """The aggregate target allocation; default: the top-level ``targets``."""
    bands: BandsConfig | None = None
    """Bands on the aggregate weights; default: the top-level ``bands``."""
    locations: tuple[LocationConfig, ...] = ()
    optimizer: HouseholdOptimizerConfig = HouseholdOptimizerConfig()

    @field_validator("name")
    @classmethod
    def _name_is_safe(cls, name: str) -> str:
        if not ACCOUNT_NAME.match(name):
            raise ValueError("must be letters, digits, '-' or '_'")
        return name

    def member(self, name: str) -> HouseholdAccountConfig:
        return next(m for m in self.accounts if m.account == name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m.account for m in self.accounts)


# --- the whole file ---------------------------------------------------------------------------------


class BotConfig(_Model):
    """The whole configuration file."""

    accounts: tuple[AccountConfig, ...] = Field(min_length=1)
    targets: TargetsConfig
    bands: BandsConfig = BandsConfig()
    policy: PolicyConfig | None = None
    """The dynamic trigger (issue 5); None: the plain band trigger, as before."""
    schedule: ScheduleConfig = ScheduleConfig()
    execution: ExecutionConfig = ExecutionConfig()
    approval: ApprovalConfig = ApprovalConfig()
    limits: LimitsConfig = LimitsConfig()
    state_dir: Path = Path("state")
    state_url: str | None = None
    """The state database: None, the SQLite file ``<state_dir>/bot.sqlite``; a ``postgresql://`` URL for a
    fleet (checked by ``config_checks.state_url``)."""
    logging: LoggingConfig = LoggingConfig()
    embedded: EmbeddedConfig = EmbeddedConfig()
    notifications: NotificationsConfig = NotificationsConfig()
    web: WebConfig = WebConfig()
    telegram: TelegramConfig | None = None
    """Two-way control from Telegram (bot/chat/); None: prompts and alerts only through ``notifications``."""
    tax: TaxConfig | None = None
    """Tax-aware execution (issue 8); None: no lot ledger, the average-cost estimate of ``approval``."""
    household: HouseholdConfig | None = None
    """Household optimization (issue 9): the member accounts are planned and approved together; None: every
    account is kept on the targets on its own, as before."""

    @field_validator("state_url")
    @classmethod
    def _is_state_url(cls, url: str | None) -> str | None:
        return state_url(url)

    @model_validator(mode="after")
    def _cross_checks(self) -> BotConfig:
        problems: list[tuple[KeyPath, str]] = []
        seen: set[str] = set()
        for index, account in enumerate(self.accounts):
            if account.name in seen:
                problems.append((("accounts", index, "name"), f"duplicate account name {account.name!r}"))
            seen.add(account.name)
        for symbol in self.bands.overrides:
            if symbol != CASH and symbol not in self.targets.weights:
                problems.append((("bands", "overrides", symbol), "is not in targets (only targets or cash)"))
        if self.execution.slicing.deadline_minutes_before_close > self.schedule.stop_before_close_minutes:
            problems.append(
                (
                    ("execution", "slicing", "deadline_minutes_before_close"),
                    "must not exceed schedule.stop_before_close_minutes (a plan made after the deadline "
                    "could not trade)",
                )
            )
        problems += self._tax_checks(seen)
        problems += self._household_checks(seen)
        problems += self._embedded_checks(seen)
        problems += broker_api_config.shared_account_problems(self.accounts)
        problems += number_problems(self)  # finite, sane magnitudes (bot/config_checks.py)
        _raise_if(problems)
        return self

    def _embedded_checks(self, names: set[str]) -> list[tuple[KeyPath, str]]:
        problems: list[tuple[KeyPath, str]] = []
        embedded = {a.name for a in self.accounts if a.broker == "embedded" and a.base_url is None}
        for name, spec in self.embedded.accounts.items():
            if name not in embedded:
                problems.append(
                    (("embedded", "accounts", name), "is not an embedded account without base_url")
                )
            for symbol in spec.positions:
                if not TICKER.match(symbol):
                    problems.append((("embedded", "accounts", name, "positions", symbol), "not a ticker"))
        return problems

    def _household_checks(self, names: set[str]) -> list[tuple[KeyPath, str]]:
        """Members exist once each, types agree with ``tax``, menus and locations name target symbols."""
        household = self.household
        if household is None:
            return []
        problems: list[tuple[KeyPath, str]] = []
        root: KeyPath = ("household",)
        if household.name in names:
            problems.append(((*root, "name"), f"{household.name!r} is also an account name; pick another"))
        targets = household.targets or self.targets
        bands = household.bands or self.bands
        for symbol in bands.overrides:
            if symbol != CASH and symbol not in targets.weights:
                problems.append(((*root, "bands", "overrides", symbol), "is not in the household's targets"))
        seen: set[str] = set()
        for index, member in enumerate(household.accounts):
            path = (*root, "accounts", index)
            if member.account not in names:
                known = ", ".join(sorted(names))
                problems.append(((*path, "account"), f"{member.account!r} is not an account name ({known})"))
            elif member.account in seen:
                problems.append(((*path, "account"), f"{member.account!r} is listed twice"))
            seen.add(member.account)
            kind = self.household_type(member.account)
            declared = self.tax.accounts.get(member.account) if self.tax is not None else None
            if member.type is not None and declared is not None and declared.type != member.type:
                problems.append(
                    (
                        (*path, "type"),
                        f"{member.type} disagrees with tax.accounts.{member.account}.type {declared.type}",
                    )
                )
            if member.rmd > 0 and kind not in ("ira", "401k"):
                problems.append(((*path, "rmd"), f"an RMD applies to an ira or 401k, not a {kind} account"))
            if member.contribution.amount > 0 and member.contribution.room == 0:
                problems.append(((*path, "contribution", "amount"), "the annual limit is already used up"))
            for k, symbol in enumerate(member.menu or ()):
                if symbol not in targets.weights:
                    problems.append(((*path, "menu", k), f"{symbol} is not in the household's targets"))
        for index, location in enumerate(household.locations):
            for k, symbol in enumerate(location.symbols):
                if symbol not in targets.weights:
                    problems.append(
                        ((*root, "locations", index, "symbols", k), f"{symbol} is not in the targets")
                    )
        return problems

    def household_type(self, name: str) -> str:
        """An account's tax type for the household: its ``household`` entry, else ``tax.accounts``."""
        if self.household is not None:
            member = next((m for m in self.household.accounts if m.account == name), None)
            if member is not None and member.type is not None:
                return member.type
        return (self.tax or TaxConfig()).account(name).type

    def _tax_checks(self, names: set[str]) -> list[tuple[KeyPath, str]]:
        if self.tax is None:
            return []
        problems: list[tuple[KeyPath, str]] = []
        brokers = {a.name: a.broker for a in self.accounts}
        for name, settings in self.tax.accounts.items():
            if name not in names:
                known = ", ".join(sorted(names))
                problems.append((("tax", "accounts", name), f"is not an account name ({known})"))
            elif settings.relief != "fifo" and brokers[name] not in LOT_SELECTING_BROKERS:
                problems.append(
                    (
                        ("tax", "accounts", name, "relief"),
                        f"must be fifo: broker {brokers[name]} (Alpaca) applies FIFO and offers no per-order "
                        "lot selection",
                    )
                )
        return problems

    def account(self, name: str) -> AccountConfig:
        return next(a for a in self.accounts if a.name == name)

    def planner_settings(self) -> PlannerSettings:
        """The strategies-side settings the planner needs, from ``bands`` and ``execution``."""
        return PlannerSettings(
            trade_to=TradeTo(self.bands.trade_to),
            partial_fraction=self.bands.partial_fraction,
            min_trade_notional=self.execution.min_trade_notional,
            cash_buffer=self.execution.cash_buffer,
            fractional=self.execution.fractional,
        )

    def policy_spec(self) -> DynamicPolicySpec:
        """The dynamic triggers' spec: the ``policy`` section's when it is of kind dynamic or bands, else
        the chosen default of issue 5 (what the backtester's ``dynamic`` policy runs)."""
        if self.policy is not None and self.policy.kind != "objective":
            return self.policy.to_spec()
        return PolicyConfig(kind="dynamic").to_spec()

    def objective_spec(self) -> ObjectiveSpec:
        """The objective's spec: the ``policy`` section's, or the default (``balanced``) without one."""
        return (self.policy or PolicyConfig()).objective_spec()

    def objective_trigger(self, spec: ObjectiveSpec | None = None) -> ObjectiveTrigger:
        """The objective trigger around this config's bands (its fallback) and cash buffer."""
        floor = self.execution.cash_buffer
        bands = BandTrigger(self.bands.to_policy(), cash_floor=floor)
        return ObjectiveTrigger(spec or self.objective_spec(), fallback=bands, cash_floor=floor)

    def deciding_now(self) -> BotConfig:
        """This config for a preview (``plan``): the objective decides at once, whatever ``decide_at`` says,
        because a person asking "what would it do now" wants the decision, not "it decides at 10:00"."""
        if self.policy is None or self.policy.decide_at is None:
            return self
        return self.model_copy(update={"policy": self.policy.model_copy(update={"decide_at": None})})

    def policy_trigger(self) -> tuple[Trigger, PlannerSettings, int] | None:
        """The live bot's trigger, the planner settings to plan with and the sessions of daily returns it
        needs, from the ``policy`` section; None without one (plain bands and ``bands.trade_to``)."""
        if self.policy is None:
            return None
        if self.policy.kind == "objective":
            spec = self.policy.objective_spec()
            return self.objective_trigger(spec), self.planner_settings(), spec.lookback
        spec = self.policy.to_spec()
        settings = spec.settings(self.planner_settings())
        return build_trigger(spec, self.bands.to_policy(), settings), settings, spec.market_lookback


# --- loading ----------------------------------------------------------------------------------------


def load_config(path: str | Path) -> BotConfig:
    """Read and validate a YAML config; any problem raises :class:`ConfigError` (one line per problem)."""
    path = Path(path)
    data = _read_yaml(path)
    if data is None:
        raise ConfigError(f"{path}: the file is empty")
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: the top level must be a mapping of sections (accounts:, targets:, ...)")
    try:
        return BotConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error)) from None
    except RecursionError:
        raise ConfigError(f"{path}: {TOO_DEEP}") from None


TOO_DEEP = "the YAML nests too deeply (a config is a few levels deep): look for runaway brackets"


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(
            f"{path}: cannot read the config file ({error.__class__.__name__}: {error})"
        ) from None
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except RecursionError:
        raise ConfigError(f"{path}: {TOO_DEEP}") from None
    except ValueError as error:  # e.g. an integer of thousands of digits (Python's int conversion limit)
        first = str(error).split(":")[0]
        raise ConfigError(f"{path}: a value cannot be read ({first}); use an ordinary number") from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise ConfigError(f"{path}: YAML error at {where}: {error.problem}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: YAML error: {error}") from None


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys, which plain YAML silently resolves to the last value."""


def _construct_mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:
            continue  # unhashable key: construct_mapping reports it
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (the second value would silently win)",
                key_node.start_mark,
            )
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping_without_duplicates
)


# --- error messages ---------------------------------------------------------------------------------


def describe_validation_error(error: ValidationError) -> list[str]:
    """One ``key.path: problem`` line per pydantic error, in the config's own words."""
    lines: list[str] = []
    items = error.errors(include_url=False)
    for item in items:
        loc = tuple(item["loc"])
        if item["type"] == "too_short" and any(_is_below(other["loc"], loc) for other in items):
            continue  # pydantic counts only the entries that validated; the real problems are below
        cause = item.get("ctx", {}).get("error")
        if isinstance(cause, KeyProblems):
            lines += [f"{_format_path(loc + sub)}: {message}" for sub, message in cause.problems]
        else:
            lines.append(f"{_format_path(loc)}: {_describe(item, loc)}")
    return lines


def _is_below(loc: KeyPath, parent: KeyPath) -> bool:
    return len(loc) > len(parent) and tuple(loc[: len(parent)]) == tuple(parent)


_MESSAGES = {
    "missing": "is required",
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "too_short": "must have at least {min_length} entry",
    "string_too_short": "must not be empty",
    "literal_error": "must be {expected}",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_type": "must be a whole number",
    "decimal_parsing": "must be a number",
    "decimal_type": "must be a number",
    "string_type": "must be text",
    "dict_type": "must be a mapping (key: value lines)",
    "model_type": "must be a mapping (key: value lines)",
    "model_attributes_type": "must be a mapping (key: value lines)",
    "tuple_type": "must be a list (lines starting with '- ')",
    "list_type": "must be a list (lines starting with '- ')",
    "path_type": "must be a file or directory path",
}
_ECHO_INPUT = {
    "literal_error",
    "bool_parsing",
    "int_parsing",
    "int_from_float",
    "decimal_parsing",
    "int_type",
}


def _describe(item: Mapping[str, Any], loc: KeyPath) -> str:
    kind = item["type"]
    ctx = {
        key: _plain(value) if isinstance(value, Decimal) else value
        for key, value in item.get("ctx", {}).items()
    }
    if kind == "extra_forbidden":
        return _unknown_key_message(loc)
    if kind == "value_error":
        return str(item.get("ctx", {}).get("error", item["msg"]))
    template = _MESSAGES.get(kind)
    if template is None:
        return item["msg"]
    message = template.format(**ctx)
    secret_field = bool(loc) and str(loc[-1]).endswith("_env")
    if kind in _ECHO_INPUT and not secret_field:
        message += f" (got {_shown(item.get('input'))})"
    return message


def _unknown_key_message(loc: KeyPath) -> str:
    allowed = _allowed_keys(loc[:-1])
    if not allowed:
        return "unknown key"
    guess = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    hint = f"did you mean {guess[0]!r}? " if guess else ""
    return f"unknown key; {hint}allowed: {', '.join(allowed)}"


def _allowed_keys(loc: KeyPath) -> list[str] | None:
    """Field names of the config section at ``loc``, by walking the model annotations."""
    annotation: Any = BotConfig
    for part in loc:
        annotation = _unwrap_optional(annotation)
        origin = get_origin(annotation)
        if isinstance(part, int) and origin in (tuple, list):
            annotation = get_args(annotation)[0]
        elif origin is dict:
            annotation = get_args(annotation)[1]
        elif (
            isinstance(annotation, type)
            and issubclass(annotation, BaseModel)
            and part in annotation.model_fields
        ):
            annotation = annotation.model_fields[str(part)].annotation
        else:
            return None
    annotation = _unwrap_optional(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return None


def _unwrap_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _format_path(loc: KeyPath) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _plain(value: Decimal) -> str:
    """Decimal without exponent or trailing zeros: 0.950 -> '0.95', 1E+1 -> '10'."""
    return format(value.normalize(), "f")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- credentials ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """Alpaca API keys. The repr never shows them, so they cannot leak into logs or tracebacks."""

    key_id: str = field(repr=False)
    secret_key: str = field(repr=False)

    def __repr__(self) -> str:
        return "Credentials(key_id=<redacted>, secret_key=<redacted>)"

    __str__ = __repr__


def resolve_credentials(
    account: AccountConfig,
    environ: Mapping[str, str] | None = None,
    dotenv_path: str | Path | None = ".env",
) -> Credentials:
    """Read the account's keys from ``environ`` (default ``os.environ``), falling back to ``dotenv_path``.

    The environment wins over the file, as with python-dotenv's default; ``os.environ`` is never modified.
    A missing or empty variable raises :class:`ConfigError` naming the VARIABLE, never a value.
    """
    environ = os.environ if environ is None else environ
    dotenv: Mapping[str, str | None] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        dotenv = dotenv_values(dotenv_path)
    values: dict[str, str] = {}
    problems: list[str] = []
    for variable in (account.key_id_env, account.secret_key_env):
        value = environ.get(variable) or dotenv.get(variable)
        if value:
            values[variable] = value
        else:
            where = f"the environment or {dotenv_path}" if dotenv_path is not None else "the environment"
            problems.append(f"account {account.name!r}: {variable} is not set (looked in {where})")
    if problems:
        raise ConfigError(problems)
    return Credentials(values[account.key_id_env], values[account.secret_key_env])


_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def resolve_notification_urls(
    urls: tuple[str, ...] | list[str],
    environ: Mapping[str, str] | None = None,
    dotenv_path: str | Path | None = ".env",
) -> tuple[list[str], list[str]]:
    """Apprise URLs with ``${VAR}`` replaced from ``environ`` (default ``os.environ``), else ``dotenv_path``.

    Returns the URLs and the values substituted (to be redacted from logs). A missing variable raises
    :class:`ConfigError` naming the VARIABLE, never a value.
    """
    environ = os.environ if environ is None else environ
    dotenv: Mapping[str, str | None] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        dotenv = dotenv_values(dotenv_path)
    resolved: list[str] = []
    secrets: list[str] = []
    problems: list[str] = []
    for index, url in enumerate(urls):

        def _value(match: re.Match[str], index: int = index) -> str:
            name = match.group(1)
            value = environ.get(name) or dotenv.get(name)
            if not value:
                problems.append(f"notifications.urls[{index}]: {name} is not set (looked in the environment)")
                return ""
            secrets.append(value)
            return value

        resolved.append(_PLACEHOLDER.sub(_value, url))
    if problems:
        raise ConfigError(problems)
    return resolved, secrets
