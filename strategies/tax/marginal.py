"""The estimated tax per dollar of a marginal sale: what the objective counts as the tax cost of selling.

Why a per-dollar figure: the objective (``strategies.objective.problem``) prices a sale linearly, ``sell_tax``
per unit of equity sold, so it needs one number per asset before it knows how much it will sell. That number
is the tax a small sale would pay under the account's lot relief (FIFO by default, as Alpaca relieves lots),
at the configured short- and long-term rates, divided by its proceeds. The sale is estimated by
:func:`strategies.tax.estimate.estimate_sale`, the estimator the plan's tax annotation uses, so the objective
and the annotation of the sells it makes read the same lots the same way.

Why the first 5% of the position (``MARGINAL_SHARE``) rather than the first lot or the whole position: a
rebalancing trade relieves the front of the relief order, a few percent of the position, so that is the tax
it pays. The first lot alone can be a sliver (a one-share lot from a cash flow) that misprices every sale;
the whole position prices lots no trade of that size reaches. A larger sale than 5% reaching cheaper or
dearer lots is not seen: a linear price is the objective's simplification, and the plan's annotation shows
the actual figure.

Never negative, and 0 when the first lot the relief order reaches is at a loss: the objective must not sell
for a tax benefit. Harvesting a loss is its own feature (``strategies.tax.harvest``) with the wash-sale rule,
which a per-dollar price cannot respect. Tax-advantaged accounts pay 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal

from strategies.tax.estimate import TaxRates, estimate_sale
from strategies.tax.lots import ZERO, Lot, ReliefMethod, relief_order
from strategies.tax.planning import TaxSettings
from strategies.tax.wash_sale import Fill, Realisation, loss_sale_risk

WASH_BLOCKED = 1.0
"""Tax per dollar counted for a sale the wash-sale rule blocks now: all of its proceeds, so the objective
sells it only when nothing else reduces the risk."""
MARGINAL_SHARE = Decimal("0.05")
"""Share of the position a typical rebalancing sale relieves (see the module docstring)."""


def marginal_tax_fraction(
    lots: Sequence[Lot],
    account: str,
    symbol: str,
    price: Decimal,
    day: date,
    rates: TaxRates,
    *,
    method: ReliefMethod = ReliefMethod.FIFO,
    tax_advantaged: bool = False,
    share: Decimal = MARGINAL_SHARE,
) -> float:
    """Estimated tax per dollar sold of the first ``share`` of ``symbol``'s lots in ``account`` at ``price``
    on ``day`` (0 without lots, in a tax-advantaged account, or when the first lot relieved is at a loss).

    Specific-lot relief is priced with the minimum-tax order, as the tax-aware planner plans it."""
    mine = [lot for lot in lots if lot.account == account and lot.symbol == symbol]
    if tax_advantaged or price <= 0 or not mine:
        return 0.0
    if method is ReliefMethod.SPECIFIC:
        method = ReliefMethod.MIN_TAX
    if relief_order(mine, method, price=price, sold=day)[0].basis_per_share >= price:
        return 0.0
    qty = sum((lot.qty for lot in mine), start=ZERO) * share
    estimate, _ = estimate_sale(mine, account, symbol, qty, price, day, rates, method=method)
    summary = estimate.summary  # unrounded: the estimate's cents would distort a small sale
    tax = summary.short_term * rates.short_term + summary.long_term * rates.long_term
    return max(float(tax / (qty * price)), 0.0)


def sell_tax_fractions(
    lots: Sequence[Lot],
    account: str,
    prices: Mapping[str, Decimal],
    day: date,
    settings: TaxSettings,
    household_events: Iterable[Realisation | Fill] | None = None,
) -> dict[str, float]:
    """``symbol -> tax per dollar sold`` for every symbol ``account`` holds lots of and every sleeve primary
    with a held member (the objective sees a sleeve as its primary); a symbol not listed pays nothing.

    A sleeve's sale is carried by the member whose lots cost the least tax per dollar (the tax-aware
    planner's choice), so a primary is priced at the cheapest of its held members.

    With ``household_events`` (every account's recent buys and realisations), a member whose sale now would
    be a wash sale (its first lot is at a loss and an identical security was bought in the last 30 days)
    costs :data:`WASH_BLOCKED` per dollar: the tax-aware planner would defer that sale and sell something
    else, so the objective must reach its risk by selling something else itself (in a crash it otherwise
    planned the blocked sale and the planner replaced it with bonds, leaving the stocks overweight)."""
    held = {lot.symbol for lot in lots if lot.account == account}
    events = None if household_events is None else tuple(household_events)
    out = {}
    for symbol in held | {settings.primary(s) for s in held}:
        members = settings.sleeve(symbol) if settings.primary(symbol) == symbol else (symbol,)
        fractions = [
            WASH_BLOCKED
            if events is not None and _washed(lots, account, member, prices[member], day, settings, events)
            else marginal_tax_fraction(
                lots,
                account,
                member,
                prices[member],
                day,
                settings.rates,
                method=settings.relief_method,
                tax_advantaged=settings.tax_advantaged,
            )
            for member in members
            if member in held and member in prices
        ]
        out[symbol] = min(fractions, default=0.0)
    return out


def _washed(
    lots: Sequence[Lot],
    account: str,
    symbol: str,
    price: Decimal,
    day: date,
    settings: TaxSettings,
    events: Sequence[Realisation | Fill],
) -> bool:
    """Would a sale of ``symbol`` now start at a loss lot that a recent identical buy washes?"""
    if settings.tax_advantaged:
        return False
    mine = [lot for lot in lots if lot.account == account and lot.symbol == symbol]
    if not mine:
        return False
    method = (
        ReliefMethod.MIN_TAX if settings.relief_method is ReliefMethod.SPECIFIC else settings.relief_method
    )
    head = relief_order(mine, method, price=price, sold=day)[0]
    if head.basis_per_share <= price:
        return False
    risk = loss_sale_risk(events, symbol, day, settings.rules(account), exclude_fill_ids=(head.fill_id,))
    return risk.at_risk
