"""What a plan's sells realise and cost in tax, lot by lot, and whether any of its trades would wash a loss.

Why here and not in the planner: the plan is made by ``strategies`` from prices and weights; this module
adds the tax picture from the household's lot ledger so a person (the plan's explanation, ``rebalance-bot
plan``, the approval prompt) and the approval policy (``max_estimated_tax``) see what the IRS will see:
realised gain split short and long term (FIFO at Alpaca), and the estimated tax at the configured rates.

Symbols blocked by a ledger mismatch get no per-lot estimate (the ledger is wrong there): they are estimated
at the broker's average cost, all short term (the conservative assumption), and say so.

Wash-sale guard: a buy of a security substantially identical to one sold at a loss in the 30 days before (in
any account of the household, IRAs included, or by a sell of this very plan), and a loss sale after such a
buy in the 30 days before, are flagged; the cycle holds such a plan for a person instead of letting it wash
the loss silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from bot.config import TaxConfig
from strategies.formatting import usd
from strategies.money import to_cents
from strategies.plan import PlannedOrder, RebalancePlan
from strategies.portfolio import Side
from strategies.tax import (
    Fill,
    Ledger,
    Realisation,
    ReliefMethod,
    TaxedOrder,
    TaxRates,
    WashSaleRules,
    annotate_orders,
    blocked_purchases,
)

ZERO = Decimal(0)


@dataclass(frozen=True)
class FallbackEstimate:
    """A sell in a blocked symbol: average cost, all short term."""

    order: PlannedOrder
    gain: Decimal
    estimated_tax: Decimal


@dataclass(frozen=True)
class TaxAnnotation:
    """The tax picture of one plan."""

    account: str
    account_type: str
    method: ReliefMethod
    rates: TaxRates
    taxed: tuple[TaxedOrder, ...] = ()
    fallbacks: tuple[FallbackEstimate, ...] = ()
    blocked: frozenset[str] = frozenset()
    wash_warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    """Extra lines from tax-aware planning (harvests, deferrals, wash sales avoided)."""

    @property
    def tax_advantaged(self) -> bool:
        return self.account_type != "taxable"

    @property
    def short_term(self) -> Decimal:
        return sum((t.short_term_gain for t in self.taxed), start=ZERO) + sum(
            (f.gain for f in self.fallbacks), start=ZERO
        )

    @property
    def long_term(self) -> Decimal:
        return sum((t.long_term_gain for t in self.taxed), start=ZERO)

    @property
    def estimated_tax(self) -> Decimal:
        return sum((t.estimated_tax for t in self.taxed), start=ZERO) + sum(
            (f.estimated_tax for f in self.fallbacks), start=ZERO
        )

    def _results(self) -> list[Decimal]:
        out = []
        for t in self.taxed:
            if t.estimate is not None:
                out += [to_cents(r.recognised) for r in t.estimate.realisations]
        return out + [f.gain for f in self.fallbacks]

    @property
    def realised_gain(self) -> Decimal:
        """Gains realised (positive lots only), for the prompt's "on ~$X of realised gains"."""
        return sum((x for x in self._results() if x > 0), start=ZERO)

    @property
    def realised_loss(self) -> Decimal:
        return -sum((x for x in self._results() if x < 0), start=ZERO)

    def lines(self) -> list[str]:
        """The explanation's tax section."""
        kind = f"{self.account_type}, tax-free" if self.tax_advantaged else self.account_type
        lines = [
            f"Taxes ({kind}; {self.method.value.upper()} relief; rates short {self.rates.short_term:.0%},"
            f" long {self.rates.long_term:.0%}):"
        ]
        for t in self.taxed:
            if t.estimate is not None:
                lines.append(f"  {t.describe()}")
                if t.estimate.unmatched_qty > 0:
                    lines.append(
                        f"    {t.estimate.unmatched_qty} sh not in the ledger, estimated at zero gain"
                    )
        for f in self.fallbacks:
            lines.append(
                f"  {f.order.describe()}  realises ~{f.gain:+,.2f} at average cost (ledger mismatch in"
                f" {f.order.symbol}: counted short term), est. tax {f.estimated_tax:,.2f}"
            )
        if len(lines) == 1:
            lines.append("  no sells: nothing realised")
        lines.append(
            f"  Realised: short term {self.short_term:+,.2f}, long term {self.long_term:+,.2f};"
            f" estimated tax {usd(self.estimated_tax)}"
        )
        lines += [f"  Wash-sale guard: {w}" for w in self.wash_warnings]
        lines += [f"  {n}" for n in self.notes]
        if self.blocked:
            lines.append(
                f"  Tax-aware trading stopped in {', '.join(sorted(self.blocked))}: the ledger does not match"
                " the broker"
            )
        return lines

    def as_dict(self) -> dict:
        """The plan's stored ``details['tax']``."""
        orders = []
        for t in self.taxed:
            if t.estimate is None:
                continue
            orders.append(
                {
                    "symbol": t.order.symbol,
                    "short_term": str(t.short_term_gain),
                    "long_term": str(t.long_term_gain),
                    "estimated_tax": str(t.estimated_tax),
                    "unmatched_qty": str(t.estimate.unmatched_qty),
                    "lots": [
                        {
                            "lot_id": r.lot_id,
                            "qty": str(r.qty),
                            "acquired": r.acquired.isoformat(),
                            "basis": str(to_cents(r.basis)),
                            "gain": str(to_cents(r.gain)),
                            "term": r.term.value,
                        }
                        for r in t.estimate.realisations
                    ],
                }
            )
        return {
            "account_type": self.account_type,
            "method": self.method.value,
            "short_term": str(self.short_term),
            "long_term": str(self.long_term),
            "estimated_tax": str(self.estimated_tax),
            "orders": orders,
            "fallbacks": [
                {"symbol": f.order.symbol, "gain": str(f.gain), "estimated_tax": str(f.estimated_tax)}
                for f in self.fallbacks
            ],
            "blocked": sorted(self.blocked),
            "wash_warnings": list(self.wash_warnings),
            "notes": list(self.notes),
        }


