"""The wash-sale rule across a household (IRS Publication 550, Rev. Rul. 2008-5), as pure functions.

Why household-wide: the rule looks at every account the taxpayer controls, IRAs included. A loss on a sale
is disallowed when substantially identical stock is bought within 30 days before or after the sale (a
61-day window). The disallowed loss is not gone: it is added to the basis of the replacement shares and
their holding period includes the holding period of the shares sold. Except when the replacement is bought
in an IRA (or another tax-advantaged account): the IRA's basis is not increased, so the loss is lost for
good (Rev. Rul. 2008-5). That is the expensive mistake a rebalancer buying in an IRA while harvesting in a
taxable account makes, so the guards below look at every account.

"Substantially identical" has no IRS definition: :class:`WashSaleRules` takes configurable groups (e.g.
SPY/IVV/VOO, which track the same index, are conservatively treated as identical); a symbol is always
identical to itself.

Matching (Pub 550): when the shares bought in the window are more or fewer than the shares sold at a loss,
replacement shares are matched in the order they were bought, each used once. Shares bought by the very buy
that opened the lot being sold are not replacements for it (as brokers report it on Form 1099-B).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal

from strategies.portfolio import Side
from strategies.tax.lots import (
    ZERO,
    Fill,
    Ledger,
    Lot,
    Realisation,
    ReliefMethod,
    chronological,
    open_lot,
    replay_sale,
)

WINDOW_DAYS = 30
WINDOW = timedelta(days=WINDOW_DAYS)


@dataclass(frozen=True)
class WashSaleRules:
    """Which securities count as one, and which accounts are tax-advantaged (IRA, 401k, HSA...)."""

    groups: tuple[frozenset[str], ...] = ()
    tax_advantaged: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        groups = tuple(frozenset(g) for g in self.groups)
        seen: dict[str, int] = {}
        for i, group in enumerate(groups):
            for symbol in group:
                if symbol in seen and seen[symbol] != i:
                    raise ValueError(f"{symbol} is in two substantially-identical groups")
                seen[symbol] = i
        object.__setattr__(self, "groups", groups)
        object.__setattr__(self, "tax_advantaged", frozenset(self.tax_advantaged))

    def identical(self, a: str, b: str) -> bool:
        return a == b or any(a in g and b in g for g in self.groups)

    def is_sheltered(self, account: str) -> bool:
        return account in self.tax_advantaged


@dataclass(frozen=True)
class WashSale:
    """One match of loss shares to replacement shares: the audit trail of a disallowance."""

    loss_sale: Realisation
    replacement_fill_id: str
    replacement_account: str
    replacement_symbol: str
    replacement_day: date
    qty: Decimal
    disallowed: Decimal
    permanent: bool
    holding_carried: timedelta


@dataclass(frozen=True)
class _Pending:
    qty: Decimal
    disallowed: Decimal
    holding_carried: timedelta


@dataclass(frozen=True)
class HouseholdLedger(Ledger):
    """A :class:`Ledger` over every account of a household, plus the wash sales found."""

    wash_sales: tuple[WashSale, ...] = field(default=())


def build_household_ledger(
    fills: Iterable[Fill],
    rules: WashSaleRules,
    methods: Mapping[str, ReliefMethod] | None = None,
    *,
    default_method: ReliefMethod = ReliefMethod.FIFO,
) -> HouseholdLedger:
    """Replay every account's fills in trade-date order with lot relief AND the wash-sale rule.

    A loss sale in a taxable account is matched against buys of substantially identical stock in any account
    within 30 days before or after. Replacement shares already held have their lot split and its basis and
    holding start adjusted at once; replacement shares bought later get the adjustment when their buy is
    replayed (the whole history is known, so the "30 days after" side is decidable). Replacements in a
    tax-advantaged account make the loss permanently disallowed and adjust nothing.
    """
    methods = dict(methods or {})
    ordered = chronological(fills)
    lots: tuple[Lot, ...] = ()
    realised: list[Realisation] = []
    unmatched: list[tuple[Fill, Decimal]] = []
    washes: list[WashSale] = []
    used: dict[str, Decimal] = {}  # buy fill id -> replacement shares matched from it
    pending: dict[str, list[_Pending]] = {}
    processed: set[str] = set()
    counter = 0

    for position, fill in enumerate(ordered):
        key = fill.fill_id or f"#{position}"
        if fill.side is Side.BUY:
            lot = replace(open_lot(fill), lot_id=key, fill_id=key)
            opened: list[Lot] = []
            for adjustment in pending.pop(key, []):
                counter += 1
                lot, part = _adjust(lot, adjustment, f"{key}/w{counter}")
                opened.append(part)
                if lot is None:
                    break
            lots = (*lots, *opened, *([lot] if lot is not None else []))
            processed.add(key)
            continue

        relief = replay_sale(
            lots, fill, methods.get(fill.account, default_method), key, rules.is_sheltered(fill.account)
        )
        lots = relief.remaining
        processed.add(key)
        if relief.unmatched_qty > 0:
            unmatched.append((fill, relief.unmatched_qty))
        own_buys = {r.buy_fill_id for r in relief.realisations}
        for sale in relief.realisations:
            if sale.tax_advantaged or not sale.is_loss:
                realised.append(sale)
                continue
            per_share = -sale.gain / sale.qty
            left = sale.qty
            for index, candidate in enumerate(ordered):
                if left <= 0:
                    break
                ckey = candidate.fill_id or f"#{index}"
                if (
                    candidate.side is not Side.BUY
                    or ckey in own_buys
                    or not rules.identical(candidate.symbol, sale.symbol)
                    or abs(candidate.day - sale.sold) > WINDOW
                ):
                    continue
                if ckey in processed:
                    held = sum((lot.qty for lot in lots if lot.lot_id == ckey), start=ZERO)
                    available = min(candidate.qty - used.get(ckey, ZERO), held)
                else:
                    available = candidate.qty - used.get(ckey, ZERO)
                take = min(left, available)
                if take <= 0:
                    continue
                left -= take
                used[ckey] = used.get(ckey, ZERO) + take
                disallowed = per_share * take if left > 0 else -sale.gain - sale.disallowed
                carried = sale.sold - sale.holding_start
                permanent = rules.is_sheltered(candidate.account)
                sale = replace(
                    sale,
                    disallowed=sale.disallowed + disallowed,
                    permanently_disallowed=sale.permanently_disallowed + (disallowed if permanent else ZERO),
                )
                washes.append(
                    WashSale(
                        sale,
                        ckey,
                        candidate.account,
                        candidate.symbol,
                        candidate.day,
                        take,
                        disallowed,
                        permanent,
                        carried,
                    )
                )
                if permanent:
                    continue
                adjustment = _Pending(take, disallowed, carried)
                if ckey in processed:
                    lots = _adjust_held(lots, ckey, adjustment, counter + 1)
                    counter += 1
                else:
                    pending.setdefault(ckey, []).append(adjustment)
            realised.append(sale)
    # a WashSale snapshot holds the sale as it was when matched; point each at the final realisation
    final = {(r.sale_fill_id, r.lot_id): r for r in realised}
    washes = [replace(w, loss_sale=final[(w.loss_sale.sale_fill_id, w.loss_sale.lot_id)]) for w in washes]
    return HouseholdLedger(lots, tuple(realised), tuple(unmatched), tuple(washes))


def _adjust(lot: Lot, adjustment: _Pending, new_id: str) -> tuple[Lot | None, Lot]:
    """Split ``adjustment.qty`` shares off ``lot``: their basis gains the disallowed loss, the holding
    period of the shares sold is tacked on. Returns (the rest or None, the adjusted part)."""
    part, rest = lot.split(adjustment.qty)
    part = replace(
        part,
        adjusted_basis=part.basis + adjustment.disallowed,
        holding_start=part.acquired - adjustment.holding_carried,
        lot_id=new_id,
    )
    return rest, part


def _adjust_held(lots: tuple[Lot, ...], key: str, adjustment: _Pending, serial: int) -> tuple[Lot, ...]:
    out: list[Lot] = []
    left = adjustment
    for lot in lots:
        if left.qty <= 0 or lot.lot_id != key:
            out.append(lot)
            continue
        take = min(left.qty, lot.qty)
        share = left.disallowed * take / left.qty
        rest, part = _adjust(lot, _Pending(take, share, left.holding_carried), f"{key}/w{serial}")
        out.append(part)
        if rest is not None:
            out.append(rest)
        left = _Pending(left.qty - take, left.disallowed - share, left.holding_carried)
    return tuple(out)


# -- guards for the planner ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurchaseBlock:
    """A buy of ``symbol`` on ``day`` would wash this loss sale; buying is safe from ``allowed_from``."""

    symbol: str
    loss_sale: Realisation
    washable_loss: Decimal
    allowed_from: date
    permanent: bool

    def describe(self) -> str:
        where = " (in a tax-advantaged account: the loss would be lost for good)" if self.permanent else ""
        return (
            f"buying {self.symbol} would wash the {self.washable_loss:.2f} loss on {self.loss_sale.symbol}"
            f" sold {self.loss_sale.sold.isoformat()} in {self.loss_sale.account}{where};"
            f" wait until {self.allowed_from.isoformat()}"
        )


def blocked_purchases(
    household_events: Iterable[Realisation | Fill],
    symbol: str,
    day: date,
    rules: WashSaleRules | None = None,
    *,
    account: str | None = None,
) -> tuple[PurchaseBlock, ...]:
    """Loss sales that a buy of ``symbol`` on ``day`` (in ``account``, any if None) would wash.

    A buy is blocked for 30 days after a loss sale of a substantially identical security, in every account of
    the household. Losses already fully washed by earlier replacements are not blocking (a replacement share
    is matched once). Empty tuple: the buy is safe. Loss sales after ``day`` are ignored (not yet made).
    """
    rules = rules or WashSaleRules()
    out = []
    for event in household_events:
        if not isinstance(event, Realisation) or event.tax_advantaged or not event.is_loss:
            continue
        washable = -event.gain - event.disallowed
        if washable <= 0 or not rules.identical(event.symbol, symbol):
            continue
        if timedelta(0) <= day - event.sold <= WINDOW:
            permanent = account is not None and rules.is_sheltered(account)
            out.append(
                PurchaseBlock(symbol, event, washable, event.sold + WINDOW + timedelta(days=1), permanent)
            )
    return tuple(sorted(out, key=lambda b: (b.loss_sale.sold, b.loss_sale.symbol)))


@dataclass(frozen=True)
class LossSaleRisk:
    """Recent buys that would wash a loss sale of ``symbol`` on ``day``; defer the sale to ``defer_until``.

    ``permanent`` when one of them is in a tax-advantaged account (Rev. Rul. 2008-5). Deferring avoids the
    "30 days before" side only; :func:`blocked_purchases` keeps the "30 days after" side clean.
    """

    symbol: str
    day: date
    recent_buys: tuple[Fill, ...] = ()
    defer_until: date | None = None
    permanent: bool = False

    @property
    def at_risk(self) -> bool:
        return bool(self.recent_buys)

    @property
    def replacement_qty(self) -> Decimal:
        return sum((f.qty for f in self.recent_buys), start=ZERO)

    def describe(self) -> str:
        if not self.at_risk:
            return f"a loss sale of {self.symbol} on {self.day.isoformat()} is clear of wash sales"
        assert self.defer_until is not None
        buys = ", ".join(
            f"{f.qty} {f.symbol} in {f.account} on {f.day.isoformat()}" for f in self.recent_buys
        )
        lost = "; an IRA buy makes the loss permanently lost" if self.permanent else ""
        return (
            f"a loss sale of {self.symbol} on {self.day.isoformat()} would be washed by {buys}{lost};"
            f" defer to {self.defer_until.isoformat()}"
        )


def loss_sale_risk(
    household_events: Iterable[Realisation | Fill],
    symbol: str,
    day: date,
    rules: WashSaleRules | None = None,
    *,
    exclude_fill_ids: Sequence[str] = (),
) -> LossSaleRisk:
    """Is selling ``symbol`` at a loss on ``day`` washed by a buy of an identical security in the 30 days
    before (any account, same day included)? ``exclude_fill_ids``: the buys whose own lots are being sold
    (shares are not their own replacement)."""
    rules = rules or WashSaleRules()
    excluded = set(exclude_fill_ids)
    recent = tuple(
        sorted(
            (
                e
                for e in household_events
                if isinstance(e, Fill)
                and e.side is Side.BUY
                and e.fill_id not in excluded
                and rules.identical(e.symbol, symbol)
                and timedelta(0) <= day - e.day <= WINDOW
            ),
            key=lambda f: f.day,
        )
    )
    if not recent:
        return LossSaleRisk(symbol, day)
    return LossSaleRisk(
        symbol,
        day,
        recent,
        max(f.day for f in recent) + WINDOW + timedelta(days=1),
        any(rules.is_sheltered(f.account) for f in recent),
    )
