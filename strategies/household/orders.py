"""From the MILP's float solution to orders a broker accepts, and the plan's estimates of them.

Shared by the household optimizer and the per-account baseline, so both are judged by the same arithmetic:
sells rounded to shares (up, never past the holding), buys to the cent or whole shares, trades under
``min_trade`` dropped while the cash stays whole, buys trimmed where rounding left an account short, and tax
and cost re-estimated on the rounded orders with each account's real relief method.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal
from typing import TYPE_CHECKING

from strategies.costs import half_spread_fraction, impact_fraction
from strategies.household.models import (
    Account,
    AccountSummary,
    Household,
    HouseholdPlan,
    HouseholdTrade,
    LotSale,
    Quote,
    wash_group,
)
from strategies.money import QTY_STEP, floor_cents, to_cents
from strategies.portfolio import Side
from strategies.targets import CASH, ZERO
from strategies.tax.lots import ReliefMethod, Term, relieve

if TYPE_CHECKING:
    from strategies.household.optimizer import OptimizerSettings


@dataclass
class RawTrade:
    """A trade before reporting: buy dollars at mid, or sell shares (with the lots the LP chose, if any)."""

    account: str
    symbol: str
    side: Side
    dollars: float
    lot_shares: dict[str, float] = field(default_factory=dict)


def _round_sell(qty: float, held: Decimal, fractional: bool) -> Decimal:
    """Shares to sell: up (never short of the cash the LP counted on), capped at the holding; all of it when
    the LP sold within a millionth of it (float noise must not leave dust)."""
    if qty >= float(held) * (1 - 1e-6):
        return held
    step = QTY_STEP if fractional else Decimal(1)
    return min(Decimal(repr(qty)).quantize(step, rounding=ROUND_CEILING), held)


def assemble_plan(
    household: Household,
    raw: Sequence[RawTrade],
    settings: OptimizerSettings,
    limits: Mapping[str, tuple[Decimal, Decimal]],
    **extra: object,
) -> HouseholdPlan:
    """Round ``raw`` trades to orders, keep every account's cash whole, and estimate their tax and cost.

    Used for the optimizer's own solution and for the independent baseline alike, so both are judged by the
    same arithmetic: real lot relief per account, the household-wide in-plan wash-sale rule (a loss lot sold
    while any account buys an identical security recognises no loss), half-spread plus exact square-root
    impact per order.
    """
    quotes = household.quotes
    by_account: dict[str, list[RawTrade]] = {a.id: [] for a in household.accounts}
    for t in raw:
        by_account[t.account].append(t)

    orders: list[tuple[Account, RawTrade, Decimal]] = []  # (account, trade, shares or buy dollars)
    for account in household.accounts:
        mine = by_account[account.id]
        sells = []
        for t in (t for t in mine if t.side is Side.SELL):
            q = quotes[t.symbol]
            shares = _round_sell(t.dollars / float(q.price), account.positions[t.symbol], q.fractionable)
            if shares > 0:
                sells.append((t, shares))
        buys = []
        for t in (t for t in mine if t.side is Side.BUY):
            q = quotes[t.symbol]
            if q.fractionable:
                amount = floor_cents(Decimal(repr(t.dollars)))
            else:
                amount = (Decimal(repr(t.dollars)) / q.price).to_integral_value(rounding=ROUND_DOWN) * q.price
            if amount > 0:
                buys.append((t, amount))
        # drop trades below min_trade: buys always, sells only while the cash stays whole
        buys = [(t, a) for t, a in buys if a >= settings.min_trade]
        for t, shares in sorted(sells, key=lambda ts: ts[1] * quotes[ts[0].symbol].price):
            if shares * quotes[t.symbol].price >= settings.min_trade:
                break
            without = [s for s in sells if s[0] is not t]
            if _cash_after(account, without, buys, quotes, settings) >= _cash_need(account):
                sells = without
        # trim buys (largest first) if rounding left the account short of its reserve
        short = _cash_need(account) - _cash_after(account, sells, buys, quotes, settings)
        if short > 0:
            buys.sort(key=lambda ta: -ta[1])
            trimmed = []
            for t, amount in buys:
                if short > 0:
                    q = quotes[t.symbol]
                    cut = min(amount, _ceil_cents(short * Decimal("1.01")) + Decimal("0.01"))
                    if not q.fractionable:
                        cut = min(amount, (cut / q.price).to_integral_value(rounding=ROUND_CEILING) * q.price)
                    amount -= cut
                    short -= cut
                if amount >= settings.min_trade:
                    trimmed.append((t, amount))
            buys = trimmed
        orders += [(account, t, s) for t, s in sells] + [(account, t, a) for t, a in buys]

    bought_groups: dict[str, Decimal] = {}
    for _, t, amount in orders:
        if t.side is Side.BUY:
            group = wash_group(household, t.symbol)
            bought_groups[group] = bought_groups.get(group, ZERO) + amount / quotes[t.symbol].price
    washed_groups = {wash_group(household, s) for s in household.recent_buy_symbols}

    trades = []
    st_total = lt_total = cost_total = ZERO
    for account, t, amount in orders:
        q = quotes[t.symbol]
        notional = amount * q.price if t.side is Side.SELL else amount
        cost = _order_cost(q, notional, settings)
        if t.side is Side.BUY:
            trades.append(
                HouseholdTrade(
                    account.id,
                    t.symbol,
                    Side.BUY,
                    None if q.fractionable else (amount / q.price).quantize(Decimal(1)),
                    amount if q.fractionable else None,
                    q.price,
                    to_cents(notional),
                    to_cents(cost),
                )
            )
        else:
            st = lt = ZERO
            lot_sales: tuple[LotSale, ...] = ()
            if not account.tax_advantaged:
                group = wash_group(household, t.symbol)
                replacement = bought_groups.get(group, ZERO)
                st, lt, lot_sales = _sale_gains(
                    account, t, amount, household, group in washed_groups, replacement
                )
                if replacement > 0:
                    washed_qty = sum((ls.qty for ls in lot_sales if ls.washed), start=ZERO)
                    bought_groups[group] = max(replacement - washed_qty, ZERO)
            tax = to_cents(st * household.rates.short_term + lt * household.rates.long_term)
            trades.append(
                HouseholdTrade(
                    account.id,
                    t.symbol,
                    Side.SELL,
                    amount,
                    None,
                    q.price,
                    to_cents(notional),
                    to_cents(cost),
                    to_cents(st),
                    to_cents(lt),
                    tax,
                    lot_sales,
                )  # fmt: skip
            )
            st_total += st
            lt_total += lt
        cost_total += cost

    summaries, weights_before, weights_after = _aggregate(household, trades)
    return HouseholdPlan(
        household=household.name,
        trades=tuple(sorted(trades, key=lambda tr: (tr.account, tr.side is Side.BUY, tr.symbol))),
        accounts=summaries,
        weights_before=weights_before,
        weights_after=weights_after,
        limits=dict(limits),
        short_term_gain=to_cents(st_total),
        long_term_gain=to_cents(lt_total),
        estimated_tax=to_cents(st_total * household.rates.short_term + lt_total * household.rates.long_term),
        estimated_cost=to_cents(cost_total),
        **extra,  # type: ignore[arg-type]
    )


def _ceil_cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_CEILING)


def _order_cost(quote: Quote, notional: Decimal, settings: OptimizerSettings) -> Decimal:
    """Half-spread plus square-root impact of one order (``strategies.costs``), in dollars."""
    n = float(notional)
    frac = half_spread_fraction(quote.spread_bps)
    if settings.impact_segments > 0:
        frac += impact_fraction(
            n / float(quote.price), quote.adv, quote.sigma_daily, settings.impact_coefficient
        )
    return Decimal(repr(n * frac))


def _cash_need(account: Account) -> Decimal:
    return account.cash_reserve + account.flows.outflow


def _cash_after(
    account: Account,
    sells: Sequence[tuple[RawTrade, Decimal]],
    buys: Sequence[tuple[RawTrade, Decimal]],
    quotes: Mapping[str, Quote],
    settings: OptimizerSettings,
) -> Decimal:
    cash = account.cash + account.flows.effective_contribution
    for t, shares in sells:
        notional = shares * quotes[t.symbol].price
        cash += notional - _order_cost(quotes[t.symbol], notional, settings)
    for t, amount in buys:
        cash -= amount + _order_cost(quotes[t.symbol], amount, settings)
    return cash


def _sale_gains(
    account: Account,
    trade: RawTrade,
    shares: Decimal,
    household: Household,
    recently_bought: bool,
    replacement: Decimal,
) -> tuple[Decimal, Decimal, tuple[LotSale, ...]]:
    """(short-term, long-term recognised gain, lots) of selling ``shares`` with the account's relief method.

    A loss is not recognised when the group was bought in the 30 days before (``recently_bought``) or is
    bought in this plan (``replacement`` shares, matched to loss shares in relief order, as Pub 550 does).
    """
    price = household.quotes[trade.symbol].price
    lots = [lot for lot in account.lots if lot.symbol == trade.symbol]
    if account.relief is ReliefMethod.SPECIFIC:
        chosen = sorted(lots, key=lambda lot: -trade.lot_shares.get(lot.lot_id, 0.0))
        selections = []
        left = shares
        for lot in chosen:
            if left <= 0:
                break
            take = min(left, lot.qty)
            selections.append((lot.lot_id, take))
            left -= take
        relief = relieve(lots, account.id, trade.symbol, shares, price, household.day, ReliefMethod.SPECIFIC,
                         selections=selections)  # fmt: skip
    else:
        relief = relieve(lots, account.id, trade.symbol, shares, price, household.day, account.relief)
    st = lt = ZERO
    out = []
    cover = replacement
    for r in relief.realisations:
        gain = r.gain
        washed = False
        if gain < 0 and (recently_bought or cover > 0):
            washed = True
            if recently_bought:
                gain = ZERO
            else:
                take = min(cover, r.qty)
                cover -= take
                gain = gain * (r.qty - take) / r.qty
        if r.term is Term.LONG:
            lt += gain
        else:
            st += gain
        out.append(LotSale(r.lot_id, r.qty, r.gain, r.term, washed))
    return st, lt, tuple(out)


def _aggregate(
    household: Household, trades: Sequence[HouseholdTrade]
) -> tuple[tuple[AccountSummary, ...], dict[str, Decimal], dict[str, Decimal]]:
    quotes = household.quotes
    before: dict[str, Decimal] = {}
    after: dict[str, Decimal] = {}
    summaries = []
    cash_before_total = cash_after_total = ZERO
    for account in household.accounts:
        positions = dict(account.positions)
        for s, q in positions.items():
            before[s] = before.get(s, ZERO) + q * quotes[s].price
        sells = buys = cost = ZERO
        for t in trades:
            if t.account != account.id:
                continue
            shares = t.qty if t.qty is not None else (t.notional or ZERO) / t.est_price
            if t.side is Side.SELL:
                sells += t.est_notional
                positions[t.symbol] = positions.get(t.symbol, ZERO) - shares
            else:
                buys += t.est_notional
                positions[t.symbol] = positions.get(t.symbol, ZERO) + shares
            cost += t.est_cost
        for s, q in positions.items():
            after[s] = after.get(s, ZERO) + q * quotes[s].price
        flows = account.flows
        cash_after = account.cash + flows.effective_contribution - flows.outflow + sells - buys - cost
        summaries.append(
            AccountSummary(
                account.id,
                account.cash,
                flows.effective_contribution,
                flows.outflow,
                sells,
                buys,
                cost,
                cash_after,
                account.cash_reserve,
            )  # fmt: skip
        )
        cash_before_total += account.cash
        cash_after_total += cash_after
    before[CASH] = cash_before_total
    after[CASH] = cash_after_total
    total_before = sum(before.values(), start=ZERO)
    total_after = sum(after.values(), start=ZERO)
    symbols = sorted(set(before) | set(after) | set(household.targets.weights))
    weights_before = {s: before.get(s, ZERO) / total_before if total_before else ZERO for s in symbols}
    weights_after = {s: after.get(s, ZERO) / total_after if total_after else ZERO for s in symbols}
    return tuple(summaries), weights_before, weights_after
