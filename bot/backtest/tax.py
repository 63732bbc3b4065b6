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

* **Dividends** (``TaxBacktestOptions.dividends``). ``reinvest`` (default): total-return prices
  (``adj_close``), each dividend reinvested in its own asset at no cost and not taxed (both modes hold nearly
  the same assets, so the dividend tax would be nearly the same; the gains include the reinvested dividends,
  which overstates gains equally in both). No DRIP purchases, so dividends cannot wash a loss (in a real
  account, turn DRIP off when harvesting). ``cash``: close prices, each dividend paid into cash on its
  ex-date, taxed as qualified (long-term rate) with its year, and invested on the month's first session by
  the cash-flow allocator, like a contribution.
* **Contributions** (``monthly``): on the first session of every month after the first, after that
  session's harvest check, invested by ``plan_cash_flow`` (most underweight sleeve first); in the tax-aware
  mode through ``plan_tax_aware``, which buys a substitute instead of a symbol sold at a loss in the last 30
  days. Returns are then money-weighted (the IRR of the contributions).
* **Harvest check**: at the policy's checks, or at every close (``harvest_every_session``), before the
  month's contribution and the policy's check.
* Fills at the close: buys at ``mid * (1 + h)``, sells at ``mid * (1 - h)``, ``h`` half the spread (2 bps
  full spread by default); no impact (negligible at this size, BENCHMARKS.md), no commission.
* **Taxes are paid from the portfolio** on the first session of the next year (cash, then the ordinary cash
  flow planner sells what it must: tax-aware in the tax-aware mode). Each year nets short and long term per
  Schedule D: losses offset gains of their own term first, then the other term; a net loss deducts up to
  ``ordinary_offset`` ($3,000) from ordinary income, credited at the short-term rate as a saving paid into
  the portfolio; the rest is carried forward with its character.
* **After-tax wealth, two ways.** *On liquidation*: at the last close everything is sold, the final year's
  tax (with carry-forwards) is paid, and the after-tax wealth is what remains. *Held*: the pre-tax value at
  the last close less the final year's tax on what the run itself sold (unrealised gains untaxed, as for an
  investor who donates or bequeaths). At zero spread they differ by exactly the tax on the unrealised gains
  (``TaxRun.unrealised_tax``). A loss carry-forward still unused at the end is valued at zero in both.
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

from bot.backtest.data import DividendMode, PriceHistory
from bot.backtest.engine import CLOSE, NEW_YORK
from bot.backtest.policies import Policy
from bot.backtest.tax_prices import substitute_dividends, substitute_prices
from bot.backtest.tax_years import ORDINARY_OFFSET, YearTax, money_weighted_return, year_tax
from strategies.cashflows import plan_cash_flow
from strategies.costs import DEFAULT_SPREAD_BPS
from strategies.market_state import AssetCosts, MarketState
from strategies.money import QTY_STEP, as_decimal, to_cents
from strategies.objective.calibrate import FitCache
from strategies.objective.trigger import ObjectiveTrigger, SessionsDecided
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
WINDOW_DAYS = 31


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
    monthly: Decimal = ZERO
    """Contribution on the first session of every month after the first (0: none), invested by the
    cash-flow allocator (``plan_cash_flow``: most underweight first; through the tax layer when aware)."""
    dividends: DividendMode = DividendMode.REINVEST
    """``reinvest``: total-return prices, dividends untaxed inside the price; ``cash``: close prices, each
    dividend paid into cash on its ex-date, taxed as qualified, invested with the month's new money."""
    harvest_every_session: bool = False
    """Check for harvests at every close (the investor's daily check), not only at the policy's checks."""
    horizon_at_end: bool = True
    """The investor sells everything at the last close (the liquidated measure): the objective is told so
    (``ObjectiveSpec.tax_horizon``, unless the policy's is earlier), and a gain realised near the end costs
    only the time value of paying its tax that much early. False: the policy's own horizon."""

    def __post_init__(self) -> None:
        for name in ("capital", "ordinary_offset", "monthly"):
            object.__setattr__(self, name, as_decimal(getattr(self, name)))
        object.__setattr__(self, "dividends", DividendMode(self.dividends))
        if self.monthly < 0:
            raise ValueError(f"monthly contribution {self.monthly} is negative: use 0 for none")

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
    """The final year's tax: its own sales plus the liquidation, carry-forwards used."""
    after_tax_value: Decimal = ZERO
    """On liquidation: everything sold at the last close, the final year's tax paid."""
    held_tax: Decimal = ZERO
    """The final year's tax on what the run itself sold that year (nothing liquidated)."""
    held_value: Decimal = ZERO
    """Held: the pre-tax value less ``held_tax``, unrealised gains left untaxed (a bequest or donation)."""
    liquidation_spread: Decimal = ZERO
    """What selling everything at the bid cost against the mids the pre-tax value is measured at."""
    unused_carry: Decimal = ZERO
    contributions: list[tuple[date, Decimal]] = field(default_factory=list)
    """Money put in: the capital on the first session, then each monthly contribution."""
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
    def unrealised_tax(self) -> Decimal:
        """The tax the liquidation adds: what held wealth leaves unpaid on its unrealised gains."""
        return self.liquidation_tax - self.held_tax

    @property
    def invested(self) -> Decimal:
        return sum((amount for _, amount in self.contributions), start=ZERO)

    def _rate(self, value: Decimal) -> float:
        """Annual money-weighted return of the contributions growing to ``value`` (the CAGR when the capital
        is the only contribution)."""
        flows = [(day, float(amount)) for day, amount in self.contributions]
        return money_weighted_return(flows, self.days[-1], float(value))

    @property
    def after_tax_cagr(self) -> float:
        """After tax on liquidation, per year (money-weighted with contributions)."""
        return self._rate(self.after_tax_value)

    @property
    def held_cagr(self) -> float:
        """After tax, held (unrealised gains untaxed), per year (money-weighted with contributions)."""
        return self._rate(self.held_value)

    @property
    def pre_tax_cagr(self) -> float:
        return self._rate(self.final_value)

    @property
    def mean_drift(self) -> float:
        return float(np.mean(self.max_sleeve_drift)) if self.max_sleeve_drift else 0.0

    @property
    def worst_drift(self) -> float:
        return float(np.max(self.max_sleeve_drift)) if self.max_sleeve_drift else 0.0


