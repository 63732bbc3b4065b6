"""Tax-aware planning: turn the planner's plan into one that realises as little tax as the bands allow.

Why a layer after the planner rather than inside it: the planner decides *how much* of each asset to trade
(the rebalancing arithmetic, shared by every account type); which *lots* and which *security* carry that
trade is a tax question that depends on the lot ledger, the household's recent trades and the account type.
The bot and the backtester call the same functions, in this order::

    folded = fold_substitutes(snapshot, targets, settings)          # substitutes count as their sleeve
    plan = plan_rebalance(folded, targets, bands, planner_settings)  # or plan_cash_flow, any RebalancePlan
    taxed = plan_tax_aware(plan, snapshot, lots, day, settings, account=..., household_events=...)
    taxed.plan            # the executable RebalancePlan (real symbols), explain() says what tax changed
    taxed.taxed_orders    # every sell with its realised ST/LT gain and estimated tax
    taxed.lot_selections  # the lots each sell relieves (what a specific-lot broker must be told)

**Sleeves.** ``TaxSettings.substitutes`` groups securities that fill the same slot of the allocation but are
NOT substantially identical (e.g. VTI / ITOT / SCHB track different indexes). The first of a group is the
*primary* (the symbol in the targets); the others are what a harvest switches into, or what is bought while
the primary is blocked by the wash-sale rule. :func:`fold_substitutes` shows the planner a sleeve as its
primary (substitute shares converted at mid prices), so holding ITOT instead of VTI is not a drift.

**What plan_tax_aware changes, and why** (each change is in ``decisions`` and in the orders' reasons):

1. *Which lots.* A sleeve's sell is spread over its symbols lot by lot, cheapest tax per dollar first (largest
   loss first, then smallest gain), each symbol's lots in the account's relief order (FIFO at Alpaca: a sale
   cannot skip a lot, only choose between symbols of the sleeve).
2. *Gains only into the band* (``gains_to_band_edge``). The part of a sell needed to bring a breaching asset
   back to ``gain_band_fraction`` of its band from target (1: just inside the edge; default 0.5, half-way, so
   that it does not breach again at the next wiggle) is *mandatory*. The rest (to target, or a funding sell of
   an asset still in its band) is *discretionary*: it is sold only from lots that realise a loss or nothing.
   Proceeds lost that way are replaced by loss lots of other overweight sleeves; if the buys that are
   themselves mandatory (the same point on the underweight side) are still short, the cheapest gain lots pay
   for them. Discretionary buys shrink with the proceeds. The result stays inside the bands: it just does
   not pay tax to get further than that.
3. *Waiting for long term.* A mandatory sell stops at a short-term gain lot that turns long term within
   ``defer_long_term_days`` while the asset is still inside the outer band (``outer_band`` times its band):
   waiting a few days turns a short-term rate into a long-term one. Outside the outer band it sells.
4. *Wash sales, 30 days before.* A lot whose sale would realise a loss is not sold while a substantially
   identical security was bought in the 30 days before (any account of the household): the loss would be
   disallowed (permanently if the buy was in an IRA). The symbol is deferred; other symbols may be sold.
5. *Wash sales, 30 days after.* A buy of a symbol blocked by a loss sale in the 30 days before (any account,
   this plan's own loss sales included) goes to the first unblocked member of its sleeve; with none, the buy
   is dropped. This applies to tax-advantaged accounts too: an IRA buy would make the loss permanent.
6. *Tax-advantaged accounts* (IRA, Roth, 401k, HSA): every tax is zero, so only the security choice (5) and
   the sleeve mapping apply; sizes are the planner's.

**Inputs the caller assembles** (the live bot from its state, the backtester from its own ledger):
``lots``: the account's open lots, from ``build_household_ledger`` over the household's fill activities (so
wash-sale basis adjustments are in); ``household_events``: every account's buys (``Fill``) and realisations
of the last 31 days at least (older ones are ignored by the rules); ``settings``: :class:`TaxSettings` for
this account (``bot.config`` maps the YAML ``tax`` section onto it).

Conventions: ``Decimal`` money, no I/O, no clock (``day`` is passed in). Estimated taxes use
:class:`~strategies.tax.estimate.TaxRates` and are signed (a loss is a saving), as in ``estimate.py``.
SPECIFIC relief is planned with the minimum-tax order (the broker must then be told which lots).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum

from strategies.formatting import pp, usd
from strategies.money import QTY_STEP, as_decimal, floor_cents, floor_quantity, to_cents
from strategies.plan import PlannedOrder, RebalancePlan, SkippedTrade
from strategies.planner import BAND_EDGE_INSET, PlannerSettings, weights_after
from strategies.portfolio import (
    OpenOrder,
    PortfolioSnapshot,
    Side,
    apply_open_orders,
    current_weights,
    open_sides,
    order_price,
    sellable_quantity,
)
from strategies.targets import CASH, TargetAllocation
from strategies.tax.estimate import TaxedOrder, TaxRates, annotate_orders, plan_tax
from strategies.tax.lots import (
    ZERO,
    Fill,
    GainSummary,
    Lot,
    Realisation,
    ReliefMethod,
    Term,
    holding_term,
    long_term_from,
    relief_order,
)
from strategies.tax.wash_sale import WashSaleRules, blocked_purchases, loss_sale_risk

ONE = Decimal(1)


class AccountType(StrEnum):
    """What kind of account: only ``taxable`` pays capital-gains tax."""

    TAXABLE = "taxable"
    IRA = "ira"
    ROTH = "roth"
    K401 = "401k"
    HSA = "hsa"

    @property
    def tax_advantaged(self) -> bool:
        return self is not AccountType.TAXABLE


@dataclass(frozen=True)
class HarvestSettings:
    """Tax-loss harvesting thresholds (see :mod:`strategies.tax.harvest`).

    A position is harvested when its loss is at least ``min_loss`` dollars AND at least ``min_loss_fraction``
    of the basis sold (both, so neither a big position with a tiny percentage nor a tiny one with a big
    percentage churns). A substitute is switched back to its primary after the wash-sale window when the
    switch realises at most ``switch_back_max_gain`` (0: only when it costs no tax).
    """

    enabled: bool = False
    min_loss: Decimal = Decimal("1000")
    min_loss_fraction: Decimal = Decimal("0.05")
    switch_back: bool = True
    switch_back_max_gain: Decimal = ZERO

    def __post_init__(self) -> None:
        for name in ("min_loss", "min_loss_fraction", "switch_back_max_gain"):
            object.__setattr__(self, name, as_decimal(getattr(self, name)))
        if self.min_loss < 0 or not ZERO <= self.min_loss_fraction < ONE:
            raise ValueError("harvest thresholds: min_loss >= 0 and 0 <= min_loss_fraction < 1")


@dataclass(frozen=True)
class TaxSettings:
    """Everything the tax layer needs for one account, from plain values (lists, strings, floats are fine).

    ``substitutes``: sleeves, primary first, e.g. ``[["VTI", "ITOT", "SCHB"], ["AGG", "BND"]]``.
    ``identical``: substantially identical groups for the wash-sale rule, e.g. ``[["SPY", "IVV", "VOO"]]``;
    members of one sleeve must not be identical to each other (a harvest into them would be a wash sale).
    ``household_tax_advantaged``: names of the household's sheltered accounts (their buys wash for good).
    ``outer_band``: multiple of an asset's band inside which a sale may wait for long-term treatment.
    """

    rates: TaxRates = TaxRates(Decimal("0.35"), Decimal("0.15"))
    account_type: AccountType = AccountType.TAXABLE
    relief_method: ReliefMethod = ReliefMethod.FIFO
    substitutes: tuple[tuple[str, ...], ...] = ()
    identical: tuple[frozenset[str], ...] = ()
    household_tax_advantaged: frozenset[str] = frozenset()
    gains_to_band_edge: bool = True
    gain_band_fraction: Decimal = Decimal("0.5")
    """Where a trade that realises gains stops, as a fraction of the band from target: 1 = just inside the
    band edge (least tax now, but the asset sits at the edge and breaches again soon), 0.5 = half-way."""
    defer_long_term_days: int = 30
    outer_band: Decimal = Decimal("1.5")
    harvest: HarvestSettings = HarvestSettings()

    def __post_init__(self) -> None:
        if not isinstance(self.rates, TaxRates):
            short, long = self.rates  # type: ignore[misc]
            object.__setattr__(self, "rates", TaxRates(as_decimal(short), as_decimal(long)))
        object.__setattr__(self, "account_type", AccountType(self.account_type))
        object.__setattr__(self, "relief_method", ReliefMethod(self.relief_method))
        object.__setattr__(self, "substitutes", tuple(tuple(s.upper() for s in g) for g in self.substitutes))
        object.__setattr__(self, "identical", tuple(frozenset(s.upper() for s in g) for g in self.identical))
        object.__setattr__(self, "household_tax_advantaged", frozenset(self.household_tax_advantaged))
        object.__setattr__(self, "outer_band", as_decimal(self.outer_band))
        object.__setattr__(self, "gain_band_fraction", as_decimal(self.gain_band_fraction))
        if not ZERO < self.gain_band_fraction <= ONE:
            raise ValueError(f"gain_band_fraction must be in (0, 1], got {self.gain_band_fraction}")
        if isinstance(self.harvest, Mapping):
            object.__setattr__(self, "harvest", HarvestSettings(**self.harvest))
        seen: set[str] = set()
        for group in self.substitutes:
            if len(group) < 2 or len(set(group)) != len(group):
                raise ValueError(f"substitute group {list(group)} needs two or more distinct symbols")
            if seen & set(group):
                raise ValueError(f"{sorted(seen & set(group))} in two substitute groups")
            seen |= set(group)
        rules = self.rules()  # validates the identical groups
        for group in self.substitutes:
            for i, a in enumerate(group):
                for b in group[i + 1 :]:
                    if rules.identical(a, b):
                        raise ValueError(f"{a} and {b} are substantially identical: they cannot substitute")
        if self.defer_long_term_days < 0 or self.outer_band < ONE:
            raise ValueError("defer_long_term_days must be >= 0 and outer_band >= 1")

    @property
    def tax_advantaged(self) -> bool:
        return self.account_type.tax_advantaged

    @property
    def effective_rates(self) -> TaxRates:
        """The configured rates in a taxable account, zero in a tax-advantaged one."""
        return TaxRates(ZERO, ZERO) if self.tax_advantaged else self.rates

    def rules(self, account: str | None = None) -> WashSaleRules:
        """The household's wash-sale rules (this account counts as sheltered when it is)."""
        sheltered = set(self.household_tax_advantaged)
        if account is not None and self.tax_advantaged:
            sheltered.add(account)
        return WashSaleRules(groups=self.identical, tax_advantaged=frozenset(sheltered))

    def sleeve(self, symbol: str) -> tuple[str, ...]:
        """The sleeve ``symbol`` belongs to, primary first (a symbol alone when it has no substitutes)."""
        return next((g for g in self.substitutes if symbol in g), (symbol,))

    def primary(self, symbol: str) -> str:
        return self.sleeve(symbol)[0]


