"""The objective's decision in words a person can check: the numbers behind trading or waiting.

One line each: what the drift kept costs now and after (forecast tracking error and risk cost), what the
trades cost (spread and impact, tax), the net benefit, and for a wait which asset came closest to paying
and what going back to target would have cost against what it would have saved. With a ``tax`` section,
the estimated tax per dollar sold of each asset whose sale would pay some.
Amounts are basis points of equity; the risk cost is the objective's own unit (risk aversion times scaled
tracking variance), so it adds to the costs. The calibration note says where the risk aversion came from.
"""

from __future__ import annotations

import numpy as np

from strategies.objective.problem import Decision, DecisionInputs, idle_cost, risk_cost, trade_costs
from strategies.tax.marginal import WASH_BLOCKED

BP = 10_000


def explain(
    inputs: DecisionInputs,
    decision: Decision,
    gamma: float,
    symbols: list[str],
    fit_note: str,
    covariance: np.ndarray,
) -> str:
    """``trade: ...`` or ``wait: ...``, then ``[how closely: ...]``; ``covariance`` is the unscaled annual
    forecast, for tracking errors in percent a year."""
    before = _tracking_error(inputs.weights - inputs.targets, covariance)
    if decision.failure is not None:
        text = (
            f"wait: no decision this time ({decision.failure}); forecast tracking error {before:.2%} a year"
        )
    elif decision.trades_anything:
        after = _tracking_error(decision.weights - inputs.targets, covariance)
        text = (
            f"trade: forecast tracking error {before:.2%} -> {after:.2%} a year "
            f"(risk cost {decision.risk_before * BP:.2f} -> {decision.risk_after * BP:.2f} bp), "
            f"trading cost {decision.trading_cost * BP:.2f} bp, tax {decision.tax * BP:.2f} bp"
            f"{_idle(decision)}; net benefit {decision.benefit * BP:.2f} bp"
        )
    else:
        text = (
            f"wait: forecast tracking error {before:.2%} a year "
            f"(risk cost {decision.risk_before * BP:.2f} bp)"
            f"{_idle(decision)}; no trade saves more than it costs ({_nearest(inputs, gamma, symbols)}; "
            f"{_back_to_target(inputs, decision, gamma)})"
        )
    return f"{text}{_sell_taxes(inputs, symbols)} [{fit_note}]"


def _sell_taxes(inputs: DecisionInputs, symbols: list[str]) -> str:
    """The tax a sale would pay per dollar, for every asset where it is not zero: the number that holds a
    gain sale back even when the decision trades something else (or only idle cash)."""
    taxes = inputs.vector("sell_tax")
    named = [
        f"{s} none: a sale now would be a wash sale" if t >= WASH_BLOCKED else f"{s} {t:.2%}"
        for s, t in zip(symbols, taxes, strict=True)
        if t > 0
    ]
    return f"; estimated tax per dollar sold: {', '.join(named)}" if named else ""


def _back_to_target(inputs: DecisionInputs, decision: Decision, gamma: float) -> str:
    """What the trade a calendar would make, every tradable asset back to target, costs against what it
    saves: the numbers behind a wait (its net benefit is never positive, or the objective would trade)."""
    goal = np.where(inputs.vector("frozen"), inputs.weights, inputs.targets)
    cost, tax = trade_costs(goal - inputs.weights, inputs)
    risk = risk_cost(goal - inputs.targets, inputs.covariance, gamma)
    net = decision.risk_before + decision.idle_before - risk - idle_cost(goal, inputs) - cost - tax
    return (
        f"back to target: risk cost {decision.risk_before * BP:.2f} -> {risk * BP:.2f} bp for trading cost "
        f"{cost * BP:.2f} bp, tax {tax * BP:.2f} bp; net benefit {net * BP:.2f} bp"
    )


def _tracking_error(deviation: np.ndarray, covariance: np.ndarray) -> float:
    """Forecast yearly tracking error of holding ``deviation`` from target."""
    return float(np.sqrt(max(float(deviation @ covariance @ deviation), 0.0)))


def _idle(decision: Decision) -> str:
    if max(decision.idle_before, decision.idle_after) * BP < 0.005:  # would read "0.00 -> 0.00 bp"
        return ""
    return f", idle cash {decision.idle_before * BP:.2f} -> {decision.idle_after * BP:.2f} bp"


def _nearest(inputs: DecisionInputs, gamma: float, symbols: list[str]) -> str:
    """The asset whose marginal risk saving comes closest to what trading it costs."""
    grad = 2.0 * gamma * (inputs.covariance @ (inputs.weights - inputs.targets))
    sell_cost = inputs.half_spread + inputs.vector("sell_tax")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(grad > 0, grad / sell_cost, -grad / inputs.half_spread)
    ratio = np.where(inputs.vector("frozen") | ~np.isfinite(ratio), 0.0, ratio)
    if not ratio.size or ratio.max() <= 0:
        return "every asset at target"
    i = int(np.argmax(ratio))
    side = "selling" if grad[i] > 0 else "buying"
    return f"nearest: {side} {symbols[i]} would save {ratio[i]:.0%} of its cost"
