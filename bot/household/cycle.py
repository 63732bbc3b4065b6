"""The household's turn in each tick: one plan for every member account, one approval, orders per account.

``HouseholdBot.tick`` mirrors the single-account cycle (:class:`bot.cycle.AccountBot`) for a household:

1. What is in flight goes first: an executing household plan is advanced (each account's child plan by that
   account's executor, :mod:`bot.household.execution`); an approved one is re-checked on fresh quotes and
   then fanned out, or superseded by a fresh plan that is asked again when a price moved beyond its
   volatility-scaled tolerance (:mod:`bot.approval.recheck`, the same re-check as an account's; at most
   ``approval.max_reasks_per_day`` re-asks a day, :mod:`bot.approval.reask_cap`).
2. Otherwise, when a cycle is due, every member is read through its own client and the lot ledger refreshed
   (:mod:`bot.household.gather`). If the AGGREGATE weights are inside their bands (and every account's cash
   covers its reserve and what it must pay out) nothing is planned. Else ONE optimization
   (:func:`strategies.household.optimize_household`) chooses the trades of every account together.
3. The plan is stored as one row (:mod:`bot.household.record`), refused if it breaks a hard limit, and put
   to the approval policy as a whole (sizes, tax and the rest measured on the household's total): held for
   one decision, or started at once.

Like the single-account bot, a held plan is not asked again every cycle: it stands until a fresh plan
differs materially (an order appears or disappears in some account, or one moves more than
``approval.change_tolerance`` of the gross), and a rejected plan is not asked again until some aggregate
drift moves by ``approval.reask_drift_change``. While any member has open orders the household waits:
positions and cash in flux are not a reading to plan on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import structlog

from bot.approval import reask_cap
from bot.approval.lifecycle import drift_of, expiry_time
from bot.approval.policy import PlanFacts, approval_required
from bot.approval.reask_cap import void_approved
from bot.approval.recheck import Recheck, recheck_approved
from bot.broker.alpaca import AlpacaBroker
from bot.broker.models import BrokerClock
from bot.clock import Clock
from bot.config import BotConfig, ScheduleConfig
from bot.guards import check_limits
from bot.household import inputs
from bot.household.execution import HouseholdExecutor
from bot.household.gather import AssetCache, HouseholdReading, read_household
from bot.household.objective import ObjectivePlanner, objective_reason
from bot.household.record import (
    AggregateCheck,
    PlanView,
    aggregate_check,
    content_hash,
    explanation,
    plan_details,
)
from bot.limit_refusal import clear_limits, refusal_line, refuse_on_limits
from bot.state.store import PlanRecord, StateStore
from bot.tradable import clear_untradable, refuse_untradable, untradable
from bot.turn import NEW_YORK, CycleOutcome, PlanningTurn
from strategies.approval_recheck import order_changes
from strategies.household import HouseholdInfeasible, HouseholdPlan, optimize_household

log = structlog.get_logger(__name__)


HouseholdOutcome = CycleOutcome
"""What one household tick did (the same record as an account's, so the worker reports both alike)."""


class HouseholdBot(PlanningTurn):
    """Keeps a household of accounts on one aggregate target."""

    def __init__(
        self,
        config: BotConfig,
        brokers: Mapping[str, AlpacaBroker],
        store: StateStore,
        clock: Clock,
        on_held: Callable[[str], None] | None = None,
        on_alert: Callable[[str, Sequence[str], str], None] | None = None,
    ) -> None:
        household = inputs.household_of(config)
        self.config = config
        self.name = household.name
        self.brokers = {name: brokers[name] for name in household.names}
        self.store = store
        self.clock = clock
        self.on_held = on_held
        self.on_alert = on_alert
        self.executor = HouseholdExecutor(config, self.brokers, store, clock)
        self.assets = AssetCache()
        self.objective = ObjectivePlanner.of(config)
        """Set under a ``policy`` of kind objective: the risk term then decides, not the bands."""
        self.last_check: dict | None = None
        """The latest aggregate reading (time, equity, per-asset weight/target/drift), for the dashboard."""
        self._last_cycle: datetime | None = None
        self._infeasible_alerted: str | None = None
        self._previous: HouseholdPlan | None = None
        """This process's last bands-mode plan: the next solve may start from it (issue 19, item 4)."""

    # -- the turn (bot.turn.PlanningTurn) --------------------------------------------------------------------
    log_key = "household"

    @property
    def owner(self) -> str:
        return self.name

    @property
    def schedule(self) -> ScheduleConfig:
        return self.config.schedule

    def _halted(self) -> CycleOutcome:
        """Halted: send nothing, and cancel the bot's own open orders in every member account."""
        canceled = 0
        for name, broker in self.brokers.items():
            for record in self.store.orders(account=name, open_only=True):
                if record.broker_id:
                    broker.cancel(record.broker_id)
                    canceled += 1
        for plan in self.store.unfinished_plans(self.name):
            if plan.status == "executing":
                self.executor.advance(plan, halted=True)
        return CycleOutcome("halted", detail=f"canceled {canceled} open orders")

    def _start_approved(self, plan: PlanRecord, clock: BrokerClock, run_id: str) -> CycleOutcome | None:
        """Re-check an approved plan's prices before anything is sent; None: it stands and is fanned out."""
        if any(child is not None for child in self.executor.children(plan).values()):
            # the children were saved before a crash: they are the approved plan; finish starting it
            self.executor.start(plan, run_id, expected="approved")
            return None
        expired = self._expired_before_start(plan, clock)
        if expired is not None:
            return expired
        symbols = sorted({o["symbol"] for o in plan.details["orders"]})
        broker = next(iter(self.brokers.values()))
        quotes = broker.latest_quotes(symbols)
        mids = {s: q.mid for s, q in quotes.items() if q.is_two_sided}
        check = recheck_approved(broker, self.config.approval, plan, mids, self.clock.now())
        if not check.stands:
            holding = void_approved(self.store, self.name, plan, check, run_id, self.trade_date(),
                                    self.config.approval.max_reasks_per_day, self._alert)  # fmt: skip
            return holding or self.run_cycle(run_id, reask=check)
        log.info(
            "approved household plan stands on fresh quotes",
            tolerances={s: f"{t.value:.2%}" for s, t in check.tolerances.items()},
        )
        self.executor.start(plan, run_id, expected="approved")
        return None

    # -- the cycle -------------------------------------------------------------------------------------------
    def trade_date(self) -> date:
        return self.clock.now().astimezone(NEW_YORK).date()

    def read(self) -> HouseholdReading:
        return read_household(self.config, self.brokers, self.store, self.trade_date(), self.assets)

    def untradable_targets(self) -> dict[str, str]:
        """Target symbols the broker cannot trade (symbol -> why), asked before any reading: a symbol with no
        quote would otherwise stop the reading itself, with a pricing error instead of the reason."""
        targets = list((self.config.household.targets or self.config.targets).weights)
        first = self.brokers[self.config.household.accounts[0].account]
        return untradable(targets, self.assets.get(first, targets))

    def make_plan(
        self, reading: HouseholdReading, *, every_check: bool = False
    ) -> tuple[AggregateCheck, HouseholdPlan | None, tuple[str, ...]]:
        """The aggregate check, the optimizer's plan when the check fires (None inside the bands), and notes
        on how far it trades back (see :func:`bot.household.inputs.planning_limits`). Under the objective
        the plan is the objective's whenever it decides (None between its decisions; the last note says
        why), whatever the bands say; ``every_check``: decide now even if the session's decision was made
        (a preview, or a replacement for an approved plan that prices moved under)."""
        check = aggregate_check(reading.household)
        self.last_check = {
            "at": self.clock.now().isoformat(),
            "equity": str(check.equity),
            "assets": list(check.assets),
        }
        settings = inputs.optimizer_settings(self.config)
        fallback = ""
        if self.objective is not None:
            first = next(iter(self.brokers.values()))  # daily bars are the same through any member
            plan, how, fall_back = self.objective.plan(
                reading.household, settings, first, self.store, self.name, self.clock.now(),
                every_check=every_check,
            )  # fmt: skip
            if not fall_back:
                return check, plan, (*reading.notes, how)
            fallback = how
        base = (*reading.notes, *filter(None, [fallback]))
        if not check.fired:
            return check, None, base
        limits, how = inputs.planning_limits(self.config, reading.household, settings)
        if limits is not None:
            try:
                plan = optimize_household(reading.household, settings, limits=limits, previous=self._previous)
                self._previous = plan
                return check, plan, (*base, how)
            except HouseholdInfeasible as exc:
                how = f"{how} is out of reach ({exc.problems[0]}); planned to the band edges instead"
        plan = optimize_household(reading.household, settings, previous=self._previous)
        self._previous = plan
        return check, plan, (*base, how)

    def preview(self) -> str:
        """A dry run (``rebalance-bot plan``): the plan that would be made now, explained; nothing stored."""
        problems = self.untradable_targets()
        if problems:
            return f"Household {self.name}: refused, targets the broker cannot trade: " + "; ".join(
                f"{s} {why}" for s, why in problems.items()
            )
        reading = self.read()
        try:
            check, plan, notes = self.make_plan(reading, every_check=True)
        except HouseholdInfeasible as exc:
            return f"Household {self.name}: no plan meets every constraint:\n" + "\n".join(
                f"  - {p}" for p in exc.problems
            )
        if plan is None:
            return f"Household {self.name}: {check.reason()}; nothing to trade"
        return explanation(plan, check, notes)

    def run_cycle(self, run_id: str, reask: Recheck | None = None) -> CycleOutcome:
        """``reask``: the re-check that voided an approved plan; the fresh plan replaces it, asked again."""
        held = reask_cap.holding(self.store, self.name, self.trade_date())
        if held is not None:
            return CycleOutcome("holding: re-ask cap reached", detail=held)
        problems = self.untradable_targets()
        if problems:
            return CycleOutcome(
                "refused", detail=refuse_untradable(self.store, self.name, problems, self._alert)
            )
        clear_untradable(self.store, self.name)
        reading = self.read()
        busy = reading.open_orders
        if busy:
            detail = ", ".join(f"{name}: {len(orders)}" for name, orders in busy.items())
            log.info("household waits: open orders in member accounts", open_orders=detail)
            return CycleOutcome("open orders; waiting", detail=detail)
        try:
            check, plan, notes = self.make_plan(reading, every_check=reask is not None)
        except HouseholdInfeasible as exc:
            return self._infeasible(exc)
        self._infeasible_alerted = None
        log.info("household cycle", fired=check.fired, reason=check.reason(), equity=str(check.equity))
        if plan is None or not plan.trades:
            clear_limits(self.store, self.name)
            why = objective_reason(plan, notes) or check.reason()
            return CycleOutcome("within bands" if plan is None else "nothing to trade", detail=why)
        return self._gate_and_start(plan, check, notes, run_id, reask)

    def _infeasible(self, exc: HouseholdInfeasible) -> CycleOutcome:
        text = "; ".join(exc.problems)
        log.error("household plan infeasible", problems=list(exc.problems))
        if self._infeasible_alerted != text:
            self._infeasible_alerted = text
            self._alert(
                f"household {self.name}: no plan meets every constraint",
                [f"- {p}" for p in exc.problems],
                "household",
            )
        return CycleOutcome("infeasible", detail=text)

    def _gate_and_start(
        self,
        plan: HouseholdPlan,
        check: AggregateCheck,
        notes: tuple[str, ...],
        run_id: str,
        reask: Recheck | None = None,
    ) -> CycleOutcome:
        """Store the plan, refuse it on a hard limit, hold it for ONE approval or start it."""
        now = self.clock.now()
        approval_config = self.config.approval
        digest = content_hash(plan, self.name)
        details = plan_details(plan, check, notes)
        if reask is None:
            started = [p for p in self.store.unfinished_plans(self.name) if p.status != "planned"]
            if started:
                return CycleOutcome("a plan was approved meanwhile; it goes first", started[0].plan_id)
        pending = self._pending_plan()
        tolerance = approval_config.change_tolerance
        if (
            reask is None
            and pending is not None
            and not order_changes(pending.details["orders"], details["orders"], tolerance)
        ):
            return CycleOutcome("held, waiting for approval", pending.plan_id)
        rejected = self._standing_rejection(details) if reask is None else None
        if rejected is not None:
            return CycleOutcome(
                "rejected; not asking again until the drift changes", rejected.plan_id, rejected.status_reason
            )
        view = PlanView.of(details)
        facts = PlanFacts(
            manual_account=any(self.config.account(n).manual for n in self.brokers),
            first_plan=not self.store.plans(
                account=self.name, status=("executing", "done", "failed"), limit=1
            ),
            estimated_tax=plan.tax_payable,
        )
        gate = approval_required(view, approval_config, facts)  # type: ignore[arg-type] - duck-typed total
        reasons = ([reask.reask(details["orders"])] if reask else []) + list(gate.reasons)
        details["approval_reasons"] = reasons
        plan_id = self._new_plan_id(digest, now)
        text = explanation(plan, check, notes)
        self.store.save_plan(plan_id, run_id, self.name, digest, "planned", text, details, now)
        if pending is not None:
            self.store.set_plan_status(pending.plan_id, "superseded", f"superseded by {plan_id}")
        traded = sum(
            (self.store.submitted_notional_on(n, now.date()) for n in self.brokers), start=Decimal(0)
        )
        limits = check_limits(view, self.config.limits, traded)  # type: ignore[arg-type]
        if not limits.allowed:
            self.store.set_plan_status(plan_id, "refused", refusal_line(self.config.limits, limits))
            self.store.audit(
                "plan_refused",
                run_id=run_id,
                account=self.name,
                plan_id=plan_id,
                reasons=list(limits.reasons),
            )
            log.warning(
                "household plan refused by a hard limit", plan_id=plan_id, reasons=list(limits.reasons)
            )
            line = refuse_on_limits(self.store, self.name, self.config.limits, limits, self._alert)
            return CycleOutcome("refused", plan_id, line)
        clear_limits(self.store, self.name)
        if reasons:
            next_close = next(iter(self.brokers.values())).clock().next_close
            expires = expiry_time(now, next_close, approval_config.expiry)
            self.store.set_plan_status(plan_id, "held", "; ".join(reasons))
            self.store.request_approval(plan_id, digest, expires)
            self.store.audit(
                "approval_requested",
                run_id=run_id,
                account=self.name,
                plan_id=plan_id,
                reasons=reasons,
                content_hash=digest,
                expires_at=expires,
            )
            log.warning(
                "household plan held for approval",
                plan_id=plan_id,
                reasons=reasons,
                gross_notional=str(plan.gross_notional),
                estimated_tax=str(plan.estimated_tax),
            )
            self._announce_held(plan_id)
            return CycleOutcome("held for approval", plan_id, "; ".join(reasons))
        record = self.store.get_plan(plan_id)
        assert record is not None
        log.info("household plan executing", plan_id=plan_id, explanation=text)
        self.executor.start(record, run_id, expected="planned")
        status = self.executor.advance(self.store.get_plan(plan_id) or record)
        return CycleOutcome(f"plan {status}", plan_id)

    def _pending_plan(self) -> PlanRecord | None:
        held = self.store.plans(account=self.name, status="held", limit=1)
        return held[0] if held else None

    def _standing_rejection(self, details: Mapping[str, Any]) -> PlanRecord | None:
        """The latest decided household plan, if rejected and the aggregate drift has not moved since."""
        threshold = self.config.approval.reask_drift_change
        for earlier in self.store.plans(account=self.name, limit=50):
            if earlier.status in ("planned", "held", "refused", "expired", "superseded"):
                continue
            if earlier.status != "rejected":
                return None
            before, now = drift_of(earlier.details), drift_of(details)
            if before.keys() != now.keys() or any(abs(now[s] - before[s]) > threshold for s in now):
                return None
            return earlier
        return None

    def _new_plan_id(self, digest: str, now: datetime) -> str:
        base = f"hh-{self.name}-{now:%Y%m%d%H%M}-{digest[:8]}"
        plan_id, n = base, 1
        while self.store.get_plan(plan_id) is not None:
            n += 1
            plan_id = f"{base}-{n}"
        return plan_id

    def _announce_held(self, plan_id: str) -> None:
        if self.on_held is None:
            return
        try:
            self.on_held(plan_id)
        except Exception as exc:  # noqa: BLE001 - a prompt that cannot be sent must not stop the bot
            log.error("could not send the approval prompt", plan_id=plan_id, error=str(exc))

    def _alert(self, title: str, lines: Sequence[str], topic: str) -> None:
        if self.on_alert is None:
            log.warning("alert", topic=topic, title=title)
            return
        try:
            self.on_alert(title, lines, topic)
        except Exception as exc:  # noqa: BLE001 - an alert that cannot be sent must not stop the bot
            log.error("could not send an alert", title=title, error=str(exc))
