"""The tax report: realised gains and losses year to date by term, harvested losses, wash sales avoided and
incurred, the tax of plans not yet done, and the lots with the largest unrealised gains.

The plans' tax is the figure stored with each plan (``PlanEstimates.stored``): the tax-aware planner's
estimate, the one its explanation and its approval prompt show, never estimated again here.

Why the largest gains: appreciated long-term lots are better given away (to charity: the deduction is their
market value and the gain is never taxed) than sold; the report lists them so a person can choose them.
Only lots of TAXABLE accounts held long term are candidates: a sale in an IRA or Roth is not taxed anyway
(and its shares cannot be given away without a distribution), and a short-term lot given to charity deducts
only its basis, not its market value (IRC 170(e)), so its gain earns no deduction. Taxable short-term gains
are listed apart, saying so and when they turn long term.
Everything is read from the replayed ledger and the state store; prices only value the open lots.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bot.approval.estimates import PlanEstimates
from bot.config import BotConfig
from bot.state.store import StateStore
from strategies.formatting import usd
from strategies.money import to_cents
from strategies.tax import (
    GainSummary,
    HouseholdLedger,
    Lot,
    Realisation,
    Term,
    WashSale,
    holding_term,
    long_term_from,
)

ZERO = Decimal(0)


@dataclass(frozen=True)
class LotGain:
    lot: Lot
    price: Decimal
    gain: Decimal
    term: Term


@dataclass(frozen=True)
class AccountTaxes:
    account: str
    account_type: str
    realised: GainSummary
    harvested: Decimal
    """Losses realised by sells of plans that harvested (positive number)."""


OPEN_PLAN_STATUSES = ("planned", "held", "approved", "executing")
"""Plans whose sells may still realise gains: made, waiting for a person, approved, or being sent."""


@dataclass(frozen=True)
class PlannedTax:
    """A plan not yet done and the tax its sells would realise, as stored with it when it was planned."""

    plan_id: str
    account: str
    status: str
    estimates: PlanEstimates
    short_term: Decimal | None
    """From the lot ledger (with a ``tax`` section); None when estimated at average cost."""
    long_term: Decimal | None

    def line(self) -> str:
        if self.short_term is not None and self.long_term is not None:
            realises = f"realises short term {self.short_term:+,.2f}, long term {self.long_term:+,.2f}"
        else:
            realises = f"realises ~{usd(self.estimates.realised_gain)} of gains at average cost"
        tax = usd(self.estimates.tax)
        return f"  {self.plan_id} {self.account} ({self.status}): {realises}; estimated tax {tax}"


def planned_taxes(store: StateStore) -> tuple[PlannedTax, ...]:
    """The open plans with stored estimates, oldest first."""
    out = []
    for plan in reversed(store.plans(status=OPEN_PLAN_STATUSES, limit=100)):
        estimates = PlanEstimates.stored(plan.details)
        if estimates is None:
            continue
        tax = plan.details.get("tax") or {}
        short = Decimal(tax["short_term"]) if "short_term" in tax else None
        long = Decimal(tax["long_term"]) if "long_term" in tax else None
        out.append(PlannedTax(plan.plan_id, plan.account, plan.status, estimates, short, long))
    return tuple(out)


@dataclass(frozen=True)
class TaxReport:
    year: int
    as_of: date
    accounts: tuple[AccountTaxes, ...]
    wash_sales: tuple[WashSale, ...]
    avoided: tuple[dict, ...]
    """Wash sales the bot avoided (audit events ``wash_sale_avoided``): symbol, reason, plan."""
    largest_gains: tuple[LotGain, ...]
    """Gifting / donation candidates: taxable-account lots with long-term gains, largest first."""
    blocked: tuple[str, ...]
    short_term_gains: tuple[LotGain, ...] = ()
    """Taxable-account lots with short-term gains, largest first: NOT candidates yet (see the module doc)."""
    planned: tuple[PlannedTax, ...] = ()
    """Plans not yet done, with the tax the planner estimated for them."""

    def lines(self) -> list[str]:
        out = [f"Taxes {self.year} (year to date, as of {self.as_of.isoformat()}):"]
        for a in self.accounts:
            r = a.realised
            out.append(
                f"  {a.account} ({a.account_type}): realised short term {r.short_term:+,.2f},"
                f" long term {r.long_term:+,.2f}, total {r.total:+,.2f}; harvested losses {usd(a.harvested)}"
                + (f"; disallowed (wash sales) {usd(r.disallowed)}" if r.disallowed else "")
            )
        if self.planned:
            out.append("Plans not yet done (estimated when planned, as their explanation and prompt show):")
            out += [p.line() for p in self.planned]
        out.append(f"Wash sales incurred: {len(self.wash_sales)}")
        for w in self.wash_sales:
            where = "lost for good (in an IRA-type account)" if w.permanent else "added to the new basis"
            out.append(
                f"  {w.loss_sale.account}: {w.qty} sh of the {w.loss_sale.symbol} loss sale of"
                f" {w.loss_sale.sold.isoformat()} washed by a {w.replacement_symbol} buy in"
                f" {w.replacement_account} on {w.replacement_day.isoformat()}:"
                f" {usd(to_cents(w.disallowed))} disallowed, {where}"
            )
        out.append(f"Wash sales avoided: {len(self.avoided)}")
        out += [f"  {a.get('day', '')} {a.get('account', '')}: {a.get('reason', '')}" for a in self.avoided]
        out.append(
            "Largest unrealised long-term gains in taxable accounts"
            " (candidates for gifting or donation rather than sale):"
        )
        if not self.largest_gains:
            out.append("  none")
        for g in self.largest_gains:
            out.append(
                f"  {g.lot.account} {g.lot.symbol} {g.lot.qty} sh bought {g.lot.acquired.isoformat()}"
                f" basis {usd(to_cents(g.lot.basis))}, worth {usd(to_cents(g.lot.qty * g.price))}:"
                f" gain {usd(g.gain)} ({g.term.value} term)"
            )
        if self.short_term_gains:
            out.append(
                "Short-term gains in taxable accounts (not candidates yet: a donation of a short-term lot"
                " deducts only its basis):"
            )
        for g in self.short_term_gains:
            out.append(
                f"  {g.lot.account} {g.lot.symbol} {g.lot.qty} sh bought {g.lot.acquired.isoformat()}"
                f" worth {usd(to_cents(g.lot.qty * g.price))}, gain {usd(g.gain)}: short term, donated now it"
                f" deducts only its basis {usd(to_cents(g.lot.basis))}; long term from"
                f" {long_term_from(g.lot.start).isoformat()}"
            )
        if self.blocked:
            out.append("Ledger mismatches (tax-aware trading stopped): " + ", ".join(self.blocked))
        return out


def tax_report(
    config: BotConfig,
    store: StateStore,
    ledger: HouseholdLedger,
    prices: Mapping[str, Decimal],
    as_of: date,
    *,
    top: int = 10,
) -> TaxReport:
    """Build the report for the calendar year of ``as_of``; lots are valued at ``prices`` (those without a
    price are left out of the largest gains)."""
    tax = config.tax
    year = as_of.year
    this_year = [r for r in ledger.realisations if r.sold.year == year and r.sold <= as_of]
    harvested = _harvested(store, this_year)
    accounts = tuple(
        AccountTaxes(
            a.name,
            tax.account(a.name).type if tax else "taxable",
            GainSummary.of(r for r in this_year if r.account == a.name),
            sum((-to_cents(r.gain) for r in harvested if r.account == a.name), start=ZERO),
        )
        for a in config.accounts
    )
    washes = tuple(w for w in ledger.wash_sales if w.loss_sale.sold.year == year)
    avoided = tuple(
        {"account": e.account or "", **e.fields}
        for e in reversed(store.audit_trail(limit=1000, event="wash_sale_avoided"))
        if str(e.fields.get("day", "")).startswith(f"{year}-")  # the trade date (the audit time is wall time)
    )
    sheltered = {a.name for a in config.accounts if tax is not None and tax.account(a.name).tax_advantaged}
    long_term, short_term = gift_candidates(ledger.lots, prices, as_of, lambda name: name in sheltered)
    blocked = tuple(f"{b.account} {b.symbol}" for b in store.tax_blocks())
    return TaxReport(
        year,
        as_of,
        accounts,
        washes,
        avoided,
        long_term[:top],
        blocked,
        short_term_gains=short_term[:top],
        planned=planned_taxes(store),
    )


def gift_candidates(
    lots: Iterable[Lot],
    prices: Mapping[str, Decimal],
    as_of: date,
    tax_advantaged: Callable[[str], bool],
) -> tuple[tuple[LotGain, ...], tuple[LotGain, ...]]:
    """(long-term, short-term) unrealised gains of the lots in taxable accounts, each largest first.

    Only the long-term ones are gifting / donation candidates (the module doc says why); lots of
    tax-advantaged accounts and lots without a price are left out of both.
    """
    gains: dict[Term, list[LotGain]] = {Term.LONG: [], Term.SHORT: []}
    for lot in lots:
        price = prices.get(lot.symbol)
        if price is None or tax_advantaged(lot.account):
            continue
        gain = to_cents(lot.qty * price - lot.basis)
        if gain > 0:
            term = holding_term(lot.start, as_of)
            gains[term].append(LotGain(lot, price, gain, term))
    for found in gains.values():
        found.sort(key=lambda g: (-g.gain, g.lot.account, g.lot.symbol, g.lot.acquired))
    return tuple(gains[Term.LONG]), tuple(gains[Term.SHORT])


def _harvested(store: StateStore, realisations: list[Realisation]) -> list[Realisation]:
    """Loss realisations whose sale was an order of a plan that harvested that symbol."""
    by_fill = {f.fill_id: f for f in store.tax_fills(source="broker")}
    out = []
    harvests: dict[str, set[str]] = {}
    for r in realisations:
        if not r.is_loss:
            continue
        record = by_fill.get(r.sale_fill_id)
        if record is None or record.order_id is None:
            continue
        order = store.get_order_by_broker_id(record.order_id)
        if order is None:
            continue
        if order.plan_id not in harvests:
            plan = store.get_plan(order.plan_id)
            tax = (plan.details.get("tax") or {}) if plan is not None else {}
            harvests[order.plan_id] = {
                h.get("symbol") for h in tax.get("harvests", []) if h.get("kind") == "harvest"
            }
        if r.symbol in harvests[order.plan_id]:
            out.append(r)
    return out
