"""A taxable account's decision: the tax chooses the trades, the tracking knob keeps the risk.

The objective's risk aversion ``gamma`` is fitted so that the account tracks as closely as the user asked
(:mod:`strategies.objective.calibrate`), against what trading costs: spreads of a basis point or less. Such
a ``gamma`` prices risk only relative to those spreads, so a sale's tax, even valued at the present value of
paying it early, outweighs almost any drift it could remove. Priced against it, deferring a gain always
won: a 60/40 account in the 2008 crash sold $79 of bonds where the tax-blind one sold $13,400, drifted
three times as far as the knob allows (8-12 pp against 1-5) and ended 2009 0.23%/yr below the tax-blind
one after tax on liquidation, 0.21%/yr for 80/20. A second fit under the tax (a ``gamma`` for which the
taxed account meets the knob on average) was tried: the tax makes tracking error so steep in ``gamma``
(6.9%, 4.1%, 1.8%, 0.8% for each doubling, 60/40 in late 2008) that the fit over- and undershot, and it
ended 0.26%/yr below tax-blind held on the diversified mix over 2010-22.

So the tax does not decide *how much* risk to keep; the knob does. Each decision first asks the tax-blind
question (the same inputs without the tax, at the fitted ``gamma``): whether to trade, and the forecast risk
after. When it trades, the taxed decision is the one with the least trading cost plus tax among those
keeping at most that risk: the same objective with the tax, at the smallest risk aversion (``gamma``
times a scale >= 1, found by bisection) whose optimum keeps the risk within :data:`RISK_SLACK` of the
tax-blind one. By convex duality that optimum is the cheapest, tax included, way to reach the risk, so it
never pays more tax than the tax-blind trades would on the same account: a gain is deferred when another
trade reaches the same risk for less (selling an asset at a smaller gain or a loss, buying with cash),
never by drifting further than the user chose. With two assets there is one way to reduce risk, so the
trades are the tax-blind ones.

The taxed decision sells only assets the tax-blind one sells (:func:`_sales_only_where_blind_sells`):
equal *forecast* risk reached by a different composition is a different portfolio in fact, and over
five-year crash windows that difference, not the tax, set the after-tax result.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from strategies.objective.problem import Decision, DecisionInputs, decide

RISK_SLACK = 1e-3
"""The taxed decision may keep this much more forecast tracking variance than the tax-blind one (share)."""
MAX_SCALE = 1e6
"""Beyond this multiple of ``gamma`` the taxed decision gives up and makes the tax-blind trades."""
SOLD = 1e-6
"""A tax-blind trade below this share of equity is solver noise (under $1 on $1M), not a sale."""
SALE_BLOCKED = 1.0
"""Tax per dollar put on a sale the tax-blind decision does not make: all of it, so no risk term buys it."""
BISECTIONS = 12
"""Halvings of the scale's log interval: within about 1.2% of the smallest scale that keeps the risk."""


@dataclass(frozen=True)
class TaxedDecision:
    """The decision and the risk aversion it was made at (``gamma * scale``)."""

    decision: Decision
    gamma: float
    scale: float
    """1 when the tax did not hold the trades back; above 1 when it had to be outweighed."""
    blind_tracking_variance: float | None
    """Forecast tracking variance (scaled covariance) after the tax-blind trades; None when it waits."""
    fell_back: bool = False
    """True when no taxed trades kept the tax-blind risk: the tax-blind trades were made, their tax paid."""

    def describe(self) -> str:
        if self.fell_back:
            return (
                "; tax-aware: no trades cheaper in tax keep the tracking target's risk, so these are the"
                " tax-blind trades, their tax paid"
            )
        if self.scale <= 1.0:
            return ""
        return (
            "; tax-aware: the tracking target keeps the tax-blind decision's risk, the tax chose the trades"
            " (the least tax among those keeping that risk)"
        )