# -- the simulation ------------------------------------------------------------------------------


def simulate_tax(
    history: PriceHistory,
    targets: TargetAllocation,
    policy: Policy,
    options: TaxBacktestOptions,
    extra_prices: Mapping[str, np.ndarray] | None = None,
    extra_dividends: Mapping[str, np.ndarray] | None = None,
) -> TaxRun:
    """Run ``policy`` over ``history`` in one taxable account, tax-blind or tax-aware (see the module doc).

    ``extra_prices`` / ``extra_dividends``: the substitutes' columns (:func:`substitute_prices` under the
    options' dividend mode, :func:`substitute_dividends`); with dividends paid in cash every substitute needs
    its dividends too.
    """
    extra_prices, extra_dividends = extra_prices or {}, extra_dividends or {}
    if options.dividends is DividendMode.CASH and set(extra_prices) - set(extra_dividends):
        missing = sorted(set(extra_prices) - set(extra_dividends))
        raise ValueError(f"dividends paid in cash, but none given for {missing}: pass extra_dividends")
    started = time.perf_counter()
    run = _TaxSimulation(history, targets, policy, options, extra_prices, extra_dividends).run()
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
        extra_dividends: Mapping[str, np.ndarray],
    ) -> None:
        self.history = history
        self.targets = targets
        horizon = history.days[-1] if options.horizon_at_end else None
        self.policy = _own_trigger_state(policy, horizon)
        self.options = options
        self.tax = options.tax
        self.method = self.tax.relief_method if options.aware else ReliefMethod.FIFO
        prices = history.prices(options.dividends)
        paid = history.cash_dividends(options.dividends)
        self.columns: dict[str, np.ndarray] = {s: prices[:, i] for i, s in enumerate(history.symbols)}
        self.columns.update(extra)
        self.paid: dict[str, np.ndarray] = {s: paid[:, i] for i, s in enumerate(history.symbols)}
        if options.dividends is DividendMode.CASH:
            self.paid.update(extra_dividends)
        self.year_dividends = ZERO
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
        """Each close in this order: last year's tax (January), dividends into cash, the harvest check, the
        month's contribution (after the harvest, so that its buys avoid what was just sold at a loss), then
        the policy's check."""
        days = self.history.days
        checks = set(self.policy.schedule.check_indices(days))
        self.out.contributions.append((days[0], self.options.capital))
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
                self._receive_dividends(k)
                if self.options.harvesting and (k in checks or self.options.harvest_every_session):
                    self._harvest(k)
                if day.month != days[k - 1].month:
                    self._contribute(k)
                if k in checks:
                    self._check(k)
            self._record(k)
        ledger = build_household_ledger(self.out.fills, self.tax.rules(ACCOUNT))
        self.out.wash_sales = len(ledger.wash_sales)
        self._liquidate(len(days) - 1)
        return self.out

    def _receive_dividends(self, k: int) -> None:
        """Dividends paid in cash (the ``cash`` mode) on their ex-date: taxed with the year, invested with the
        month's contribution."""
        if self.options.dividends is not DividendMode.CASH:
            return
        amount = sum(
            (q * as_decimal(float(self.paid[s][k])) for s, q in self.q.items() if q > 0 and s in self.paid),
            start=ZERO,
        )
        amount = to_cents(amount)
        self.cash += amount
        self.year_dividends += amount

    def _contribute(self, k: int) -> None:
        """The month's new money (and any dividend cash) into the most underweight assets, by the planner's
        cash-flow allocator; in the tax-aware mode through the tax layer, which moves a buy of a symbol sold
        at a loss in the last 30 days to its substitute (or drops it)."""
        if self.options.monthly <= 0 and self.options.dividends is not DividendMode.CASH:
            return
        if self.options.monthly > 0:
            self.cash += self.options.monthly
            self.out.contributions.append((self.history.days[k], self.options.monthly))
        self._invest_cash(k)

    def _invest_cash(self, k: int) -> None:
        snapshot = self._snapshot(k)
        if total_equity(snapshot) <= 0:
            return
        plan = self._plan(k, snapshot, lambda s: plan_cash_flow(s, self.targets, self.policy.settings))
        if plan.orders:
            self._execute(k, plan)

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

    def _harvest(self, k: int) -> None:
        day = self.history.days[k]
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

    def _check(self, k: int) -> None:
        plan = self._plan(k, self._snapshot(k), lambda s: self._policy_plan(s, k))
        if plan.orders:
            self.out.rebalances += 1
            self._execute(k, plan)

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
            fractions = sell_tax_fractions(
                self.lots, ACCOUNT, self._mids(k), day, self.tax, self._events(day)
            )
            market = market.with_tax(fractions)
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
        """Pay (or receive) last year's tax from cash; then the cash-flow allocator raises what cash lacks
        below its buffer from the most overweight assets, or invests a refund in the most underweight."""
        self.cash -= tax
        self._invest_cash(k)

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

    def _year_so_far(self, year: int) -> YearTax:
        rates = self.tax.rates
        result = year_tax(
            year, self.year_st, self.year_lt, rates.short_term, rates.long_term, *self.carry,
            ordinary_offset=self.options.ordinary_offset, dividends=self.year_dividends,
        )  # fmt: skip
        return replace(result, harvested=self.year_harvested)

    def _close_year(self, year: int) -> None:
        result = self._year_so_far(year)
        self.out.years.append(result)
        self.carry = (result.carry_short, result.carry_long)
        self.year_st = self.year_lt = self.year_harvested = self.year_dividends = ZERO

    def _liquidate(self, k: int) -> None:
        mids = self._mids(k)
        self.out.final_value = self.cash + sum((q * mids[s] for s, q in self.q.items()), start=ZERO)
        day = self.history.days[k]
        self.out.held_tax = self._year_so_far(day.year).tax
        self.out.held_value = self.out.final_value - self.out.held_tax
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
        self.out.liquidation_spread = self.out.final_value - self.cash
        self._close_year(day.year)
        last = self.out.years[-1]
        self.out.liquidation_tax = last.tax
        self.out.after_tax_value = self.cash - last.tax
        self.out.unused_carry = -(last.carry_short + last.carry_long)


