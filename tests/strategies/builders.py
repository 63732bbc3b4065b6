"""Small builders so each test states its portfolio in one readable line."""

from __future__ import annotations

from decimal import Decimal

from strategies.bands import Band, BandPolicy
from strategies.planner import PlannerSettings
from strategies.portfolio import OpenOrder, PortfolioSnapshot
from strategies.targets import TargetAllocation


def D(value: str | int) -> Decimal:
    return Decimal(str(value))


def snapshot(
    holdings: dict[str, tuple[str | int, str | int]],
    cash: str | int = 0,
    *,
    fractional: bool = True,
    open_orders: tuple[OpenOrder, ...] = (),
    extra_prices: dict[str, str | int] | None = None,
) -> PortfolioSnapshot:
    """``holdings`` maps symbol -> (quantity, mid price)."""
    prices = {s: D(p) for s, (_, p) in holdings.items()} | {s: D(p) for s, p in (extra_prices or {}).items()}
    return PortfolioSnapshot(
        cash=D(cash),
        positions={s: D(q) for s, (q, _) in holdings.items()},
        prices=prices,
        fractionable={s: fractional for s in prices},
        open_orders=open_orders,
    )


def targets(cash: str | int = 0, **weights: str) -> TargetAllocation:
    return TargetAllocation({s: D(w) for s, w in weights.items()}, D(cash))


def bands(absolute: str | None = "0.05", relative: str | None = None, **overrides: Band) -> BandPolicy:
    default = Band(D(absolute) if absolute else None, D(relative) if relative else None)
    return BandPolicy(default, overrides)


def settings(**changes: object) -> PlannerSettings:
    """Planner settings with NO cash buffer unless a test asks for one, so the arithmetic stays round."""
    values: dict[str, object] = {"cash_buffer": D(0), "min_trade_notional": D(10)}
    values.update(changes)
    return PlannerSettings(**values)  # type: ignore[arg-type]