# -- folding substitutes into their sleeve -------------------------------------------------------------------


def fold_substitutes(
    snapshot: PortfolioSnapshot, targets: TargetAllocation, settings: TaxSettings
) -> PortfolioSnapshot:
    """The snapshot as the planner should see it: every substitute's shares (and open orders) converted to
    its sleeve's primary at mid prices, so a harvested position is not a drift to be "fixed".

    Only sleeves whose primary is a target (with a price) are folded; other symbols pass through.
    """
    conversions: dict[str, tuple[str, Decimal]] = {}
    for group in settings.substitutes:
        primary = group[0]
        if targets.weight(primary) <= 0 or primary not in snapshot.prices:
            continue
        for symbol in group[1:]:
            if symbol in snapshot.prices:
                conversions[symbol] = (primary, snapshot.prices[symbol] / snapshot.prices[primary])
    if not conversions:
        return snapshot
    positions: dict[str, Decimal] = {}
    for symbol, qty in snapshot.positions.items():
        target, ratio = conversions.get(symbol, (symbol, ONE))
        positions[target] = positions.get(target, ZERO) + qty * ratio
    orders = []
    for order in snapshot.open_orders:
        if order.symbol in conversions:
            primary, ratio = conversions[order.symbol]
            qty = order.qty * ratio if order.qty is not None else None
            order = OpenOrder(primary, order.side, qty, order.notional)
        orders.append(order)
    keep = set(conversions)
    return replace(
        snapshot,
        positions=positions,
        open_orders=tuple(orders),
        prices={s: p for s, p in snapshot.prices.items() if s not in keep},
        bids={s: p for s, p in snapshot.bids.items() if s not in keep},
        asks={s: p for s, p in snapshot.asks.items() if s not in keep},
    )


