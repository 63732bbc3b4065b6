"""Household data: accounts of different tax types, one aggregate target, and the plan the optimizer returns.

Why a household and not an account: a family's money sits in several accounts (taxable, traditional IRA,
Roth IRA, 401k, HSA) that are one portfolio for allocation purposes but differ in what a trade costs. A sale
in a taxable account realises a gain or loss per lot; in an IRA it is free of tax. Rebalancing every account
to the target on its own pays tax and spread for trades that cancel out across accounts; choosing them
together does not (issue 9).

Everything here is frozen, ``Decimal`` for money and quantities, and pure: the optimizer turns these into
floats for the solver and back into ``Decimal`` at the boundary. Cash never moves between accounts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from strategies.bands import BandPolicy
from strategies.money import as_decimal
from strategies.portfolio import Side
from strategies.targets import CASH, ZERO, TargetAllocation
from strategies.tax.estimate import TaxRates
from strategies.tax.lots import Lot, ReliefMethod, Term
from strategies.tax.wash_sale import WashSaleRules

__all__ = [
    "Account",
    "AccountSummary",
    "AccountType",
    "CashFlows",
    "Household",
    "HouseholdInfeasible",
    "HouseholdPlan",
    "HouseholdTrade",
    "LocationPreference",
    "LotSale",
    "ObjectiveBreakdown",
    "Quote",
]


class AccountType(StrEnum):
    """The tax treatment of an account: only ``taxable`` realises gains and losses on a sale."""

    TAXABLE = "taxable"
    TRADITIONAL_IRA = "traditional_ira"
    ROTH_IRA = "roth_ira"
    K401 = "401k"
    HSA = "hsa"

    @property
    def tax_advantaged(self) -> bool:
        return self is not AccountType.TAXABLE

    @property
    def has_rmd(self) -> bool:
        """Required minimum distributions apply to tax-deferred accounts (not to the owner's Roth IRA)."""
        return self in (AccountType.TRADITIONAL_IRA, AccountType.K401)


TAX_DEFERRED = frozenset({AccountType.TRADITIONAL_IRA, AccountType.K401})
"""Where income-heavy assets (bonds) conventionally go: growth is taxed as income on withdrawal anyway."""
TAX_FREE = frozenset({AccountType.ROTH_IRA, AccountType.HSA})
"""Where the highest expected growth conventionally goes: it is never taxed."""


@dataclass(frozen=True)
class Quote:
    """What the optimizer needs to know about one symbol now: mid price and the cost model's inputs.

    ``spread_bps`` is the full bid-ask width (the cost of a trade is half of it, as in ``strategies.costs``);
    ``sigma_daily`` and ``adv`` (shares) feed the square-root impact, which is off when ``adv`` is 0.
    """

    price: Decimal
    spread_bps: float = 2.0
    sigma_daily: float = 0.0
    adv: float = 0.0
    fractionable: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "price", as_decimal(self.price))
        if self.price <= 0:
            raise ValueError(f"quote price must be positive, got {self.price}")
        if self.spread_bps < 0 or self.sigma_daily < 0 or self.adv < 0:
            raise ValueError("quote spread, sigma and adv must not be negative")


@dataclass(frozen=True)
class CashFlows:
    """This period's money in and out of one account, settled in the same plan.

    ``contribution`` is capped at ``contribution_room`` (what the annual limit leaves this year; None: no
    limit, e.g. a taxable account). ``withdrawal`` and ``rmd`` (the required minimum distribution still due
    this year) must be raised in cash in the account itself: an RMD from one IRA cannot be paid from another
    account's cash in this model (IRAs may aggregate RMDs across IRAs, 401k plans may not; we take the
    stricter rule for every account, which is always allowed).
    """

    contribution: Decimal = ZERO
    contribution_room: Decimal | None = None
    withdrawal: Decimal = ZERO
    rmd: Decimal = ZERO

    def __post_init__(self) -> None:
        for name in ("contribution", "withdrawal", "rmd"):
            value = as_decimal(getattr(self, name))
            if value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")
            object.__setattr__(self, name, value)
        if self.contribution_room is not None:
            room = as_decimal(self.contribution_room)
            if room < 0:
                raise ValueError(f"contribution_room must not be negative, got {room}")
            object.__setattr__(self, "contribution_room", room)

    @property
    def effective_contribution(self) -> Decimal:
        """The contribution actually made: the scheduled amount, capped by the room left under the limit."""
        if self.contribution_room is None:
            return self.contribution
        return min(self.contribution, self.contribution_room)

    @property
    def outflow(self) -> Decimal:
        return self.withdrawal + self.rmd


