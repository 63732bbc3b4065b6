"""Tax-aware backtest of one taxable account (issue 8): a lot ledger, yearly taxes, after-tax liquidation.

Why a loop of its own next to ``engine.py``: taxes need every fill as a lot (``Decimal``, per share, per
day) and a universe that changes over time (a substitute such as BND has no price before 2007, yet the
portfolio may start in 2004), which the vectorised engine's fixed float arrays do not model. The decisions
are still the live bot's: ``plan_rebalance`` / ``plan_cash_flow`` on a snapshot built as the engine builds
it, then, in the tax-aware mode, exactly the functions the bot calls (``fold_substitutes`` ->
planner -> ``plan_tax_aware``, and ``plan_harvest`` before it).

Two modes, same policy (schedule, trigger, bands, planner settings) and same execution:

* **tax-blind**: the planner's plan as it is; sells relieve lots FIFO (Alpaca), only for the accounting.
* **tax-aware**: harvest (when enabled) then the tax-aware rebalance, with the household's recent buys and
  loss sales as wash-sale events. A trigger that weighs costs (the objective) is also given each asset's
  tax per dollar sold from the simulated lots (``strategies.tax.marginal``), as the live bot gives it from
  its ledger; tax-blind, that tax is 0.

A trigger that needs return history (the objective) reads the returns of this history up to each close; the
first sessions have too few for a risk forecast, and it decides by its fallback bands until then (it says so).

Conventions (the report repeats them):

* Prices are total-return prices (``adj_close``): dividends are reinvested in their own asset at no cost and
  are not taxed here (both modes hold nearly the same assets, so dividend tax would be nearly the same; the
  gains below include the reinvested dividends, which overstates gains equally in both). No DRIP purchases,
  so dividends cannot wash a loss here (in a real account, turn DRIP off when harvesting).
* Fills at the close: buys at ``mid * (1 + h)``, sells at ``mid * (1 - h)``, ``h`` half the spread (2 bps
  full spread by default); no impact (negligible at this size, BENCHMARKS.md), no commission.
* **Taxes are paid from the portfolio** on the first session of the next year (cash, then the ordinary cash
  flow planner sells what it must: tax-aware in the tax-aware mode). Each year nets short and long term per
  Schedule D: losses offset gains of their own term first, then the other term; a net loss deducts up to
  ``ordinary_offset`` ($3,000) from ordinary income, credited at the short-term rate as a saving paid into
  the portfolio; the rest is carried forward with its character.
* **Liquidation** at the last close: everything is sold, the final year's tax (with carry-forwards) is paid,
  and the after-tax wealth is what remains. A loss carry-forward still unused then is valued at zero.
* Wash sales are counted afterwards by replaying every fill up to the last close (the liquidation is a
  measuring device, not a trade of the strategy) through ``build_household_ledger``, the same code as the
  bot's ledger: the tax-aware mode must show none.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal

import numpy as np

from bot.backtest.data import PriceHistory, load_history
from bot.backtest.engine import CLOSE, NEW_YORK
from bot.backtest.policies import Policy
from strategies.cashflows import plan_cash_flow
from strategies.costs import DEFAULT_SPREAD_BPS
from strategies.market_state import AssetCosts, MarketState
from strategies.money import QTY_STEP, as_decimal, to_cents
from strategies.plan import RebalancePlan
from strategies.planner import TradeTo, plan_rebalance
from strategies.portfolio import PortfolioSnapshot, Side, total_equity
from strategies.schedules import CalendarTrigger
from strategies.targets import TargetAllocation
from strategies.tax.harvest import HarvestKind, plan_harvest
from strategies.tax.lots import ZERO, Fill, Lot, Realisation, ReliefMethod, Term, open_lot, relieve
from strategies.tax.marginal import sell_tax_fractions
from strategies.tax.planning import Action, TaxSettings, fold_substitutes, plan_tax_aware
from strategies.tax.wash_sale import build_household_ledger
from strategies.triggers import TriggerContext

ACCOUNT = "taxable"
ORDINARY_OFFSET = Decimal(3000)
WINDOW_DAYS = 31


# -- yearly tax ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class YearTax:
    """One year's Schedule D result: what was realised, the tax (negative: a saving), the carry-forward."""

    year: int
    short_term: Decimal
    long_term: Decimal
    tax: Decimal
    offset_used: Decimal = ZERO
    carry_short: Decimal = ZERO
    carry_long: Decimal = ZERO
    harvested: Decimal = ZERO
    """Losses realised by harvests this year (positive)."""


