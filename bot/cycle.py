"""One account's cycle: read the account, decide, plan, gate, and hand the plan to the executor.

``AccountBot.tick`` is what the scheduler calls. It first finishes what is in flight (a plan being executed, a
held plan a person has approved), and only then, when a cycle is due and the market is open inside the
configured window, reads the account and plans anew. All decisions come from ``strategies/`` (pure code);
this module only gathers their inputs, stores their outputs and explains them in the log.

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
import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import structlog

from bot.approval import reask_cap
from bot.approval.estimates import PlanEstimates, estimate
from bot.approval.lifecycle import drift_moved, expiry_time
from bot.approval.policy import PlanFacts, approval_required
from bot.approval.reask_cap import void_approved
from bot.approval.recheck import recheck_approved
from bot.approval.version import account_plan_version
from bot.broker.alpaca import AlpacaBroker
from bot.broker.models import BrokerClock, BrokerError, BrokerUnavailable
from bot.clock import Clock
from bot.config import AccountConfig, BotConfig, ScheduleConfig
from bot.execution import ExecutionSettings, PlanExecutor
from bot.guards import check_limits, materially_different
from bot.limit_refusal import clear_limits, refusal_line, refuse_on_limits
from bot.snapshot import AccountView, build_snapshot, symbols_of_interest
from bot.state.store import PlanRecord, StateStore, WashSaleRecord
from bot.tax.annotate import TaxAnnotation, annotate_plan
from bot.tax.ledger import household_ledger, wash_rules
from bot.tax.planning import TaxContext, TaxPlanInfo, tax_aware_plan
from bot.tax.reconcile import apply_reconciliation, mismatch_alert, mismatches
from bot.tax.settings import tax_settings
from bot.tax.sync import refresh_fills
from bot.tradable import clear_untradable, refuse_untradable, untradable
from bot.turn import NEW_YORK, CycleOutcome, PlanningTurn
from strategies.plan import RebalancePlan
from strategies.planner import PlannerSettings, plan_rebalance
from strategies.portfolio import PortfolioSnapshot, apply_open_orders
from strategies.tax import HouseholdLedger
from strategies.tax.planning import fold_substitutes

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
        self.on_held = on_held
        """Called with the plan id when a plan is held for approval (the bot sends the prompt)."""
        self.on_alert = on_alert
        """Called with (title, lines, topic) for what needs a person (a tax ledger mismatch, a wash sale)."""
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
        self._assets: dict = {}
        self._last_cycle: datetime | None = None
        self._policy: tuple | None = None
        """(config, its policy trigger), see :meth:`_policy_trigger`."""

    # -- the turn (bot.turn.PlanningTurn) --------------------------------------------------------------------
    @property
    def owner(self) -> str:
        return self.account.name

    @property
    def schedule(self) -> ScheduleConfig:
        return self.config.schedule

    def _paused(self) -> bool:
        return self.account.manual

    def _halted(self) -> CycleOutcome:
        """Halted: send nothing, and cancel the bot's own open orders."""
        canceled = 0
        for record in self.store.orders(account=self.account.name, open_only=True):
            if record.broker_id:
                self.broker.cancel(record.broker_id)
                canceled += 1
        if canceled:
            log.warning("halted: canceled the bot's open orders", canceled=canceled)
        for plan in self.store.unfinished_plans(self.account.name):
            self.executor.advance(plan, halted=True)
        return CycleOutcome("halted", detail=f"canceled {canceled} open orders")

    def _start_approved(self, plan: PlanRecord, clock: BrokerClock, run_id: str) -> CycleOutcome | None:
        """Re-check an approved plan on fresh quotes before anything is sent. None: it stands and now executes
        (as approved, never above the approved amounts); else what happened instead (expired, or superseded
        by a fresh plan that is asked again)."""
        expired = self._expired_before_start(plan, clock)
        if expired is not None:
            return expired
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
        if not check.stands:  # superseded, saying what moved; asked again unless the re-asks are used up
            holding = void_approved(self.store, self.owner, plan, check, run_id, self.trade_date(),
                                    self.config.approval.max_reasks_per_day, self._alert)  # fmt: skip
            if holding is not None:
                return holding
            if not fresh.orders:
                why = "; ".join(check.reasons())
                return CycleOutcome("approved plan no longer needed", plan.plan_id, why)
            return self._gate_and_start(fresh, view, run_id, reask=check.reask(fresh_orders))
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
        return None

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
            "assets": [_asset_check(a) for a in plan.decision.assets],
        }

    def run_cycle(self, run_id: str) -> CycleOutcome:
        held = reask_cap.holding(self.store, self.owner, self.trade_date())
        if held is not None:
            return CycleOutcome("holding: re-ask cap reached", detail=held)
        view = self.read_view()
        problems = untradable(self.config.targets.weights, view.assets)
        if problems:
            return CycleOutcome(
                "refused", detail=refuse_untradable(self.store, self.owner, problems, self._alert)
            )
        clear_untradable(self.store, self.owner)
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
            clear_limits(self.store, self.owner)
            return CycleOutcome(
                "within bands" if not decision.fired else "nothing to trade", detail=decision.reason
            )
        return self._gate_and_start(plan, view, run_id)

    def _gate_and_start(
        self, plan: RebalancePlan, view: AccountView, run_id: str, reask: str | None = None
    ) -> CycleOutcome:
        """Store the plan, refuse it on a hard limit, hold it for approval or start it. ``reask``: the plan
        replaces an approved one that no longer stands, and is asked again whatever the policy says."""
        now = self.clock.now()
        content_hash = account_plan_version(self.account.name, plan)  # binds account, orders and prices
        approval_config = self.config.approval
        if reask is None:
            # A person may approve the held plan (dashboard, CLI) while this cycle runs: it goes first and the
            # next cycle plans on top of it; else a second plan could be held beside the approved one.
            started = [p for p in self.store.unfinished_plans(self.account.name) if p.status != "planned"]
            if started:
                return CycleOutcome("a plan was approved meanwhile; it goes first", started[0].plan_id)
        pending = self._pending_plan()
        if (
            reask is None
            and pending is not None
            and not materially_different(pending.details, plan, approval_config.change_tolerance)
            and not self._tax_picture_changed(pending)
        ):
            return CycleOutcome("held, waiting for approval", pending.plan_id)
        rejected = self._standing_rejection(plan) if reask is None else None
        if rejected is not None:
            return CycleOutcome(
                "rejected; not asking again until the drift changes", rejected.plan_id, rejected.status_reason
            )
        annotation = self.annotate(plan, view)
        estimates = self._estimates(plan, view, annotation)
        info = self._tax_plans.get(plan.content_hash())
        facts = PlanFacts(
            manual_account=self.account.manual,
            first_plan=not self._has_executed_plan(),
            estimated_tax=estimates.tax,
            harvests_losses=info is not None and info.harvests_losses,
            swaps_securities=info is not None and info.swaps_securities,
        )
        gate = approval_required(plan, approval_config, facts)
        reasons = ([reask] if reask else []) + list(gate.reasons)
        if annotation is not None:  # a safety rule, whatever approval.mode says: never wash a loss unasked
            reasons += [f"wash-sale guard: {w}" for w in annotation.wash_warnings]
        plan_id = self._new_plan_id(content_hash, now)
        details = {**plan_details(plan), "estimates": estimates.as_dict(), "approval_reasons": reasons}
        if annotation is not None:
            details["tax"] = {**annotation.as_dict(), **(info.as_dict() if info is not None else {})}
        self.store.save_plan(
            plan_id,
            run_id,
            self.account.name,
            content_hash,
            "planned",
            explain(plan, annotation),
            details,
            now,
        )
        if info is not None:
            self._record_avoided(info, plan_id, run_id, now)
        if pending is not None:
            self.store.set_plan_status(pending.plan_id, "superseded", f"superseded by {plan_id}")
            self.store.expire_approval(pending.plan_id, status="superseded")
        limits = check_limits(
            plan, self.config.limits, self.store.submitted_notional_on(self.account.name, now.date())
        )
        if not limits.allowed:
            self.store.set_plan_status(plan_id, "refused", refusal_line(self.config.limits, limits))
            self.store.audit(
                "plan_refused",
                run_id=run_id,
                account=self.account.name,
                plan_id=plan_id,
                reasons=list(limits.reasons),
            )
            log.warning("plan refused by a hard limit", plan_id=plan_id, reasons=list(limits.reasons))
            line = refuse_on_limits(self.store, self.owner, self.config.limits, limits, self._alert)
            return CycleOutcome("refused", plan_id, line)
        clear_limits(self.store, self.owner)
        if reasons:
            expires = expiry_time(now, self.broker.clock().next_close, approval_config.expiry)
            self.store.set_plan_status(plan_id, "held", "; ".join(reasons))
            self.store.request_approval(plan_id, content_hash, expires)
            self.store.audit(
                "approval_requested",
                run_id=run_id,
                account=self.account.name,
                plan_id=plan_id,
                reasons=reasons,
                content_hash=content_hash,
                expires_at=expires,
            )
            log.warning(
                "plan held for approval",
                plan_id=plan_id,
                reasons=reasons,
                gross_notional=str(plan.gross_notional),
                expires_at=expires.isoformat(),
            )
            self._announce_held(plan_id)
            return CycleOutcome("held for approval", plan_id, "; ".join(reasons))
        self.store.set_plan_status(plan_id, "executing", "within the approval policy")
        log.info("plan executing", plan_id=plan_id, explanation=plan.explain())
        status = self.executor.advance(self.store.get_plan(plan_id))
        return CycleOutcome(f"plan {status}", plan_id)

    def _pending_plan(self) -> PlanRecord | None:
        held = self.store.plans(account=self.account.name, status="held", limit=1)
        return held[0] if held else None

    def _standing_rejection(self, plan: RebalancePlan) -> PlanRecord | None:
        """The latest decided plan, if a person rejected it and the drift has not changed materially since."""
        for earlier in self.store.plans(account=self.account.name, limit=50):
            if earlier.status in ("planned", "held", "refused", "expired", "superseded"):
                continue  # never decided on: says nothing about what a person wants
            if earlier.status != "rejected":
                return None  # a later plan was approved or ran: the rejection is history
            if drift_moved(earlier.details, plan, self.config.approval.reask_drift_change):
                return None
            return earlier
        return None

    def _has_executed_plan(self) -> bool:
        return bool(
            self.store.plans(account=self.account.name, status=("executing", "done", "failed"), limit=1)
        )

    def _estimates(
        self, plan: RebalancePlan, view: AccountView, annotation: TaxAnnotation | None = None
    ) -> PlanEstimates:
        """Spread cost and tax; the tax from the lot ledger when there is one, else from average cost."""
        spreads = {s: (q.bid, q.ask) for s, q in view.quotes.items()}
        basic = estimate(plan, _avg_costs(view), spreads, self.config.approval.tax_rate)
        if annotation is None:
            return basic
        return PlanEstimates(
            spread_cost=basic.spread_cost,
            realised_gain=annotation.realised_gain,
            realised_loss=annotation.realised_loss,
            tax=annotation.estimated_tax,
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
            self._alert(*mismatch_alert(name, outcome.new), "tax")
        if outcome.resolved:
            self._alert(
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
            self._alert(
                f"wash sale in {sale.account}: {sale.symbol}",
                [
                    f"{sale.account} sold {wash.qty} {sale.symbol} at a loss on {sale.sold.isoformat()};"
                    f" {wash.replacement_account} bought {wash.replacement_symbol} on"
                    f" {wash.replacement_day.isoformat()}.",
                    f"Disallowed loss {wash.disallowed:,.2f}: {where}.",
                ],
                "tax",
            )

    def _tax_picture_changed(self, pending: PlanRecord) -> bool:
        """A held plan asked on a ledger that has since been found wrong (or fixed) is asked again: its tax
        estimate, which a person decides on, no longer stands."""
        if self.tax is None:
            return False
        return (pending.details.get("tax") or {}).get("blocked", []) != sorted(self.tax.blocked)

    def _record_avoided(self, info: TaxPlanInfo, plan_id: str, run_id: str, now: datetime) -> None:
        """Audit each wash sale the tax layer steered clear of, once per symbol and day (a held plan is
        planned again every cycle; the avoidance is one)."""
        today = self.trade_date().isoformat()
        seen = {
            (e.fields.get("symbol"), e.fields.get("day"))
            for e in self.store.audit_trail(limit=200, event="wash_sale_avoided", account=self.account.name)
        }
        for symbol, reason in info.wash_sales_avoided():
            if (symbol, today) in seen:
                continue
            seen.add((symbol, today))
            self.store.audit(
                "wash_sale_avoided",
                run_id=run_id,
                account=self.account.name,
                plan_id=plan_id,
                symbol=symbol,
                day=today,
                reason=reason,
            )
            log.info("wash sale avoided", symbol=symbol, reason=reason)

    def annotate(self, plan: RebalancePlan, view: AccountView) -> TaxAnnotation | None:
        """The plan's tax picture from the latest ledger (None without a ``tax`` section)."""
        if self.config.tax is None or self.tax is None or not plan.orders:
            return None
        info = self._tax_plans.get(plan.content_hash())
        return annotate_plan(
            plan,
            self.tax.ledger,
            self.tax.fills,
            self.account.name,
            self.trade_date(),
            self.config.tax,
            wash_rules(self.config),
            blocked=self.tax.blocked,
            avg_costs=_avg_costs(view),
            notes=([self.tax.note] if self.tax.note else []) + (info.notes() if info is not None else []),
            planned=info.taxed if info is not None else None,
        )

    def trade_date(self):  # noqa: ANN201 - date
        """Today on the New York calendar (the trade date tax law counts in)."""
        return self.clock.now().astimezone(NEW_YORK).date()

    def preview(self, run_id: str = "preview", brief: str | None = None) -> tuple[RebalancePlan, str]:
        """A dry run (``rebalance-bot plan``): the plan that would be made now and its explanation, with the
        tax section when the config has one; ``brief``: the reason in one line (see ``RebalancePlan``)."""
        view = self.read_view()
        self.tax = self.refresh_taxes(view, run_id)
        plan = self.make_plan(view)
        return plan, explain(plan, self.annotate(plan, view), brief)

    def _alert(self, title: str, lines: Sequence[str], topic: str) -> None:
        if self.on_alert is None:
            log.warning("alert", topic=topic, title=title)
            return
        try:
            self.on_alert(title, lines, topic)
        except Exception as exc:  # noqa: BLE001 - an alert that cannot be sent must not stop the bot
            log.error("could not send an alert", title=title, error=str(exc))

    def _announce_held(self, plan_id: str) -> None:
        if self.on_held is None:
            return
        try:
            self.on_held(plan_id)
        except Exception as exc:  # noqa: BLE001 - a prompt that cannot be sent must not stop the bot
            log.error("could not send the approval prompt", plan_id=plan_id, error=str(exc))

    def _new_plan_id(self, content_hash: str, now: datetime) -> str:
        base = f"rb-{self.account.name}-{now:%Y%m%d%H%M}-{content_hash[:8]}"
        plan_id, n = base, 1
        while self.store.get_plan(plan_id) is not None:
            n += 1
            plan_id = f"{base}-{n}"
        return plan_id


def explain(plan: RebalancePlan, annotation: TaxAnnotation | None, brief: str | None = None) -> str:
    """The plan's explanation, with its tax section when there is one."""
    text = plan.explain(brief)
    return text if annotation is None else text + "\n" + "\n".join(annotation.lines())


def _avg_costs(view: AccountView) -> dict[str, Decimal]:
    return {p.symbol: p.avg_entry_price for p in view.positions if p.qty > 0 and p.avg_entry_price > 0}


def plan_details(plan: RebalancePlan) -> dict:
    """The stored form of a plan: its orders in sending order, with the numbers behind them."""
    orders = []
    for seq, order in enumerate(plan.orders):
        orders.append(
            {
                "seq": seq,
                "symbol": order.symbol,
                "side": order.side.value,
                "qty": str(order.qty) if order.qty is not None else None,
                "notional": str(order.notional) if order.notional is not None else None,
                "est_price": str(order.est_price),
                "est_notional": str(order.est_notional),
                "reason": order.reason,
            }
        )
    return json.loads(
        json.dumps(
            {
                "orders": orders,
                "skipped": [{"symbol": s.symbol, "reason": s.reason} for s in plan.skipped],
                "equity": str(plan.equity),
                "gross_notional": str(plan.gross_notional),
                "trigger": {
                    "name": plan.decision.trigger,
                    "fired": plan.decision.fired,
                    "reason": plan.decision.reason,
                    "assets": [_asset_check(a) for a in plan.decision.assets],
                },
                "weights_before": {k: str(v) for k, v in plan.weights_before.items()},
                "weights_after": {k: str(v) for k, v in plan.weights_after.items()},
            }
        )
    )


def _asset_check(check) -> dict:  # noqa: ANN001 - strategies.triggers.AssetCheck
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in dataclasses.asdict(check).items()}