@dataclass(frozen=True)
class Account:
    """One brokerage account of the household.

    ``positions``: shares per symbol. For a taxable account the lots are the truth: positions default to the
    sum of the lots and, if given, must agree with them (a share without a lot has no known basis, so its tax
    cannot be estimated). Tax-advantaged accounts need no lots. ``allowed`` is the menu of symbols the account
    may BUY (a 401k plan's funds); None means any target symbol. Holdings outside the menu may still be sold.
    ``relief`` is how the broker relieves lots on a sale: FIFO at Alpaca (no lot selection); SPECIFIC where
    the broker takes the optimizer's lot choice. ``credentials_ref`` names the broker credentials (the bot's
    business; nothing here reads it).
    """

    id: str
    type: AccountType
    cash: Decimal
    positions: Mapping[str, Decimal] = field(default_factory=dict)
    lots: tuple[Lot, ...] = ()
    cash_reserve: Decimal = ZERO
    allowed: frozenset[str] | None = None
    flows: CashFlows = field(default_factory=CashFlows)
    relief: ReliefMethod = ReliefMethod.FIFO
    credentials_ref: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", AccountType(self.type))
        object.__setattr__(self, "relief", ReliefMethod(self.relief))
        object.__setattr__(self, "cash", as_decimal(self.cash))
        object.__setattr__(self, "cash_reserve", as_decimal(self.cash_reserve))
        object.__setattr__(self, "lots", tuple(self.lots))
        if self.allowed is not None:
            object.__setattr__(self, "allowed", frozenset(self.allowed))
        positions = {s: as_decimal(q) for s, q in self.positions.items() if as_decimal(q) != 0}
        from_lots: dict[str, Decimal] = {}
        for lot in self.lots:
            if lot.account != self.id:
                raise ValueError(
                    f"account {self.id}: lot {lot.lot_id or lot.symbol} belongs to {lot.account}"
                )
            from_lots[lot.symbol] = from_lots.get(lot.symbol, ZERO) + lot.qty
        if self.type is AccountType.TAXABLE:
            if not positions:
                positions = from_lots
            for symbol in sorted(set(positions) | set(from_lots)):
                if positions.get(symbol, ZERO) != from_lots.get(symbol, ZERO):
                    raise ValueError(
                        f"taxable account {self.id}: position {positions.get(symbol, ZERO)} {symbol} but its"
                        f" lots hold {from_lots.get(symbol, ZERO)}; every taxable share needs a lot"
                    )
        elif not positions:
            positions = from_lots
        for symbol, qty in positions.items():
            if qty < 0:
                raise ValueError(
                    f"account {self.id}: short position {qty} {symbol} (the household is long-only)"
                )
        object.__setattr__(self, "positions", MappingProxyType(positions))
        if self.cash < 0:
            raise ValueError(f"account {self.id}: negative cash {self.cash} (margin is not modelled)")
        if self.cash_reserve < 0:
            raise ValueError(f"account {self.id}: negative cash reserve")
        if self.flows.rmd > 0 and not self.type.has_rmd:
            raise ValueError(
                f"account {self.id}: an RMD applies only to a traditional IRA or 401k, not {self.type}"
            )
        if self.type.tax_advantaged and self.relief is ReliefMethod.SPECIFIC:
            object.__setattr__(self, "relief", ReliefMethod.FIFO)  # irrelevant: nothing is taxed

    @property
    def tax_advantaged(self) -> bool:
        return self.type.tax_advantaged

    def may_buy(self, symbol: str) -> bool:
        return self.allowed is None or symbol in self.allowed


@dataclass(frozen=True)
class LocationPreference:
    """Where some assets should live, e.g. bonds in tax-deferred accounts, growth in the Roth.

    ``penalty`` is charged per dollar of the assets BOUGHT in an account of another type and credited per
    dollar SOLD there (a fraction: 0.002 is 20 bps), so the optimizer moves them toward preferred accounts
    when that is cheap and never at any price. With ``hard`` the assets may not be bought outside the
    preferred account types at all (which can make a household infeasible; the error says so).
    """

    symbols: frozenset[str]
    account_types: frozenset[AccountType]
    penalty: float = 0.001
    hard: bool = False
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbols", frozenset(self.symbols))
        object.__setattr__(self, "account_types", frozenset(AccountType(t) for t in self.account_types))
        if self.penalty < 0:
            raise ValueError("a location penalty must not be negative")

    @property
    def label(self) -> str:
        return self.name or f"{'/'.join(sorted(self.symbols))} in {'/'.join(sorted(self.account_types))}"

    def prefers(self, account: Account) -> bool:
        return account.type in self.account_types


