"""The policies a backtest compares (a registry), and the target portfolios it runs them on.

A policy is data: a schedule (``strategies.schedules``) saying when it looks, a trigger (``strategies``)
saying whether to trade when it looks, and the planner settings saying how far. The decision code is the
live bot's: every plan comes from ``strategies.planner.plan_rebalance``.

Built-in baselines (``research/NOTES.md`` section 1):

| name | schedule | trigger | trades to |
|---|---|---|---|
| ``never`` | none (invest once at the start) | - | - |
| ``monthly`` / ``quarterly`` / ``annual`` | first session of the period | calendar (always) | target |
| ``band-5pp-monthly`` | first session of each month | 5 pp absolute band (Vanguard) | target |
| ``opportunistic-20pct`` | first session of every other week | 20% relative band (Daryanani) | half-way |
| ``bot`` | every session (at the close) | the configured bands, as the live bot | ``trade_to`` |
| ``dynamic`` | every session | ``strategies.dynamic_policy`` (config ``policy``) | its ``trade_to`` |
| ``objective`` | every session | ``strategies.objective`` (config ``policy``) | its optimum |

Execution settings (``min_trade_notional``, ``cash_buffer``, ``fractional``) come from the config for all of
them, so policies differ only in when they look, whether they trade and how far. More policies (e.g. the
dynamic triggers of ``strategies.dynamic_triggers``) are added with :func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from bot.config import BotConfig
from strategies.bands import Band, BandPolicy
from strategies.dynamic_policy import build_trigger
from strategies.planner import PlannerSettings, TradeTo
from strategies.schedules import CalendarTrigger, EverySession, NoChecks, Period, Periodic, Schedule
from strategies.targets import TargetAllocation
from strategies.triggers import BandTrigger, Trigger


@dataclass(frozen=True)
class Policy:
    """When to look, whether to trade, how far."""

    name: str
    description: str
    schedule: Schedule
    trigger: Trigger | None
    """None: ``plan_rebalance`` evaluates its own band trigger on ``bands``, exactly as the live bot does."""
    bands: BandPolicy
    """The bands ``plan_rebalance`` is given (and drawn for this policy in the report)."""
    settings: PlannerSettings
    has_bands: bool = True
    """False for policies that consult no band (calendar, never)."""
    market_lookback: int = 0
    """Sessions of trailing returns (and cost inputs) the trigger needs in ``TriggerContext.market``."""


PolicyFactory = Callable[[BotConfig], Policy]
_REGISTRY: dict[str, PolicyFactory] = {}


def register(name: str) -> Callable[[PolicyFactory], PolicyFactory]:
    """Decorator adding a policy factory (config -> Policy) under ``name``."""

    def add(factory: PolicyFactory) -> PolicyFactory:
        if name in _REGISTRY:
            raise ValueError(f"policy {name!r} is already registered")
        _REGISTRY[name] = factory
        return factory

    return add


def policy_names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def policies_for(names: list[str], config: BotConfig) -> list[Policy]:
    """Policies by name (``all`` expands to every registered one), in the order given."""
    expanded: list[str] = []
    for name in names:
        for item in _REGISTRY if name == "all" else (name,):
            if item not in _REGISTRY:
                raise ValueError(f"unknown policy {item!r}; choose from {', '.join(_REGISTRY)} or all")
            if item not in expanded:
                expanded.append(item)
    return [_REGISTRY[name](config) for name in expanded]


def _execution(config: BotConfig, trade_to: TradeTo = TradeTo.TARGET) -> PlannerSettings:
    return replace(config.planner_settings(), trade_to=trade_to)


@register("never")
def _never(config: BotConfig) -> Policy:
    return Policy(
        name="never",
        description="invest at the start, never trade again",
        schedule=NoChecks(),
        trigger=None,
        bands=config.bands.to_policy(),
        settings=_execution(config),
        has_bands=False,
    )


def _calendar(name: str, period: Period) -> PolicyFactory:
    def factory(config: BotConfig) -> Policy:
        return Policy(
            name=name,
            description=f"back to target on the first session of each {period.value}",
            schedule=Periodic(period),
            trigger=CalendarTrigger(),
            bands=config.bands.to_policy(),
            settings=_execution(config),
            has_bands=False,
        )

    return factory


register("monthly")(_calendar("monthly", Period.MONTH))
register("quarterly")(_calendar("quarterly", Period.QUARTER))
register("annual")(_calendar("annual", Period.YEAR))


@register("band-5pp-monthly")
def _vanguard(config: BotConfig) -> Policy:
    bands = BandPolicy(Band(absolute=Decimal("0.05")))
    settings = _execution(config)
    return Policy(
        name="band-5pp-monthly",
        description="checked monthly; assets 5 pp or more off go back to target (Vanguard)",
        schedule=Periodic(Period.MONTH),
        trigger=BandTrigger(bands, cash_floor=settings.cash_buffer),
        bands=bands,
        settings=settings,
    )


@register("opportunistic-20pct")
def _daryanani(config: BotConfig) -> Policy:
    bands = BandPolicy(Band(relative=Decimal("0.20")))
    settings = replace(_execution(config, TradeTo.PARTIAL), partial_fraction=Decimal("0.5"))
    return Policy(
        name="opportunistic-20pct",
        description="checked every 2 weeks; assets 20% of target off go half-way back (Daryanani)",
        schedule=Periodic(Period.WEEK, every=2),
        trigger=BandTrigger(bands, cash_floor=settings.cash_buffer),
        bands=bands,
        settings=settings,
    )


BOT_POLICY = "bot"


@register(BOT_POLICY)
def bot_policy(config: BotConfig) -> Policy:
    """The configured bot as the live bot runs it: its ``policy`` section's objective or dynamic trigger
    (under the name ``bot``), or without one its plain bands and planner settings, every session."""
    kind = config.policy.kind if config.policy is not None else "bands"
    if kind in ("objective", "dynamic"):
        chosen = objective_policy(config) if kind == "objective" else dynamic_policy(config)
        return replace(chosen, name=BOT_POLICY, description=f"the configured bot: {chosen.description}")
    bands = config.bands.to_policy()
    widths = f"default band {_band_text(bands.default)}, trade to {config.bands.trade_to}"
    return Policy(
        name=BOT_POLICY,
        description=f"the configured bot, checked every session ({widths})",
        schedule=EverySession(),
        trigger=None,
        bands=bands,
        settings=config.planner_settings(),
    )


DYNAMIC_POLICY = "dynamic"


@register(DYNAMIC_POLICY)
def dynamic_policy(config: BotConfig) -> Policy:
    """The dynamic trigger of ``strategies.dynamic_policy`` around the configured bands, checked every
    session: the config's ``policy`` section, or the chosen default without one (BENCHMARKS.md, issue 5).
    Built by the same code as the live bot's trigger (``BotConfig.policy_trigger``)."""
    spec = config.policy_spec()
    bands = config.bands.to_policy()
    settings = spec.settings(config.planner_settings())
    parts = [f"{spec.band_model} bands" if spec.kind == "dynamic" else "bands"]
    if spec.kind == "dynamic":
        parts += ["cost/benefit gate"] if spec.cost_benefit else []
        parts += [f"{spec.backstop_days}d backstop"] if spec.backstop_days else []
        parts += [f"{spec.cooldown_days}d cooldown"] if spec.cooldown_days else []
    return Policy(
        name=DYNAMIC_POLICY,
        description=f"dynamic trigger checked every session: {', '.join(parts)}; trade to {spec.trade_to}",
        schedule=EverySession(),
        trigger=build_trigger(spec, bands, settings),
        bands=bands,
        settings=settings,
        market_lookback=spec.market_lookback,
    )