# -- the result --------------------------------------------------------------------------------


class Action(StrEnum):
    """Kinds of change the tax layer makes to a plan."""

    TRIMMED = "trimmed"
    """a sell cut to the band edge because selling further would realise gains"""
    WAITING = "waiting"
    """a sell held back for a short-term lot to turn long term"""
    WASH_DEFERRED = "wash_deferred"
    """a loss sale held back: a substantially identical buy in the 30 days before would wash it"""
    LOSS_FUNDED = "loss_funded"
    """an overweight asset sold at a loss to fund buys instead of gains"""
    GAIN_FUNDED = "gain_funded"
    """the cheapest gains sold to pay for buys that are needed to restore a band"""
    SUBSTITUTED = "substituted"
    """a buy moved to a substitute because the primary is blocked by the wash-sale rule"""
    DROPPED = "dropped"
    """a buy dropped: every member of its sleeve is blocked"""
    SCALED = "scaled"
    """buys reduced to the proceeds the tax-aware sells raise"""


@dataclass(frozen=True)
class TaxDecision:
    """One change and why (the plan's explain convention: every decision says why)."""

    symbol: str
    action: Action
    reason: str

    def describe(self) -> str:
        return f"{self.symbol}: {self.action.value}: {self.reason}"


@dataclass(frozen=True)
class TaxAwarePlan:
    """The executable plan, what the planner wanted, each sell's tax and every change with its reason."""

    plan: RebalancePlan
    original: RebalancePlan
    taxed_orders: tuple[TaxedOrder, ...]
    decisions: tuple[TaxDecision, ...] = ()
    waiting_until: date | None = None
    """Earliest day a deferred sale becomes cheaper (a lot turns long term / a wash window closes)."""
    lot_selections: Mapping[str, tuple[tuple[str, Decimal], ...]] = field(default_factory=dict)
    """Per sold symbol, the (lot_id, qty) the sell relieves, in order: what a broker with specific-lot
    relief must be told (under FIFO/HIFO/min-tax it is what the broker's own method will pick)."""

    @property
    def estimated_tax(self) -> Decimal:
        return plan_tax(self.taxed_orders)

    @property
    def summary(self) -> GainSummary:
        st = sum((t.short_term_gain for t in self.taxed_orders), start=ZERO)
        lt = sum((t.long_term_gain for t in self.taxed_orders), start=ZERO)
        return GainSummary(st, lt)

    def decisions_of(self, action: Action) -> tuple[TaxDecision, ...]:
        return tuple(d for d in self.decisions if d.action is action)

    def explain(self) -> str:
        lines = [self.plan.explain()]
        sells = [t for t in self.taxed_orders if t.estimate is not None]
        if sells:
            lines.append("Tax of the sells:")
            lines += [f"  {t.describe()}" for t in sells]
            s = self.summary
            lines.append(
                f"  total realised {usd(s.total)} (ST {usd(s.short_term)}, LT {usd(s.long_term)}),"
                f" est. tax {usd(self.estimated_tax)}"
            )
        if self.decisions:
            lines.append("Tax-aware changes:")
            lines += [f"  {d.describe()}" for d in self.decisions]
        return "\n".join(lines)


