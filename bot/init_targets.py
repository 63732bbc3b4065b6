"""Targets for ``rebalance-bot init``: typed by a person, named from the library, or today's holdings rounded.

A starting config is only as good as its targets, and two of the three ways in are error-prone by hand:
``VTI=60,AGG=35,cash=5`` typed at a prompt (percent or fractions, a stray comma, a sum of 99), and an
account's weights today, which are never round numbers. Both end here as weights that are each a whole
number of steps (1% or 0.5%) and sum to exactly 100%, so the written file passes ``check-config`` as is.
Rounding uses the largest-remainder method: each weight is rounded down to a step and the steps still
missing go to the largest remainders, which keeps every weight within one step of the account's own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

from bot.backtest.library import LIBRARY
from bot.broker.models import AccountState, PositionState
from bot.config import TICKER
from strategies.targets import CASH

HUNDRED = Decimal(100)


class TargetsError(ValueError):
    """Targets that cannot be used, with what to type instead."""


@dataclass(frozen=True)
class StartingTargets:
    """Weights as fractions (0.35 = 35%), cash apart, summing to exactly 1."""

    weights: dict[str, Decimal]
    cash: Decimal
    dropped: tuple[str, ...] = ()
    """Holdings too small to get a step of their own: their target is 0, so the bot would sell them."""


def parse_targets(text: str) -> StartingTargets:
    """``VTI=60,AGG=35,cash=5`` (percent), ``VTI=0.6,AGG=0.4`` (fractions) or a library preset name."""
    text = text.strip()
    if text in LIBRARY:
        preset = LIBRARY[text]
        return StartingTargets(dict(preset.weights), preset.cash)
    if "=" not in text:
        raise TargetsError(
            f"{text!r} is neither SYMBOL=WEIGHT pairs (e.g. VTI=60,AGG=35,cash=5) nor a preset "
            f"({', '.join(sorted(LIBRARY))})"
        )
    raw: dict[str, Decimal] = {}
    for item in filter(None, (part.strip() for part in re.split(r"[,\s]+", text))):
        symbol, _, value = item.partition("=")
        symbol = CASH if symbol.strip().lower() == CASH else symbol.strip().upper()
        if symbol != CASH and not TICKER.match(symbol):
            raise TargetsError(f"{symbol!r} is not a ticker (e.g. VTI, BRK.B)")
        if symbol in raw:
            raise TargetsError(f"{symbol} is given twice")
        raw[symbol] = _number(symbol, value.strip().rstrip("%"))
    return _checked(raw)


def _number(symbol: str, value: str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise TargetsError(f"{symbol}={value!r}: the weight is not a number") from None
    if not number.is_finite() or number < 0:
        raise TargetsError(f"{symbol}={value}: the weight must be a number of 0 or more")
    return number


def _checked(raw: Mapping[str, Decimal]) -> StartingTargets:
    """Percent when the weights sum to about 100, fractions when they sum to about 1; nothing else."""
    total = sum(raw.values(), start=Decimal(0))
    if abs(total - HUNDRED) <= Decimal("0.01"):
        fractions = {s: w / HUNDRED for s, w in raw.items()}
    elif abs(total - 1) <= Decimal("0.0001"):
        fractions = dict(raw)
    else:
        raise TargetsError(
            f"the weights sum to {total.normalize():f}; they must sum to 100 (percent) or 1 (fractions), "
            "cash included (e.g. cash=5)"
        )
    cash = fractions.pop(CASH, Decimal(0))
    zero = [s for s, w in fractions.items() if w == 0]
    if zero:
        raise TargetsError(f"{', '.join(zero)}: a target of 0 means sell it; leave the symbol out instead")
    if not fractions:
        raise TargetsError("give at least one symbol besides cash")
    return StartingTargets(fractions, cash)


def rounded_holdings(
    account: AccountState, positions: list[PositionState], step_percent: Decimal
) -> tuple[StartingTargets, dict[str, Decimal]]:
    """Today's weights rounded to ``step_percent`` (1 or 0.5), cash as the cash target; also returns the
    unrounded weights (the first rebalance moves the account from those to the targets)."""
    if step_percent not in (Decimal(1), Decimal("0.5")):
        raise TargetsError(f"--round must be 1 or 0.5 (percent), not {step_percent}")
    short = [p.symbol for p in positions if p.qty < 0]
    if short:
        raise TargetsError(f"the account is short {', '.join(short)}; the bot keeps long positions only")
    if account.equity <= 0:
        raise TargetsError("the account's equity is 0: deposit first, or give the targets with --targets")
    if account.cash < 0:
        raise TargetsError(
            f"the account borrows (cash {account.cash:,.2f}): today's weights would need a negative cash "
            "target; give the targets with --targets"
        )
    now = {p.symbol: p.market_value / account.equity for p in positions if p.market_value > 0}
    now[CASH] = account.cash / account.equity
    steps = largest_remainder(now, int(HUNDRED / step_percent))
    unit = step_percent / HUNDRED
    weights = {s: n * unit for s, n in steps.items() if s != CASH and n > 0}
    if not weights:
        raise TargetsError("the account holds only cash: give the targets with --targets")
    dropped = tuple(sorted(s for s, n in steps.items() if s != CASH and n == 0))
    return StartingTargets(weights, steps[CASH] * unit, dropped), now


def largest_remainder(shares: Mapping[str, Decimal], total: int) -> dict[str, int]:
    """Whole steps per key summing to exactly ``total``, each the share's floor or one more: the steps left
    over go to the largest remainders (ties: the larger share, then the name, so the result is stable)."""
    whole = sum(shares.values(), start=Decimal(0))
    exact = {k: v / whole * total for k, v in shares.items()}
    steps = {k: int(v.to_integral_value(ROUND_FLOOR)) for k, v in exact.items()}
    missing = total - sum(steps.values())
    for key in sorted(exact, key=lambda k: (steps[k] - exact[k], -exact[k], k))[:missing]:
        steps[key] += 1
    return steps


def first_investment(targets: StartingTargets, equity: Decimal) -> tuple[Decimal, Decimal]:
    """The plan that invests an all-cash account of ``equity`` at ``targets``: (buys in all, largest buy)."""
    invested = sum(targets.weights.values(), start=Decimal(0))
    return invested * equity, max(targets.weights.values()) * equity


def first_rebalance(
    targets: StartingTargets, now: Mapping[str, Decimal], equity: Decimal
) -> tuple[Decimal, Decimal]:
    """The plan that moves the account from its weights ``now`` to ``targets``: (buys plus sells, largest
    order). Small, as the targets are today's weights rounded, unless holdings were dropped."""
    symbols = (set(now) | set(targets.weights)) - {CASH}
    moves = [abs(targets.weights.get(s, Decimal(0)) - now.get(s, Decimal(0))) * equity for s in symbols]
    return sum(moves, start=Decimal(0)), max(moves, default=Decimal(0))
