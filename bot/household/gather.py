"""One reading of every member account, turned into the optimizer's :class:`~strategies.household.Household`.

Each account is read through its OWN broker client (its own keys): balances, positions, open orders; quotes
and asset facts are read once for the household (prices do not depend on the account). The lot ledger is
brought up to date from every member's FILL activities first (the same copy-then-replay as single-account
tax-aware trading, :mod:`bot.tax.sync`), because a taxable account's tax is per lot and the wash-sale rule
spans the household.

Where the ledger and the broker disagree on a taxable holding (shares transferred in without a fill, a fill
not yet visible) the broker's quantity wins and its shares get ONE stand-in lot at the broker's average cost
bought today (short term, no loss harvesting from it): the optimizer then prices its sale conservatively
instead of on lots that do not exist. The reading's ``notes`` say so, and the plan's explanation carries them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bot.broker.alpaca import AlpacaBroker
from bot.broker.models import AssetInfo, OrderState, PositionState, QuoteState
from bot.config import BotConfig, TaxConfig
from bot.household import inputs
from bot.state.store import StateStore
from bot.tax.ledger import household_ledger, wash_rules
from bot.tax.sync import refresh_fills
from strategies.household import Account, AccountType, Household, Quote, wash_sale_guard
from strategies.tax.lots import Lot

ZERO = Decimal(0)


@dataclass(frozen=True)
class MemberReading:
    """What one account's client returned this cycle."""

    name: str
    cash: Decimal
    equity: Decimal
    positions: tuple[PositionState, ...]
    open_orders: tuple[OrderState, ...]


@dataclass(frozen=True)
class HouseholdReading:
    """The household as the optimizer sees it, plus what was read to build it (for the record and the log)."""

    household: Household
    members: tuple[MemberReading, ...]
    quotes: Mapping[str, QuoteState]
    notes: tuple[str, ...]

    @property
    def open_orders(self) -> dict[str, tuple[OrderState, ...]]:
        return {m.name: m.open_orders for m in self.members if m.open_orders}


class AssetCache:
    """Asset facts (fractionable, tradable) change rarely: read once per symbol per bot."""

    def __init__(self) -> None:
        self.assets: dict[str, AssetInfo] = {}

    def get(self, broker: AlpacaBroker, symbols: list[str]) -> dict[str, AssetInfo]:
        missing = [s for s in symbols if s not in self.assets]
        if missing:
            self.assets.update(broker.assets(missing))
        return {s: self.assets[s] for s in symbols if s in self.assets}


def read_household(
    config: BotConfig,
    brokers: Mapping[str, AlpacaBroker],
    store: StateStore,
    day: date,
    assets: AssetCache | None = None,
) -> HouseholdReading:
    """Read every member through its own client, refresh the ledger, and build the ``Household``."""
    household = inputs.household_of(config)
    assets = assets or AssetCache()
    members: list[MemberReading] = []
    for member in household.accounts:
        broker = brokers[member.account]
        state = broker.account()
        members.append(
            MemberReading(
                member.account,
                state.cash,
                state.equity,
                tuple(p for p in broker.positions() if p.qty != 0),
                tuple(broker.open_orders()),
            )
        )
    for member in household.accounts:
        refresh_fills(brokers[member.account], store, member.account)
    ledger, fills = household_ledger(store, config)
    targets = inputs.targets(config)
    held = {p.symbol for m in members for p in m.positions}
    symbols = sorted(set(targets.weights) | held)
    first = brokers[household.accounts[0].account]
    quotes = first.latest_quotes(symbols)
    facts = assets.get(first, symbols)
    prices: dict[str, Quote] = {}
    for symbol in symbols:
        prices[symbol] = _quote(symbol, quotes.get(symbol), facts.get(symbol), members)
    notes: list[str] = []
    tolerance = (config.tax or TaxConfig()).reconcile_tolerance
    accounts = []
    for member, reading in zip(household.accounts, members, strict=True):
        kind = inputs.account_type(config, member.account)
        positions = {p.symbol: p.qty for p in reading.positions}
        lots: tuple[Lot, ...] = ()
        if kind is AccountType.TAXABLE:
            lots, positions = _taxable_lots(
                member.account, positions, reading, ledger.lots_of(member.account), day, tolerance, notes
            )
        accounts.append(
            Account(
                id=member.account,
                type=kind,
                cash=max(reading.cash, ZERO),
                positions=positions,
                lots=lots,
                cash_reserve=member.cash_reserve,
                allowed=inputs.menu(member),
                flows=inputs.cash_flows(member),
                credentials_ref=member.account,
            )
        )
        if reading.cash < 0:
            notes.append(f"{member.account}: the broker shows negative cash {reading.cash}; taken as 0")
    rules = wash_rules(config)
    events = (*ledger.realisations, *fills)
    blocked, recent = wash_sale_guard(events, symbols, day, rules)
    built = Household(
        accounts=tuple(accounts),
        targets=targets,
        bands=inputs.bands(config),
        quotes=prices,
        rates=inputs.rates(config),
        day=day,
        locations=inputs.locations(config),
        blocked_buys=blocked,
        recent_buy_symbols=recent,
        wash_rules=rules,
        name=household.name,
    )
    return HouseholdReading(built, tuple(members), quotes, tuple(notes))