# -- lots as sellable chunks ---------------------------------------------------------------------------------


@dataclass
class _Queue:
    """One symbol's lots in relief order, consumed from the front."""

    symbol: str
    price: Decimal
    lots: list[list]  # [lot, qty left]
    blocked: str = ""
    taken: Decimal = ZERO

    def head(self) -> tuple[Lot, Decimal] | None:
        while self.lots and self.lots[0][1] <= 0:
            self.lots.pop(0)
        return (self.lots[0][0], self.lots[0][1]) if self.lots else None


@dataclass
class _Sleeve:
    """A sleeve's sellable lots across its symbols, and what has been taken from it."""

    name: str
    queues: list[_Queue]
    proceeds: Decimal = ZERO
    gain: Decimal = ZERO
    taxed: Decimal = ZERO
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Context:
    day: date
    account: str
    settings: TaxSettings
    rates: TaxRates
    rules: WashSaleRules
    events: tuple[Realisation | Fill, ...]
    row_drift: Mapping[str, Decimal]
    row_band: Mapping[str, Decimal | None]


def _chunk_tax(lot: Lot, qty: Decimal, price: Decimal, ctx: _Context) -> tuple[Decimal, Term]:
    gain = qty * price - lot.basis * qty / lot.qty
    term = holding_term(lot.start, ctx.day)
    rate = ctx.rates.long_term if term is Term.LONG else ctx.rates.short_term
    return gain * rate, term


def _waiting_reason(sleeve: str, lot: Lot, price: Decimal, ctx: _Context) -> tuple[str, date] | None:
    """Why the head lot should wait for long-term treatment, or None."""
    settings = ctx.settings
    if settings.tax_advantaged or settings.defer_long_term_days <= 0 or price <= lot.basis_per_share:
        return None
    if holding_term(lot.start, ctx.day) is Term.LONG:
        return None
    turns = long_term_from(lot.start)
    if (turns - ctx.day).days > settings.defer_long_term_days:
        return None
    band, drift = ctx.row_band.get(sleeve), ctx.row_drift.get(sleeve, ZERO)
    if band is None or abs(drift) > settings.outer_band * band:
        return None
    reason = (
        f"lot {lot.lot_id or lot.acquired.isoformat()} ({lot.qty} sh) is a short-term gain that turns long"
        f" term on {turns.isoformat()}; {sleeve} drift {pp(drift)} is inside the outer band"
        f" {pp(settings.outer_band * band)}, so the sale waits"
    )
    return reason, turns


def _wash_reason(queue: _Queue, lot: Lot, ctx: _Context) -> tuple[str, date] | None:
    """Why a loss sale of the head lot would be washed by a recent identical buy, or None."""
    if ctx.settings.tax_advantaged or queue.price >= lot.basis_per_share:
        return None
    risk = loss_sale_risk(ctx.events, queue.symbol, ctx.day, ctx.rules, exclude_fill_ids=(lot.fill_id,))
    if not risk.at_risk:
        return None
    assert risk.defer_until is not None
    return risk.describe(), risk.defer_until