def year_tax(
    year: int,
    short_term: Decimal,
    long_term: Decimal,
    rates_short: Decimal,
    rates_long: Decimal,
    carry_short: Decimal = ZERO,
    carry_long: Decimal = ZERO,
    ordinary_offset: Decimal = ORDINARY_OFFSET,
) -> YearTax:
    """Net one year's gains with the carry-forwards (negative amounts) and tax what is left.

    Losses net against gains of their own term, then across terms (what is left keeps the character of the
    larger side). A net loss deducts up to ``ordinary_offset`` from ordinary income (saving the short-term
    rate), short-term losses first; the rest is carried forward.
    """
    st, lt = short_term + carry_short, long_term + carry_long
    if st < 0 < lt or lt < 0 < st:
        net = st + lt
        if net >= 0:
            st, lt = (ZERO, net) if lt > 0 else (net, ZERO)
        else:
            st, lt = (net, ZERO) if st < 0 else (ZERO, net)
    if st <= 0 and lt <= 0:
        loss = -(st + lt)
        used = min(ordinary_offset, loss)
        from_short = min(used, -st)
        st += from_short
        lt += used - from_short
        return YearTax(year, short_term, long_term, to_cents(-used * rates_short), used, st, lt)
    tax = max(st, ZERO) * rates_short + max(lt, ZERO) * rates_long
    return YearTax(year, short_term, long_term, to_cents(tax), ZERO, min(st, ZERO), min(lt, ZERO))


# -- options and results -------------------------------------------------------------------------


@dataclass(frozen=True)
class TaxBacktestOptions:
    """What to simulate: the tax settings, the mode, the money."""

    tax: TaxSettings
    aware: bool = True
    """False: tax-blind (the planner's plan as is; FIFO relief for the accounting)."""
    capital: Decimal = Decimal(100_000)
    spread_bps: float = DEFAULT_SPREAD_BPS
    pay_taxes: bool = True
    ordinary_offset: Decimal = ORDINARY_OFFSET
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "capital", as_decimal(self.capital))
        object.__setattr__(self, "ordinary_offset", as_decimal(self.ordinary_offset))

    @property
    def harvesting(self) -> bool:
        return self.aware and self.tax.harvest.enabled


@dataclass(eq=False)
class TaxRun:
    """A tax backtest's path and tallies."""

    options: TaxBacktestOptions
    policy: Policy
    days: tuple[date, ...]
    equity: np.ndarray
    years: list[YearTax] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    realisations: list[Realisation] = field(default_factory=list)
    harvests: int = 0
    switch_backs: int = 0
    rebalances: int = 0
    decisions: dict[str, int] = field(default_factory=dict)
    max_sleeve_drift: list[float] = field(default_factory=list)
    final_value: Decimal = ZERO
    """Pre-tax value at the last close, before liquidation."""
    liquidation_tax: Decimal = ZERO
    after_tax_value: Decimal = ZERO
    unused_carry: Decimal = ZERO
    wash_sales: int = -1
    """Wash sales among the fills up to the last close (the liquidation excluded); -1 until run."""
    seconds: float = 0.0

    @property
    def label(self) -> str:
        return self.options.label or ("tax-aware" if self.options.aware else "tax-blind")

    @property
    def taxes_paid(self) -> Decimal:
        """Taxes paid each year during the run (savings negative), liquidation year excluded."""
        return sum((y.tax for y in self.years[:-1]), start=ZERO)

    @property
    def harvested(self) -> Decimal:
        return sum((y.harvested for y in self.years), start=ZERO)

    @property
    def after_tax_cagr(self) -> float:
        span = (self.days[-1] - self.days[0]).days / 365.25
        return float(self.after_tax_value / self.options.capital) ** (1 / span) - 1

    @property
    def pre_tax_cagr(self) -> float:
        span = (self.days[-1] - self.days[0]).days / 365.25
        return float(self.final_value / self.options.capital) ** (1 / span) - 1

    @property
    def mean_drift(self) -> float:
        return float(np.mean(self.max_sleeve_drift)) if self.max_sleeve_drift else 0.0

    @property
    def worst_drift(self) -> float:
        return float(np.max(self.max_sleeve_drift)) if self.max_sleeve_drift else 0.0


# -- prices --------------------------------------------------------------------------------------


