"""Does an approved plan still stand on fresh prices? Pure rules shared by the account and household bots.

A person approves a plan at the prices it was planned on; before anything is sent the bot re-checks it on
fresh quotes. A fixed tolerance (1%) voided approval after approval on ordinary days: a volatile fund moves
1% in an hour, and a plan approved in the morning and started at noon was asked again, five times in a row.
What a person approved is not "these exact prices" but "these trades at about these prices"; how far "about"
reaches depends on how much the asset moves, and for how long the approval has stood.

**Tolerance per asset.** ``tol_i = max(floor, k * sigma_i * sqrt(n))``:

- ``sigma_i``: the asset's daily volatility, the RiskMetrics EWMA of its daily returns (lambda 0.94, a
  half-life of about 11 sessions) computed by the objective's own estimator
  (:class:`strategies.objective.risk.RiskModel`). A short half-life on purpose: in a storm the tolerance
  widens within days, which is when a fixed one voids every approval.
- ``n``: trading sessions since the plan was priced, never below one (an approval started within the same
  session still gets a day's worth of ordinary movement: intraday moves are not smaller in practice).
- ``k`` (``approval.volatility_multiple``, default 2.5): a move of 2.5 standard deviations happens on about
  one day in eighty for a normal return, so an ordinary move does not void an approval, and a real break
  (a crash day, a bad fill, a stale plan) still does.
- ``floor`` (``approval.price_tolerance``): the least tolerance, whatever the volatility; with ``k = 0`` it
  is the only one (the fixed rule of before).

So a 1.5% move in a stock fund with 0.8% daily volatility (tolerance 2.0%) stands, while the same move in a
bond fund with 0.2% (tolerance max(1%, 0.5%) = 1%) voids the approval.

**Trades.** The fresh plan is also compared order by order with the approved one: an order appearing or
disappearing, or one moving by more than ``approval.change_tolerance`` of the plan's gross, voids it too.
Each difference is named (which order, from what amount to what), so a re-ask says exactly what changed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np

from strategies.formatting import shares, usd
from strategies.market_state import returns_from_prices
from strategies.objective.risk import TRADING_DAYS, RiskModel
from strategies.plan import RebalancePlan

DEFAULT_MULTIPLE = Decimal("2.5")
"""Standard deviations of an ordinary move (see the module docstring)."""
MIN_SESSIONS = 1
"""An approval is given at least one session's worth of movement."""
RISKMETRICS_HALFLIFE = math.log(0.5) / math.log(0.94)
"""About 11.2 sessions: RiskMetrics' daily decay factor 0.94."""
RECHECK_RISK = RiskModel(halflife=RISKMETRICS_HALFLIFE, window=126, min_sessions=20)
"""The estimator behind ``sigma_i``: the objective's EWMA, with RiskMetrics' half-life over half a year."""
VOLATILITY_SESSIONS = RECHECK_RISK.window
"""Daily closes a caller should supply per symbol (more are ignored)."""


def daily_sigma(closes: Sequence[float], model: RiskModel = RECHECK_RISK) -> float | None:
    """Daily volatility (a fraction) of one asset from its daily closes, oldest first; None with too few."""
    if len(closes) < 2 or any(c <= 0 for c in closes):
        return None
    returns = np.asarray(returns_from_prices(closes), dtype=float)[:, None]
    annual = model.covariance(returns)
    if annual is None:
        return None
    return math.sqrt(max(float(annual[0, 0]) / TRADING_DAYS, 0.0))


def daily_sigmas(closes: Mapping[str, Sequence[float]], model: RiskModel = RECHECK_RISK) -> dict[str, float]:
    """:func:`daily_sigma` of every symbol that has enough history (each on its own sessions)."""
    out = {}
    for symbol, series in closes.items():
        sigma = daily_sigma(series, model)
        if sigma is not None:
            out[symbol] = sigma
    return out


def sessions_between(planned: date, now: date) -> int:
    """Trading sessions (weekdays; holidays count, a slight widening) from the day a plan was priced to
    ``now``, never below :data:`MIN_SESSIONS`."""
    return max(int(np.busday_count(planned, now)), MIN_SESSIONS)


@dataclass(frozen=True)
class Tolerance:
    """How far one asset's price may move before an approval of it lapses, and where that comes from."""

    value: Decimal
    """A fraction: 0.02 = 2%."""
    floor: Decimal
    sigma_daily: float | None
    sessions: int
    multiple: Decimal

    def why(self) -> str:
        """How the tolerance was set, e.g. ``2.5 x 0.80% daily vol x sqrt(1 session); floor 1.00%``."""
        floor = f"floor approval.price_tolerance {self.floor:.2%}"
        if self.multiple == 0:
            return floor
        if self.sigma_daily is None:
            return f"no volatility estimate, so the {floor}"
        unit = "session" if self.sessions == 1 else "sessions"
        return f"{self.multiple:g} x {self.sigma_daily:.2%} daily vol x sqrt({self.sessions} {unit}); {floor}"