def decide_with_tax(inputs: DecisionInputs, gamma: float) -> TaxedDecision:
    """The decision for ``inputs`` at ``gamma``, its tax choosing the trades but not the risk kept."""
    if not np.any(inputs.vector("sell_tax") > 0):
        return TaxedDecision(decide(inputs, gamma), gamma, 1.0, None)
    blind = decide(replace(inputs, sell_tax=np.zeros(0)), gamma)
    if not blind.trades_anything:  # a tax only adds to the cost of trading: the taxed account waits too
        return TaxedDecision(decide(inputs, gamma), gamma, 1.0, None)
    cap = _variance(blind, inputs) * (1.0 + RISK_SLACK) + 1e-15
    guarded = _sales_only_where_blind_sells(inputs, blind)
    taxed = decide(guarded, gamma)
    if taxed.failure is None and _variance(taxed, inputs) <= cap:
        return TaxedDecision(_priced(taxed, inputs), gamma, 1.0, cap)
    low, high, best = 1.0, 2.0, None
    while high <= MAX_SCALE:
        candidate = decide(guarded, gamma * high)
        if candidate.failure is None and _variance(candidate, inputs) <= cap:
            best = candidate
            break
        low, high = high, high * 4.0
    if best is None:  # not reachable: the tax-blind trades keep the risk the user chose
        return TaxedDecision(_priced(blind, inputs), gamma, 1.0, cap, fell_back=True)
    for _ in range(BISECTIONS):
        middle = float(np.sqrt(low * high))
        candidate = decide(guarded, gamma * middle)
        if candidate.failure is None and _variance(candidate, inputs) <= cap:
            best, high = candidate, middle
        else:
            low = middle
    return TaxedDecision(_at(_priced(best, inputs), inputs, gamma), gamma, high, cap)


def _sales_only_where_blind_sells(inputs: DecisionInputs, blind: Decision) -> DecisionInputs:
    """``inputs`` with a sale of an asset the tax-blind decision keeps priced out (:data:`SALE_BLOCKED`).

    Among trades keeping the same forecast risk, the cheapest after tax may swap one asset for another the
    tax-blind account keeps (sell a fund at a loss it was buying, buy more of a near-twin): the same risk
    under the forecast, a different portfolio in fact. Over 52 library cells that composition noise, not
    the tax, decided the result: in 2004-09 it cost ivy-five 0.12%/yr and twelve-assets 0.10%/yr after tax
    on liquidation against a tax saving of $50-100. So the tax may only choose *which of the tax-blind
    sales* to make and how much of each (the twin at a loss over the twin at a gain), never add a sale."""
    kept = blind.trades > -SOLD
    tax = inputs.vector("sell_tax").copy()
    tax[kept] = np.maximum(tax[kept], SALE_BLOCKED)
    return replace(inputs, sell_tax=tax)


def _at(decision: Decision, inputs: DecisionInputs, gamma: float) -> Decision:
    """``decision`` with its risk costs at the user's ``gamma``, not the raised one it was found at: the
    explanation then shows what the drift removed is worth to the user against the tax paid for it (a net
    benefit below zero says the tax was outweighed by the tracking target, not by the risk cost)."""
    before = float(
        gamma * (inputs.weights - inputs.targets) @ inputs.covariance @ (inputs.weights - inputs.targets)
    )
    after = float(gamma * _variance(decision, inputs))
    return replace(decision, risk_before=before, risk_after=after)


def _variance(decision: Decision, inputs: DecisionInputs) -> float:
    """Forecast tracking variance after ``decision`` (the objective's scaled covariance)."""
    deviation = decision.weights - inputs.targets
    return float(deviation @ inputs.covariance @ deviation)


def _priced(decision: Decision, inputs: DecisionInputs) -> Decision:
    """``decision``'s trades with this account's own tax counted (not the blocking price of
    :func:`_sales_only_where_blind_sells`, which no trade made pays)."""
    tax = float(inputs.vector("sell_tax") @ np.maximum(-decision.trades, 0.0))
    return replace(decision, tax=tax)