def _own_trigger_state(policy: Policy, horizon: date | None) -> Policy:
    """``policy`` with a trigger whose memory is this run's: the objective keeps its fitted risk aversion and
    the session it last decided in, and a fit depends on the run's own tax costs, so variants run with one
    policy (tax-blind, tax-aware) must not share them (the live bot has one trigger per account). With a
    ``horizon`` (the liquidation day), the objective's tax horizon is that day unless its own is earlier."""
    trigger = policy.trigger
    if not isinstance(trigger, ObjectiveTrigger):
        return policy
    spec = trigger.spec
    if horizon is not None and (spec.tax_horizon is None or horizon < spec.tax_horizon):
        spec = replace(spec, tax_horizon=horizon)
    fresh = replace(trigger, spec=spec, fits=FitCache(), sessions=SessionsDecided())
    return replace(policy, trigger=fresh)


def tally_decisions(run: TaxRun) -> str:
    """E.g. ``trimmed 12, waiting 3`` (the tax-aware changes made over the run)."""
    order = [a.value for a in Action]
    return ", ".join(f"{k} {run.decisions[k]}" for k in order if run.decisions.get(k)) or "-"


__all__ = [
    "DividendMode",
    "TaxBacktestOptions",
    "TaxRun",
    "YearTax",
    "simulate_tax",
    "substitute_dividends",
    "substitute_prices",
    "tally_decisions",
    "year_tax",
]
