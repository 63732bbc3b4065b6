"""One account's cycle: read the account, decide, plan, gate, and hand the plan to the executor.

``AccountBot.tick`` is what the scheduler calls. It first finishes what is in flight (a plan being executed, a
held plan a person has approved), and only then, when a cycle is due and the market is open inside the
configured window, reads the account and plans anew. All decisions come from ``strategies/`` (pure code);
this module only gathers their inputs and explains them in the log. What then happens to the plan (stored,
hard limits, approval, start, audit) is the pipeline's the household bot shares (:mod:`bot.pipeline`); the
account's plan is described to it by :class:`bot.account_plan.AccountProposal`.

The approval lifecycle (see :mod:`bot.approval.lifecycle`): a plan the policy holds waits as ``held`` with a
pending request until a person decides or the request expires (at the market close by default). An approved
plan is re-checked on fresh quotes before anything is sent: if its prices or its trades moved beyond the
tolerances it is superseded and the fresh plan is asked again; otherwise the approved orders are executed,
never above the approved amounts. A rejected plan is not asked again until the drift changes materially.

Taxes (issue 8, with a ``tax`` section in the config): every cycle first brings the lot ledger up to date
from the broker's FILL activities since the last one seen and reconciles it with the positions just read. A
symbol where they disagree is blocked from tax-aware trading (and a person alerted once) until they agree
again. Each plan's sells are then annotated lot by lot (:mod:`bot.tax.annotate`): realised gain split short
and long term and the estimated tax go into the plan's explanation, its stored details, the estimate the
approval policy and the prompt use; a plan that would wash a loss is held for a person.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import structlog

from bot.account_plan import AccountProposal, asset_check, explain, plan_details
from bot.approval.recheck import Recheck, recheck_approved
from bot.broker.alpaca import AlpacaBroker
from bot.broker.models import BrokerError, BrokerUnavailable
from bot.clock import Clock
from bot.config import AccountConfig, BotConfig, ScheduleConfig
from bot.execution import ExecutionSettings, PlanExecutor
from bot.pipeline import Notices, PlanPipeline, Replacement, stages
from bot.snapshot import AccountView, build_snapshot, symbols_of_interest
from bot.state.store import PlanRecord, StateStore, WashSaleRecord
from bot.tax.annotate import TaxAnnotation
from bot.tax.ledger import household_ledger
from bot.tax.planning import TaxContext, TaxPlanInfo, tax_aware_plan
from bot.tax.reconcile import apply_reconciliation, mismatch_alert, mismatches
from bot.tax.settings import tax_settings
from bot.tax.sync import refresh_fills
from bot.tradable import untradable
from bot.turn import CycleOutcome, PlanningTurn
from strategies.plan import RebalancePlan
from strategies.planner import PlannerSettings, plan_rebalance
from strategies.portfolio import PortfolioSnapshot, apply_open_orders
from strategies.tax import HouseholdLedger
from strategies.tax.planning import fold_substitutes

__all__ = ["AccountBot", "CycleOutcome", "explain", "plan_details"]

log = structlog.get_logger(__name__)


class AccountBot(PlanningTurn):
    """Keeps one account on its targets (its turn: :class:`bot.turn.PlanningTurn`)."""

    def __init__(
        self,
        config: BotConfig,
        account: AccountConfig,
        broker: AlpacaBroker,
        store: StateStore,
        clock: Clock,
        on_held: Callable[[str], None] | None = None,
        on_alert: Callable[[str, Sequence[str], str], None] | None = None,
    ) -> None:
        self.config = config
        self.notices = Notices(on_held, on_alert)
        """The approval prompt (``on_held``: called with the plan id) and alerts (``on_alert``: called with
        (title, lines, topic) for what needs a person: a tax ledger mismatch, a wash sale)."""
        self.tax: TaxContext | None = None
        """The latest cycle's tax picture (None without a ``tax`` section, or before the first cycle)."""
        self._tax_plans: dict[str, TaxPlanInfo] = {}
        """What the tax layer did to the plans of the latest ``make_plan``, by content hash."""
        self.last_check: dict | None = None
        """The latest drift reading (time, equity, per-asset weight/target/drift), for the dashboard."""
        self.account = account
        self.broker = broker
        self.store = store
        self.clock = clock
        self.executor = PlanExecutor(
            account.name,
            broker,
            store,
            clock,
            ExecutionSettings(
                order_timeout=timedelta(minutes=config.execution.order_timeout_minutes),
                cash_buffer=config.execution.cash_buffer,
                slicing=config.execution.slicing,
            ),
        )
        self.pipeline = PlanPipeline(
            owner=account.name,
            id_prefix="rb",
            noun="plan",
            members=(account.name,),
            manual=account.manual,
            store=store,
            clock=clock,
            notices=self.notices,
            approval=config.approval,
            limits=config.limits,
            executor=self.executor,
            next_close=lambda: self.broker.clock().next_close,
        )
        """What happens to the plans this bot makes (:mod:`bot.pipeline`)."""
        self._assets: dict = {}
        self._last_cycle: datetime | None = None
        self._policy: tuple | None = None
        """(config, its policy trigger), see :meth:`_policy_trigger`."""

    # -- the turn (bot.turn.PlanningTurn) --------------------------------------------------------------------
    @property
    def schedule(self) -> ScheduleConfig:
        return self.config.schedule

    def _paused(self) -> bool:
        return self.account.manual

    def _halted(self) -> CycleOutcome:
        """Halted: send nothing, and cancel the bot's own open orders."""
        canceled = stages.cancel_open_orders(self.store, {self.account.name: self.broker})
        for plan in self.store.unfinished_plans(self.account.name):
            self.executor.advance(plan, halted=True)
        return CycleOutcome("halted", detail=f"canceled {canceled} open orders")

    def recheck(self, plan: PlanRecord, run_id: str) -> tuple[Recheck, Replacement]:
        """The approved plan re-checked on fresh quotes against the plan made now (its prices, and its orders
        against the fresh ones); if it no longer stands, that fresh plan replaces it, asked again."""
        view = self.read_view()
        self.tax = self.refresh_taxes(view, run_id)
        fresh = self.make_plan(view, recheck=True)
        self._remember(fresh)
        # like with like: the fresh plan's own estimate (the side's quote) where it trades the symbol
        prices = {
            **build_snapshot(view, fractional_allowed=self.config.execution.fractional).prices,
            **{o.symbol: o.est_price for o in fresh.orders},
        }
        fresh_orders = plan_details(fresh)["orders"]
        check = recheck_approved(
            self.broker, self.config.approval, plan, prices, self.clock.now(), fresh_orders
        )

        def replace() -> CycleOutcome:
            if not fresh.orders:
                return CycleOutcome(
                    "approved plan no longer needed", plan.plan_id, "; ".join(check.reasons())
                )
            return self.pipeline.gate(self._proposal(fresh, view), run_id, reask=check.reask(fresh_orders))

        return check, replace

    def start_approved(self, plan: PlanRecord, run_id: str, check: Recheck) -> None:
        """The approved plan stands on fresh quotes: it executes as approved, never above those amounts."""
        self.store.set_plan_status(
            plan.plan_id, "executing", f"{plan.status_reason}; stands on fresh quotes", expected="approved"
        )
        self.store.audit(
            "approved_plan_started", run_id=run_id, account=self.account.name, plan_id=plan.plan_id
        )
        log.info(
            "approved plan stands on fresh quotes; executing",
            plan_id=plan.plan_id,
            tolerances={s: f"{t.value:.2%}" for s, t in check.tolerances.items()},
        )

    # -- the cycle -------------------------------------------------------------------------------------------
    def read_view(self) -> AccountView:
        """One consistent read of the account: balances, positions, open orders, quotes in one request."""
        account = self.broker.account()
        positions = tuple(self.broker.positions())
        open_orders = tuple(self.broker.open_orders())
        wanted = set(self.config.targets.weights)
        if self.config.tax is not None:  # substitutes: what a harvest or a wash-sale guard may buy instead
            wanted |= {s for sleeve in self.config.tax.sleeves() if sleeve[0] in wanted for s in sleeve}
        symbols = symbols_of_interest(wanted, positions, open_orders)
        missing = [s for s in symbols if s not in self._assets]
        if missing:
            self._assets.update(self.broker.assets(missing))
        quotes = self.broker.latest_quotes(symbols)
        return AccountView(account, positions, open_orders, quotes, {s: self._assets[s] for s in symbols})

    def make_plan(self, view: AccountView, recheck: bool = False) -> RebalancePlan:
        """The plan for this reading of the account; tax-aware (harvest, lots, wash sales) with a ``tax``
        section once the cycle has its tax picture (:meth:`refresh_taxes`). ``recheck``: re-planning an
        approved plan, so a trigger on a schedule decides now (``TriggerContext.recheck``)."""
        snapshot = build_snapshot(view, fractional_allowed=self.config.execution.fractional)
        self._tax_plans = {}
        if self.config.tax is None or self.tax is None:
            return self._plan(snapshot, recheck=recheck)[0]
        settings = tax_settings(self.config, self.account.name)
        folded = fold_substitutes(snapshot, self.config.targets.to_allocation(), settings)
        day = self.trade_date()
        base, planner_settings = self._plan(
            folded, self.tax.sell_taxes(snapshot, self.account.name, day, settings), recheck
        )
        plan, info = tax_aware_plan(
            base, snapshot, self.tax, self.account.name, day, settings, planner_settings
        )
        self._tax_plans[plan.content_hash()] = info
        return plan

    def _plan(
        self, snapshot: PortfolioSnapshot, sell_taxes: dict[str, float] | None = None, recheck: bool = False
    ) -> tuple[RebalancePlan, PlannerSettings]:
        """``sell_taxes``: tax per dollar sold by symbol (with a ``tax`` section), a cost to the triggers."""
        dynamic = self._policy_trigger()  # the config's ``policy`` section, if any
        if dynamic is not None:
            return self._make_dynamic_plan(snapshot, *dynamic, sell_taxes or {}, recheck), dynamic[1]
        settings = self.config.planner_settings()
        plan = plan_rebalance(
            snapshot, self.config.targets.to_allocation(), self.config.bands.to_policy(), settings
        )
        return plan, settings

    def _policy_trigger(self):  # noqa: ANN202 - BotConfig.policy_trigger's tuple, or None
        """The policy's trigger, built once per config: the objective keeps its fitted risk aversion in the
        trigger (one fit per refit period), so a trigger rebuilt every cycle would refit every cycle."""
        if self._policy is None or self._policy[0] is not self.config:
            self._policy = (self.config, self.config.policy_trigger())
        return self._policy[1]

    def _make_dynamic_plan(
        self, snapshot, trigger, settings, lookback: int, sell_taxes, recheck
    ) -> RebalancePlan:  # noqa: ANN001
        """The plan under the policy's trigger: context from the clock, the store, daily bars and the tax a
        sale would pay (the objective weighs it against the drift).

        Bars are fetched for the held symbols outside the target too: the objective counts such a position
        as drift to sell (its target is zero), and without its returns it could not price that risk and
        would fall back to the bands for the whole portfolio."""
        from bot.market import live_context

        targets = self.config.targets.to_allocation()
        held = sorted(set(apply_open_orders(snapshot).held_symbols()) - set(targets.symbols))
        context = live_context(
            self.broker, self.store, self.account.name, self.clock.now(), [*targets.symbols, *held], lookback,
            sell_taxes,
        )  # fmt: skip
        decision = trigger.evaluate(snapshot, targets, dataclasses.replace(context, recheck=recheck))
        return plan_rebalance(snapshot, targets, self.config.bands.to_policy(), settings, decision)

    def _remember(self, plan: RebalancePlan) -> None:
        self.last_check = {
            "at": self.clock.now().isoformat(),
            "equity": str(plan.equity),
            "assets": [asset_check(a) for a in plan.decision.assets],
        }

    def run_cycle(self, run_id: str) -> CycleOutcome:
        held = self.pipeline.holding()
        if held is not None:
            return held
        view = self.read_view()
        refused = self.pipeline.untradable(untradable(self.config.targets.weights, view.assets))
        if refused is not None:
            return refused
        self.tax = self.refresh_taxes(view, run_id)
        plan = self.make_plan(view)
        self._remember(plan)
        decision = plan.decision
        log.info(
            "cycle",
            trigger=decision.trigger,
            fired=decision.fired,
            reason=decision.reason,
            equity=str(plan.equity),
            orders=len(plan.orders),
        )
        if not plan.orders:
            action = "within bands" if not decision.fired else "nothing to trade"
            return self.pipeline.nothing_to_trade(action, decision.reason)
        return self.pipeline.gate(self._proposal(plan, view), run_id)

    def _proposal(self, plan: RebalancePlan, view: AccountView) -> AccountProposal:
        """The plan as the pipeline reads it, with this cycle's tax picture."""
        info = self._tax_plans.get(plan.content_hash())
        return AccountProposal(
            self.account.name, plan, view, self.config, self.tax, info, self.trade_date(), self.store
        )

    # -- taxes (issue 8) -------------------------------------------------------------------------------------
    def refresh_taxes(self, view: AccountView, run_id: str) -> TaxContext | None:
        """Bring the ledger up to date, reconcile it with the positions in ``view``, block and alert. None
        without a ``tax`` section. If the ledger cannot be brought up to date (the broker's activities cannot
        be read, or hold one the ledger cannot take), every symbol is treated as blocked for this cycle
        (nothing is recorded): no tax-aware decision on a stale ledger; the rebalance itself goes on."""
        tax = self.config.tax
        if tax is None:
            return None
        name = self.account.name
        try:
            refresh_fills(self.broker, self.store, name)
            ledger, fills = household_ledger(self.store, self.config)
            positions = {p.symbol: p.qty for p in view.positions}
            found = mismatches(ledger, name, positions, tax.reconcile_tolerance)
            if found:
                # a fill may have landed between reading the positions and the activities: look once more
                refresh_fills(self.broker, self.store, name)
                ledger, fills = household_ledger(self.store, self.config)
                positions = {p.symbol: p.qty for p in self.broker.positions()}
                found = mismatches(ledger, name, positions, tax.reconcile_tolerance)
        except (BrokerError, BrokerUnavailable, ValueError) as exc:
            # ValueError: an activity the ledger cannot take (e.g. a short sale made by hand)
            log.error("tax ledger: cannot bring it up to date; tax-aware trading paused", error=str(exc))
            held = frozenset(p.symbol for p in view.positions) | frozenset(self.config.targets.weights)
            note = f"tax ledger not up to date ({exc}): every sell estimated at average cost"
            try:
                ledger, fills = household_ledger(self.store, self.config)
            except ValueError:
                ledger, fills = HouseholdLedger(), []
            return TaxContext(ledger, tuple(fills), held, note)
        outcome = apply_reconciliation(self.store, name, found, run_id)
        if outcome.new:
            self.notices.alert(*mismatch_alert(name, outcome.new), "tax")
        if outcome.resolved:
            self.notices.alert(
                f"tax ledger of {name} agrees with the broker again",
                [f"Tax-aware trading resumes in {', '.join(outcome.resolved)}."],
                "tax",
            )
        self._record_wash_sales(ledger, run_id)
        return TaxContext(ledger, tuple(fills), outcome.blocked)

    def _record_wash_sales(self, ledger: HouseholdLedger, run_id: str) -> None:
        """Wash sales that happened anyway (a dividend reinvested by the broker, a buy by hand): recorded
        with the disallowed loss once, and a person told."""
        for wash in ledger.wash_sales:
            sale = wash.loss_sale
            if self.account.name not in (sale.account, wash.replacement_account):
                continue
            record = WashSaleRecord(
                sale.sale_fill_id,
                sale.lot_id,
                wash.replacement_fill_id,
                sale.account,
                sale.symbol,
                sale.sold,
                wash.replacement_account,
                wash.replacement_symbol,
                wash.replacement_day,
                wash.qty,
                wash.disallowed,
                wash.permanent,
                self.clock.now(),
            )
            if not self.store.record_wash_sale(record):
                continue
            where = (
                "lost for good (the replacement is in a tax-advantaged account)"
                if wash.permanent
                else "added to the basis of the replacement shares"
            )
            self.store.audit(
                "wash_sale_incurred",
                run_id=run_id,
                account=sale.account,
                symbol=sale.symbol,
                replacement=wash.replacement_fill_id,
                disallowed=wash.disallowed,
                permanent=wash.permanent,
            )
            self.notices.alert(
                f"wash sale in {sale.account}: {sale.symbol}",
                [
                    f"{sale.account} sold {wash.qty} {sale.symbol} at a loss on {sale.sold.isoformat()};"
                    f" {wash.replacement_account} bought {wash.replacement_symbol} on"
                    f" {wash.replacement_day.isoformat()}.",
                    f"Disallowed loss {wash.disallowed:,.2f}: {where}.",
                ],
                "tax",
            )

    def annotate(self, plan: RebalancePlan, view: AccountView) -> TaxAnnotation | None:
        """The plan's tax picture from the latest ledger (None without a ``tax`` section)."""
        return self._proposal(plan, view).annotation()

    def preview(self, run_id: str = "preview", brief: str | None = None) -> tuple[RebalancePlan, str]:
        """A dry run (``rebalance-bot plan``): the plan that would be made now and its explanation, with the
        tax section when the config has one; ``brief``: the reason in one line (see ``RebalancePlan``)."""
        view = self.read_view()
        self.tax = self.refresh_taxes(view, run_id)
        plan = self.make_plan(view)
        return plan, explain(plan, self.annotate(plan, view), brief)