def _quote(
    symbol: str, quote: QuoteState | None, asset: AssetInfo | None, members: list[MemberReading]
) -> Quote:
    """Mid and spread from a two-sided quote; else a holding's last price (spread unknown: 2 bp)."""
    fractionable = asset.fractionable if asset is not None else False
    if quote is not None and quote.is_two_sided:
        mid = quote.mid
        spread = float((quote.ask - quote.bid) / mid * 10_000) if mid > 0 else 2.0
        return Quote(price=mid, spread_bps=spread, fractionable=fractionable)
    for reading in members:
        for position in reading.positions:
            if position.symbol == symbol and position.current_price > 0:
                return Quote(price=position.current_price, fractionable=fractionable)
    raise ValueError(f"no price for {symbol}: no two-sided quote and no holding to price it")


def _taxable_lots(
    account: str,
    positions: dict[str, Decimal],
    reading: MemberReading,
    ledger_lots: tuple[Lot, ...],
    day: date,
    tolerance: Decimal,
    notes: list[str],
) -> tuple[tuple[Lot, ...], dict[str, Decimal]]:
    """The ledger's lots where they agree with the broker; a stand-in lot where they do not."""
    by_symbol: dict[str, list[Lot]] = {}
    for lot in ledger_lots:
        by_symbol.setdefault(lot.symbol, []).append(lot)
    avg = {p.symbol: p.avg_entry_price for p in reading.positions}
    lots: list[Lot] = []
    agreed: dict[str, Decimal] = {}
    for symbol in sorted(set(positions) | set(by_symbol)):
        broker_qty = positions.get(symbol, ZERO)
        symbol_lots = by_symbol.get(symbol, [])
        ledger_qty = sum((lot.qty for lot in symbol_lots), start=ZERO)
        if abs(ledger_qty - broker_qty) <= tolerance:
            lots += symbol_lots
            if ledger_qty > 0:
                agreed[symbol] = ledger_qty
            continue
        if broker_qty <= 0:
            notes.append(
                f"{account} {symbol}: the ledger holds {ledger_qty} but the broker none; lots ignored"
            )
            continue
        notes.append(
            f"{account} {symbol}: ledger {ledger_qty} vs broker {broker_qty} shares; priced as one lot at the"
            f" broker's average cost {avg.get(symbol, ZERO)}, bought today (short term)"
        )
        lots.append(
            Lot(
                account=account,
                symbol=symbol,
                qty=broker_qty,
                cost_per_share=avg.get(symbol) or ZERO,
                acquired=day,
                lot_id=f"stand-in:{account}:{symbol}",
            )
        )
        agreed[symbol] = broker_qty
    return tuple(lots), agreed