class _Seller:
    """Takes proceeds from sleeves lot by lot, cheapest tax per dollar first, honouring the blocks."""

    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx
        self.decisions: list[TaxDecision] = []
        self.waiting_until: date | None = None
        self.realisations: list[Realisation] = []

    def _block(self, queue: _Queue, action: Action, reason: str, until: date) -> None:
        queue.blocked = reason
        self.decisions.append(TaxDecision(queue.symbol, action, reason))
        self.waiting_until = until if self.waiting_until is None else min(self.waiting_until, until)

    def take(self, sleeve: _Sleeve, amount: Decimal, *, max_tax_per_dollar: Decimal | None = None) -> Decimal:
        """Sell up to ``amount`` dollars from ``sleeve``; only chunks whose tax per dollar is at most
        ``max_tax_per_dollar`` (None: any). Returns the proceeds raised."""
        raised = ZERO
        while amount - raised > Decimal("0.005"):
            best = None
            for queue in reversed(
                sleeve.queues
            ):  # ties go to substitutes: holdings drift back to the primary
                if queue.blocked:
                    continue
                head = queue.head()
                if head is None:
                    continue
                lot, _ = head
                per_dollar = _chunk_tax(lot, ONE, queue.price, self.ctx)[0] / queue.price
                if best is None or per_dollar < best[0]:
                    best = (per_dollar, queue, lot)
            if best is None:
                break
            per_dollar, queue, lot = best
            waiting = _waiting_reason(sleeve.name, lot, queue.price, self.ctx)
            if waiting is not None:
                self._block(queue, Action.WAITING, *waiting)
                continue
            washed = _wash_reason(queue, lot, self.ctx)
            if washed is not None:
                self._block(queue, Action.WASH_DEFERRED, *washed)
                continue
            if max_tax_per_dollar is not None and per_dollar > max_tax_per_dollar:
                break
            left = queue.lots[0][1]
            qty = min(left, (amount - raised) / queue.price)
            queue.lots[0][1] = left - qty
            queue.taken += qty
            tax, _ = _chunk_tax(lot, qty, queue.price, self.ctx)
            proceeds = qty * queue.price
            raised += proceeds
            sleeve.proceeds += proceeds
            sleeve.taxed += tax
            sleeve.gain += proceeds - lot.basis * qty / lot.qty
            if proceeds < lot.basis * qty / lot.qty:
                self.realisations.append(
                    Realisation(
                        self.ctx.account,
                        queue.symbol,
                        qty,
                        self.ctx.day,
                        proceeds,
                        lot.basis * qty / lot.qty,
                        lot.acquired,
                        lot.start,
                        lot.lot_id,
                        lot.fill_id,
                    )  # fmt: skip
                )
        return raised


def _queues(
    sleeve_symbols: Sequence[str],
    snapshot: PortfolioSnapshot,
    lots: Sequence[Lot],
    account: str,
    day: date,
    method: ReliefMethod,
) -> list[_Queue]:
    """Each held symbol's lots in relief order, cut to the sellable quantity; shares the ledger does not
    know are appended as a zero-gain lot (no history: no tax can be estimated for them)."""
    sides = open_sides(snapshot)
    if any(Side.BUY in sides.get(symbol, frozenset()) for symbol in sleeve_symbols):
        return []  # never trade against an open order (the planner's rule), sleeve-wide
    out = []
    for symbol in sleeve_symbols:
        sellable = sellable_quantity(snapshot, symbol)
        if sellable <= 0 or symbol not in snapshot.prices:
            continue
        price = order_price(snapshot, symbol, Side.SELL)
        mine = [lot for lot in lots if lot.account == account and lot.symbol == symbol]
        order_method = ReliefMethod.MIN_TAX if method is ReliefMethod.SPECIFIC else method
        queue: list[list] = []
        left = sellable
        for lot in relief_order(mine, order_method, price=price, sold=day):
            if left <= 0:
                break
            take = min(lot.qty, left)
            queue.append([lot, take])
            left -= take
        if left > 0:
            unknown = Lot(account, symbol, left, price, day, lot_id=f"{symbol}:unknown")
            queue.append([unknown, left])
        out.append(_Queue(symbol, price, queue))
    return out


# -- the planning function --------------------------------------------------------------------------------


