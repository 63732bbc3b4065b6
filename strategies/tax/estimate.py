"""Estimated tax of planned sells, from the lot ledger and configured rates.

Why: the approval policy holds plans whose sells would realise more than ``max_estimated_tax``, and a
person approving a plan should see the tax it triggers. The current guard uses average cost times one rate;
per-lot relief (FIFO at Alpaca) with short/long-term rates is what the tax bill will actually be.

Conventions: ``estimated_tax`` is signed. A net loss gives a negative figure: the tax it would save against
other gains at the same rate (the $3,000/yr ordinary-income offset and carry-forwards are the household's
business, not one plan's). Short- and long-term results are taxed at their own rates without netting
across terms. Tax-advantaged accounts (IRA, 401k, HSA) are taxed 0. Amounts are rounded to cents only here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from strategies.money import as_decimal, to_cents
from strategies.plan import PlannedOrder
from strategies.portfolio import Side
from strategies.tax.lots import ZERO, Fill, GainSummary, Lot, Realisation, ReliefMethod, Term, relieve
from strategies.tax.wash_sale import LossSaleRisk, WashSaleRules, loss_sale_risk


@dataclass(frozen=True)
class TaxRates:
    """Marginal rates as fractions (e.g. 0.35 short term, 0.15 long term), from the config."""

    short_term: Decimal
    long_term: Decimal

    def __post_init__(self) -> None:
        for name in ("short_term", "long_term"):
            value = as_decimal(getattr(self, name))
            if not ZERO <= value <= 1:
                raise ValueError(f"tax rate {name} must be between 0 and 1, got {value}")
            object.__setattr__(self, name, value)

    def tax_on(self, summary: GainSummary) -> Decimal:
        return to_cents(summary.short_term * self.short_term + summary.long_term * self.long_term)


@dataclass(frozen=True)
class SaleEstimate:
    """The lots a sell would relieve and what it would realise and cost in tax."""

    realisations: tuple[Realisation, ...]
    summary: GainSummary
    estimated_tax: Decimal
    unmatched_qty: Decimal = ZERO
    wash_risk: LossSaleRisk | None = None

    @property
    def short_term_gain(self) -> Decimal:
        return to_cents(self.summary.short_term)

    @property
    def long_term_gain(self) -> Decimal:
        return to_cents(self.summary.long_term)

    @property
    def realised_gain(self) -> Decimal:
        return to_cents(self.summary.total)


def estimate_sale(
    lots: Sequence[Lot],
    account: str,
    symbol: str,
    qty: Decimal,
    price: Decimal,
    day: date,
    rates: TaxRates,
    *,
    method: ReliefMethod = ReliefMethod.FIFO,
    tax_advantaged: bool = False,
    household_events: Iterable[Realisation | Fill] | None = None,
    rules: WashSaleRules | None = None,
) -> tuple[SaleEstimate, tuple[Lot, ...]]:
    """Estimate selling ``qty`` at ``price`` on ``day``; returns the estimate and the lots left afterwards.

    With ``household_events`` the sale's loss lots are matched against buys in the 30 days before (any
    account) exactly as the ledger will match them (:func:`strategies.tax.wash_sale.match_replacements`):
    the unsold rest of a recent lot this sale partly relieves is a replacement for the other lots' loss
    shares, the sold shares' own purchase is not. The loss on the matched shares is taken as disallowed (it
    saves no tax; ``permanently_disallowed`` for the part matched to tax-advantaged buys) and the risk is
    carried, so the planner can defer the sale. The 30 days after are the planner's to keep clean
    (``blocked_purchases``).
    Shares the ledger does not hold are reported in ``unmatched_qty`` and estimated at zero gain.
    """
    relief = relieve(
        lots, account, symbol, qty, price, day, method, tax_advantaged=tax_advantaged, strict=False
    )
    summary = relief.summary
    risk = None
    if household_events is not None and not tax_advantaged and any(r.is_loss for r in relief.realisations):
        risk = loss_sale_risk(household_events, symbol, day, rules, selling=relief.realisations)
        if risk.at_risk:
            washed = {Term.SHORT: ZERO, Term.LONG: ZERO}
            permanent = ZERO
            for match in risk.replacements:
                washed[relief.realisations[match.loss_index].term] += match.disallowed
                permanent += match.disallowed if match.permanent else ZERO
            summary = GainSummary(
                summary.short_term + washed[Term.SHORT],
                summary.long_term + washed[Term.LONG],
                washed[Term.SHORT] + washed[Term.LONG],
                permanent,
            )
    tax = ZERO if tax_advantaged else rates.tax_on(summary)
    estimate = SaleEstimate(relief.realisations, summary, tax, relief.unmatched_qty, risk)
    return estimate, relief.remaining


@dataclass(frozen=True)
class TaxedOrder:
    """A planned order with its tax consequences (all zero for buys)."""

    order: PlannedOrder
    short_term_gain: Decimal = ZERO
    long_term_gain: Decimal = ZERO
    estimated_tax: Decimal = ZERO
    estimate: SaleEstimate | None = None

    @property
    def realised_gain(self) -> Decimal:
        return self.short_term_gain + self.long_term_gain

    def describe(self) -> str:
        if self.estimate is None:
            return self.order.describe()
        return (
            f"{self.order.describe()}  realises {self.realised_gain:+,.2f}"
            f" (ST {self.short_term_gain:+,.2f}, LT {self.long_term_gain:+,.2f}),"
            f" est. tax {self.estimated_tax:,.2f}"
        )


def annotate_orders(
    orders: Iterable[PlannedOrder],
    lots: Sequence[Lot],
    account: str,
    day: date,
    rates: TaxRates,
    *,
    method: ReliefMethod = ReliefMethod.FIFO,
    tax_advantaged: bool = False,
    household_events: Iterable[Realisation | Fill] | None = None,
    rules: WashSaleRules | None = None,
) -> tuple[TaxedOrder, ...]:
    """Annotate a plan's orders, in order: each sell relieves the lots the previous sells left.

    Sells are estimated at ``est_price``; a sell given as a notional is converted to shares at that price.
    """
    events = tuple(household_events) if household_events is not None else None
    remaining: tuple[Lot, ...] = tuple(lots)
    out = []
    for order in orders:
        if order.side is not Side.SELL:
            out.append(TaxedOrder(order))
            continue
        qty = order.qty if order.qty is not None else (order.notional or ZERO) / order.est_price
        estimate, remaining = estimate_sale(
            remaining,
            account,
            order.symbol,
            qty,
            order.est_price,
            day,
            rates,
            method=method,
            tax_advantaged=tax_advantaged,
            household_events=events,
            rules=rules,
        )
        out.append(
            TaxedOrder(
                order, estimate.short_term_gain, estimate.long_term_gain, estimate.estimated_tax, estimate
            )
        )
    return tuple(out)


def plan_tax(annotated: Iterable[TaxedOrder]) -> Decimal:
    """The plan's total estimated tax (what ``approval.max_estimated_tax`` compares against)."""
    return sum((t.estimated_tax for t in annotated), start=ZERO)