def tolerance(sigma_daily: float | None, sessions: int, multiple: Decimal, floor: Decimal) -> Tolerance:
    """``max(floor, multiple * sigma_daily * sqrt(sessions))``; the floor alone without a volatility."""
    scaled = Decimal(0)
    if sigma_daily is not None and multiple > 0:
        scaled = multiple * Decimal(repr(sigma_daily)) * Decimal(max(sessions, MIN_SESSIONS)).sqrt()
    return Tolerance(max(floor, scaled).quantize(Decimal("0.0001")), floor, sigma_daily, sessions, multiple)


@dataclass(frozen=True)
class PriceMove:
    """A symbol whose fresh price moved beyond its tolerance from the price its orders were planned at."""

    symbol: str
    planned: Decimal
    fresh: Decimal | None
    """None (or not positive): no usable fresh price."""
    tolerance: Tolerance

    @property
    def move(self) -> Decimal | None:
        if self.fresh is None or self.fresh <= 0 or self.planned <= 0:
            return None
        return self.fresh / self.planned - 1

    def line(self) -> str:
        """``VTI moved +2.00% ($160.00 -> $163.20), beyond its tolerance 1.50% (2.5 x ...)``."""
        move = self.move
        if move is None:
            return f"{self.symbol}: no fresh price (planned at {usd(self.planned)})"
        prices = f"{usd(self.planned)} -> {usd(self.fresh or Decimal(0))}"
        return (
            f"{self.symbol} moved {move:+.2%} ({prices}), beyond its tolerance {self.tolerance.value:.2%} "
            f"({self.tolerance.why()})"
        )


def price_moves(
    orders: Iterable[Mapping], fresh: Mapping[str, Decimal], tolerances: Mapping[str, Tolerance]
) -> list[PriceMove]:
    """Symbols of ``orders`` (stored order dicts: ``symbol``, ``est_price``) whose ``fresh`` price moved
    beyond their tolerance, once per symbol (a household trades a symbol in several accounts), in order."""
    moved: dict[str, PriceMove] = {}
    for order in orders:
        symbol = order["symbol"]
        if symbol in moved:
            continue
        planned = Decimal(order["est_price"])
        candidate = PriceMove(symbol, planned, fresh.get(symbol), tolerances[symbol])
        change = candidate.move
        if change is None or abs(change) > candidate.tolerance.value:
            moved[symbol] = candidate
    return list(moved.values())


@dataclass(frozen=True)
class OrderChange:
    """One order that differs between an approved plan and the fresh one."""

    account: str | None
    symbol: str
    side: str
    before: str | None
    """The approved amount (``30 sh`` or ``$9,500.00``); None: the order is new."""
    after: str | None
    """The fresh amount; None: the order is gone."""

    def line(self) -> str:
        where = f"{self.account} " if self.account else ""
        order = f"{where}{self.side.upper()} {self.symbol}"
        if self.before is None:
            return f"new order {order} {self.after}"
        if self.after is None:
            return f"order {order} {self.before} dropped"
        return f"{order} {self.before} -> {self.after}"


def order_dicts(plan: RebalancePlan) -> list[dict]:
    """A plan's orders in the stored form :func:`order_changes` compares (symbol, side, amount, estimate)."""
    return [
        {
            "symbol": o.symbol,
            "side": o.side.value,
            "qty": str(o.qty) if o.qty is not None else None,
            "notional": str(o.notional) if o.notional is not None else None,
            "est_price": str(o.est_price),
            "est_notional": str(o.est_notional),
        }
        for o in plan.orders
    ]


def _key(order: Mapping) -> tuple[str, str, str]:
    return (order.get("account") or "", order["symbol"], order["side"])


def _amount(order: Mapping) -> str:
    if order.get("qty") is not None:
        return f"{shares(Decimal(order['qty']))} sh"
    return usd(Decimal(order["notional"] if order.get("notional") is not None else order["est_notional"]))


def order_changes(
    approved: Sequence[Mapping], fresh: Sequence[Mapping], tolerance: Decimal | None = None
) -> list[OrderChange]:
    """Orders (stored order dicts: ``symbol``, ``side``, ``qty`` or ``notional``, ``est_notional``, and
    ``account`` in a household) that appeared, disappeared or changed between ``approved`` and ``fresh``.
    With ``tolerance``, only size changes beyond that share of the larger gross count (the material
    ones); without, every change of amount is listed (what a re-ask shows)."""
    before = {_key(o): o for o in approved}
    after = {_key(o): o for o in fresh}
    gross = max(
        sum((Decimal(o["est_notional"]) for o in approved), start=Decimal(0)),
        sum((Decimal(o["est_notional"]) for o in fresh), start=Decimal(0)),
        Decimal(1),
    )
    changes = []
    for key in [*before, *(k for k in after if k not in before)]:
        account, symbol, side = key
        old, new = before.get(key), after.get(key)
        if old is not None and new is not None:
            size = abs(Decimal(old["est_notional"]) - Decimal(new["est_notional"]))
            material = size > tolerance * gross if tolerance is not None else _amount(old) != _amount(new)
            if not material:
                continue
        changes.append(
            OrderChange(
                account or None,
                symbol,
                side,
                _amount(old) if old is not None else None,
                _amount(new) if new is not None else None,
            )
        )
    return changes