def annotate_plan(
    plan: RebalancePlan,
    ledger: Ledger,
    fills: Sequence[Fill],
    account: str,
    day: date,
    tax: TaxConfig,
    rules: WashSaleRules,
    *,
    blocked: Iterable[str] = (),
    avg_costs: Mapping[str, Decimal] | None = None,
    notes: Sequence[str] = (),
    planned: Sequence[TaxedOrder] | None = None,
) -> TaxAnnotation:
    """Annotate ``plan``'s orders for ``account`` trading on ``day`` (its New York trade date).

    ``planned``: the tax the tax-aware planner estimated for these orders (``TaxPlanInfo.taxed``), taken as
    it is so the explanation, the prompt and ``rebalance-bot taxes`` show the planner's figures; without
    it (a plan the tax layer did not make) the orders are estimated here from the ledger."""
    settings = tax.account(account)
    rates = TaxRates(tax.rates.short_term, tax.rates.long_term)
    method = ReliefMethod(settings.relief)
    blocked = frozenset(blocked)
    events: list[Realisation | Fill] = [*ledger.realisations, *fills]
    trusted = [o for o in plan.orders if o.symbol not in blocked]
    if planned is not None:
        taxed = tuple(t for t in planned if t.order.symbol not in blocked)
    else:
        taxed = annotate_orders(
            trusted,
            ledger.lots,
            account,
            day,
            rates,
            method=method,
            tax_advantaged=settings.tax_advantaged,
            household_events=events,
            rules=rules,
        )
    fallbacks = tuple(
        _fallback(o, (avg_costs or {}).get(o.symbol), rates, settings.tax_advantaged)
        for o in plan.sells
        if o.symbol in blocked
    )
    warnings: list[str] = []
    planned_losses: list[Realisation] = []
    for t in taxed:
        if t.estimate is None:
            continue
        risk = t.estimate.wash_risk
        if risk is not None and risk.at_risk:
            warnings.append(risk.describe())
        planned_losses += [r for r in t.estimate.realisations if r.is_loss and not r.tax_advantaged]
    for order in plan.buys:
        for block in blocked_purchases([*events, *planned_losses], order.symbol, day, rules, account=account):
            warnings.append(block.describe())
    return TaxAnnotation(
        account,
        settings.type,
        method,
        rates,
        tuple(t for t in taxed if t.order.side is Side.SELL),
        fallbacks,
        blocked,
        tuple(dict.fromkeys(warnings)),
        tuple(notes),
    )


def _fallback(
    order: PlannedOrder, avg_cost: Decimal | None, rates: TaxRates, tax_advantaged: bool
) -> FallbackEstimate:
    qty = order.qty if order.qty is not None else (order.notional or ZERO) / order.est_price
    gain = to_cents(qty * (order.est_price - avg_cost)) if avg_cost is not None else ZERO
    tax = ZERO if tax_advantaged else to_cents(gain * rates.short_term)
    return FallbackEstimate(order, gain, tax)