@dataclass(frozen=True)
class Household:
    """Several accounts steered as ONE portfolio toward ``targets`` within ``bands``.

    ``quotes`` must cover every target and held symbol. ``day`` is the trade date (holding terms, wash-sale
    windows). ``blocked_buys`` maps a symbol to why it may not be bought in any account now (the household
    wash-sale guard: a recent loss sale of an identical security; see :func:`wash_sale_guard`).
    ``recent_buy_symbols``: symbols bought in the last 30 days, whose loss sales now would be washed, so the
    optimizer credits them no tax saving. ``wash_rules`` groups substantially identical securities: within one
    plan a lot sold at a loss in a taxable account and a buy of an identical security anywhere are exclusive.
    """

    accounts: tuple[Account, ...]
    targets: TargetAllocation
    bands: BandPolicy
    quotes: Mapping[str, Quote]
    rates: TaxRates
    day: date
    locations: tuple[LocationPreference, ...] = ()
    blocked_buys: Mapping[str, str] = field(default_factory=dict)
    recent_buy_symbols: frozenset[str] = frozenset()
    wash_rules: WashSaleRules = field(default_factory=WashSaleRules)
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "accounts", tuple(self.accounts))
        object.__setattr__(self, "quotes", MappingProxyType(dict(self.quotes)))
        object.__setattr__(self, "blocked_buys", MappingProxyType(dict(self.blocked_buys)))
        object.__setattr__(self, "recent_buy_symbols", frozenset(self.recent_buy_symbols))
        object.__setattr__(self, "locations", tuple(self.locations))
        if not self.accounts:
            raise ValueError("a household needs at least one account")
        ids = [a.id for a in self.accounts]
        if len(set(ids)) != len(ids):
            raise ValueError(f"account ids must be unique, got {ids}")
        missing = sorted(s for s in self.symbols if s not in self.quotes)
        if missing:
            raise ValueError(f"household {self.name}: no quote for {', '.join(missing)}")

    @property
    def symbols(self) -> tuple[str, ...]:
        """Every target or held symbol, sorted."""
        held = {s for a in self.accounts for s in a.positions}
        return tuple(sorted(set(self.targets.weights) | held))

    def account(self, account_id: str) -> Account:
        for a in self.accounts:
            if a.id == account_id:
                return a
        raise KeyError(account_id)


class HouseholdInfeasible(ValueError):
    """No plan satisfies every constraint; ``problems`` names each one that could not be met, and why."""

    def __init__(self, problems: tuple[str, ...]) -> None:
        self.problems = problems
        super().__init__("household plan infeasible: " + "; ".join(problems))


@dataclass(frozen=True)
class LotSale:
    """Shares of one lot a taxable sell relieves, with the gain it realises (before wash adjustments)."""

    lot_id: str
    qty: Decimal
    gain: Decimal
    term: Term
    washed: bool = False


@dataclass(frozen=True)
class HouseholdTrade:
    """One order in one account. Sells carry ``qty``; buys carry ``notional`` (fractional) or whole ``qty``.

    ``est_notional`` is at the mid price; ``est_cost`` is half-spread plus impact; ``short_term_gain`` and
    ``long_term_gain`` are what the sale recognises (a washed loss recognises nothing) and ``est_tax`` their
    tax at the household's rates (negative: a loss that saves tax against other gains).
    """

    account: str
    symbol: str
    side: Side
    qty: Decimal | None
    notional: Decimal | None
    est_price: Decimal
    est_notional: Decimal
    est_cost: Decimal
    short_term_gain: Decimal = ZERO
    long_term_gain: Decimal = ZERO
    est_tax: Decimal = ZERO
    lots: tuple[LotSale, ...] = ()

    def describe(self) -> str:
        amount = f"{self.qty:f} sh" if self.qty is not None else f"${self.notional:,.2f}"
        tail = ""
        if self.side is Side.SELL and (self.short_term_gain or self.long_term_gain):
            tail = (
                f"  realises ST {self.short_term_gain:+,.2f} LT {self.long_term_gain:+,.2f},"
                f" est. tax {self.est_tax:,.2f}"
            )
        return (
            f"{self.account:>10} {self.side.value.upper():4} {self.symbol:6} {amount}"
            f" ~${self.est_notional:,.2f}"
            f" cost ${self.est_cost:,.2f}{tail}"
        )