def substitute_prices(history: PriceHistory, symbols: Sequence[str]) -> dict[str, np.ndarray]:
    """Total-return prices of symbols outside ``history`` (substitutes) on its sessions; NaN before a symbol's
    first bar (unavailable: never bought). A session it lacks afterwards repeats its previous price.

    They are read from the directory ``history`` was read from (``history.data_dir``): the substitutes of a
    run on another data set must move with that data set, not sit at the bundled prices. A history built in
    memory has no directory, so its substitutes must be passed to :func:`simulate_tax` directly.
    """
    out: dict[str, np.ndarray] = {}
    for symbol in symbols:
        if symbol in history.symbols:
            continue
        if history.data_dir is None:
            raise ValueError(
                f"no data directory to read {symbol} from: the history was not read by load_history"
            )
        own = load_history([symbol], None, history.end, history.data_dir)
        by_day = dict(zip(own.days, own.adj_close[:, 0], strict=True))
        column = np.array([by_day.get(day, math.nan) for day in history.days])
        for k in range(1, len(column)):
            if math.isnan(column[k]) and not math.isnan(column[k - 1]):
                column[k] = column[k - 1]
        out[symbol] = column
    return out


# -- the simulation ------------------------------------------------------------------------------


def simulate_tax(
    history: PriceHistory,
    targets: TargetAllocation,
    policy: Policy,
    options: TaxBacktestOptions,
    extra_prices: Mapping[str, np.ndarray] | None = None,
) -> TaxRun:
    """Run ``policy`` over ``history`` in one taxable account, tax-blind or tax-aware (see the module doc)."""
    started = time.perf_counter()
    run = _TaxSimulation(history, targets, policy, options, extra_prices or {}).run()
    run.seconds = time.perf_counter() - started
    return run


