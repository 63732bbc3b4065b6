"""Tax-loss harvesting: sell a position at a loss and buy a substitute that keeps the allocation.

Why: a realised loss offsets realised gains (and up to $3,000 a year of ordinary income), and the substitute
keeps the portfolio invested in the same slot of the allocation, so the harvest changes the tax bill, not the
risk. The substitute must not be *substantially identical* (``TaxSettings.identical``), or the loss would be
washed: it is the next member of the symbol's sleeve (``TaxSettings.substitutes``), e.g. VTI -> ITOT -> SCHB.

Rules, kept deliberately simple:

* **Candidates.** For every held symbol of a taxable account, the lots a sale would relieve in the account's
  relief order, cut where the cumulative gain is lowest (FIFO at Alpaca: the oldest lots first, stopping
  before the first lots whose gains would eat the loss; HIFO/minimum-tax put the losses first anyway). It is
  harvested when that loss is at least ``min_loss`` dollars AND ``min_loss_fraction`` of the basis sold.
* **Wash-sale guards.** Not harvested when a substantially identical security bought in the 30 days before
  in any account would replace any of the loss shares sold, as the ledger matches them (the unsold rest of a
  recent lot the harvest only partly sells counts; the shares sold do not); the substitute is the first
  member of the sleeve that no loss sale of the last 30 days blocks (this plan's harvests included).
* **Switch-back.** A substitute is sold and the primary bought back once the primary is no longer blocked
  (the 30 days after its loss sale are over) AND the switch realises at most ``switch_back_max_gain``
  (default 0: only when it costs no tax; otherwise the substitute is simply kept, which is harmless because
  the planner sees the sleeve as one asset, see :func:`strategies.tax.planning.fold_substitutes`).
* Tax-advantaged accounts never harvest (there is no tax to save).

The caller executes the harvest's orders (sells first) and then adds its fills and realisations to the
household events it gives the rebalance planner, so the same day's rebalance cannot buy the harvested symbol.
Pure: ``Decimal``, no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from strategies.formatting import usd
from strategies.money import floor_cents, floor_quantity, to_cents
from strategies.plan import PlannedOrder, SkippedTrade
from strategies.planner import PlannerSettings
from strategies.portfolio import PortfolioSnapshot, Side, open_sides, order_price, sellable_quantity
from strategies.tax.lots import ZERO, Fill, GainSummary, Lot, Realisation, ReliefMethod, relief_order, relieve
from strategies.tax.planning import TaxSettings
from strategies.tax.wash_sale import blocked_purchases, loss_sale_risk


class HarvestKind(StrEnum):
    HARVEST = "harvest"
    SWITCH_BACK = "switch_back"


@dataclass(frozen=True)
class HarvestTrade:
    """One sell + buy pair and what the sell realises."""

    kind: HarvestKind
    sell: PlannedOrder
    buy: PlannedOrder
    realised: GainSummary
    estimated_tax: Decimal
    realisations: tuple[Realisation, ...]
    reason: str

    @property
    def loss(self) -> Decimal:
        """The loss realised, as a positive amount (0 for a gain)."""
        return max(ZERO, -self.realised.total)

    def describe(self) -> str:
        return (
            f"{self.kind.value}: sell {self.sell.symbol} ~{usd(self.sell.est_notional)},"
            f" buy {self.buy.symbol} ~{usd(self.buy.est_notional)}; realises {usd(self.realised.total)}"
            f" (ST {usd(self.realised.short_term)}, LT {usd(self.realised.long_term)}),"
            f" est. tax {usd(self.estimated_tax)}: {self.reason}"
        )


@dataclass(frozen=True)
class HarvestPlan:
    """The harvests and switch-backs to make now, and the candidates left alone with the reason."""

    trades: tuple[HarvestTrade, ...] = ()
    skipped: tuple[SkippedTrade, ...] = ()

    @property
    def orders(self) -> tuple[PlannedOrder, ...]:
        """Sells first (their proceeds pay for the buys), as the planner orders a plan."""
        return (*(t.sell for t in self.trades), *(t.buy for t in self.trades))

    @property
    def harvested_loss(self) -> Decimal:
        return sum((t.loss for t in self.trades if t.kind is HarvestKind.HARVEST), start=ZERO)

    @property
    def is_empty(self) -> bool:
        return not self.trades

    def explain(self) -> str:
        lines = ["Tax-loss harvesting:" if self.trades else "Tax-loss harvesting: nothing to do"]
        lines += [f"  {t.describe()}" for t in self.trades]
        lines += [f"  not done: {s.symbol}: {s.reason}" for s in self.skipped]
        return "\n".join(lines)


def _harvest_prefix(lots: Sequence[Lot], price: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """(qty, gain, basis) of the relief-order prefix with the lowest cumulative gain."""
    best = (ZERO, ZERO, ZERO)
    qty = gain = basis = ZERO
    for lot in lots:
        qty += lot.qty
        basis += lot.basis
        gain += lot.qty * price - lot.basis
        if gain < best[1]:
            best = (qty, gain, basis)
    return best


def plan_harvest(
    snapshot: PortfolioSnapshot,
    lots: Sequence[Lot],
    day: date,
    settings: TaxSettings,
    *,
    account: str = "taxable",
    household_events: Iterable[Realisation | Fill] = (),
    planner_settings: PlannerSettings = PlannerSettings(),
) -> HarvestPlan:
    """Harvests and switch-backs for one account on ``day`` (see the module docstring for the rules)."""
    harvest = settings.harvest
    if settings.tax_advantaged or not harvest.enabled:
        return HarvestPlan()
    events: list[Realisation | Fill] = list(household_events)
    rules = settings.rules(account)
    method = (
        ReliefMethod.MIN_TAX if settings.relief_method is ReliefMethod.SPECIFIC else settings.relief_method
    )
    trades: list[HarvestTrade] = []
    skipped: list[SkippedTrade] = []
    touched: set[str] = set()
    working = set(open_sides(snapshot))  # symbols with a working order: never traded against (or beside)

    def substitute_for(symbol: str, prefer_primary: bool) -> tuple[str | None, str]:
        sleeve = settings.sleeve(symbol)
        order = list(sleeve)
        if not prefer_primary:
            order = order[order.index(symbol) + 1 :] + order[: order.index(symbol)]
        reasons = []
        for candidate in order:
            if candidate == symbol or candidate in touched or candidate not in snapshot.prices:
                continue
            if candidate in working:
                reasons.append(f"an order on {candidate} is still open")
                continue
            if rules.identical(candidate, symbol):
                continue
            blocks = blocked_purchases(events, candidate, day, rules, account=account)
            if blocks:
                reasons.append(blocks[0].describe())
                continue
            return candidate, ""
        return None, "; ".join(reasons) or f"no substitute for {symbol} with a price (config substitutes)"

    def make_pair(
        kind: HarvestKind, symbol: str, qty: Decimal, buy_symbol: str, reason: str
    ) -> HarvestTrade | SkippedTrade:
        price = order_price(snapshot, symbol, Side.SELL)
        fractional = planner_settings.fractional and snapshot.is_fractionable(symbol)
        if qty < sellable_quantity(snapshot, symbol):
            qty = floor_quantity(qty, fractional=fractional)
        if qty <= 0:
            return SkippedTrade(symbol, f"{kind.value}: less than one share to sell")
        relief = relieve(lots, account, symbol, qty, price, day, method, strict=False)
        est = to_cents(qty * price)
        sell = PlannedOrder(symbol, Side.SELL, qty, None, price, est, f"{kind.value}: {reason}")
        buy_price = order_price(snapshot, buy_symbol, Side.BUY)
        buy_reason = f"{kind.value}: replaces {symbol} in its sleeve; {reason}"
        if planner_settings.fractional and snapshot.is_fractionable(buy_symbol):
            buy = PlannedOrder(
                buy_symbol, Side.BUY, None, floor_cents(est), buy_price, floor_cents(est), buy_reason
            )
        else:
            whole = floor_quantity(est / buy_price, fractional=False)
            if whole <= 0:
                return SkippedTrade(symbol, f"{kind.value}: less than one share of {buy_symbol} to buy")
            buy = PlannedOrder(
                buy_symbol, Side.BUY, whole, None, buy_price, to_cents(whole * buy_price), buy_reason
            )
        if min(sell.est_notional, buy.est_notional) < planner_settings.min_trade_notional:
            return SkippedTrade(symbol, f"{kind.value}: below the minimum trade")
        summary = relief.summary
        return HarvestTrade(
            kind, sell, buy, summary, settings.rates.tax_on(summary), relief.realisations, reason
        )

    for symbol in snapshot.held_symbols():
        sellable = sellable_quantity(snapshot, symbol)
        if sellable <= 0 or symbol not in snapshot.prices or symbol in working:
            continue
        price = order_price(snapshot, symbol, Side.SELL)
        mine = [lot for lot in lots if lot.account == account and lot.symbol == symbol]
        ordered, left = [], sellable
        for lot in relief_order(mine, method, price=price, sold=day):
            if left <= 0:
                break
            ordered.append(lot if lot.qty <= left else lot.split(left)[0])
            left -= min(lot.qty, left)
        qty, gain, basis = _harvest_prefix(ordered, price)
        loss = -gain
        primary = settings.primary(symbol)
        if qty > 0 and loss >= harvest.min_loss and loss >= harvest.min_loss_fraction * basis:
            selling = relieve(lots, account, symbol, qty, price, day, method, strict=False).realisations
            risk = loss_sale_risk(events, symbol, day, rules, selling=selling)
            if risk.at_risk:
                skipped.append(
                    SkippedTrade(symbol, f"harvest of a {usd(loss)} loss deferred: {risk.describe()}")
                )
                continue
            buy_symbol, why = substitute_for(symbol, prefer_primary=symbol != primary)
            if buy_symbol is None:
                skipped.append(SkippedTrade(symbol, f"harvest of a {usd(loss)} loss not done: {why}"))
                continue
            reason = (
                f"{symbol} {usd(loss)} below its basis {usd(basis)} ({loss / basis:.1%}; thresholds"
                f" {usd(harvest.min_loss)} and {harvest.min_loss_fraction:.1%})"
            )
            result = make_pair(HarvestKind.HARVEST, symbol, qty, buy_symbol, reason)
        elif harvest.switch_back and symbol != primary and primary in snapshot.prices:
            if blocked_purchases(events, primary, day, rules, account=account):
                continue  # still inside the wash-sale window of the primary's loss sale
            relief = relieve(lots, account, symbol, sellable, price, day, method, strict=False)
            realised = relief.summary.total
            if realised > harvest.switch_back_max_gain:
                skipped.append(
                    SkippedTrade(
                        symbol,
                        f"kept instead of {primary}: switching back would realise {usd(realised)}"
                        f" (more than {usd(harvest.switch_back_max_gain)})",
                    )
                )
                continue
            washed = loss_sale_risk(events, symbol, day, rules, selling=relief.realisations)
            if realised < 0 and washed.at_risk:
                continue
            reason = f"the wash-sale window of {primary} is over and switching realises {usd(realised)}"
            result = make_pair(HarvestKind.SWITCH_BACK, symbol, sellable, primary, reason)
        else:
            continue
        if isinstance(result, SkippedTrade):
            skipped.append(result)
            continue
        trades.append(result)
        touched |= {symbol, result.buy.symbol}
        events += [r for r in result.realisations if r.is_loss]
        bought = (
            result.buy.qty if result.buy.qty is not None else result.buy.est_notional / result.buy.est_price
        )
        events.append(Fill(account, result.buy.symbol, Side.BUY, bought, result.buy.est_price, day))
    return HarvestPlan(tuple(trades), tuple(skipped))