def plan_tax_aware(
    plan: RebalancePlan,
    snapshot: PortfolioSnapshot,
    lots: Sequence[Lot],
    day: date,
    settings: TaxSettings,
    *,
    account: str = "taxable",
    household_events: Iterable[Realisation | Fill] = (),
    planner_settings: PlannerSettings = PlannerSettings(),
) -> TaxAwarePlan:
    """The tax-aware version of ``plan`` (see the module docstring for every rule).

    ``plan`` comes from the planner run on :func:`fold_substitutes` of ``snapshot`` (sleeve level);
    ``snapshot`` is the account as it is (real symbols); ``lots`` its open lots (a :class:`Ledger`'s
    ``lots``, other accounts' lots are ignored); ``household_events``: the household's recent buys (``Fill``)
    and realisations, every account, for the wash-sale guards; ``planner_settings`` gives the minimum trade
    and whether fractional orders are allowed.
    """
    events = tuple(household_events)
    rows = {row.symbol: row for row in plan.decision.assets if row.symbol != CASH}
    ctx = _Context(
        day=day,
        account=account,
        settings=settings,
        rates=settings.effective_rates,
        rules=settings.rules(account),
        events=events,
        row_drift={s: r.drift for s, r in rows.items()},
        row_band={s: r.band for s, r in rows.items()},
    )
    if plan.is_empty:
        return TaxAwarePlan(plan, plan, ())
    equity = plan.equity
    projected = apply_open_orders(snapshot)
    folded_values = {s: r.weight * equity for s, r in rows.items()}

    sells = {o.symbol: o.est_notional for o in plan.sells}
    buys = {o.symbol: o.est_notional for o in plan.buys}
    net_cash = sum(buys.values(), start=ZERO) - sum(sells.values(), start=ZERO)
    sleeves: dict[str, _Sleeve] = {}

    def sleeve_of(name: str) -> _Sleeve:
        if name not in sleeves:
            symbols = settings.sleeve(name) if settings.primary(name) == name else (name,)
            sleeves[name] = _Sleeve(
                name, _queues(symbols, snapshot, lots, account, day, settings.relief_method)
            )
        return sleeves[name]

    seller = _Seller(ctx)
    inset = BAND_EDGE_INSET

    # A: mandatory part of each planned sell (back inside the band), then its discretionary part from losses
    trim_gains = settings.gains_to_band_edge and not settings.tax_advantaged
    for name, amount in sorted(sells.items()):
        row = rows.get(name)
        mandatory = amount
        if trim_gains and row is not None and row.band is not None and row.target > 0:
            edge = row.target + max(row.band * settings.gain_band_fraction - inset, ZERO)
            mandatory = min(amount, max(ZERO, (row.weight - edge) * equity)) if row.breached else ZERO
        sleeve = sleeve_of(name)
        seller.take(sleeve, mandatory)
        rest = amount - sleeve.proceeds
        if rest > 0:
            seller.take(sleeve, rest, max_tax_per_dollar=ZERO if trim_gains else None)
        if trim_gains and amount - sleeve.proceeds > Decimal("0.5"):
            kept = amount - sleeve.proceeds
            waited = any(q.blocked for q in sleeve.queues)
            if not waited:
                seller.decisions.append(
                    TaxDecision(
                        name,
                        Action.TRIMMED,
                        f"sold {usd(sleeve.proceeds)} of the planned {usd(amount)}: the other {usd(kept)}"
                        " would realise gains beyond what the band needs",
                    )
                )

    # B: replace trimmed proceeds with loss lots of other overweight sleeves (never one being bought)
    def overweight_capacity(name: str) -> Decimal:
        row = rows[name]
        planned = sells.get(name, ZERO)
        return max(planned, folded_values[name] - row.target * equity) - sleeve_of(name).proceeds

    candidates = [n for n, r in rows.items() if n not in buys and r.drift > 0]
    planned_total = sum(sells.values(), start=ZERO)
    shortfall = planned_total - sum((s.proceeds for s in sleeves.values()), start=ZERO)
    if trim_gains and shortfall > Decimal("0.5"):
        for name in sorted(candidates, key=lambda n: -rows[n].drift):
            if shortfall <= Decimal("0.5"):
                break
            capacity = overweight_capacity(name)
            if capacity <= 0:
                continue
            raised = seller.take(sleeve_of(name), min(capacity, shortfall), max_tax_per_dollar=ZERO)
            if raised > Decimal("0.5"):
                shortfall -= raised
                seller.decisions.append(
                    TaxDecision(
                        name, Action.LOSS_FUNDED, f"sold {usd(raised)} at no gain or a loss to fund the buys"
                    )
                )

    # C: buys that restore a band must be paid for: take the cheapest gains left, any overweight sleeve
    mandatory_buys: dict[str, Decimal] = {}
    for name, amount in buys.items():
        row = rows.get(name)
        if row is None or row.band is None or not row.breached or not trim_gains:
            mandatory_buys[name] = amount
        else:
            edge = row.target - max(row.band * settings.gain_band_fraction - inset, ZERO)
            mandatory_buys[name] = min(amount, max(ZERO, (edge - row.weight) * equity))
    proceeds = sum((s.proceeds for s in sleeves.values()), start=ZERO)
    required = sum(mandatory_buys.values(), start=ZERO) - net_cash
    if required - proceeds > Decimal("0.5"):
        while required - proceeds > Decimal("0.5"):
            options = []
            for name in candidates:
                if overweight_capacity(name) <= Decimal("0.5"):
                    continue
                sleeve = sleeve_of(name)
                for queue in sleeve.queues:
                    head = queue.head()
                    if head is not None and not queue.blocked:
                        per_dollar = _chunk_tax(head[0], ONE, queue.price, ctx)[0] / queue.price
                        options.append((per_dollar, name))
            if not options:
                break
            _, name = min(options)
            sleeve = sleeve_of(name)
            blocked_before = sum(1 for q in sleeve.queues if q.blocked)
            raised = seller.take(sleeve, min(overweight_capacity(name), required - proceeds))
            if raised <= 0:
                if sum(1 for q in sleeve.queues if q.blocked) == blocked_before:
                    candidates.remove(name)
                continue
            proceeds += raised
            seller.decisions.append(
                TaxDecision(
                    name,
                    Action.GAIN_FUNDED,
                    f"sold {usd(raised)} (the cheapest tax left) to pay for buys that restore a band",
                )
            )

    # sells as orders
    decisions = seller.decisions
    orders: list[PlannedOrder] = []
    skipped: list[SkippedTrade] = []
    original_reasons = {o.symbol: o.reason for o in plan.orders}
    selections: dict[str, tuple[tuple[str, Decimal], ...]] = {}
    for name in sorted(sleeves):
        sleeve = sleeves[name]
        for queue in sleeve.queues:
            if queue.taken <= 0:
                continue
            symbol = queue.symbol
            fractional = planner_settings.fractional and snapshot.is_fractionable(symbol)
            sellable = sellable_quantity(snapshot, symbol)
            qty = queue.taken
            qty = (
                sellable if sellable - qty <= QTY_STEP * 1000 else floor_quantity(qty, fractional=fractional)
            )
            est = to_cents(qty * queue.price)
            if qty <= 0 or est < planner_settings.min_trade_notional:
                skipped.append(
                    SkippedTrade(symbol, f"tax-aware sell of ~{usd(est)} is below the minimum trade")
                )
                continue
            reason = original_reasons.get(name) or (rows[name].describe() if name in rows else name)
            if symbol != name:
                reason += f"; sold as {symbol}, the sleeve's cheapest lots"
            notes = [
                d.reason for d in decisions if d.symbol in (name, symbol) and d.action is not Action.WAITING
            ]
            if notes:
                reason += "; tax: " + "; ".join(notes)
            orders.append(PlannedOrder(symbol, Side.SELL, qty, None, queue.price, est, reason))
            selections[symbol] = _selections(
                lots, account, symbol, qty, queue.price, day, settings.relief_method
            )
    for decision in decisions:
        if decision.action in (Action.WAITING, Action.WASH_DEFERRED):
            skipped.append(SkippedTrade(decision.symbol, f"sale deferred: {decision.reason}"))

    # D: buys within the budget, mandatory parts first, each to the first unblocked member of its sleeve
    proceeds = sum((o.est_notional for o in orders), start=ZERO)
    budget = max(ZERO, net_cash + proceeds)
    wanted_total = sum(buys.values(), start=ZERO)
    sizes = dict(buys)
    if budget < wanted_total - Decimal("0.5"):
        mandatory_total = sum(mandatory_buys.values(), start=ZERO)
        if budget <= mandatory_total:
            scale = budget / mandatory_total if mandatory_total > 0 else ZERO
            sizes = {n: mandatory_buys[n] * scale for n in buys}
        else:
            extra = budget - mandatory_total
            optional = {n: buys[n] - mandatory_buys[n] for n in buys}
            total_optional = sum(optional.values(), start=ZERO)
            sizes = {
                n: mandatory_buys[n] + (extra * optional[n] / total_optional if total_optional else ZERO)
                for n in buys
            }
        decisions.append(
            TaxDecision(
                ", ".join(sorted(buys)),
                Action.SCALED,
                f"buys cut from {usd(wanted_total)} to {usd(budget)}: the tax-aware sells raise less",
            )
        )
    own_losses = tuple(seller.realisations)
    sides = open_sides(snapshot)
    for name in sorted(sizes):
        spend = sizes[name]
        reason = original_reasons.get(name, name)
        chosen = None
        blocks_seen = []
        members = settings.sleeve(name) if settings.primary(name) == name else (name,)
        if any(Side.SELL in sides.get(symbol, frozenset()) for symbol in members):
            members = ()  # the planner's rule, sleeve-wide: never buy against an open sell
            blocks_seen.append(f"a sell order in the {name} sleeve is still open")
        for symbol in members:
            if symbol not in snapshot.prices:
                continue
            blocks = blocked_purchases((*events, *own_losses), symbol, day, ctx.rules, account=account)
            if blocks:
                blocks_seen.append(blocks[0].describe())
                continue
            chosen = symbol
            break
        if chosen is None:
            why = "; ".join(blocks_seen) or "no price for any member of the sleeve"
            decisions.append(TaxDecision(name, Action.DROPPED, why))
            skipped.append(SkippedTrade(name, f"buy of ~{usd(spend)} dropped: {why}"))
            continue
        if chosen != name:
            why = "; ".join(blocks_seen) or f"no price for {name}"
            decisions.append(TaxDecision(name, Action.SUBSTITUTED, f"bought {chosen} instead: {why}"))
            reason += f"; bought as {chosen} ({why})"
        order = _size_buy(snapshot, chosen, spend, reason, planner_settings)
        (orders if isinstance(order, PlannedOrder) else skipped).append(order)

    sells_out = [o for o in orders if o.side is Side.SELL]
    buys_out = [o for o in orders if o.side is Side.BUY]
    final = (*sells_out, *buys_out)
    cash_after = (
        projected.cash
        + sum((o.est_notional for o in sells_out), start=ZERO)
        - sum((o.est_notional for o in buys_out), start=ZERO)
    )
    new_plan = RebalancePlan(
        decision=plan.decision,
        equity=equity,
        orders=final,
        skipped=(*plan.skipped, *skipped),
        weights_before=current_weights(projected),
        weights_after=weights_after(projected, final, cash_after),
        cash_after=cash_after,
    )
    taxed = tax_of_orders(final, lots, day, settings, account=account, household_events=events)
    return TaxAwarePlan(new_plan, plan, taxed, tuple(decisions), seller.waiting_until, selections)