class _TaxSimulation:
    def __init__(
        self,
        history: PriceHistory,
        targets: TargetAllocation,
        policy: Policy,
        options: TaxBacktestOptions,
        extra: Mapping[str, np.ndarray],
    ) -> None:
        self.history = history
        self.targets = targets
        self.policy = policy
        self.options = options
        self.tax = options.tax
        self.method = self.tax.relief_method if options.aware else ReliefMethod.FIFO
        self.columns: dict[str, np.ndarray] = {
            s: history.adj_close[:, i] for i, s in enumerate(history.symbols)
        }
        self.columns.update(extra)
        self.returns = history.total_returns()  # row j: the return into close j + 1
        self.h = options.spread_bps / 2 / 10_000
        self.q: dict[str, Decimal] = {}
        self.cash = options.capital
        self.lots: tuple[Lot, ...] = ()
        self.serial = 0
        self.year_st = ZERO
        self.year_lt = ZERO
        self.year_harvested = ZERO
        self.carry = (ZERO, ZERO)
        self.recent: list[Fill | Realisation] = []
        self.out = TaxRun(options, policy, history.days, np.zeros(len(history.days)))

    # -- market view ------------------------------------------------------------------------------
    def _mids(self, k: int) -> dict[str, Decimal]:
        return {s: as_decimal(float(c[k])) for s, c in self.columns.items() if math.isfinite(c[k])}

    def _snapshot(self, k: int) -> PortfolioSnapshot:
        mids = self._mids(k)
        bids = {s: as_decimal(float(m) * (1 - self.h)) for s, m in mids.items()}
        asks = {s: as_decimal(float(m) * (1 + self.h)) for s, m in mids.items()}
        prices = {s: (bids[s] + asks[s]) / 2 for s in mids}
        positions = {s: q for s, q in self.q.items() if q > 0}
        fractional = {s: self.policy.settings.fractional for s in mids}
        return PortfolioSnapshot(self.cash, positions, prices, bids, asks, fractional)

    def _events(self, day: date) -> tuple[Fill | Realisation, ...]:
        self.recent = [
            e for e in self.recent if (day - (e.day if isinstance(e, Fill) else e.sold)).days <= WINDOW_DAYS
        ]
        return tuple(self.recent)

    # -- the loop ---------------------------------------------------------------------------------
    def run(self) -> TaxRun:
        days = self.history.days
        checks = set(self.policy.schedule.check_indices(days))
        for k, day in enumerate(days):
            if k == 0:
                snapshot = self._snapshot(0)
                decision = CalendarTrigger("initial").evaluate(snapshot, self.targets, TriggerContext())
                settings = replace(self.policy.settings, trade_to=TradeTo.TARGET)
                plan = plan_rebalance(snapshot, self.targets, self.policy.bands, settings, decision)
                self._execute(k, plan)
            else:
                if day.year != days[k - 1].year:
                    self._close_year(days[k - 1].year)
                    if self.options.pay_taxes:
                        self._pay(k, self.out.years[-1].tax)
                if k in checks:
                    self._check(k)
            self._record(k)
        ledger = build_household_ledger(self.out.fills, self.tax.rules(ACCOUNT))
        self.out.wash_sales = len(ledger.wash_sales)
        self._liquidate(len(days) - 1)
        return self.out

    def _record(self, k: int) -> None:
        mids = self._mids(k)
        values = {s: q * mids[s] for s, q in self.q.items() if q > 0}
        equity = self.cash + sum(values.values(), start=ZERO)
        self.out.equity[k] = float(equity)
        sleeves: dict[str, Decimal] = {}
        for symbol, value in values.items():
            primary = self.tax.primary(symbol)
            sleeves[primary] = sleeves.get(primary, ZERO) + value
        drifts = [abs(float(sleeves.get(s, ZERO) / equity - w)) for s, w in self.targets.weights.items()]
        self.out.max_sleeve_drift.append(max(drifts) if drifts else 0.0)

    def _check(self, k: int) -> bool:
        day = self.history.days[k]
        traded = False
        if self.options.harvesting:
            harvest = plan_harvest(
                self._snapshot(k),
                self.lots,
                day,
                self.tax,
                account=ACCOUNT,
                household_events=self._events(day),
                planner_settings=self.policy.settings,
            )
            for trade in harvest.trades:
                if trade.kind is HarvestKind.HARVEST:
                    self.out.harvests += 1
                else:
                    self.out.switch_backs += 1
            if harvest.trades:
                self._execute(k, harvest.orders, harvested=True)
                traded = True
        snapshot = self._snapshot(k)
        plan = self._plan(k, snapshot, lambda s: self._policy_plan(s, k))
        if plan.orders:
            self.out.rebalances += 1
            self._execute(k, plan)
            traded = True
        return traded

    def _policy_plan(self, snapshot: PortfolioSnapshot, k: int) -> RebalancePlan:
        policy = self.policy
        if policy.trigger is None:
            return plan_rebalance(snapshot, self.targets, policy.bands, policy.settings)
        decision = policy.trigger.evaluate(snapshot, self.targets, self._context(k))
        return plan_rebalance(snapshot, self.targets, policy.bands, policy.settings, decision)

    def _context(self, k: int) -> TriggerContext:
        """The close's time and, for a trigger that needs history (the objective), the trailing returns up to
        this close and the costs this simulation charges: the spread, no impact, and in the tax-aware mode
        the tax per dollar sold from the simulated lots (as the live bot's ledger gives it)."""
        day = self.history.days[k]
        now = datetime.combine(day, CLOSE, NEW_YORK)
        lookback = self.policy.market_lookback
        if lookback <= 0:
            return TriggerContext(now=now)
        costs = {s: AssetCosts(spread_bps=self.options.spread_bps) for s in self.history.symbols}
        market = MarketState(self.history.symbols, self.returns[max(0, k - lookback) : k], costs)
        if self.options.aware:
            market = market.with_tax(sell_tax_fractions(self.lots, ACCOUNT, self._mids(k), day, self.tax))
        return TriggerContext(now=now, market=market)

    def _plan(self, k: int, snapshot: PortfolioSnapshot, planner) -> RebalancePlan:  # noqa: ANN001 - callable
        """The planner on the snapshot (tax-blind), or fold -> planner -> plan_tax_aware (tax-aware)."""
        if not self.options.aware:
            return planner(snapshot)
        day = self.history.days[k]
        plan = planner(fold_substitutes(snapshot, self.targets, self.tax))
        if plan.is_empty:
            return plan
        taxed = plan_tax_aware(
            plan,
            snapshot,
            self.lots,
            day,
            self.tax,
            account=ACCOUNT,
            household_events=self._events(day),
            planner_settings=self.policy.settings,
        )
        for decision in taxed.decisions:
            self.out.decisions[decision.action.value] = self.out.decisions.get(decision.action.value, 0) + 1
        return taxed.plan

    def _pay(self, k: int, tax: Decimal) -> None:
        """Pay (or receive) last year's tax from cash; then let the cash-flow allocator restore cash (a
        payment is raised from the most overweight assets, a refund invested in the most underweight)."""
        self.cash -= tax
        snapshot = self._snapshot(k)
        if total_equity(snapshot) <= 0:
            return
        plan = self._plan(
            k,
            snapshot,
            lambda s: plan_cash_flow(s, self.targets, self.policy.settings),
        )
        if plan.orders:
            self._execute(k, plan)

    # -- execution --------------------------------------------------------------------------------
    def _execute(self, k: int, plan_or_orders, harvested: bool = False) -> None:  # noqa: ANN001
        orders = plan_or_orders.orders if isinstance(plan_or_orders, RebalancePlan) else plan_or_orders
        day = self.history.days[k]
        mids = self._mids(k)
        for order in orders:
            mid = mids[order.symbol]
            self.serial += 1
            fill_id = f"f{self.serial}"
            if order.side is Side.SELL:
                qty = min(order.qty or ZERO, self.q.get(order.symbol, ZERO))
                if qty <= 0:
                    continue
                price = as_decimal(float(mid) * (1 - self.h))
                relief = relieve(
                    self.lots, ACCOUNT, order.symbol, qty, price, day, self.method, sale_fill_id=fill_id,
                    strict=False,
                )  # fmt: skip
                self.lots = relief.remaining
                self._realise(relief.realisations, harvested)
                self.q[order.symbol] = self.q[order.symbol] - qty
                self.cash += qty * price
                fill = Fill(ACCOUNT, order.symbol, Side.SELL, qty, price, day, fill_id)
            else:
                price = as_decimal(float(mid) * (1 + self.h))
                spend = order.notional if order.notional is not None else (order.qty or ZERO) * price
                spend = min(spend, self.cash)
                qty = (
                    (spend / price).quantize(QTY_STEP) if order.notional is not None else (order.qty or ZERO)
                )
                if order.notional is None and qty * price > self.cash:
                    qty = (self.cash / price).to_integral_value(rounding="ROUND_FLOOR")
                if qty <= 0:
                    continue
                self.q[order.symbol] = self.q.get(order.symbol, ZERO) + qty
                self.cash -= qty * price
                fill = Fill(ACCOUNT, order.symbol, Side.BUY, qty, price, day, fill_id)
                self.lots = (*self.lots, open_lot(fill))
                self.recent.append(fill)
            self.out.fills.append(fill)

    def _realise(self, realisations: Sequence[Realisation], harvested: bool) -> None:
        for r in realisations:
            self.out.realisations.append(r)
            if r.term is Term.LONG:
                self.year_lt += r.gain
            else:
                self.year_st += r.gain
            if r.is_loss:
                self.recent.append(r)
                if harvested:
                    self.year_harvested -= r.gain

    def _close_year(self, year: int) -> None:
        rates = self.tax.rates
        result = year_tax(
            year, self.year_st, self.year_lt, rates.short_term, rates.long_term, *self.carry,
            ordinary_offset=self.options.ordinary_offset,
        )  # fmt: skip
        self.out.years.append(replace(result, harvested=self.year_harvested))
        self.carry = (result.carry_short, result.carry_long)
        self.year_st = self.year_lt = self.year_harvested = ZERO

    def _liquidate(self, k: int) -> None:
        mids = self._mids(k)
        self.out.final_value = self.cash + sum((q * mids[s] for s, q in self.q.items()), start=ZERO)
        day = self.history.days[k]
        for symbol, qty in sorted(self.q.items()):
            if qty <= 0:
                continue
            price = as_decimal(float(mids[symbol]) * (1 - self.h))
            self.serial += 1
            fill_id = f"f{self.serial}"
            relief = relieve(
                self.lots, ACCOUNT, symbol, qty, price, day, self.method, sale_fill_id=fill_id, strict=False
            )
            self.lots = relief.remaining
            self._realise(relief.realisations, False)
            self.cash += qty * price
            self.q[symbol] = ZERO
            self.out.fills.append(Fill(ACCOUNT, symbol, Side.SELL, qty, price, day, fill_id))
        self._close_year(day.year)
        last = self.out.years[-1]
        self.out.liquidation_tax = last.tax
        self.out.after_tax_value = self.cash - last.tax
        self.out.unused_carry = -(last.carry_short + last.carry_long)


def tally_decisions(run: TaxRun) -> str:
    """E.g. ``trimmed 12, waiting 3`` (the tax-aware changes made over the run)."""
    order = [a.value for a in Action]
    return ", ".join(f"{k} {run.decisions[k]}" for k in order if run.decisions.get(k)) or "-"


__all__ = [
    "TaxBacktestOptions",
    "TaxRun",
    "YearTax",
    "simulate_tax",
    "substitute_prices",
    "tally_decisions",
    "year_tax",
]
