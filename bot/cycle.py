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
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import structlog

from bot.approval.estimates import PlanEstimates, estimate
from bot.approval.lifecycle import drift_moved, expiry_time, recheck_reasons
from bot.approval.policy import PlanFacts, approval_required
from bot.broker.alpaca import AlpacaBroker
from bot.broker.models import BrokerClock
from bot.clock import Clock
from bot.config import AccountConfig, BotConfig
from bot.execution import ExecutionSettings, PlanExecutor
from bot.guards import check_limits, materially_different
from bot.snapshot import AccountView, build_snapshot, symbols_of_interest
from bot.state.store import PlanRecord, StateStore
from strategies.plan import RebalancePlan
from strategies.planner import plan_rebalance

log = structlog.get_logger(__name__)

_NEW_YORK = ZoneInfo("America/New_York")


@dataclass(frozen=True)
class CycleOutcome:
    """What one tick did, for the caller's summary and for tests."""

    action: str
    plan_id: str | None = None
    detail: str = ""


class AccountBot:
    """Keeps one account on its targets."""

    def __init__(
        self,
        config: BotConfig,
        account: AccountConfig,
        broker: AlpacaBroker,
        store: StateStore,
        clock: Clock,
        on_held: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.on_held = on_held
        """Called with the plan id when a plan is held for approval (the bot sends the prompt)."""
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

    # -- the tick --------------------------------------------------------------------------------------------
    def tick(self, broker_clock: BrokerClock, run_id: str) -> CycleOutcome:
        structlog.contextvars.bind_contextvars(account=self.account.name, run_id=run_id)
        try:
            if self.store.get_flag("halted"):
                return self._halted()
            in_flight = self._in_flight()
            if in_flight is not None:
                if not broker_clock.is_open:
                    return CycleOutcome("waiting for the open", in_flight.plan_id)
                if in_flight.status == "approved":
                    outcome = self._start_approved(in_flight, broker_clock, run_id)
                    if outcome is not None:
                        return outcome
                    in_flight = self.store.get_plan(in_flight.plan_id) or in_flight
                status = self.executor.advance(in_flight)
                return CycleOutcome(f"plan {status}", in_flight.plan_id)
            self._expire_held(broker_clock)
            if not self._cycle_due(broker_clock):
                return CycleOutcome("idle")
            self._last_cycle = broker_clock.timestamp
            return self.run_cycle(run_id)
        finally:
            structlog.contextvars.unbind_contextvars("account", "run_id")

    def _in_flight(self) -> PlanRecord | None:
        for plan in self.store.unfinished_plans(self.account.name):
            if plan.status in ("approved", "executing"):
                return plan
            if plan.status == "planned":  # stored, then the process died before it was gated
                self.store.set_plan_status(plan.plan_id, "superseded", "interrupted before the approval gate")
        return None

    def _cycle_due(self, clock: BrokerClock) -> bool:
        schedule = self.config.schedule
        if self.account.manual:
            return False
        if schedule.only_when_open and not clock.is_open:
            return False
        if clock.is_open:
            session_open = self._session_open(clock)
            if clock.timestamp < session_open + timedelta(minutes=schedule.skip_first_minutes):
                return False
            if clock.timestamp > clock.next_close - timedelta(minutes=schedule.stop_before_close_minutes):
                return False
        if self._last_cycle is None:
            return True
        return clock.timestamp - self._last_cycle >= timedelta(minutes=schedule.interval_minutes)

    def _session_open(self, clock: BrokerClock) -> datetime:
        """The current session's open: the broker reports only the next one, so take it from the calendar rule
        that regular sessions open at 09:30 New York time."""
        local = clock.timestamp.astimezone(_NEW_YORK)
        return local.replace(hour=9, minute=30, second=0, microsecond=0)

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

    def _expire_held(self, clock: BrokerClock) -> None:
        for approval in self.store.pending_approvals():
            plan = self.store.get_plan(approval.plan_id)
            if plan is None or plan.account != self.account.name:
                continue
            if approval.expires_at is not None and clock.timestamp >= approval.expires_at:
                self.store.set_plan_status(
                    plan.plan_id, "expired", "no decision before the request expired", expected="held"
                )
                self.store.expire_approval(plan.plan_id)
                self.store.audit(
                    "approval_expired", account=self.account.name, plan_id=plan.plan_id, state="held"
                )
                log.info("held plan expired without a decision", plan_id=plan.plan_id)

    def _start_approved(self, plan: PlanRecord, clock: BrokerClock, run_id: str) -> CycleOutcome | None:
        """Re-check an approved plan on fresh quotes before anything is sent. None: it stands and now executes
        (as approved, never above the approved amounts); else what happened instead (expired, or superseded
        by a fresh plan that is asked again)."""
        approval = self.store.get_approval(plan.plan_id)
        if (
            approval is not None
            and approval.expires_at is not None
            and clock.timestamp >= approval.expires_at
        ):
            self.store.set_plan_status(
                plan.plan_id,
                "expired",
                "approved, but the market closed before it could start",
                expected="approved",
            )
            self.store.audit(
                "approval_expired", account=self.account.name, plan_id=plan.plan_id, state="approved"
            )
            log.warning("approved plan expired before it could start", plan_id=plan.plan_id)
            return CycleOutcome("approval expired", plan.plan_id)
        view = self.read_view()
        fresh = self.make_plan(view)
        self._remember(fresh)
        # like with like: the fresh plan's own estimate (the side's quote) where it trades the symbol
        prices = {
            **build_snapshot(view, fractional_allowed=self.config.execution.fractional).prices,
            **{o.symbol: o.est_price for o in fresh.orders},
        }
        approval_config = self.config.approval
        why = recheck_reasons(
            plan.details, fresh, prices, approval_config.price_tolerance, approval_config.change_tolerance
        )
        if why:
            self.store.set_plan_status(
                plan.plan_id, "superseded", "re-checked on approval: " + "; ".join(why), expected="approved"
            )
            self.store.audit(
                "approved_plan_superseded",
                run_id=run_id,
                account=self.account.name,
                plan_id=plan.plan_id,
                reasons=why,
            )
            log.warning("approved plan no longer stands on fresh quotes", plan_id=plan.plan_id, reasons=why)
            if not fresh.orders:
                return CycleOutcome("approved plan no longer needed", plan.plan_id, "; ".join(why))
            return self._gate_and_start(
                fresh, view, run_id, reask=f"it replaces approved plan {plan.plan_id}: " + "; ".join(why)
            )
        self.store.set_plan_status(
            plan.plan_id, "executing", f"{plan.status_reason}; stands on fresh quotes", expected="approved"
        )
        self.store.audit(
            "approved_plan_started", run_id=run_id, account=self.account.name, plan_id=plan.plan_id
        )
        log.info("approved plan stands on fresh quotes; executing", plan_id=plan.plan_id)
        return None

    # -- the cycle -------------------------------------------------------------------------------------------
    def read_view(self) -> AccountView:
        """One consistent read of the account: balances, positions, open orders, quotes in one request."""
        account = self.broker.account()
        positions = tuple(self.broker.positions())
        open_orders = tuple(self.broker.open_orders())
        symbols = symbols_of_interest(set(self.config.targets.weights), positions, open_orders)
        missing = [s for s in symbols if s not in self._assets]
        if missing:
            self._assets.update(self.broker.assets(missing))
        quotes = self.broker.latest_quotes(symbols)
        return AccountView(account, positions, open_orders, quotes, {s: self._assets[s] for s in symbols})

    def make_plan(self, view: AccountView) -> RebalancePlan:
        snapshot = build_snapshot(view, fractional_allowed=self.config.execution.fractional)
        dynamic = self.config.policy_trigger()  # the config's ``policy`` section (issue 5), if any
        if dynamic is not None:
            return self._make_dynamic_plan(snapshot, *dynamic)
        return plan_rebalance(
            snapshot,
            self.config.targets.to_allocation(),
            self.config.bands.to_policy(),
            self.config.planner_settings(),
        )

    def _make_dynamic_plan(self, snapshot, trigger, settings, lookback: int) -> RebalancePlan:  # noqa: ANN001
        """The plan under the dynamic trigger: context from the clock, the store and daily bars."""
        from bot.market import live_context

        targets = self.config.targets.to_allocation()
        context = live_context(
            self.broker, self.store, self.account.name, self.clock.now(), targets.symbols, lookback
        )
        decision = trigger.evaluate(snapshot, targets, context)
        return plan_rebalance(snapshot, targets, self.config.bands.to_policy(), settings, decision)

    def _remember(self, plan: RebalancePlan) -> None:
        self.last_check = {
            "at": self.clock.now().isoformat(),
            "equity": str(plan.equity),
            "assets": [_asset_check(a) for a in plan.decision.assets],
        }

    def run_cycle(self, run_id: str) -> CycleOutcome:
        view = self.read_view()
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
        content_hash = plan.content_hash()
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
        ):
            return CycleOutcome("held, waiting for approval", pending.plan_id)
        rejected = self._standing_rejection(plan) if reask is None else None
        if rejected is not None:
            return CycleOutcome(
                "rejected; not asking again until the drift changes", rejected.plan_id, rejected.status_reason
            )
        estimates = self._estimates(plan, view)
        facts = PlanFacts(
            manual_account=self.account.manual,
            first_plan=not self._has_executed_plan(),
            estimated_tax=estimates.tax,
        )
        gate = approval_required(plan, approval_config, facts)
        reasons = ([reask] if reask else []) + list(gate.reasons)
        plan_id = self._new_plan_id(content_hash, now)
        details = {**plan_details(plan), "estimates": estimates.as_dict(), "approval_reasons": reasons}
        self.store.save_plan(
            plan_id,
            run_id,
            self.account.name,
            content_hash,
            "planned",
            plan.explain(),
            details,
            now,
        )
        if pending is not None:
            self.store.set_plan_status(pending.plan_id, "superseded", f"superseded by {plan_id}")
            self.store.expire_approval(pending.plan_id, status="superseded")
        limits = check_limits(
            plan, self.config.limits, self.store.submitted_notional_on(self.account.name, now.date())
        )
        if not limits.allowed:
            self.store.set_plan_status(plan_id, "refused", "; ".join(limits.reasons))
            self.store.audit(
                "plan_refused",
                run_id=run_id,
                account=self.account.name,
                plan_id=plan_id,
                reasons=list(limits.reasons),
            )
            log.warning("plan refused by a hard limit", plan_id=plan_id, reasons=list(limits.reasons))
            return CycleOutcome("refused", plan_id, "; ".join(limits.reasons))
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

    def _estimates(self, plan: RebalancePlan, view: AccountView) -> PlanEstimates:
        avg_costs = {
            p.symbol: p.avg_entry_price for p in view.positions if p.qty > 0 and p.avg_entry_price > 0
        }
        spreads = {s: (q.bid, q.ask) for s, q in view.quotes.items()}
        return estimate(plan, avg_costs, spreads, self.config.approval.tax_rate)

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