def tax_of_orders(
    orders: Sequence[PlannedOrder],
    lots: Sequence[Lot],
    day: date,
    settings: TaxSettings,
    *,
    account: str,
    household_events: Iterable[Realisation | Fill] = (),
) -> tuple[TaxedOrder, ...]:
    """Each order with what its sell realises and its estimated tax, as the planner counts it: the
    account's relief order (specific-lot relief planned as minimum tax), its rates (0 when tax-advantaged),
    losses matched against the household's recent buys as the ledger will match them.

    The one estimate of a plan's tax: the plan's explanation, the approval prompt, the approval policy's
    ``max_estimated_tax`` and ``rebalance-bot taxes`` all show this result, stored with the plan."""
    method = (
        ReliefMethod.MIN_TAX if settings.relief_method is ReliefMethod.SPECIFIC else settings.relief_method
    )
    return annotate_orders(
        orders,
        lots,
        account,
        day,
        settings.rates,
        method=method,
        tax_advantaged=settings.tax_advantaged,
        household_events=tuple(household_events),
        rules=settings.rules(account),
    )


def _selections(
    lots: Sequence[Lot],
    account: str,
    symbol: str,
    qty: Decimal,
    price: Decimal,
    day: date,
    method: ReliefMethod,
) -> tuple[tuple[str, Decimal], ...]:
    """The (lot_id, qty) prefix of the relief order that ``qty`` shares consume (specific-lot relief is
    planned in the minimum-tax order)."""
    order_method = ReliefMethod.MIN_TAX if method is ReliefMethod.SPECIFIC else method
    mine = [lot for lot in lots if lot.account == account and lot.symbol == symbol]
    out = []
    left = qty
    for lot in relief_order(mine, order_method, price=price, sold=day):
        if left <= 0:
            break
        take = min(lot.qty, left)
        out.append((lot.lot_id, take))
        left -= take
    return tuple(out)


def _size_buy(
    snapshot: PortfolioSnapshot, symbol: str, spend: Decimal, reason: str, settings: PlannerSettings
) -> PlannedOrder | SkippedTrade:
    price = order_price(snapshot, symbol, Side.BUY)
    if settings.fractional and snapshot.is_fractionable(symbol):
        notional = floor_cents(spend)
        order = PlannedOrder(symbol, Side.BUY, None, notional, price, notional, reason)
    else:
        qty = floor_quantity(spend / price, fractional=False)
        if qty <= 0:
            return SkippedTrade(symbol, f"buy of ~{usd(spend)} is less than one share at {usd(price)}")
        order = PlannedOrder(symbol, Side.BUY, qty, None, price, to_cents(qty * price), reason)
    if order.est_notional < settings.min_trade_notional:
        return SkippedTrade(
            symbol, f"buy of ~{usd(order.est_notional)} is below min_trade_notional; {reason}"
        )
    return order
