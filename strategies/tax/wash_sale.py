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

Matching (Pub 550, Reg. 1.1091-1(b)-(c)): when the shares bought in the window are more or fewer than the
shares sold at a loss, replacement shares are matched in the order they were bought, each used once, to the
loss shares in the order those were acquired. Only the shares a sale actually sells are not replacements:
the unsold rest of a lot the sale partly relieves, and other lots, bought within the window ARE replacements
for the other lots' loss shares of the same sale. The one exception is the sold shares' own purchase: shares
bought together with the shares sold are not their replacement (Rev. Rul. 56-602: a sale that reduces a
position bought less than 30 days before is no wash sale). :func:`match_replacements` is that rule, and the
ledger, the estimate of a planned sale and the harvest check all go through it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal

from strategies.formatting import shares, usd
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
class Replacement:
    """Replacement shares of one buy matched to loss shares of one realisation of a sale."""

    loss_index: int
    """Which of the sale's realisations (the position in the sequence given to :func:`match_replacements`)."""
    key: str
    """The buy's key as the caller gave it (its fill id, or a stand-in when it has none)."""
    buy: Fill
    qty: Decimal
    disallowed: Decimal
    permanent: bool
    """Bought in a tax-advantaged account: the loss is lost for good (Rev. Rul. 2008-5)."""