@dataclass(frozen=True)
class AccountSummary:
    """One account's cash arithmetic after the plan: cash never crosses accounts."""

    account: str
    cash_before: Decimal
    contribution: Decimal
    outflow: Decimal
    sells: Decimal
    buys: Decimal
    cost: Decimal
    cash_after: Decimal
    reserve: Decimal

    @property
    def reserve_slack(self) -> Decimal:
        return self.cash_after - self.reserve


@dataclass(frozen=True)
class ObjectiveBreakdown:
    """The solver's objective, term by term (dollars, floats: this is a model, not an order)."""

    tax: float
    cost_spread: float
    cost_impact: float
    location_penalty: float
    drift_penalty: float
    band_slack_penalty: float = 0.0
    risk: float = 0.0
    """The drift's risk cost (and idle cash's) after the plan, as the MILP's linearised term values it."""

    @property
    def total(self) -> float:
        return (
            self.tax
            + self.cost_spread
            + self.cost_impact
            + self.location_penalty
            + self.drift_penalty
            + self.band_slack_penalty
            + self.risk
        )


@dataclass(frozen=True)
class HouseholdPlan:
    """The trades of every account, chosen together, with their estimated tax and cost and the reasons.

    ``estimated_tax`` is signed (estimate.py's convention: a net loss is a negative figure); ``tax_payable``
    floors it at zero, which is what the optimizer minimises unless told to harvest. ``weights_before`` /
    ``weights_after`` are aggregate household weights (cash under ``CASH``), after cash flows and costs.
    ``binding`` lists the constraints that hold with equality at the solution and so shaped it.
    """

    household: str
    trades: tuple[HouseholdTrade, ...]
    accounts: tuple[AccountSummary, ...]
    weights_before: Mapping[str, Decimal]
    weights_after: Mapping[str, Decimal]
    limits: Mapping[str, tuple[Decimal, Decimal]]
    short_term_gain: Decimal
    long_term_gain: Decimal
    estimated_tax: Decimal
    estimated_cost: Decimal
    objective: ObjectiveBreakdown
    binding: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    solve_seconds: float = 0.0
    optimality_gap: float = 0.0
    """Proven relative distance from the optimum (HiGHS's MIP gap): 0 when optimal, NaN when unproven."""
    variables: int = 0
    integer_variables: int = 0
    soft_bands: bool = False

    @property
    def tax_payable(self) -> Decimal:
        return max(self.estimated_tax, ZERO)

    @property
    def tax_plus_cost(self) -> Decimal:
        """The benchmark's figure of merit: tax the plan makes payable plus what trading costs."""
        return self.tax_payable + self.estimated_cost

    @property
    def gross_notional(self) -> Decimal:
        return sum((t.est_notional for t in self.trades), start=ZERO)

    def max_drift(self, targets: TargetAllocation) -> Decimal:
        """Largest |aggregate weight - target| after the plan, cash included."""
        return max(abs(w - targets.weight(s)) for s, w in self.weights_after.items())

    def explain(self) -> str:
        lines = [f"household {self.household}: {len(self.trades)} trades, gross ${self.gross_notional:,.2f}"]
        lines += ["  " + t.describe() for t in self.trades]
        lines.append(
            f"  estimated tax ${self.estimated_tax:,.2f} (ST gain {self.short_term_gain:+,.2f},"
            f" LT gain {self.long_term_gain:+,.2f}); estimated cost ${self.estimated_cost:,.2f}"
        )
        o = self.objective
        lines.append(
            f"  objective: tax {o.tax:,.2f} + spread {o.cost_spread:,.2f} + impact {o.cost_impact:,.2f}"
            f" + location {o.location_penalty:,.2f} + drift {o.drift_penalty:,.2f}"
            + (f" + band slack {o.band_slack_penalty:,.2f}" if self.soft_bands else "")
            + (f" + risk kept {o.risk:,.2f}" if o.risk else "")
        )
        lines.append("  weights (before -> after, band):")
        for symbol in sorted(self.weights_after, key=lambda s: (s == CASH, s)):
            lo, hi = self.limits.get(symbol, (ZERO, Decimal(1)))
            lines.append(
                f"    {symbol:6} {self.weights_before.get(symbol, ZERO):7.2%}"
                f" -> {self.weights_after[symbol]:7.2%}"
                f"  [{lo:.2%}, {hi:.2%}]"
            )
        if self.binding:
            lines.append("  binding: " + "; ".join(self.binding))
        lines += ["  note: " + n for n in self.notes]
        return "\n".join(lines)


def wash_group(household: Household, symbol: str) -> str:
    """A stable key for the substantially-identical group of ``symbol`` (itself when it is in none)."""
    for group in household.wash_rules.groups:
        if symbol in group:
            return min(group)
    return symbol
