"""Tax lots as pure data: opening lots from fills, relieving them on sales, reconciling against the broker.

Why lots and not average cost: US capital-gains tax is computed per lot (IRS Publication 550). A sale's
realised gain, whether it is short or long term, and whether a loss is washed all depend on *which* shares
were sold, when they were acquired and what their (possibly wash-adjusted) basis is. The broker's position
only carries an average cost, so the bot keeps its own ledger, built from the broker's FILL activities.

Relief methods: FIFO is the IRS default and the only method Alpaca applies (it has no per-order lot
selection), so an Alpaca account must be modelled as FIFO or every estimate would be wrong. HIFO, minimum-tax
and specific-lot exist for brokers that let the seller choose.

Everything here is ``Decimal`` and frozen; nothing reads a clock or does I/O (the backtester replays it).
Basis is carried unrounded (exact pro-rata splits of a partial lot); round only when reporting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from strategies.money import as_decimal
from strategies.portfolio import Side

ZERO = Decimal(0)


class Term(StrEnum):
    SHORT = "short"
    LONG = "long"


class ReliefMethod(StrEnum):
    """Which lots a sale consumes first."""

    FIFO = "fifo"
    HIFO = "hifo"
    MIN_TAX = "min_tax"
    SPECIFIC = "specific"


def long_term_from(holding_start: date) -> date:
    """The first sale date on which shares whose holding period counts from ``holding_start`` are long term.

    The one rule every caller uses (relief order, the planner's wait for long term, reports). Pub 550: the
    holding period starts the day AFTER acquisition and a position is long term only if held MORE than one
    year; it is counted in calendar months (Rev. Rul. 66-7). So the year is counted from the day after:
    bought 2023-03-15 -> counting from 2023-03-16 -> long term from 2024-03-16 (2024-03-15 is exactly one
    year: short). For a purchase on the last day of a month each holding month ends on the last day of a
    later month, which is what counting from the day after (the 1st) gives: bought 2023-02-28 -> held exactly
    one year on 2024-02-29 (short) -> long term from 2024-03-01. A plain anniversary (2024-02-28) would call
    the 2024-02-29 sale long term. A day after that does not exist a year later is 29 February: the year ends
    on the 28th, so long term from 1 March (bought 2024-02-28 or 2024-02-29 -> long term from 2025-03-01).
    """
    start = holding_start + timedelta(days=1)
    try:
        return start.replace(year=start.year + 1)
    except ValueError:  # counting from 29 February: the next year has none
        return date(start.year + 1, 3, 1)


def holding_term(holding_start: date, sold: date) -> Term:
    """Long term only when held MORE than one year (Pub 550): from :func:`long_term_from` on.

    Shares bought 2024-01-10 are long term when sold on 2025-01-11 or later; a sale on 2025-01-10 is still
    short term. Shares bought 2023-02-28 sold 2024-02-29 are short term (held exactly one year).
    """
    return Term.LONG if sold >= long_term_from(holding_start) else Term.SHORT


@dataclass(frozen=True)
class Fill:
    """One execution, in any account of the household: what a broker FILL activity says, typed."""

    account: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    day: date
    fill_id: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "side", Side(self.side))
        object.__setattr__(self, "qty", as_decimal(self.qty))
        object.__setattr__(self, "price", as_decimal(self.price))
        if self.qty <= 0:
            raise ValueError(f"fill {self.fill_id or self.symbol}: quantity must be positive, got {self.qty}")
        if self.price < 0:
            raise ValueError(f"fill {self.fill_id or self.symbol}: negative price {self.price}")


# US equity trades happen between 04:00 and 20:00 New York time. UTC-5 gives the New York trade date for
# every instant in that range in both EST and EDT without a tz database (which would be a file read).
_TRADE_DATE_OFFSET = timedelta(hours=5)


def fill_from_activity(account: str, activity: Mapping[str, object]) -> Fill:
    """Type one Alpaca FILL activity (``AlpacaBroker.fill_activities``; the paper broker's starting lots too).

    Fields used: ``id``, ``symbol``, ``side``, ``qty``, ``price``, ``transaction_time`` (ISO, UTC). A
    ``sell_short`` side is refused: the rebalancer is long-only, and a short would need its own lot rules.
    """
    side = str(activity["side"]).lower()
    if side not in (Side.BUY, Side.SELL):
        raise ValueError(f"activity {activity.get('id')}: unsupported side {side!r}")
    stamp = datetime.fromisoformat(str(activity["transaction_time"]).replace("Z", "+00:00"))
    if stamp.utcoffset() is not None:
        stamp = stamp.replace(tzinfo=None) - stamp.utcoffset()  # naive UTC
    return Fill(
        account=account,
        symbol=str(activity["symbol"]),
        side=Side(side),
        qty=Decimal(str(activity["qty"])),
        price=Decimal(str(activity["price"])),
        day=(stamp - _TRADE_DATE_OFFSET).date(),
        fill_id=str(activity.get("id", "")),
    )


@dataclass(frozen=True)
class Lot:
    """Shares bought together: the unit of tax accounting.

    ``adjusted_basis`` is the basis of the WHOLE lot (cost plus any wash-sale loss added to it), not per
    share; it defaults to ``qty * cost_per_share``. ``holding_start`` is the date the holding period is
    counted from: the acquisition date, or earlier when a washed lot's holding period was tacked on.
    ``fill_id`` names the buy that opened the lot: the wash-sale rule matches replacement shares by buy.
    """

    account: str
    symbol: str
    qty: Decimal
    cost_per_share: Decimal
    acquired: date
    adjusted_basis: Decimal | None = None
    holding_start: date | None = None
    lot_id: str = ""
    fill_id: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "qty", as_decimal(self.qty))
        object.__setattr__(self, "cost_per_share", as_decimal(self.cost_per_share))
        if self.adjusted_basis is None:
            object.__setattr__(self, "adjusted_basis", self.qty * self.cost_per_share)
        else:
            object.__setattr__(self, "adjusted_basis", as_decimal(self.adjusted_basis))
        if self.holding_start is None:
            object.__setattr__(self, "holding_start", self.acquired)
        if self.qty <= 0:
            raise ValueError(f"lot {self.lot_id or self.symbol}: quantity must be positive, got {self.qty}")

    @property
    def basis(self) -> Decimal:
        assert self.adjusted_basis is not None
        return self.adjusted_basis

    @property
    def start(self) -> date:
        assert self.holding_start is not None
        return self.holding_start

    @property
    def basis_per_share(self) -> Decimal:
        return self.basis / self.qty

    def split(self, qty: Decimal) -> tuple[Lot, Lot | None]:
        """(the first ``qty`` shares, the rest or None), basis shared pro rata and exactly conserved."""
        if qty <= 0 or qty > self.qty:
            raise ValueError(f"cannot take {qty} shares from lot {self.lot_id} of {self.qty}")
        if qty == self.qty:
            return self, None
        part_basis = self.basis * qty / self.qty
        part = replace(self, qty=qty, adjusted_basis=part_basis)
        rest = replace(self, qty=self.qty - qty, adjusted_basis=self.basis - part_basis)
        return part, rest


@dataclass(frozen=True)
class Realisation:
    """The sale of (part of) one lot: the numbers that go on Form 8949.

    ``gain`` is proceeds minus adjusted basis. ``disallowed`` is the part of a loss the wash-sale rule
    disallows (positive, at most ``-gain``); ``recognised`` is what is reported: ``gain + disallowed``.
    ``permanently_disallowed`` is the part of ``disallowed`` lost for good because the replacement was
    bought in a tax-advantaged account (Rev. Rul. 2008-5). In a tax-advantaged account nothing is taxed.
    """

    account: str
    symbol: str
    qty: Decimal
    sold: date
    proceeds: Decimal
    basis: Decimal
    acquired: date
    holding_start: date
    lot_id: str = ""
    buy_fill_id: str = ""
    sale_fill_id: str = ""
    tax_advantaged: bool = False
    disallowed: Decimal = ZERO
    permanently_disallowed: Decimal = ZERO

    @property
    def term(self) -> Term:
        return holding_term(self.holding_start, self.sold)

    @property
    def gain(self) -> Decimal:
        return self.proceeds - self.basis

    @property
    def recognised(self) -> Decimal:
        return ZERO if self.tax_advantaged else self.gain + self.disallowed

    @property
    def is_loss(self) -> bool:
        return self.gain < 0


@dataclass(frozen=True)
class GainSummary:
    """Recognised gain/loss split by term (long term = held more than one year)."""

    short_term: Decimal = ZERO
    long_term: Decimal = ZERO
    disallowed: Decimal = ZERO
    permanently_disallowed: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.short_term + self.long_term

    @staticmethod
    def of(realisations: Iterable[Realisation]) -> GainSummary:
        st = lt = dis = perm = ZERO
        for r in realisations:
            if r.term is Term.LONG:
                lt += r.recognised
            else:
                st += r.recognised
            dis += r.disallowed
            perm += r.permanently_disallowed
        return GainSummary(st, lt, dis, perm)


@dataclass(frozen=True)
class Relief:
    """What a sale did: the realisations (one per lot touched, in relief order) and the lots left."""

    realisations: tuple[Realisation, ...]
    remaining: tuple[Lot, ...]
    unmatched_qty: Decimal = ZERO

    @property
    def summary(self) -> GainSummary:
        return GainSummary.of(self.realisations)


def _fifo_key(indexed: tuple[int, Lot]) -> tuple[date, int]:
    return indexed[1].acquired, indexed[0]


def relief_order(
    lots: Sequence[Lot], method: ReliefMethod, *, price: Decimal = ZERO, sold: date | None = None
) -> list[Lot]:
    """The lots of one symbol in the order ``method`` sells them (ties broken FIFO, then ledger order).

    FIFO: oldest acquisition first (Alpaca, IRS default; the *acquisition* date, not a tacked holding start).
    HIFO: highest adjusted basis per share first: the smallest gain or largest loss per share sold.
    MIN_TAX: short-term losses, long-term losses, long-term gains, short-term gains; within each class the
    largest loss / smallest gain per share first. It needs the sale ``price`` and date.
    """
    indexed = sorted(enumerate(lots), key=_fifo_key)
    if method is ReliefMethod.FIFO:
        return [lot for _, lot in indexed]
    if method is ReliefMethod.HIFO:
        return [lot for _, lot in sorted(indexed, key=lambda il: -il[1].basis_per_share)]
    if method is ReliefMethod.MIN_TAX:
        if sold is None:
            raise ValueError("minimum-tax relief needs the sale date")

        def rank(il: tuple[int, Lot]) -> tuple[int, Decimal]:
            lot = il[1]
            gain_per_share = price - lot.basis_per_share
            long = holding_term(lot.start, sold) is Term.LONG
            cls = (1 if long else 0) if gain_per_share < 0 else (2 if long else 3)
            return cls, gain_per_share

        return [lot for _, lot in sorted(indexed, key=rank)]
    raise ValueError("specific-lot relief takes explicit selections, not an order")


def relieve(
    lots: Sequence[Lot],
    account: str,
    symbol: str,
    qty: Decimal,
    price: Decimal,
    sold: date,
    method: ReliefMethod = ReliefMethod.FIFO,
    *,
    selections: Sequence[tuple[str, Decimal]] = (),
    sale_fill_id: str = "",
    tax_advantaged: bool = False,
    strict: bool = True,
) -> Relief:
    """Sell ``qty`` shares of ``symbol`` from ``account`` at ``price``; other lots pass through untouched.

    Partial lots are split pro rata (basis exactly conserved). ``selections`` ((lot_id, qty), ...) drive
    SPECIFIC relief and must add up to ``qty``. With ``strict`` a sale of more shares than the ledger holds
    raises; otherwise the shortfall is returned as ``unmatched_qty`` (the ledger is missing history, which
    reconciliation reports).
    """
    qty, price = as_decimal(qty), as_decimal(price)
    if qty <= 0:
        raise ValueError(f"sell of {symbol}: quantity must be positive, got {qty}")
    mine = [lot for lot in lots if lot.account == account and lot.symbol == symbol]
    others = [lot for lot in lots if not (lot.account == account and lot.symbol == symbol)]
    if method is ReliefMethod.SPECIFIC:
        plan = _specific_plan(mine, qty, selections)
    else:
        plan = []
        left = qty
        for lot in relief_order(mine, method, price=price, sold=sold):
            if left <= 0:
                break
            take = min(left, lot.qty)
            plan.append((lot, take))
            left -= take
    realisations: list[Realisation] = []
    touched: dict[int, Lot | None] = {}
    sold_qty = ZERO
    for lot, take in plan:
        part, rest = lot.split(take)
        touched[id(lot)] = rest
        sold_qty += take
        realisations.append(
            Realisation(
                account=account,
                symbol=symbol,
                qty=take,
                sold=sold,
                proceeds=take * price,
                basis=part.basis,
                acquired=lot.acquired,
                holding_start=lot.start,
                lot_id=lot.lot_id,
                buy_fill_id=lot.fill_id,
                sale_fill_id=sale_fill_id,
                tax_advantaged=tax_advantaged,
            )
        )
    unmatched = qty - sold_qty
    if unmatched > 0 and strict:
        held = sum((lot.qty for lot in mine), start=ZERO)
        raise ValueError(f"sell of {qty} {symbol} in {account}: the ledger holds only {held}")
    remaining_mine = [touched.get(id(lot), lot) for lot in mine]
    remaining = tuple(others) + tuple(lot for lot in remaining_mine if lot is not None)
    return Relief(tuple(realisations), remaining, unmatched)


def _specific_plan(
    mine: Sequence[Lot], qty: Decimal, selections: Sequence[tuple[str, Decimal]]
) -> list[tuple[Lot, Decimal]]:
    by_id = {lot.lot_id: lot for lot in mine}
    plan: list[tuple[Lot, Decimal]] = []
    for lot_id, take in selections:
        lot = by_id.get(lot_id)
        if lot is None:
            raise ValueError(f"specific-lot relief: no open lot {lot_id!r}")
        take = as_decimal(take)
        if take <= 0 or take > lot.qty:
            raise ValueError(f"specific-lot relief: cannot take {take} from lot {lot_id!r} of {lot.qty}")
        plan.append((lot, take))
    if sum((t for _, t in plan), start=ZERO) != qty:
        raise ValueError(f"specific-lot relief: selections must add up to the {qty} shares sold")
    return plan


def open_lot(fill: Fill) -> Lot:
    """A buy opens one lot at its price (fees: Alpaca charges none on equities)."""
    if fill.side is not Side.BUY:
        raise ValueError(f"fill {fill.fill_id}: only a buy opens a lot")
    return Lot(
        account=fill.account,
        symbol=fill.symbol,
        qty=fill.qty,
        cost_per_share=fill.price,
        acquired=fill.day,
        lot_id=fill.fill_id,
        fill_id=fill.fill_id,
    )


def chronological(fills: Iterable[Fill]) -> list[Fill]:
    """By trade date; fills of one day keep their given order (the broker's activity order)."""
    return sorted(fills, key=lambda f: f.day)


@dataclass(frozen=True)
class Ledger:
    """Open lots, every realisation so far, and sells the ledger could not match (missing history)."""

    lots: tuple[Lot, ...] = ()
    realisations: tuple[Realisation, ...] = ()
    unmatched_sells: tuple[tuple[Fill, Decimal], ...] = ()

    def lots_of(self, account: str, symbol: str | None = None) -> tuple[Lot, ...]:
        return tuple(
            lot for lot in self.lots if lot.account == account and (symbol is None or lot.symbol == symbol)
        )

    def quantities(self) -> dict[tuple[str, str], Decimal]:
        """(account, symbol) -> shares held per the ledger."""
        out: dict[tuple[str, str], Decimal] = {}
        for lot in self.lots:
            key = (lot.account, lot.symbol)
            out[key] = out.get(key, ZERO) + lot.qty
        return out


def build_ledger(
    fills: Iterable[Fill],
    methods: Mapping[str, ReliefMethod] | None = None,
    *,
    tax_advantaged: Iterable[str] = (),
    default_method: ReliefMethod = ReliefMethod.FIFO,
) -> Ledger:
    """Replay fills in trade-date order: buys open lots, sells relieve them by the account's method.

    No wash-sale adjustment here (see :func:`strategies.tax.wash_sale.build_household_ledger`, which does
    the same replay across the household with the wash-sale rule applied). SPECIFIC is not replayable from
    fills (they do not say which lot was chosen), so it is refused as an account method.
    """
    methods = dict(methods or {})
    sheltered = frozenset(tax_advantaged)
    lots: tuple[Lot, ...] = ()
    realised: list[Realisation] = []
    unmatched: list[tuple[Fill, Decimal]] = []
    for fill in chronological(fills):
        if fill.side is Side.BUY:
            lots = (*lots, open_lot(fill))
            continue
        relief = replay_sale(
            lots, fill, methods.get(fill.account, default_method), fill.fill_id, fill.account in sheltered
        )
        lots = relief.remaining
        realised += relief.realisations
        if relief.unmatched_qty > 0:
            unmatched.append((fill, relief.unmatched_qty))
    return Ledger(lots, tuple(realised), tuple(unmatched))


def replay_sale(
    lots: tuple[Lot, ...], fill: Fill, method: ReliefMethod, sale_fill_id: str | None, tax_advantaged: bool
) -> Relief:
    """Relieve ``lots`` for a past sale ``fill`` as its account's broker did. Not strict: a sale the ledger
    cannot cover is reported as unmatched quantity (a reconciliation matter), not an error. Specific-lot
    relief is refused: which lots were named is not in the fills."""
    if method is ReliefMethod.SPECIFIC:
        raise ValueError(f"account {fill.account}: specific-lot relief cannot be replayed from fills")
    return relieve(
        lots,
        fill.account,
        fill.symbol,
        fill.qty,
        fill.price,
        fill.day,
        method,
        sale_fill_id=sale_fill_id,
        tax_advantaged=tax_advantaged,
        strict=False,
    )


@dataclass(frozen=True)
class Mismatch:
    """A symbol whose ledger quantity differs from the broker's position: the ledger cannot be trusted."""

    account: str
    symbol: str
    ledger_qty: Decimal
    broker_qty: Decimal

    @property
    def difference(self) -> Decimal:
        """Broker minus ledger: positive means the ledger is missing buys (e.g. history before ``after``)."""
        return self.broker_qty - self.ledger_qty

    def describe(self) -> str:
        return (
            f"{self.account} {self.symbol}: ledger {self.ledger_qty} vs broker {self.broker_qty}"
            f" ({self.difference:+})"
        )


def reconcile(
    ledger: Ledger | Sequence[Lot],
    broker_positions: Mapping[str, Mapping[str, Decimal]],
    *,
    tolerance: Decimal = ZERO,
) -> tuple[Mismatch, ...]:
    """Compare ledger quantities with the broker's (account -> symbol -> qty); list every difference.

    Only accounts present in ``broker_positions`` are checked (an account not read is not "empty").
    Sorted by account then symbol so the report is stable.
    """
    lots = ledger.lots if isinstance(ledger, Ledger) else tuple(ledger)
    held: dict[tuple[str, str], Decimal] = {}
    for lot in lots:
        held[(lot.account, lot.symbol)] = held.get((lot.account, lot.symbol), ZERO) + lot.qty
    keys = {k for k in held if k[0] in broker_positions}
    keys |= {(a, s) for a, positions in broker_positions.items() for s, q in positions.items() if q != 0}
    out = []
    for account, symbol in sorted(keys):
        ours = held.get((account, symbol), ZERO)
        theirs = as_decimal(broker_positions.get(account, {}).get(symbol, ZERO))
        if abs(theirs - ours) > tolerance:
            out.append(Mismatch(account, symbol, ours, theirs))
    return tuple(out)