def match_replacements(
    realisations: Sequence[Realisation],
    buys: Iterable[tuple[str, Fill, Decimal]],
    rules: WashSaleRules,
) -> tuple[Replacement, ...]:
    """Match the loss shares of ONE sale to replacement shares: the rule shared by the ledger, the estimate of
    a planned sale and the harvest check, so the planner foresees exactly what the ledger will record.

    ``realisations``: the sale's (one per lot touched); gains and tax-advantaged ones are never washed.
    ``buys``: (key, buy fill, shares of it that can still be replacements), in the order bought. The caller
    says how many, because only it knows: never the shares this very sale sells (they are gone), nor shares
    already matched to an earlier loss (each replacement share is used once); the unsold rest counts.

    A buy is a replacement for a loss share when it is of a substantially identical security, in any account,
    within 30 days before or after the sale, and is not the purchase that opened the loss share's own lot
    (Rev. Rul. 56-602). Replacement shares go in the order bought to the loss shares in the order acquired
    (Reg. 1.1091-1(c)); the disallowed loss is the loss per share times the shares matched, the last match of
    a realisation taking the exact rest so nothing is lost to rounding.
    """
    available: dict[str, Decimal] = {}
    ordered: list[tuple[str, Fill]] = []
    for key, buy, qty in buys:
        if buy.side is Side.BUY and qty > 0:
            available[key] = available.get(key, ZERO) + qty
            ordered.append((key, buy))
    ordered.sort(key=lambda kb: kb[1].day)  # stable: same-day buys keep the given order
    losses = sorted(
        (
            (i, r)
            for i, r in enumerate(realisations)
            if r.is_loss and not r.tax_advantaged and not rules.is_sheltered(r.account)
        ),
        key=lambda ir: (ir[1].acquired, ir[0]),
    )
    out: list[Replacement] = []
    for index, loss in losses:
        per_share = -loss.gain / loss.qty
        left, disallowed_so_far = loss.qty, ZERO
        for key, buy in ordered:
            if left <= 0:
                break
            if (
                (loss.buy_fill_id and key == loss.buy_fill_id)
                or not rules.identical(buy.symbol, loss.symbol)
                or abs(buy.day - loss.sold) > WINDOW
            ):
                continue
            take = min(left, available[key])
            if take <= 0:
                continue
            available[key] -= take
            left -= take
            disallowed = per_share * take if left > 0 else -loss.gain - disallowed_so_far
            disallowed_so_far += disallowed
            out.append(Replacement(index, key, buy, take, disallowed, rules.is_sheltered(buy.account)))
    return tuple(out)


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
        sales = list(relief.realisations)
        if any(r.is_loss and not r.tax_advantaged for r in sales):
            candidates = []
            for index, candidate in enumerate(ordered):
                if (
                    candidate.side is not Side.BUY
                    or abs(candidate.day - fill.day) > WINDOW
                    or not rules.identical(candidate.symbol, fill.symbol)
                ):
                    continue
                ckey = candidate.fill_id or f"#{index}"
                available = candidate.qty - used.get(ckey, ZERO)
                if ckey in processed:  # only shares still held: not those this sale (or an earlier one) sold
                    held = sum((lot.qty for lot in lots if lot.lot_id == ckey), start=ZERO)
                    available = min(available, held)
                candidates.append((ckey, candidate, available))
            for match in match_replacements(sales, candidates, rules):
                sale = sales[match.loss_index]
                used[match.key] = used.get(match.key, ZERO) + match.qty
                sale = replace(
                    sale,
                    disallowed=sale.disallowed + match.disallowed,
                    permanently_disallowed=sale.permanently_disallowed
                    + (match.disallowed if match.permanent else ZERO),
                )
                sales[match.loss_index] = sale
                carried = sale.sold - sale.holding_start
                buy = match.buy
                washes.append(
                    WashSale(
                        sale,
                        match.key,
                        buy.account,
                        buy.symbol,
                        buy.day,
                        match.qty,
                        match.disallowed,
                        match.permanent,
                        carried,
                    )
                )
                if match.permanent:
                    continue
                adjustment = _Pending(match.qty, match.disallowed, carried)
                if match.key in processed:
                    counter += 1
                    lots = _adjust_held(lots, match.key, adjustment, counter)
                else:
                    pending.setdefault(match.key, []).append(adjustment)
        realised += sales
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
    "30 days before" side only; :func:`blocked_purchases` keeps the "30 days after" side clean. When the
    sale's realisations were given, ``replacements`` is the matching the ledger will make of them, and the
    buys and ``permanent`` are those of the matches only.
    """

    symbol: str
    day: date
    recent_buys: tuple[Fill, ...] = ()
    defer_until: date | None = None
    permanent: bool = False
    replacements: tuple[Replacement, ...] = ()

    @property
    def at_risk(self) -> bool:
        return bool(self.recent_buys)

    @property
    def replacement_qty(self) -> Decimal:
        """Shares matched as replacements (all the recent buys' shares when no sale was given)."""
        if self.replacements:
            return sum((m.qty for m in self.replacements), start=ZERO)
        return sum((f.qty for f in self.recent_buys), start=ZERO)

    @property
    def disallowed(self) -> Decimal:
        """The loss the matched replacements disallow (0 when no sale was given)."""
        return sum((m.disallowed for m in self.replacements), start=ZERO)

    def describe(self) -> str:
        if not self.at_risk:
            return f"a loss sale of {self.symbol} on {self.day.isoformat()} is clear of wash sales"
        assert self.defer_until is not None
        matched: dict[int, Decimal] = {}
        for m in self.replacements:
            matched[id(m.buy)] = matched.get(id(m.buy), ZERO) + m.qty
        parts = []
        for f in self.recent_buys:
            qty = matched.get(id(f), f.qty)
            head = f"{shares(f.qty)}" if qty == f.qty else f"{shares(qty)} of the {shares(f.qty)}"
            parts.append(f"{head} {f.symbol} bought in {f.account} on {f.day.isoformat()}")
        amount = f" ({usd(self.disallowed)} of the loss disallowed)" if self.replacements else ""
        lost = "; an IRA buy makes the loss permanently lost" if self.permanent else ""
        return (
            f"a loss sale of {self.symbol} on {self.day.isoformat()} would be washed by {', '.join(parts)}"
            f"{amount}{lost}; defer to {self.defer_until.isoformat()}"
        )


def loss_sale_risk(
    household_events: Iterable[Realisation | Fill],
    symbol: str,
    day: date,
    rules: WashSaleRules | None = None,
    *,
    exclude_fill_ids: Sequence[str] = (),
    selling: Sequence[Realisation] | None = None,
) -> LossSaleRisk:
    """Is selling ``symbol`` at a loss on ``day`` washed by a buy of an identical security in the 30 days
    before (any account, same day included)?

    ``selling``: the realisations the sale would make (``relieve``'s). The answer is then the ledger's own
    matching (:func:`match_replacements`): only the shares this sale sells are not replacements, so the unsold
    rest of a recent lot the sale partly relieves washes the loss of the other lots it sells; the sold shares'
    own purchase is never their replacement (Rev. Rul. 56-602). Buys' shares already sold or already matched
    to an earlier loss are still counted (the events do not say): a conservative estimate.
    Without ``selling`` (would any loss sale of the symbol now be washed?) every recent buy counts except
    ``exclude_fill_ids``: the buys whose own lots are being sold.
    """
    rules = rules or WashSaleRules()
    excluded = set(exclude_fill_ids)
    recent = [
        (index, e)
        for index, e in enumerate(household_events)
        if isinstance(e, Fill)
        and e.side is Side.BUY
        and rules.identical(e.symbol, symbol)
        and timedelta(0) <= day - e.day <= WINDOW
    ]
    replacements: tuple[Replacement, ...] = ()
    if selling is None:
        buys = sorted((e for _, e in recent if e.fill_id not in excluded), key=lambda f: f.day)
    else:
        sold: dict[str, Decimal] = {}
        for r in selling:
            if r.buy_fill_id:
                sold[r.buy_fill_id] = sold.get(r.buy_fill_id, ZERO) + r.qty
        candidates = [
            (e.fill_id or f"#{index}", e, e.qty - sold.get(e.fill_id, ZERO) if e.fill_id else e.qty)
            for index, e in recent
        ]
        replacements = match_replacements(selling, candidates, rules)
        buys = list({id(m.buy): m.buy for m in replacements}.values())
        buys.sort(key=lambda f: f.day)
    if not buys:
        return LossSaleRisk(symbol, day)
    return LossSaleRisk(
        symbol,
        day,
        tuple(buys),
        max(f.day for f in buys) + WINDOW + timedelta(days=1),
        any(rules.is_sheltered(f.account) for f in buys),
        replacements,
    )