OBJECTIVE_POLICY = "objective"


@register(OBJECTIVE_POLICY)
def objective_policy(config: BotConfig) -> Policy:
    """The objective (``strategies.objective``) checked every session: the config's ``policy`` section when
    it is of kind objective, else the default (``balanced``). Built by the same code as the live bot's
    trigger (``BotConfig.objective_trigger``)."""
    spec = config.objective_spec()
    return Policy(
        name=OBJECTIVE_POLICY,
        description=f"{spec.describe()}, checked every session",
        schedule=EverySession(),
        trigger=config.objective_trigger(spec),
        bands=config.bands.to_policy(),
        settings=config.planner_settings(),
        market_lookback=spec.lookback,
    )


def _band_text(band: Band) -> str:
    parts = []
    if band.absolute is not None:
        parts.append(f"{band.absolute * 100:g} pp")
    if band.relative is not None:
        parts.append(f"{band.relative * 100:g}% of target")
    return " / ".join(parts)


# --- target portfolios --------------------------------------------------------------------------------

SIXTY_FORTY = TargetAllocation({"SPY": Decimal("0.6"), "AGG": Decimal("0.4")})
"""60/40: US large caps (SPY) and US aggregate bonds (AGG); both have data from 2003-09."""

DIVERSIFIED = TargetAllocation(
    {
        "VTI": Decimal("0.35"),
        "EFA": Decimal("0.15"),
        "EEM": Decimal("0.05"),
        "AGG": Decimal("0.25"),
        "TIP": Decimal("0.05"),
        "VNQ": Decimal("0.05"),
        "GLD": Decimal("0.05"),
    },
    cash=Decimal("0.05"),
)
"""The mix of ``config/example.yaml`` with VEA -> EFA and VWO -> EEM (same asset classes, older funds: VEA
starts 2007-07 and VWO 2005-03 in the bundled data), so every asset has data from 2004-11-18 (GLD's first
session) to 2022-12-30."""

TARGET_PRESETS = {"60-40": SIXTY_FORTY, "diversified": DIVERSIFIED}


def targets_for(name: str, config: BotConfig) -> TargetAllocation:
    """``60-40``, ``diversified`` or ``config`` (the config file's own targets)."""
    if name == "config":
        return config.targets.to_allocation()
    try:
        return TARGET_PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown targets {name!r}; choose 60-40, diversified or config") from None
