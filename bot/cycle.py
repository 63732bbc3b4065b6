"""One account's cycle: read the account, decide, plan, gate, and hand the plan to the executor.

``AccountBot.tick`` is what the scheduler calls. It first finishes what is in flight (a plan being executed, a
held plan a person has approved), and only then, when a cycle is due and the market is open inside the
configured window, reads the account and plans anew. All decisions come from ``strategies/`` (pure code);
this module only gathers their inputs, stores their outputs and explains them in the log.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import structlog

from bot.broker.alpaca import AlpacaBroker
from bot.broker.models import BrokerClock
from bot.clock import Clock
from bot.config import AccountConfig, BotConfig
from bot.execution import ExecutionSettings, PlanExecutor
from bot.guards import check_limits, materially_different, needs_approval
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
        self, config: BotConfig, account: AccountConfig, broker: AlpacaBroker, store: StateStore, clock: Clock
    ) -> None:
        self.config = config
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
            if plan.status == "approved":
                self.store.set_plan_status(plan.plan_id, "executing", "approved; executing")
                log.info("approved plan starts executing", plan_id=plan.plan_id)
                return self.store.get_plan(plan.plan_id)
            if plan.status == "executing":
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
                    plan.plan_id, "expired", "no decision before the market close", expected="held"
                )
                self.store.expire_approval(plan.plan_id)
                log.info("held plan expired without a decision", plan_id=plan.plan_id)

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
        return plan_rebalance(
            snapshot,
            self.config.targets.to_allocation(),
            self.config.bands.to_policy(),
            self.config.planner_settings(),
        )

    def run_cycle(self, run_id: str) -> CycleOutcome:
        view = self.read_view()
        plan = self.make_plan(view)
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
        return self._gate_and_start(plan, run_id)

    def _gate_and_start(self, plan: RebalancePlan, run_id: str) -> CycleOutcome:
        now = self.clock.now()
        content_hash = plan.content_hash()
        pending = self._pending_plan()
        if pending is not None and not materially_different(pending.details, plan):
            return CycleOutcome("held, waiting for approval", pending.plan_id)
        if self._rejected_today(content_hash, now):
            return CycleOutcome("same plan was rejected today; not asking again", detail=content_hash[:10])
        plan_id = self._new_plan_id(content_hash, now)
        self.store.save_plan(
            plan_id,
            run_id,
            self.account.name,
            content_hash,
            "planned",
            plan.explain(),
            plan_details(plan),
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
        gate = needs_approval(plan, self.config.approval, self.account.manual)
        if gate.allowed:
            expires = self.broker.clock().next_close
            self.store.set_plan_status(plan_id, "held", "; ".join(gate.reasons))
            self.store.request_approval(plan_id, content_hash, expires)
            self.store.audit(
                "approval_requested",
                run_id=run_id,
                account=self.account.name,
                plan_id=plan_id,
                reasons=list(gate.reasons),
            )
            log.warning(
                "plan held for approval",
                plan_id=plan_id,
                reasons=list(gate.reasons),
                gross_notional=str(plan.gross_notional),
            )
            return CycleOutcome("held for approval", plan_id, "; ".join(gate.reasons))
        self.store.set_plan_status(plan_id, "executing", "within the approval policy")
        log.info("plan executing", plan_id=plan_id, explanation=plan.explain())
        status = self.executor.advance(self.store.get_plan(plan_id))
        return CycleOutcome(f"plan {status}", plan_id)

    def _pending_plan(self) -> PlanRecord | None:
        held = self.store.plans(account=self.account.name, status="held", limit=1)
        return held[0] if held else None

    def _rejected_today(self, content_hash: str, now: datetime) -> bool:
        return any(
            p.content_hash == content_hash and p.created_at.date() == now.date()
            for p in self.store.plans(account=self.account.name, status="rejected", limit=20)
        )

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
