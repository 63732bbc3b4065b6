"""Execution policies: one frozen config model per policy, and the per-order choice between them.

* :class:`SingleOrderPolicy` - the planned order goes to the broker as one market order (the bot's behaviour
  before slicing, and still the right one for orders that are small against the symbol's volume);
* :class:`TwapPolicy` - the order is split into child orders over a window (TWAP), each child capped at a
  share of the volume traded in its interval and at a notional, priced inside a collar around the mid,
  re-priced when it does not fill, and stopped at a deadline before the close.

A parent stores the policy it started with (``to_json``), so a restarted bot finishes a schedule under the
rules it began with even if the config changed in between.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from bot.config import SlicingConfig

POLICY_NAMES = ("auto", "single", "twap")


@dataclass(frozen=True)
class SingleOrderPolicy:
    """One market order for the whole planned amount."""

    name: ClassVar[str] = "single"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name}


@dataclass(frozen=True)
class TwapPolicy:
    """Child orders spread evenly over a window, within a participation cap, a child notional cap and a
    price collar; what is left at the deadline is canceled and planned again by the next cycle."""

    name: ClassVar[str] = "twap"
    window_minutes: int = 60
    children: int = 12
    participation_cap: Decimal = Decimal("0.10")
    max_child_notional: Decimal | None = None
    collar_half_spreads: Decimal | None = Decimal("2")
    """None: market children (no collar, no re-pricing)."""
    reprice_after_minutes: int = 2
    deadline_minutes_before_close: int = 15
    max_rejections: int = 3
    """Rejected children after which the parent gives up (what is left goes to the next cycle)."""

    def __post_init__(self) -> None:
        if self.window_minutes < 1 or self.children < 1 or self.children > self.window_minutes:
            raise ValueError("need 1 <= children <= window_minutes")
        if not Decimal(0) < self.participation_cap <= 1:
            raise ValueError("participation_cap must be in (0, 1]")
        if self.max_child_notional is not None and self.max_child_notional <= 0:
            raise ValueError("max_child_notional must be > 0")
        if self.collar_half_spreads is not None and self.collar_half_spreads < 0:
            raise ValueError("collar_half_spreads must be >= 0")
        if (
            self.reprice_after_minutes < 1
            or self.deadline_minutes_before_close < 0
            or self.max_rejections < 1
        ):
            raise ValueError(
                "reprice_after_minutes >= 1, deadline_minutes_before_close >= 0, max_rejections >= 1"
            )

    @property
    def interval(self) -> timedelta:
        """Time between two scheduled children (whole minutes, at least one)."""
        return timedelta(minutes=max(1, self.window_minutes // self.children))

    @property
    def uses_limits(self) -> bool:
        return self.collar_half_spreads is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "window_minutes": self.window_minutes,
            "children": self.children,
            "participation_cap": str(self.participation_cap),
            "max_child_notional": _text(self.max_child_notional),
            "collar_half_spreads": _text(self.collar_half_spreads),
            "reprice_after_minutes": self.reprice_after_minutes,
            "deadline_minutes_before_close": self.deadline_minutes_before_close,
            "max_rejections": self.max_rejections,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> TwapPolicy:
        return cls(
            window_minutes=int(raw["window_minutes"]),
            children=int(raw["children"]),
            participation_cap=Decimal(raw["participation_cap"]),
            max_child_notional=_dec(raw.get("max_child_notional")),
            collar_half_spreads=_dec(raw.get("collar_half_spreads")),
            reprice_after_minutes=int(raw["reprice_after_minutes"]),
            deadline_minutes_before_close=int(raw["deadline_minutes_before_close"]),
            max_rejections=int(raw.get("max_rejections", 3)),
        )


@dataclass(frozen=True)
class SlicingSettings:
    """The ``execution.slicing`` section as the executor uses it."""

    policy: str = "auto"
    small_order_adv_fraction: Decimal = Decimal("0.005")
    twap: TwapPolicy = field(default_factory=TwapPolicy)

    def __post_init__(self) -> None:
        if self.policy not in POLICY_NAMES:
            raise ValueError(f"policy must be one of {', '.join(POLICY_NAMES)}, not {self.policy!r}")

    @classmethod
    def from_config(cls, config: SlicingConfig) -> SlicingSettings:
        return cls(
            policy=config.policy,
            small_order_adv_fraction=config.small_order_adv_fraction,
            twap=TwapPolicy(
                window_minutes=config.twap_window_minutes,
                children=config.children,
                participation_cap=config.participation_cap,
                max_child_notional=config.max_child_notional,
                collar_half_spreads=config.collar_half_spreads,
                reprice_after_minutes=config.reprice_after_minutes,
                deadline_minutes_before_close=config.deadline_minutes_before_close,
            ),
        )


@dataclass(frozen=True)
class PolicyChoice:
    policy: SingleOrderPolicy | TwapPolicy
    reason: str
    adv_fraction: Decimal | None


def choose_policy(
    settings: SlicingSettings, qty: Decimal, adv: Decimal | None, est_notional: Decimal
) -> PolicyChoice:
    """Pick the policy of one order of ``qty`` shares (about ``est_notional`` USD) in a symbol trading
    ``adv`` shares a day: small orders at once, large ones (against the volume or the child notional cap)
    sliced. Without volume history the order goes at once: no participation could be measured."""
    fraction = (qty / adv) if adv else None
    if settings.policy == "single":
        return PolicyChoice(SingleOrderPolicy(), "execution.slicing.policy is single", fraction)
    if settings.policy == "twap":
        return PolicyChoice(settings.twap, "execution.slicing.policy is twap", fraction)
    cap = settings.twap.max_child_notional
    if cap is not None and est_notional > cap:
        return PolicyChoice(
            settings.twap, f"~${est_notional:,.0f} is above max_child_notional ${cap:,.0f}", fraction
        )
    if fraction is None:
        return PolicyChoice(SingleOrderPolicy(), "no volume history for the symbol", None)
    pct = f"{fraction * 100:.3f}% of ADV"
    if fraction < settings.small_order_adv_fraction:
        return PolicyChoice(
            SingleOrderPolicy(), f"{pct} < {settings.small_order_adv_fraction * 100:g}%: small", fraction
        )
    return PolicyChoice(
        settings.twap, f"{pct} >= {settings.small_order_adv_fraction * 100:g}%: sliced", fraction
    )


def policy_from_json(raw: dict[str, Any]) -> SingleOrderPolicy | TwapPolicy:
    return TwapPolicy.from_json(raw) if raw.get("name") == TwapPolicy.name else SingleOrderPolicy()


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))
